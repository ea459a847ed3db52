/**
 * The bundled incident (`examples/incident/*.log`) on the real node, and the two ways of turning it into alerts:
 * `audit-trail replay` in-process, and the detector core over the indexed documents.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@opensearch-project/opensearch";
import { runReplay } from "../../lambdas/cli/commands/replay.js";
import { documentFingerprint } from "../../lambdas/core/alerts/ids.js";
import type { Alert, AlertContext } from "../../lambdas/core/alerts/model.js";
import type { SnsAlertMessage } from "../../lambdas/core/alerts/render.js";
import { ALERTS_INDEX, AUDIT_INDEX_PREFIX } from "../../lambdas/core/contracts.js";
import type { AlertPublisher, DetectionLogger, SearchClient } from "../../lambdas/core/detection/ports.js";
import {
  DETECTION_DEFAULTS,
  type DetectionDependencies,
  type DetectionReport,
  runDetection,
} from "../../lambdas/core/detection/run.js";
import type { AlertDocument } from "../../lambdas/core/detection/store.js";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../lambdas/core/normalize/index.js";
import { bootstrapDomain } from "../../lambdas/core/opensearch/index.js";
import { isBehaviourRule, type RulePack } from "../../lambdas/core/rules/types.js";
import { hopMs } from "../../lambdas/core/rules/windows.js";
import { transportSearchClient } from "../../lambdas/detector/opensearch.js";
import { INCIDENT_DIR } from "../fixtures/incident.js";
import { sink } from "../lambdas/cli/helpers.js";
import { TEST_BOOTSTRAP_OPTIONS, testSettings } from "./helpers.js";

export function incidentFiles(): string[] {
  return readdirSync(INCIDENT_DIR)
    .filter((name) => name.endsWith(".log"))
    .sort()
    .map((name) => join(INCIDENT_DIR, name));
}

/**
 * Every line of the files as the transform makes it: one Firehose record per line, `normalizeRecord`, then
 * `rule.name` set to `pack.matchSingleEvent` when it matched anything (`lambdas/core/firehose/transform.ts`).
 */
export function transformedDocuments(files: readonly string[], pack: RulePack): EcsDocument[] {
  return files.flatMap((file) => transformedLines(readFileSync(file, "utf8").split("\n"), pack, file));
}

/**
 * Log lines as the transform makes them (`transformedDocuments`), received by Firehose at `receivedAt`
 * (`event.ingested`) when given; a line it cannot read throws, naming `source`.
 */
export function transformedLines(
  lines: readonly string[],
  pack: RulePack,
  source = "line",
  receivedAt?: string,
): EcsDocument[] {
  const documents: EcsDocument[] = [];
  for (const [index, line] of lines.entries()) {
    if (line.trim() === "") continue;
    const result = normalizeRecord(line, receivedAt === undefined ? {} : { receivedAt });
    if (!result.ok) throw new Error(`${source}:${index + 1}: ${result.reason}`);
    for (const doc of result.documents) {
      const tags = pack.matchSingleEvent(doc);
      if (tags.length > 0) doc.rule = { ...doc.rule, name: [...tags] };
      documents.push(doc);
    }
  }
  return documents;
}

/** `audit-YYYY-MM-DD` of the document's event time. */
export function dailyIndex(doc: EcsDocument): string {
  return `${AUDIT_INDEX_PREFIX}-${doc["@timestamp"].slice(0, 10)}`;
}

/** Bulk-indexes without ids, as Firehose does (identical lines stay separate documents), then refreshes. */
export async function indexDocuments(client: Client, documents: readonly EcsDocument[]): Promise<string[]> {
  const indices = [...new Set(documents.map(dailyIndex))].sort();
  const response = await client.bulk({
    refresh: true,
    body: documents.flatMap((doc) => [{ index: { _index: dailyIndex(doc) } }, doc]),
  });
  const errors = (response.body.items as Record<string, { error?: unknown }>[])
    .map((item) => Object.values(item)[0]?.error)
    .filter((error) => error !== undefined);
  if (errors.length > 0) throw new Error(`bulk indexing failed: ${JSON.stringify(errors.slice(0, 3))}`);
  return indices;
}

/**
 * Overrides for comparing the detector with replay on the incident. It ends abruptly: once the detector has judged
 * every event (`judgedAllMs`), every source reads as silent, which replay does not report for the sources its input
 * ends with. Silence has its own node tests (detector-silence.test.ts).
 */
export const QUIET_SOURCES = { rules: { pipeline_source_silent: { enabled: false } } };

/**
 * The first run time at which the detector has judged every event up to `lastMs` as replay does at the end of its
 * input: every window of the pack's correlations has closed (behavioural rules have none to close), and every event
 * is older than the look-back (`mesh_namespace_not_strict` judges an event only then).
 */
