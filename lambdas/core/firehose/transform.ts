/**
 * The Firehose data-transformation contract, as a pure function over one invocation's batch.
 *
 * - Every input `recordId` comes back exactly once, in input order.
 * - A record that cannot be parsed comes back `ProcessingFailed` with its original data, so Firehose writes it to
 *   the S3 error prefix: it is never `Dropped` and never fails its neighbours. The only `Dropped` records are
 *   those holding no log event: CloudWatch Logs `CONTROL_MESSAGE`s (what Firehose's own CloudWatch blueprint does)
 *   and an audit webhook `EventList` with no items.
 * - Data may be gzip (detected by magic bytes, e.g. CloudWatch Logs subscription payloads); a `DATA_MESSAGE`
 *   yields one document per `logEvents[].message`, an audit webhook `EventList` one per event.
 * - Several documents from one record: Firehose's OpenSearch destination indexes a record's data as ONE document,
 *   so newline-separated documents in one record would be refused by OpenSearch as a whole. Two modes:
 *   `ndjson` puts them all, newline-separated, into the record's data (right for S3-only destinations and the
 *   CLI); `overflow` (what the Lambda uses) keeps the first document in the record and returns the others in
 *   `overflow`, sealed (`core/normalize/reingest.ts`), for the handler to re-ingest into the same delivery stream
 *   as one record each; `settleOverflow` then answers a record whose documents could not all be sent
 *   `ProcessingFailed` with its original data. A sealed document whose seal verifies passes through unchanged (same `event.id`, not
 *   parsed twice); a producer cannot make one, so anything else that looks like a document is refused.
 * - The response stays under the 6 MB Lambda limit: space is reserved for every record still to come at its
 *   original size, and a record whose documents would cross the limit is counted in `stats.oversize`. In
 *   `overflow` mode it is answered `Dropped` and all its documents go to `overflow`, to be indexed through the
 *   stream like a multi-document record's (its reserved space stays taken, so the handler can still answer it
 *   `ProcessingFailed` with its original data if they cannot be sent); in `ndjson` mode it is answered
 *   `ProcessingFailed` with its original data (kept in S3, replayable with the CLI).
 * - Every document's data ends with a newline, so the S3 backup (`AllDocuments`) is newline-delimited JSON.
 * - A record fails alone, always: anything that throws while it is read, normalized, tagged or serialized (a
 *   document nested too deep for `JSON.stringify`, say) answers that record `ProcessingFailed` with its original
 *   data (reason `internal_error`). Amplification is bounded: a record may decode to at most 8 MiB and yield at
 *   most 10,000 documents, a batch may decode to at most `maxBatchText` (reasons `decompressed_size_limit`,
 *   `document_limit`, `batch_decompressed_size_limit`).
 * - `rule.name` is always the tagger's answer (removed when it matches nothing), and `Records.<dataset>` counts
 *   only the datasets the parsers produce (`unknown` otherwise), whatever a record claims.
 */
import { TRANSFORM_METRICS, transformDatasetMetric, transformFailureMetric } from "../contracts.js";
import type { EcsDocument } from "../ecs.js";
import { errorMessage } from "../errors.js";
import { MAX_RECORD_TEXT, type NormalizeOptions, normalizeRecord } from "../normalize/index.js";
import type { Pseudonymizer } from "../normalize/pseudonymize.js";
import type { ReingestSealer } from "../normalize/reingest.js";
import { DATASETS, type Failure, type FailureCode } from "../parsers/types.js";
import { decodeRecordData } from "./record-data.js";

/** One input record of a Firehose transformation invocation (structurally `aws-lambda`'s type). */
export interface FirehoseInputRecord {
  recordId: string;
  approximateArrivalTimestamp?: number;
  /** Base64. */
  data: string;
}
export interface FirehoseInputEvent {
  invocationId?: string;
  deliveryStreamArn?: string;
  records: readonly FirehoseInputRecord[];
}
export type FirehoseResultStatus = "Ok" | "Dropped" | "ProcessingFailed";
export interface FirehoseOutputRecord {
  recordId: string;
  result: FirehoseResultStatus;
  /** Base64. */
  data: string;
}
export interface FirehoseOutput {
  records: FirehoseOutputRecord[];
}

