/**
 * Correlation rules over OpenSearch: run the window aggregation (all composite pages), turn each window bucket
 * whose condition holds into a `Detection` (the same value the in-memory evaluator computes), and fetch the
 * matched events of the alerts that will be written.
 */

import * as z from "zod";
import { ALERT_VALUES_KEPT, type ExactField, exactFieldsOf, type MatchedSummary } from "../alerts/matched.js";
import type { EcsDocument } from "../ecs.js";
import type { CorrelationRule, Detection, SingleEventRule } from "../rules/types.js";
import { conditionHolds, groupKey, hopMs } from "../rules/windows.js";
import type { SearchClient } from "./ports.js";
import type { AggregationBudget, EvaluationRange, PercentilePrefilter, WindowRange } from "./queries.js";
import {
  type AlertSpan,
  COUNTED_ALERTS,
  compositePageSize,
  correlationQuery,
  countedAlertName,
  DEFAULT_AGGREGATION_BUDGET,
  distinctCandidatesQuery,
  distinctPrefiltered,
  FIRST_EVENTS,
  firesOnOpenWindows,
  groupSourceName,
  type IngestWindow,
  matchedDistinctName,
  minWindowCount,
  PERCENTILE_CANDIDATE_BUCKET_BYTES,
  percentileCandidatesQuery,
  percentilePrefilter,
  singleEventCountsQuery,
  singleEventQuery,
  touchedSlotsQuery,
  WHOLE_SPANS,
  wholeSpansApart,
  windowChunks,
  windowEventsQuery,
} from "./queries.js";
import {
  compositeSchema,
  hitSchema,
  metricSchema,
  pageComposite,
  parseAggregation,
  parseMatched,
  parseSearchResponse,
  type SearchHit,
  SearchResponseError,
  type WindowBucket,
  type WindowHistograms,
  windowHistogramsSchema,
} from "./responses.js";

/**
 * The window buckets of one group: the two window histograms' as they are, or the windows added up from the hop
 * slots (`windowsOfSlots`).
 */
function windowsOf(rule: CorrelationRule, histograms: WindowHistograms, purpose: string): WindowBucket[] {
  if (histograms.slots !== undefined) return windowsOfSlots(rule, histograms.slots.buckets);
  if (histograms.w0 === undefined || histograms.w1 === undefined) {
    throw new SearchResponseError(
      `${purpose}: the response holds neither the window histograms nor the slots`,
    );
  }
  return [...histograms.w0.buckets, ...histograms.w1.buckets];
}

/**
 * Windows added up from hop slots (`windowsAddUp` in `queries.ts`): the window starting at a slot holds that slot and
 * the next, so each slot adds its counts (documents, failures, values and values beyond a threshold, documents per
 * rule) to the window starting there and to the one starting a hop before. Windows with fewer documents than the
 * rule could fire on (`minWindowCount`) are left out, as the window histograms' `min_doc_count` leaves them out.
 * Windows at the edges of the queried range hold one slot of two, as the histograms' edge buckets hold part of
 * theirs: the callers judge only the windows of their range (`inRange`).
 */
export function windowsOfSlots(rule: CorrelationRule, slots: readonly WindowBucket[]): WindowBucket[] {
  const hop = hopMs(rule.timespanMs);
  const windows = new Map<number, WindowBucket>();
  for (const slot of slots) {
    for (const start of [slot.key - hop, slot.key]) {
      windows.set(start, addedUp(windows.get(start) ?? { key: start, doc_count: 0 }, slot));
    }
  }
  const fewest = minWindowCount(rule);
  return [...windows.values()].filter((window) => window.doc_count >= fewest).sort((a, b) => a.key - b.key);
}

/** A window's counts with one more slot's added. */
function addedUp(window: WindowBucket, slot: WindowBucket): WindowBucket {
  const sum = (a: number | undefined, b: number | undefined) => (a ?? 0) + (b ?? 0);
  const rules =
    slot.rules === undefined && window.rules === undefined
      ? undefined
      : Object.fromEntries(
          [
            ...new Set([
              ...Object.keys(window.rules?.buckets ?? {}),
              ...Object.keys(slot.rules?.buckets ?? {}),
            ]),
          ].map((name) => [
            name,
            { doc_count: sum(window.rules?.buckets[name]?.doc_count, slot.rules?.buckets[name]?.doc_count) },
          ]),
        );
  return {
    key: window.key,
    doc_count: window.doc_count + slot.doc_count,
    ...(slot.failures === undefined && window.failures === undefined
      ? {}
      : { failures: { doc_count: sum(window.failures?.doc_count, slot.failures?.doc_count) } }),
    ...(slot.values === undefined && window.values === undefined
      ? {}
      : { values: { value: sum(window.values?.value, slot.values?.value) } }),
    ...(slot.beyond === undefined && window.beyond === undefined
      ? {}
      : { beyond: { doc_count: sum(window.beyond?.doc_count, slot.beyond?.doc_count) } }),
    ...(rules === undefined ? {} : { rules: { buckets: rules } }),
  };
}

