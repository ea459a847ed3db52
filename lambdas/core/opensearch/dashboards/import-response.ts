/**
 * The answer of OpenSearch Dashboards' `_import` and `_resolve_import_errors`: `success`, `successCount` and, when
 * something was not imported, `errors[]` naming each object (`type`, `id`, title) and why (`error.type`:
 * `conflict`, `missing_references`, `unsupported_type`, `unknown`, …).
 */
import * as z from "zod";

const importErrorSchema = z.looseObject({
  id: z.string(),
  type: z.string(),
  title: z.string().optional(),
  meta: z.looseObject({ title: z.string().optional() }).optional(),
  error: z.looseObject({
    type: z.string(),
    message: z.string().optional(),
    statusCode: z.number().optional(),
    references: z.array(z.looseObject({ type: z.string(), id: z.string() })).optional(),
  }),
});

export const importResponseSchema = z.looseObject({
  success: z.boolean(),
  successCount: z.number().int().min(0),
  errors: z.array(importErrorSchema).optional(),
});

export type ImportResponse = z.infer<typeof importResponseSchema>;
export type ImportError = z.infer<typeof importErrorSchema>;

/** Parses an answer; `undefined` when it is not an import answer at all (a proxy's error page, say). */
export function parseImportResponse(body: unknown): ImportResponse | undefined {
  const result = importResponseSchema.safeParse(body);
  return result.success ? result.data : undefined;
}

/** `visualization "id" ("Title"): missing references index-pattern "audit-*"`. */
export function describeImportError(failure: ImportError): string {
  const title = failure.meta?.title ?? failure.title;
  const subject = `${failure.type} "${failure.id}"${title === undefined ? "" : ` ("${title}")`}`;
  return `${subject}: ${reason(failure.error)}`;
}

function reason(error: ImportError["error"]): string {
  switch (error.type) {
    case "missing_references": {
      const missing = (error.references ?? []).map((reference) => `${reference.type} "${reference.id}"`);
      return `missing references ${missing.join(", ") || "(not listed)"}`;
    }
    case "conflict":
      return "conflict: an object with this id exists and was not overwritten";
    case "ambiguous_conflict":
      return "ambiguous conflict: several existing objects match it";
    case "unsupported_type":
      return "unsupported type: this OpenSearch Dashboards does not know the object type";
    case "unknown":
      return `${error.message ?? "unknown error"}${error.statusCode === undefined ? "" : ` (HTTP ${error.statusCode})`}`;
    default:
      return error.message === undefined ? error.type : `${error.type}: ${error.message}`;
  }
}

/** The conflicts of an answer as `_resolve_import_errors` retries that overwrite the existing objects. */
export function overwriteRetries(errors: readonly ImportError[]): Record<string, unknown>[] {
  return errors
    .filter((failure) => failure.error.type === "conflict")
    .map((failure) => ({ type: failure.type, id: failure.id, overwrite: true, replaceReferences: [] }));
}
