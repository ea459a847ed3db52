/**
 * The detector core against a real OpenSearch node, on the bundled incident: its queries and aggregations give
 * exactly the alerts `audit-trail replay` gives on the same files, two runs at once page each alert once, and a
 * failed publish stays pending in the real index until the next run publishes it. With every threshold lowered, so
 * that every aggregation fires in many windows and groups, the two still agree: on OpenSearch's t-digest
 * percentiles (replay interpolates as the digest does) and on which events an alert holds when it counts more than
 * it keeps (both take the earliest by event time, then `event.id`).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Alert, AlertContext } from "../../lambdas/core/alerts/model.js";
import { ALERTS_INDEX } from "../../lambdas/core/contracts.js";
import type { DetectionReport } from "../../lambdas/core/detection/run.js";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { GeoIpDatabase } from "../../lambdas/core/geo/index.js";
import { bootstrapDomain } from "../../lambdas/core/opensearch/index.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/load.js";
import { DETECTION_EVENT_CAP, type RulePack } from "../../lambdas/core/rules/types.js";
import { INCIDENT_RULES } from "../fixtures/incident.js";
import { TEST_BOOTSTRAP_OPTIONS, testClient, testSettings } from "./helpers.js";
import {
  comparable,
  detectorRun,
  InMemoryWatermark,
  incidentFiles,
  indexDocuments,
  indexedAlerts,
  judgedAllMs,
  QUIET_SOURCES,
  RecordingLogger,
  RecordingPublisher,
  replayAlerts,
  sortedById,
  transformedDocuments,
} from "./incident.js";

const ENVIRONMENT = "incident-test";
/**
 * Every correlation threshold lowered (single-event matching, and so the transform's tags, unchanged), so that each
 * aggregation the detector reads fires on the incident in many windows and groups: event counts, distinct counts
 * (`cardinality`), failure shares (`filter`) and percentiles (`percentiles`, OpenSearch's t-digest).
 */
const LOW_THRESHOLDS = {
  rules: {
    ...QUIET_SOURCES.rules,
    mesh_auth_failure_burst: { condition: { gte: 1 } },
    mesh_bulk_data_access: { condition: { gt: 0 } },
    mesh_service_discovery_scan: { condition: { gt: 1 } },
    mesh_error_rate_high: { condition: { gt: 0 }, minCount: 1 },
    mesh_latency_p99_high: { condition: { gt: 0 } },
    k8s_api_public_access_failures: { condition: { gte: 0 }, minCount: 1 },
  },
};