/** The value of one window bucket, or undefined when the correlation does not fire there. */
export function bucketValue(rule: CorrelationRule, bucket: WindowBucket): number | undefined {
  const count = bucket.doc_count;
  if (count === 0 || count < rule.minCount) return undefined;
  let value: number;
  switch (rule.type) {
    case "event_count":
      value = count;
      break;
    case "value_count":
      value = bucket.distinct?.value ?? 0;
      break;
    case "failure_ratio":
      value = (bucket.failures?.doc_count ?? 0) / count;
      break;
    case "percentile": {
      const found = bucket.pct?.values[0]?.value;
      if (found === undefined || found === null) return undefined;
      value = found;
      break;
    }
    case "temporal":
      value = Object.values(bucket.rules?.buckets ?? {}).filter((entry) => entry.doc_count > 0).length;
      break;
    case "new_value":
    case "geo":
    case "mtls_mode":
      // Judged against a baseline (rules/behaviour.ts), never over windows.
      return undefined;
  }
  return conditionHolds(rule.condition, value) ? value : undefined;
}

/** Detections (without events yet) of every window of `windows` whose condition holds, all groups, in one chunk. */
export async function evaluateCorrelation(
  client: SearchClient,
  index: string,
  rule: CorrelationRule,
  windows: WindowRange,
  pageSize: number,
  candidatePageSize = pageSize,
): Promise<Detection[]> {
  if (distinctPrefiltered(rule)) {
    return evaluateDistinctInTwoPhases(client, index, rule, windows, pageSize, candidatePageSize);
  }
  const prefilter = percentilePrefilter(rule);
  if (prefilter === undefined) {
    const detections: Detection[] = [];
    await forEachWindowBucket(client, index, rule, correlationQuery, windows, pageSize, (groupBy, bucket) => {
      const detection = detectionOf(rule, windows, groupBy, bucket);
      if (detection !== undefined) detections.push(detection);
    });
    return detections;
  }
  return evaluatePercentileInTwoPhases(client, index, rule, prefilter, windows, pageSize, candidatePageSize);
}

/** How far a chunked evaluation got. */
export interface CorrelationProgress {
  readonly detections: Detection[];
  /** The last window start every group was evaluated for; undefined when no chunk finished. */
  readonly evaluatedThroughStartMs: number | undefined;
  /** Every chunk evaluated (false when the deadline came first). */
  readonly complete: boolean;
}

/**
 * The correlation over a run's windows within the aggregation budget: the windows cut into chunks
 * (`windowChunks`), each chunk's composite paged with the page size the budget allows (`compositePageSize`). Stops
 * between chunks once `deadlineMs` has passed (by `clock`), saying how far it got.
 */
export async function evaluateCorrelationInChunks(
  client: SearchClient,
  index: string,
  rule: CorrelationRule,
  windows: WindowRange,
  options: {
    readonly budget?: AggregationBudget;
    readonly deadlineMs?: number;
    readonly clock?: () => number;
  } = {},
): Promise<CorrelationProgress> {
  const budget = options.budget ?? DEFAULT_AGGREGATION_BUDGET;
  const clock = options.clock ?? Date.now;
  const detections: Detection[] = [];
  let evaluatedThroughStartMs: number | undefined;
  for (const chunk of windowChunks(rule, windows, budget)) {
    if (options.deadlineMs !== undefined && clock() >= options.deadlineMs) {
      return { detections, evaluatedThroughStartMs, complete: false };
    }
    const pageSize = compositePageSize(rule, chunk, budget);
    // A percentile rule's first phase holds counts, not digests: its pages may hold more groups.
    const candidatePageSize = compositePageSize(rule, chunk, budget, PERCENTILE_CANDIDATE_BUCKET_BYTES);
    detections.push(...(await evaluateCorrelation(client, index, rule, chunk, pageSize, candidatePageSize)));
    evaluatedThroughStartMs = chunk.lastStartMs;
  }
  return { detections, evaluatedThroughStartMs, complete: true };
}

