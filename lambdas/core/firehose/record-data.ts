/**
 * A Firehose record's data as text: base64 decoded and, when the bytes start with the gzip magic number (CloudWatch
 * Logs subscription payloads), gunzipped. Shared by the transform (every record it receives) and the normalizer
 * (the `rawData` of Firehose's own error output, replayed).
 */
import { gunzipSync } from "node:zlib";
import { errorMessage } from "../errors.js";

/**
 * Decompressed size cap for one gzip record: eight times what a CloudWatch Logs batch (1 MiB of events) or a
 * Firehose record (1,000 KiB) holds. gzip expands up to about 1,000 times, so a 620 KiB record could otherwise
 * become 600 MB of text.
 */
export const MAX_GUNZIP_BYTES = 8 * 1024 * 1024;

/** A scratch buffer reused for every record (decoding is synchronous), grown when a record needs it. */
let scratch = Buffer.allocUnsafe(256 * 1024);

/**
 * Base64 → text, gunzipping when the bytes start with the gzip magic number; gzip data that would expand beyond
 * `maxBytes` is refused (`decompressed size limit: …`) before it is held in memory.
 */
export function decodeRecordData(data: string, maxBytes = MAX_GUNZIP_BYTES): string | { error: string } {
  if (typeof data !== "string") return { error: "record data is not a base64 string" };
  // Decoded into the scratch buffer (no Buffer per record); the text is copied out of it.
  const worst = Math.ceil(data.length / 4) * 3;
  if (worst > scratch.length) scratch = Buffer.allocUnsafe(Math.max(worst, scratch.length * 2));
  const length = scratch.write(data, 0, "base64");
  if (length === 0) return { error: "empty record (no data after base64 decoding)" };
  if (scratch[0] === 0x1f && scratch[1] === 0x8b && length > 1) {
    const limit = Math.max(1, Math.min(maxBytes, MAX_GUNZIP_BYTES));
    try {
      return gunzipSync(scratch.subarray(0, length), { maxOutputLength: limit }).toString("utf8");
    } catch (error) {
      if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
        return { error: `decompressed size limit: gzip data expands beyond ${limit} bytes` };
      }
      return { error: `gzip: ${errorMessage(error)}` };
    }
  }
  return scratch.toString("utf8", 0, length);
}
