/**
 * The ECS normalizer: one record (a log line, a Fluent Bit JSON record, a CloudWatch Logs subscription message,
 * or several newline-separated records of a Fluent Bit `simple_aggregation`) in, ECS documents out. The Lambda
 * transform, the CLI and the tests all call `normalizeRecord`.
 *
 * A multi-line record is all or nothing: if one of its lines cannot be parsed the whole record fails (with the
 * line number in the reason), so the transform returns it `ProcessingFailed` and Firehose keeps the raw bytes in
 * S3; no line is dropped silently.
 *
 * `event.id` is deterministic: `<auditID>-<stage>` for audit events; otherwise the first 32 hex characters of the
 * SHA-256 of the record text, with `-<n>` (1-based) appended when the record yields more than one document.
 *
 * Who may write what: a record is a raw log line, whatever it claims. `event.dataset` comes from the parser that
 * read it, and ids and pseudonyms are computed here. A line shaped like a finished ECS document is refused
 * (`unauthenticated ECS document`), except the transform's own re-ingested documents, which carry a seal it
 * verifies (`reingest.ts`), and, for the CLI reading files its operator chose, documents at the top level of a
 * record when `trustDocuments` is set.
 *
 * Bounds (each failing the record alone, with a reason): `maxDocuments` documents per record, `maxBytes` of text
 * decoded from nested Firehose error output, and free-form objects (an audit event's `requestObject`, …) at most
 * `MAX_OBJECT_DEPTH` levels deep.
 */
import * as crypto from "node:crypto";
import type { EcsDocument } from "../ecs.js";
import { errorMessage } from "../errors.js";
import { decodeRecordData } from "../firehose/record-data.js";
import type { Sender } from "../parsers/index.js";
import { parseJsonObject, parseTextLine } from "../parsers/index.js";
import { auditEventListItems, isAuditEventList, parseAuditEvent } from "../parsers/k8s-audit.js";
import { MAX_OBJECT_DEPTH } from "../parsers/k8s-redact.js";
import {
  type Failure,
  type Rejected,
  reject,
  rejectAtLine,
  rejected,
  rejectWithin,
} from "../parsers/types.js";
import { obj, str, timestamp } from "../parsers/values.js";
import {
  type KubernetesMetadata,
  kubernetesMetadata,
  senderOf,
  stripCriPrefix,
  unwrapFluentBit,
  workloadContainerOf,
} from "./fluentbit.js";
import type { Pseudonymizer } from "./pseudonymize.js";
import { isSealed, type ReingestSealer, splitSealed } from "./reingest.js";

export { MAX_OBJECT_DEPTH } from "../parsers/k8s-redact.js";
export { parseIdentity } from "./identity.js";
export { createPseudonymizer, PseudonymizationConfigError, type Pseudonymizer } from "./pseudonymize.js";
export { createReingestSealer, isSealed, type ReingestSealer } from "./reingest.js";

export interface NormalizeOptions {
  /** Keep the raw record in `event.original`. @default true */
  keepOriginal?: boolean;
  /** When the pipeline received the record (ISO 8601); written to `event.ingested`. @default - absent */
  receivedAt?: string;
  /** Replaces the configured fields by keyed HMACs. @default - no pseudonymization */
  pseudonymizer?: Pseudonymizer;
  /**
   * Verifies the seal of the transform's own re-ingested documents; a sealed document that verifies passes through
   * as it was (same `event.id`, already pseudonymized). The transform always sets it.
   * @default - a sealed record is refused, unless `trustDocuments` is set
   */
  reingest?: ReingestSealer;
  /**
   * For the CLI, which reads files its operator chose (the archive, Firehose's error output): a line at the top
   * level of a record that is a finished ECS document passes through as it is, and a sealed line without a
   * `reingest` key passes through unverified. Never inside an envelope (a Fluent Bit record, a CloudWatch Logs
   * event): what a pod writes is always a raw line. The transform never sets it.
   * @default false
   */
  trustDocuments?: boolean;
  /** The most documents one record may yield. @default MAX_DOCUMENTS_PER_RECORD */
  maxDocuments?: number;
  /**
   * The most text (in UTF-16 code units, about bytes for logs) the record's nested Firehose error output may decode
   * to, all its `rawData` together. @default MAX_RECORD_TEXT
   */
  maxBytes?: number;
  /** Told the size of each text nested error output decodes to (the transform's batch budget). @default - none */
  onDecoded?: (chars: number) => void;
}

