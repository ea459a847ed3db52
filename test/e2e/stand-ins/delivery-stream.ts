/**
 * A delivery stream as Firehose runs one with a Lambda processor and an OpenSearch destination
 * (https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html):
 *
 * - accepted records are buffered; a batch goes to the processor when the buffer holds `buffer.sizeBytes` or its
 *   oldest record has waited `buffer.intervalMs` (the processor's `BufferSizeInMBs` / `BufferIntervalInSeconds`,
 *   shortened by the tests and stated);
 * - the processor's answer is checked as Firehose checks it: every record id exactly once, `result` one of `Ok`,
 *   `Dropped`, `ProcessingFailed`, the response within Lambda's 6 MB; an invocation that throws or answers wrongly is
 *   retried `NumberOfRetries` times, then the whole batch is written to the error output;
 * - `Ok` records are bulk-indexed (one `index` action each, no id, as Firehose does) into
 *   `<IndexName>-yyyy-MM-dd` of the record's arrival (`IndexRotationPeriod: OneDay`); items OpenSearch refuses go to
 *   `AmazonOpenSearchService-failed` after retries of the retriable ones;
 * - `ProcessingFailed` records go to `processing-failed` with their original data; `Dropped` records nowhere;
 * - with `S3BackupMode: AllDocuments` every `Ok` record's data is written to the backup prefix.
 *
 * The error output lines are Firehose's: `{"attemptsMade","arrivalTimestamp","errorCode","errorMessage",
 * "attemptEndingTimestamp","rawData",…}`. One S3 object per delivered batch (Firehose's own S3 buffering, minutes,
 * is not reproduced: stated in docs/shipping.md's test section).
 */
import type { AcceptedRecord, RecordSink } from "./firehose.js";
import { expandPrefix, type S3Folder } from "./s3-folder.js";

export const LAMBDA_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024;

export interface ProcessorEvent {
  invocationId: string;
  deliveryStreamArn: string;
  region: string;
  records: { recordId: string; approximateArrivalTimestamp: number; data: string }[];
}
export interface ProcessorResult {
  records: { recordId: string; result: string; data?: string }[];
}

export interface DeliveryStreamOptions {
  readonly name: string;
  readonly arn: string;
  readonly region: string;
  /** The Lambda processor: the transform as bundled, in its own process. */
  readonly processor: (event: ProcessorEvent) => Promise<ProcessorResult>;
  readonly lambdaArn: string;
  readonly buffer: { readonly intervalMs: number; readonly sizeBytes: number };
  /** `NumberOfRetries` of the processor. */
  readonly processorRetries: number;
  readonly opensearch: {
    /** The node's plain-HTTP URL (Firehose's writer is inside AWS; the domain's signing is not what this checks). */
    readonly nodeUrl: string;
    readonly indexName: string;
    readonly rotation: "OneDay" | "NoRotation";
  };
  readonly backup: {
    readonly folder: S3Folder;
    readonly mode: "AllDocuments" | "FailedDocumentsOnly";
    readonly prefix: string;
    readonly errorOutputPrefix: string;
  };
}

export interface DeliveryCounters {
  /** Records accepted into the buffer (source and re-ingested). */
  received: number;
  invocations: number;
  invocationErrors: number;
  ok: number;
  dropped: number;
  processingFailed: number;
  /** Documents indexed, per index. */
  indexed: Record<string, number>;
  /** Documents OpenSearch refused (written to the error output). */
  indexFailed: number;
  backupObjects: number;
  /** Records written to the error output, per output type. */
  errorOutput: Record<string, number>;
}

export interface DeliveredBatch {
  readonly records: number;
  readonly ok: number;
  readonly dropped: number;
  readonly processingFailed: number;
  readonly indexed: number;
  /** Arrival of the batch's oldest record, epoch ms. */
  readonly oldestArrivalMs: number;
  readonly indexedMs: number;
}

function dailyIndex(indexName: string, rotation: "OneDay" | "NoRotation", arrivalMs: number): string {
  return rotation === "NoRotation"
    ? indexName
    : `${indexName}-${new Date(arrivalMs).toISOString().slice(0, 10)}`;
}

