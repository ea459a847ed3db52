import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { exactFieldsOf } from "../../../../lambdas/core/alerts/matched.js";
import {
  bucketValue,
  evaluateCorrelation,
  firstSingleEventPages,
  singleEventCountsRequest,
  windowEventsRequest,
  windowsOfSlots,
} from "../../../../lambdas/core/detection/correlations.js";
import type { SearchClient } from "../../../../lambdas/core/detection/ports.js";
import { SearchResponseError } from "../../../../lambdas/core/detection/responses.js";
import { windowStartsContaining } from "../../../../lambdas/core/rules/windows.js";
import { correlationRule, publicAccessRule, singleRule } from "../alerts/factories.js";
import { searchOnly } from "./fake-opensearch.js";
import { fixture } from "./scenario.js";

const at = (iso: string) => Date.parse(iso);

/** A search client replaying `responses` in order and recording the request bodies. */
function replaying(...responses: unknown[]): SearchClient & { bodies: Record<string, unknown>[] } {
  const { client, bodies } = searchOnly(() => {
    const next = responses.shift();
    if (next === undefined) throw new Error("no more recorded responses");
    return next;
  });
  return Object.assign(client, { bodies });
}

const windows = {
  firstStartMs: at("2025-03-04T10:00:30Z"),
  lastStartMs: at("2025-03-04T10:17:00Z"),
  eventsFromMs: at("2025-03-04T10:00:30Z"),
  eventsToMs: at("2025-03-04T10:17:00Z"),
};

const shards = { total: 3, successful: 3, skipped: 0, failed: 0 };
const hitsResponse = (hits: unknown[]) => ({
  took: 5,
  timed_out: false,
  _shards: shards,
  hits: { total: { value: hits.length, relation: "eq" }, max_score: null, hits },
});
const aggregationResponse = (aggregations: unknown) => ({
  took: 5,
  timed_out: false,
  _shards: shards,
  hits: { total: { value: 0, relation: "eq" }, max_score: null, hits: [] },
  aggregations,
});

describe("windowsOfSlots", () => {
  it("adds up each window from its two slots exactly as the window histograms count it (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 120 }).map((seconds) => seconds * 1000),
        fc.array(fc.integer({ min: 0, max: 3_600_000 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        (timespanMs, times, fewest) => {
          const rule = correlationRule({ timespanMs, condition: { gte: fewest } });
          // What the node's slot histogram returns: the events per non-empty hop slot.
          const hop = timespanMs / 2;
          const perSlot = new Map<number, number>();
          for (const t of times)
            perSlot.set(Math.floor(t / hop) * hop, (perSlot.get(Math.floor(t / hop) * hop) ?? 0) + 1);
          const slots = [...perSlot].map(([key, doc_count]) => ({ key, doc_count }));
          // What the two window histograms count: every event in each of its two windows.
          const perWindow = new Map<number, number>();
          for (const t of times) {
            for (const start of windowStartsContaining(t, timespanMs))
              perWindow.set(start, (perWindow.get(start) ?? 0) + 1);
          }
          const expected = [...perWindow]
            .filter(([, count]) => count >= fewest)
            .map(([key, doc_count]) => ({ key, doc_count }))
            .sort((a, b) => a.key - b.key);
          expect(windowsOfSlots(rule, slots)).toEqual(expected);
        },
      ),
    );
  });

  it("adds up failures, values, values beyond the threshold and each rule's documents", () => {
    const rule = correlationRule({ timespanMs: 60_000, condition: { gte: 1 } });
    const slot = (key: number, n: number) => ({
      key,
      doc_count: n,
      failures: { doc_count: n - 1 },
      values: { value: n },
      beyond: { doc_count: 1 },
      rules: { buckets: { a: { doc_count: n }, b: { doc_count: 0 } } },
    });
    const window = windowsOfSlots(rule, [slot(0, 5), slot(30_000, 7)]).find(({ key }) => key === 0);
    expect(window).toEqual({
      key: 0,
      doc_count: 12,
      failures: { doc_count: 10 },
      values: { value: 12 },
      beyond: { doc_count: 2 },
      rules: { buckets: { a: { doc_count: 12 }, b: { doc_count: 0 } } },
    });
  });
});

