/**
 * OpenSearch query bodies for the detection run, and the time ranges they cover.
 *
 * Correlation windows are the team's hopping windows (`rules/windows.ts`): length `timespan`, one every
 * `timespan / 2`, aligned to the epoch. OpenSearch builds them with two `date_histogram`s of interval `timespan`,
 * offsets 0 and `timespan / 2`, under a `composite` aggregation on the group-by fields, over documents the
 * transform tagged (`rule.name`) with one of the correlation's rules.
 */

import { ALERT_VALUES_KEPT, DISTINCT_TOTAL_PRECISION, type ExactField } from "../alerts/matched.js";
import { INDEXED_AT_FIELD } from "../contracts.js";
import type { CorrelationCondition, CorrelationRule, SingleEventRule } from "../rules/types.js";
import { DETECTION_EVENT_CAP } from "../rules/types.js";
import { hopMs } from "../rules/windows.js";

/** The event-time span a run evaluates: windows ending after `fromMs`, single events at or after it. */
export interface EvaluationRange {
  readonly fromMs: number;
  readonly toMs: number;
  /** True when the detector was down longer than `maxCatchUpMs` and the oldest part was skipped. */
  readonly catchUpTruncated: boolean;
}

export interface RangeOptions {
  readonly nowMs: number;
  /** `now` of the last complete run; undefined on the first run. */
  readonly watermarkMs: number | undefined;
  /** Windows ending within this much before the watermark are evaluated again (late records). */
  readonly lookbackMs: number;
  /** Never look further back than this (a detector down for days does not scan days at once). */
  readonly maxCatchUpMs: number;
}

/**
 * From `min(watermark, now) - lookback` (so nothing after the last complete run is skipped, and late records
 * within `lookback` are still counted) to now, but no further back than `maxCatchUpMs`.
 */
export function evaluationRange(options: RangeOptions): EvaluationRange {
  const { nowMs, watermarkMs, lookbackMs, maxCatchUpMs } = options;
  const anchor = watermarkMs === undefined ? nowMs : Math.min(watermarkMs, nowMs);
  const wanted = anchor - lookbackMs;
  const floor = nowMs - maxCatchUpMs;
  return { fromMs: Math.max(wanted, floor), toMs: nowMs, catchUpTruncated: wanted < floor };
}

/** The correlation windows (by start) one run evaluates for a rule, and the event times they need. */
export interface WindowRange {
  readonly firstStartMs: number;
  readonly lastStartMs: number;
  /** Events in `[eventsFromMs, eventsToMs]` (inclusive bounds, epoch ms). */
  readonly eventsFromMs: number;
  readonly eventsToMs: number;
}

/**
 * Whether the condition can only become true as a window fills (a count or distinct count with lower bounds
 * only). Such rules are evaluated on open windows, so they page as soon as the threshold is crossed; the others
 * (ratios, percentiles, upper bounds) only once the window has closed, when their value is final.
 */
export function firesOnOpenWindows(rule: CorrelationRule): boolean {
  const { condition } = rule;
  const lowerOnly =
    condition.lt === undefined &&
    condition.lte === undefined &&
    condition.eq === undefined &&
    condition.neq === undefined;
  return (
    lowerOnly && (rule.type === "event_count" || rule.type === "value_count" || rule.type === "temporal")
  );
}

/** Windows that end after `range.fromMs` and have started (monotone rules) or ended (others) by `range.toMs`. */
export function windowRange(rule: CorrelationRule, range: EvaluationRange): WindowRange | undefined {
  const timespan = rule.timespanMs;
  const hop = hopMs(timespan);
  const firstStartMs = (Math.floor((range.fromMs - timespan) / hop) + 1) * hop;
  const lastStartMs = firesOnOpenWindows(rule)
    ? Math.floor(range.toMs / hop) * hop
    : Math.floor((range.toMs - timespan) / hop) * hop;
  if (lastStartMs < firstStartMs) return undefined;
  return {
    firstStartMs,
    lastStartMs,
    eventsFromMs: firstStartMs,
    eventsToMs: Math.min(range.toMs, lastStartMs + timespan - 1),
  };
}

function timeRange(fromMs: number, toMs: number): Record<string, unknown> {
  return { range: { "@timestamp": { gte: fromMs, lte: toMs, format: "epoch_millis" } } };
}

/** Events of `[fromMs, toExclusiveMs)` (from the start when `fromMs` is undefined): the stateful rules' stretches. */
export function halfOpenTimeRange(
  fromMs: number | undefined,
  toExclusiveMs: number,
): Record<string, unknown> {
  return {
    range: {
      "@timestamp": {
        ...(fromMs === undefined ? {} : { gte: fromMs }),
        lt: toExclusiveMs,
        format: "epoch_millis",
      },
    },
  };
}

/** The documents the transform tagged with any of `names` (`rule.name`). */
export function taggedWith(names: readonly string[]): Record<string, unknown> {
  return names.length === 1 ? { term: { "rule.name": names[0] } } : { terms: { "rule.name": [...names] } };
}

/** The order of matched events: `compareEvents` (rules/windows.ts), which replay uses. */
export const EVENT_ORDER = [
  { "@timestamp": { order: "asc" } },
  { "event.id": { order: "asc", missing: "_last" } },
];

/** `EVENT_ORDER` reversed: the latest event first (missing ids, last in ascending order, first). */
export const LATEST_EVENT_FIRST = [
  { "@timestamp": { order: "desc" } },
  { "event.id": { order: "desc", missing: "_first" } },
];

