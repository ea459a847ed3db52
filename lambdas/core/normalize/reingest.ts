/**
 * Re-ingested documents and how they prove where they come from. The transform sends the documents beyond the
 * first of a multi-document record back into its own delivery stream; a producer can put records into that same
 * stream, so a document that merely *looks* normalized proves nothing. Each re-ingested document is therefore
 * sealed with an HMAC-SHA256 under a key only the transform holds (a secret the stack generates), and only a
 * sealed document whose seal verifies passes through as it is; everything else is a raw line, parsed from scratch.
 *
 * A sealed record is one line, `mat-reingest/v1 <seal> <document JSON>`, where `<seal>` is the base64url HMAC
 * (43 characters) of `mesh-audit-trail reingest v1` + NUL + the document JSON exactly as sent. The seal covers the
 * bytes, so verifying needs no re-serialization, and nothing of it reaches OpenSearch or the archive (the document
 * is indexed without it). It is not a JSON object, so no parser would take it for a log line.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { type Rejected, reject } from "../parsers/types.js";

/** How a sealed record starts. */
export const REINGEST_PREFIX = "mat-reingest/v1 ";
const DOMAIN = "mesh-audit-trail reingest v1\u0000";
const SEAL_LENGTH = 43;
/** The least key material accepted (the stack generates 64 alphanumeric characters). */
export const MIN_REINGEST_KEY_BYTES = 32;

export interface ReingestSealer {
  /** The sealed record for one document's JSON (no trailing newline), with a trailing newline. */
  seal(json: string): string;
  /** The document JSON of a sealed record, or why it is refused. */
  open(record: string): { ok: true; json: string } | Rejected;
}

export class ReingestKeyError extends Error {
  override readonly name = "ReingestKeyError";
}

export function isSealed(text: string): boolean {
  return text.startsWith(REINGEST_PREFIX);
}

export function createReingestSealer(key: string | Uint8Array): ReingestSealer {
  const keyBytes = typeof key === "string" ? Buffer.from(key, "utf8") : Buffer.from(key);
  if (keyBytes.length < MIN_REINGEST_KEY_BYTES) {
    throw new ReingestKeyError(
      `re-ingest key is ${keyBytes.length} bytes; it needs at least ${MIN_REINGEST_KEY_BYTES} (the stack generates 64 random characters)`,
    );
  }
  const mac = (json: string): Buffer => createHmac("sha256", keyBytes).update(DOMAIN).update(json).digest();
  return {
    seal(json) {
      return `${REINGEST_PREFIX}${mac(json).toString("base64url")} ${json}\n`;
    },
    open(record) {
      const split = splitSealed(record);
      if (!split.ok) return split;
      const expected = mac(split.json);
      const given = Buffer.from(split.seal, "base64url");
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return reject(
          "re_ingested_document",
          "re-ingested document: seal does not verify (not sealed by this pipeline's transform, or altered since)",
        );
      }
      return { ok: true, json: split.json };
    },
  };
}

/**
 * The seal and document of a sealed record, unverified: what the CLI reads when it is given no key (see
 * `NormalizeOptions.trustDocuments`).
 */
export function splitSealed(record: string): { ok: true; seal: string; json: string } | Rejected {
  const start = REINGEST_PREFIX.length;
  if (!record.startsWith(REINGEST_PREFIX) || record.charCodeAt(start + SEAL_LENGTH) !== 32) {
    return reject(
      "re_ingested_document",
      `re-ingested document: malformed seal (expected "${REINGEST_PREFIX}<seal> {…}")`,
    );
  }
  let end = record.length;
  while (end > 0 && (record.charCodeAt(end - 1) === 10 || record.charCodeAt(end - 1) === 13)) end--;
  const json = record.slice(start + SEAL_LENGTH + 1, end);
  if (json.indexOf("\n") !== -1) {
    return reject("re_ingested_document", "re-ingested document: a sealed record holds exactly one line");
  }
  return { ok: true, seal: record.slice(start, start + SEAL_LENGTH), json };
}
