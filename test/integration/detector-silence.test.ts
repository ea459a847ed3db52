/**
 * Source silence against a real OpenSearch node: a cluster's audit log stops, an unnamed cluster's Linkerd logs
 * stop, an expected Consul source never sends, while Istio keeps going. The detector (composite aggregation with
 * missing buckets and `max`, then each silent source's last document) pages the ops topic once per silence, and its
 * alerts are exactly the ones the in-memory evaluator (replay) gives on the same documents.
 */
import type { Client } from "@opensearch-project/opensearch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAlert } from "../../lambdas/core/alerts/build.js";
import type { SnsAlertMessage } from "../../lambdas/core/alerts/render.js";
import { ALERTS_INDEX, INDEXED_AT_FIELD } from "../../lambdas/core/contracts.js";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { StreamEvaluator } from "../../lambdas/core/rules/evaluator.js";
import { mergeDetections } from "../../lambdas/core/rules/suppression.js";
import type { CompiledRule, RulePack } from "../../lambdas/core/rules/types.js";
import { silenceRule } from "../lambdas/core/alerts/factories.js";
import { testClient } from "./helpers.js";
import {
  comparable,
  detectorRun,
  freshNodeWith,
  InMemoryWatermark,
  indexDocuments,
  indexedAlerts,
  RecordingLogger,
  removeFromNode,
  sortedById,
} from "./incident.js";

const MINUTE = 60_000;
const START_MS = Date.parse("2026-05-07T10:00:00.000Z");
const ENVIRONMENT = "silence-test";

const rule = silenceRule({
  expected: [{ "orchestrator.cluster.name": "prod", "event.dataset": "consul.access" }],
});

const pack: RulePack = {
  rules: [rule],
  singleEventRules: [],
  correlationRules: [],
  get: (name): CompiledRule | undefined => (name === rule.name ? rule : undefined),
  matchSingleEvent: () => [],
};