describe("evaluateCorrelation", () => {
  it("turns window buckets whose condition holds into detections, per group", async () => {
    // Prepare
    const client = replaying(fixture("auth-failure-burst.composite.json"));
    // Act
    const detections = await evaluateCorrelation(client, "audit-*", correlationRule(), windows, 500);
    // Assess
    expect(
      detections.map(({ rule, events, ...rest }) => ({ rule: rule.name, events: events.length, ...rest })),
    ).toEqual([
      {
        rule: "mesh_auth_failure_burst",
        events: 0,
        windowStart: "2025-03-04T10:03:00.000Z",
        windowEnd: "2025-03-04T10:04:00.000Z",
        groupBy: { "mesh.source.principal": "spiffe://cluster.local/ns/web/sa/frontend" },
        count: 4,
      },
      {
        rule: "mesh_auth_failure_burst",
        events: 0,
        windowStart: "2025-03-04T10:03:30.000Z",
        windowEnd: "2025-03-04T10:04:30.000Z",
        groupBy: { "mesh.source.principal": "spiffe://cluster.local/ns/web/sa/frontend" },
        count: 3,
      },
    ]);
  });

  it("ignores buckets outside the evaluated windows (they hold only part of their window)", async () => {
    const client = replaying(fixture("auth-failure-burst.composite.json"));
    const narrow = { ...windows, firstStartMs: at("2025-03-04T10:03:30Z") };
    const detections = await evaluateCorrelation(client, "audit-*", correlationRule(), narrow, 500);
    expect(detections.map((detection) => detection.windowStart)).toEqual(["2025-03-04T10:03:30.000Z"]);
  });

  it("follows composite pages with after_key and stringifies numeric group values", async () => {
    // Prepare
    const rule = correlationRule({ groupBy: ["destination.port"], condition: { gte: 1 } });
    const page = (port: number, afterKey: boolean) =>
      aggregationResponse({
        groups: {
          ...(afterKey ? { after_key: { g0: port } } : {}),
          buckets: [
            {
              key: { g0: port },
              doc_count: 1,
              slots: { buckets: [{ key: at("2025-03-04T10:05:00Z"), key_as_string: "x", doc_count: 1 }] },
            },
          ],
        },
      });
    const client = replaying(page(8080, true), page(9090, false));
    // Act
    const detections = await evaluateCorrelation(client, "audit-*", rule, windows, 1);
    // Assess: the slot's event lies in two windows, each of its group.
    expect(detections.map(({ groupBy, windowStart }) => [groupBy, windowStart])).toEqual([
      [{ "destination.port": "8080" }, "2025-03-04T10:04:30.000Z"],
      [{ "destination.port": "8080" }, "2025-03-04T10:05:00.000Z"],
      [{ "destination.port": "9090" }, "2025-03-04T10:04:30.000Z"],
      [{ "destination.port": "9090" }, "2025-03-04T10:05:00.000Z"],
    ]);
    const second = client.bodies[1] as { aggs: { groups: { composite: { after: unknown } } } };
    expect(second.aggs.groups.composite.after).toEqual({ g0: 8080 });
  });

  it("builds percentile digests only for groups whose counts let the percentile pass the threshold", async () => {
    // Prepare: 100 durations per window; group a has 1 beyond 5 s (p99's upper neighbour may be), b has none.
    const rule = correlationRule({
      type: "percentile",
      field: "event.duration",
      percentile: 99,
      minCount: 10,
      condition: { gt: 5e9 },
    });
    const start = at("2025-03-04T10:05:00Z");
    const bucket = (extra: Record<string, unknown>) => ({ key: start, doc_count: 100, ...extra });
    const candidates = aggregationResponse({
      groups: {
        buckets: ["a", "b"].map((principal, i) => ({
          key: { g0: principal },
          doc_count: 100,
          slots: { buckets: [bucket({ values: { value: 100 }, beyond: { doc_count: 1 - i } })] },
        })),
      },
    });
    const digests = aggregationResponse({
      groups: {
        buckets: [
          {
            key: { g0: "a" },
            doc_count: 100,
            w0: { buckets: [bucket({ pct: { values: [{ key: 99, value: 6e9 }] } })] },
            w1: { buckets: [] },
          },
        ],
      },
    });
    const client = replaying(candidates, digests);
    // Act
    const detections = await evaluateCorrelation(client, "audit-*", rule, windows, 500);
    // Assess
    expect(detections.map((d) => [d.groupBy["mesh.source.principal"], d.value])).toEqual([["a", 6e9]]);
    expect(JSON.stringify(client.bodies[0])).not.toContain("percentiles");
    const second = client.bodies[1] as { query: { bool: { filter: unknown[] } } };
    expect(second.query.bool.filter[2]).toEqual({ terms: { "mesh.source.principal": ["a"] } });
  });

  it("counts windows only for groups whose distinct count over all the windows passes the bound", async () => {
    // Prepare: a scan rule; over the whole chunk caller a reached 12 services, b 8 (so no window of b can pass).
    const rule = correlationRule({
      type: "value_count",
      field: "mesh.destination.service",
      condition: { gt: 10 },
    });
    const candidates = aggregationResponse({
      groups: {
        buckets: [
          { key: { g0: "a" }, doc_count: 40, distinct: { value: 12 } },
          { key: { g0: "b" }, doc_count: 900, distinct: { value: 8 } },
        ],
      },
    });
    const start = at("2025-03-04T10:05:00Z");
    const windowsOfA = aggregationResponse({
      groups: {
        buckets: [
          {
            key: { g0: "a" },
            doc_count: 40,
            w0: { buckets: [{ key: start, doc_count: 30, distinct: { value: 11 } }] },
            w1: { buckets: [{ key: start + 30_000, doc_count: 20, distinct: { value: 6 } }] },
          },
        ],
      },
    });
    const client = replaying(candidates, windowsOfA);

    // Act
    const detections = await evaluateCorrelation(client, "audit-*", rule, windows, 500);

    // Assess
    expect(detections.map((d) => [d.groupBy["mesh.source.principal"], d.windowStart, d.value])).toEqual([
      ["a", "2025-03-04T10:05:00.000Z", 11],
    ]);
    const first = client.bodies[0] as { aggs: { groups: { aggs: Record<string, unknown> } } };
    expect(first.aggs.groups.aggs).toEqual({
      distinct: { cardinality: { field: "mesh.destination.service", precision_threshold: 100 } },
    });
    const second = client.bodies[1] as { query: { bool: { filter: unknown[] } } };
    expect(second.query.bool.filter[2]).toEqual({ terms: { "mesh.source.principal": ["a"] } });
  });

  it("counts no window when no group's distinct count passes, and every window when the bound is an upper one", async () => {
    const scan = correlationRule({
      type: "value_count",
      field: "mesh.destination.service",
      condition: { gte: 11 },
    });
    const none = replaying(
      aggregationResponse({
        groups: { buckets: [{ key: { g0: "b" }, doc_count: 9, distinct: { value: 10 } }] },
      }),
    );
    expect(await evaluateCorrelation(none, "audit-*", scan, windows, 500)).toEqual([]);
    expect(none.bodies).toHaveLength(1);

    // "Fewer than 3 services": a part of the values may pass where the whole does not, so windows are counted at once.
    const few = correlationRule({
      type: "value_count",
      field: "mesh.destination.service",
      condition: { lt: 3 },
    });
    const single = replaying(aggregationResponse({ groups: { buckets: [] } }));
    await evaluateCorrelation(single, "audit-*", few, windows, 500);
    expect(JSON.stringify(single.bodies[0])).toContain('"w0"');
  });

  it("asks for no digest at all when no window can pass", async () => {
    const rule = correlationRule({
      type: "percentile",
      field: "event.duration",
      percentile: 99,
      condition: { gt: 1 },
    });
    const client = replaying(aggregationResponse({ groups: { buckets: [] } }));
    expect(await evaluateCorrelation(client, "audit-*", rule, windows, 500)).toEqual([]);
    expect(client.bodies).toHaveLength(1);
  });

  it("reads the failure share, requiring the minimum volume", () => {
    const rule = publicAccessRule();
    expect(bucketValue(rule, { key: 0, doc_count: 40, failures: { doc_count: 30 } })).toBe(0.75);
    expect(bucketValue(rule, { key: 0, doc_count: 40, failures: { doc_count: 20 } })).toBeUndefined();
    expect(bucketValue(rule, { key: 0, doc_count: 9, failures: { doc_count: 9 } })).toBeUndefined();
  });

  it("reads distinct counts, percentiles and the related rules seen", () => {
    const scan = correlationRule({
      type: "value_count",
      field: "mesh.destination.service",
      condition: { gt: 10 },
    });
    expect(bucketValue(scan, { key: 0, doc_count: 30, distinct: { value: 11 } })).toBe(11);
    expect(bucketValue(scan, { key: 0, doc_count: 30, distinct: { value: 10 } })).toBeUndefined();
    const p99 = correlationRule({
      type: "percentile",
      field: "event.duration",
      percentile: 99,
      condition: { gt: 5e9 },
    });
    expect(bucketValue(p99, { key: 0, doc_count: 50, pct: { values: [{ key: 99, value: 7.5e9 }] } })).toBe(
      7.5e9,
    );
    expect(
      bucketValue(p99, { key: 0, doc_count: 50, pct: { values: [{ key: 99, value: null }] } }),
    ).toBeUndefined();
    const chain = correlationRule({ type: "temporal", rules: ["a", "b", "c"], condition: { gte: 3 } });
    const seen = (c: number) => ({ a: { doc_count: 2 }, b: { doc_count: 1 }, c: { doc_count: c } });
    expect(bucketValue(chain, { key: 0, doc_count: 4, rules: { buckets: seen(1) } })).toBe(3);
    expect(bucketValue(chain, { key: 0, doc_count: 3, rules: { buckets: seen(0) } })).toBeUndefined();
  });

  it("fails, naming the rule, on partial results", async () => {
    const partial = {
      ...aggregationResponse({}),
      _shards: {
        total: 3,
        successful: 2,
        skipped: 0,
        failed: 1,
        failures: [{ shard: 1, reason: { type: "node_disconnected" } }],
      },
    };
    const client = replaying(partial);
    await expect(
      evaluateCorrelation(client, "audit-*", correlationRule(), windows, 500),
    ).rejects.toThrowError(/correlation mesh_auth_failure_burst: 1 of 3 shards failed \(partial results\)/);
  });

  it("fails, naming the rule and aggregation, on a response it cannot read", async () => {
    const client = replaying(
      aggregationResponse({ groups: { buckets: [{ key: { g0: "x" }, doc_count: 1 }] } }),
    );
    const failure = evaluateCorrelation(client, "audit-*", correlationRule(), windows, 500);
    await expect(failure).rejects.toThrowError(SearchResponseError);
    await expect(
      evaluateCorrelation(replaying(aggregationResponse({})), "audit-*", correlationRule(), windows, 500),
    ).rejects.toThrowError(/correlation mesh_auth_failure_burst: unexpected aggregation groups/);
  });
});