/**
 * A point in the order documents became searchable, in the clocks that record it: the node's index stamp
 * (`INDEXED_AT_FIELD`, set by the audit indices' final pipeline) and, for documents indexed before the stamp existed,
 * the time Firehose received them (`event.ingested`). A document is searchable at most a refresh interval and a
 * bulk request after the node stamped it, so the index stamp bounds what can still appear by seconds where
 * `event.ingested` bounds it only by Firehose's buffering and retries (up to the retry duration: 15 minutes in prod).
 */
export interface ArrivalMark {
  /**
   * Documents with the index stamp arrived since the mark when stamped at or after this (the node's clock).
   * @default undefined - the index stamp is not used: every document is judged by `event.ingested`
   */
  readonly indexedFromMs?: number;
  /** Documents judged by `event.ingested` arrived since the mark when received at or after this. */
  readonly ingestedFromMs: number;
}

/** The clauses (any one suffices) of documents that arrived at or after `mark`; none matches a document with neither stamp. */
export function arrivedSince(mark: ArrivalMark): Record<string, unknown>[] {
  const ingested = { range: { "event.ingested": { gte: mark.ingestedFromMs, format: "epoch_millis" } } };
  if (mark.indexedFromMs === undefined) return [ingested];
  return [
    { range: { [INDEXED_AT_FIELD]: { gte: mark.indexedFromMs, format: "epoch_millis" } } },
    { bool: { filter: [ingested], must_not: [{ exists: { field: INDEXED_AT_FIELD } }] } },
  ];
}

/**
 * Documents `arrivedSince(mark)` cannot judge: without `event.ingested` and, when the mark reads the index stamp,
 * without that too (loaded into an index without the pipeline by other means than Firehose).
 */
export function withoutArrivalStamp(mark: ArrivalMark): Record<string, unknown> {
  const stamps = mark.indexedFromMs === undefined ? ["event.ingested"] : ["event.ingested", INDEXED_AT_FIELD];
  return { bool: { must_not: stamps.map((field) => ({ exists: { field } })) } };
}

/**
 * Incremental evaluation: the documents that may have become searchable since the last run, those that arrived at
 * or after `arrived` (`ArrivalMark`: the last run's newest index stamp less the index lag, or its start less the
 * ingest lag). Documents with neither stamp count as new while their event time is in the rule's lookback range,
 * as without incremental evaluation.
 */
export interface IngestWindow {
  /** What arrived at or after this is new. */
  readonly arrived: ArrivalMark;
  /** Documents without either stamp: new when their event time is at or after this. */
  readonly untaggedFromMs: number;
  /** No event time before this is evaluated (the catch-up limit). */
  readonly floorMs: number;
  readonly toMs: number;
}

/** The `ingest` window's documents: arrived since its mark, or without a stamp and in the lookback. */
export function ingestedFilter(ingest: IngestWindow): Record<string, unknown>[] {
  return [
    timeRange(ingest.floorMs, ingest.toMs),
    {
      bool: {
        should: [
          ...arrivedSince(ingest.arrived),
          {
            bool: {
              filter: [withoutArrivalStamp(ingest.arrived), timeRange(ingest.untaggedFromMs, ingest.toMs)],
            },
          },
        ],
        minimum_should_match: 1,
      },
    },
  ];
}

/**
 * The newest index stamp (`INDEXED_AT_FIELD`) on a searchable document, at or after `fromMs` when given: the mark
 * of the next run's incremental reads (`ArrivalMark`). A `max` over a date field reads its points, not the documents.
 */
export function newestIndexStampQuery(fromMs: number | undefined) {
  return {
    size: 0,
    track_total_hits: false,
    ...(fromMs === undefined
      ? {}
      : { query: { range: { [INDEXED_AT_FIELD]: { gte: fromMs, format: "epoch_millis" } } } }),
    aggs: { [NEWEST_INDEX_STAMP]: { max: { field: INDEXED_AT_FIELD } } },
  };
}

/** Name of `newestIndexStampQuery`'s aggregation. */
export const NEWEST_INDEX_STAMP = "newest";

/**
 * Documents the transform tagged with a single-event rule, oldest first, a page of `size` after `after`: in the
 * range, or (incremental) the new ones of the `ingest` window.
 */
export function singleEventQuery(
  rule: SingleEventRule,
  range: EvaluationRange,
  size: number,
  after?: readonly unknown[],
  ingest?: IngestWindow,
) {
  const when = ingest === undefined ? [timeRange(range.fromMs, range.toMs)] : ingestedFilter(ingest);
  return {
    size,
    track_total_hits: false,
    sort: EVENT_ORDER,
    query: { bool: { filter: [taggedWith([rule.name]), ...when] } },
    ...(after === undefined ? {} : { search_after: [...after] }),
  };
}

/**
 * The hop slots (`[k·hop, (k+1)·hop)`, by event time) holding new documents of a correlation (`ingest`): the windows
 * that may have changed since the last run are those containing one. One bucket per slot with a document, at most
 * `maxCatchUp / hop` (2,880 a day for one-minute windows).
 */
export function touchedSlotsQuery(rule: CorrelationRule, ingest: IngestWindow) {
  return {
    size: 0,
    track_total_hits: false,
    query: { bool: { filter: [taggedWith(rule.rules), ...ingestedFilter(ingest)] } },
    aggs: {
      slots: {
        date_histogram: {
          field: "@timestamp",
          fixed_interval: `${hopMs(rule.timespanMs)}ms`,
          min_doc_count: 1,
        },
      },
    },
  };
}