/** A document of `dataset` from `cluster` (no cluster name when undefined) at `minute` past the start. */
function doc(cluster: string | undefined, dataset: string, minute: number, second = 0): EcsDocument {
  return {
    "@timestamp": new Date(START_MS + minute * MINUTE + second * 1000).toISOString(),
    ecs: { version: "8.17.0" },
    event: {
      kind: "event",
      category: ["network"],
      type: ["access"],
      dataset,
      id: `${dataset}-${minute}-${second}`,
    },
    ...(cluster === undefined ? {} : { orchestrator: { type: "kubernetes", cluster: { name: cluster } } }),
  } as EcsDocument;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

const documents: EcsDocument[] = [
  ...range(0, 40).map((minute) => doc("prod", "istio.access", minute)),
  ...range(0, 5).map((minute) => doc("prod", "kubernetes.audit", minute, 30)),
  ...range(0, 10).map((minute) => doc(undefined, "linkerd.access", minute, 15)),
  // A canary run's document: its own cluster, never a source that can go silent.
  { ...doc("mesh-audit-trail-canary", "istio.access", 3), rule: { name: ["pipeline_canary"] } },
].sort((a, b) => Date.parse(a["@timestamp"]) - Date.parse(b["@timestamp"]));

class OpsPublisher {
  readonly topics: string[] = [];
  async publish(topic: string, _message: SnsAlertMessage): Promise<string> {
    this.topics.push(topic);
    return `msg-${this.topics.length}`;
  }
}

describe("source silence on a real OpenSearch node", () => {
  const client = testClient();
  let dailyIndices: string[] = [];

  beforeAll(async () => {
    dailyIndices = await freshNodeWith(client, documents);
  });

  afterAll(async () => {
    await removeFromNode(client, dailyIndices);
  });

  it("pages the ops topic once per silent source and gives exactly replay's alerts", async () => {
    // Prepare
    const replayed = replayedAlerts(documents);
    const publisher = new OpsPublisher();
    const logger = new RecordingLogger();
    const run = runsAt(client, {
      publisher,
      logger,
      watermark: new InMemoryWatermark(START_MS + 40 * MINUTE),
    });

    // Act
    const first = await run(41);
    const second = await run(42);

    // Assess
    expect(logger.entries).toEqual([]);
    expect([first.complete, second.complete]).toEqual([true, true]);
    expect(publisher.topics).toEqual(["ops", "ops", "ops"]);
    const alerts = (await indexedAlerts(client)).map((hit) => comparable(hit.document));
    expect(sortedById(alerts)).toEqual(sortedById(replayed));
    expect(alerts.map((alert) => `${alert.window.start} ${alert.summary.to}`).sort()).toEqual([
      "2026-05-07T00:00:00.000Z event.dataset=consul.access orchestrator.cluster.name=prod",
      "2026-05-07T10:05:30.000Z event.dataset=kubernetes.audit orchestrator.cluster.name=prod",
      "2026-05-07T10:10:15.000Z event.dataset=linkerd.access",
    ]);
  });

  it("starts each run from the last one's sightings, reading only what arrived since, with replay's alerts", async () => {
    // Prepare: a fresh trail, judged incrementally by the index stamp (no index lag: the node stamped every document
    // before the run that follows it).
    await removeFromNode(client, dailyIndices);
    dailyIndices = await freshNodeWith(client, documents);
    const publisher = new OpsPublisher();
    const logger = new RecordingLogger();
    const watermark = new InMemoryWatermark(START_MS + 40 * MINUTE);
    const sourcesRead: number[] = [];
    const run = runsAt(
      client,
      { publisher, logger, watermark },
      {
        ingestLagMs: 60_000,
        indexLagMs: 0,
        wrapSearch: (search) => ({
          ...search,
          async search(request) {
            const response = await search.search(request);
            const sources = (
              response as { aggregations?: { sources?: { buckets: { doc_count: number }[] } } }
            ).aggregations?.sources;
            if (sources !== undefined)
              sourcesRead.push(sources.buckets.reduce((sum, b) => sum + b.doc_count, 0));
            return response;
          },
        }),
      },
    );
    // Istio's last document before the first run, stamped after the others: the first run's newest stamp is its own.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const lastBefore = doc("prod", "istio.access", 40, 30);
    dailyIndices = [...new Set([...dailyIndices, ...(await indexDocuments(client, [lastBefore]))])];
    await run(41);
    // The audit log comes back late (a document of minute 41 arrives after that run) and Istio goes on.
    const arriving = [
      doc("prod", "kubernetes.audit", 41, 30),
      doc("prod", "istio.access", 41, 45),
      doc("prod", "istio.access", 42),
    ];
    const stampedBefore = await stampedSince(client, dailyIndices, watermark.indexedThroughMs as number);
    dailyIndices = [...new Set([...dailyIndices, ...(await indexDocuments(client, arriving))])];

    // Act
    const second = await run(42);

    // Assess: the second run read the three new documents and the one with the first run's newest stamp.
    expect(logger.entries).toEqual([]);
    expect(second.complete).toBe(true);
    expect(stampedBefore).toBe(1);
    // The first run read the whole lookback: every document but the canary's, and the one stamped last.
    expect(sourcesRead).toEqual([documents.length - 1 + 1, arriving.length + 1]);
    const all = [...documents, lastBefore, ...arriving].sort(
      (a, b) => Date.parse(a["@timestamp"]) - Date.parse(b["@timestamp"]),
    );
    const alerts = (await indexedAlerts(client)).map((hit) => comparable(hit.document));
    expect(sortedById(alerts)).toEqual(sortedById(replayedAlerts(all)));
    const state = await client.get({ index: ALERTS_INDEX, id: `baseline.${rule.name}` });
    const sightings = JSON.parse((state.body._source as { baseline: { state: string } }).baseline.state);
    expect(sightings.asOfMs).toBe(START_MS + 42 * MINUTE);
    expect(sightings.sources).toContainEqual({
      groupBy: { "orchestrator.cluster.name": "prod", "event.dataset": "kubernetes.audit" },
      lastMs: START_MS + 41 * MINUTE + 30_000,
    });
  });
});

/** What replay alerts on `docs` (in event-time order). */
function replayedAlerts(docs: readonly EcsDocument[]) {
  const evaluator = new StreamEvaluator(pack);
  return mergeDetections([
    ...docs.flatMap((d) => evaluator.push(d, d.rule?.name ?? [])),
    ...evaluator.finish(),
  ]).map((detection) => comparable(buildAlert(detection, { environment: ENVIRONMENT })));
}

/** The detector's run at a given minute past the start, with the test's pack and environment. */
function runsAt(
  client: Client,
  shared: Pick<Parameters<typeof detectorRun>[0], "publisher" | "logger" | "watermark">,
  options: Partial<Parameters<typeof detectorRun>[0]> = {},
) {
  return (minute: number) =>
    detectorRun({
      client,
      pack,
      alertContext: { environment: ENVIRONMENT },
      ...shared,
      nowMs: START_MS + minute * MINUTE,
      runId: `run-${minute}`,
      ...options,
    });
}

/** Documents of `indices` the node stamped at or after `fromMs`, but the rule's excluded ones (the canary's). */
async function stampedSince(client: Client, indices: readonly string[], fromMs: number): Promise<number> {
  const response = await client.count({
    index: indices.join(","),
    body: {
      query: {
        bool: {
          filter: [{ range: { [INDEXED_AT_FIELD]: { gte: fromMs, format: "epoch_millis" } } }],
          must_not: [{ terms: { "rule.name": [...rule.excludeRules] } }],
        },
      },
    },
  });
  return (response.body as { count: number }).count;
}
