import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { INDEXED_AT_FIELD } from "../../../../lambdas/core/contracts.js";
import {
  bucketBytes,
  compositePageSize,
  correlationQuery,
  DEFAULT_AGGREGATION_BUDGET,
  distinctPrecision,
  evaluationRange,
  eventsAlertsPerRequest,
  firesOnOpenWindows,
  ingestedFilter,
  minWindowCount,
  percentileCandidatesQuery,
  percentilePrefilter,
  singleEventCountQuery,
  singleEventQuery,
  WINDOW_BUCKET_BYTES,
  windowChunks,
  windowCount,
  windowEventsQuery,
  windowRange,
  worstCaseRequestBytes,
} from "../../../../lambdas/core/detection/queries.js";
import { windowStartsContaining } from "../../../../lambdas/core/rules/windows.js";
import { correlationRule, publicAccessRule, singleRule } from "../alerts/factories.js";

const MINUTE = 60_000;
const at = (iso: string) => Date.parse(iso);

describe("evaluationRange", () => {
  it("looks back from the watermark so late records and missed runs are covered", () => {
    // Prepare / Act
    const range = evaluationRange({
      nowMs: at("2025-03-04T10:17:00Z"),
      watermarkMs: at("2025-03-04T10:10:00Z"),
      lookbackMs: 15 * MINUTE,
      maxCatchUpMs: 24 * 60 * MINUTE,
    });
    // Assess
    expect(range).toEqual({
      fromMs: at("2025-03-04T09:55:00Z"),
      toMs: at("2025-03-04T10:17:00Z"),
      catchUpTruncated: false,
    });
  });

  it("starts a first run one lookback before now", () => {
    const range = evaluationRange({
      nowMs: 10 * MINUTE * 100,
      watermarkMs: undefined,
      lookbackMs: 15 * MINUTE,
      maxCatchUpMs: 60 * MINUTE,
    });
    expect(range.fromMs).toBe(1000 * MINUTE - 15 * MINUTE);
  });

  it("caps catch-up after a long outage and says so", () => {
    const range = evaluationRange({
      nowMs: at("2025-03-04T10:00:00Z"),
      watermarkMs: at("2025-03-01T10:00:00Z"),
      lookbackMs: 15 * MINUTE,
      maxCatchUpMs: 24 * 60 * MINUTE,
    });
    expect(range.fromMs).toBe(at("2025-03-03T10:00:00Z"));
    expect(range.catchUpTruncated).toBe(true);
  });

  it("ignores a watermark in the future (clock skew)", () => {
    const range = evaluationRange({
      nowMs: 100 * MINUTE,
      watermarkMs: 200 * MINUTE,
      lookbackMs: 15 * MINUTE,
      maxCatchUpMs: 60 * MINUTE,
    });
    expect(range.fromMs).toBe(85 * MINUTE);
  });
});

describe("windowRange", () => {
  const range = {
    fromMs: at("2025-03-04T10:01:00Z"),
    toMs: at("2025-03-04T10:17:10Z"),
    catchUpTruncated: false,
  };

  it("evaluates open windows of counting rules, so they page as soon as the threshold is crossed", () => {
    const windows = windowRange(correlationRule(), range);
    expect(firesOnOpenWindows(correlationRule())).toBe(true);
    expect(windows).toEqual({
      firstStartMs: at("2025-03-04T10:00:30Z"),
      lastStartMs: at("2025-03-04T10:17:00Z"),
      eventsFromMs: at("2025-03-04T10:00:30Z"),
      eventsToMs: at("2025-03-04T10:17:10Z"),
    });
  });

  it("evaluates ratio rules only on closed windows, whose value is final", () => {
    const rule = publicAccessRule();
    const windows = windowRange(rule, range);
    expect(firesOnOpenWindows(rule)).toBe(false);
    expect(windows?.firstStartMs).toBe(at("2025-03-04T09:57:30Z"));
    expect(windows?.lastStartMs).toBe(at("2025-03-04T10:10:00Z"));
    expect(windows?.eventsToMs).toBe(at("2025-03-04T10:14:59.999Z"));
  });

  it("treats upper-bounded counts as non-monotone", () => {
    expect(firesOnOpenWindows(correlationRule({ condition: { gte: 1, lt: 5 } }))).toBe(false);
  });

  it("covers every window that ends after the range start and has started by its end (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3600 }).map((s) => s * 2000),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 4 * 3600_000 }),
        (timespanMs, fromMs, spanMs) => {
          const rule = correlationRule({ timespanMs });
          const windows = windowRange(rule, { fromMs, toMs: fromMs + spanMs, catchUpTruncated: false });
          const hop = timespanMs / 2;
          if (windows === undefined) return;
          expect(Math.abs(windows.firstStartMs % hop)).toBe(0);
          expect(windows.firstStartMs + timespanMs).toBeGreaterThan(fromMs);
          expect(windows.firstStartMs - hop + timespanMs).toBeLessThanOrEqual(fromMs);
          expect(windows.lastStartMs).toBeLessThanOrEqual(fromMs + spanMs);
          expect(windows.lastStartMs + hop).toBeGreaterThan(fromMs + spanMs);
        },
      ),
    );
  });
});

