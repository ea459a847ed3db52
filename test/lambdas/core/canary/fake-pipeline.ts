/**
 * A fake of the deployed pipeline for canary tests, built from the real pure code: records accepted by Firehose are
 * normalized and tagged as the transform does it (`normalizeRecord`, `pack.matchSingleEvent`) and become searchable
 * after a per-source delay; a minute later the "detector" folds the run's tagged documents into alerts with the real
 * `buildAlert` and, depending on the scenario, publishes them or leaves them pending. It answers `_search` on the
 * audit indices with every visible document (it does not evaluate the query: the canary must pick its own records
 * out), and on the alerts index with every alert.
 */

import { buildAlert } from "../../../../lambdas/core/alerts/build.js";
import type { CanaryClock, CanarySearch } from "../../../../lambdas/core/canary/index.js";
import { CANARY_RULE_NAME } from "../../../../lambdas/core/canary/index.js";
import { ALERTS_INDEX } from "../../../../lambdas/core/contracts.js";
import type { AlertDocument } from "../../../../lambdas/core/detection/store.js";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../../../lambdas/core/normalize/index.js";
import { singleDetection } from "../../../../lambdas/core/rules/evaluator.js";
import { foldDetections } from "../../../../lambdas/core/rules/suppression.js";
import type { Detection, RulePack, SingleEventRule } from "../../../../lambdas/core/rules/types.js";

/** A clock that only moves when the code under test sleeps. */
export class FakeClock implements CanaryClock {
  readonly sleeps: number[] = [];
  constructor(public nowMs: number) {}
  now(): number {
    return this.nowMs;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.nowMs += ms;
  }
}

export interface PipelineScenario {
  /** Delay from Firehose accepting a record to its document being searchable, by data set; `null`: never. */
  readonly searchableAfterMs?: Readonly<Record<string, number | null>>;
  /** Delay from a document being searchable to the detector's alert holding it. @default 60 s */
  readonly detectorAfterMs?: number;
  /** `published`: SNS accepts the alert; `pending`: every publish fails. @default "published" */
  readonly publish?: "published" | "pending";
  /** The rule pack the transform tags with. @default the pack the detector uses */
  readonly transformPack?: RulePack;
  /** Documents already in the indices (another canary run, ordinary traffic). */
  readonly otherDocuments?: readonly EcsDocument[];
}

interface Indexed {
  readonly document: EcsDocument;
  readonly index: string;
  readonly visibleAtMs: number;
}

export const DEFAULT_SEARCHABLE_AFTER_MS = 65_000;

export class FakePipeline implements CanarySearch {
  readonly searches: { index: string; body: Record<string, unknown> }[] = [];
  private readonly indexed: Indexed[] = [];
  private readonly rule: SingleEventRule;

  constructor(
    private readonly pack: RulePack,
    private readonly clock: FakeClock,
    private readonly scenario: PipelineScenario = {},
  ) {
    const rule = pack.get(CANARY_RULE_NAME);
    if (rule?.kind !== "single") throw new Error(`the pack has no single-event rule ${CANARY_RULE_NAME}`);
    this.rule = rule;
    for (const document of scenario.otherDocuments ?? []) {
      this.indexed.push({ document, index: indexOf(document), visibleAtMs: Number.NEGATIVE_INFINITY });
    }
  }

  /** What Firehose and the transform do with records accepted at `atMs`. */
  accept(records: readonly string[], atMs: number): void {
    for (const data of records) {
      const normalized = normalizeRecord(data, { receivedAt: new Date(atMs).toISOString() });
      if (!normalized.ok) throw new Error(`the transform would fail a canary record: ${normalized.reason}`);
      for (const document of normalized.documents) {
        const tags = (this.scenario.transformPack ?? this.pack).matchSingleEvent(document);
        if (tags.length > 0) document.rule = { name: tags };
        const configured = this.scenario.searchableAfterMs?.[document.event.dataset];
        const delay = configured === undefined ? DEFAULT_SEARCHABLE_AFTER_MS : configured;
        if (delay === null) continue;
        this.indexed.push({ document, index: indexOf(document), visibleAtMs: atMs + delay });
      }
    }
  }

  async search(request: { index: string; body: Record<string, unknown> }): Promise<unknown> {
    this.searches.push(request);
    const now = this.clock.now();
    const sources =
      request.index === ALERTS_INDEX
        ? this.alerts(now).map((alert) => ({ _index: ALERTS_INDEX, _id: alert.id, _source: alert }))
        : this.indexed
            .filter((entry) => entry.visibleAtMs <= now)
            .map((entry) => ({ _index: entry.index, _id: entry.document.event.id, _source: entry.document }));
    return {
      took: 3,
      timed_out: false,
      _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
      hits: { total: { value: sources.length, relation: "eq" }, hits: sources },
    };
  }

  /** The alerts the detector has written by `now`: the canary documents it has seen, folded by host.name. */
  private alerts(now: number): AlertDocument[] {
    const detectorAfterMs = this.scenario.detectorAfterMs ?? 60_000;
    const seen = this.indexed.filter(
      (entry) =>
        entry.visibleAtMs + detectorAfterMs <= now &&
        (entry.document.rule?.name ?? []).includes(CANARY_RULE_NAME),
    );
    const byGroup = new Map<string, { detection: Detection; alertedAtMs: number }>();
    for (const entry of seen) {
      const detection = singleDetection(this.rule, entry.document);
      const key = JSON.stringify(detection.groupBy);
      const open = byGroup.get(key);
      byGroup.set(key, {
        detection: open === undefined ? detection : foldDetections(open.detection, detection),
        alertedAtMs: Math.min(
          open?.alertedAtMs ?? Number.POSITIVE_INFINITY,
          entry.visibleAtMs + detectorAfterMs,
        ),
      });
    }
    return [...byGroup.values()].map(({ detection, alertedAtMs }) => {
      const alert = buildAlert(detection, { environment: "dev" });
      const at = new Date(alertedAtMs).toISOString();
      return {
        ...alert,
        outbox:
          (this.scenario.publish ?? "published") === "published"
            ? {
                status: "published",
                attempts: 1,
                createdAt: at,
                updatedAt: at,
                publishedAt: at,
                messageId: `sns-${alert.id.slice(0, 12)}`,
              }
            : {
                status: "pending",
                attempts: 3,
                createdAt: at,
                updatedAt: at,
                lastError:
                  "AuthorizationError: User is not authorized to perform: SNS:Publish on resource: ops",
              },
      };
    });
  }
}

function indexOf(document: EcsDocument): string {
  return `audit-${document["@timestamp"].slice(0, 10)}`;
}
