/**
 * Lucene query strings for the saved objects. OpenSearch Dashboards sends a `language: "lucene"` query to OpenSearch
 * as a `query_string` query (with `analyze_wildcard: true`), so what is written here is exactly what the cluster
 * runs; the real-node tests run the same strings the same way. Clauses are built from field paths and values, never
 * from hand-written strings, so every value is quoted and escaped and every field is a plain dotted path.
 */

/** One condition on one field, or the negation of one. */
export type LuceneClause =
  | { readonly kind: "equals"; readonly field: string; readonly value: string | number | boolean }
  | { readonly kind: "anyOf"; readonly field: string; readonly values: readonly (string | number)[] }
  | { readonly kind: "between"; readonly field: string; readonly from: number; readonly to: number }
  | { readonly kind: "exists"; readonly field: string }
  | { readonly kind: "not"; readonly clause: LuceneClause };

/** A query that matches every document (`query_string` `*`). */
export const MATCH_ALL = "*";

const FIELD_PATH = /^[A-Za-z@_][A-Za-z0-9@_]*(\.[A-Za-z0-9@_]+)*$/;

export class LuceneQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LuceneQueryError";
  }
}

/** `field:value`: a term match (keyword, number, boolean). */
export function equals(field: string, value: string | number | boolean): LuceneClause {
  return { kind: "equals", field, value };
}

/** `field:(a OR b)`. */
export function anyOf(field: string, values: readonly (string | number)[]): LuceneClause {
  if (values.length === 0) throw new LuceneQueryError(`anyOf("${field}") needs at least one value`);
  return { kind: "anyOf", field, values };
}

/** `field:[from TO to]`, both ends included. */
export function between(field: string, from: number, to: number): LuceneClause {
  if (!(from <= to)) throw new LuceneQueryError(`between("${field}", ${from}, ${to}): from must be <= to`);
  return { kind: "between", field, from, to };
}

/** `_exists_:field`. */
export function exists(field: string): LuceneClause {
  return { kind: "exists", field };
}

/** `NOT clause`: also true for documents without the field. */
export function not(clause: LuceneClause): LuceneClause {
  return { kind: "not", clause };
}

/** The clauses joined with `AND`; no clause at all matches everything. */
export function lucene(...clauses: readonly LuceneClause[]): string {
  if (clauses.length === 0) return MATCH_ALL;
  return clauses.map(render).join(" AND ");
}

function render(clause: LuceneClause): string {
  switch (clause.kind) {
    case "equals":
      return `${fieldPath(clause.field)}:${value(clause.value)}`;
    case "anyOf":
      return `${fieldPath(clause.field)}:(${clause.values.map(value).join(" OR ")})`;
    case "between":
      return `${fieldPath(clause.field)}:[${finite(clause.from)} TO ${finite(clause.to)}]`;
    case "exists":
      return `_exists_:${fieldPath(clause.field)}`;
    case "not":
      return `NOT ${render(clause.clause)}`;
  }
}

function fieldPath(field: string): string {
  if (!FIELD_PATH.test(field)) {
    throw new LuceneQueryError(
      `"${field}" is not a dotted field path (letters, digits, _ and @ between dots)`,
    );
  }
  return field;
}

function finite(number: number): string {
  if (!Number.isFinite(number)) throw new LuceneQueryError(`${number} is not a finite number`);
  return String(number);
}

function value(raw: string | number | boolean): string {
  if (typeof raw === "number") return finite(raw);
  if (typeof raw === "boolean") return String(raw);
  return `"${raw.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}