describe("firstSingleEventPages", () => {
  it("reads every rule's first page, ten rules per _msearch, each page or its own rule's error", async () => {
    // Prepare: twelve rules; the node refuses the fourth one's search, the first finds a full page (one document).
    const rules = Array.from({ length: 12 }, (_, i) => singleRule({ name: `rule_${i}` }));
    const range = {
      fromMs: at("2025-03-04T10:00:00Z"),
      toMs: at("2025-03-04T10:15:00Z"),
      catchUpTruncated: false,
    };
    const requests: number[] = [];
    const hit = {
      _index: "audit-2025-03-04",
      _id: "d1",
      _source: { "@timestamp": "2025-03-04T10:01:00.000Z", event: { id: "e1" } },
      sort: [at("2025-03-04T10:01:00Z"), "e1"],
    };
    const client: SearchClient = {
      ...searchOnly(() => {
        throw new Error("this test expects only _msearch");
      }).client,
      async msearch({ bodies }) {
        requests.push(bodies.length);
        return bodies.map((body) => {
          const name = JSON.stringify(body).match(/rule_\d+/)?.[0];
          if (name === "rule_3") return { ok: false as const, error: "status 400: too_many_clauses" };
          return { ok: true as const, body: hitsResponse(name === "rule_0" ? [hit] : []) };
        });
      },
    };

    // Act
    const pages = await firstSingleEventPages(
      client,
      "audit-*",
      rules.map((rule) => ({ rule, range })),
      1,
    );

    // Assess
    expect(requests).toEqual([10, 2]);
    expect(pages).toHaveLength(12);
    expect(pages[0]).toMatchObject({ documents: [{ event: { id: "e1" } }], next: hit.sort });
    expect(pages[1]).toEqual({ documents: [], next: undefined });
    expect(pages[3]).toBeInstanceOf(SearchResponseError);
    expect(String(pages[3])).toContain("single-event rule rule_3: status 400: too_many_clauses");
  });
});

