/**
 * What every matched event of an alert says, not only the `DETECTION_EVENT_CAP` events it keeps: the first and last
 * event time, and the distinct values of the fields an alert lists (`alertValuePaths`). The detector reads them from
 * the index (`matchedAggregations` in detection/queries.ts: `min`/`max` of `@timestamp`, per field a `composite` of
 * `ALERT_VALUES_KEPT + 1` values in key order and a `cardinality`); replay tallies them in memory (`EventTally`).
 * One definition of which values count and in which order (`indexedValue`, `compareIndexed`: what OpenSearch
 * indexes and how it orders its terms), so both give the same alert.
 *
 * Only fields the audit mapping indexes with doc values take part (`exactTypeOf`): keyword, long, double, ip and
 * boolean. The others (dates, flat objects, stored-only objects, fields outside the mapping) are listed from the kept
 * events, as before, by both.
 */
import type { ArrivalMark } from "../detection/queries.js";
import type { EcsDocument } from "../ecs.js";
import { auditProperties } from "../opensearch/audit-template.js";
import type { FieldMapping, Properties } from "../opensearch/mappings.js";
import { parseIpv4, parseIpv6 } from "../rules/ip.js";
import type { CompiledRule } from "../rules/types.js";
import { type Scalar, valuesAt } from "./fields.js";
import type { Alert } from "./model.js";

/** Distinct values an alert keeps per field (its JSON body); the rest is counted ("+N more"). */
export const ALERT_VALUES_KEPT = 50;

/**
 * The detector's `cardinality` precision for a field's total distinct count: exact (but for hash collisions) up to
 * this many distinct values, an estimate within a few per cent above it, about 8 bytes per unit per field and
 * request. Below `ALERT_VALUES_KEPT + 1` values the total is the number of values listed, exact.
 */
export const DISTINCT_TOTAL_PRECISION = 3000;

/** Where it happened, whenever the records carry it. */
export const LOCATION_FIELDS = [
  "orchestrator.cluster.name",
  "kubernetes.namespace",
  "kubernetes.pod.name",
] as const;

/** The fields an alert lists the values of: the group-by fields, the rule's `fields`, and where it happened. */
export function alertValuePaths(groupPaths: readonly string[], ruleFields: readonly string[]): string[] {
  return [...new Set([...groupPaths, ...ruleFields, ...LOCATION_FIELDS])];
}

export type ExactType = "keyword" | "long" | "double" | "ip" | "boolean";

/** A field whose every value the detector aggregates, with its mapped type. */
export interface ExactField {
  readonly path: string;
  readonly type: ExactType;
}

const MAPPING: Properties = auditProperties({ indexEventOriginal: false });
const exactTypes = new Map<string, ExactType | undefined>();

/** The field's type when the audit mapping indexes it with doc values (aggregatable), else undefined. */
export function exactTypeOf(path: string): ExactType | undefined {
  if (exactTypes.has(path)) return exactTypes.get(path);
  let properties: Properties | undefined = MAPPING;
  let mapping: FieldMapping | undefined;
  for (const part of path.split(".")) {
    mapping = properties?.[part];
    properties = mapping?.properties as Properties | undefined;
  }
  const type = mapping?.type;
  const exact =
    mapping === undefined || mapping.index === false || mapping.doc_values === false
      ? undefined
      : type === "keyword" || type === "long" || type === "double" || type === "ip" || type === "boolean"
        ? type
        : undefined;
  exactTypes.set(path, exact);
  return exact;
}

/** The exact fields among an alert's value paths of `rule` (every group-by field it may have). */
export function exactFieldsOf(rule: CompiledRule): ExactField[] {
  const groupPaths =
    rule.kind === "single" ? rule.suppression.groupBy : rule.kind === "correlation" ? rule.groupBy : [];
  const out: ExactField[] = [];
  for (const path of alertValuePaths(groupPaths, rule.fields)) {
    const type = exactTypeOf(path);
    if (type !== undefined) out.push({ path, type });
  }
  return out;
}

/** `ignore_above` of the mapping's keywords: a longer string is kept in `_source` but not indexed. */
const KEYWORD_IGNORE_ABOVE = 1024;

/**
 * A `_source` value as the index holds it (and a terms aggregation returns it), or undefined when the index leaves
 * it out (`ignore_above`, `ignore_malformed`): keywords as strings, longs truncated (OpenSearch coerces), IPs in
 * their canonical text (IPv4-mapped IPv6 as IPv4), booleans from `true`/`false` text too.
 */