/**
 * How many documents a single-event alert stands for: tagged with the rule, in `[fromMs, toMs]`, with the alert's
 * group values (and without a value where the group has none). Everything in an alert's span folds into it, so this
 * is its exact count however many events it holds.
 */
export function singleEventCountQuery(
  rule: SingleEventRule,
  groupBy: Readonly<Record<string, string>>,
  fromMs: number,
  toMs: number,
  fields: readonly ExactField[] = [],
) {
  const filter: Record<string, unknown>[] = [taggedWith([rule.name]), timeRange(fromMs, toMs)];
  const mustNot: Record<string, unknown>[] = [];
  for (const path of rule.suppression.groupBy) {
    const value = groupBy[path];
    if (value === undefined) mustNot.push({ exists: { field: path } });
    else filter.push({ term: { [path]: value } });
  }
  return {
    size: 0,
    track_total_hits: true,
    query: { bool: { filter, ...(mustNot.length === 0 ? {} : { must_not: mustNot }) } },
    aggs: matchedAggregations(fields),
  };
}

/**
 * An alert's stored span (`window.start`, `window.end`) and group, as the batched summary searches take it: a
 * single-event alert's span holds its last event (`[fromMs, toMs]`, `singleEventCountsQuery`), a correlation's
 * window ends before `toMs` (`[fromMs, toMs)`, `windowEventsQuery`).
 */
export interface AlertSpan {
  readonly groupBy: Readonly<Record<string, string>>;
  readonly fromMs: number;
  readonly toMs: number;
  /**
   * What an earlier summary of the alert read (`Alert.seen.through`, `indexedThrough`): the documents of its span
   * then that arrived before `readBefore`. The summary reads only the others (`unreadFilter`), to merge with the
   * stored one; the count and first events still come from the whole span. @default the summary reads the whole span
   */
  readonly read?: SummaryRead;
}

/** An alert's span when it was last summarized, and the mark everything that arrived before which it read. */
export interface SummaryRead {
  readonly fromMs: number;
  readonly toMs: number;
  readonly readBefore: ArrivalMark;
}

/**
 * The documents of an alert's span its last summary did not read (`span.read`), given the filter of the whole span
 * and how a span's end reads (a single-event alert's `[fromMs, toMs]`, a correlation's `[fromMs, toMs)`): those
 * that arrived at or after the summary's `readBefore` (`arrivedSince`), those without the stamps that tell, and those
 * outside the span it had then. Without `span.read`, the whole span.
 */
function unreadFilter(
  span: AlertSpan,
  spanFilter: Record<string, unknown>,
  endExclusive: boolean,
): Record<string, unknown> {
  const { read } = span;
  if (read === undefined) return spanFilter;
  const readSpan = timeRange(read.fromMs, endExclusive ? read.toMs - 1 : read.toMs);
  return {
    bool: {
      filter: [
        spanFilter,
        {
          bool: {
            should: [
              ...arrivedSince(read.readBefore),
              withoutArrivalStamp(read.readBefore),
              { bool: { must_not: [readSpan] } },
            ],
            minimum_should_match: 1,
          },
        },
      ],
    },
  };
}

/**
 * Name of the `filters` aggregation with one bucket per alert over its whole span when the summaries read only the
 * unread documents (`COUNTED_ALERTS` then holds those): each bucket's `doc_count` is the alert's count, with its
 * first events (`FIRST_EVENTS`) and the distinct counts over the whole span of the fields asked for
 * (`matchedDistinctName`).
 */
export const WHOLE_SPANS = "spans";

/**
 * Whether a batched summary search reads the alerts' whole spans apart (`WHOLE_SPANS`): when some span was summarized
 * before or distinct counts over the whole spans are asked for; otherwise `COUNTED_ALERTS` holds the whole spans.
 */
export function wholeSpansApart(spans: readonly AlertSpan[], totals: readonly number[]): boolean {
  return totals.length > 0 || spans.some((span) => span.read !== undefined);
}

/** A `filters` aggregation with one bucket per alert, and its sub-aggregations. */
interface AlertBuckets {
  readonly filters: { readonly filters: Record<string, unknown> };
  readonly aggs: Record<string, unknown>;
}

/**
 * The aggregations of a batched summary search: `COUNTED_ALERTS`, one bucket per alert with `unreadFilter`'s
 * documents and `matchedBucketAggregations`; and when some span was read before or `totals` names fields, `WHOLE_SPANS`
 * with `extra` (the first events) and a `cardinality` per field of `totals` (indices into `fields`).
 */
function alertSummaryAggregations(
  spans: readonly AlertSpan[],
  spanFilter: (span: AlertSpan) => Record<string, unknown>,
  endExclusive: boolean,
  fields: readonly ExactField[],
  totals: readonly number[],
  extra: Record<string, unknown>,
): { [COUNTED_ALERTS]: AlertBuckets; [WHOLE_SPANS]?: AlertBuckets } {
  const whole: Record<string, unknown> = {};
  const unread: Record<string, unknown> = {};
  spans.forEach((span, position) => {
    const filter = spanFilter(span);
    whole[countedAlertName(position)] = filter;
    unread[countedAlertName(position)] = unreadFilter(span, filter, endExclusive);
  });
  if (!wholeSpansApart(spans, totals)) {
    return {
      [COUNTED_ALERTS]: {
        filters: { filters: whole },
        aggs: { ...extra, ...matchedBucketAggregations(fields) },
      },
    };
  }
  const distinct: Record<string, unknown> = {};
  for (const index of totals) {
    const field = fields[index];
    if (field === undefined) throw new Error(`totals: no exact field ${index} of ${fields.length}`);
    distinct[matchedDistinctName(index)] = distinctCount(field.path);
  }
  return {
    [COUNTED_ALERTS]: { filters: { filters: unread }, aggs: matchedBucketAggregations(fields) },
    [WHOLE_SPANS]: { filters: { filters: whole }, aggs: { ...extra, ...distinct } },
  };
}