describe("singleEventCountsRequest", () => {
  const rule = singleRule({ fields: ["mesh.mtls"], suppression: { ms: 3_600_000, groupBy: ["user.name"] } });
  const spans: { groupBy: Record<string, string>; fromMs: number; toMs: number }[] = [
    {
      groupBy: { "user.name": "alice" },
      fromMs: at("2025-03-04T10:00:00Z"),
      toMs: at("2025-03-04T10:30:00Z"),
    },
    { groupBy: {}, fromMs: at("2025-03-04T10:10:00Z"), toMs: at("2025-03-04T11:00:00Z") },
  ];
  const terms = (keys: unknown[], asString?: string[]) => ({
    buckets: keys.map((key, i) => ({
      key,
      doc_count: 1,
      ...(asString ? { key_as_string: asString[i] } : {}),
    })),
  });

  it("asks for every alert's own count in one request: a filters bucket each, the rule's documents of their spans", () => {
    const { body } = singleEventCountsRequest(rule, spans);
    const filters = (
      (body.aggs as Record<string, unknown>).alerts as { filters: { filters: Record<string, unknown> } }
    ).filters.filters;
    expect(Object.keys(filters)).toEqual(["a0", "a1"]);
    expect(JSON.stringify(filters.a0)).toContain('{"term":{"user.name":"alice"}}');
    expect(JSON.stringify(filters.a1)).toContain('"must_not":[{"exists":{"field":"user.name"}}]');
    expect(JSON.stringify(body.query)).toContain(
      `"gte":${at("2025-03-04T10:00:00Z")},"lte":${at("2025-03-04T11:00:00Z")}`,
    );
  });

  it("keeps only the documents of the alerts' groups where every alert has a value, so the buckets test no other group's", () => {
    const pair = singleRule({
      fields: ["mesh.mtls"],
      suppression: { ms: 3_600_000, groupBy: ["user.name", "source.ip"] },
    });
    const span = (user: string, ip?: string) => ({
      groupBy: { "user.name": user, ...(ip === undefined ? {} : { "source.ip": ip }) },
      fromMs: at("2025-03-04T10:00:00Z"),
      toMs: at("2025-03-04T10:30:00Z"),
    });
    const filters = (alerts: ReturnType<typeof span>[]) =>
      (singleEventCountsRequest(pair, alerts).body.query as { bool: { filter: Record<string, unknown>[] } })
        .bool.filter;

    expect(filters([span("bob", "10.0.0.2"), span("alice", "10.0.0.1"), span("bob", "10.0.0.3")])).toEqual(
      expect.arrayContaining([
        { terms: { "user.name": ["alice", "bob"] } },
        { terms: { "source.ip": ["10.0.0.1", "10.0.0.2", "10.0.0.3"] } },
      ]),
    );
    // An alert of documents without a source IP: that field cannot narrow the query.
    const withoutIp = filters([span("bob", "10.0.0.2"), span("alice")]);
    expect(withoutIp).toContainEqual({ terms: { "user.name": ["alice", "bob"] } });
    expect(JSON.stringify(withoutIp)).not.toContain('"terms":{"source.ip"');
  });

  it("reads each alert's exact count and values from its bucket, booleans from their text", () => {
    const request = singleEventCountsRequest(rule, spans);
    const bucket = (count: number, mtls: unknown[], asString: string[]) => ({
      doc_count: count,
      matched_first: { value: at("2025-03-04T10:01:00Z") },
      matched_last: { value: at("2025-03-04T10:02:00Z") },
      values_0: terms(count === 0 ? [] : ["alice"]),
      distinct_0: { value: count === 0 ? 0 : 1 },
      values_1: terms(mtls, asString),
      distinct_1: { value: mtls.length },
      // Where it happened: no value in these documents.
      ...Object.fromEntries(
        [2, 3, 4].flatMap((i) => [
          [`values_${i}`, terms([])],
          [`distinct_${i}`, { value: 0 }],
        ]),
      ),
    });
    const counted = request.read({
      hits: { hits: [] },
      aggregations: {
        alerts: {
          buckets: { a0: bucket(1234, [0, 1], ["false", "true"]), a1: bucket(7, [1], ["true"]) },
        },
      },
    });
    expect(counted.map(({ count }) => count)).toEqual([1234, 7]);
    expect(counted[0]?.matched?.values).toMatchObject({
      "user.name": { values: ["alice"], total: 1 },
      "mesh.mtls": { values: [false, true], total: 2 },
    });
    expect(counted[1]?.matched?.values["mesh.mtls"]).toEqual({ values: [true], total: 1 });
  });

  it("refuses an answer missing an alert's bucket rather than counting it zero", () => {
    const request = singleEventCountsRequest(rule, spans);
    expect(() =>
      request.read({ hits: { hits: [] }, aggregations: { alerts: { buckets: { a0: { doc_count: 0 } } } } }),
    ).toThrow(SearchResponseError);
  });
});