describe("detector on a real OpenSearch node (bundled incident)", () => {
  const client = testClient();
  let pack: RulePack;
  let alertContext: AlertContext;
  let replayed: Alert[];
  let dailyIndices: string[] = [];
  /** The incident as indexed (normalized and tagged). */
  let documents: EcsDocument[];
  /** The detector's last complete run before the incident began. */
  let startMs: number;
  /** Just after the last event: every window holding an incident event has closed. */
  let nowMs: number;

  const byId = (alerts: readonly Parameters<typeof comparable>[0][]) => sortedById(alerts.map(comparable));
  const pagedIds = () =>
    replayed
      .filter((alert) => alert.paged)
      .map((alert) => alert.id)
      .sort();
  const run = (
    publisher: RecordingPublisher,
    watermark: InMemoryWatermark,
    runId: string,
    logger = new RecordingLogger(),
    at = nowMs,
    rules = pack,
  ): Promise<DetectionReport> =>
    detectorRun({ client, pack: rules, alertContext, publisher, logger, watermark, nowMs: at, runId });

  beforeAll(async () => {
    const files = incidentFiles();
    pack = await loadRulePack([defaultRulesDir()], QUIET_SOURCES);
    documents = transformedDocuments(files, pack);
    const times = documents.map((doc) => Date.parse(doc["@timestamp"]));
    const firstMs = Math.min(...times);
    const lastMs = Math.max(...times);
    startMs = Math.floor(firstMs / 60_000) * 60_000;
    nowMs = judgedAllMs(pack, lastMs);
    // The same country lookup the CLI uses (`@ip-location-db/dbip-country`), so both paths render alike.
    const geoDir = dirname(
      createRequire(import.meta.url).resolve("@ip-location-db/dbip-country/package.json"),
    );
    alertContext = { environment: ENVIRONMENT, geo: GeoIpDatabase.load(geoDir) };

    await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
    await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
    dailyIndices = await indexDocuments(client, documents);
    replayed = await replayAlerts(files, ENVIRONMENT, QUIET_SOURCES);
  });

  beforeEach(async () => {
    await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
    await client.indices.create({ index: ALERTS_INDEX });
  });

  afterAll(async () => {
    await client.indices.delete({
      index: [...dailyIndices, ALERTS_INDEX].join(","),
      ignore_unavailable: true,
    });
  });

  it("gives exactly the alerts replay gives, and pages each once", async () => {
    // Prepare
    const publisher = new RecordingPublisher();
    const logger = new RecordingLogger();

    // Act
    const report = await run(publisher, new InMemoryWatermark(startMs), "parity", logger);

    // Assess
    expect(logger.entries).toEqual([]);
    expect(report).toMatchObject({ complete: true, failedRules: [], partialRules: [], skipped: [] });
    expect(replayed.map((alert) => alert.rule.name).sort()).toEqual(INCIDENT_RULES);
    const stored = await indexedAlerts(client);
    expect(stored.map((hit) => hit._id)).toEqual(stored.map((hit) => hit.document.id));
    expect(byId(stored.map((hit) => hit.document))).toEqual(byId(replayed));
    expect(publisher.ids().sort()).toEqual(pagedIds());
    expect(report.delivered.published).toBe(pagedIds().length);
    expect(stored.map((hit) => hit.document.outbox.status)).toEqual(stored.map(() => "published"));
  });

  it("pages each alert once when two runs evaluate the same window at once", async () => {
    // Prepare
    const first = new RecordingPublisher();
    const second = new RecordingPublisher();
    const watermark = new InMemoryWatermark(startMs);

    // Act
    const reports = await Promise.all([run(first, watermark, "run-a"), run(second, watermark, "run-b")]);
    // The next scheduled run, a minute later: the alerts index has long been refreshed (every second).
    const stored = await indexedAlerts(client);
    const third = new RecordingPublisher();
    const later = await run(third, watermark, "run-c", new RecordingLogger(), nowMs + 60_000);

    // Assess
    expect(reports.map((report) => report.complete)).toEqual([true, true]);
    expect(stored.map((hit) => hit._id).sort()).toEqual(replayed.map((alert) => alert.id).sort());
    expect([...first.ids(), ...second.ids()].sort()).toEqual(pagedIds());
    expect(
      reports.reduce((sum, report) => sum + report.delivered.published + report.retried.published, 0),
    ).toBe(pagedIds().length);
    expect(later).toMatchObject({ complete: true, extended: 0, delivered: { published: 0 } });
    expect(third.attempts).toBe(0);
    expect((await indexedAlerts(client)).map((hit) => hit._id).sort()).toEqual(
      stored.map((hit) => hit._id).sort(),
    );
    expect(byId((await indexedAlerts(client)).map((hit) => hit.document))).toEqual(byId(replayed));
  });

  it("keeps an alert whose publish failed pending in the index, and the next run publishes it once", async () => {
    // Prepare
    const failing = replayed.find((alert) => alert.rule.name === "k8s_pod_exec") as Alert;
    const first = new RecordingPublisher();
    first.fail = (message) => message.attributes.rule === "k8s_pod_exec";
    const second = new RecordingPublisher();
    const watermark = new InMemoryWatermark(startMs);

    // Act
    const failed = await run(first, watermark, "run-1");
    const afterFailure = await indexedAlerts(client);
    const retried = await run(second, watermark, "run-2", new RecordingLogger(), nowMs + 60_000);

    // Assess
    expect(failed).toMatchObject({ complete: true, delivered: { publish_failed: 1 } });
    expect(watermark.valueMs).toBe(nowMs + 60_000);
    const pending = afterFailure.find((hit) => hit._id === failing.id)?.document.outbox;
    expect(pending).toMatchObject({
      status: "pending",
      attempts: 1,
      lastError: expect.stringContaining("Rate"),
    });
    expect(pending?.claimedBy).toBeUndefined();
    expect(first.ids().sort()).toEqual(pagedIds().filter((id) => id !== failing.id));
    expect(retried.retried).toMatchObject({ published: 1, publish_failed: 0 });
    expect(second.ids()).toEqual([failing.id]);
    const stored = await indexedAlerts(client);
    expect(stored.find((hit) => hit._id === failing.id)?.document.outbox).toMatchObject({
      status: "published",
      attempts: 2,
      messageId: "msg-1",
    });
    expect(byId(stored.map((hit) => hit.document))).toEqual(byId(replayed));
  });

  it("agrees with replay on every aggregation type when the thresholds are lowered", async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), "detector-test-"));
    const overridesFile = join(dir, "overrides.json");
    await writeFile(overridesFile, JSON.stringify(LOW_THRESHOLDS));
    const lowered = await loadRulePack([defaultRulesDir()], LOW_THRESHOLDS);
    const expected = await replayAlerts(incidentFiles(), ENVIRONMENT, overridesFile);
    await rm(dir, { recursive: true });
    const publisher = new RecordingPublisher();
    const logger = new RecordingLogger();

    // Act
    const report = await run(publisher, new InMemoryWatermark(startMs), "lowered", logger, nowMs, lowered);

    // Assess
    expect(logger.entries).toEqual([]);
    expect(report).toMatchObject({ complete: true, failedRules: [], partialRules: [], skipped: [] });
    const detector = byId((await indexedAlerts(client)).map((hit) => hit.document));
    const replayedLow = byId(expected);
    expect(detector.map((alert) => alert.id)).toEqual(replayedLow.map((alert) => alert.id));
    const covered = { percentiles: 0, cappedEvents: 0 };
    detector.forEach((alert, index) => {
      const { value, ...rest } = alert;
      const { value: replayedValue, ...replayedRest } = replayedLow[index] as (typeof replayedLow)[number];
      expect(rest).toEqual(replayedRest);
      // Equal up to rounding: OpenSearch does the same arithmetic in its own order.
      if (replayedValue === undefined) expect(value).toBeUndefined();
      else
        expect(Math.abs((value ?? Number.NaN) - replayedValue)).toBeLessThan(Math.abs(replayedValue) * 1e-12);
      if (alert.rule.type === "percentile") covered.percentiles++;
      if (alert.events.length === DETECTION_EVENT_CAP) covered.cappedEvents++;
    });
    // The comparison covered t-digest percentiles and alerts holding fewer events than they count.
    expect(covered.percentiles).toBeGreaterThan(0);
    expect(covered.cappedEvents).toBeGreaterThan(0);
  });
});