export interface TransformOptions {
  /** Keep the raw record in `event.original`. @default true */
  keepOriginal?: boolean;
  /** @default - no pseudonymization */
  pseudonymizer?: Pseudonymizer;
  /** Stateless rule matching: returns the ids of the rules a document matches, written to `rule.name`. @default - no tags */
  tagger?: (doc: EcsDocument) => readonly string[];
  /** How a record yielding several documents is emitted (see the module comment). @default "ndjson" */
  multiDocument?: "ndjson" | "overflow";
  /**
   * Seals the documents returned in `overflow` and verifies sealed records coming back; required in `overflow`
   * mode. @default - sealed records are refused
   */
  reingest?: ReingestSealer;
  /** The most text all records of the batch may decode to (gunzipped). @default MAX_BATCH_TEXT (32 MiB) */
  maxBatchText?: number;
  /** The response size budget in bytes. @default 6 MiB less a 16 KiB margin */
  maxResponseBytes?: number;
}

export interface TransformStats {
  records: number;
  ok: number;
  dropped: number;
  failed: number;
  documents: number;
  /** Documents per `event.dataset`. */
  documentsByDataset: Record<string, number>;
  /** Records per `event.dataset` of their first document. */
  recordsByDataset: Record<string, number>;
  /** Failed records per failure code (`Failure.code`). */
  failuresByReason: Partial<Record<FailureCode, number>>;
  /**
   * Records whose documents would have crossed the response limit: in `overflow` mode answered `Dropped` with all
   * their documents in `overflow` (and not counted in `dropped`), in `ndjson` mode answered `ProcessingFailed`
   * (and counted in `failed`).
   */
  oversize: number;
  /** Documents whose tagger threw (indexed untagged). */
  taggerErrors: number;
}

export interface Overflow {
  /** The source record: answered `Ok` with its first document, or `Dropped` when none fitted in the response. */
  recordId: string;
  /** Sealed documents (`mat-reingest/v1 <seal> <JSON>` plus newline), one Firehose record each. */
  documents: string[];
}

export interface TransformResult {
  response: FirehoseOutput;
  stats: TransformStats;
  overflow: Overflow[];
}

export const LAMBDA_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024;
const DEFAULT_BUDGET = LAMBDA_RESPONSE_LIMIT_BYTES - 16 * 1024;
/** Bytes around a record in the response: `{"recordId":,"result":"ProcessingFailed","data":""},` (id length counted apart). */
const OVERHEAD = { Ok: 38, Dropped: 43, ProcessingFailed: 52 } as const;
/** `{"records":[]}` */
const ENVELOPE = 14;
/**
 * No document is shorter than this in base64: even a minimal re-ingested one carries `@timestamp`, `ecs.version`
 * and `event.{kind,dataset,category,type}` (≥ 104 JSON characters plus the newline).
 */
const MIN_DOCUMENT_BASE64 = 128;
const RESPONSE_FULL: Failure = {
  code: "response_size_limit",
  detail: "response size limit: documents would cross the 6 MB Lambda response limit",
};
/**
 * The most text one batch may decode to: four records at the per-record cap. A batch Firehose hands the transform
 * is at most 6 MB of base64 (about 3 MB with the stack's processor buffering), a few MiB of text gunzipped.
 */
export const MAX_BATCH_TEXT = 4 * MAX_RECORD_TEXT;
const KNOWN_DATASETS: ReadonlySet<string> = new Set(Object.values(DATASETS));

