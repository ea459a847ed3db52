/**
 * Deterministic alert ids. The detector re-evaluates overlapping windows every minute and the CLI evaluates the
 * same data on a laptop: both must name one incident with one id, so that `op_type=create` in the alerts index
 * turns a repeat into a 409 instead of a second page.
 */
import { createHash } from "node:crypto";
import type { EcsDocument } from "../ecs.js";
import { groupKey } from "../rules/windows.js";

/**
 * Fields left out of a document's fingerprint: they differ between the indexed copy and the in-memory one
 * without changing what happened (`rule` is the transform's tagging, `event.ingested` the arrival time,
 * `event.original` is dropped when the environment does not keep it).
 */
const EXCLUDED_TOP_LEVEL = new Set(["rule"]);
const EXCLUDED_EVENT = new Set(["ingested", "original"]);

/** `event.id` when the source has one, else SHA-256 of the canonical JSON of the document. */
export function documentFingerprint(doc: EcsDocument): string {
  const id = doc.event?.id;
  if (typeof id === "string" && id.length > 0) return `event.id:${id}`;
  return `sha256:${sha256(canonical(doc, true))}`;
}

/** Correlation alerts: rule + group values + window start. Single-event alerts: rule + document fingerprint. */
export function correlationAlertId(
  ruleName: string,
  group: Readonly<Record<string, string>>,
  windowStart: string,
) {
  return sha256(JSON.stringify(["correlation", ruleName, groupKey(group), normalizeTime(windowStart)]));
}

export function singleEventAlertId(ruleName: string, doc: EcsDocument): string {
  return sha256(JSON.stringify(["single", ruleName, documentFingerprint(doc)]));
}

/** `2024-01-01T00:00:00Z` and `2024-01-01T00:00:00.000Z` are the same window. */
function normalizeTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`window start is not an ISO 8601 time: ${JSON.stringify(iso)}`);
  return new Date(ms).toISOString();
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** JSON with object keys sorted at every level; `undefined` members dropped as `JSON.stringify` does. */
export function canonicalJson(value: unknown): string {
  return canonical(value, false);
}

/** `fingerprint`: leave out the top-level and `event.*` fields listed above. */
function canonical(value: unknown, fingerprint: boolean): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((item) => canonical(item, false)).join(",")}]`;
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    if (fingerprint && EXCLUDED_TOP_LEVEL.has(key)) continue;
    let member = record[key];
    if (member === undefined) continue;
    if (fingerprint && key === "event" && member !== null && typeof member === "object") {
      member = Object.fromEntries(Object.entries(member).filter(([name]) => !EXCLUDED_EVENT.has(name)));
    }
    parts.push(`${JSON.stringify(key)}:${canonical(member, false)}`);
  }
  return `{${parts.join(",")}}`;
}