/** What the normalizer returns for a record, and for each line or envelope inside it. */
export type NormalizeResult = { ok: true; documents: EcsDocument[] } | Rejected;

/** How deep envelopes may nest (Fluent Bit in CloudWatch Logs in …) before a record is refused. */
const MAX_DEPTH = 4;
/** The most lines one record may hold. */
const MAX_LINES = 100_000;
/**
 * The most documents one record may yield: CloudWatch Logs puts at most 10,000 events in one batch, and a Fluent
 * Bit aggregate of 1,000 KiB holds fewer lines of any mesh's access log. More is an amplification attempt.
 */
export const MAX_DOCUMENTS_PER_RECORD = 10_000;
/**
 * The most text one record may decode to (gunzipped): eight times what a CloudWatch Logs batch (1 MiB of events)
 * or a Firehose record (1,000 KiB) holds.
 */
export const MAX_RECORD_TEXT = 8 * 1024 * 1024;

/** One top-level record's reading state: its options and what is left of its budgets. */
interface Context {
  readonly options: NormalizeOptions;
  readonly keep: boolean;
  readonly trust: boolean;
  /** Documents the record may still yield. */
  documents: number;
  /** Text nested error output may still decode to. */
  bytes: number;
}

function documentLimit(max: number): Rejected {
  return reject("document_limit", `document limit: the record yields more than ${max} documents`);
}

/**
 * One record: a log line, a Fluent Bit JSON record, or a multi-line payload; may yield several documents. Lines of
 * Firehose's own error output replay the records they hold (see `replayErrorOutput`).
 */
export function normalizeRecord(text: string, options: NormalizeOptions = {}): NormalizeResult {
  const ctx: Context = {
    options,
    keep: options.keepOriginal ?? true,
    trust: options.trustDocuments ?? false,
    documents: options.maxDocuments ?? MAX_DOCUMENTS_PER_RECORD,
    bytes: options.maxBytes ?? MAX_RECORD_TEXT,
  };
  return normalizeRecordAt(text, ctx, 0, options.receivedAt);
}

function normalizeRecordAt(
  text: string,
  ctx: Context,
  depth: number,
  receivedAt: string | undefined,
): NormalizeResult {
  if (text.startsWith(FIREHOSE_ERROR_OUTPUT)) return replayErrorOutput(text, ctx, depth, receivedAt);
  if (isSealed(text)) return openSealed(text, ctx);
  const documents: EcsDocument[] = [];
  let start = 0;
  let lineNo = 0;
  let lines = 0;
  const multi = text.indexOf("\n") !== -1 && text.indexOf("\n") < text.length - 1;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    lineNo++;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.length > 0 && line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    if (isBlank(line)) continue;
    if (++lines > MAX_LINES)
      return reject("record_has_more_than_100000_lines", `record has more than ${MAX_LINES} lines`);
    const result = normalizeLine(line, 0, ctx);
    if (!result.ok) {
      return multi ? rejectAtLine(lineNo, result.failure) : result;
    }
    ctx.documents -= result.documents.length;
    if (ctx.documents < 0) return documentLimit(maxDocuments(ctx));
    for (const doc of result.documents) documents.push(doc);
  }
  // Zero documents from non-blank lines only happens for CloudWatch Logs control messages (and empty logEvents).
  if (lines === 0) return reject("empty_record", "empty record");
  assignIds(text, documents);
  const pseudonymizer = ctx.options.pseudonymizer;
  for (const doc of documents) {
    if (passedThrough.has(doc)) continue; // already complete when it was first normalized
    if (receivedAt !== undefined) doc.event.ingested = receivedAt;
    pseudonymizer?.apply(doc);
  }
  return { ok: true, documents };
}

function maxDocuments(ctx: Context): number {
  return ctx.options.maxDocuments ?? MAX_DOCUMENTS_PER_RECORD;
}

/**
 * A sealed re-ingested document: verified with the transform's key and passed through as it was. Without a key,
 * only the CLI's `trustDocuments` reads it (unverified); anything else refuses it.
 */
