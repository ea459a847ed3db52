/**
 * Delivery without loss or duplicates: write the alert first (create-only, deterministic id), publish it, then
 * mark it published, each step guarded by optimistic concurrency so two runs never both publish one alert. A run
 * writes its new alerts in batches: one `_bulk` request creates a batch, SNS takes each paging alert, and one
 * `_bulk` request marks the batch's published alerts (another releases those whose publish failed); each alert of a
 * batch has its own result, and the guarantees below hold per alert exactly as for one alert written alone.
 *
 * Guarantees (tested in `test/lambdas/core/detection/outbox.test.ts`):
 * - an alert that already exists is never published again (409 on create, per item of the batch);
 * - a failed write (the whole `_bulk` request, or that alert's item in it) publishes nothing for that alert and
 *   is reported as `persist_failed`, so its rule evaluates the window again (no loss); the batch's other alerts
 *   go on;
 * - a failed publish leaves the alert `pending`, retried by the next run (no loss);
 * - a claim is exclusive: of two concurrent runs, one publishes;
 * - a mark that fails (its item, or the whole request) is sent again, up to `markAttempts` in all; a mark that
 *   conflicts (a suppression extension rewrote the alert) is read again and sent again while this run holds the
 *   claim.
 * The one window for a repeat page: SNS accepted the message but the "published" mark failed every retry
 * within the run; the lease then expires and a later run publishes again (at-least-once, never lost).
 */
import type { Alert } from "../alerts/model.js";
import { renderSnsMessage } from "../alerts/render.js";
import type { AlertTopic } from "../contracts.js";
import { errorDescription } from "../errors.js";
import { forEachConcurrently } from "./concurrency.js";
import type { AlertPublisher, BulkResult, DetectionLogger } from "./ports.js";
import type { AlertDocument, AlertStore, OutboxState, StoredAlert } from "./store.js";

export type DeliveryOutcome =
  /** SNS accepted it and the alert is marked published. */
  | "published"
  /** The alert already existed: not published again. */
  | "duplicate"
  /** Informational: indexed, not paged. */
  | "not_paged"
  /** Publish failed: the alert stays pending for the next run. */
  | "publish_failed"
  /** The alert could not be written (or claimed): nothing was published. */
  | "persist_failed"
  /** Another run holds the alert. */
  | "claim_lost"
  /** Published, but the mark failed every retry: a later run may publish it again after the lease. */
  | "mark_failed";

export interface OutboxOptions {
  readonly runId: string;
  readonly clock: () => number;
  /** How long a claim holds: longer than the detector's timeout. */
  readonly leaseMs: number;
  /** Attempts to mark an alert published after SNS accepted it. @default 3 */
  readonly markAttempts?: number;
  /** Alerts published to SNS at once. @default 8 */
  readonly publishConcurrency?: number;
}

export class Outbox {
  private readonly markAttempts: number;
  private readonly publishConcurrency: number;

  constructor(
    private readonly store: AlertStore,
    private readonly publisher: AlertPublisher,
    private readonly logger: DetectionLogger,
    private readonly options: OutboxOptions,
  ) {
    this.markAttempts = options.markAttempts ?? 3;
    this.publishConcurrency = options.publishConcurrency ?? 8;
  }

  /** Writes a new alert (create-only) and, if this run created it and it pages, publishes it. */
  async deliverNew(alert: Alert): Promise<DeliveryOutcome> {
    return (await this.deliverMany([alert]))[0] as DeliveryOutcome;
  }

