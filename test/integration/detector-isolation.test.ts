/**
 * A rule whose query fails on the real node never holds the others back: on the bundled incident, with the default
 * pack plus a correlation grouping by `event.original` (stored without doc values, so OpenSearch refuses to
 * aggregate it), every other rule's alerts are exactly replay's and published, the failing rule is reported with
 * OpenSearch's error, announced once on the ops topic, and listed with the point it resumes from; the next run
 * evaluates that range again for it alone and publishes nothing twice.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../lambdas/core/alerts/model.js";
import { runDetection } from "../../lambdas/core/detection/run.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/load.js";
import type { RulePack } from "../../lambdas/core/rules/types.js";
import { testClient } from "./helpers.js";
import {
  comparable,
  detectorOnNode,
  incidentOnNode,
  indexedAlerts,
  QUIET_SOURCES,
  RecordingLogger,
  RecordingPublisher,
  removeFromNode,
  sortedById,
} from "./incident.js";

const ENVIRONMENT = "isolation-test";
const BROKEN = `title: Grouped By A Field Without Doc Values
id: 4f0c9a52-1d7e-4b7a-9c55-0d6f3f2b9e11
name: test_unaggregatable_grouping
status: test
description: Groups by event.original, which the index stores without doc values; OpenSearch refuses the aggregation.
level: medium
correlation:
  type: event_count
  rules:
    - mesh_http_request
  group-by:
    - event.original
  timespan: 1m
  condition:
    gte: 1
`;

describe("detector with a rule whose query fails (real node, bundled incident)", () => {
  const client = testClient();
  let pack: RulePack;
  let dir: string;
  let indices: string[] = [];
  let replayed: Alert[];
  let startMs: number;
  let nowMs: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "detector-isolation-"));
    await writeFile(join(dir, "test_unaggregatable_grouping.yml"), BROKEN);
    pack = await loadRulePack([defaultRulesDir(), dir], QUIET_SOURCES);
    ({ indices, replayed, startMs, nowMs } = await incidentOnNode(client, pack, ENVIRONMENT));
  });

  afterAll(async () => {
    await removeFromNode(client, indices);
    await rm(dir, { recursive: true, force: true });
  });

  it("publishes every other rule's alerts, reports the failing one, and resumes it alone", async () => {
    // Prepare
    const publisher = new RecordingPublisher();
    const logger = new RecordingLogger();
    const run = (at: number, watermarkMs: number, resumeFromMs: Readonly<Record<string, number>>) =>
      runDetection(
        detectorOnNode({ client, publisher, logger, pack, alertContext: { environment: ENVIRONMENT } }),
        { nowMs: at, watermarkMs, resumeFromMs, runId: `run-${at}`, clock: () => at },
      );

    // Act
    const first = await run(nowMs, startMs, {});
    const stored = (await indexedAlerts(client)).map((hit) => hit.document);
    const pagedAfterFirst = publisher.published.length;
    const second = await run(nowMs + 60_000, nowMs, first.resumeFromMs);

    // Assess: the other rules published exactly replay's alerts.
    expect(sortedById(stored.map(comparable))).toEqual(sortedById(replayed.map(comparable)));
    expect(first.failedRules).toEqual(["test_unaggregatable_grouping"]);
    expect(first.failures[0]?.error).toMatch(/event\.original/);
    expect(first.resumeFromMs).toEqual({ test_unaggregatable_grouping: startMs - 15 * 60_000 });
    expect(first.delivered.published).toBe(replayed.filter((alert) => alert.paged).length);
    // The operators heard of it once, naming the rule and OpenSearch's error.
    const ops = publisher.published.filter((message) => message.attributes.severity === "ops");
    expect(ops.map((message) => message.attributes.rule)).toEqual(["test_unaggregatable_grouping"]);
    expect(JSON.parse(ops[0]?.message ?? "{}").default).toMatch(/Error: .*event\.original/);
    // The next run evaluates the failing rule's range again (from its own point), pages nothing twice.
    expect(second.failedRules).toEqual(["test_unaggregatable_grouping"]);
    expect(second.resumeFromMs).toEqual(first.resumeFromMs);
    expect(publisher.published.length).toBe(pagedAfterFirst);
    expect(second.delivered.published).toBe(0);
  });
});
