/**
 * Incremental evaluation on a real OpenSearch node: a detector that reads only what may be new since its last run
 * (`ingestLagMs`: documents ingested after `watermark - lag`, the windows holding one, the windows that closed)
 * writes the same alerts, minute after minute, as one that evaluates its whole 15-minute lookback every run, and
 * also catches an event that arrives long after its event time (beyond the lookback), which the whole-lookback
 * detector cannot see.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../lambdas/core/alerts/model.js";
import { ALERTS_INDEX } from "../../lambdas/core/contracts.js";
import { type DetectionReport, runDetection } from "../../lambdas/core/detection/run.js";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { bootstrapDomain } from "../../lambdas/core/opensearch/index.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/load.js";
import type { RulePack } from "../../lambdas/core/rules/types.js";
import { indexTraffic, trafficDocuments } from "./detector-traffic.js";
import { TEST_BOOTSTRAP_OPTIONS, testClient, testSettings } from "./helpers.js";
import {
  comparable,
  dailyIndex,
  detectorOnNode,
  indexedAlerts,
  RecordingLogger,
  RecordingPublisher,
  sortedById,
  transformedLines,
} from "./incident.js";

const START = Date.parse("2026-06-02T10:00:00.000Z");
const SPAN_MS = 15 * 60_000;
const LAG_MS = 180_000;
/** A `kubectl exec` logged 40 minutes after it happened (an API server's audit backlog). */
const LATE_EXEC_RECEIVED = START + SPAN_MS + 2 * 60_000;
const LATE_EXEC_AT = LATE_EXEC_RECEIVED - 40 * 60_000;
const LATE_AUDIT_ID = "0a1b2c3d-0000-4000-8000-00000000late";

/** The late exec as the transform indexes it: normalized, tagged with the rules it matches. */
function lateExec(pack: RulePack): EcsDocument[] {
  const at = new Date(LATE_EXEC_AT).toISOString();
  const line = JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    auditID: LATE_AUDIT_ID,
    stage: "ResponseComplete",
    requestURI: "/api/v1/namespaces/shop/pods/cart-0/exec?command=sh&container=cart",
    verb: "create",
    user: { username: "mallory@example.com", groups: ["system:authenticated"] },
    sourceIPs: ["10.0.12.9"],
    objectRef: {
      resource: "pods",
      subresource: "exec",
      namespace: "shop",
      name: "cart-0",
      apiVersion: "v1",
    },
    responseStatus: { metadata: {}, code: 101 },
    requestReceivedTimestamp: at,
    stageTimestamp: at,
  });
  return transformedLines([line], pack, "late exec", new Date(LATE_EXEC_RECEIVED).toISOString());
}

describe("incremental evaluation on a real OpenSearch node", () => {
  const client = testClient();
  let pack: RulePack;
  let indices: string[] = [];

  /** Runs every minute from the traffic's start to `untilMs`, each from the last complete run's watermark. */
  async function minuteByMinute(ingestLagMs: number | undefined, untilMs: number): Promise<Alert[]> {
    await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
    await client.indices.create({ index: ALERTS_INDEX });
    // The late exec becomes searchable a little after Firehose received it, not before.
    for (const doc of lateExec(pack)) {
      await client.delete({ index: dailyIndex(doc), id: LATE_AUDIT_ID, refresh: true }, { ignore: [404] });
    }
    const logger = new RecordingLogger();
    let watermarkMs: number | undefined = START;
    for (let nowMs = START + 60_000; nowMs <= untilMs; nowMs += 60_000) {
      if (nowMs === LATE_EXEC_RECEIVED + 60_000) {
        for (const doc of lateExec(pack)) {
          await client.index({ index: dailyIndex(doc), id: LATE_AUDIT_ID, body: doc, refresh: true });
        }
      }
      const report: DetectionReport = await runDetection(
        detectorOnNode({
          client,
          publisher: new RecordingPublisher(),
          logger,
          pack,
          alertContext: { environment: "incremental-test" },
        }),
        {
          nowMs,
          watermarkMs,
          runId: `run-${nowMs}`,
          clock: () => nowMs,
          ...(ingestLagMs === undefined ? {} : { ingestLagMs }),
        },
      );
      expect(report.complete).toBe(true);
      watermarkMs = nowMs;
    }
    expect(logger.entries).toEqual([]);
    return (await indexedAlerts(client)).map((hit) => hit.document);
  }

  beforeAll(async () => {
    pack = await loadRulePack([defaultRulesDir()]);
    await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
    await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
    indices = await indexTraffic(
      client,
      trafficDocuments(
        {
          events: 4000,
          services: 30,
          principals: 8,
          startMs: START,
          spanMs: SPAN_MS,
          plaintextShare: 0.01,
          ingestDelayMs: 5_000,
        },
        pack,
      ),
    );
    indices = [...new Set([...indices, ...lateExec(pack).map(dailyIndex)])];
  });

  afterAll(async () => {
    await client.indices.delete({ index: [...indices, ALERTS_INDEX].join(","), ignore_unavailable: true });
  });

  it("writes the whole-lookback detector's alerts, and the event that came 40 minutes late", async () => {
    // Act
    const until = START + SPAN_MS + 5 * 60_000;
    const whole = (await minuteByMinute(undefined, until)).map(comparable);
    const incremental = (await minuteByMinute(LAG_MS, until)).map(comparable);

    // Assess
    const rules = new Set(whole.map((alert) => alert.rule.name));
    expect([...rules].sort()).toEqual(
      expect.arrayContaining(["mesh_plaintext_traffic", "mesh_service_discovery_scan"]),
    );
    const late = incremental.filter((alert) => alert.rule.name === "k8s_pod_exec");
    expect(late).toHaveLength(1);
    expect(late[0]?.seen.first).toBe(new Date(LATE_EXEC_AT).toISOString());
    // The whole-lookback detector never looked 40 minutes back at the time the exec arrived.
    expect(whole.filter((alert) => alert.rule.name === "k8s_pod_exec")).toEqual([]);
    expect(sortedById(incremental.filter((alert) => alert.rule.name !== "k8s_pod_exec"))).toEqual(
      sortedById(whole),
    );
  });
});
