/**
 * The request bodies of OpenSearch Dashboards' saved-objects import: the NDJSON file (one saved object per line)
 * and the `multipart/form-data` form that carries it (`POST /api/saved_objects/_import`, form field `file`, whose
 * file name must end in `.ndjson`; `_resolve_import_errors` adds a `retries` field).
 */
import { createHash } from "node:crypto";
import type { SavedObject } from "./saved-objects.js";

/** The file name the form gives the NDJSON (Dashboards refuses any extension but `.ndjson`). */
export const IMPORT_FILE_NAME = "mesh-audit-trail.ndjson";

/**
 * Renders a set as NDJSON, one object per line. The shipped set is checked against what Dashboards accepts by the
 * tests (`test/lambdas/core/opensearch/dashboards/import-schema.ts`) and by importing it into a real node.
 */
export function renderSavedObjectsNdjson(objects: readonly SavedObject[]): string {
  return `${objects.map((object) => JSON.stringify(object)).join("\n")}\n`;
}

/** One field of a form: a plain value, or a file with a name and a content type. */
export interface FormField {
  readonly name: string;
  readonly value: string;
  /** Set for a file upload. @default - a plain field */
  readonly file?: { readonly fileName: string; readonly contentType: string };
}

export interface MultipartForm {
  /** `multipart/form-data; boundary=…`, the request's content type. */
  readonly contentType: string;
  readonly body: Buffer;
}

const SAFE_HEADER_VALUE = /^[^"\r\n]+$/;

/**
 * Encodes fields as `multipart/form-data` (RFC 7578). The boundary is derived from the content (so the same form
 * always encodes to the same bytes) and checked not to occur in it.
 */
export function multipartForm(fields: readonly FormField[]): MultipartForm {
  const digest = createHash("sha256");
  for (const field of fields) digest.update(field.name).update("\0").update(field.value).update("\0");
  const boundary = `mesh-audit-trail-${digest.digest("hex").slice(0, 32)}`;
  const parts: string[] = [];
  for (const field of fields) {
    for (const text of [field.name, field.file?.fileName, field.file?.contentType]) {
      if (text !== undefined && !SAFE_HEADER_VALUE.test(text)) {
        throw new Error(`form field "${field.name}": "${text}" cannot go into a multipart header`);
      }
    }
    if (field.value.includes(boundary)) throw new Error(`form field "${field.name}" contains the boundary`);
    const disposition =
      field.file === undefined
        ? `Content-Disposition: form-data; name="${field.name}"`
        : `Content-Disposition: form-data; name="${field.name}"; filename="${field.file.fileName}"\r\nContent-Type: ${field.file.contentType}`;
    parts.push(`--${boundary}\r\n${disposition}\r\n\r\n${field.value}\r\n`);
  }
  parts.push(`--${boundary}--\r\n`);
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    body: Buffer.from(parts.join(""), "utf8"),
  };
}

/** The `file` field of an import, holding the NDJSON. */
export function importFileField(ndjson: string): FormField {
  return {
    name: "file",
    value: ndjson,
    file: { fileName: IMPORT_FILE_NAME, contentType: "application/ndjson" },
  };
}
