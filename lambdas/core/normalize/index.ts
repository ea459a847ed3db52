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
 */
import * as crypto from "node:crypto";
import type { EcsDocument } from "../ecs.js";
import { decodeRecordData } from "../firehose/record-data.js";
import type { Sender } from "../parsers/index.js";
import { parseJsonObject, parseTextLine } from "../parsers/index.js";
import { obj, str, timestamp } from "../parsers/values.js";
import {
  type KubernetesMetadata,
  kubernetesMetadata,
  senderOf,
  stripCriPrefix,
  unwrapFluentBit,
} from "./fluentbit.js";
import type { Pseudonymizer } from "./pseudonymize.js";

export { parseIdentity } from "./identity.js";
export { createPseudonymizer, PseudonymizationConfigError, type Pseudonymizer } from "./pseudonymize.js";

export interface NormalizeOptions {
  /** Keep the raw record in `event.original`. @default true */
  keepOriginal?: boolean;
  /** When the pipeline received the record (ISO 8601); written to `event.ingested`. @default - absent */
  receivedAt?: string;
  /** Replaces the configured fields by keyed HMACs. @default - no pseudonymization */
  pseudonymizer?: Pseudonymizer;
}

export type NormalizeResult = { ok: true; documents: EcsDocument[] } | { ok: false; reason: string };

/** How deep envelopes may nest (Fluent Bit in CloudWatch Logs in …) before a record is refused. */
const MAX_DEPTH = 4;
/** The most lines one record may hold. */
const MAX_LINES = 100_000;

type LineResult = { ok: true; documents: EcsDocument[] } | { ok: false; reason: string };

/**
 * One record: a log line, a Fluent Bit JSON record, or a multi-line payload; may yield several documents. Lines of
 * Firehose's own error output replay the records they hold (see `replayErrorOutput`).
 */
export function normalizeRecord(text: string, options: NormalizeOptions = {}): NormalizeResult {
  return normalizeRecordAt(text, options, 0);
}

function normalizeRecordAt(text: string, options: NormalizeOptions, depth: number): NormalizeResult {
  if (text.startsWith(FIREHOSE_ERROR_OUTPUT)) return replayErrorOutput(text, options, depth);
  const documents: EcsDocument[] = [];
  const keepOriginal = options.keepOriginal ?? true;
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
    if (++lines > MAX_LINES) return { ok: false, reason: `record has more than ${MAX_LINES} lines` };
    const result = normalizeLine(line, 0, keepOriginal);
    if (!result.ok) {
      return { ok: false, reason: multi ? `line ${lineNo}: ${result.reason}` : result.reason };
    }
    for (const doc of result.documents) documents.push(doc);
  }
  // Zero documents from non-blank lines only happens for CloudWatch Logs control messages (and empty logEvents).
  if (lines === 0) return { ok: false, reason: "empty record" };
  assignIds(text, documents);
  for (const doc of documents) {
    if (passedThrough.has(doc)) continue; // already complete when it was first normalized
    if (options.receivedAt !== undefined) doc.event.ingested = options.receivedAt;
    options.pseudonymizer?.apply(doc);
  }
  return { ok: true, documents };
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
 * `event.ingested`; a refused document passes through as it was. So `audit-trail normalize` and `replay` read the
 * error prefix as they read shipped logs, and its lines can be put back into the stream once the cause is fixed.
 */