/** Touched windows at most this many window starts apart are evaluated in one range (fewer requests). */
const TOUCHED_RANGE_GAP = 4;
/** More separate touched ranges than this are evaluated as one range from the first to the last. */
const MAX_TOUCHED_RANGES = 8;

/**
 * Incremental evaluation: the windows of `eligible` (those a run may judge) that may have changed since the last
 * run, as consecutive ranges. A window may have changed when it holds a new document (`touchedSlotsQuery`: the hop
 * slots with one, each in two windows), and a rule judged on closed windows also judges every window that closed
 * since the last run (`closedAfterMs`, the watermark), new documents or not.
 */
export async function touchedWindowRanges(
  client: SearchClient,
  index: string,
  rule: CorrelationRule,
  ingest: IngestWindow,
  eligible: WindowRange,
  closedAfterMs: number,
): Promise<WindowRange[]> {
  const purpose = `new documents of ${rule.name}`;
  const response = parseSearchResponse(
    await client.search({ index, body: touchedSlotsQuery(rule, ingest) }),
    purpose,
  );
  const slots = parseAggregation(
    response.aggregations?.slots,
    z.object({ buckets: z.array(z.object({ key: z.number(), doc_count: z.number().int() })) }),
    purpose,
    "slots",
  );
  const hop = hopMs(rule.timespanMs);
  const starts = new Set<number>();
  for (const slot of slots.buckets) {
    if (slot.doc_count === 0) continue;
    starts.add(slot.key - hop);
    starts.add(slot.key);
  }
  if (!firesOnOpenWindows(rule)) {
    // Windows ending in (closedAfterMs, now]: start after closedAfterMs - timespan.
    const first = (Math.floor((closedAfterMs - rule.timespanMs) / hop) + 1) * hop;
    for (let start = first; start <= eligible.lastStartMs; start += hop) starts.add(start);
  }
  const sorted = [...starts]
    .filter((start) => start >= eligible.firstStartMs && start <= eligible.lastStartMs)
    .sort((a, b) => a - b);
  const runs: [number, number][] = [];
  for (const start of sorted) {
    const last = runs[runs.length - 1];
    if (last !== undefined && start - last[1] <= TOUCHED_RANGE_GAP * hop) last[1] = start;
    else runs.push([start, start]);
  }
  const merged: [number, number][] =
    runs.length > MAX_TOUCHED_RANGES
      ? [[runs[0]?.[0] as number, runs[runs.length - 1]?.[1] as number]]
      : runs;
  return merged.map(([firstStartMs, lastStartMs]) => ({
    firstStartMs,
    lastStartMs,
    eventsFromMs: firstStartMs,
    eventsToMs: Math.min(eligible.eventsToMs, lastStartMs + rule.timespanMs - 1),
  }));
}

type QueryBuilder = (
  rule: CorrelationRule,
  windows: WindowRange,
  pageSize: number,
  after?: Record<string, unknown>,
) => Record<string, unknown>;

/** Runs a correlation-shaped query over every composite page and hands each window bucket, with its group, on. */
async function forEachWindowBucket(
  client: SearchClient,
  index: string,
  rule: CorrelationRule,
  query: QueryBuilder,
  windows: WindowRange,
  pageSize: number,
  visit: (groupBy: Record<string, string>, bucket: WindowBucket) => void,
): Promise<void> {
  const purpose = `correlation ${rule.name}`;
  if (rule.groupBy.length === 0) {
    const body = query(rule, windows, pageSize, undefined);
    const response = parseSearchResponse(await client.search({ index, body }), purpose);
    const histograms = parseAggregation(response.aggregations, windowHistogramsSchema, purpose, "windows");
    for (const bucket of windowsOf(rule, histograms, purpose)) visit({}, bucket);
    return;
  }
  await pageComposite(
    purpose,
    pageSize,
    async (after) => {
      const body = query(rule, windows, pageSize, after);
      const response = parseSearchResponse(await client.search({ index, body }), purpose);
      return parseAggregation(response.aggregations?.groups, compositeSchema, purpose, "groups");
    },
    (buckets) => {
      for (const bucket of buckets) {
        const groupBy = groupOf(rule, bucket.key, purpose);
        for (const window of windowsOf(rule, bucket, purpose)) visit(groupBy, window);
      }
    },
    10_000,
  );
}

