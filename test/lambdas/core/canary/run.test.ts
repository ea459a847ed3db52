import { beforeAll, describe, expect, it } from "vitest";
import {
  buildCanaryRecords,
  buildCanaryReport,
  type CanaryDependencies,
  type CanaryProgress,
  type CanaryRecordSender,
  type CanarySearch,
  canaryIdentity,
  canaryRunId,
  readCanaryAlerts,
  runCanary,
} from "../../../../lambdas/core/canary/index.js";
import { ALERTS_INDEX } from "../../../../lambdas/core/contracts.js";
import { SearchResponseError } from "../../../../lambdas/core/detection/responses.js";
import { defaultRulesDir, loadRulePack } from "../../../../lambdas/core/rules/load.js";
import type { RulePack } from "../../../../lambdas/core/rules/types.js";
import { FakeClock, FakePipeline, type PipelineScenario } from "./fake-pipeline.js";

const NOW = Date.parse("2026-03-02T14:00:00.000Z");
const identity = canaryIdentity(canaryRunId(NOW, "3f9a1c"));
const records = buildCanaryRecords({ runId: identity.runId, nowMs: NOW });
const CONTEXT = {
  environment: "dev",
  stack: "AuditTrail-dev",
  region: "eu-west-1",
  deliveryStream: "audit-stream",
  domainEndpoint: "search-audit.eu-west-1.es.amazonaws.com",
  opsTopicArn: "arn:aws:sns:eu-west-1:111122223333:ops",
  detectorFunctionName: "detector",
};
let pack: RulePack;

beforeAll(async () => {
  pack = await loadRulePack([defaultRulesDir()]);
});

/** A run against the fake pipeline: Firehose accepts everything and hands it on. */
function setUp(scenario: PipelineScenario = {}): {
  clock: FakeClock;
  pipeline: FakePipeline;
  deps: CanaryDependencies;
  progress: CanaryProgress[];
} {
  const clock = new FakeClock(NOW);
  const pipeline = new FakePipeline(pack, clock, scenario);
  const sender: CanaryRecordSender = {
    async putRecordBatch(batch) {
      pipeline.accept(batch, clock.now());
      return batch.map(() => undefined);
    },
  };
  const progress: CanaryProgress[] = [];
  return {
    clock,
    pipeline,
    progress,
    deps: { sender, search: pipeline, clock, onProgress: (e) => progress.push(e) },
  };
}

const OPTIONS = { identity, records, eventTimeMs: NOW, timeoutMs: 360_000, pollIntervalMs: 10_000 };