function openSealed(text: string, ctx: Context): NormalizeResult {
  const reingest = ctx.options.reingest;
  let json: string;
  if (reingest !== undefined) {
    const opened = reingest.open(text);
    if (!opened.ok) return opened;
    json = opened.json;
  } else if (ctx.trust) {
    const split = splitSealed(text);
    if (!split.ok) return split;
    json = split.json;
  } else {
    return reject("re_ingested_document", "re-ingested document: no re-ingest key to verify its seal with");
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    return reject("re_ingested_document", `re-ingested document: invalid JSON: ${(error as Error).message}`);
  }
  const o = obj(value);
  const doc = o === undefined ? undefined : ecsShape(o);
  if (doc === undefined) return reject("re_ingested_document", "re-ingested document: not an ECS document");
  if (!withinDepth(doc, MAX_OBJECT_DEPTH)) {
    return reject(
      "object_too_deep",
      `object too deep: re-ingested document nests deeper than ${MAX_OBJECT_DEPTH} levels`,
    );
  }
  ctx.documents--;
  if (ctx.documents < 0) return documentLimit(maxDocuments(ctx));
  passedThrough.add(doc);
  return { ok: true, documents: [doc] };
}

/**
 * How every line of Firehose's error output starts: `errors/processing-failed/…` holds the records the transform
 * answered `ProcessingFailed`, `errors/AmazonOpenSearchService-failed/…` the documents OpenSearch refused, one JSON
 * object per line: `{"attemptsMade":…,"arrivalTimestamp":…,"errorCode":…,"errorMessage":…,…,"rawData":…}`.
 */
const FIREHOSE_ERROR_OUTPUT = '{"attemptsMade":';

/**
 * Firehose error output (each non-blank line one failed record): the records are read back from their `rawData`
 * and normalized as when they first arrived, with the same `event.id`s and their `arrivalTimestamp` as
 * `event.ingested`. A sealed re-ingested document is verified as when it first came back; a document OpenSearch
 * refused is finished and unsealed, so only `trustDocuments` (the CLI) passes it through. So `audit-trail
 * normalize` and `replay` read the error prefix as they read shipped logs, and the processing-failed lines can be
 * put back into the stream once the cause is fixed. The envelope itself proves nothing (a producer can write one):
 * what it holds is read by the same rules as any record.
 */
function replayErrorOutput(
  text: string,
  ctx: Context,
  depth: number,
  outerReceivedAt: string | undefined,
): NormalizeResult {
  if (depth >= MAX_DEPTH) return reject("envelopes_nested_too_deeply", "envelopes nested too deeply");
  const documents: EcsDocument[] = [];
  const lines = text.split("\n");
  const multi = lines.filter((line) => !isBlank(line)).length > 1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (isBlank(line)) continue;
    const at = (failure: Failure): Rejected => (multi ? rejectAtLine(i + 1, failure) : rejected(failure));
    let output: Record<string, unknown> | undefined;
    try {
      output = obj(JSON.parse(line));
    } catch (error) {
      return at({
        code: "invalid_json",
        detail: `Firehose error output: invalid JSON: ${(error as Error).message}`,
      });
    }
    const rawData = str(output?.rawData);
    if (output === undefined || rawData === undefined) {
      return at({
        code: "firehose_error_output_without_rawdata",
        detail: "Firehose error output without rawData",
      });
    }
    const inner = decodeRecordData(rawData, ctx.bytes);
    if (typeof inner !== "string") {
      // A size limit keeps its own code; other decoding errors name the rawData.
      const sizeLimit = inner.failure.code === "decompressed_size_limit";
      return at({
        code: sizeLimit ? inner.failure.code : "rawdata",
        detail: `Firehose error output: ${sizeLimit ? "" : "rawData: "}${inner.failure.detail}`,
      });
    }
    ctx.bytes -= inner.length;
    ctx.options.onDecoded?.(inner.length);
    if (ctx.bytes < 0) {
      return at({
        code: "decompressed_size_limit",
        detail: `decompressed size limit: the record's error output decodes to more than ${ctx.options.maxBytes ?? MAX_RECORD_TEXT} characters`,
      });
    }
    const arrival =
      typeof output.arrivalTimestamp === "number" ? new Date(output.arrivalTimestamp) : undefined;
    const receivedAt =
      arrival === undefined || Number.isNaN(arrival.getTime()) ? undefined : arrival.toISOString();
    const result = normalizeRecordAt(inner, ctx, depth + 1, receivedAt ?? outerReceivedAt);
    if (!result.ok) {
      const inner = rejectWithin("Firehose error output", result.failure);
      return at(inner.failure);
    }
    for (const doc of result.documents) documents.push(doc);
  }
  return { ok: true, documents };
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}