/** How OpenSearch keys a fixed-interval date_histogram bucket: `floor((t - offset) / interval) * interval + offset`. */
const histogramKey = (t: number, interval: number, offset: number) =>
  Math.floor((t - offset) / interval) * interval + offset;

describe("correlationQuery", () => {
  it("aggregates by group with one histogram of hop slots over tagged documents when windows add up", () => {
    // Prepare
    const rule = correlationRule();
    const windows = {
      firstStartMs: 1000 * MINUTE,
      lastStartMs: 1010 * MINUTE,
      eventsFromMs: 1000 * MINUTE,
      eventsToMs: 1010 * MINUTE + 5,
    };
    // Act
    const body = correlationQuery(rule, windows, 500, { g0: "spiffe://a" });
    // Assess
    expect(body).toEqual({
      size: 0,
      track_total_hits: false,
      query: {
        bool: {
          filter: [
            { term: { "rule.name": "mesh_auth_failure" } },
            {
              range: { "@timestamp": { gte: 1000 * MINUTE, lte: 1010 * MINUTE + 5, format: "epoch_millis" } },
            },
          ],
        },
      },
      aggs: {
        groups: {
          composite: {
            size: 500,
            sources: [{ g0: { terms: { field: "mesh.source.principal" } } }],
            after: { g0: "spiffe://a" },
          },
          aggs: {
            slots: { date_histogram: { field: "@timestamp", fixed_interval: "30000ms", min_doc_count: 1 } },
          },
        },
      },
    });
  });

  it("aggregates a distinct count with two hopping-window histograms, since it does not add up", () => {
    const rule = correlationRule({
      type: "value_count",
      field: "mesh.destination.service",
      condition: { gt: 10 },
    });
    const body = correlationQuery(
      rule,
      { firstStartMs: 0, lastStartMs: 0, eventsFromMs: 0, eventsToMs: 0 },
      10,
    );
    const aggs = (body.aggs as { groups: { aggs: Record<string, { date_histogram: unknown }> } }).groups.aggs;
    expect(Object.keys(aggs)).toEqual(["w0", "w1"]);
    expect(aggs.w1?.date_histogram).toEqual({
      field: "@timestamp",
      fixed_interval: "60000ms",
      offset: "+30000ms",
      min_doc_count: 11,
    });
  });

  it("builds the two histograms so their buckets are exactly the team's two windows of each event (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3600 }).map((s) => s * 2000),
        fc.integer({ min: 0, max: 2 ** 41 }),
        (timespanMs, t) => {
          const body = correlationQuery(
            correlationRule({ timespanMs, type: "value_count", field: "mesh.destination.service" }),
            { firstStartMs: 0, lastStartMs: 0, eventsFromMs: 0, eventsToMs: 0 },
            1,
          );
          type Histogram = { date_histogram: { fixed_interval: string; offset?: string } };
          const aggs = (body.aggs as { groups: { aggs: Record<string, Histogram> } }).groups.aggs;
          const interval = Number.parseInt(aggs.w0?.date_histogram.fixed_interval ?? "", 10);
          const offset = Number.parseInt(aggs.w1?.date_histogram.offset ?? "", 10);
          const keys = [histogramKey(t, interval, 0), histogramKey(t, interval, offset)].sort(
            (a, b) => a - b,
          );
          expect(keys).toEqual(windowStartsContaining(t, timespanMs));
        },
      ),
    );
  });

  it("adds the value aggregation each correlation type needs", () => {
    const windows = { firstStartMs: 0, lastStartMs: 0, eventsFromMs: 0, eventsToMs: 0 };
    const sub = (rule: ReturnType<typeof correlationRule>) => {
      const aggs = (
        correlationQuery(rule, windows, 10).aggs as { groups: { aggs: Record<string, { aggs?: unknown }> } }
      ).groups.aggs;
      return (aggs.slots ?? aggs.w0)?.aggs;
    };
    expect(sub(correlationRule({ type: "value_count", field: "mesh.destination.service" }))).toEqual({
      distinct: { cardinality: { field: "mesh.destination.service", precision_threshold: 100 } },
    });
    expect(sub(publicAccessRule())).toEqual({
      failures: { filter: { term: { "rule.name": "k8s_api_public_request_failed" } } },
    });
    expect(sub(correlationRule({ type: "percentile", field: "event.duration", percentile: 99 }))).toEqual({
      pct: { percentiles: { field: "event.duration", percents: [99], keyed: false } },
    });
    expect(sub(correlationRule({ type: "temporal", rules: ["a", "b"] }))).toEqual({
      rules: {
        filters: { filters: { a: { term: { "rule.name": "a" } }, b: { term: { "rule.name": "b" } } } },
      },
    });
  });

  it("puts the histograms at the top when the rule has no group-by", () => {
    const body = correlationQuery(
      correlationRule({ groupBy: [] }),
      { firstStartMs: 0, lastStartMs: 0, eventsFromMs: 0, eventsToMs: 0 },
      10,
    );
    expect(Object.keys(body.aggs)).toEqual(["slots"]);
  });

  it("rejects a value_count rule without a field, naming the rule", () => {
    const windows = { firstStartMs: 0, lastStartMs: 0, eventsFromMs: 0, eventsToMs: 0 };
    expect(() => correlationQuery(correlationRule({ type: "value_count" }), windows, 10)).toThrowError(
      "rule mesh_auth_failure_burst: value_count needs 'field'",
    );
  });
});