/** The dataset a metric is named after: one the parsers produce, or `unknown`. */
function metricDataset(dataset: unknown): string {
  return typeof dataset === "string" && KNOWN_DATASETS.has(dataset) ? dataset : "unknown";
}

export function transformBatch(event: FirehoseInputEvent, options: TransformOptions = {}): TransformResult {
  const budget = options.maxResponseBytes ?? DEFAULT_BUDGET;
  const mode = options.multiDocument ?? "ndjson";
  const sealer = options.reingest;
  if (mode === "overflow" && sealer === undefined) {
    throw new Error("transformBatch: overflow mode needs a re-ingest sealer (options.reingest)");
  }
  let textLeft = options.maxBatchText ?? MAX_BATCH_TEXT;
  const records = event.records;
  const stats: TransformStats = {
    records: records.length,
    ok: 0,
    dropped: 0,
    failed: 0,
    documents: 0,
    documentsByDataset: {},
    recordsByDataset: {},
    failuresByReason: {},
    oversize: 0,
    taggerErrors: 0,
  };
  const overflow: Overflow[] = [];
  const out: FirehoseOutputRecord[] = new Array(records.length);
  const ids = new Array<number>(records.length);
  let reserved = ENVELOPE;
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as FirehoseInputRecord;
    const id = idLength(record.recordId);
    ids[i] = id;
    reserved += OVERHEAD.ProcessingFailed + id + record.data.length;
  }
  let used = 0;
  // One options object for the whole batch; only `receivedAt` changes, and rarely (records arrive in bursts).
  const normalizeOptions: NormalizeOptions = {};
  if (options.keepOriginal !== undefined) normalizeOptions.keepOriginal = options.keepOriginal;
  if (options.pseudonymizer !== undefined) normalizeOptions.pseudonymizer = options.pseudonymizer;
  if (sealer !== undefined) normalizeOptions.reingest = sealer;
  // Text nested in Firehose error output counts against the batch's budget too.
  normalizeOptions.onDecoded = (chars) => {
    textLeft -= chars;
  };
  let lastArrival = Number.NaN;
  let lastReceivedAt: string | undefined;

  for (let i = 0; i < records.length; i++) {
    const record = records[i] as FirehoseInputRecord;
    const fallback = OVERHEAD.ProcessingFailed + (ids[i] as number) + record.data.length;
    reserved -= fallback;
    let failure: Failure;
    // Once even the smallest document could not fit, the rest go back as they came, without parsing them (in
    // `overflow` mode they are still parsed: their documents can go to `overflow`).
    const full =
      mode === "ndjson" && used + reserved + OVERHEAD.Ok + (ids[i] as number) + MIN_DOCUMENT_BASE64 > budget;
    try {
      const limit = Math.min(MAX_RECORD_TEXT, textLeft);
      let text = full ? RESPONSE_FULL : decodeRecordData(record.data, limit);
      if (typeof text === "string") {
        textLeft -= text.length;
        if (textLeft < 0) text = batchLimit(options.maxBatchText ?? MAX_BATCH_TEXT);
      } else if ("failure" in text) {
        text =
          limit < MAX_RECORD_TEXT && text.failure.code === "decompressed_size_limit"
            ? batchLimit(options.maxBatchText ?? MAX_BATCH_TEXT)
            : text.failure;
      }
      if (typeof text !== "string") {
        if (full) stats.oversize++;
        failure = text;
      } else {
        const arrival = record.approximateArrivalTimestamp;
        if (arrival !== lastArrival) {
          lastArrival = arrival ?? Number.NaN;
          lastReceivedAt =
            typeof arrival === "number" && Number.isFinite(arrival) ? safeIso(arrival) : undefined;
        }
        if (lastReceivedAt === undefined) delete normalizeOptions.receivedAt;
        else normalizeOptions.receivedAt = lastReceivedAt;
        normalizeOptions.maxBytes = Math.max(0, Math.min(MAX_RECORD_TEXT - text.length, textLeft));
        const normalized = normalizeRecord(text, normalizeOptions);
        if (!normalized.ok) {
          failure = normalized.failure;
        } else if (normalized.documents.length === 0) {
          out[i] = { recordId: record.recordId, result: "Dropped", data: "" };
          used += OVERHEAD.Dropped + (ids[i] as number);
          stats.dropped++;
          continue;
        } else {
          const docs = normalized.documents;
          if (options.tagger !== undefined) tag(docs, options.tagger, stats);
          let data: string;
          let first: string | undefined;
          let extra: string[] | undefined;
          if (docs.length === 1) {
            first = JSON.stringify(docs[0]);
            data = encodeLine(first);
          } else if (mode === "ndjson") {
            let joined = "";
            for (const doc of docs) joined += `${JSON.stringify(doc)}\n`;
            data = Buffer.from(joined, "utf8").toString("base64");
          } else {
            first = JSON.stringify(docs[0]);
            data = encodeLine(first);
            extra = [];
            const seal = sealer as ReingestSealer;
            for (let d = 1; d < docs.length; d++) extra.push(seal.seal(JSON.stringify(docs[d])));
          }
          // Sealed before anything is counted: a throw here leaves the batch's state as it was.
          const sealedFirst =
            mode === "overflow" && first !== undefined ? (sealer as ReingestSealer).seal(first) : undefined;
          const size = OVERHEAD.Ok + (ids[i] as number) + data.length;
          const fits = used + size + reserved <= budget;
          if (fits || mode === "overflow") {
            if (fits) {
              used += size;
              out[i] = { recordId: record.recordId, result: "Ok", data };
              if (extra !== undefined) overflow.push({ recordId: record.recordId, documents: extra });
              stats.ok++;
            } else {
              // Every document through the stream; the record keeps its reserved space for a failed send.
              used += fallback;
              out[i] = { recordId: record.recordId, result: "Dropped", data: "" };
              overflow.push({
                recordId: record.recordId,
                documents: [sealedFirst as string, ...(extra ?? [])],
              });
              stats.oversize++;
            }
            stats.documents += docs.length;
            const dataset = metricDataset((docs[0] as EcsDocument).event.dataset);
            stats.recordsByDataset[dataset] = (stats.recordsByDataset[dataset] ?? 0) + 1;
            for (const doc of docs) {
              const d = metricDataset(doc.event.dataset);
              stats.documentsByDataset[d] = (stats.documentsByDataset[d] ?? 0) + 1;
            }
            continue;
          }
          stats.oversize++;
          failure = RESPONSE_FULL;
        }
      }
    } catch (error) {
      // Whatever threw, only this record fails, and nothing of it was counted or emitted.
      failure = { code: "internal_error", detail: `internal error: ${errorMessage(error)}` };
    }
    out[i] = { recordId: record.recordId, result: "ProcessingFailed", data: record.data };
    used += fallback;
    stats.failed++;
    stats.failuresByReason[failure.code] = (stats.failuresByReason[failure.code] ?? 0) + 1;
  }
  return { response: { records: out }, stats, overflow };
}