function assignIds(text: string, documents: EcsDocument[]): void {
  let hash: string | undefined;
  let n = 0;
  for (const doc of documents) {
    n++;
    if (passedThrough.has(doc) && doc.event.id !== undefined) continue;
    const audit = doc.kubernetes?.audit;
    if (audit?.auditID !== undefined) {
      doc.event.id = audit.stage === undefined ? audit.auditID : `${audit.auditID}-${audit.stage}`;
      continue;
    }
    hash ??= sha256Hex(text).slice(0, 32);
    doc.event.id = documents.length > 1 ? `${hash}-${n}` : hash;
  }
}

/** One-shot `crypto.hash` where the runtime has it (Node ≥ 20.12), else a Hash object. */
const sha256Hex: (text: string) => string =
  typeof (crypto as { hash?: unknown }).hash === "function"
    ? (text) =>
        (crypto as unknown as { hash(algorithm: string, data: string, encoding: "hex"): string }).hash(
          "sha256",
          text,
          "hex",
        )
    : (text) => crypto.createHash("sha256").update(text).digest("hex");

/** Documents that arrived already normalized (re-ingested by the transform): their id is kept. */
const passedThrough = new WeakSet<EcsDocument>();

/**
 * One line. `event.original` is the innermost raw line a document was parsed from: the container's own line for
 * a Fluent Bit record (as Filebeat does; the envelope's metadata is kept as fields), the line after a CRI prefix,
 * the message of a CloudWatch Logs event.
 */
function normalizeLine(raw: string, depth: number, ctx: Context, sender?: Sender): NormalizeResult {
  if (depth > MAX_DEPTH) return reject("envelopes_nested_too_deeply", "envelopes nested too deeply");
  const keep = ctx.keep;
  let line = raw;
  const last = line.length - 1;
  if (last >= 0 && (isSpace(line.charCodeAt(0)) || isSpace(line.charCodeAt(last)))) line = line.trim();
  line = stripCriPrefix(line);
  if (line.charCodeAt(0) !== 123 /* { */) {
    const parsed = parseTextLine(line, sender);
    if (!parsed.ok) return parsed;
    if (keep) parsed.document.event.original = line;
    return { ok: true, documents: [parsed.document] };
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return reject("invalid_json", `invalid JSON: ${errorMessage(error)}`);
  }
  const o = obj(value);
  if (o === undefined) return reject("json_record_is_not_an_object", "JSON record is not an object");
  const result = normalizeObject(o, depth, ctx, sender);
  if (result.ok) {
    for (const doc of result.documents) {
      if (passedThrough.has(doc)) continue;
      // A parser that rewrote what it read (secret values redacted) sets the rewritten event as the original.
      if (keep) doc.event.original ??= line;
      else delete doc.event.original;
    }
  }
  return result;
}

