/**
 * Source silence against a real OpenSearch node: a cluster's audit log stops, an unnamed cluster's Linkerd logs
 * stop, an expected Consul source never sends, while Istio keeps going. The detector (composite aggregation with
 * missing buckets and `max`, then each silent source's last document) pages the ops topic once per silence, and its
 * alerts are exactly the ones the in-memory evaluator (replay) gives on the same documents.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAlert } from "../../lambdas/core/alerts/build.js";
import type { SnsAlertMessage } from "../../lambdas/core/alerts/render.js";
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
    const evaluator = new StreamEvaluator(pack);
    const replayed = mergeDetections([
      ...documents.flatMap((d) => evaluator.push(d, d.rule?.name ?? [])),
      ...evaluator.finish(),
    ]).map((detection) => comparable(buildAlert(detection, { environment: ENVIRONMENT })));
    const publisher = new OpsPublisher();
    const logger = new RecordingLogger();
    const watermark = new InMemoryWatermark(START_MS + 40 * MINUTE);
    const run = (minute: number) =>
      detectorRun({
        client,
        pack,
        alertContext: { environment: ENVIRONMENT },
        publisher,
        logger,
        watermark,
        nowMs: START_MS + minute * MINUTE,
        runId: `run-${minute}`,
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
});
