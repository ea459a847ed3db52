/**
 * Documents that reach the node late (up to the detector's look-back), and the two ways of judging them that must
 * agree: replay's evaluator taking them in arrival order, and the detector run every few hours with each document
 * indexed once it has arrived.
 */
import type { Client } from "@opensearch-project/opensearch";
import type { AlertContext } from "../../lambdas/core/alerts/model.js";
import { ALERTS_INDEX } from "../../lambdas/core/contracts.js";
import { DETECTION_DEFAULTS, type RuleFailure } from "../../lambdas/core/detection/run.js";
import type { AlertDocument } from "../../lambdas/core/detection/store.js";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import type { CountryLookup } from "../../lambdas/core/geo/index.js";
import { StreamEvaluator } from "../../lambdas/core/rules/index.js";
import type { Detection, RulePack } from "../../lambdas/core/rules/types.js";
import { deleteIndices } from "./helpers.js";
import {
  detectorRun,
  InMemoryWatermark,
  indexDocuments,
  indexedAlerts,
  RecordingLogger,
  RecordingPublisher,
} from "./incident.js";

/** A document and when it reaches the node (at or after its event time). */
export interface Arriving {
  readonly doc: EcsDocument;
  readonly arrivalMs: number;
}

/**
 * What replay's evaluator detects over the documents in arrival order (ties keep their order), accepting events up
 * to the detector's look-back late; `late` counts those it had to drop (none, when the documents keep to it).
 */
export function replayInArrivalOrder(
  pack: RulePack,
  arriving: readonly Arriving[],
  geo?: CountryLookup,
): { detections: Detection[]; late: number } {
  const evaluator = new StreamEvaluator(pack, {
    allowedLatenessMs: DETECTION_DEFAULTS.lookbackMs,
    ...(geo === undefined ? {} : { geo }),
  });
  const detections: Detection[] = [];
  for (const item of [...arriving].sort((a, b) => a.arrivalMs - b.arrivalMs)) {
    detections.push(...evaluator.push(structuredClone(item.doc)));
  }
  detections.push(...evaluator.finish());
  return { detections, late: evaluator.stats.late };
}

/**
 * The detector over documents as they arrive: the `auditIndices` (a pattern) and the alerts index emptied, then a
 * run at `firstRunMs` and every `runEveryMs` after it up to a last one at `endMs`, each after indexing (tagged by
 * `pack` as the transform tags them) the documents that have arrived by then. Returns the alerts index's alerts and
 * every run's failures.
 */
export async function detectorAsDocumentsArrive(options: {
  readonly client: Client;
  readonly pack: RulePack;
  readonly alertContext: AlertContext;
  readonly arriving: readonly Arriving[];
  readonly auditIndices: string;
  readonly firstRunMs: number;
  readonly runEveryMs: number;
  readonly endMs: number;
  readonly baselineRebuildEveryMs?: number;
}): Promise<{ alerts: { _id: string; document: AlertDocument }[]; failures: RuleFailure[] }> {
  const { client, pack } = options;
  await deleteIndices(client, options.auditIndices);
  await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
  await client.indices.create({ index: ALERTS_INDEX });
  const byArrival = options.arriving
    .map((item) => {
      const doc = structuredClone(item.doc);
      const tags = pack.matchSingleEvent(doc);
      if (tags.length > 0) doc.rule = { ...doc.rule, name: tags };
      return { doc, arrivalMs: item.arrivalMs };
    })
    .sort((a, b) => a.arrivalMs - b.arrivalMs);
  const watermark = new InMemoryWatermark(undefined);
  const failures: RuleFailure[] = [];
  let indexed = 0;
  for (let now = options.firstRunMs; ; now += options.runEveryMs) {
    const at = Math.min(now, options.endMs);
    const arrived = byArrival.slice(indexed).filter((item) => item.arrivalMs <= at);
    if (arrived.length > 0) {
      await indexDocuments(
        client,
        arrived.map((item) => item.doc),
      );
    }
    indexed += arrived.length;
    const report = await detectorRun({
      client,
      pack,
      alertContext: options.alertContext,
      publisher: new RecordingPublisher(),
      logger: new RecordingLogger(),
      watermark,
      nowMs: at,
      runId: `run-${at}`,
      ...(options.baselineRebuildEveryMs === undefined
        ? {}
        : { baselineRebuildEveryMs: options.baselineRebuildEveryMs }),
    });
    failures.push(...report.failures);
    if (at === options.endMs) break;
  }
  return { alerts: await indexedAlerts(client), failures };
}
