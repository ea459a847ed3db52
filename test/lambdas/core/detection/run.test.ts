import { describe, expect, it } from "vitest";
import { ALERTS_INDEX } from "../../../../lambdas/core/contracts.js";
import { runDetection } from "../../../../lambdas/core/detection/run.js";
import type { CompiledRule } from "../../../../lambdas/core/rules/types.js";
import { correlationRule, singleRule } from "../alerts/factories.js";
import { FakeOpenSearch } from "./fake-opensearch.js";
import {
  EMPTY_SEARCH,
  fixture,
  NOW,
  packOf,
  RecordingPublisher,
  recordedAudit,
  silentLogger,
} from "./scenario.js";

const deps = (
  search: FakeOpenSearch,
  publisher: RecordingPublisher,
  rules: readonly CompiledRule[] = [singleRule()],
) => ({
  search,
  publisher,
  logger: silentLogger,
  pack: packOf(rules),
  alertContext: { environment: "prod" },
});

describe("runDetection", () => {
  it("reports single-event rules with more matches than the per-run limit", async () => {
    // Prepare: the recorded response says 5000 documents match, one is returned.
    const recorded = fixture("pod-exec.hits.json") as { hits: { total: { value: number } } };
    recorded.hits.total.value = 5000;
    const search = new FakeOpenSearch(ALERTS_INDEX, () => recorded);
    // Act
    const report = await runDetection(deps(search, new RecordingPublisher()), {
      nowMs: NOW,
      watermarkMs: NOW - 60_000,
      runId: "r",
      singleEventLimit: 1,
    });
    // Assess
    expect(report.truncatedRules).toEqual(["k8s_pod_exec"]);
    expect(report.delivered.published).toBe(1);
    expect(search.searches[1]?.body).toMatchObject({ size: 1 });
  });

  it("never reads the alerts index as events (audit-* would match audit-alerts)", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    await runDetection(deps(search, new RecordingPublisher()), {
      nowMs: NOW,
      watermarkMs: NOW - 60_000,
      runId: "r",
    });
    const eventIndices = new Set(search.searches.filter((s) => s.index !== ALERTS_INDEX).map((s) => s.index));
    expect([...eventIndices]).toEqual(["audit-*,-audit-alerts"]);
  });

  it("indexes informational single-event alerts without paging them", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    const publisher = new RecordingPublisher();
    const report = await runDetection(deps(search, publisher, [singleRule({ level: "informational" })]), {
      nowMs: NOW,
      watermarkMs: undefined,
      runId: "r",
    });
    expect(report.delivered.not_paged).toBe(1);
    expect(publisher.published).toHaveLength(0);
    expect(Object.values(search.statuses())).toEqual(["not_paged"]);
  });

  it("publishes alerts of rules with topic ops to the ops topic, the others to their severity's", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    const publisher = new RecordingPublisher();
    const report = await runDetection(
      deps(search, publisher, [singleRule({ level: "low", topic: "ops" }), correlationRule()]),
      { nowMs: NOW, watermarkMs: undefined, runId: "r" },
    );
    expect(report.delivered.published).toBe(2);
    expect(publisher.published.map(({ topic, message }) => [message.attributes.rule, topic]).sort()).toEqual([
      ["k8s_pod_exec", "ops"],
      ["mesh_auth_failure_burst", "medium"],
    ]);
  });

  it("makes the alerts it wrote searchable before it ends, so the next run folds into them", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    await runDetection(deps(search, new RecordingPublisher()), {
      nowMs: NOW,
      watermarkMs: undefined,
      runId: "r",
    });
    expect(search.refreshes).toBe(1);
    const quiet = new FakeOpenSearch(ALERTS_INDEX, () => EMPTY_SEARCH);
    await runDetection(deps(quiet, new RecordingPublisher()), {
      nowMs: NOW,
      watermarkMs: undefined,
      runId: "r",
    });
    expect(quiet.refreshes).toBe(0);
  });

  it("skips rules that do not generate alerts (correlation building blocks)", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    const report = await runDetection(
      deps(search, new RecordingPublisher(), [singleRule({ generatesAlerts: false })]),
      {
        nowMs: NOW,
        watermarkMs: NOW - 60_000,
        runId: "r",
      },
    );
    expect(report.firings).toBe(0);
    expect(search.searches.filter((request) => request.index !== ALERTS_INDEX)).toHaveLength(0);
  });

  it("warns when the watermark is older than the catch-up limit and starts at the limit", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    silentLogger.warnings.length = 0;
    const report = await runDetection(deps(search, new RecordingPublisher()), {
      nowMs: NOW,
      watermarkMs: NOW - 3 * 24 * 3600_000,
      runId: "r",
    });
    expect(report.range.catchUpTruncated).toBe(true);
    expect(report.range.fromMs).toBe(NOW - 24 * 3600_000);
    expect(silentLogger.warnings).toContain(
      "detector was behind by more than the catch-up limit; older windows were not evaluated",
    );
  });
});