export interface SettledBatch {
  /** The answer to Firehose. */
  response: FirehoseOutput;
  /** Documents sent through the stream. */
  reingested: number;
  /** Records answered `ProcessingFailed` because their overflow could not all be sent. */
  reingestFailed: number;
}

/**
 * The batch's answer once its overflow was sent (or not): a record whose documents could not all be re-ingested
 * comes back `ProcessingFailed` with its original data, whatever `transformBatch` answered for it (Firehose then
 * keeps it under the error prefix: nothing is lost, and documents of it that were sent keep their `event.id`, so a
 * replay overwrites them); every other record as `transformBatch` answered it. Every input `recordId` once, in
 * input order, and the response within `transformBatch`'s budget (it kept each record's original size in reserve).
 */
export function settleOverflow(
  event: FirehoseInputEvent,
  result: TransformResult,
  unsent: ReadonlySet<string>,
): SettledBatch {
  let reingested = 0;
  for (const item of result.overflow) if (!unsent.has(item.recordId)) reingested += item.documents.length;
  if (unsent.size === 0) return { response: result.response, reingested, reingestFailed: 0 };
  let reingestFailed = 0;
  const records = result.response.records.map((answer, i) => {
    if (!unsent.has(answer.recordId)) return answer;
    reingestFailed++;
    const data = (event.records[i] as FirehoseInputRecord).data;
    return { recordId: answer.recordId, result: "ProcessingFailed" as const, data };
  });
  return { response: { records }, reingested, reingestFailed };
}

