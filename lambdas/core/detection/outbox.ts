/**
 * Delivery without loss or duplicates: write the alert first (create-only, deterministic id), publish it, then
 * mark it published, each step guarded by optimistic concurrency so two runs never both publish one alert.
 *
 * Guarantees (tested in `test/lambdas/core/detection/outbox.test.ts`):
 * - an alert that already exists is never published again (409 on create);
 * - a failed write publishes nothing and fails the run, so the window is evaluated again (no loss);
 * - a failed publish leaves the alert `pending`, retried by the next run (no loss);
 * - a claim is exclusive: of two concurrent runs, one publishes.
 * The one window for a repeat page: SNS accepted the message but the "published" mark failed every retry
 * within the run; the lease then expires and a later run publishes again (at-least-once, never lost).
 */
import type { Alert } from "../alerts/model.js";
import { renderSnsMessage } from "../alerts/render.js";
import type { AlertTopic } from "../contracts.js";
import { errorDescription } from "../errors.js";
import type { AlertPublisher, DetectionLogger } from "./ports.js";
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
}

export class Outbox {
  private readonly markAttempts: number;

  constructor(
    private readonly store: AlertStore,
    private readonly publisher: AlertPublisher,
    private readonly logger: DetectionLogger,
    private readonly options: OutboxOptions,
  ) {
    this.markAttempts = options.markAttempts ?? 3;
  }

  /** Writes a new alert (create-only) and, if this run created it and it pages, publishes it. */
  async deliverNew(alert: Alert): Promise<DeliveryOutcome> {
    const now = this.options.clock();
    const outbox: OutboxState = alert.paged
      ? { status: "publishing", attempts: 0, createdAt: iso(now), updatedAt: iso(now), ...this.lease(now) }
      : { status: "not_paged", attempts: 0, createdAt: iso(now), updatedAt: iso(now) };
    const document: AlertDocument = { ...alert, outbox };
    let result: Awaited<ReturnType<AlertStore["create"]>>;
    try {
      result = await this.store.create(document);
    } catch (error) {
      this.logger.error("alert not written; nothing published, the window will be evaluated again", {
        alertId: alert.id,
        rule: alert.rule.name,
        error: errorDescription(error),
      });
      return "persist_failed";
    }
    if (result.outcome === "conflict") return "duplicate";
    if (!alert.paged) return "not_paged";
    return this.publishClaimed({
      id: alert.id,
      document,
      seqNo: result.seqNo,
      primaryTerm: result.primaryTerm,
    });
  }

  /** Claims and publishes alerts left `pending` (or whose claim expired) by earlier runs. */
  async retryPending(limit: number): Promise<DeliveryOutcome[]> {
    const now = this.options.clock();
    const retryable = await this.store.findRetryable(now, limit);
    const outcomes: DeliveryOutcome[] = [];
    for (const stored of retryable) {
      const claimed: AlertDocument = {
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
        result = await this.store.replace(stored, claimed);
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
      outcomes.push(
        await this.publishClaimed({
          id: stored.id,
          document: claimed,
          seqNo: result.seqNo,
          primaryTerm: result.primaryTerm,
        }),
      );
    }
    return outcomes;
  }

  private lease(now: number): { claimedBy: string; leaseUntil: string } {
    return { claimedBy: this.options.runId, leaseUntil: iso(now + this.options.leaseMs) };
  }

  /** Publishes an alert this run holds, then marks it published (or releases it as pending on failure). */
  private async publishClaimed(claimed: StoredAlert): Promise<DeliveryOutcome> {
    const { outbox, ...alert } = claimed.document;
    let messageId: string;
    try {
      messageId = await this.publisher.publish(topicOf(alert), renderSnsMessage(alert));
    } catch (error) {
      const now = this.options.clock();
      this.logger.warn("publish failed; the alert stays pending for the next run", {
        alertId: claimed.id,
        rule: alert.rule.name,
        error: errorDescription(error),
      });
      const released: AlertDocument = {
        ...claimed.document,
        outbox: {
          ...withoutClaim(outbox),
          status: "pending",
          attempts: outbox.attempts + 1,
          updatedAt: iso(now),
          lastError: errorDescription(error).slice(0, 500),
        },
      };
      try {
        await this.store.replace(claimed, released);
      } catch (releaseError) {
        this.logger.warn("could not release the claim; it will be retried when the lease expires", {
          alertId: claimed.id,
          error: errorDescription(releaseError),
        });
      }
      return "publish_failed";
    }
    return this.markPublished(claimed, messageId);
  }

  private async markPublished(claimed: StoredAlert, messageId: string): Promise<DeliveryOutcome> {
    let current = claimed;
    for (let attempt = 1; attempt <= this.markAttempts; attempt++) {
      const now = this.options.clock();
      const published: AlertDocument = {
        ...current.document,
        outbox: {
          ...withoutClaim(current.document.outbox),
          status: "published",
          attempts: current.document.outbox.attempts + 1,
          updatedAt: iso(now),
          publishedAt: iso(now),
          messageId,
        },
      };
      try {
        const result = await this.store.replace(current, published);
        if (result.outcome === "written") return "published";
        // Someone rewrote the document (a suppression extension): re-read and mark again if we still hold it.
        const fresh = await this.store.get(claimed.id);
        if (fresh === undefined || fresh.document.outbox.claimedBy !== this.options.runId) {
          this.logger.error("alert published but its claim was taken over; it may be published again", {
            alertId: claimed.id,
            messageId,
          });
          return "mark_failed";
        }
        if (fresh.document.outbox.status === "published") return "published";
        current = fresh;
      } catch (error) {
        this.logger.warn("marking the alert published failed; retrying", {
          alertId: claimed.id,
          attempt,
          error: errorDescription(error),
        });
      }
    }
    this.logger.error("alert published but not marked; it will be published again after its lease expires", {
      alertId: claimed.id,
      messageId,
    });
    return "mark_failed";
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
