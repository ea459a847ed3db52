import { beforeEach, describe, expect, it } from "vitest";
import { buildAlert } from "../../../../lambdas/core/alerts/build.js";
import { ALERTS_INDEX } from "../../../../lambdas/core/contracts.js";
import { Outbox } from "../../../../lambdas/core/detection/outbox.js";
import { AlertStore } from "../../../../lambdas/core/detection/store.js";
import { execEvent, singleDetection, singleRule } from "../alerts/factories.js";
import { FakeOpenSearch } from "./fake-opensearch.js";
import { EMPTY_SEARCH, NOW, RecordingPublisher, scenario, silentLogger } from "./scenario.js";

beforeEach(() => {
  silentLogger.errors.length = 0;
  silentLogger.warnings.length = 0;
});

describe("a detection run", () => {
  it("pages the exec and the burst once each, with alerts indexed and marked published", async () => {
    // Prepare
    const { run, publisher, search } = scenario();
    // Act
    const report = await run();
    // Assess
    expect(publisher.rules().sort()).toEqual(["k8s_pod_exec", "mesh_auth_failure_burst"]);
    expect(Object.values(search.statuses())).toEqual(["published", "published"]);
    expect(report.delivered.published).toBe(2);
    expect(report.firings).toBe(3);
    expect(report.suppressed).toBe(1);
    expect(report.complete).toBe(true);
    const burst = publisher.published.find(
      (entry) => entry.message.attributes.rule === "mesh_auth_failure_burst",
    );
    expect(burst?.topic).toBe("medium");
    const body = JSON.parse(JSON.parse(burst?.message.message ?? "{}").https) as Record<string, unknown>;
    expect(body).toMatchObject({
      count: 4,
      window: { start: "2025-03-04T10:03:00.000Z", end: "2025-03-04T10:04:30.000Z" },
      group: { "mesh.source.principal": "spiffe://cluster.local/ns/web/sa/frontend" },
    });
    expect((body.events as unknown[]).length).toBe(4);
  });

  it("never pages twice when retried: the second run finds the alerts and publishes nothing", async () => {
    // Prepare
    const { run, publisher } = scenario();
    await run();
    // Act
    const again = await run();
    // Assess
    expect(publisher.published).toHaveLength(2);
    expect(again.delivered.published).toBe(0);
    expect(again.suppressed).toBe(3);
    expect(again.complete).toBe(true);
  });

  it("pages once when two runs race over the same data", async () => {
    // Prepare
    const { run, publisher, search } = scenario();
    // Act
    const [first, second] = await Promise.all([run({ runId: "a" }), run({ runId: "b" })]);
    // Assess
    expect(publisher.rules().sort()).toEqual(["k8s_pod_exec", "mesh_auth_failure_burst"]);
    expect((first?.delivered.published ?? 0) + (second?.delivered.published ?? 0)).toBe(2);
    expect((first?.delivered.duplicate ?? 0) + (second?.delivered.duplicate ?? 0)).toBe(2);
    expect(Object.values(search.statuses())).toEqual(["published", "published"]);
  });

  it("loses no alert when SNS fails: the alert stays pending and the next run publishes it", async () => {
    // Prepare
    const { run, publisher, search, setClock } = scenario();
    publisher.fail = () => true;
    const failed = await run();
    expect(failed.delivered.publish_failed).toBe(2);
    expect(Object.values(search.statuses())).toEqual(["pending", "pending"]);
    // Act
    publisher.fail = () => false;
    setClock(NOW + 60_000);
    const next = await run();
    // Assess
    expect(next.retried.published).toBe(2);
    expect(next.delivered.published).toBe(0);
    expect(publisher.rules().sort()).toEqual(["k8s_pod_exec", "mesh_auth_failure_burst"]);
    expect(Object.values(search.statuses())).toEqual(["published", "published"]);
    const stored = [...search.documents.values()][0]?.source.outbox as {
      attempts: number;
      lastError?: string;
    };
    expect(stored.attempts).toBe(2);
  });

  it("loses no alert when OpenSearch refuses the write: nothing is paged and the run is incomplete", async () => {
    // Prepare
    const { run, publisher, search, setClock } = scenario();
    search.failWrite = () => true;
    const failed = await run();
    expect(failed.delivered.persist_failed).toBe(2);
    expect(failed.complete).toBe(false);
    expect(publisher.published.filter((entry) => entry.topic !== "ops")).toHaveLength(0);
    // Act: OpenSearch is back; both rules resume from the start of the range they could not write.
    search.failWrite = () => false;
    setClock(NOW + 60_000);
    const next = await run({ watermarkMs: NOW, resumeFromMs: failed.resumeFromMs });
    // Assess
    expect(failed.resumeFromMs).toEqual({
      k8s_pod_exec: NOW - 60_000 - 15 * 60_000,
      mesh_auth_failure_burst: NOW - 60_000 - 15 * 60_000,
    });
    expect(next.delivered.published).toBe(2);
    expect(
      publisher.published
        .filter((entry) => entry.topic !== "ops")
        .map((entry) => entry.message.attributes.rule)
        .sort(),
    ).toEqual(["k8s_pod_exec", "mesh_auth_failure_burst"]);
  });

  it("fails the rules, pages nothing, and tells the ops topic once, when the searches fail", async () => {
    const { run, publisher, search } = scenario();
    search.failSearch = (index) => index !== ALERTS_INDEX;
    const report = await run();
    const again = await run({ resumeFromMs: report.resumeFromMs });
    expect(report.complete).toBe(false);
    expect([...report.failedRules].sort()).toEqual(["k8s_pod_exec", "mesh_auth_failure_burst"]);
    expect(again.failedRules).toHaveLength(2);
    expect(publisher.published.map((entry) => entry.topic)).toEqual(["ops", "ops"]);
    expect(publisher.rules().sort()).toEqual(["k8s_pod_exec", "mesh_auth_failure_burst"]);
    expect(JSON.parse(publisher.published[0]?.message.message ?? "{}").default).toContain(
      "ConnectionError: search: connect ECONNREFUSED",
    );
  });

  it("reads the counts and events of the pass's new alerts in one _msearch and writes them in one _bulk", async () => {
    // Prepare
    const { run, search } = scenario();
    // Act
    const report = await run();
    // Assess: one create and one mark for both alerts; no per-alert search on the audit indices (one _msearch holds
    // the single-event rules' first pages, one the new alerts' counts and events).
    expect(report.delivered.published).toBe(2);
    expect(search.requests).toEqual({ msearch: 2, bulk: 2 });
    expect(search.writes).toHaveLength(4);
  });

  it("carries over the alerts not written by the write deadline: their rule resumes and the next run pages them", async () => {
    // Prepare: one alert per batch; publishing the first uses up the run's write time.
    const { run, publisher, search, setClock } = scenario();
    publisher.fail = () => {
      setClock(NOW + 30_000);
      return false;
    };
    // Act
    const first = await run({ writeBatchSize: 1, writeDeadlineMs: NOW + 10_000 });
    publisher.fail = () => false;
    setClock(NOW + 60_000);
    const next = await run({ watermarkMs: NOW, resumeFromMs: first.resumeFromMs });
    // Assess: the burst (the earlier window) was written, the exec carried over; each paged once in all.
    expect(first.delivered.published).toBe(1);
    expect(first.partialRules).toEqual(["k8s_pod_exec"]);
    expect(first.failedRules).toEqual([]);
    expect(first.complete).toBe(false);
    expect(first.resumeFromMs).toEqual({ k8s_pod_exec: NOW - 60_000 - 15 * 60_000 });
    expect(publisher.rules()).toEqual(["mesh_auth_failure_burst", "k8s_pod_exec"]);
    expect(next.delivered.published).toBe(1);
    expect(next.complete).toBe(true);
    expect(Object.values(search.statuses())).toEqual(["published", "published"]);
  });

  it("retries the published mark in the run when OpenSearch blips after SNS accepted the alert", async () => {
    // Prepare: the first mark (the write after create) fails once per alert.
    const { run, publisher, search } = scenario();
    const failedOnce = new Set<string>();
    search.failWrite = (request) => {
      const status = (request.document.outbox as { status: string }).status;
      if (status !== "published" || failedOnce.has(request.id)) return false;
      failedOnce.add(request.id);
      return true;
    };
    // Act
    const report = await run();
    const again = await run();
    // Assess
    expect(report.delivered.published).toBe(2);
    expect(again.retried.published + again.delivered.published).toBe(0);
    expect(publisher.published).toHaveLength(2);
    expect(Object.values(search.statuses())).toEqual(["published", "published"]);
  });
});