/**
 * Name of the `filters` aggregation holding one bucket per alert (`singleEventCountsQuery`, `windowEventsQuery`), and
 * of a bucket.
 */
export const COUNTED_ALERTS = "alerts";
export function countedAlertName(position: number): string {
  return `a${position}`;
}

/**
 * How many terms buckets one `singleEventCountsQuery` may ask for (`alerts × fields × (ALERT_VALUES_KEPT + 1)`):
 * under the node's `search.max_buckets` (65,535) with room to spare.
 */
export const COUNTED_BUCKETS_PER_REQUEST = 20_000;

/** Alerts of a rule counted in one request: as many as `COUNTED_BUCKETS_PER_REQUEST` allows, 1 to 100. */
export function countedAlertsPerRequest(fields: readonly ExactField[]): number {
  const perAlert = fields.length * (ALERT_VALUES_KEPT + 1) + 1;
  return Math.max(1, Math.min(100, Math.floor(COUNTED_BUCKETS_PER_REQUEST / perAlert)));
}

/**
 * The exact counts and summaries of several alerts of one single-event rule in one request: a `filters`
 * aggregation with one bucket per alert whose filter is exactly that alert's `singleEventCountQuery` (its
 * `doc_count` is the alert's exact count), each bucket with `matchedBucketAggregations`. The query keeps the rule's
 * documents of the alerts' groups (`ofGroups`) in the spans' overall range, so the node reads them once for all
 * the alerts instead of once each. When a span was summarized before (`AlertSpan.read`) or `totals` names fields, the
 * summaries read only the unread documents and the counts come from `WHOLE_SPANS` (`alertSummaryAggregations`).
 */
export function singleEventCountsQuery(
  rule: SingleEventRule,
  spans: readonly AlertSpan[],
  fields: readonly ExactField[] = [],
  totals: readonly number[] = [],
) {
  if (spans.length === 0) throw new Error(`counts of ${rule.name}: no alert to count`);
  const fromMs = Math.min(...spans.map((span) => span.fromMs));
  const toMs = Math.max(...spans.map((span) => span.toMs));
  return {
    size: 0,
    track_total_hits: false,
    query: {
      bool: {
        filter: [
          taggedWith([rule.name]),
          timeRange(fromMs, toMs),
          // The node tests each alert's bucket filter on every document the query keeps (alerts × documents), where
          // a `terms` filter is one lookup per value and segment: without it the query keeps all the rule's
          // documents of the spans' overall range, most of them other groups' in an alert storm.
          ...ofGroups(
            rule.suppression.groupBy,
            spans.map((span) => span.groupBy),
          ),
        ],
      },
    },
    aggs: alertSummaryAggregations(
      spans,
      (span) => singleEventCountQuery(rule, span.groupBy, span.fromMs, span.toMs).query,
      false,
      fields,
      totals,
      {},
    ),
  };
}

/**
 * The documents of `groups`, as far as `terms` filters can say it: per field of `groupBy` that every group has a value
 * of, one of those values. A field some group has no value of (its filter asks that the field be absent) is left to
 * the caller's per-group filters, and so are combinations of the values that are no group's.
 */
function ofGroups(
  groupBy: readonly string[],
  groups: readonly Readonly<Record<string, string>>[],
): Record<string, unknown>[] {
  return groupBy.flatMap((field) => {
    const values = groups.map((group) => group[field]);
    if (values.some((value) => value === undefined)) return [];
    return [{ terms: { [field]: [...new Set(values)].sort() } }];
  });
}

/**
 * `matchedAggregations` as sub-aggregations of a bucket (a `composite` must be top-level): per exact field its first
 * `ALERT_VALUES_KEPT + 1` values by a `terms` in ascending key order, which is exact on any number of shards (each
 * shard returns its smallest keys, and the overall smallest are among them), by the values themselves (`map`): the
 * default reads them by the shard's global ordinals, which the node rebuilds after every refresh of an index being
 * written, at a cost in the shard's distinct values (a few hundred milliseconds per field like `source.address` at 1M
 * events per 15 minutes, growing with the index), where an alert's events are few. No `cardinality`: it is about half the
 * cost of a summary on the node and only a field listing more than `ALERT_VALUES_KEPT` values needs it, so the
 * detector asks for it then, over the alert's whole span (`WHOLE_SPANS`, `totals`).
 */
export function matchedBucketAggregations(fields: readonly ExactField[]): Record<string, unknown> {
  return matchedOf(
    fields,
    (path) => ({
      terms: { field: path, size: ALERT_VALUES_KEPT + 1, order: { _key: "asc" }, execution_hint: "map" },
    }),
    false,
  );
}

