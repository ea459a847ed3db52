/**
 * A sustained single-event incident against a real OpenSearch node: 45 `kubectl exec` by one operator into one pod
 * over a quarter of an hour, the detector running every minute with its 15-minute lookback. The alert folds them all
 * (suppression 10 minutes, grouped by user and pod), holds the earliest `DETECTION_EVENT_CAP`, counts each exec once however
 * many runs re-read it, pages once, and says what `audit-trail replay` says about the same log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../lambdas/core/normalize/index.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/load.js";
import { DETECTION_EVENT_CAP, type RulePack } from "../../lambdas/core/rules/types.js";
import { testClient } from "./helpers.js";
import {
  comparable,
  detectorRun,
  freshNodeWith,
  InMemoryWatermark,
  indexDocuments,
  indexedAlerts,
  RecordingLogger,
  RecordingPublisher,
  removeFromNode,
  replayLines,
  transformedLines,
} from "./incident.js";

const ENVIRONMENT = "long-alert-test";
const START_MS = Date.parse("2026-05-06T09:00:00.000Z");
const EXECS = 45;
const EVERY_MS = 20_000;

const POD = "payments-7d9c8b6f5-x2k4q";

/** One `kubectl exec` by `alice` into the same pod, as the API server logs its completion. */
function execEvent(n: number, startMs = START_MS, everyMs = EVERY_MS): string {
  const at = new Date(startMs + n * everyMs + 5_000).toISOString();
  return JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    auditID: `6f1c2d3e-0000-4000-8000-${String(n).padStart(12, "0")}`,
    stage: "ResponseComplete",
    requestURI: `/api/v1/namespaces/shop/pods/${POD}/exec?command=cat&command=%2Fetc%2Fsecret-${n}&container=payments`,
    verb: "create",
    user: { username: "alice@example.com", groups: ["sre", "system:authenticated"] },
    sourceIPs: ["10.0.12.7"],
    userAgent: "kubectl/v1.31.0 (linux/amd64) kubernetes/9a7f8b2",
    objectRef: { resource: "pods", subresource: "exec", namespace: "shop", name: POD, apiVersion: "v1" },
    responseStatus: { metadata: {}, code: 101 },
    requestReceivedTimestamp: at,
    stageTimestamp: at,
  });
}

describe("a sustained single-event incident on a real OpenSearch node", () => {
  const client = testClient();
  const lines = Array.from({ length: EXECS }, (_, n) => execEvent(n));
  let pack: RulePack;
  let dailyIndices: string[] = [];

  beforeAll(async () => {
    pack = await loadRulePack([defaultRulesDir()]);
    const documents = transformedLines(lines, pack);
    expect(documents.every((doc) => doc.rule?.name?.includes("k8s_pod_exec"))).toBe(true);
    // Indexed newest first: the query order, not the indexing order, decides which execs the alert holds.
    dailyIndices = await freshNodeWith(client, documents.reverse());
  });

  afterAll(async () => {
    await removeFromNode(client, dailyIndices);
  });

  it("counts every exec once across minute-by-minute runs, pages once, and agrees with replay", async () => {
    // Prepare
    const publisher = new RecordingPublisher();
    const logger = new RecordingLogger();
    const watermark = new InMemoryWatermark(START_MS);
    const lastEventMs = START_MS + (EXECS - 1) * EVERY_MS + 5_000;
    const replayed = (await replayLines(lines, ENVIRONMENT, "kube-apiserver-audit.log")).map(comparable);

    // Act
    for (let nowMs = START_MS + 60_000; nowMs <= lastEventMs + 5 * 60_000; nowMs += 60_000) {
      const report = await detectorRun({
        client,
        pack,
        alertContext: { environment: ENVIRONMENT },
        publisher,
        logger,
        watermark,
        nowMs,
        runId: `run-${nowMs}`,
      });
      expect(report.complete).toBe(true);
    }

    // Assess
    expect(logger.entries).toEqual([]);
    expect(publisher.published.map((message) => message.attributes.rule)).toEqual(["k8s_pod_exec"]);
    const alerts = (await indexedAlerts(client)).map((hit) => comparable(hit.document));
    expect(alerts).toHaveLength(1);
    const [alert] = alerts;
    expect(alert).toMatchObject({
      count: EXECS,
      group: {
        "kubernetes.audit.user.username": "alice@example.com",
        "kubernetes.audit.objectRef.namespace": "shop",
        "kubernetes.audit.objectRef.name": POD,
      },
      window: { start: new Date(START_MS + 5_000).toISOString(), end: new Date(lastEventMs).toISOString() },
      // Every exec, not the 20 kept: the last one's time.
      seen: {
        first: new Date(START_MS + 5_000).toISOString(),
        last: new Date(lastEventMs).toISOString(),
        complete: true,
      },
    });
    expect(alert?.events).toHaveLength(DETECTION_EVENT_CAP);
    expect(alerts).toEqual(replayed);
  });
});