export function judgedAllMs(pack: RulePack, lastMs: number): number {
  return Math.max(
    ...pack.correlationRules
      .filter((rule) => !isBehaviourRule(rule))
      .map((rule) => Math.floor(lastMs / hopMs(rule.timespanMs)) * hopMs(rule.timespanMs) + rule.timespanMs),
    lastMs + DETECTION_DEFAULTS.lookbackMs + 1,
  );
}

/**
 * A fresh node holding `documents`: the alerts index deleted, the domain bootstrapped (which creates it empty), then
 * the documents bulk-indexed in the order given. Returns their daily indices, for `removeFromNode`.
 */
export async function freshNodeWith(client: Client, documents: readonly EcsDocument[]): Promise<string[]> {
  await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
  await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
  return documents.length === 0 ? [] : indexDocuments(client, documents);
}

/** Deletes what a test put on the node: its daily `indices` and the alerts index. */
export async function removeFromNode(client: Client, indices: readonly string[]): Promise<void> {
  await client.indices.delete({ index: [...indices, ALERTS_INDEX].join(","), ignore_unavailable: true });
}

/**
 * The incident on a fresh node for comparing the detector with replay: a bootstrapped domain with an empty alerts
 * index, the incident's documents (tagged by `pack`) indexed, and replay's alerts for the same files; `startMs` is
 * the minute of the first event, `nowMs` the first run time at which the detector has judged them all.
 */
export async function incidentOnNode(
  client: Client,
  pack: RulePack,
  environment: string,
): Promise<{ indices: string[]; replayed: Alert[]; startMs: number; nowMs: number }> {
  const documents = transformedDocuments(incidentFiles(), pack);
  const times = documents.map((doc) => Date.parse(doc["@timestamp"]));
  const startMs = Math.floor(Math.min(...times) / 60_000) * 60_000;
  const nowMs = judgedAllMs(pack, Math.max(...times));
  const indices = await freshNodeWith(client, documents);
  const replayed = await replayAlerts(incidentFiles(), environment, QUIET_SOURCES);
  return { indices, replayed, startMs, nowMs };
}