/** Name of the aggregation listing the values of the `index`-th exact field, and of its distinct count. */
export function matchedValuesName(index: number): string {
  return `values_${index}`;
}
export function matchedDistinctName(index: number): string {
  return `distinct_${index}`;
}

/**
 * What every matched event of an alert says (`alerts/matched.ts`): the first and last `@timestamp`, and per exact
 * field its first `ALERT_VALUES_KEPT + 1` values in term order (a `composite`: it holds a page, not every term)
 * with a `cardinality` for the total when there are more. Top-level aggregations over one alert's span and group,
 * so a request holds at most `fields × (ALERT_VALUES_KEPT + 1)` composite entries and `fields × 8 ×
 * DISTINCT_TOTAL_PRECISION` bytes of distinct-count state (under 1 MB for a rule listing 30 fields), whatever the
 * number of matched events.
 */
export function matchedAggregations(fields: readonly ExactField[]): Record<string, unknown> {
  return matchedOf(fields, (path) => ({
    composite: { size: ALERT_VALUES_KEPT + 1, sources: [{ v: { terms: { field: path } } }] },
  }));
}

/** The matched aggregations, each exact field's first values listed by `valuesOf` (top-level or under a bucket). */
function matchedOf(
  fields: readonly ExactField[],
  valuesOf: (path: string) => Record<string, unknown>,
  withDistinct = true,
): Record<string, unknown> {
  const aggs: Record<string, unknown> = {
    matched_first: { min: { field: "@timestamp" } },
    matched_last: { max: { field: "@timestamp" } },
  };
  fields.forEach(({ path }, index) => {
    aggs[matchedValuesName(index)] = valuesOf(path);
    if (withDistinct) aggs[matchedDistinctName(index)] = distinctCount(path);
  });
  return aggs;
}

/** A field's distinct count (`DISTINCT_TOTAL_PRECISION`). */
function distinctCount(path: string): Record<string, unknown> {
  return { cardinality: { field: path, precision_threshold: DISTINCT_TOTAL_PRECISION } };
}

/**
 * How much aggregation state one correlation request may make the node hold, and how the detector keeps to it.
 *
 * A request holds `groups × window buckets × bytes per bucket`: a composite page of groups, for each the window
 * buckets of the two histograms over the windows the request covers (`windows + 2`: each histogram has one bucket
 * per window start it sees, and one partial bucket at each end), and per bucket the state of the rule's value
 * aggregation (`bucketBytes`). The detector cuts a run's windows into chunks of at most `windowsPerRequest`
 * (`windowChunks`) and sizes each composite page so the product stays within `bytesPerRequest` and
 * `bucketsPerRequest` (`compositePageSize`), so the worst case per request is
 *
 *     min(principals, pageSize) × (min(windows, windowsPerRequest) + 2) × bucketBytes(rule) ≤ bytesPerRequest
 *
 * whatever the number of groups (principals, services) and windows (a day of catch-up is 2,880 one-minute
 * windows), which only change how many requests a run makes: `ceil(groups / pageSize) × ceil(windows /
 * windowsPerRequest)`.
 */
export interface AggregationBudget {
  /** Aggregation state one request may need on the node. */
  readonly bytesPerRequest: number;
  /** Window buckets one request may return (OpenSearch refuses more than `search.max_buckets`, 65,535). */
  readonly bucketsPerRequest: number;
  /** Windows (per group) one request covers; a longer range (catch-up) is split. */
  readonly windowsPerRequest: number;
  /** Groups per composite page at most. */
  readonly maxPageSize: number;
}

/**
 * 32 MiB per request: a twelfth of the request circuit breaker (60 % of the heap) on the smallest heap the stack is
 * tested with (768 MiB), so a detector run, a Dashboards query and indexing fit beside it.
 */
export const DEFAULT_AGGREGATION_BUDGET: AggregationBudget = {
  bytesPerRequest: 32 * 1024 * 1024,
  bucketsPerRequest: 20_000,
  windowsPerRequest: 64,
  maxPageSize: 1000,
};

/** A window bucket's own cost on the node (key, doc count, the histogram's and the composite's bookkeeping). */
export const WINDOW_BUCKET_BYTES = 256;
/** A `percentiles` t-digest (compression 100) per bucket: its centroid and merge-buffer arrays. */
export const TDIGEST_BUCKET_BYTES = 16 * 1024;
/** The cardinality aggregation's precision thresholds: OpenSearch caps it at 40,000. */
export const DISTINCT_PRECISION = { floor: 100, max: 40_000 } as const;

/**
 * The `precision_threshold` of a `value_count` rule's `cardinality`, from its condition: twice the largest bound
 * plus one, at least 100. Below the threshold OpenSearch counts distinct hashes (exact but for 64-bit hash
 * collisions); above it HyperLogLog++ at that precision errs by a few per cent, so an estimate of a count more than
 * twice the bound never falls to the bound: every decision is the exact count's. The value an alert shows is exact
 * up to the threshold (100 for the default pack's scan, `gt: 10`), an estimate within a few per cent above it.
 * Memory is about 8 bytes per unit of threshold per bucket (OpenSearch's documentation): 800 bytes here, against
 * 320 KB at 40,000.
 */
export function distinctPrecision(rule: CorrelationRule): number {
  const { gt, gte, lt, lte, eq, neq } = rule.condition;
  const bounds = [gt, gte, lt, lte, eq, neq].filter((bound): bound is number => bound !== undefined);
  const largest = Math.max(0, ...bounds.filter(Number.isFinite));
  return Math.min(DISTINCT_PRECISION.max, Math.max(DISTINCT_PRECISION.floor, 2 * (Math.floor(largest) + 1)));
}

