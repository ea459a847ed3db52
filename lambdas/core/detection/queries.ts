/**
 * OpenSearch query bodies for the detection run, and the time ranges they cover.
 *
 * Correlation windows are the team's hopping windows (`rules/windows.ts`): length `timespan`, one every
 * `timespan / 2`, aligned to the epoch. OpenSearch builds them with two `date_histogram`s of interval `timespan`,
 * offsets 0 and `timespan / 2`, under a `composite` aggregation on the group-by fields, over documents the
 * transform tagged (`rule.name`) with one of the correlation's rules.
 */
import type { CorrelationRule, SingleEventRule } from "../rules/types.js";
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

function taggedWith(names: readonly string[]): Record<string, unknown> {
  return names.length === 1 ? { term: { "rule.name": names[0] } } : { terms: { "rule.name": [...names] } };
}

/** The order of matched events: `compareEvents` (rules/windows.ts), which replay uses. */
const EVENT_ORDER = [{ "@timestamp": { order: "asc" } }, { "event.id": { order: "asc", missing: "_last" } }];

/** `EVENT_ORDER` reversed: the latest event first (missing ids, last in ascending order, first). */
export const LATEST_EVENT_FIRST = [
  { "@timestamp": { order: "desc" } },
  { "event.id": { order: "desc", missing: "_first" } },
];

/** Documents the transform tagged with a single-event rule, oldest first. */
export function singleEventQuery(rule: SingleEventRule, range: EvaluationRange, size: number) {
  return {
    size,
    track_total_hits: true,
    sort: EVENT_ORDER,
    query: { bool: { filter: [taggedWith([rule.name]), timeRange(range.fromMs, range.toMs)] } },
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
  };
}

/** Sub-aggregations of each window bucket, per correlation type. */
function windowValueAggregations(rule: CorrelationRule): Record<string, unknown> {
  switch (rule.type) {
    case "event_count":
      return {};
    case "value_count":
      return { distinct: { cardinality: { field: requireField(rule), precision_threshold: 40000 } } };
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
  }
}

function requireField(rule: CorrelationRule): string {
  if (rule.field === undefined) throw new Error(`rule ${rule.name}: ${rule.type} needs 'field'`);
  return rule.field;
}

/** The two hopping-window histograms, offsets 0 and timespan/2. */
export function windowAggregations(rule: CorrelationRule): Record<string, unknown> {
  const timespan = rule.timespanMs;
  const aggs = windowValueAggregations(rule);
  const histogram = (offset: number) => ({
    date_histogram: {
      field: "@timestamp",
      fixed_interval: `${timespan}ms`,
      ...(offset === 0 ? {} : { offset: `+${offset}ms` }),
      min_doc_count: 1,
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
 * The correlation's aggregation over one run's windows: `composite` on the group-by fields (paged with
 * `after`), each with the two window histograms. Without group-by fields the histograms sit at the top.
 */
export function correlationQuery(
  rule: CorrelationRule,
  windows: WindowRange,
  pageSize: number,
  after?: Record<string, unknown>,
) {
  const filter = [taggedWith(rule.rules), timeRange(windows.eventsFromMs, windows.eventsToMs)];
  const aggs =
    rule.groupBy.length === 0
      ? windowAggregations(rule)
      : {
          groups: {
            composite: {
              size: pageSize,
              sources: rule.groupBy.map((field, index) => ({
                [groupSourceName(index)]: { terms: { field } },
              })),
              ...(after === undefined ? {} : { after }),
            },
            aggs: windowAggregations(rule),
          },
        };
  return { size: 0, track_total_hits: false, query: { bool: { filter } }, aggs };
}

/** The first matched events of one window (or merged span) and group, oldest first, for the alert. */
export function windowEventsQuery(
  rule: CorrelationRule,
  groupBy: Readonly<Record<string, string>>,
  fromMs: number,
  toExclusiveMs: number,
) {
  const filter: Record<string, unknown>[] = [taggedWith(rule.rules), timeRange(fromMs, toExclusiveMs - 1)];
  for (const field of Object.keys(groupBy).sort()) filter.push({ term: { [field]: groupBy[field] } });
  return {
    size: DETECTION_EVENT_CAP,
    track_total_hits: false,
    sort: EVENT_ORDER,
    query: { bool: { filter } },
  };
}
