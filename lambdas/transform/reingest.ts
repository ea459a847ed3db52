/**
 * Re-ingests overflow documents (see `core/firehose/transform.ts`: those beyond the first of a multi-document
 * record, and all those of a record that did not fit in the response) into the same delivery stream, one Firehose
 * record each, with `PutRecordBatch` (≤ 500 records and ≤ 4 MiB per call). Records Firehose reports as failed are
 * retried. The source records whose documents still could not be sent, or that hold a document over Firehose's
 * 1,000 KiB record limit, are returned, so `settleOverflow` (`core/firehose/transform.ts`) answers them `ProcessingFailed` with their original data
 * (kept in S3, nothing lost).
 * The SDK's command is loaded on first use: a batch of single-document records never loads the SDK.
 */
import type { FirehoseClient } from "@aws-sdk/client-firehose";
import type { Overflow } from "../core/firehose/transform.js";

const MAX_RECORDS = 500;
/** Firehose's largest record (1,000 KiB): a bigger one would fail its whole `PutRecordBatch` call. */
const MAX_RECORD_BYTES = 1000 * 1024;
const MAX_BYTES = 4 * 1024 * 1024 - 64 * 1024;
const ATTEMPTS = 3;
const BACKOFF_MS = 100;

/** `arn:aws:firehose:<region>:<account>:deliverystream/<name>` → `<name>`. */
export function deliveryStreamName(arn: string): string {
  const slash = arn.indexOf("deliverystream/");
  if (slash === -1) throw new Error(`not a delivery stream ARN: ${arn}`);
  return arn.slice(slash + "deliverystream/".length);
}

/** Sends every overflow document; resolves to the record ids whose documents could not all be sent. */
export async function reingest(
  client: FirehoseClient,
  streamName: string,
  overflow: readonly Overflow[],
): Promise<Set<string>> {
  const { PutRecordBatchCommand } = await import("@aws-sdk/client-firehose");
  const failed = new Set<string>();
  let pending: { recordId: string; data: Uint8Array }[] = [];
  for (const item of overflow) {
    const data = item.documents.map((doc) => Buffer.from(doc, "utf8"));
    // A record with a document Firehose would refuse goes back whole: none of its documents is sent.
    if (data.some((d) => d.length > MAX_RECORD_BYTES)) failed.add(item.recordId);
    else for (const d of data) pending.push({ recordId: item.recordId, data: d });
  }
  for (let attempt = 0; attempt < ATTEMPTS && pending.length > 0; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, BACKOFF_MS * 2 ** (attempt - 1)));
    const retry: typeof pending = [];
    for (let start = 0; start < pending.length; ) {
      let end = start;
      let bytes = 0;
      while (end < pending.length && end - start < MAX_RECORDS) {
        const size = (pending[end] as { data: Uint8Array }).data.length;
        if (end > start && bytes + size > MAX_BYTES) break;
        bytes += size;
        end++;
      }
      const chunk = pending.slice(start, end);
      start = end;
      try {
        const out = await client.send(
          new PutRecordBatchCommand({
            DeliveryStreamName: streamName,
            Records: chunk.map((c) => ({ Data: c.data })),
          }),
        );
        if ((out.FailedPutCount ?? 0) > 0) {
          (out.RequestResponses ?? []).forEach((response, i) => {
            const item = chunk[i];
            if (response.ErrorCode !== undefined && item !== undefined) retry.push(item);
          });
        }
      } catch {
        retry.push(...chunk);
      }
    }
    pending = retry;
  }
  for (const item of pending) failed.add(item.recordId);
  return failed;
}