describe("event queries", () => {
  it("reads single-event matches oldest first within the range, ties in event.id order as replay", () => {
    const body = singleEventQuery(singleRule(), { fromMs: 1, toMs: 2, catchUpTruncated: false }, 1000);
    expect(body).toMatchObject({
      size: 1000,
      sort: [{ "@timestamp": { order: "asc" } }, { "event.id": { order: "asc", missing: "_last" } }],
      query: {
        bool: {
          filter: [
            { term: { "rule.name": "k8s_pod_exec" } },
            { range: { "@timestamp": { gte: 1, lte: 2 } } },
          ],
        },
      },
    });
  });

  it("counts a single-event alert's documents by its group, requiring absent group values to be absent", () => {
    const rule = singleRule({
      suppression: { ms: 600_000, groupBy: ["user.username", "kubernetes.audit.objectRef.name"] },
    });
    const body = singleEventCountQuery(rule, { "user.username": "alice" }, 1000, 5000);
    expect(body).toEqual({
      size: 0,
      track_total_hits: true,
      query: {
        bool: {
          filter: [
            { term: { "rule.name": "k8s_pod_exec" } },
            { range: { "@timestamp": { gte: 1000, lte: 5000, format: "epoch_millis" } } },
            { term: { "user.username": "alice" } },
          ],
          must_not: [{ exists: { field: "kubernetes.audit.objectRef.name" } }],
        },
      },
      aggs: {
        matched_first: { min: { field: "@timestamp" } },
        matched_last: { max: { field: "@timestamp" } },
      },
    });
  });

  const spanOf = (principal: string, fromMs: number, toMs: number) => ({
    groupBy: { "mesh.source.principal": principal },
    fromMs,
    toMs,
  });

  it("summarizes every matched event of each alert in memory bounded by the values it lists", () => {
    const body = windowEventsQuery(
      correlationRule(),
      [spanOf("spiffe://a", 1000, 61_000)],
      [
        { path: "mesh.destination.service", type: "keyword" },
        { path: "source.ip", type: "ip" },
      ],
    );
    expect(body.aggs.alerts.aggs).toEqual({
      first_events: {
        top_hits: {
          size: 20,
          sort: [{ "@timestamp": { order: "asc" } }, { "event.id": { order: "asc", missing: "_last" } }],
        },
      },
      matched_first: { min: { field: "@timestamp" } },
      matched_last: { max: { field: "@timestamp" } },
      values_0: {
        terms: { field: "mesh.destination.service", size: 51, order: { _key: "asc" }, execution_hint: "map" },
      },
      values_1: { terms: { field: "source.ip", size: 51, order: { _key: "asc" }, execution_hint: "map" } },
    });
    // The distinct counts only when asked for (a field listing more than it keeps), over each alert's whole span.
    expect(body.aggs.spans).toBeUndefined();
  });

  it("fetches each alert's first events from its own bucket: its group and window, end excluded", () => {
    const body = windowEventsQuery(correlationRule(), [
      spanOf("spiffe://a", 1000, 61_000),
      spanOf("spiffe://b", 31_000, 91_000),
    ]);
    expect(body.size).toBe(0);
    const a0 = {
      bool: {
        filter: [
          { range: { "@timestamp": { gte: 1000, lte: 60_999, format: "epoch_millis" } } },
          { term: { "mesh.source.principal": "spiffe://a" } },
        ],
      },
    };
    const a1 = {
      bool: {
        filter: [
          { range: { "@timestamp": { gte: 31_000, lte: 90_999, format: "epoch_millis" } } },
          { term: { "mesh.source.principal": "spiffe://b" } },
        ],
      },
    };
    expect(body.aggs.alerts.filters.filters).toEqual({ a0, a1 });
    // Only the alerts' own documents reach the buckets, not all the rule's documents of the range.
    expect(body.query.bool.filter).toEqual([
      { term: { "rule.name": "mesh_auth_failure" } },
      { range: { "@timestamp": { gte: 1000, lte: 90_999, format: "epoch_millis" } } },
      { bool: { should: [a0, a1], minimum_should_match: 1 } },
    ]);
  });

  it("reads as many alerts a request as keep the query under the clause limit", () => {
    const fields = [{ path: "mesh.destination.service", type: "keyword" as const }];
    expect(eventsAlertsPerRequest(correlationRule(), fields)).toBe(100);
    const wide = correlationRule({ groupBy: ["a", "b", "c", "d", "e", "f", "g", "h"] });
    expect(eventsAlertsPerRequest(wide, fields)).toBe(50);
    expect(2 * (1 + wide.groupBy.length) * eventsAlertsPerRequest(wide, fields)).toBeLessThan(1024);
  });

  it("asks for no events for alerts that already hold theirs, only their summaries", () => {
    const body = windowEventsQuery(correlationRule(), [spanOf("spiffe://a", 1000, 61_000)], [], false);
    expect(Object.keys(body.aggs.alerts.aggs)).toEqual(["matched_first", "matched_last"]);
  });

  it("refuses to build a request for no alert", () => {
    expect(() => windowEventsQuery(correlationRule(), [])).toThrow(/no alert to read/);
  });

  it("summarizes a grown alert from what its last summary did not read, and counts and lists events over its whole span", () => {
    const fields = [{ path: "mesh.destination.service", type: "keyword" as const }];
    const grown = {
      ...spanOf("spiffe://a", 1000, 121_000),
      read: { fromMs: 1000, toMs: 61_000, readBefore: { ingestedFromMs: 50_000, indexedFromMs: 70_000 } },
    };
    const body = windowEventsQuery(
      correlationRule(),
      [grown, spanOf("spiffe://b", 1000, 61_000)],
      fields,
      true,
      [0],
    );
    const whole = {
      bool: {
        filter: [
          { range: { "@timestamp": { gte: 1000, lte: 120_999, format: "epoch_millis" } } },
          { term: { "mesh.source.principal": "spiffe://a" } },
        ],
      },
    };
    expect(body.aggs.alerts.filters.filters.a0).toEqual({
      bool: {
        filter: [
          whole,
          {
            bool: {
              should: [
                { range: { [INDEXED_AT_FIELD]: { gte: 70_000, format: "epoch_millis" } } },
                {
                  bool: {
                    filter: [{ range: { "event.ingested": { gte: 50_000, format: "epoch_millis" } } }],
                    must_not: [{ exists: { field: INDEXED_AT_FIELD } }],
                  },
                },
                {
                  bool: {
                    must_not: [
                      { exists: { field: "event.ingested" } },
                      { exists: { field: INDEXED_AT_FIELD } },
                    ],
                  },
                },
                {
                  bool: {
                    must_not: [
                      { range: { "@timestamp": { gte: 1000, lte: 60_999, format: "epoch_millis" } } },
                    ],
                  },
                },
              ],
              minimum_should_match: 1,
            },
          },
        ],
      },
    });
    // An alert never summarized before is read whole.
    expect(body.aggs.alerts.filters.filters.a1).toEqual(body.aggs.spans?.filters.filters.a1);
    expect(body.aggs.spans?.filters.filters.a0).toEqual(whole);
    expect(Object.keys(body.aggs.alerts.aggs)).toEqual(["matched_first", "matched_last", "values_0"]);
    expect(body.aggs.spans?.aggs).toEqual({
      first_events: expect.objectContaining({ top_hits: expect.anything() }),
      distinct_0: { cardinality: { field: "mesh.destination.service", precision_threshold: 3000 } },
    });
  });
});