/** The group of a composite bucket's key (`groupSourceName` per group-by field). */
function groupOf(
  rule: CorrelationRule,
  key: Readonly<Record<string, unknown>>,
  purpose: string,
): Record<string, string> {
  const groupBy: Record<string, string> = {};
  rule.groupBy.forEach((field, position) => {
    const value = key[groupSourceName(position)];
    if (value === undefined) {
      throw new SearchResponseError(
        `${purpose}: composite key lacks ${groupSourceName(position)} (${field})`,
      );
    }
    groupBy[field] = String(value);
  });
  return groupBy;
}

/**
 * A percentile rule in two phases, so the expensive digest is built only where the rule can fire. Phase 1 counts,
 * per group and window, the values and the values beyond the threshold (`percentileCandidatesQuery`: a `filter`
 * and a `value_count`, no digest). The `p`-th percentile (rank `n·p/100 − 0.5`, interpolated between its two
 * neighbours, `percentile` in rules/evaluator.ts) exceeds `x` only if the upper neighbour does, that is only if at
 * least `n − ceil(rank)` of the `n` values exceed `x`: every other window is decided without a digest. Phase 2
 * builds OpenSearch's `percentiles` for the candidate groups alone, over the same documents per window, so the value
 * of a candidate window is exactly the single-phase one.
 */
async function evaluatePercentileInTwoPhases(
  client: SearchClient,
  index: string,
  rule: CorrelationRule,
  prefilter: PercentilePrefilter,
  windows: WindowRange,
  pageSize: number,
  candidatePageSize: number,
): Promise<Detection[]> {
  const candidates = new Map<string, { groupBy: Record<string, string>; starts: Set<number> }>();
  const phaseOne: QueryBuilder = (r, w, size, after) =>
    percentileCandidatesQuery(r, prefilter, w, size, after);
  await forEachWindowBucket(client, index, rule, phaseOne, windows, candidatePageSize, (groupBy, bucket) => {
    if (!inRange(windows, bucket) || !couldExceed(rule, bucket)) return;
    const key = groupKey(groupBy);
    const entry = candidates.get(key) ?? { groupBy, starts: new Set<number>() };
    entry.starts.add(bucket.key);
    candidates.set(key, entry);
  });
  const groups = [...candidates.values()].map((entry) => entry.groupBy);
  return evaluateWindowsOf(
    client,
    index,
    rule,
    windows,
    pageSize,
    groups,
    (groupBy, bucket) => candidates.get(groupKey(groupBy))?.starts.has(bucket.key) === true,
  );
}

/**
 * Phase 2 of a two-phase correlation: the windows of `groups` alone (`correlationQuery` restricted to their values,
 * `pageSize` groups a request), each window bucket of a request's own groups that `candidate` accepts judged as the
 * single-phase query would. The restriction is per field, so other combinations of the groups' values may come
 * back: they are no request's groups, and each group is judged in its own request only.
 */
async function evaluateWindowsOf(
  client: SearchClient,
  index: string,
  rule: CorrelationRule,
  windows: WindowRange,
  pageSize: number,
  groups: readonly Record<string, string>[],
  candidate: (groupBy: Record<string, string>, bucket: WindowBucket) => boolean = () => true,
): Promise<Detection[]> {
  const detections: Detection[] = [];
  for (let offset = 0; offset < groups.length; offset += pageSize) {
    const only = groups.slice(offset, offset + pageSize);
    const own = new Set(only.map(groupKey));
    const phaseTwo: QueryBuilder = (r, w, size, after) => correlationQuery(r, w, size, after, only);
    await forEachWindowBucket(client, index, rule, phaseTwo, windows, pageSize, (groupBy, bucket) => {
      if (!own.has(groupKey(groupBy)) || !candidate(groupBy, bucket)) return;
      const detection = detectionOf(rule, windows, groupBy, bucket);
      if (detection !== undefined) detections.push(detection);
    });
  }
  return detections;
}

