/**
 * What the canary asks OpenSearch, and how it reads the answers: the run's documents in the audit indices (found by
 * the `event.id` the transform gives each record, or by the run's user agent or client workload), and the run's
 * alerts in the alerts index (alerts of `pipeline_canary` grouped by, or holding a record with, one of those).
 *
 * Both readers check each hit against the run themselves rather than trusting the query alone, so a document or an
 * alert of another canary run is never taken for this run's.
 */
import * as z from "zod";
import { parseSearchResponse, SearchResponseError } from "../detection/responses.js";
import type { CanaryIdentity, CanaryRecord, CanarySource } from "./records.js";
import { CANARY_DATASETS, CANARY_RULE_NAME, CANARY_SOURCES } from "./records.js";

/** Data sets in the canary's source order, for stable reports. */
const DATASET_ORDER: readonly string[] = CANARY_SOURCES.map((source) => CANARY_DATASETS[source]);

/** How far around the records' event time the searches look (the records all carry the same time). */
const EVENT_TIME_MARGIN_MS = 60_000;

/** One record found in the audit indices. */
export interface SearchableObservation {
  readonly source: CanarySource;
  /** The daily index holding it. */
  readonly index: string;
  readonly eventId: string;
  /** `event.ingested`: when Firehose received the record (its approximate arrival time). */
  readonly receivedAt?: string;
  /** Whether the transform tagged it with `pipeline_canary` (else no canary alert can come from it). */
  readonly taggedByCanaryRule: boolean;
}

/** One canary alert of the run, as the alerts index holds it. */
export interface CanaryAlertObservation {
  readonly id: string;
  /** Outbox status: `published`, `pending`, `publishing` or `not_paged`. */
  readonly status: string;
  /** Publish attempts so far. */
  readonly attempts: number;
  /** When SNS accepted it (the detector's clock). */
  readonly publishedAt?: string;
  readonly messageId?: string;
  /** Why the last publish failed. */
  readonly lastError?: string;
  /** The topic it is (or was) published to: `ops` for the canary rule. */
  readonly topic?: string;
  /** The data sets of the records it holds. */
  readonly datasets: readonly string[];
}

/** `_search` body for the run's documents in the audit indices. */
export function canaryEventsQuery(
  identity: CanaryIdentity,
  records: readonly CanaryRecord[],
  eventTimeMs: number,
): Record<string, unknown> {
  return {
    size: 100,
    _source: [
      "@timestamp",
      "event.id",
      "event.dataset",
      "event.ingested",
      "user_agent.original",
      "mesh.source.workload",
      "rule.name",
    ],
    query: {
      bool: {
        filter: [{ range: { "@timestamp": timeRange(eventTimeMs) } }],
        should: [
          { terms: { "event.id": records.map((record) => record.eventId) } },
          { term: { "user_agent.original": identity.userAgent } },
          { term: { "mesh.source.workload": identity.clientPod } },
        ],
        minimum_should_match: 1,
      },
    },
  };
}

/** The fields of a document (or of an alert's event) that name the canary client of a run. */
const clientFields = {
  user_agent: z.object({ original: z.string().optional() }).optional(),
  mesh: z.object({ source: z.object({ workload: z.string().optional() }).optional() }).optional(),
};

const eventHitSchema = z.object({
  event: z
    .object({ id: z.string().optional(), dataset: z.string().optional(), ingested: z.string().optional() })
    .optional(),
  ...clientFields,
  rule: z.object({ name: z.union([z.string(), z.array(z.string())]).optional() }).optional(),
});

/** Whether the document's client is the run's canary client. */
function fromRunClient(
  document: { user_agent?: { original?: string }; mesh?: { source?: { workload?: string } } },
  identity: CanaryIdentity,
): boolean {
  return (
    document.user_agent?.original === identity.userAgent ||
    document.mesh?.source?.workload === identity.clientPod
  );
}

/**
 * The run's records among the hits, by source: a hit is a record's when it has the record's `event.id`, or the
 * run's client and the record's data set (the id differs when the deployed transform computes it otherwise).
 */