export function indexedValue(type: ExactType, value: Scalar): Scalar | undefined {
  switch (type) {
    case "keyword": {
      const text = String(value);
      return text.length > KEYWORD_IGNORE_ABOVE ? undefined : text;
    }
    case "long":
    case "double": {
      if (typeof value === "boolean") return undefined;
      const number = typeof value === "number" ? value : value.trim() === "" ? Number.NaN : Number(value);
      if (!Number.isFinite(number)) return undefined;
      return type === "long" ? Math.trunc(number) || 0 : number;
    }
    case "ip": {
      if (typeof value !== "string") return undefined;
      const bits = ipBits(value);
      return bits === undefined ? undefined : formatIp(bits);
    }
    case "boolean":
      if (typeof value === "boolean") return value;
      if (value === "true") return true;
      if (value === "false") return false;
      return undefined;
  }
}

/** OpenSearch's order of a field's terms: keywords by code point (UTF-8 bytes), numbers, IPs by address, false first. */
export function compareIndexed(type: ExactType): (a: Scalar, b: Scalar) => number {
  switch (type) {
    case "keyword":
      return (a, b) => compareCodePoints(String(a), String(b));
    case "long":
    case "double":
      return (a, b) => (a as number) - (b as number);
    case "ip":
      return (a, b) => {
        const x = ipBits(String(a)) ?? 0n;
        const y = ipBits(String(b)) ?? 0n;
        return x < y ? -1 : x > y ? 1 : 0;
      };
    case "boolean":
      return (a, b) => Number(a) - Number(b);
  }
}

/** Code point order (that of UTF-8 bytes): a surrogate unit stands for a code point above every other unit. */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

const V4_MAPPED = 0xffffn << 32n;

/** The address as 128 bits (IPv4 as IPv4-mapped IPv6, how the index stores it), or undefined. */
function ipBits(text: string): bigint | undefined {
  const v4 = parseIpv4(text);
  if (v4 >= 0) return V4_MAPPED | BigInt(v4);
  if (text.includes("%")) return undefined;
  return parseIpv6(text);
}