/**
 * A `value_count` rule in two phases (`distinctPrefiltered`): phase 1 counts each group's distinct values over the
 * whole chunk (`distinctCandidatesQuery`: one `cardinality` per group, no histograms); a group whose count does not
 * meet the bound meets it in no window. Phase 2 counts the windows of the others alone, exactly as the single-phase
 * query would. A workload calls its few dependencies: at 1,000 callers only those that reach many services (a scan,
 * a gateway) are counted per window.
 */
async function evaluateDistinctInTwoPhases(
  client: SearchClient,
  index: string,
  rule: CorrelationRule,
  windows: WindowRange,
  pageSize: number,
  candidatePageSize: number,
): Promise<Detection[]> {
  const purpose = `correlation ${rule.name}`;
  const candidates: Record<string, string>[] = [];
  await pageComposite(
    purpose,
    candidatePageSize,
    async (after) => {
      const body = distinctCandidatesQuery(rule, windows, candidatePageSize, after);
      const response = parseSearchResponse(await client.search({ index, body }), purpose);
      return parseAggregation(response.aggregations?.groups, distinctGroupsSchema, purpose, "groups");
    },
    (buckets) => {
      for (const bucket of buckets) {
        if (conditionHolds(rule.condition, bucket.distinct.value)) {
          candidates.push(groupOf(rule, bucket.key, purpose));
        }
      }
    },
    10_000,
  );
  return evaluateWindowsOf(client, index, rule, windows, pageSize, candidates);
}

const distinctGroupsSchema = z.object({
  after_key: z.record(z.string(), z.unknown()).optional(),
  buckets: z.array(
    z.object({
      key: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
      distinct: z.object({ value: z.number() }),
    }),
  ),
});

/** Whether the window's counts leave room for its percentile to meet a lower-bound condition. */
function couldExceed(rule: CorrelationRule, bucket: WindowBucket): boolean {
  if (bucket.doc_count === 0 || bucket.doc_count < rule.minCount) return false;
  const n = bucket.values?.value ?? 0;
  if (n === 0) return false;
  const rank = Math.min(Math.max((n * (rule.percentile ?? 50)) / 100 - 0.5, 0), n - 1);
  const beyond = bucket.beyond?.doc_count ?? 0;
  return beyond >= n - Math.ceil(rank);
}

function inRange(windows: WindowRange, bucket: WindowBucket): boolean {
  return bucket.key >= windows.firstStartMs && bucket.key <= windows.lastStartMs;
}

/** The detection of one window bucket, or undefined when it is outside the range or its condition fails. */
function detectionOf(
  rule: CorrelationRule,
  windows: WindowRange,
  groupBy: Record<string, string>,
  bucket: WindowBucket,
): Detection | undefined {
  // Histogram buckets outside the range hold only part of their window's events: never judge them.
  if (!inRange(windows, bucket)) return undefined;
  const value = bucketValue(rule, bucket);
  if (value === undefined) return undefined;
  return {
    rule,
    windowStart: new Date(bucket.key).toISOString(),
    windowEnd: new Date(bucket.key + rule.timespanMs).toISOString(),
    groupBy: { ...groupBy },
    count: bucket.doc_count,
    ...(rule.type === "event_count" ? {} : { value }),
    events: [],
  };
}

/**
 * What a batched summary search says of one alert: its first matched events (when asked for), the summary of the
 * matched events it read (all of its span's, or, when the span was summarized before, those that summary did not
 * read: `AlertSpan.read`), and the distinct counts over the whole span of the fields asked for (`totals`).
 */
export interface AlertSummary {
  readonly events: EcsDocument[];
  readonly matched: MatchedSummary | undefined;
  /** Exact field path → its distinct count over the whole span, for the fields the request named. */
  readonly totals: Readonly<Record<string, number>>;
}

/** One search and how to read its response: requests of this shape can travel together in one `_msearch`. */
export interface SearchRequest<T> {
  readonly body: Record<string, unknown>;
  read(response: unknown): T;
}

/**
 * The first matched events of several alerts of one correlation, oldest first (none without `withEvents`), and the
 * summary of every matched event of each (first and last time, distinct values of the rule's exact fields): one
 * request (`windowEventsQuery`), an answer per span in the order of `spans`. Keep `spans` to
 * `eventsAlertsPerRequest(rule, exactFieldsOf(rule))`. `totals`: indices of `exactFieldsOf(rule)` whose distinct
 * counts over the whole span are wanted.
 */
