/**
 * GDPR pseudonymization: the values of the listed dotted ECS fields are replaced by a keyed HMAC-SHA256, so the
 * same person or address maps to the same token in every document (joins and correlation rules keep working),
 * while the value cannot be recovered without the key. The key is passed in (the handler fetches it).
 *
 * - A string value becomes `hmac:<first 32 hex chars>`; an IP address becomes an IPv6 address in the unique-local
 *   range `fd00::/8` derived from the same HMAC, so `ip`-typed index fields keep their type.
 * - Arrays of strings are replaced element by element; other types are left alone.
 * - A listed field brings the fields that hold the same kind of value (`FIELD_GROUPS`): listing `user.name` also
 *   replaces `user.effective.name` and the audit event's user names, listing `source.ip` the audit `sourceIPs`.
 * - Every replaced value is replaced wherever else the document carries it: `related.*`, an audit annotation such
 *   as `authorization.k8s.io/reason` (`… to User "alice"`), a `requestObject`; inside a longer string where it
 *   stands as a whole word. `event.original` (which holds the raw values) is removed from a document in which
 *   anything was replaced.
 * - `labels.pseudonymized` lists the replaced fields.
 */
import { createHmac } from "node:crypto";
import { isIP } from "node:net";
import type { EcsDocument } from "../ecs.js";

export interface Pseudonymizer {
  /** The dotted field paths this pseudonymizer replaces. */
  readonly fields: readonly string[];
  /** Replaces the listed fields of `doc` in place; returns the paths that held a value. */
  apply(doc: EcsDocument): string[];
  /** The token for one value (exposed for tests and for searching by a known value). */
  token(value: string): string;
}

/**
 * Fields that carry the same kind of personal value: listing one pseudonymizes them all (the users an audit event
 * names, the addresses a request came from).
 */
export const FIELD_GROUPS: readonly (readonly string[])[] = [
  [
    "user.name",
    "user.effective.name",
    "kubernetes.audit.user.username",
    "kubernetes.audit.impersonatedUser.username",
  ],
  ["source.ip", "source.address", "kubernetes.audit.sourceIPs"],
];

export class PseudonymizationConfigError extends Error {
  override readonly name = "PseudonymizationConfigError";
}

export function createPseudonymizer(key: string | Uint8Array, fields: readonly string[]): Pseudonymizer {
  const keyBytes = typeof key === "string" ? Buffer.from(key, "utf8") : Buffer.from(key);
  if (keyBytes.length < 16) {
    throw new PseudonymizationConfigError(
      `pseudonymization key is ${keyBytes.length} bytes; use at least 16 random bytes (32 recommended)`,
    );
  }
  const paths = fields.map((f) => f.trim()).filter((f) => f !== "");
  for (const path of paths) {
    if (!/^[A-Za-z0-9_@]+(\.[A-Za-z0-9_@]+)*$/.test(path)) {
      throw new PseudonymizationConfigError(
        `pseudonymize field "${path}" is not a dotted field path like "source.ip"`,
      );
    }
  }
  // Listed fields first (in the order given), then their group peers.
  const expanded = [...paths];
  for (const path of paths) {
    for (const group of FIELD_GROUPS) {
      if (!group.includes(path)) continue;
      for (const peer of group) if (!expanded.includes(peer)) expanded.push(peer);
    }
  }
  const split = expanded.map((p) => p.split("."));
  const cache = new Map<string, string>();

  const token = (value: string): string => {
    const cached = cache.get(value);
    if (cached !== undefined) return cached;
    const digest = createHmac("sha256", keyBytes).update(value).digest();
    let out: string;
    if (isIP(value) !== 0) {
      const hex = digest.subarray(0, 15).toString("hex");
      const groups = [`fd${hex.slice(0, 2)}`];
      for (let i = 2; i < 30; i += 4) groups.push(hex.slice(i, i + 4));
      out = groups.join(":");
    } else {
      out = `hmac:${digest.subarray(0, 16).toString("hex")}`;
    }
    if (cache.size > 10_000) cache.clear();
    cache.set(value, out);
    return out;
  };

  const apply = (doc: EcsDocument): string[] => {
    const replaced: string[] = [];
    const originals = new Set<string>();
    for (let i = 0; i < split.length; i++) {
      const segments = split[i] as string[];
      let parent: unknown = doc;
      for (let s = 0; s < segments.length - 1 && parent !== undefined; s++) {
        parent =
          typeof parent === "object" && parent !== null
            ? (parent as Record<string, unknown>)[segments[s] as string]
            : undefined;
      }
      if (typeof parent !== "object" || parent === null) continue;
      const holder = parent as Record<string, unknown>;
      const leaf = segments[segments.length - 1] as string;
      const value = holder[leaf];
      if (typeof value === "string") {
        originals.add(value);
        holder[leaf] = token(value);
        replaced.push(expanded[i] as string);
      } else if (Array.isArray(value) && value.some((v) => typeof v === "string")) {
        holder[leaf] = value.map((v) => {
          if (typeof v !== "string") return v;
          originals.add(v);
          return token(v);
        });
        replaced.push(expanded[i] as string);
      }
    }
    if (replaced.length === 0) return replaced;
    delete doc.event.original;
    replaceEverywhere(doc, originals, token);
    doc.labels = { ...doc.labels, pseudonymized: replaced.join(",") };
    return replaced;
  };

  return { fields: paths, apply, token };
}

/** Characters that continue a word: a value inside a longer string is replaced only where none touches it. */
function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/** `text` with every whole-word occurrence of `value` replaced by `replacement`. */
function replaceWord(text: string, value: string, replacement: string): string {
  let out = "";
  let from = 0;
  for (let at = text.indexOf(value); at !== -1; at = text.indexOf(value, at + 1)) {
    const end = at + value.length;
    if (at < from) continue;
    if (
      (at > 0 && isWordChar(text.charCodeAt(at - 1))) ||
      (end < text.length && isWordChar(text.charCodeAt(end)))
    )
      continue;
    out += text.slice(from, at) + replacement;
    from = end;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** Top-level fields the pipeline itself writes (dataset, kind, tags, labels): never personal values. */
const STRUCTURAL = new Set(["@timestamp", "ecs", "event", "labels", "rule"]);

/**
 * Replaces the original values wherever the document still carries them, but in the fields the pipeline writes
 * (iterative: documents are bounded).
 */
function replaceEverywhere(
  doc: EcsDocument,
  originals: ReadonlySet<string>,
  token: (v: string) => string,
): void {
  // Inside longer strings only values of three characters or more: a one-letter user name is everywhere.
  const values = [...originals].filter((v) => v.length >= 3);
  const stack: (Record<string, unknown> | unknown[])[] = [];
  const root = doc as unknown as Record<string, unknown>;
  for (const key of Object.keys(root)) {
    const v = root[key];
    if (!STRUCTURAL.has(key) && typeof v === "object" && v !== null) stack.push(v as Record<string, unknown>);
  }
  while (stack.length > 0) {
    const node = stack.pop() as Record<string, unknown> | unknown[];
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    for (const key of keys) {
      const v = (node as Record<string | number, unknown>)[key];
      if (typeof v === "string") {
        let next = originals.has(v) ? token(v) : v;
        if (next === v)
          for (const value of values) if (next.includes(value)) next = replaceWord(next, value, token(value));
        if (next !== v) (node as Record<string | number, unknown>)[key] = next;
      } else if (typeof v === "object" && v !== null) {
        stack.push(v as Record<string, unknown>);
      }
    }
  }
}