function replayErrorOutput(text: string, options: NormalizeOptions, depth: number): NormalizeResult {
  if (depth >= MAX_DEPTH) return { ok: false, reason: "envelopes nested too deeply" };
  const documents: EcsDocument[] = [];
  const lines = text.split("\n");
  const multi = lines.filter((line) => !isBlank(line)).length > 1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (isBlank(line)) continue;
    const where = multi ? `line ${i + 1}: ` : "";
    let output: Record<string, unknown> | undefined;
    try {
      output = obj(JSON.parse(line));
    } catch (error) {
      return {
        ok: false,
        reason: `${where}Firehose error output: invalid JSON: ${(error as Error).message}`,
      };
    }
    const rawData = str(output?.rawData);
    if (output === undefined || rawData === undefined) {
      return { ok: false, reason: `${where}Firehose error output without rawData` };
    }
    const inner = decodeRecordData(rawData);
    if (typeof inner !== "string")
      return { ok: false, reason: `${where}Firehose error output rawData: ${inner.error}` };
    const arrival =
      typeof output.arrivalTimestamp === "number" ? new Date(output.arrivalTimestamp) : undefined;
    const receivedAt =
      arrival === undefined || Number.isNaN(arrival.getTime()) ? undefined : arrival.toISOString();
    const result = normalizeRecordAt(
      inner,
      receivedAt === undefined ? options : { ...options, receivedAt },
      depth + 1,
    );
    if (!result.ok) return { ok: false, reason: `${where}Firehose error output: ${result.reason}` };
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
function normalizeLine(raw: string, depth: number, keep: boolean, sender?: Sender): LineResult {
  if (depth > MAX_DEPTH) return { ok: false, reason: "envelopes nested too deeply" };
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
    return { ok: false, reason: `invalid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  const o = obj(value);
  if (o === undefined) return { ok: false, reason: "JSON record is not an object" };
  const result = normalizeObject(o, depth, keep, sender);
  if (result.ok && keep) {
    for (const doc of result.documents) if (!passedThrough.has(doc)) doc.event.original ??= line;
  }
  return result;
}

function normalizeObject(
  o: Record<string, unknown>,
  depth: number,
  keep: boolean,
  outerSender?: Sender,
): LineResult {
  if (o.messageType === "DATA_MESSAGE" || o.messageType === "CONTROL_MESSAGE")
    return cloudWatchLogs(o, depth, keep);
  const ecs = passThrough(o);
  if (ecs !== undefined) return { ok: true, documents: [ecs] };
  // Merge_Log On lifts a JSON payload next to Fluent Bit's own keys, `kubernetes` included.
  const meta = typeof o.kubernetes === "object" ? kubernetesMetadata(obj(o.kubernetes)) : undefined;
  const parsed = parseJsonObject(o, outerSender ?? senderOf(o, meta));
  if (parsed !== undefined) {
    if (!parsed.ok) return parsed;
    if (meta !== undefined) attachKubernetes(parsed.document, meta);
    const clusterName = str(o.cluster_name);
    if (clusterName !== undefined) nameCluster(parsed.document, clusterName);
    return { ok: true, documents: [parsed.document] };
  }
  const envelope = unwrapFluentBit(o);
  if (envelope === undefined) {
    return { ok: false, reason: `unrecognized JSON record (keys: ${Object.keys(o).slice(0, 8).join(", ")})` };
  }
  const sender = envelope.sender ?? outerSender;
  let result = normalizeLine(envelope.inner, depth + 1, keep, sender);
  if (!result.ok && envelope.merged !== undefined) {
    // Merge_Log On lifts a JSON payload to the top level: try what is left besides the envelope keys.
    const merged = parseJsonObject(envelope.merged, sender);
    if (merged?.ok) result = { ok: true, documents: [merged.document] };
  }
  if (!result.ok) return { ok: false, reason: `in Fluent Bit record: ${result.reason}` };
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
function cloudWatchLogs(o: Record<string, unknown>, depth: number, keep: boolean): LineResult {
  if (o.messageType === "CONTROL_MESSAGE") return { ok: true, documents: [] };
  const events = o.logEvents;
  if (!Array.isArray(events)) return { ok: false, reason: "CloudWatch Logs DATA_MESSAGE without logEvents" };
  const documents: EcsDocument[] = [];
  for (let i = 0; i < events.length; i++) {
    const event = obj(events[i]);
    const message = str(event?.message);
    if (message === undefined) return { ok: false, reason: `CloudWatch Logs logEvents[${i}] has no message` };
    const result = normalizeLine(message, depth + 1, keep);
    if (!result.ok) return { ok: false, reason: `CloudWatch Logs logEvents[${i}]: ${result.reason}` };
    for (const doc of result.documents) documents.push(doc);
  }
  const cluster = EKS_LOG_GROUP.exec(str(o.logGroup) ?? "")?.[1];
  if (cluster !== undefined) for (const doc of documents) nameCluster(doc, cluster);
  return { ok: true, documents };
}

/** An ECS document this pipeline produced earlier (re-ingested overflow): accepted as is after a shape check. */
function passThrough(o: Record<string, unknown>): EcsDocument | undefined {
  const ecs = obj(o.ecs);
  const event = obj(o.event);
  if (ecs === undefined || event === undefined || typeof ecs.version !== "string") return undefined;
  if (event.kind !== "event" || typeof event.dataset !== "string" || timestamp(o["@timestamp"]) === undefined)
    return undefined;
  if (!Array.isArray(event.category) || !Array.isArray(event.type)) return undefined;
  const doc = o as unknown as EcsDocument;
  passedThrough.add(doc);
  return doc;
}
