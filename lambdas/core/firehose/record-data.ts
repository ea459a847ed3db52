/**
 * A Firehose record's data as text: base64 decoded and, when the bytes start with the gzip magic number (CloudWatch
 * Logs subscription payloads), gunzipped. Shared by the transform (every record it receives) and the normalizer
 * (the `rawData` of Firehose's own error output, replayed).
 */
import { gunzipSync } from "node:zlib";

/** Decompressed size cap for one gzip record (a 1000 KiB Firehose record of highly compressible logs). */
const MAX_GUNZIP_BYTES = 64 * 1024 * 1024;

/** A scratch buffer reused for every record (decoding is synchronous), grown when a record needs it. */
let scratch = Buffer.allocUnsafe(256 * 1024);

/** Base64 → text, gunzipping when the bytes start with the gzip magic number. */
export function decodeRecordData(data: string): string | { error: string } {
  if (typeof data !== "string") return { error: "record data is not a base64 string" };
  // Decoded into the scratch buffer (no Buffer per record); the text is copied out of it.
  const worst = Math.ceil(data.length / 4) * 3;
  if (worst > scratch.length) scratch = Buffer.allocUnsafe(Math.max(worst, scratch.length * 2));
  const length = scratch.write(data, 0, "base64");
  if (length === 0) return { error: "empty record (no data after base64 decoding)" };
  if (scratch[0] === 0x1f && scratch[1] === 0x8b && length > 1) {
    try {
      return gunzipSync(scratch.subarray(0, length), { maxOutputLength: MAX_GUNZIP_BYTES }).toString("utf8");
    } catch (error) {
      return { error: `gzip: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  return scratch.toString("utf8", 0, length);
}
