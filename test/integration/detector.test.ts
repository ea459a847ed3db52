/**
 * The detector core against a real OpenSearch node, on the bundled incident: its queries and aggregations give
 * exactly the alerts `audit-trail replay` gives on the same files, two runs at once page each alert once, and a
 * failed publish stays pending in the real index until the next run publishes it. With every threshold lowered,
 * the two paths differ only where they must: OpenSearch's t-digest percentiles, and which of a span's events an
 * alert keeps when the log is not in event-time order (both checked exactly against the indexed documents).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { documentFingerprint } from "../../lambdas/core/alerts/ids.js";
import type { Alert, AlertContext } from "../../lambdas/core/alerts/model.js";
import { ALERTS_INDEX } from "../../lambdas/core/contracts.js";
import type { DetectionReport } from "../../lambdas/core/detection/run.js";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { GeoIpDatabase } from "../../lambdas/core/geo/index.js";
import { bootstrapDomain } from "../../lambdas/core/opensearch/index.js";
import { percentile } from "../../lambdas/core/rules/evaluator.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/load.js";
import { type CorrelationRule, DETECTION_EVENT_CAP, type RulePack } from "../../lambdas/core/rules/types.js";
import { hopMs } from "../../lambdas/core/rules/windows.js";
import { TEST_BOOTSTRAP_OPTIONS, testClient, testSettings } from "./helpers.js";
import {
  comparable,
  detectorRun,
  fieldValue,
  InMemoryWatermark,
  incidentFiles,
  indexDocuments,
  indexedAlerts,
  matchedDocuments,
  RecordingLogger,
  RecordingPublisher,
  replayAlerts,
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

  const byId = (alerts: readonly Parameters<typeof comparable>[0][]) =>
    alerts.map(comparable).sort((a, b) => a.id.localeCompare(b.id));
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
    pack = await loadRulePack([defaultRulesDir()]);
    documents = transformedDocuments(files, pack);
    const times = documents.map((doc) => Date.parse(doc["@timestamp"]));
    const firstMs = Math.min(...times);
    const lastMs = Math.max(...times);
    startMs = Math.floor(firstMs / 60_000) * 60_000;
    nowMs = Math.max(
      ...pack.correlationRules.map((rule) => {
        const hop = hopMs(rule.timespanMs);
        return Math.floor(lastMs / hop) * hop + rule.timespanMs;
      }),
    );
    // The same country lookup the CLI uses (`@ip-location-db/dbip-country`), so both paths render alike.
    const geoDir = dirname(
      createRequire(import.meta.url).resolve("@ip-location-db/dbip-country/package.json"),
    );
    alertContext = { environment: ENVIRONMENT, geo: GeoIpDatabase.load(geoDir) };

    await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
    await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
    dailyIndices = await indexDocuments(client, documents);
    replayed = await replayAlerts(files, ENVIRONMENT);
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
    expect(report).toMatchObject({ complete: true, failedRules: [], truncatedRules: [] });
    expect(replayed.map((alert) => alert.rule.name).sort()).toEqual([
      "k8s_pod_exec",
      "mesh_auth_failure_burst",
      "mesh_config_change",
      "mesh_plaintext_traffic",
      "mesh_service_discovery_scan",
    ]);
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
    expect(report).toMatchObject({ complete: true, failedRules: [], truncatedRules: [] });
    const detector = byId((await indexedAlerts(client)).map((hit) => hit.document));
    const replayedLow = byId(expected);
    expect(detector.map((alert) => alert.id)).toEqual(replayedLow.map((alert) => alert.id));
    const approximations = { percentiles: 0, cappedEvents: 0 };
    detector.forEach((alert, index) => {
      const other = replayedLow[index] as (typeof replayedLow)[number];
      const rule = lowered.get(alert.rule.name);
      const percentileRule = rule?.kind === "correlation" && rule.type === "percentile" ? rule : undefined;
      const capped = rule?.kind === "correlation" && alert.events.length === DETECTION_EVENT_CAP;
      const exactPart = ({ value, events, ...rest }: typeof alert) => ({
        ...rest,
        ...(percentileRule === undefined ? { value } : {}),
        ...(capped ? {} : { events }),
      });
      expect(exactPart(alert)).toEqual(exactPart(other));
      if (percentileRule !== undefined) {
        approximations.percentiles++;
        expectTDigestPercentile(percentileRule, alert, other);
      }
      if (capped && rule?.kind === "correlation") {
        approximations.cappedEvents++;
        expectEarliestEvents(rule, alert, other);
      }
    });
    expect(approximations.percentiles).toBeGreaterThan(0);
    expect(approximations.cappedEvents).toBeGreaterThan(0);
  });

  /**
   * The alert's percentile comes from the first window of its span holding `count` events (the same window on both
   * paths). Replay interpolates linearly at rank `(n - 1) * p / 100`. OpenSearch's t-digest keeps the tail samples
   * of sets this small as single centroids, each at its midpoint, so it interpolates at rank `n * p / 100 - 0.5`:
   * the two differ by less than one gap between adjacent samples, and near a threshold they can disagree.
   */
  function expectTDigestPercentile(
    rule: CorrelationRule,
    alert: ReturnType<typeof comparable>,
    other: ReturnType<typeof comparable>,
  ): void {
    const windowStarts: number[] = [];
    for (
      let start = Date.parse(alert.window.start);
      start + rule.timespanMs <= Date.parse(alert.window.end);
      start += hopMs(rule.timespanMs)
    ) {
      windowStarts.push(start);
    }
    const windowStart = windowStarts.find(
      (start) =>
        matchedDocuments(documents, rule, alert.group, start, start + rule.timespanMs).length === alert.count,
    ) as number;
    const samples = matchedDocuments(documents, rule, alert.group, windowStart, windowStart + rule.timespanMs)
      .map((doc) => fieldValue(doc, rule.field as string))
      .filter((value): value is number => typeof value === "number")
      .sort((a, b) => a - b);
    const p = rule.percentile ?? 50;
    expect(other.value).toBe(percentile([...samples], p));
    expect(alert.value).toBeCloseTo(interpolated(samples, (samples.length * p) / 100 - 0.5), 3);
  }

  /**
   * An alert holds its span's first `DETECTION_EVENT_CAP` events. The detector asks OpenSearch for the earliest by
   * event time; replay keeps the first to arrive, which differ when a log is not in event-time order.
   */
  function expectEarliestEvents(
    rule: CorrelationRule,
    alert: ReturnType<typeof comparable>,
    other: ReturnType<typeof comparable>,
  ): void {
    const matched = matchedDocuments(
      documents,
      rule,
      alert.group,
      Date.parse(alert.window.start),
      Date.parse(alert.window.end),
    );
    const timeOf = new Map(matched.map((doc) => [documentFingerprint(doc), doc["@timestamp"]]));
    expect(alert.events.map((id) => timeOf.get(id))).toEqual(
      matched.slice(0, DETECTION_EVENT_CAP).map((doc) => doc["@timestamp"]),
    );
    expect(other.events.every((id) => timeOf.has(id))).toBe(true);
    expect(new Set(other.events).size).toBe(DETECTION_EVENT_CAP);
  }
});

/** Linear interpolation between the sorted samples at a fractional rank, clamped to the ends. */
function interpolated(sorted: readonly number[], rank: number): number {
  const position = Math.min(Math.max(rank, 0), sorted.length - 1);
  const low = sorted[Math.floor(position)] as number;
  const high = sorted[Math.ceil(position)] as number;
  return low + (high - low) * (position - Math.floor(position));
}