describe("a sustained incident whose events arrive while the detector runs, on a real OpenSearch node", () => {
  const client = testClient();
  const startMs = START_MS + 86_400_000;
  const execs = 70;
  const everyMs = 10_000;
  const lagMs = 180_000;
  const happenedMs = (n: number) => startMs + n * everyMs + 5_000;
  /**
   * Firehose receives each record 3 s after it happened, but for a backlog: execs 10 to 64 reach it together with
   * the 64th (more than an alert lists arrive between two runs), then the last five as they happen again. The node
   * can search each 30 s after Firehose received it.
   */
  const receivedMs = (n: number) => (n >= 10 && n <= 64 ? happenedMs(64) : happenedMs(n)) + 3_000;
  const searchableMs = (n: number) => receivedMs(n) + 30_000;
  const lines = Array.from({ length: execs }, (_, n) => execEvent(n, startMs, everyMs));
  let pack: RulePack;
  let dailyIndices: string[] = [];

  beforeAll(async () => {
    pack = await loadRulePack([defaultRulesDir()]);
    dailyIndices = await freshNodeWith(client, []);
  });

  afterAll(async () => {
    await removeFromNode(client, dailyIndices);
  });

  it("reads each summary from what arrived since the last one, and agrees with replay on the whole incident", async () => {
    // Runs see: the alert created from the first execs and grown by a few (both sides list every value: merged),
    // then 55 at once (more than it lists: read over its whole span again), then one at a time (its audit IDs now
    // listed in part: merged with their distinct count over the whole span).
    // Prepare
    const documents = lines.map((line, n) => {
      const result = normalizeRecord(line, { receivedAt: new Date(receivedMs(n)).toISOString() });
      if (!result.ok) throw new Error(`exec ${n}: ${result.reason}`);
      return result.documents.map((doc) => ({ ...doc, rule: { name: pack.matchSingleEvent(doc) } }));
    });
    const publisher = new RecordingPublisher();
    const logger = new RecordingLogger();
    const watermark = new InMemoryWatermark(startMs);
    const replayed = (await replayLines(lines, ENVIRONMENT, "kube-apiserver-audit.log")).map(comparable);
    let arrivedCount = 0;
    let lastRunMs = startMs;

    // Act: every minute, the execs the node can search by then are indexed, and the detector runs incrementally.
    for (
      let nowMs = startMs + 60_000;
      arrivedCount < execs || nowMs <= searchableMs(execs - 1) + lagMs;
      nowMs += 60_000
    ) {
      const arrived: EcsDocument[] = [];
      while (arrivedCount < execs && searchableMs(arrivedCount) <= nowMs) {
        arrived.push(...(documents[arrivedCount++] ?? []));
      }
      if (arrived.length > 0)
        dailyIndices = [...new Set([...dailyIndices, ...(await indexDocuments(client, arrived))])];
      const report = await detectorRun({
        client,
        pack,
        alertContext: { environment: ENVIRONMENT },
        publisher,
        logger,
        watermark,
        nowMs,
        runId: `run-${nowMs}`,
        ingestLagMs: lagMs,
      });
      expect(report.complete).toBe(true);
      lastRunMs = nowMs;
      // After every run the alert accounts for every exec the node could search: each counted, each audit ID.
      const [current, ...others] = (await indexedAlerts(client)).map((hit) => hit.document);
      expect(others).toEqual([]);
      if (current !== undefined) {
        expect([current.count, current.distinct["kubernetes.audit.auditID"], current.seen.complete]).toEqual([
          arrivedCount,
          arrivedCount,
          true,
        ]);
      }
    }

    // Assess
    expect(logger.entries).toEqual([]);
    expect(publisher.published.map((message) => message.attributes.rule)).toEqual(["k8s_pod_exec"]);
    const indexed = (await indexedAlerts(client)).map((hit) => hit.document);
    expect(indexed).toHaveLength(1);
    const [alert] = indexed;
    // Every exec counted once, and more distinct audit IDs than an alert lists: their total merged exactly.
    expect(alert?.count).toBe(execs);
    expect(alert?.distinct["kubernetes.audit.auditID"]).toBe(execs);
    // The summary the alert holds read everything ingested before its last rewrite's run, less the ingest lag.
    expect(Date.parse(alert?.seen.through ?? "")).toBeLessThanOrEqual(lastRunMs - lagMs);
    expect(indexed.map(comparable)).toEqual(replayed);
  });
});