/** Firehose's check of a processor's answer; the reason it fails, or `undefined`. */
export function checkProcessorResult(
  records: readonly AcceptedRecord[],
  result: unknown,
): { errorCode: string; errorMessage: string } | undefined {
  const size = Buffer.byteLength(JSON.stringify(result ?? null));
  if (size > LAMBDA_RESPONSE_LIMIT_BYTES) {
    return {
      errorCode: "Lambda.FunctionError",
      errorMessage: `response of ${size} bytes exceeds Lambda's 6 MB limit`,
    };
  }
  const out = (result as ProcessorResult | undefined)?.records;
  if (!Array.isArray(out))
    return { errorCode: "Lambda.InvalidOutput", errorMessage: "the response has no records array" };
  const expected = new Set(records.map((r) => r.recordId));
  const seen = new Set<string>();
  for (const record of out) {
    if (!expected.has(record.recordId)) {
      return {
        errorCode: "Lambda.InvalidRecordId",
        errorMessage: `record id ${record.recordId} was not in the batch`,
      };
    }
    if (seen.has(record.recordId)) {
      return {
        errorCode: "Lambda.DuplicatedRecordId",
        errorMessage: `record id ${record.recordId} came back twice`,
      };
    }
    seen.add(record.recordId);
    if (!["Ok", "Dropped", "ProcessingFailed"].includes(record.result)) {
      return {
        errorCode: "Lambda.InvalidRecordResult",
        errorMessage: `result ${JSON.stringify(record.result)}`,
      };
    }
    if (record.result === "Ok" && (typeof record.data !== "string" || record.data === "")) {
      return {
        errorCode: "Lambda.MissingData",
        errorMessage: `record ${record.recordId} is Ok without data`,
      };
    }
  }
  if (seen.size !== expected.size) {
    return {
      errorCode: "Lambda.MissingRecordId",
      errorMessage: `${expected.size - seen.size} record ids did not come back`,
    };
  }
  return undefined;
}

export class DeliveryStream implements RecordSink {
  readonly counters: DeliveryCounters = {
    received: 0,
    invocations: 0,
    invocationErrors: 0,
    ok: 0,
    dropped: 0,
    processingFailed: 0,
    indexed: {},
    indexFailed: 0,
    backupObjects: 0,
    errorOutput: {},
  };
  /** Every delivered batch, in order (for latency figures). */
  readonly batches: DeliveredBatch[] = [];
  private buffer: AcceptedRecord[] = [];
  private bufferBytes = 0;
  private delivering: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  private failure: unknown;

  constructor(private readonly options: DeliveryStreamOptions) {
    this.timer = setInterval(() => this.tick(), 50);
  }

  put(records: readonly AcceptedRecord[]): void {
    if (this.stopped) throw new Error(`delivery stream ${this.options.name} is stopped`);
    for (const record of records) {
      this.buffer.push(record);
      this.bufferBytes += record.data.length;
    }
    this.counters.received += records.length;
    this.tick();
  }

