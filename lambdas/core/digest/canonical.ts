/**
 * Canonical JSON: the exact bytes a digest signature covers. Object keys sorted by UTF-16 code units, no
 * whitespace, strings and numbers as `JSON.stringify` writes them. For the values a digest holds (strings,
 * safe integers, booleans, null, arrays, objects) this is RFC 8785 (JSON Canonicalization Scheme).
 */
export type CanonicalValue =
  | string
  | number
  | boolean
  | null
  | readonly CanonicalValue[]
  | { readonly [key: string]: CanonicalValue | undefined };

export class CanonicalJsonError extends Error {
  override readonly name = "CanonicalJsonError";
}

export function canonicalJson(value: CanonicalValue, path = "$"): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new CanonicalJsonError(`${path}: only safe integers are allowed in a digest, got ${value}`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((item, index) => canonicalJson(item as CanonicalValue, `${path}[${index}]`)).join(",")}]`;
  }
  const record = value as { readonly [key: string]: CanonicalValue | undefined };
  const entries = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key] as CanonicalValue, `${path}.${key}`)}`);
  return `{${entries.join(",")}}`;
}

export function canonicalBytes(value: CanonicalValue): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}