function normalizeObject(
  o: Record<string, unknown>,
  depth: number,
  ctx: Context,
  outerSender?: Sender,
): NormalizeResult {
  if (o.messageType === "DATA_MESSAGE" || o.messageType === "CONTROL_MESSAGE")
    return cloudWatchLogs(o, depth, ctx);
  const ecs = ecsShape(o);
  if (ecs !== undefined) {
    if (!ctx.trust || depth > 0) {
      return reject(
        "unauthenticated_ecs_document",
        "unauthenticated ECS document: a record shaped like a normalized document is not a log line, and only the transform's own sealed re-ingested documents pass through",
      );
    }
    if (!withinDepth(ecs, MAX_OBJECT_DEPTH)) {
      return reject(
        "object_too_deep",
        `object too deep: document nests deeper than ${MAX_OBJECT_DEPTH} levels`,
      );
    }
    passedThrough.add(ecs);
    return { ok: true, documents: [ecs] };
  }
  // Merge_Log On lifts a JSON payload next to Fluent Bit's own keys, `kubernetes` included.
  const meta = typeof o.kubernetes === "object" ? kubernetesMetadata(obj(o.kubernetes)) : undefined;
  if (isAuditEventList(o)) return auditEventList(o, ctx, meta);
  const parsed = parseJsonObject(o, outerSender ?? senderOf(o, meta));
  if (parsed !== undefined) {
    if (!parsed.ok) return parsed;
    const deep = freeFormTooDeep(parsed.document);
    if (deep !== undefined) return deep;
    const forged = auditFromWorkload([parsed.document], o, meta);
    if (forged !== undefined) return forged;
    if (meta !== undefined) attachKubernetes(parsed.document, meta);
    const clusterName = str(o.cluster_name);
    if (clusterName !== undefined) nameCluster(parsed.document, clusterName);
    return { ok: true, documents: [parsed.document] };
  }
  const envelope = unwrapFluentBit(o);
  if (envelope === undefined) {
    return reject(
      "unrecognized_json_record",
      `unrecognized JSON record (keys: ${Object.keys(o).slice(0, 8).join(", ")})`,
    );
  }
  const sender = envelope.sender ?? outerSender;
  let result = normalizeLine(envelope.inner, depth + 1, ctx, sender);
  if (!result.ok && envelope.merged !== undefined && ecsShape(envelope.merged) === undefined) {
    // Merge_Log On lifts a JSON payload to the top level: try what is left besides the envelope keys.
    const merged = parseJsonObject(envelope.merged, sender);
    if (merged?.ok && freeFormTooDeep(merged.document) === undefined) {
      result = { ok: true, documents: [merged.document] };
    }
  }
  if (!result.ok) return rejectWithin("in Fluent Bit record", result.failure);
  const forged = auditFromWorkload(result.documents, o, envelope.kubernetes);
  if (forged !== undefined) return forged;
  if (envelope.kubernetes !== undefined) {
    const meta = envelope.kubernetes;
    for (let i = 0; i < result.documents.length; i++) {
      attachKubernetes(result.documents[i] as EcsDocument, i === 0 ? meta : structuredClone(meta));
    }
  }
  if (envelope.clusterName !== undefined) {
    for (const doc of result.documents) nameCluster(doc, envelope.clusterName);
  }
  return result;
}

/**
 * The API server's audit webhook batch (Fluent Bit's `http` input ships each POST as one record): one document per
 * event, each with its own event as `event.original` and its own `auditID-stage` id. All or nothing, like a
 * multi-line record: one bad event fails the list, naming its index, and the raw list stays in the error prefix.
 */
function auditEventList(
  o: Record<string, unknown>,
  ctx: Context,
  meta: KubernetesMetadata | undefined,
): NormalizeResult {
  const items = auditEventListItems(o);
  if (!Array.isArray(items)) return reject("eventlist", items.problem);
  // Refused before any event is read: each yields one document.
  if (items.length > ctx.documents) return documentLimit(maxDocuments(ctx));
  const documents: EcsDocument[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = obj(items[i]);
    const parsed = item === undefined ? undefined : parseAuditEvent(item);
    if (parsed === undefined) return reject("eventlist", `EventList items[${i}]: not an object`);
    if (!parsed.ok) return rejectWithin(`EventList items[${i}]`, parsed.failure);
    const deep = freeFormTooDeep(parsed.document);
    if (deep !== undefined) return rejectWithin(`EventList items[${i}]`, deep.failure);
    if (ctx.keep) parsed.document.event.original ??= JSON.stringify(item);
    documents.push(parsed.document);
  }
  const forged = auditFromWorkload(documents, o, meta);
  if (forged !== undefined) return forged;
  const clusterName = str(o.cluster_name);
  if (clusterName !== undefined) for (const doc of documents) nameCluster(doc, clusterName);
  return { ok: true, documents };
}

/**
 * An audit event logged by a workload container is not the API server's audit log: it fails (kept raw in the error
 * prefix) rather than becoming a `kubernetes.audit` document that could frame another identity.
 */
function auditFromWorkload(
  documents: readonly EcsDocument[],
  o: Record<string, unknown>,
  kubernetes: KubernetesMetadata | undefined,
): NormalizeResult | undefined {
  if (!documents.some((doc) => doc.event.dataset === "kubernetes.audit")) return undefined;
  const container = workloadContainerOf(o, kubernetes);
  if (container === undefined) return undefined;
  return reject(
    "audit_event_from_a_workload_container",
    `audit event from a workload container: ${container} is not the API server; only the API server's audit log (kube-system/kube-apiserver, the host's audit file, the audit webhook, CloudWatch Logs) is kubernetes.audit`,
  );
}