describe("aggregation budget", () => {
  const scan = correlationRule({
    type: "value_count",
    field: "mesh.destination.service",
    condition: { gt: 10 },
    timespanMs: MINUTE,
  });
  const day = { fromMs: 0, toMs: 24 * 60 * MINUTE, catchUpTruncated: false };

  it("sizes the distinct count's precision to the condition it decides, not to 40,000", () => {
    expect(distinctPrecision(scan)).toBe(100);
    expect(distinctPrecision(correlationRule({ type: "value_count", condition: { gt: 500 } }))).toBe(1002);
    expect(distinctPrecision(correlationRule({ type: "value_count", condition: { gte: 10_000_000 } }))).toBe(
      40_000,
    );
    expect(bucketBytes(scan)).toBe(WINDOW_BUCKET_BYTES + 800);
  });

  it("splits a day of catch-up into requests of at most 64 windows that cover every window once", () => {
    const windows = windowRange(scan, day);
    if (windows === undefined) throw new Error("no windows");
    const chunks = windowChunks(scan, windows);
    expect(chunks.length).toBe(Math.ceil(windowCount(scan, windows) / 64));
    expect(chunks.every((chunk) => windowCount(scan, chunk) <= 64)).toBe(true);
    expect(chunks[0]?.firstStartMs).toBe(windows.firstStartMs);
    expect(chunks.at(-1)?.lastStartMs).toBe(windows.lastStartMs);
    for (let i = 1; i < chunks.length; i++) {
      expect(chunks[i]?.firstStartMs).toBe((chunks[i - 1]?.lastStartMs ?? 0) + MINUTE / 2);
    }
  });

  it("keeps every request within the byte and bucket budget whatever the windows (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("event_count", "value_count", "failure_ratio", "percentile", "temporal"),
        fc.integer({ min: 1, max: 3600 }).map((s) => s * 2000),
        fc.integer({ min: 1, max: 48 * 60 }).map((m) => m * MINUTE),
        fc.integer({ min: 0, max: 1e6 }),
        (type, timespanMs, spanMs, bound) => {
          const rule = correlationRule({
            type: type as "value_count",
            field: "f",
            failures: "x",
            rules: ["a", "b"],
            timespanMs,
            condition: { gt: bound },
          });
          const windows = windowRange(rule, { fromMs: 0, toMs: spanMs, catchUpTruncated: false });
          if (windows === undefined) return;
          for (const chunk of windowChunks(rule, windows)) {
            const pageSize = compositePageSize(rule, chunk);
            const buckets = pageSize * (windowCount(rule, chunk) + 2);
            expect(worstCaseRequestBytes(rule, chunk, pageSize)).toBeLessThanOrEqual(
              DEFAULT_AGGREGATION_BUDGET.bytesPerRequest,
            );
            expect(buckets).toBeLessThanOrEqual(DEFAULT_AGGREGATION_BUDGET.bucketsPerRequest);
          }
        },
      ),
    );
  });
});