export function readCanaryEvents(
  response: unknown,
  identity: CanaryIdentity,
  records: readonly CanaryRecord[],
): Map<CanarySource, SearchableObservation> {
  const found = new Map<CanarySource, SearchableObservation>();
  for (const hit of parseSearchResponse(response, "canary records").hits.hits) {
    const parsed = eventHitSchema.safeParse(hit._source);
    if (!parsed.success) continue;
    const { event, rule } = parsed.data;
    const record =
      records.find((candidate) => candidate.eventId === event?.id) ??
      records.find(
        (candidate) => fromRunClient(parsed.data, identity) && candidate.dataset === event?.dataset,
      );
    if (record === undefined || found.has(record.source)) continue;
    const tags = rule?.name === undefined ? [] : Array.isArray(rule.name) ? rule.name : [rule.name];
    found.set(record.source, {
      source: record.source,
      index: hit._index,
      eventId: event?.id ?? hit._id,
      ...(event?.ingested === undefined ? {} : { receivedAt: event.ingested }),
      taggedByCanaryRule: tags.includes(CANARY_RULE_NAME),
    });
  }
  return found;
}

/** `_search` body for recent `pipeline_canary` alerts. */
export function canaryAlertsQuery(eventTimeMs: number): Record<string, unknown> {
  return {
    size: 50,
    sort: [{ "window.start": { order: "asc", unmapped_type: "date" } }],
    _source: [
      "id",
      "rule.name",
      "topic",
      "group",
      "outbox",
      "events.user_agent.original",
      "events.mesh.source.workload",
      "events.event.dataset",
    ],
    query: {
      bool: {
        filter: [
          { term: { "rule.name": CANARY_RULE_NAME } },
          { range: { "window.end": { gte: new Date(eventTimeMs - EVENT_TIME_MARGIN_MS).toISOString() } } },
        ],
      },
    },
  };
}

const alertHitSchema = z.object({
  id: z.string(),
  topic: z.string().optional(),
  group: z.record(z.string(), z.unknown()).optional(),
  outbox: z.object({
    status: z.string(),
    attempts: z.number().default(0),
    publishedAt: z.string().optional(),
    messageId: z.string().optional(),
    lastError: z.string().optional(),
  }),
  events: z
    .array(
      z.object({
        ...clientFields,
        event: z.object({ dataset: z.string().optional() }).optional(),
      }),
    )
    .default([]),
});

/** The run's canary alerts among the hits: those grouped by the run's client, or holding one of its records. */
export function readCanaryAlerts(response: unknown, identity: CanaryIdentity): CanaryAlertObservation[] {
  const alerts: CanaryAlertObservation[] = [];
  for (const hit of parseSearchResponse(response, "canary alerts").hits.hits) {
    const parsed = alertHitSchema.safeParse(hit._source);
    if (!parsed.success) {
      throw new SearchResponseError(
        `canary alerts: ${hit._index}/${hit._id} is not an alert document: ${z.prettifyError(parsed.error)}`,
      );
    }
    const alert = parsed.data;
    const ofRun =
      alert.group?.["user_agent.original"] === identity.userAgent ||
      alert.group?.["mesh.source.workload"] === identity.clientPod ||
      alert.events.some((event) => fromRunClient(event, identity));
    if (!ofRun) continue;
    const datasets = [
      ...new Set(
        alert.events.flatMap((event) => (event.event?.dataset === undefined ? [] : [event.event.dataset])),
      ),
    ].sort((a, b) => DATASET_ORDER.indexOf(a) - DATASET_ORDER.indexOf(b));
    alerts.push({
      id: alert.id,
      status: alert.outbox.status,
      attempts: alert.outbox.attempts,
      ...(alert.outbox.publishedAt === undefined ? {} : { publishedAt: alert.outbox.publishedAt }),
      ...(alert.outbox.messageId === undefined ? {} : { messageId: alert.outbox.messageId }),
      ...(alert.outbox.lastError === undefined ? {} : { lastError: alert.outbox.lastError }),
      ...(alert.topic === undefined ? {} : { topic: alert.topic }),
      datasets,
    });
  }
  return alerts;
}

function timeRange(eventTimeMs: number): { gte: string; lte: string } {
  return {
    gte: new Date(eventTimeMs - EVENT_TIME_MARGIN_MS).toISOString(),
    lte: new Date(eventTimeMs + EVENT_TIME_MARGIN_MS).toISOString(),
  };
}