describe("runCanary", () => {
  it("stops polling as soon as every record is searchable and the alert is published", async () => {
    const { clock, pipeline, deps, progress } = setUp();

    const observations = await runCanary(deps, OPTIONS);

    // Records searchable at 65 s (found at 70 s), alert published at 125 s (found at 130 s).
    expect(clock.now() - NOW).toBe(130_000);
    expect(observations.searchable.size).toBe(5);
    expect(observations.alerts.map((alert) => alert.status)).toEqual(["published", "published"]);
    expect(pipeline.searches.filter((search) => search.index === ALERTS_INDEX)).toHaveLength(7);
    expect(progress.map((event) => event.kind)).toEqual([
      "sent",
      "searchable",
      "searchable",
      "searchable",
      "searchable",
      "searchable",
      "alert",
      "alert",
    ]);
  });

  it("searches the audit indices without the alerts index, for the run's ids and client", async () => {
    const { pipeline, deps } = setUp();

    await runCanary(deps, OPTIONS);

    const first = pipeline.searches[0];
    expect(first?.index).toBe("audit-*,-audit-alerts");
    expect(JSON.stringify(first?.body)).toContain(identity.userAgent);
    expect(JSON.stringify(first?.body)).toContain(identity.clientPod);
    for (const record of records) expect(JSON.stringify(first?.body)).toContain(record.eventId);
  });

  it("keeps waiting for a late record after the alert is published", async () => {
    const { clock, deps } = setUp({ searchableAfterMs: { "kubernetes.audit": 200_000 } });

    const observations = await runCanary(deps, OPTIONS);

    expect(clock.now() - NOW).toBe(200_000);
    expect(observations.searchable.get("k8s-audit")?.searchableAtMs).toBe(NOW + 200_000);
    expect(buildCanaryReport(CONTEXT, identity, records, observations).ok).toBe(true);
  });

  it("reports the records not tagged by the canary rule: the deployed transform lacks it", async () => {
    // Prepare: a pack without the canary rule plays the transform deployed before the rule existed.
    const oldPack = await loadRulePack([defaultRulesDir()], {
      rules: { pipeline_canary: { enabled: false } },
    });
    const { deps } = setUp({ transformPack: oldPack });

    // Act
    const observations = await runCanary(deps, OPTIONS);
    const report = buildCanaryReport(CONTEXT, identity, records, observations);

    // Assess
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toBe(
      "istio: searchable in audit-2026-03-02 but not tagged pipeline_canary: the deployed transform's rule pack lacks the canary rule (deployed before it existed, or disabled); redeploy the stack",
    );
    expect(report.problems.at(-1)).toBe(
      "canary alert: none, since no record reached OpenSearch tagged pipeline_canary",
    );
    expect(report.alert.status).toBe("not_indexed");
  });

  it("stops at the first failed search and keeps what it saw", async () => {
    const { deps, pipeline } = setUp();
    let searches = 0;
    const flaky: CanarySearch = {
      async search(request) {
        searches++;
        if (searches === 3)
          throw Object.assign(new Error("connect ECONNREFUSED"), { name: "ConnectionError" });
        return pipeline.search(request);
      },
    };

    const observations = await runCanary({ ...deps, search: flaky }, OPTIONS);

    expect(observations.watchError).toBe("ConnectionError: connect ECONNREFUSED");
    expect(searches).toBe(3);
    const report = buildCanaryReport(CONTEXT, identity, records, observations);
    expect(report.problems.at(-1)).toBe(
      "stopped watching after a failed search: ConnectionError: connect ECONNREFUSED; the records sent are still in the pipeline",
    );
  });

  it("does not search at all when no record could be sent", async () => {
    const { deps, pipeline } = setUp();
    const refusing: CanaryRecordSender = {
      putRecordBatch: async () => {
        throw Object.assign(new Error("Delivery stream audit-stream not found"), {
          name: "ResourceNotFoundException",
        });
      },
    };

    const observations = await runCanary({ ...deps, sender: refusing }, OPTIONS);

    expect(pipeline.searches).toEqual([]);
    const report = buildCanaryReport(CONTEXT, identity, records, observations);
    expect(report.sources.map((source) => source.status)).toEqual(records.map(() => "not_sent"));
    expect(report.problems).toHaveLength(6);
  });
});

describe("readCanaryAlerts", () => {
  const response = (sources: Record<string, unknown>[]) => ({
    hits: { hits: sources.map((source, i) => ({ _index: ALERTS_INDEX, _id: `a${i}`, _source: source })) },
  });
  const outbox = {
    status: "published",
    attempts: 1,
    publishedAt: "2026-03-02T14:02:00.000Z",
    messageId: "m-1",
  };

  it("keeps the alerts grouped by the run's client, or holding one of its records, and no other", () => {
    const alerts = readCanaryAlerts(
      response([
        { id: "ours", group: { "user_agent.original": identity.userAgent }, outbox, topic: "ops" },
        { id: "ours-hubble", group: { "mesh.source.workload": identity.clientPod }, outbox },
        {
          id: "ours-ungrouped",
          group: {},
          outbox,
          events: [{ user_agent: { original: identity.userAgent } }],
        },
        {
          id: "another-run",
          group: { "user_agent.original": "mesh-audit-trail-canary/20260302-135000-aaaaaa" },
          outbox,
        },
      ]),
      identity,
    );

    expect(alerts.map((alert) => alert.id)).toEqual(["ours", "ours-hubble", "ours-ungrouped"]);
    expect(alerts[0]).toMatchObject({ status: "published", messageId: "m-1", topic: "ops" });
  });

  it("rejects a document of the alerts index that is not an alert, naming it", () => {
    expect(() => readCanaryAlerts(response([{ id: "x", group: {} }]), identity)).toThrow(SearchResponseError);
    expect(() => readCanaryAlerts(response([{ id: "x", group: {} }]), identity)).toThrow(/audit-alerts\/a0/);
  });
});
