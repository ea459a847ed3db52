/**
 * One canary run: send the records (`send.ts`), then poll OpenSearch until every sent record is searchable and the
 * run's canary alert is published, or the time is up (`watch.ts`). Returns what it observed; `report.ts` judges it.
 *
 * Times: a record's "sent at" is when `PutRecordBatch` accepted it; its "searchable at" is the poll that first
 * found it (so within one poll interval after it became searchable); the alert's "published at" is the
 * `outbox.publishedAt` the detector wrote when SNS accepted it, on the detector's clock.
 */

import { ALERTS_INDEX } from "../contracts.js";
import { AUDIT_EVENTS_INDICES } from "../detection/run.js";
import { errorDescription } from "../errors.js";
import type { CanaryClock, CanaryRecordSender, CanarySearch } from "./ports.js";
import type { CanaryIdentity, CanaryRecord, CanarySource } from "./records.js";
import { type SendOptions, type SendOutcome, sendCanaryRecords } from "./send.js";
import {
  type CanaryAlertObservation,
  canaryAlertsQuery,
  canaryEventsQuery,
  readCanaryAlerts,
  readCanaryEvents,
  type SearchableObservation,
} from "./watch.js";

export interface CanaryRunOptions {
  readonly identity: CanaryIdentity;
  readonly records: readonly CanaryRecord[];
  /** The records' event time (epoch ms). */
  readonly eventTimeMs: number;
  /** How long to wait, from the start of the run, for every record and the alert. */
  readonly timeoutMs: number;
  /** Time between two polls. */
  readonly pollIntervalMs: number;
  readonly send?: SendOptions;
  /** @default AUDIT_EVENTS_INDICES (`audit-*,-audit-alerts`) */
  readonly auditIndex?: string;
  /** @default ALERTS_INDEX (`audit-alerts`) */
  readonly alertsIndex?: string;
}

/** What the run reports while it waits (a wait can take many minutes). */
export type CanaryProgress =
  | { readonly kind: "sent"; readonly outcomes: readonly SendOutcome[] }
  | { readonly kind: "searchable"; readonly source: CanarySource; readonly latencyMs: number }
  | { readonly kind: "alert"; readonly alert: CanaryAlertObservation };

export interface CanaryDependencies {
  readonly sender: CanaryRecordSender;
  readonly search: CanarySearch;
  readonly clock: CanaryClock;
  /** Told of each step as it happens. @default - nothing is told */
  readonly onProgress?: (event: CanaryProgress) => void;
}

/** A record the canary found, and when. */
export interface SearchableRecord extends SearchableObservation {
  readonly searchableAtMs: number;
}

/** What one run saw; `buildCanaryReport` judges it. */
export interface CanaryObservations {
  /** Before the first send. */
  readonly startedAtMs: number;
  /** After the last search. */
  readonly finishedAtMs: number;
  readonly timeoutMs: number;
  /** One per record, in the records' order. */
  readonly sent: readonly SendOutcome[];
  /** The records found in the audit indices, by source. */
  readonly searchable: ReadonlyMap<CanarySource, SearchableRecord>;
  /** The run's canary alerts at the last poll. */
  readonly alerts: readonly CanaryAlertObservation[];
  /** Set when a search failed: the canary stopped watching then. */
  readonly watchError?: string;
}

/** Every alert of the run is published (and there is one). */
export function alertDelivered(alerts: readonly CanaryAlertObservation[]): boolean {
  return alerts.length > 0 && alerts.every((alert) => alert.status === "published");
}

/** Sends the records and watches for them and for the alert until all arrived or `timeoutMs` has passed. */
export async function runCanary(
  deps: CanaryDependencies,
  options: CanaryRunOptions,
): Promise<CanaryObservations> {
  const { clock } = deps;
  const startedAtMs = clock.now();
  const deadlineMs = startedAtMs + options.timeoutMs;
  const sent = await sendCanaryRecords(deps.sender, options.records, clock, options.send);
  const tell = deps.onProgress ?? (() => {});
  tell({ kind: "sent", outcomes: sent });
  const sentSources = new Set(sent.filter((outcome) => outcome.sent).map((outcome) => outcome.source));
  const searchable = new Map<CanarySource, SearchableRecord>();
  let alerts: CanaryAlertObservation[] = [];
  let watchError: string | undefined;

  const eventsQuery = canaryEventsQuery(options.identity, options.records, options.eventTimeMs);
  const alertsQuery = canaryAlertsQuery(options.eventTimeMs);
  const waitingFor = () => [...sentSources].filter((source) => !searchable.has(source));

  while (sentSources.size > 0) {
    try {
      if (waitingFor().length > 0) {
        const response = await deps.search.search({
          index: options.auditIndex ?? AUDIT_EVENTS_INDICES,
          body: eventsQuery,
        });
        const foundAtMs = clock.now();
        for (const [source, found] of readCanaryEvents(response, options.identity, options.records)) {
          if (searchable.has(source)) continue;
          searchable.set(source, { ...found, searchableAtMs: foundAtMs });
          const sentAtMs = sentAt(sent, source);
          if (sentAtMs !== undefined) tell({ kind: "searchable", source, latencyMs: foundAtMs - sentAtMs });
        }
      }
      // No alert can exist before a record is searchable: the detector reads tagged documents.
      if (searchable.size > 0 && !alertDelivered(alerts)) {
        const response = await deps.search.search({
          index: options.alertsIndex ?? ALERTS_INDEX,
          body: alertsQuery,
        });
        const previous = alerts;
        alerts = readCanaryAlerts(response, options.identity);
        for (const alert of alerts) {
          const before = previous.find((candidate) => candidate.id === alert.id);
          if (before?.status !== alert.status) tell({ kind: "alert", alert });
        }
      }
    } catch (error: unknown) {
      watchError = errorDescription(error);
      break;
    }
    if (waitingFor().length === 0 && alertDelivered(alerts)) break;
    const now = clock.now();
    if (now >= deadlineMs) break;
    await clock.sleep(Math.min(options.pollIntervalMs, deadlineMs - now));
  }

  return {
    startedAtMs,
    finishedAtMs: clock.now(),
    timeoutMs: options.timeoutMs,
    sent,
    searchable,
    alerts,
    ...(watchError === undefined ? {} : { watchError }),
  };
}

function sentAt(sent: readonly SendOutcome[], source: CanarySource): number | undefined {
  const outcome = sent.find((candidate) => candidate.source === source);
  return outcome?.sent ? outcome.sentAtMs : undefined;
}