describe("percentile prefilter", () => {
  const p99 = correlationRule({
    type: "percentile",
    field: "event.duration",
    percentile: 99,
    condition: { gt: 5e9 },
  });
  const windows = { firstStartMs: 0, lastStartMs: 0, eventsFromMs: 0, eventsToMs: 0 };

  it("counts values and values beyond the threshold, no digest", () => {
    const prefilter = percentilePrefilter(p99);
    expect(prefilter).toEqual({ field: "event.duration", bound: "gt", threshold: 5e9 });
    const body = percentileCandidatesQuery(p99, prefilter as NonNullable<typeof prefilter>, windows, 10);
    const slots = (body.aggs as { groups: { aggs: { slots: { aggs: unknown } } } }).groups.aggs.slots.aggs;
    expect(slots).toEqual({
      values: { value_count: { field: "event.duration" } },
      beyond: { filter: { range: { "event.duration": { gt: 5e9 } } } },
    });
  });

  it("applies only to lower-bound conditions", () => {
    expect(percentilePrefilter(correlationRule({ ...p99, condition: { lt: 5 } }))).toBeUndefined();
    expect(percentilePrefilter(correlationRule({ type: "event_count" }))).toBeUndefined();
  });

  it("restricts the second phase to the candidate groups", () => {
    const body = correlationQuery(p99, windows, 10, undefined, [
      { "mesh.source.principal": "b" },
      { "mesh.source.principal": "a" },
    ]);
    expect(body.query.bool.filter[2]).toEqual({ terms: { "mesh.source.principal": ["a", "b"] } });
  });
});