describe("the outbox", () => {
  const alert = () => buildAlert(singleDetection(singleRule(), execEvent()), { environment: "prod" });
  const setup = (runId: string, clock: () => number, search: FakeOpenSearch, publisher: RecordingPublisher) =>
    new Outbox(new AlertStore(search, ALERTS_INDEX), publisher, silentLogger, {
      runId,
      clock,
      leaseMs: 300_000,
    });

  it("publishes an alert it created and reports a second creation as a duplicate", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, () => EMPTY_SEARCH);
    const publisher = new RecordingPublisher();
    const outbox = setup("r1", () => NOW, search, publisher);
    expect(await outbox.deliverNew(alert())).toBe("published");
    expect(await outbox.deliverNew(alert())).toBe("duplicate");
    expect(publisher.published).toHaveLength(1);
  });

  it("indexes informational alerts without paging", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, () => EMPTY_SEARCH);
    const publisher = new RecordingPublisher();
    const outbox = setup("r1", () => NOW, search, publisher);
    const info = buildAlert(singleDetection(singleRule({ level: "informational" }), execEvent()), {
      environment: "prod",
    });
    expect(await outbox.deliverNew(info)).toBe("not_paged");
    expect(await outbox.retryPending(10)).toEqual([]);
    expect(publisher.published).toHaveLength(0);
    expect(search.statuses()).toEqual({ [info.id]: "not_paged" });
  });

  it("lets one of two concurrent retries claim a pending alert", async () => {
    // Prepare
    const search = new FakeOpenSearch(ALERTS_INDEX, () => EMPTY_SEARCH);
    const publisher = new RecordingPublisher();
    publisher.fail = () => true;
    await setup("r1", () => NOW, search, publisher).deliverNew(alert());
    publisher.fail = () => false;
    // Act
    const [a, b] = await Promise.all([
      setup("r2", () => NOW + 60_000, search, publisher).retryPending(10),
      setup("r3", () => NOW + 60_000, search, publisher).retryPending(10),
    ]);
    // Assess
    expect([...(a ?? []), ...(b ?? [])].sort()).toEqual(["claim_lost", "published"]);
    expect(publisher.published).toHaveLength(1);
  });

  it("leaves a claimed alert alone until its lease expires, then retries it (run died after claiming)", async () => {
    // Prepare: the create succeeds, then the run dies before publishing (publish never returns).
    const search = new FakeOpenSearch(ALERTS_INDEX, () => EMPTY_SEARCH);
    const hanging: RecordingPublisher = Object.assign(new RecordingPublisher(), {
      publish: () => new Promise<string>(() => {}),
    });
    void setup("dead", () => NOW, search, hanging).deliverNew(alert());
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(Object.values(search.statuses())).toEqual(["publishing"]);
    const publisher = new RecordingPublisher();
    // Act
    const early = await setup("r2", () => NOW + 60_000, search, publisher).retryPending(10);
    const late = await setup("r3", () => NOW + 301_000, search, publisher).retryPending(10);
    // Assess
    expect(early).toEqual([]);
    expect(late).toEqual(["published"]);
    expect(publisher.published).toHaveLength(1);
  });

  it("marks the alert published even when a suppression extension rewrote it during the publish", async () => {
    // Prepare: while SNS is publishing, another run extends the alert (compare-and-set on its document).
    const search = new FakeOpenSearch(ALERTS_INDEX, () => EMPTY_SEARCH);
    const publisher = new RecordingPublisher();
    const created = alert();
    publisher.fail = () => {
      const stored = search.documents.get(created.id);
      if (stored !== undefined) {
        void search.write({
          index: ALERTS_INDEX,
          id: created.id,
          document: { ...stored.source, count: 9 },
          ifSeqNo: stored.seqNo,
          ifPrimaryTerm: stored.primaryTerm,
        });
      }
      return false;
    };
    // Act
    const outcome = await setup("r1", () => NOW, search, publisher).deliverNew(created);
    // Assess
    expect(outcome).toBe("published");
    expect(search.statuses()).toEqual({ [created.id]: "published" });
    expect(search.documents.get(created.id)?.source.count).toBe(9);
    expect(publisher.published).toHaveLength(1);
  });

  const alertAt = (second: number) =>
    buildAlert(
      singleDetection(
        singleRule(),
        execEvent({
          "@timestamp": `2025-03-04T10:15:${String(second).padStart(2, "0")}.000Z`,
          event: { ...execEvent().event, id: `exec-${second}` },
        }),
      ),
      { environment: "prod" },
    );

  it("creates a batch of alerts in one _bulk request and marks the published ones in one more", async () => {
    // Prepare
    const search = new FakeOpenSearch(ALERTS_INDEX, () => EMPTY_SEARCH);
    const publisher = new RecordingPublisher();
    const alerts = [1, 2, 3, 4, 5].map(alertAt);
    // Act
    const outcomes = await setup("r1", () => NOW, search, publisher).deliverMany(alerts);
    // Assess
    expect(outcomes).toEqual(["published", "published", "published", "published", "published"]);
    expect(search.requests.bulk).toBe(2);
    expect(publisher.published).toHaveLength(5);
    expect(Object.values(search.statuses())).toEqual(Array(5).fill("published"));
  });

  it("reports the one alert the node refuses in a batch as persist_failed and publishes the others", async () => {
    // Prepare
    const search = new FakeOpenSearch(ALERTS_INDEX, () => EMPTY_SEARCH);
    const publisher = new RecordingPublisher();
    const alerts = [1, 2, 3].map(alertAt);
    const refused = alerts[1]?.id;
    search.failWrite = (request) => request.create === true && request.id === refused;
    // Act
    const outcomes = await setup("r1", () => NOW, search, publisher).deliverMany(alerts);
    // Assess
    expect(outcomes).toEqual(["published", "persist_failed", "published"]);
    expect(publisher.published).toHaveLength(2);
    expect(search.documents.has(refused as string)).toBe(false);
    expect(silentLogger.errors).toEqual([
      "alert not written; nothing published, the window will be evaluated again",
    ]);
  });

  it("publishes nothing of a batch whose _bulk request fails as a whole", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, () => EMPTY_SEARCH);
    const publisher = new RecordingPublisher();
    search.failBulk = (writes) => writes.some((write) => write.create === true);
    const outcomes = await setup("r1", () => NOW, search, publisher).deliverMany([1, 2].map(alertAt));
    expect(outcomes).toEqual(["persist_failed", "persist_failed"]);
    expect(publisher.published).toHaveLength(0);
    expect(search.documents.size).toBe(0);
  });

  it("sends again, in a _bulk of their own, only the marks the node refused", async () => {
    // Prepare: the mark of the second alert fails once.
    const search = new FakeOpenSearch(ALERTS_INDEX, () => EMPTY_SEARCH);
    const publisher = new RecordingPublisher();
    const alerts = [1, 2, 3].map(alertAt);
    let failed = false;
    search.failWrite = (request) => {
      const status = (request.document.outbox as { status: string }).status;
      if (status !== "published" || request.id !== alerts[1]?.id || failed) return false;
      failed = true;
      return true;
    };
    // Act
    const outcomes = await setup("r1", () => NOW, search, publisher).deliverMany(alerts);
    // Assess
    expect(outcomes).toEqual(["published", "published", "published"]);
    expect(search.requests.bulk).toBe(3);
    expect(search.writes.filter((write) => write.id === alerts[1]?.id)).toHaveLength(3);
    expect(search.writes.filter((write) => write.id === alerts[0]?.id)).toHaveLength(2);
    expect(publisher.published).toHaveLength(3);
  });

  it("reports mark_failed, and keeps the alert, when every mark after a publish fails", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, () => EMPTY_SEARCH);
    const publisher = new RecordingPublisher();
    search.failWrite = (request) => (request.document.outbox as { status: string }).status === "published";
    const outcome = await setup("r1", () => NOW, search, publisher).deliverNew(alert());
    expect(outcome).toBe("mark_failed");
    expect(Object.values(search.statuses())).toEqual(["publishing"]);
    expect(silentLogger.errors).toContain(
      "alert published but not marked; it will be published again after its lease expires",
    );
  });
});