/** The canonical text OpenSearch gives an `ip` term: dotted IPv4 for mapped addresses, else RFC 5952. */
function formatIp(bits: bigint): string {
  if (bits >> 32n === 0xffffn) {
    const v4 = Number(bits & 0xffffffffn);
    return [v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255].join(".");
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((bits >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** A field's listed values (the first `ALERT_VALUES_KEPT` in its order) and how many distinct values it has. */
export interface FieldValues {
  readonly values: readonly Scalar[];
  readonly total: number;
}

/** Every matched event of an alert, summarized: first and last event time, distinct values of its exact fields. */
export interface MatchedSummary {
  readonly firstMs: number;
  readonly lastMs: number;
  /** Exact field path → its values; a field no matched event carries is absent. */
  readonly values: Readonly<Record<string, FieldValues>>;
  /**
   * The summary read every matched document of the span that arrived before this mark (and perhaps later ones): the
   * detector's, in incremental evaluation (`Alert.seen.through`, `indexedThrough`). @default unknown: read the whole
   * span again
   */
  readonly readBefore?: ArrivalMark;
}

/**
 * An alert's summary after reading more of its span: `known`, what an earlier summary read, with `unread`, the
 * documents it had not read (some may be in both: a union counts each value once). The first and last time and each
 * field's first `ALERT_VALUES_KEPT` values are exact: each side lists its own first values, and the union's first
 * are among them. A field's total is exact while both sides list every value they have; otherwise it is
 * `totals[path]`, the field's distinct count over the whole span; undefined when a field needs that count and
 * `totals` has none (then summarize the whole span).
 */
export function mergeSummaries(
  fields: readonly ExactField[],
  known: MatchedSummary,
  unread: MatchedSummary | undefined,
  totals: Readonly<Record<string, number>>,
): MatchedSummary | undefined {
  if (unread === undefined) return known;
  const values: Record<string, FieldValues> = {};
  for (const { path, type } of fields) {
    const before = known.values[path];
    const after = unread.values[path];
    if (before === undefined && after === undefined) continue;
    const union = [...new Set([...(before?.values ?? []), ...(after?.values ?? [])])].sort(
      compareIndexed(type),
    );
    const total = listsEvery(before) && listsEvery(after) ? union.length : totals[path];
    if (total === undefined) return undefined;
    values[path] = { values: union.slice(0, ALERT_VALUES_KEPT), total: Math.max(total, union.length) };
  }
  return {
    firstMs: Math.min(known.firstMs, unread.firstMs),
    lastMs: Math.max(known.lastMs, unread.lastMs),
    values,
  };
}

/**
 * The summary an indexed alert holds (`seen`, `values`, `distinct`), when the detector wrote it from every matched
 * document that arrived before `seen.through` (and `seen.indexedThrough`, by the index stamp); undefined otherwise
 * (an alert from before `through`, or built without its summary): its next summary reads the whole span.
 */
export function storedSummary(
  alert: Alert,
  fields: readonly ExactField[],
): (MatchedSummary & { readonly readBefore: ArrivalMark }) | undefined {
  const { first, last, complete, through, indexedThrough } = alert.seen;
  if (!complete || through === undefined) return undefined;
  const [firstMs, lastMs, ingestedFromMs] = [first, last, through].map(Date.parse) as [
    number,
    number,
    number,
  ];
  const indexedFromMs = indexedThrough === undefined ? undefined : Date.parse(indexedThrough);
  if ([firstMs, lastMs, ingestedFromMs, indexedFromMs ?? 0].some(Number.isNaN)) return undefined;
  const readBefore = { ingestedFromMs, ...(indexedFromMs === undefined ? {} : { indexedFromMs }) };
  const values: Record<string, FieldValues> = {};
  for (const { path } of fields) {
    const listed = alert.values[path];
    const total = alert.distinct[path];
    if (listed !== undefined && total !== undefined && listed.length > 0)
      values[path] = { values: listed, total };
  }
  return { firstMs, lastMs, values, readBefore };
}

/**
 * `summary` with the total of each field it lists only in part taken from `totals` (distinct counts over the same
 * documents: the detector asks for them only when a field lists more than `ALERT_VALUES_KEPT` values); undefined
 * when one is missing.
 */
export function withTotals(
  fields: readonly ExactField[],
  summary: MatchedSummary,
  totals: Readonly<Record<string, number>>,
): MatchedSummary | undefined {
  const values: Record<string, FieldValues> = { ...summary.values };
  for (const index of partlyListed(fields, summary)) {
    const { path } = fields[index] as ExactField;
    const listed = values[path] as FieldValues;
    const total = totals[path];
    if (total === undefined) return undefined;
    values[path] = { values: listed.values, total: Math.max(listed.total, total) };
  }
  return { ...summary, values };
}

/** The exact fields (indices into `fields`) whose distinct count `known` does not list in full. */
export function partlyListed(fields: readonly ExactField[], known: MatchedSummary): number[] {
  return fields.flatMap(({ path }, index) => (listsEvery(known.values[path]) ? [] : [index]));
}

/** Whether a field's listed values are all it has (a field without values has none to list). */
function listsEvery(side: FieldValues | undefined): boolean {
  return side === undefined || side.total <= side.values.length;
}

/**
 * Replay's tally of matched events (a hop slot of a correlation group, or one single event): first and last time
 * and every distinct indexed value of the rule's exact fields. Alerts union the tallies of what they fold
 * (`summarizeTallies`).
 */
export class EventTally {
  firstMs = Number.POSITIVE_INFINITY;
  lastMs = Number.NEGATIVE_INFINITY;
  readonly values: Set<Scalar>[];

  constructor(readonly fields: readonly ExactField[]) {
    this.values = fields.map(() => new Set<Scalar>());
  }

  add(doc: EcsDocument, timeMs: number): void {
    if (timeMs < this.firstMs) this.firstMs = timeMs;
    if (timeMs > this.lastMs) this.lastMs = timeMs;
    this.fields.forEach(({ path, type }, i) => {
      const set = this.values[i] as Set<Scalar>;
      for (const raw of valuesAt(doc, path)) {
        const value = indexedValue(type, raw);
        if (value !== undefined) set.add(value);
      }
    });
  }
}

/** The union of the tallies (the same fields each), or undefined when they hold no event. */
export function summarizeTallies(tallies: readonly EventTally[]): MatchedSummary | undefined {
  const held = tallies.filter((tally) => tally.firstMs !== Number.POSITIVE_INFINITY);
  const head = held[0];
  if (head === undefined) return undefined;
  const values: Record<string, FieldValues> = {};
  head.fields.forEach(({ path, type }, i) => {
    const union = new Set<Scalar>();
    for (const tally of held) for (const value of tally.values[i] ?? []) union.add(value);
    if (union.size === 0) return;
    const sorted = [...union].sort(compareIndexed(type));
    values[path] = { values: sorted.slice(0, ALERT_VALUES_KEPT), total: union.size };
  });
  return {
    firstMs: Math.min(...held.map((tally) => tally.firstMs)),
    lastMs: Math.max(...held.map((tally) => tally.lastMs)),
    values,
  };
}