export function windowEventsRequest(
  rule: CorrelationRule,
  spans: readonly AlertSpan[],
  withEvents = true,
  totals: readonly number[] = [],
): SearchRequest<AlertSummary[]> {
  const fields = exactFieldsOf(rule);
  const purpose = `${withEvents ? "events" : "summaries"} of ${rule.name}`;
  return {
    body: windowEventsQuery(rule, spans, fields, withEvents, totals),
    read(raw) {
      return alertSummaries(raw, spans, fields, totals, withEvents, purpose).map(
        ({ events, matched, totals: counted }) => ({
          events: events.map((hit) => asDocument(hit, rule.name)),
          matched,
          totals: counted,
        }),
      );
    },
  };
}

const firstEventsSchema = z.object({ hits: z.object({ hits: z.array(hitSchema) }) });
const alertBucketSchema = z.object({
  doc_count: z.number().int(),
  [FIRST_EVENTS]: firstEventsSchema.optional(),
});
const alertBucketsSchema = z.object({ buckets: z.record(z.string(), alertBucketSchema.loose()) });

/**
 * Reads a batched summary search (`singleEventCountsQuery`, `windowEventsQuery`): per alert, in the order of
 * `spans`, its count over the whole span, first events (when `withEvents`: refused when missing), summary and
 * `totals`. An answer missing an alert's bucket is refused rather than read as an alert with nothing.
 */
function alertSummaries(
  raw: unknown,
  spans: readonly AlertSpan[],
  fields: readonly ExactField[],
  totals: readonly number[],
  withEvents: boolean,
  purpose: string,
): {
  count: number;
  events: SearchHit[];
  matched: MatchedSummary | undefined;
  totals: Record<string, number>;
}[] {
  const response = parseSearchResponse(raw, purpose);
  const bucketsOf = (name: string) =>
    parseAggregation(response.aggregations?.[name], alertBucketsSchema, purpose, name).buckets;
  const unread = bucketsOf(COUNTED_ALERTS);
  const whole = wholeSpansApart(spans, totals) ? bucketsOf(WHOLE_SPANS) : unread;
  return spans.map((_, position) => {
    const name = countedAlertName(position);
    const read = unread[name];
    const span = whole[name];
    if (read === undefined || span === undefined) {
      throw new SearchResponseError(`${purpose}: the response has no bucket ${name}`);
    }
    const events = span[FIRST_EVENTS]?.hits.hits;
    if (withEvents && events === undefined) {
      throw new SearchResponseError(`${purpose}: bucket ${name} has no ${FIRST_EVENTS}`);
    }
    const counted: Record<string, number> = {};
    for (const index of totals) {
      const field = fields[index];
      const distinctName = matchedDistinctName(index);
      if (field === undefined) continue;
      const value = parseAggregation(
        (span as Record<string, unknown>)[distinctName],
        metricSchema,
        `${purpose} (${name})`,
        distinctName,
      ).value;
      counted[field.path] = value ?? 0;
    }
    return {
      count: span.doc_count,
      events: events ?? [],
      matched: parseMatched(read, fields, ALERT_VALUES_KEPT, `${purpose} (${name})`, "terms"),
      totals: counted,
    };
  });
}

/** One page of a single-event rule's documents, and the cursor of the next (undefined on the last page). */
export interface SingleEventPage {
  readonly documents: EcsDocument[];
  readonly next: unknown[] | undefined;
}

/**
 * Documents tagged with a single-event rule in the range, oldest first, `size` at a time: pass `next` back as
 * `after` until it is undefined. Pages follow `@timestamp` then `event.id` (`search_after`); two documents equal in
 * both are the same record indexed twice, and the second one is not read: it is the same alert, and single-event
 * alerts take their count from the index (`countSingleEventMatches`).
 */
export async function fetchSingleEventPage(
  client: SearchClient,
  index: string,
  rule: SingleEventRule,
  range: EvaluationRange,
  size: number,
  after?: readonly unknown[],
  ingest?: IngestWindow,
): Promise<SingleEventPage> {
  const body = singleEventQuery(rule, range, size, after, ingest);
  return singleEventPageOf(rule, size, await client.search({ index, body }));
}

/** What `firstSingleEventPages` asks for one rule. */
export interface FirstPageRequest {
  readonly rule: SingleEventRule;
  readonly range: EvaluationRange;
  readonly ingest?: IngestWindow;
}

/** First pages read in one `_msearch`: at most this many rules' (`size` documents each, about 3 KB a document). */
export const FIRST_PAGES_PER_REQUEST = 10;