/** What one window bucket of the rule's aggregation costs on the node, its value aggregation included. */
export function bucketBytes(rule: CorrelationRule): number {
  switch (rule.type) {
    case "event_count":
      return WINDOW_BUCKET_BYTES;
    case "value_count":
      return WINDOW_BUCKET_BYTES + 8 * distinctPrecision(rule);
    case "failure_ratio":
      return 2 * WINDOW_BUCKET_BYTES;
    case "percentile":
      return WINDOW_BUCKET_BYTES + TDIGEST_BUCKET_BYTES;
    case "temporal":
      return WINDOW_BUCKET_BYTES * (1 + rule.rules.length);
    case "new_value":
    case "geo":
    case "mtls_mode":
      throw new Error(`rule ${rule.name}: ${rule.type} is judged against a baseline, not over windows`);
  }
}

/** Window buckets per group of a request covering `windows` window starts: one per start, a partial one at each end. */
function bucketsPerGroup(windows: number): number {
  return windows + 2;
}

/** Window starts in `[firstStartMs, lastStartMs]`. */
export function windowCount(rule: CorrelationRule, windows: WindowRange): number {
  return Math.round((windows.lastStartMs - windows.firstStartMs) / hopMs(rule.timespanMs)) + 1;
}

/** The run's windows cut into consecutive chunks of at most `budget.windowsPerRequest` window starts. */
export function windowChunks(
  rule: CorrelationRule,
  windows: WindowRange,
  budget: AggregationBudget = DEFAULT_AGGREGATION_BUDGET,
): WindowRange[] {
  const hop = hopMs(rule.timespanMs);
  const perChunk = Math.max(1, Math.floor(budget.windowsPerRequest));
  const chunks: WindowRange[] = [];
  for (let first = windows.firstStartMs; first <= windows.lastStartMs; first += perChunk * hop) {
    const last = Math.min(windows.lastStartMs, first + (perChunk - 1) * hop);
    chunks.push({
      firstStartMs: first,
      lastStartMs: last,
      eventsFromMs: first,
      eventsToMs: Math.min(windows.eventsToMs, last + rule.timespanMs - 1),
    });
  }
  return chunks;
}

/**
 * Groups per composite page for a request over `chunk`: as many as the budget's bytes and buckets allow, at least
 * one. A single group's windows always fit: `windowsPerRequest` bounds them.
 */
export function compositePageSize(
  rule: CorrelationRule,
  chunk: WindowRange,
  budget: AggregationBudget = DEFAULT_AGGREGATION_BUDGET,
  bytesPerBucket: number = bucketBytes(rule),
): number {
  const buckets = bucketsPerGroup(windowCount(rule, chunk));
  const byBytes = Math.floor(budget.bytesPerRequest / (buckets * bytesPerBucket));
  const byBuckets = Math.floor(budget.bucketsPerRequest / buckets);
  return Math.max(1, Math.min(budget.maxPageSize, byBytes, byBuckets));
}

/** The most aggregation state a request over `chunk` with pages of `pageSize` groups can make the node hold. */
export function worstCaseRequestBytes(rule: CorrelationRule, chunk: WindowRange, pageSize: number): number {
  return pageSize * bucketsPerGroup(windowCount(rule, chunk)) * bucketBytes(rule);
}

/** A percentile rule's threshold, when its condition is a lower bound alone (`gt` or `gte`): see `evaluateCorrelation`. */
export interface PercentilePrefilter {
  readonly field: string;
  readonly bound: "gt" | "gte";
  readonly threshold: number;
}

/** The window bucket of the percentile candidates query: a `filter` and a `value_count` beside the bucket. */
export const PERCENTILE_CANDIDATE_BUCKET_BYTES = 3 * WINDOW_BUCKET_BYTES;

export function percentilePrefilter(rule: CorrelationRule): PercentilePrefilter | undefined {
  if (rule.type !== "percentile") return undefined;
  const lower = lowerBoundAlone(rule.condition);
  return lower === undefined ? undefined : { field: requireField(rule), ...lower };
}

/** A condition's lower bound (`gt` or `gte`) when it is the condition's only bound. */
function lowerBoundAlone(
  condition: CorrelationCondition,
): Pick<PercentilePrefilter, "bound" | "threshold"> | undefined {
  const { gt, gte, lt, lte, eq, neq } = condition;
  if (lt !== undefined || lte !== undefined || eq !== undefined || neq !== undefined) return undefined;
  if (gt !== undefined && gte === undefined) return { bound: "gt", threshold: gt };
  if (gte !== undefined && gt === undefined) return { bound: "gte", threshold: gte };
  return undefined;
}

/**
 * Phase 1 of a percentile rule: per group and window, how many documents carry the field (`values`) and how many
 * of its values lie beyond the threshold (`beyond`). No digest: a few counters per bucket.
 */
export function percentileCandidatesQuery(
  rule: CorrelationRule,
  prefilter: PercentilePrefilter,
  windows: WindowRange,
  pageSize: number,
  after?: Record<string, unknown>,
) {
  const aggs = {
    values: { value_count: { field: prefilter.field } },
    beyond: { filter: { range: { [prefilter.field]: { [prefilter.bound]: prefilter.threshold } } } },
  };
  return windowedQuery(rule, windows, pageSize, slotHistogram(rule, aggs), after);
}

