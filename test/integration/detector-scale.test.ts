/**
 * The detector at volume on the real node, on its default heap (768 MB): generated traffic (1,000 caller identities,
 * 200 services, 10,000 events in 15 minutes, `detector-traffic.ts`) through the default pack. Every rule completes
 * (the distinct-count aggregation once asked 40,000 of precision per principal and window and tripped the request
 * circuit breaker here), more single-event matches than one page are all read and counted, and the detector's alerts
 * are exactly replay's on the same lines.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../lambdas/core/alerts/model.js";
import { ALERTS_INDEX } from "../../lambdas/core/contracts.js";
import { bootstrapDomain } from "../../lambdas/core/opensearch/index.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/load.js";
import type { RulePack } from "../../lambdas/core/rules/types.js";
import { indexTraffic, type TrafficShape, trafficDocuments, trafficLines } from "./detector-traffic.js";
import { TEST_BOOTSTRAP_OPTIONS, testClient, testSettings } from "./helpers.js";
import {
  comparable,
  detectorRun,
  InMemoryWatermark,
  indexedAlerts,
  RecordingLogger,
  RecordingPublisher,
  removeFromNode,
  replayLines,
  sortedById,
} from "./incident.js";

const ENVIRONMENT = "scale-test";
const START = Date.parse("2026-05-04T10:00:00Z");
const SHAPE: TrafficShape = {
  events: 10_000,
  services: 200,
  principals: 1000,
  startMs: START,
  spanMs: 15 * 60_000,
  // 1,500 plaintext requests: more matches than one page.
  plaintextShare: 0.15,
};

describe("detector at 10k events per 15 minutes, 1,000 principals, on the default heap", () => {
  const client = testClient();
  let pack: RulePack;
  let indices: string[] = [];
  let replayed: Alert[];
  /** Every window holding an event has closed. */
  const nowMs = START + SHAPE.spanMs + 10 * 60_000;

  beforeAll(async () => {
    pack = await loadRulePack([defaultRulesDir()]);
    await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
    await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
    indices = await indexTraffic(client, trafficDocuments(SHAPE, pack));
    replayed = await replayLines(trafficLines(SHAPE), ENVIRONMENT, "traffic.log");
  });

  afterAll(async () => {
    await removeFromNode(client, indices);
  });

  it("evaluates every rule, reads every match, and gives exactly replay's alerts", async () => {
    // Prepare
    const publisher = new RecordingPublisher();
    const logger = new RecordingLogger();
    const plaintext = [...trafficDocuments(SHAPE, pack)].filter((doc) =>
      (doc.rule?.name ?? []).includes("mesh_plaintext_traffic"),
    ).length;

    // Act
    const report = await detectorRun({
      client,
      pack,
      alertContext: { environment: ENVIRONMENT },
      publisher,
      logger,
      watermark: new InMemoryWatermark(START),
      nowMs,
      runId: "scale",
    });

    // Assess
    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({ complete: true, partialRules: [], skipped: [] });
    const stored = (await indexedAlerts(client)).map((hit) => hit.document);
    const byRule = (alerts: readonly { rule: { name: string } }[]) =>
      alerts.reduce<Record<string, number>>((counts, alert) => {
        counts[alert.rule.name] = (counts[alert.rule.name] ?? 0) + 1;
        return counts;
      }, {});
    expect(byRule(stored)).toEqual(byRule(replayed));
    expect(byRule(stored).mesh_service_discovery_scan).toBeGreaterThan(0);
    // More plaintext matches than one page (1,000), every one counted in an alert.
    expect(plaintext).toBeGreaterThan(1000);
    const counted = stored
      .filter((alert) => alert.rule.name === "mesh_plaintext_traffic")
      .reduce((sum, alert) => sum + alert.count, 0);
    expect(counted).toBe(plaintext);
    expect(sortedById(stored.map(comparable))).toEqual(sortedById(replayed.map(comparable)));
  });
});