  /**
   * Writes new alerts create-only (one `_bulk` request) and publishes those this run created that page: an outcome
   * per alert, in order. Keep a batch to what one request should carry (`DETECTION_DEFAULTS.writeBatchSize`).
   */
  async deliverMany(alerts: readonly Alert[]): Promise<DeliveryOutcome[]> {
    if (alerts.length === 0) return [];
    const now = this.options.clock();
    const documents: AlertDocument[] = alerts.map((alert) => ({
      ...alert,
      outbox: alert.paged
        ? { status: "publishing", attempts: 0, createdAt: iso(now), updatedAt: iso(now), ...this.lease(now) }
        : { status: "not_paged", attempts: 0, createdAt: iso(now), updatedAt: iso(now) },
    }));
    const results = await settled(() => this.store.createMany(documents), documents.length);
    const outcomes: DeliveryOutcome[] = [];
    const claimed: { position: number; stored: StoredAlert }[] = [];
    results.forEach((result, position) => {
      const document = documents[position] as AlertDocument;
      if (result.outcome === "failed") {
        this.logger.error("alert not written; nothing published, the window will be evaluated again", {
          alertId: document.id,
          rule: document.rule.name,
          error: result.error,
        });
        outcomes[position] = "persist_failed";
      } else if (result.outcome === "conflict") {
        outcomes[position] = "duplicate";
      } else if (!document.paged) {
        outcomes[position] = "not_paged";
      } else {
        claimed.push({
          position,
          stored: { id: document.id, document, seqNo: result.seqNo, primaryTerm: result.primaryTerm },
        });
      }
    });
    const published = await this.publishClaimed(claimed.map(({ stored }) => stored));
    claimed.forEach(({ position }, index) => {
      outcomes[position] = published[index] as DeliveryOutcome;
    });
    return outcomes;
  }

  /** Claims and publishes alerts left `pending` (or whose claim expired) by earlier runs. */
  async retryPending(limit: number): Promise<DeliveryOutcome[]> {
    const now = this.options.clock();
    const retryable = await this.store.findRetryable(now, limit);
    const outcomes: DeliveryOutcome[] = [];
    const claimed: StoredAlert[] = [];
    for (const stored of retryable) {
      const document: AlertDocument = {
        ...stored.document,
        outbox: {
          ...withoutClaim(stored.document.outbox),
          status: "publishing",
          updatedAt: iso(now),
          ...this.lease(now),
        },
      };
      let result: Awaited<ReturnType<AlertStore["replace"]>>;
      try {
        result = await this.store.replace(stored, document);
      } catch (error) {
        this.logger.error("could not claim a pending alert; it stays pending", {
          alertId: stored.id,
          error: errorDescription(error),
        });
        outcomes.push("persist_failed");
        continue;
      }
      if (result.outcome === "conflict") {
        outcomes.push("claim_lost");
        continue;
      }
      claimed.push({ id: stored.id, document, seqNo: result.seqNo, primaryTerm: result.primaryTerm });
    }
    outcomes.push(...(await this.publishClaimed(claimed)));
    return outcomes;
  }

  private lease(now: number): { claimedBy: string; leaseUntil: string } {
    return { claimedBy: this.options.runId, leaseUntil: iso(now + this.options.leaseMs) };
  }

  /**
   * Publishes alerts this run holds (a few at a time), then marks the published ones in one `_bulk` request and
   * releases the others as pending in another: an outcome per alert, in order.
   */
  private async publishClaimed(claimed: readonly StoredAlert[]): Promise<DeliveryOutcome[]> {
    const outcomes: DeliveryOutcome[] = [];
    const toMark: { position: number; stored: StoredAlert; messageId: string }[] = [];
    const toRelease: { stored: StoredAlert; document: AlertDocument }[] = [];
    await forEachConcurrently(claimed, this.publishConcurrency, async (stored, position) => {
      const { outbox, ...alert } = stored.document;
      try {
        const messageId = await this.publisher.publish(topicOf(alert), renderSnsMessage(alert));
        toMark.push({ position, stored, messageId });
      } catch (error) {
        const now = this.options.clock();
        this.logger.warn("publish failed; the alert stays pending for the next run", {
          alertId: stored.id,
          rule: alert.rule.name,
          error: errorDescription(error),
        });
        toRelease.push({
          stored,
          document: {
            ...stored.document,
            outbox: {
              ...withoutClaim(outbox),
              status: "pending",
              attempts: outbox.attempts + 1,
              updatedAt: iso(now),
              lastError: errorDescription(error).slice(0, 500),
            },
          },
        });
        outcomes[position] = "publish_failed";
      }
    });
    if (toRelease.length > 0) {
      const released = await settled(() => this.store.replaceMany(toRelease), toRelease.length);
      released.forEach((result, index) => {
        if (result.outcome !== "failed") return;
        this.logger.warn("could not release the claim; it will be retried when the lease expires", {
          alertId: toRelease[index]?.stored.id,
          error: result.error,
        });
      });
    }
    const marked = await this.markPublished(toMark);
    toMark.forEach(({ position }, index) => {
      outcomes[position] = marked[index] as DeliveryOutcome;
    });
    return outcomes;
  }