  /** Resolves once nothing is buffered and no batch is being delivered; rejects if a delivery failed unexpectedly. */
  async drain(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffer.length > 0 || this.delivering !== undefined) {
      if (this.failure !== undefined) throw this.failure;
      if (Date.now() > deadline)
        throw new Error(`delivery stream ${this.options.name} did not drain in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (this.failure !== undefined) throw this.failure;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.delivering !== undefined || this.buffer.length === 0) return;
    const oldest = this.buffer[0] as AcceptedRecord;
    const due =
      this.bufferBytes >= this.options.buffer.sizeBytes ||
      Date.now() - oldest.arrivalMs >= this.options.buffer.intervalMs;
    if (!due) return;
    // One batch: up to the buffer size (at least one record).
    let bytes = 0;
    let n = 0;
    while (
      n < this.buffer.length &&
      (n === 0 || bytes + (this.buffer[n] as AcceptedRecord).data.length <= this.options.buffer.sizeBytes)
    ) {
      bytes += (this.buffer[n] as AcceptedRecord).data.length;
      n++;
    }
    const batch = this.buffer.splice(0, n);
    this.bufferBytes -= bytes;
    this.delivering = this.deliver(batch)
      .catch((error: unknown) => {
        this.failure = error;
      })
      .finally(() => {
        this.delivering = undefined;
        this.tick();
      });
  }

  private async deliver(batch: AcceptedRecord[]): Promise<void> {
    const { options } = this;
    const event: ProcessorEvent = {
      invocationId: crypto.randomUUID(),
      deliveryStreamArn: options.arn,
      region: options.region,
      records: batch.map((r) => ({
        recordId: r.recordId,
        approximateArrivalTimestamp: r.arrivalMs,
        data: r.data.toString("base64"),
      })),
    };
    let result: ProcessorResult | undefined;
    let failure: { errorCode: string; errorMessage: string } | undefined;
    let attempts = 0;
    for (; attempts <= options.processorRetries; attempts++) {
      this.counters.invocations++;
      try {
        const answer = await options.processor(event);
        failure = checkProcessorResult(batch, answer);
        if (failure === undefined) {
          result = answer;
          break;
        }
      } catch (error) {
        failure = {
          errorCode: "Lambda.FunctionError",
          errorMessage: error instanceof Error ? error.message : String(error),
        };
      }
      this.counters.invocationErrors++;
    }
    const now = Date.now();
    if (result === undefined) {
      const f = failure ?? { errorCode: "Lambda.FunctionError", errorMessage: "no answer" };
      this.writeErrors(
        "processing-failed",
        batch.map((r) =>
          this.errorLine(r, attempts, f.errorCode, f.errorMessage, { lambdaArn: options.lambdaArn }),
        ),
        batch[0]?.arrivalMs ?? now,
      );
      this.counters.processingFailed += batch.length;
      this.batches.push({
        records: batch.length,
        ok: 0,
        dropped: 0,
        processingFailed: batch.length,
        indexed: 0,
        oldestArrivalMs: batch[0]?.arrivalMs ?? now,
        indexedMs: now,
      });
      return;
    }
    const byId = new Map(batch.map((r) => [r.recordId, r]));
    const ok: { record: AcceptedRecord; data: Buffer }[] = [];
    const failed: string[] = [];
    let dropped = 0;
    for (const out of result.records) {
      const record = byId.get(out.recordId) as AcceptedRecord;
      if (out.result === "Ok") ok.push({ record, data: Buffer.from(out.data as string, "base64") });
      else if (out.result === "Dropped") dropped++;
      else
        failed.push(
          this.errorLine(
            record,
            1,
            "Lambda.ProcessingFailed",
            "The record was marked ProcessingFailed by the Lambda function",
            {
              lambdaArn: options.lambdaArn,
            },
          ),
        );
    }
    this.counters.ok += ok.length;
    this.counters.dropped += dropped;
    this.counters.processingFailed += failed.length;
    if (failed.length > 0) this.writeErrors("processing-failed", failed, batch[0]?.arrivalMs ?? now);
    const indexed = await this.index(ok);
    if (options.backup.mode === "AllDocuments" && ok.length > 0) {
      options.backup.folder.writeObject(
        expandPrefix(options.backup.prefix, ok[0]?.record.arrivalMs ?? now),
        ok.map((o) => o.data.toString("utf8")),
        Date.now(),
      );
      this.counters.backupObjects++;
    }
    this.batches.push({
      records: batch.length,
      ok: ok.length,
      dropped,
      processingFailed: failed.length,
      indexed,
      oldestArrivalMs: batch[0]?.arrivalMs ?? now,
      indexedMs: Date.now(),
    });
  }

  /** Bulk-indexes the `Ok` records; retriable item failures (429, 5xx) are retried, the rest go to the error output. */
  private async index(ok: { record: AcceptedRecord; data: Buffer }[]): Promise<number> {
    const { opensearch } = this.options;
    let pending = ok.map((o) => ({
      ...o,
      index: dailyIndex(opensearch.indexName, opensearch.rotation, o.record.arrivalMs),
      attempts: 0,
    }));
    let indexed = 0;
    const refused: string[] = [];
    for (let attempt = 1; pending.length > 0 && attempt <= 4; attempt++) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      const body = pending
        .map(
          (p) => `${JSON.stringify({ index: { _index: p.index } })}\n${p.data.toString("utf8").trimEnd()}\n`,
        )
        .join("");
      const response = await fetch(`${opensearch.nodeUrl}/_bulk?refresh=true`, {
        method: "POST",
        headers: { "content-type": "application/x-ndjson" },
        body,
      });
      if (!response.ok) {
        // The whole request refused (the node down, a body it cannot read): retried, then every document of it
        // goes to the error output with the node's answer.
        const answer = (await response.text()).slice(0, 1000);
        if (attempt === 4) {
          for (const p of pending) {
            refused.push(
              this.errorLine(
                p.record,
                attempt,
                String(response.status),
                answer,
                { esIndexName: p.index },
                p.data,
              ),
            );
          }
          pending = [];
        }
        continue;
      }
      const answer = (await response.json()) as {
        items: { index: { status: number; _id?: string; error?: { type?: string; reason?: string } } }[];
      };
      const retry: typeof pending = [];
      answer.items.forEach((item, i) => {
        const p = pending[i] as (typeof pending)[number];
        const { status } = item.index;
        if (status >= 200 && status < 300) {
          indexed++;
          this.counters.indexed[p.index] = (this.counters.indexed[p.index] ?? 0) + 1;
        } else if ((status === 429 || status >= 500) && attempt < 4) {
          retry.push(p);
        } else {
          const e = item.index.error;
          refused.push(
            this.errorLine(
              p.record,
              attempt,
              String(status),
              `${e?.type ?? "error"}: ${e?.reason ?? ""}`,
              { esDocumentId: item.index._id ?? "", esIndexName: p.index, esTypeName: "" },
              p.data,
            ),
          );
        }
      });
      pending = retry;
    }
    if (refused.length > 0) {
      this.counters.indexFailed += refused.length;
      this.writeErrors("AmazonOpenSearchService-failed", refused, ok[0]?.record.arrivalMs ?? Date.now());
    }
    return indexed;
  }

  private errorLine(
    record: AcceptedRecord,
    attemptsMade: number,
    errorCode: string,
    errorMessage: string,
    extra: Record<string, string>,
    data: Buffer = record.data,
  ): string {
    return JSON.stringify({
      attemptsMade,
      arrivalTimestamp: record.arrivalMs,
      errorCode,
      errorMessage,
      attemptEndingTimestamp: Date.now(),
      rawData: data.toString("base64"),
      ...extra,
    });
  }

  private writeErrors(type: string, lines: string[], atMs: number): void {
    const { backup } = this.options;
    backup.folder.writeObject(expandPrefix(backup.errorOutputPrefix, atMs, type), lines, Date.now());
    this.counters.errorOutput[type] = (this.counters.errorOutput[type] ?? 0) + lines.length;
  }
}