/** `audit-trail replay --json` in-process over `lines`, written to a temporary file named `fileName`. */
export async function replayLines(
  lines: Iterable<string>,
  environment: string,
  fileName: string,
): Promise<Alert[]> {
  const dir = mkdtempSync(join(tmpdir(), "replay-lines-"));
  try {
    const file = join(dir, fileName);
    writeFileSync(file, `${[...lines].join("\n")}\n`);
    return await replayAlerts([file], environment);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `audit-trail replay --json` in-process; `overrides` as a file, or as an object written to a temporary one. */
export async function replayAlerts(
  files: readonly string[],
  environment: string,
  overrides?: string | object,
): Promise<Alert[]> {
  if (overrides !== undefined && typeof overrides !== "string") {
    const dir = mkdtempSync(join(tmpdir(), "replay-overrides-"));
    try {
      const file = join(dir, "overrides.json");
      writeFileSync(file, JSON.stringify(overrides));
      return await replayAlerts(files, environment, file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const overridesFile = overrides;
  const stdout = sink();
  const stderr = sink();
  const status = await runReplay(
    {
      ruleDirs: [],
      defaultRules: true,
      environment,
      latenessMs: 120_000,
      json: true,
      inputs: [...files],
      ...(overridesFile === undefined ? {} : { overridesFile }),
    },
    stdout,
    stderr,
  );
  if (status !== 0) throw new Error(`replay exited ${status}: ${stderr.text()}`);
  return stdout
    .text()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Alert);
}

/** Records every message; `fail` makes a publish throw as SNS throttling would. */
export class RecordingPublisher implements AlertPublisher {
  readonly published: SnsAlertMessage[] = [];
  attempts = 0;
  fail: (message: SnsAlertMessage) => boolean = () => false;

  async publish(_topic: string, message: SnsAlertMessage): Promise<string> {
    this.attempts++;
    await Promise.resolve();
    if (this.fail(message)) throw Object.assign(new Error("Rate exceeded"), { name: "ThrottledException" });
    this.published.push(message);
    return `msg-${this.published.length}`;
  }

  /** Alert ids paged, in order (from the JSON body HTTPS subscribers get). */
  ids(): string[] {
    return this.published.map((message) => {
      const bodies = JSON.parse(message.message) as { https: string };
      return (JSON.parse(bodies.https) as { id: string }).id;
    });
  }
}

export class RecordingLogger implements DetectionLogger {
  readonly entries: { level: "warn" | "error"; message: string; extra: unknown[] }[] = [];
  info(): void {}
  warn(message: string, ...extra: Record<string, unknown>[]): void {
    this.entries.push({ level: "warn", message, extra });
  }
  error(message: string, ...extra: Record<string, unknown>[]): void {
    this.entries.push({ level: "error", message, extra });
  }
}

/**
 * The detector's watermark (DynamoDB in production): advanced to `nowMs` only after a complete run, with the newest
 * index stamp the run found (`DetectionReport.indexedThroughMs`).
 */
export class InMemoryWatermark {
  indexedThroughMs: number | undefined;
  constructor(public valueMs: number | undefined) {}
}

/** One detector run as the Lambda makes it: the production `SearchClient` over a plain HTTP client to the node. */
export async function detectorRun(options: {
  readonly client: Client;
  readonly pack: RulePack;
  readonly alertContext: AlertContext;
  readonly publisher: AlertPublisher;
  readonly logger: DetectionLogger;
  readonly watermark: InMemoryWatermark;
  readonly nowMs: number;
  readonly runId: string;
  /** How often behavioural rules rebuild their baseline. @default the detector's (daily) */
  readonly baselineRebuildEveryMs?: number;
  /**
   * Incremental evaluation (`DetectionOptions.ingestLagMs`), by the index stamp from the second run on as the Lambda
   * reads it. @default the whole lookback every run
   */
  readonly ingestLagMs?: number;
  /** `DetectionOptions.indexLagMs`. @default the detector's (60 s) */
  readonly indexLagMs?: number;
  /** Wraps the production search client (to look at what the run reads). @default as it is */
  readonly wrapSearch?: (search: SearchClient) => SearchClient;
}): Promise<DetectionReport> {
  const { nowMs, watermark } = options;
  const { wrapSearch, ...rest } = options;
  const deps = detectorOnNode(rest);
  const report = await runDetection(
    wrapSearch === undefined ? deps : { ...deps, search: wrapSearch(deps.search) },
    {
      nowMs,
      watermarkMs: watermark.valueMs,
      runId: options.runId,
      clock: () => nowMs,
      ...(options.baselineRebuildEveryMs === undefined
        ? {}
        : { baselineRebuildEveryMs: options.baselineRebuildEveryMs }),
      ...(options.ingestLagMs === undefined ? {} : { ingestLagMs: options.ingestLagMs }),
      ...(watermark.indexedThroughMs === undefined ? {} : { indexedWatermarkMs: watermark.indexedThroughMs }),
      ...(options.indexLagMs === undefined ? {} : { indexLagMs: options.indexLagMs }),
    },
  );
  if (report.complete) {
    watermark.valueMs = nowMs;
    watermark.indexedThroughMs = report.indexedThroughMs;
  }
  return report;
}

/**
 * Every alert document in the alerts index (after a refresh), with its `_id`; the behavioural rules' baseline
 * documents (`baseline.<rule>`, no `rule.name`) are not alerts.
 */
export async function indexedAlerts(client: Client): Promise<{ _id: string; document: AlertDocument }[]> {
  await client.indices.refresh({ index: ALERTS_INDEX });
  const response = await client.search({
    index: ALERTS_INDEX,
    body: { size: 1000, query: { exists: { field: "rule.name" } }, sort: [{ id: { order: "asc" } }] },
  });
  return response.body.hits.hits.map((hit) => ({
    _id: String(hit._id),
    document: hit._source as unknown as AlertDocument,
  }));
}

/** A copy of `alerts` ordered by id, for comparing the alerts of two paths whatever order each gives them in. */
export function sortedById<T extends { readonly id: string }>(alerts: readonly T[]): T[] {
  return [...alerts].sort((a, b) => a.id.localeCompare(b.id));
}

/** The detector's dependencies as the Lambda builds them: the production `SearchClient` over a plain HTTP client. */
export function detectorOnNode(options: {
  readonly client: Client;
  readonly pack: RulePack;
  readonly alertContext: AlertContext;
  readonly publisher: AlertPublisher;
  readonly logger: DetectionLogger;
}): DetectionDependencies {
  const { client, ...rest } = options;
  return { search: transportSearchClient(client), ...rest };
}

/**
 * An alert in a form both paths must agree on exactly: everything but the outbox and the arrival its summary read up
 * to (`seen.through`, `seen.indexedThrough`: the incremental detector's bookkeeping, which replay and a
 * whole-lookback detector do not keep), and the matched events by fingerprint (the indexed copies carry the transform's `rule.name` tags, the
 * replayed ones do not).
 */
export function comparable(alert: Alert | AlertDocument) {
  const { events, seen, ...rest } = alert;
  const { outbox: _outbox, ...content } = rest as typeof rest & { outbox?: unknown };
  const { through: _through, indexedThrough: _indexedThrough, ...read } = seen;
  return { ...content, seen: read, events: events.map(documentFingerprint) };
}
