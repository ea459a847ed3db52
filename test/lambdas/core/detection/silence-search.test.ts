import { describe, expect, it } from "vitest";
import { INDEXED_AT_FIELD } from "../../../../lambdas/core/contracts.js";
import type { StoredDocument } from "../../../../lambdas/core/detection/ports.js";
import {
  knownSightings,
  lastDocumentQuery,
  SilenceJudge,
  type SourceSightings,
  sightingsDefinition,
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
    const detections = await new SilenceJudge(client, "audit-*,-audit-alerts", rule, 2).at(NOW);

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
    await expect(new SilenceJudge(client, "audit-*", rule, 500).at(NOW)).rejects.toThrow(
      /silence pipeline_source_silent: the aggregation saw source .*kubernetes.audit.* but its last document was not found/,
    );
  });

  it("starts from the last run's sightings: reads what arrived since or is later than them, keeps the others", async () => {
    // Prepare: as of a minute ago, Istio sent a moment before, the audit log 14 minutes before, Linkerd 30 hours
    // before (older than the lookback by now).
    const sightings: SourceSightings = {
      asOfMs: NOW - MINUTE,
      definition: sightingsDefinition(rule),
      sources: [
        {
          groupBy: { "orchestrator.cluster.name": "prod", "event.dataset": "istio.access" },
          lastMs: NOW - 2 * MINUTE,
        },
        {
          groupBy: { "orchestrator.cluster.name": "prod", "event.dataset": "kubernetes.audit" },
          lastMs: NOW - 15 * MINUTE,
        },
        { groupBy: { "event.dataset": "linkerd.access" }, lastMs: NOW - 30 * 60 * MINUTE },
      ],
    };
    const arrived = { indexedFromMs: NOW - 2 * MINUTE, ingestedFromMs: NOW - 5 * MINUTE };
    const auditLast = {
      "@timestamp": new Date(NOW - 15 * MINUTE).toISOString(),
      event: { dataset: "kubernetes.audit" },
    };
    // Only Istio's new documents come back; the audit log sent nothing since.
    const { client, bodies } = recorded([[bucket("prod", "istio.access", NOW - 10_000)]], {
      "kubernetes.audit": auditLast,
    });
    const judge = new SilenceJudge(client, "audit-*", rule, 500, { sightings, arrived });

    // Act
    const detections = await judge.at(NOW);

    // Assess
    expect(bodies[0]).toMatchObject({
      query: {
        bool: {
          filter: [
            { range: { "@timestamp": { gte: NOW - rule.lookbackMs, lte: NOW } } },
            {
              bool: {
                should: [
                  { range: { "@timestamp": { gt: NOW - MINUTE } } },
                  { range: { [INDEXED_AT_FIELD]: { gte: NOW - 2 * MINUTE } } },
                  {
                    bool: {
                      filter: [{ range: { "event.ingested": { gte: NOW - 5 * MINUTE } } }],
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
                ],
                minimum_should_match: 1,
              },
            },
          ],
        },
      },
    });
    expect(detections.map((detection) => [detection.groupBy, detection.windowStart])).toEqual([
      [{ "orchestrator.cluster.name": "prod", "event.dataset": "kubernetes.audit" }, auditLast["@timestamp"]],
      [{ "orchestrator.cluster.name": "prod", "event.dataset": "consul.access" }, "2026-03-02T00:00:00.000Z"],
    ]);
    expect(judge.sightings()).toEqual({
      asOfMs: NOW,
      definition: sightingsDefinition(rule),
      sources: [
        {
          groupBy: { "orchestrator.cluster.name": "prod", "event.dataset": "istio.access" },
          lastMs: NOW - 10_000,
        },
        sightings.sources[1],
      ],
    });
  });

  it("judges later times of the same run by reading only the documents between the previous time and each", async () => {
    // Prepare: the audit log's last document 20 minutes before the first time, none after.
    const auditLast = {
      "@timestamp": new Date(NOW - 20 * MINUTE).toISOString(),
      event: { dataset: "kubernetes.audit" },
    };
    const { client, bodies } = recorded(
      [[bucket("prod", "kubernetes.audit", NOW - 20 * MINUTE), bucket("prod", "istio.access", NOW)], []],
      { "kubernetes.audit": auditLast, "istio.access": { "@timestamp": new Date(NOW).toISOString() } },
    );
    const judge = new SilenceJudge(client, "audit-*", rule, 500);

    // Act
    const first = await judge.at(NOW);
    const second = await judge.at(NOW + 20 * MINUTE);

    // Assess: the whole lookback first, then the 20 minutes since; Istio is silent by the second time.
    const aggregations = bodies.filter((body) => body.aggs !== undefined);
    expect((aggregations[0] as { query: { bool: { filter: unknown[] } } }).query.bool.filter).toHaveLength(1);
    expect(aggregations[1]).toMatchObject({
      query: {
        bool: {
          filter: [
            { range: { "@timestamp": { gte: NOW + 20 * MINUTE - rule.lookbackMs, lte: NOW + 20 * MINUTE } } },
            { bool: { should: [{ range: { "@timestamp": { gt: NOW } } }], minimum_should_match: 1 } },
          ],
        },
      },
    });
    expect(first.map((detection) => detection.groupBy["event.dataset"])).toEqual([
      "kubernetes.audit",
      "consul.access",
    ]);
    expect(second.map((detection) => detection.groupBy["event.dataset"])).toEqual([
      "kubernetes.audit",
      "istio.access",
      "consul.access",
    ]);
    await expect(judge.at(NOW)).rejects.toThrow(/judged as of .*before the sightings'/);
  });

  it("starts from stored sightings only when the last run left them as of its own time, for the rule as it is", () => {
    const sightings: SourceSightings = {
      asOfMs: NOW - MINUTE,
      definition: sightingsDefinition(rule),
      sources: [],
    };
    const stored = (state: unknown): StoredDocument => ({
      id: "baseline.pipeline_source_silent",
      source: { baseline: { rule: rule.name, state: JSON.stringify(state) } },
      seqNo: 3,
      primaryTerm: 1,
    });
    const arrived = { ingestedFromMs: NOW - 5 * MINUTE };

    expect(knownSightings(stored(sightings), rule, NOW - MINUTE, arrived)).toEqual({ sightings, arrived });
    // Another run's (the watermark moved past it, or is behind it), none yet, the first run, or not sightings.
    expect(knownSightings(stored(sightings), rule, NOW - 2 * MINUTE, arrived)).toBeUndefined();
    expect(knownSightings(undefined, rule, NOW - MINUTE, arrived)).toBeUndefined();
    expect(knownSightings(stored(sightings), rule, undefined, arrived)).toBeUndefined();
    expect(knownSightings(stored({ asOfMs: "soon" }), rule, NOW - MINUTE, arrived)).toBeUndefined();
    // Taken for another definition of a source: the rule's group-by fields were changed since.
    const perCluster = { ...rule, groupBy: ["orchestrator.cluster.name"] };
    expect(knownSightings(stored(sightings), perCluster, NOW - MINUTE, arrived)).toBeUndefined();
  });
});
