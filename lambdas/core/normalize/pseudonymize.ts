/**
 * GDPR pseudonymization: the values of the listed dotted ECS fields are replaced by a keyed HMAC-SHA256, so the
 * same person or address maps to the same token in every document (joins and correlation rules keep working),
 * while the value cannot be recovered without the key. The key is passed in (the handler fetches it).
 *
 * - A string value becomes `hmac:<first 32 hex chars>`; an IP address becomes an IPv6 address in the unique-local
 *   range `fd00::/8` derived from the same HMAC, so `ip`-typed index fields keep their type.
 * - Arrays of strings are replaced element by element; other types are left alone.
 * - The same values inside `related.ip`/`related.user`/`related.hosts` are replaced too, and `event.original`
 *   (which holds the raw values) is removed from a document in which anything was replaced.
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
  const split = paths.map((p) => p.split("."));
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
        replaced.push(paths[i] as string);
      } else if (Array.isArray(value) && value.some((v) => typeof v === "string")) {
        holder[leaf] = value.map((v) => {
          if (typeof v !== "string") return v;
          originals.add(v);
          return token(v);
        });
        replaced.push(paths[i] as string);
      }
    }
    if (replaced.length === 0) return replaced;
    const related = doc.related;
    if (related !== undefined) {
      for (const key of ["ip", "user", "hosts"] as const) {
        const list = related[key];
        if (list !== undefined) related[key] = list.map((v) => (originals.has(v) ? token(v) : v));
      }
    }
    delete doc.event.original;
    doc.labels = { ...doc.labels, pseudonymized: replaced.join(",") };
    return replaced;
  };

  return { fields: paths, apply, token };
}