/**
 * The first page of each rule (`fetchSingleEventPage` without `after`), `FIRST_PAGES_PER_REQUEST` rules per
 * `_msearch` instead of a search each: most single-event rules find nothing new in a minute, and a run has dozens.
 * In the order of `requests`, each page or the error of its rule alone (a failed search, an unreadable answer).
 */
export async function firstSingleEventPages(
  client: SearchClient,
  index: string,
  requests: readonly FirstPageRequest[],
  size: number,
): Promise<(SingleEventPage | Error)[]> {
  const pages: (SingleEventPage | Error)[] = [];
  for (let offset = 0; offset < requests.length; offset += FIRST_PAGES_PER_REQUEST) {
    const batch = requests.slice(offset, offset + FIRST_PAGES_PER_REQUEST);
    const answers = await client.msearch({
      index,
      bodies: batch.map(({ rule, range, ingest }) => singleEventQuery(rule, range, size, undefined, ingest)),
    });
    batch.forEach(({ rule }, position) => {
      const answer = answers[position];
      try {
        if (answer === undefined) {
          throw new SearchResponseError(`single-event rule ${rule.name}: no answer in the _msearch response`);
        }
        if (!answer.ok) throw new SearchResponseError(`single-event rule ${rule.name}: ${answer.error}`);
        pages.push(singleEventPageOf(rule, size, answer.body));
      } catch (error) {
        pages.push(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }
  return pages;
}

/** A page of `size` documents at most from a single-event search's answer, with where the next one starts. */
function singleEventPageOf(rule: SingleEventRule, size: number, answer: unknown): SingleEventPage {
  const response = parseSearchResponse(answer, `single-event rule ${rule.name}`);
  const hits = response.hits.hits;
  const documents = hits.map((hit) => asDocument(hit, rule.name));
  const last = hits[hits.length - 1];
  if (hits.length < size || last === undefined) return { documents, next: undefined };
  if (last.sort === undefined) {
    throw new SearchResponseError(
      `single-event rule ${rule.name}: a sorted hit came back without its sort values`,
    );
  }
  return { documents, next: last.sort };
}

/** An alert's exact count and what its documents say (`AlertSummary`, without events). */
export interface SingleEventCount extends Omit<AlertSummary, "events"> {
  readonly count: number;
}

/**
 * `singleEventCountRequest` for several alerts of one rule in one request (`singleEventCountsQuery`): each alert's
 * exact count (the documents its own count query would find) and summary, in the order of `spans`. Keep `spans` to
 * `countedAlertsPerRequest(exactFieldsOf(rule))`. `totals` as `windowEventsRequest`'s.
 */
export function singleEventCountsRequest(
  rule: SingleEventRule,
  spans: readonly AlertSpan[],
  totals: readonly number[] = [],
): SearchRequest<SingleEventCount[]> {
  const purpose = `counts of ${rule.name}`;
  const fields = exactFieldsOf(rule);
  return {
    body: singleEventCountsQuery(rule, spans, fields, totals),
    read(raw) {
      return alertSummaries(raw, spans, fields, totals, false, purpose);
    },
  };
}

/**
 * The exact counts of several alerts of one single-event rule, without their summaries: `singleEventCountsQuery`'s
 * `filters` buckets alone (no values, no distinct counts), to check alerts summarized from the documents a run
 * fetched (`withSummaries` in `run.ts`).
 */
export function singleEventCountsOnlyRequest(
  rule: SingleEventRule,
  spans: readonly AlertSpan[],
): SearchRequest<number[]> {
  const purpose = `counts of ${rule.name}`;
  return {
    body: singleEventCountsQuery(rule, spans),
    read(raw) {
      return alertSummaries(raw, spans, [], [], false, purpose).map((answer) => answer.count);
    },
  };
}

/** An indexed document as the ECS type, after checking the one field detection relies on. */
export function asDocument(hit: SearchHit, ruleName: string): EcsDocument {
  const timestamp = hit._source["@timestamp"];
  if (typeof timestamp !== "string" || Number.isNaN(Date.parse(timestamp))) {
    throw new SearchResponseError(
      `rule ${ruleName}: document ${hit._index}/${hit._id} has no valid @timestamp (${JSON.stringify(timestamp)})`,
    );
  }
  return hit._source as unknown as EcsDocument;
}