/**
 * Whether a `value_count` rule is decided per group first: it has group-by fields and its condition is a lower bound
 * alone (`gt` or `gte`), so a group whose distinct count over all the windows of a chunk does not meet it meets it in
 * none of them (each window holds a part of those values), and one count per group decides most groups before any
 * window is counted.
 */
export function distinctPrefiltered(rule: CorrelationRule): boolean {
  return (
    rule.type === "value_count" && rule.groupBy.length > 0 && lowerBoundAlone(rule.condition) !== undefined
  );
}

/**
 * Phase 1 of a `value_count` rule (`distinctPrefiltered`): per group, the distinct count of the field over every
 * window of the chunk at once (`distinct`), and the number of events, with the precision the windows' counts use.
 * No histograms: one `cardinality` per group.
 */
export function distinctCandidatesQuery(
  rule: CorrelationRule,
  windows: WindowRange,
  pageSize: number,
  after?: Record<string, unknown>,
) {
  return windowedQuery(rule, windows, pageSize, windowValueAggregations(rule), after);
}

/** Sub-aggregations of each window bucket, per correlation type. */
function windowValueAggregations(rule: CorrelationRule): Record<string, unknown> {
  switch (rule.type) {
    case "event_count":
      return {};
    case "value_count":
      return {
        distinct: {
          cardinality: { field: requireField(rule), precision_threshold: distinctPrecision(rule) },
        },
      };
    case "failure_ratio":
      if (rule.failures === undefined) throw new Error(`rule ${rule.name}: failure_ratio needs 'failures'`);
      return { failures: { filter: { term: { "rule.name": rule.failures } } } };
    case "percentile":
      return {
        pct: { percentiles: { field: requireField(rule), percents: [rule.percentile ?? 50], keyed: false } },
      };
    case "temporal":
      return {
        rules: {
          filters: {
            filters: Object.fromEntries(rule.rules.map((name) => [name, { term: { "rule.name": name } }])),
          },
        },
      };
    case "new_value":
    case "geo":
    case "mtls_mode":
      throw new Error(`rule ${rule.name}: ${rule.type} is judged against a baseline, not over windows`);
  }
}

function requireField(rule: CorrelationRule): string {
  if (rule.field === undefined) throw new Error(`rule ${rule.name}: ${rule.type} needs 'field'`);
  return rule.field;
}

/**
 * The fewest events a window needs before the rule can fire there, so no smaller window is returned (the window
 * histograms' `min_doc_count`; for rules read by hop slots, `windowsOfSlots` once it has added them up): the
 * rule's `minCount`, and for counts, distinct counts and rules seen (none of which exceeds the event count) the
 * count a lower bound of the condition asks for. At 1,000 principals most principal × minute windows hold a few
 * calls, and a scan needs more than 10: this keeps them out of the response (its size and its parsing), not out
 * of the node's aggregation state, which `AggregationBudget` bounds.
 */
export function minWindowCount(rule: CorrelationRule): number {
  const { gt, gte } = rule.condition;
  const countLike = rule.type === "event_count" || rule.type === "value_count" || rule.type === "temporal";
  const byCondition = !countLike
    ? 1
    : Math.max(gt === undefined ? 1 : Math.floor(gt) + 1, gte === undefined ? 1 : Math.ceil(gte));
  return Math.max(1, rule.minCount, byCondition);
}

/**
 * The rule's windows as the node builds them: one histogram of hop slots when a window's value adds up from its two
 * slots' (`windowsAddUp`), else the two hopping-window histograms, offsets 0 and timespan/2; each bucket with the
 * rule's value aggregation.
 */
export function windowAggregations(rule: CorrelationRule): Record<string, unknown> {
  const aggs = windowValueAggregations(rule);
  return windowsAddUp(rule) ? slotHistogram(rule, aggs) : histogramsWith(rule, aggs);
}

/**
 * Whether every window's value is a sum over its two hop slots (event counts, failures, counts of rules seen), so
 * the node reads one histogram of slots and the detector adds the windows up (`windowsOfSlots` in
 * `correlations.ts`): each document then lands in one bucket instead of two, which halves the aggregation's work
 * per document (measured on the benchmark's 1M events per 15 minutes: a 5-minute ratio over 7.5 minutes of
 * traffic, 96 ms with two window histograms, 50 ms with one of slots). A distinct count or a percentile digest is
 * not a sum: those keep the window histograms (a percentile's first phase, counts only, reads slots).
 */
export function windowsAddUp(rule: CorrelationRule): boolean {
  return rule.type === "event_count" || rule.type === "failure_ratio" || rule.type === "temporal";
}

/**
 * One histogram of hop slots (`timespan / 2`, aligned to the epoch as the windows are), each bucket with `aggs`.
 * Every non-empty slot comes back: a window's minimum count applies to the sum of its two slots.
 */
function slotHistogram(rule: CorrelationRule, aggs: Record<string, unknown>): Record<string, unknown> {
  return {
    slots: {
      date_histogram: {
        field: "@timestamp",
        fixed_interval: `${hopMs(rule.timespanMs)}ms`,
        min_doc_count: 1,
      },
      ...(Object.keys(aggs).length === 0 ? {} : { aggs }),
    },
  };
}