  /** Marks published alerts, all in one `_bulk` request per attempt: an outcome per alert, in order. */
  private async markPublished(
    entries: readonly { stored: StoredAlert; messageId: string }[],
  ): Promise<DeliveryOutcome[]> {
    const outcomes: DeliveryOutcome[] = [];
    let pending = entries.map((entry, position) => ({ ...entry, position, current: entry.stored }));
    for (let attempt = 1; attempt <= this.markAttempts && pending.length > 0; attempt++) {
      const now = this.options.clock();
      const marks = pending.map(({ current, messageId }) => ({
        stored: current,
        document: {
          ...current.document,
          outbox: {
            ...withoutClaim(current.document.outbox),
            status: "published" as const,
            attempts: current.document.outbox.attempts + 1,
            updatedAt: iso(now),
            publishedAt: iso(now),
            messageId,
          },
        },
      }));
      const results = await settled(() => this.store.replaceMany(marks), marks.length);
      const again: typeof pending = [];
      for (const [index, result] of results.entries()) {
        const entry = pending[index] as (typeof pending)[number];
        if (result.outcome === "written") {
          outcomes[entry.position] = "published";
          continue;
        }
        if (result.outcome === "failed") {
          this.logger.warn("marking the alert published failed; retrying", {
            alertId: entry.stored.id,
            attempt,
            error: result.error,
          });
          again.push(entry);
          continue;
        }
        // Someone rewrote the document (a suppression extension): re-read and mark again if we still hold it.
        let fresh: StoredAlert | undefined;
        try {
          fresh = await this.store.get(entry.stored.id);
        } catch (error) {
          this.logger.warn("marking the alert published failed; retrying", {
            alertId: entry.stored.id,
            attempt,
            error: errorDescription(error),
          });
          again.push(entry);
          continue;
        }
        if (fresh === undefined || fresh.document.outbox.claimedBy !== this.options.runId) {
          this.logger.error("alert published but its claim was taken over; it may be published again", {
            alertId: entry.stored.id,
            messageId: entry.messageId,
          });
          outcomes[entry.position] = "mark_failed";
        } else if (fresh.document.outbox.status === "published") {
          outcomes[entry.position] = "published";
        } else {
          again.push({ ...entry, current: fresh });
        }
      }
      pending = again;
    }
    for (const entry of pending) {
      this.logger.error(
        "alert published but not marked; it will be published again after its lease expires",
        {
          alertId: entry.stored.id,
          messageId: entry.messageId,
        },
      );
      outcomes[entry.position] = "mark_failed";
    }
    return outcomes;
  }
}

/** A `_bulk` request's results; a request that fails as a whole fails each of its `count` writes. */
async function settled(request: () => Promise<BulkResult[]>, count: number): Promise<BulkResult[]> {
  try {
    const results = await request();
    if (results.length !== count) throw new Error(`${count} writes sent, ${results.length} results`);
    return results;
  } catch (error) {
    const failed: BulkResult = { outcome: "failed", error: errorDescription(error) };
    return Array.from({ length: count }, () => failed);
  }
}

/** The alert's topic; alerts indexed before topics existed go to their severity's. */
function topicOf(alert: Alert): AlertTopic {
  if (alert.severity === "informational") {
    throw new Error(`alert ${alert.id}: informational alerts are never published`);
  }
  return alert.topic ?? alert.severity;
}

function withoutClaim(outbox: OutboxState): OutboxState {
  const { claimedBy: _claimedBy, leaseUntil: _leaseUntil, ...rest } = outbox;
  return rest;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