/** The cluster the shipper names, unless the record names its own (a Hubble flow's node, a GKE resource label). */
function nameCluster(doc: EcsDocument, name: string): void {
  if (doc.orchestrator?.cluster?.name !== undefined) return;
  doc.orchestrator ??= { type: "kubernetes" };
  doc.orchestrator.cluster = { name };
}

/** EKS sends its control-plane logs to `/aws/eks/<cluster>/cluster`. */
const EKS_LOG_GROUP = /^\/aws\/eks\/([^/]+)\/cluster$/;

/** `meta` is built fresh for each record, so it is attached as is (the audit fields, if any, moved onto it). */
function attachKubernetes(doc: EcsDocument, meta: KubernetesMetadata): void {
  const audit = doc.kubernetes?.audit;
  if (audit !== undefined) meta.audit = audit;
  doc.kubernetes = meta;
  if (meta.node?.name !== undefined && doc.host?.name === undefined) doc.host = { name: meta.node.name };
}

/** CloudWatch Logs subscription payload (already decompressed): every `logEvents[].message` is one record. */
function cloudWatchLogs(o: Record<string, unknown>, depth: number, ctx: Context): NormalizeResult {
  if (o.messageType === "CONTROL_MESSAGE") return { ok: true, documents: [] };
  const events = o.logEvents;
  if (!Array.isArray(events)) {
    return reject(
      "cloudwatch_logs_data_message_without_logevents",
      "CloudWatch Logs DATA_MESSAGE without logEvents",
    );
  }
  // Refused before any event is read: each yields at least one document.
  if (events.length > ctx.documents) return documentLimit(maxDocuments(ctx));
  const documents: EcsDocument[] = [];
  for (let i = 0; i < events.length; i++) {
    const event = obj(events[i]);
    const message = str(event?.message);
    if (message === undefined) {
      return reject(
        "cloudwatch_logs_event_without_message",
        `CloudWatch Logs logEvents[${i}] has no message`,
      );
    }
    const result = normalizeLine(message, depth + 1, ctx);
    if (!result.ok) return rejectWithin(`CloudWatch Logs logEvents[${i}]`, result.failure);
    for (const doc of result.documents) documents.push(doc);
  }
  const cluster = EKS_LOG_GROUP.exec(str(o.logGroup) ?? "")?.[1];
  if (cluster !== undefined) for (const doc of documents) nameCluster(doc, cluster);
  return { ok: true, documents };
}

/** The object as an ECS document when it has a finished document's shape (what a pipeline document has). */
function ecsShape(o: Record<string, unknown>): EcsDocument | undefined {
  const ecs = obj(o.ecs);
  const event = obj(o.event);
  if (ecs === undefined || event === undefined || typeof ecs.version !== "string") return undefined;
  if (event.kind !== "event" || typeof event.dataset !== "string" || timestamp(o["@timestamp"]) === undefined)
    return undefined;
  if (!Array.isArray(event.category) || !Array.isArray(event.type)) return undefined;
  return o as unknown as EcsDocument;
}

/** Why a parsed document's free-form objects are refused (nested too deep), or `undefined`. */
function freeFormTooDeep(doc: EcsDocument): Rejected | undefined {
  const audit = doc.kubernetes?.audit;
  if (audit === undefined) return undefined;
  // requestObject and responseObject are measured by the parser (in the walk that redacts secret values).
  if (!withinDepth(audit.user?.extra, MAX_OBJECT_DEPTH)) {
    return reject(
      "object_too_deep",
      `object too deep: kubernetes audit user.extra nests deeper than ${MAX_OBJECT_DEPTH} levels`,
    );
  }
  return undefined;
}

/** Whether `value` nests at most `max` objects/arrays deep (iterative: no stack is spent on hostile input). */
export function withinDepth(value: unknown, max: number): boolean {
  if (typeof value !== "object" || value === null) return true;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (d > max) return false;
    if (Array.isArray(v)) {
      for (const item of v) if (typeof item === "object" && item !== null) stack.push([item, d + 1]);
    } else {
      const o = v as Record<string, unknown>;
      for (const key in o) {
        const item = o[key];
        if (typeof item === "object" && item !== null) stack.push([item, d + 1]);
      }
    }
  }
  return true;
}
