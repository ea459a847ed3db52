/**
 * Alert writes stop at the run's write deadline on the real node: on the bundled incident with the default pack, a
 * run whose write time runs out after its first batch writes and pages that batch only, lists the rules of the rest
 * as partial with their resume points, and the next run writes and pages the rest: in all, exactly replay's
 * alerts, each paged once.
 */
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

const ENVIRONMENT = "write-deadline-test";
const BATCH = 2;

describe("detector whose write time runs out (real node, bundled incident)", () => {
  const client = testClient();
  let pack: RulePack;
  let indices: string[] = [];
  let replayed: Alert[];
  let startMs: number;
  let nowMs: number;

  beforeAll(async () => {
    pack = await loadRulePack([defaultRulesDir()], QUIET_SOURCES);
    ({ indices, replayed, startMs, nowMs } = await incidentOnNode(client, pack, ENVIRONMENT));
  });

  afterAll(async () => {
    await removeFromNode(client, indices);
  });

  it("writes what fits, carries the rest over with its rules, and the next run writes it: replay's alerts, each paged once", async () => {
    // Prepare: each publish takes ten seconds of the run's clock; the run may write for five.
    const publisher = new RecordingPublisher();
    let clock = nowMs;
    const slowPublisher = {
      publish: (
        topic: Parameters<RecordingPublisher["publish"]>[0],
        message: Parameters<RecordingPublisher["publish"]>[1],
      ) => {
        clock += 10_000;
        return publisher.publish(topic, message);
      },
    };
    const run = (at: number, watermarkMs: number, extra: Partial<Parameters<typeof runDetection>[1]>) => {
      clock = at;
      return runDetection(
        detectorOnNode({
          client,
          publisher: slowPublisher,
          logger: new RecordingLogger(),
          pack,
          alertContext: { environment: ENVIRONMENT },
        }),
        { nowMs: at, watermarkMs, runId: `run-${at}`, clock: () => clock, writeBatchSize: BATCH, ...extra },
      );
    };
    const paged = replayed.filter((alert) => alert.paged).length;
    expect(paged).toBeGreaterThan(BATCH);

    // Act
    const first = await run(nowMs, startMs, { writeDeadlineMs: nowMs + 5_000 });
    const afterFirst = publisher.ids().length;
    const second = await run(nowMs + 60_000, nowMs, { resumeFromMs: first.resumeFromMs });

    // Assess: the first run wrote one batch and carried the rest with their rules' resume points.
    const written = Object.values(first.delivered).reduce((sum, count) => sum + count, 0);
    expect(written).toBe(BATCH);
    expect(first.complete).toBe(false);
    expect(first.failedRules).toEqual([]);
    expect(first.partialRules.length).toBeGreaterThan(0);
    expect(Object.keys(first.resumeFromMs).sort()).toEqual([...first.partialRules].sort());
    expect(afterFirst).toBeLessThanOrEqual(BATCH);
    // The next run wrote the rest: in all exactly replay's alerts, each paged once.
    expect(second.complete).toBe(true);
    const stored = (await indexedAlerts(client)).map((hit) => hit.document);
    expect(sortedById(stored.map(comparable))).toEqual(sortedById(replayed.map(comparable)));
    expect(publisher.ids().sort()).toEqual(
      replayed
        .filter((alert) => alert.paged)
        .map((alert) => alert.id)
        .sort(),
    );
  });
});