/**
 * The transform's metrics for one invocation, as `[name, count]`: the `TRANSFORM_METRICS` counts, `Records.<dataset>`
 * and `Failures.<code>`; the counts emitted only when there are some (`reingestFailedRecords`, `taggerErrors`) are
 * left out at zero.
 */
export function transformMetrics(
  stats: TransformStats,
  settled: SettledBatch,
): [name: string, count: number][] {
  const names = TRANSFORM_METRICS.names;
  const out: [string, number][] = [];
  if (settled.reingestFailed > 0) out.push([names.reingestFailedRecords, settled.reingestFailed]);
  out.push(
    [names.records, stats.records],
    [names.recordsOk, stats.ok],
    [names.recordsFailed, stats.failed],
    [names.recordsDropped, stats.dropped],
    [names.documents, stats.documents],
    [names.documentsReingested, settled.reingested],
    [names.recordsOversize, stats.oversize],
  );
  if (stats.taggerErrors > 0) out.push([names.taggerErrors, stats.taggerErrors]);
  for (const [dataset, count] of Object.entries(stats.recordsByDataset)) {
    out.push([transformDatasetMetric(dataset), count]);
  }
  for (const [code, count] of Object.entries(stats.failuresByReason)) {
    out.push([transformFailureMetric(code as FailureCode), count as number]);
  }
  return out;
}

/** A scratch buffer reused for every document (the transform is synchronous), grown when a document needs it. */
let scratch = Buffer.allocUnsafe(256 * 1024);

/** Base64 of `json` plus a newline, without building the concatenated string first. */
function encodeLine(json: string): string {
  const worst = json.length * 3 + 1;
  if (worst > scratch.length) scratch = Buffer.allocUnsafe(Math.max(worst, scratch.length * 2));
  const n = scratch.write(json, 0, "utf8");
  scratch[n] = 10;
  return scratch.toString("base64", 0, n + 1);
}

/** `rule.name` is the tagger's answer and nothing else: a record's own claim is removed. */
function tag(
  docs: EcsDocument[],
  tagger: (doc: EcsDocument) => readonly string[],
  stats: TransformStats,
): void {
  for (const doc of docs) {
    let tags: readonly string[] = [];
    try {
      tags = tagger(doc);
    } catch {
      stats.taggerErrors++;
    }
    if (tags.length > 0) doc.rule = { ...doc.rule, name: [...tags] };
    else if (doc.rule !== undefined) {
      const { name: _, ...rest } = doc.rule;
      if (Object.keys(rest).length === 0) delete doc.rule;
      else doc.rule = rest;
    }
  }
}

function batchLimit(max: number): Failure {
  return {
    code: "batch_decompressed_size_limit",
    detail: `batch decompressed size limit: the batch's records decode to more than ${max} characters`,
  };
}

/** The record id's length as a JSON string (quotes included); Firehose ids are plain ASCII, checked cheaply. */
function idLength(recordId: string): number {
  for (let i = 0; i < recordId.length; i++) {
    const c = recordId.charCodeAt(i);
    if (c < 32 || c === 34 || c === 92 || c > 126) return JSON.stringify(recordId).length;
  }
  return recordId.length + 2;
}

function safeIso(ms: number): string | undefined {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
