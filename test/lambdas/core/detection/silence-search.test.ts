import { describe, expect, it } from "vitest";
import {
  evaluateSilence,
  lastDocumentQuery,
  sourcesQuery,
} from "../../../../lambdas/core/detection/silence-search.js";
import { silenceRule } from "../alerts/factories.js";
import { searchOnly } from "./fake-opensearch.js";

const MINUTE = 60_000;
const NOW = Date.parse("2026-03-02T10:30:00.000Z");

const rule = silenceRule({
  expected: [{ "orchestrator.cluster.name": "prod", "event.dataset": "consul.access" }],
});

const shards = { total: 2, successful: 2, skipped: 0, failed: 0 };

/** What OpenSearch answers: the composite page(s) of sources, then the last document of each silent source. */
function recorded(pages: unknown[][], lastDocuments: Record<string, unknown>) {
  return searchOnly((body) => {
    if (body.aggs !== undefined) {
      const buckets = pages.shift() ?? [];
      return {
        took: 3,
        timed_out: false,
        _shards: shards,
        hits: { hits: [] },
        aggregations: {
          sources: { ...(pages.length > 0 ? { after_key: { g0: "x", g1: "y" } } : {}), buckets },
        },
      };
    }
    const dataset = JSON.stringify(body).match(/"event.dataset":"([^"]+)"/)?.[1] ?? "(none)";
    const source = lastDocuments[dataset];
    return {
      took: 1,
      timed_out: false,
      _shards: shards,
      hits: {
        hits: source === undefined ? [] : [{ _index: "audit-2026-03-02", _id: dataset, _source: source }],
      },
    };
  });
}

const bucket = (cluster: string | null, dataset: string | null, lastMs: number | null) => ({
  key: { g0: cluster, g1: dataset },
  doc_count: 10,
  last: { value: lastMs, ...(lastMs === null ? {} : { value_as_string: new Date(lastMs).toISOString() }) },
});

describe("source silence on OpenSearch", () => {
  it("asks for each source's latest event time over the lookback, missing values as their own source", () => {
    expect(sourcesQuery(rule, NOW, 500)).toEqual({
      size: 0,
      track_total_hits: false,
      query: {
        bool: {
          filter: [
            { range: { "@timestamp": { gte: NOW - rule.lookbackMs, lte: NOW, format: "epoch_millis" } } },
          ],
          must_not: [{ terms: { "rule.name": ["pipeline_canary"] } }],
        },
      },
      aggs: {
        sources: {
          composite: {
            size: 500,
            sources: [
              { g0: { terms: { field: "orchestrator.cluster.name", missing_bucket: true } } },
              { g1: { terms: { field: "event.dataset", missing_bucket: true } } },
            ],
          },
          aggs: { last: { max: { field: "@timestamp" } } },
        },
      },
    });
    expect(lastDocumentQuery(rule, { "event.dataset": "linkerd.access" }, NOW)).toMatchObject({
      size: 1,
      sort: [{ "@timestamp": { order: "desc" } }, { "event.id": { order: "desc", missing: "_first" } }],
      query: {
        bool: {
          filter: [{ range: {} }, { term: { "event.dataset": "linkerd.access" } }],
          must_not: [
            { terms: { "rule.name": ["pipeline_canary"] } },
            { exists: { field: "orchestrator.cluster.name" } },
          ],
        },
      },
    });
  });

  it("fires for silent sources with their last document, and for expected sources not seen, across pages", async () => {
    // Prepare
    const auditLast = {
      "@timestamp": "2026-03-02T10:02:00.000Z",
      event: { dataset: "kubernetes.audit", id: "a1" },
    };
    const { client, bodies } = recorded(
      [
        [bucket("prod", "istio.access", NOW - MINUTE), bucket("prod", "kubernetes.audit", NOW - 28 * MINUTE)],
        [bucket(null, null, NOW - 60 * MINUTE), bucket(null, "linkerd.access", NOW - 14 * MINUTE)],
      ],
      { "kubernetes.audit": auditLast },
    );

    // Act
    const detections = await evaluateSilence(client, "audit-*,-audit-alerts", rule, NOW, 2);

    // Assess
    expect(
      detections.map(({ windowStart, windowEnd, groupBy, events }) => ({
        windowStart,
        windowEnd,
        groupBy,
        events,
      })),
    ).toEqual([
      {
        windowStart: "2026-03-02T10:02:00.000Z",
        windowEnd: "2026-03-02T10:17:00.000Z",
        groupBy: { "orchestrator.cluster.name": "prod", "event.dataset": "kubernetes.audit" },
        events: [auditLast],
      },
      {
        windowStart: "2026-03-02T00:00:00.000Z",
        windowEnd: "2026-03-02T00:15:00.000Z",
        groupBy: { "orchestrator.cluster.name": "prod", "event.dataset": "consul.access" },
        events: [],
      },
    ]);
    expect(bodies.filter((body) => body.aggs !== undefined)).toHaveLength(2);
  });

  it("fails naming the rule when a silent source's last document cannot be read", async () => {
    const { client } = recorded([[bucket("prod", "kubernetes.audit", NOW - 28 * MINUTE)]], {});
    await expect(evaluateSilence(client, "audit-*", rule, NOW, 500)).rejects.toThrow(
      /silence pipeline_source_silent: the aggregation saw source .*kubernetes.audit.* but its last document was not found/,
    );
  });
});