describe("windowEventsRequest", () => {
  const rule = correlationRule();
  const spans = [
    {
      groupBy: { "mesh.source.principal": "spiffe://a" },
      fromMs: at("2025-03-04T10:00:00Z"),
      toMs: at("2025-03-04T10:01:00Z"),
    },
    {
      groupBy: { "mesh.source.principal": "spiffe://b" },
      fromMs: at("2025-03-04T10:00:30Z"),
      toMs: at("2025-03-04T10:01:30Z"),
    },
  ];
  const hit = (id: string, iso: string, principal: string) => ({
    _index: "audit-2025.03.04",
    _id: id,
    _source: { "@timestamp": iso, mesh: { source: { principal } } },
  });
  const bucket = (hits: ReturnType<typeof hit>[]) => ({
    doc_count: hits.length,
    first_events: { hits: { hits } },
    matched_first: { value: hits.length === 0 ? null : at(hits[0]?._source["@timestamp"] ?? "") },
    matched_last: { value: hits.length === 0 ? null : at(hits.at(-1)?._source["@timestamp"] ?? "") },
    // The rule's exact fields: no values listed in these documents.
    ...Object.fromEntries(
      exactFieldsOf(rule).flatMap((_, i) => [
        [`values_${i}`, { buckets: [] }],
        [`distinct_${i}`, { value: 0 }],
      ]),
    ),
  });

  it("reads each alert's first events and summary from its own bucket, in the order of the spans", () => {
    const request = windowEventsRequest(rule, spans);
    const read = request.read({
      hits: { hits: [] },
      aggregations: {
        alerts: {
          buckets: {
            a1: bucket([hit("b1", "2025-03-04T10:00:40Z", "spiffe://b")]),
            a0: bucket([
              hit("a1", "2025-03-04T10:00:01Z", "spiffe://a"),
              hit("a2", "2025-03-04T10:00:02Z", "spiffe://a"),
            ]),
          },
        },
      },
    });
    expect(read.map(({ events }) => events.map((event) => event["@timestamp"]))).toEqual([
      ["2025-03-04T10:00:01Z", "2025-03-04T10:00:02Z"],
      ["2025-03-04T10:00:40Z"],
    ]);
    expect(read[0]?.matched).toMatchObject({
      firstMs: at("2025-03-04T10:00:01Z"),
      lastMs: at("2025-03-04T10:00:02Z"),
    });
  });

  it("reads summaries without events when asked for none, and refuses an events answer without them", () => {
    const { first_events: _, ...summary } = bucket([hit("a1", "2025-03-04T10:00:01Z", "spiffe://a")]);
    const answer = {
      hits: { hits: [] },
      aggregations: { alerts: { buckets: { a0: summary, a1: summary } } },
    };
    const read = windowEventsRequest(rule, spans, false).read(answer);
    expect(read.map(({ events }) => events)).toEqual([[], []]);
    expect(read[1]?.matched?.firstMs).toBe(at("2025-03-04T10:00:01Z"));
    expect(() => windowEventsRequest(rule, spans).read(answer)).toThrow(SearchResponseError);
  });

  it("refuses an answer missing an alert's bucket rather than giving it no events", () => {
    const request = windowEventsRequest(rule, spans);
    expect(() =>
      request.read({ hits: { hits: [] }, aggregations: { alerts: { buckets: { a0: bucket([]) } } } }),
    ).toThrow(/no bucket a1/);
  });

  it("refuses an event without a valid @timestamp", () => {
    const request = windowEventsRequest(rule, spans);
    const broken = { ...hit("x", "2025-03-04T10:00:01Z", "spiffe://a"), _source: { "@timestamp": "soon" } };
    expect(() =>
      request.read({
        hits: { hits: [] },
        aggregations: { alerts: { buckets: { a0: bucket([broken as never]), a1: bucket([]) } } },
      }),
    ).toThrow(SearchResponseError);
  });
});