describe("minWindowCount", () => {
  it("asks for no window smaller than the condition or the minimum volume allows to fire", () => {
    expect(minWindowCount(correlationRule({ type: "value_count", condition: { gt: 10 } }))).toBe(11);
    expect(minWindowCount(correlationRule({ type: "event_count", condition: { gte: 3 } }))).toBe(3);
    expect(minWindowCount(correlationRule({ type: "event_count", condition: { lt: 3 } }))).toBe(1);
    expect(minWindowCount(publicAccessRule())).toBe(10);
    expect(
      minWindowCount(correlationRule({ type: "percentile", minCount: 10, condition: { gt: 5e9 } })),
    ).toBe(10);
  });
});

describe("ingestedFilter", () => {
  const window = { untaggedFromMs: 1_000, floorMs: 0, toMs: 9_000 };
  const range = (field: string, gte: number) => ({ range: { [field]: { gte, format: "epoch_millis" } } });
  const without = (...fields: string[]) => ({
    bool: { must_not: fields.map((field) => ({ exists: { field } })) },
  });
  const untagged = (...fields: string[]) => ({
    bool: {
      filter: [
        without(...fields),
        { range: { "@timestamp": { gte: 1_000, lte: 9_000, format: "epoch_millis" } } },
      ],
    },
  });
  const clauses = (filter: Record<string, unknown>[]) =>
    (filter[1] as { bool: { should: unknown[] } }).bool.should;

  it("reads stamped documents by the node's stamp, the others by event.ingested, the rest by event time", () => {
    expect(
      clauses(ingestedFilter({ ...window, arrived: { indexedFromMs: 7_000, ingestedFromMs: 5_000 } })),
    ).toEqual([
      range(INDEXED_AT_FIELD, 7_000),
      {
        bool: {
          filter: [range("event.ingested", 5_000)],
          must_not: [{ exists: { field: INDEXED_AT_FIELD } }],
        },
      },
      untagged("event.ingested", INDEXED_AT_FIELD),
    ]);
  });

  it("reads every document by event.ingested before a run has found a stamp", () => {
    expect(clauses(ingestedFilter({ ...window, arrived: { ingestedFromMs: 5_000 } }))).toEqual([
      range("event.ingested", 5_000),
      untagged("event.ingested"),
    ]);
  });
});