function histogramsWith(rule: CorrelationRule, aggs: Record<string, unknown>): Record<string, unknown> {
  const timespan = rule.timespanMs;
  const histogram = (offset: number) => ({
    date_histogram: {
      field: "@timestamp",
      fixed_interval: `${timespan}ms`,
      ...(offset === 0 ? {} : { offset: `+${offset}ms` }),
      min_doc_count: minWindowCount(rule),
    },
    ...(Object.keys(aggs).length === 0 ? {} : { aggs }),
  });
  return { w0: histogram(0), w1: histogram(hopMs(timespan)) };
}

/** Name of the composite source for group-by field `index`. */
export function groupSourceName(index: number): string {
  return `g${index}`;
}

/**
 * The correlation's aggregation over one chunk of a run's windows: `composite` on the group-by fields (paged with
 * `after`), each with the two window histograms. Without group-by fields the histograms sit at the top. `only`
 * restricts it to these groups (each field to the values the groups give it).
 */
export function correlationQuery(
  rule: CorrelationRule,
  windows: WindowRange,
  pageSize: number,
  after?: Record<string, unknown>,
  only?: readonly Readonly<Record<string, string>>[],
) {
  return windowedQuery(rule, windows, pageSize, windowAggregations(rule), after, only);
}

/** Tagged documents of the windows, `histograms` per group (composite) or at the top (no group-by). */
function windowedQuery(
  rule: CorrelationRule,
  windows: WindowRange,
  pageSize: number,
  histograms: Record<string, unknown>,
  after?: Record<string, unknown>,
  only?: readonly Readonly<Record<string, string>>[],
) {
  const filter: Record<string, unknown>[] = [
    taggedWith(rule.rules),
    timeRange(windows.eventsFromMs, windows.eventsToMs),
  ];
  if (only !== undefined) filter.push(...ofGroups(rule.groupBy, only));
  const aggs =
    rule.groupBy.length === 0
      ? histograms
      : {
          groups: {
            composite: {
              size: pageSize,
              sources: rule.groupBy.map((field, index) => ({
                [groupSourceName(index)]: { terms: { field } },
              })),
              ...(after === undefined ? {} : { after }),
            },
            aggs: histograms,
          },
        };
  return { size: 0, track_total_hits: false, query: { bool: { filter } }, aggs };
}

/** Lucene's limit on the clauses of one query (`indices.query.bool.max_clause_count`, 1,024), with room to spare. */
const QUERY_CLAUSES_PER_REQUEST = 900;

/**
 * Alerts of a correlation read in one `windowEventsQuery`: as many as `countedAlertsPerRequest` allows, and few
 * enough that their filters (a time range and a term per group field each, twice: buckets and query) stay under the
 * clause limit.
 */
export function eventsAlertsPerRequest(rule: CorrelationRule, fields: readonly ExactField[]): number {
  const clausesPerAlert = 2 * (1 + rule.groupBy.length);
  return Math.max(
    1,
    Math.min(countedAlertsPerRequest(fields), Math.floor(QUERY_CLAUSES_PER_REQUEST / clausesPerAlert)),
  );
}

/** Name of the `top_hits` under each alert's bucket of `windowEventsQuery`: the alert's first events. */
export const FIRST_EVENTS = "first_events";

/**
 * The first matched events of several alerts of one correlation (each its window or merged span and group), oldest
 * first, and what every matched event of each says: a `filters` aggregation with one bucket per alert (`a0`, `a1`,
 * …, `countedAlertName`), each holding a `top_hits` of `DETECTION_EVENT_CAP` events in `EVENT_ORDER` and
 * `matchedBucketAggregations` over `fields`. The query keeps the rule's documents of some alert's span and group, so
 * the node reads each once for all the alerts. A request holds at most `spans × DETECTION_EVENT_CAP` hits and
 * `spans × (groups + 1)` query clauses: keep `spans` to `eventsAlertsPerRequest(rule, fields)`. Without
 * `withEvents`, only the summaries: for alerts that already hold `DETECTION_EVENT_CAP` events (the node then loads no
 * document).
 */
export function windowEventsQuery(
  rule: CorrelationRule,
  spans: readonly AlertSpan[],
  fields: readonly ExactField[] = [],
  withEvents = true,
  totals: readonly number[] = [],
) {
  if (spans.length === 0) throw new Error(`events of ${rule.name}: no alert to read`);
  const spanFilter = (span: AlertSpan) => {
    const filter: Record<string, unknown>[] = [timeRange(span.fromMs, span.toMs - 1)];
    for (const field of Object.keys(span.groupBy).sort()) {
      filter.push({ term: { [field]: span.groupBy[field] } });
    }
    return { bool: { filter } };
  };
  const fromMs = Math.min(...spans.map((span) => span.fromMs));
  const toExclusiveMs = Math.max(...spans.map((span) => span.toMs));
  // Only the alerts' own documents reach the buckets: the node tests each bucket's filter on every document the
  // query keeps, and the rule's documents of the overall range can be all the traffic.
  const ofAlerts = { bool: { should: spans.map(spanFilter), minimum_should_match: 1 } };
  return {
    size: 0,
    track_total_hits: false,
    query: { bool: { filter: [taggedWith(rule.rules), timeRange(fromMs, toExclusiveMs - 1), ofAlerts] } },
    aggs: alertSummaryAggregations(
      spans,
      spanFilter,
      true,
      fields,
      totals,
      withEvents ? { [FIRST_EVENTS]: { top_hits: { size: DETECTION_EVENT_CAP, sort: EVENT_ORDER } } } : {},
    ),
  };
}
