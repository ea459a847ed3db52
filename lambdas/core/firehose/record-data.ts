/**
 * A Firehose record's data as text: base64 decoded and, when the bytes start with the gzip magic number (CloudWatch
 * Logs subscription payloads, Fluent Bit's `compression gzip`), gunzipped; zstd (Fluent Bit's `compression zstd`) is
 * read where the runtime's Node.js has `zlib.zstdDecompressSync` (22.15 and later) and refused naming the fix
 * elsewhere (zstd frames cut short are refused on every runtime: `zstdFramesWhole`), and snappy-framed data is
 * refused naming the fix: a compressed record never reaches a parser as text. Shared by the transform (every record
 * it receives) and the normalizer (the `rawData` of Firehose's own error output, replayed).
 */
import * as zlib from "node:zlib";
import { gunzipSync } from "node:zlib";
import { errorMessage } from "../errors.js";
import { type Rejected, reject } from "../parsers/types.js";

/** `zlib.zstdDecompressSync` where this Node.js has it (22.15+, 23.8+), else `undefined`. */
const zstdDecompressSync = (
  zlib as { zstdDecompressSync?: (data: Uint8Array, options: { maxOutputLength: number }) => Buffer }
).zstdDecompressSync;

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
export function decodeRecordData(data: string, maxBytes = MAX_GUNZIP_BYTES): string | Rejected {
  if (typeof data !== "string")
    return reject("record_data_is_not_a_base64_string", "record data is not a base64 string");
  // Decoded into the scratch buffer (no Buffer per record); the text is copied out of it.
  const worst = Math.ceil(data.length / 4) * 3;
  if (worst > scratch.length) scratch = Buffer.allocUnsafe(Math.max(worst, scratch.length * 2));
  const length = scratch.write(data, 0, "base64");
  if (length === 0) return reject("empty_record", "empty record (no data after base64 decoding)");
  if (scratch[0] === 0x1f && scratch[1] === 0x8b && length > 1) {
    return decompressed("gzip", gunzipSync, scratch.subarray(0, length), maxBytes);
  }
  if (
    length > 3 &&
    scratch[0] === 0x28 &&
    scratch[1] === 0xb5 &&
    scratch[2] === 0x2f &&
    scratch[3] === 0xfd
  ) {
    const whole = zstdFramesWhole(scratch.subarray(0, length));
    if (whole !== true) return reject("zstd", `zstd: ${whole}`);
    if (zstdDecompressSync === undefined) {
      return reject(
        "zstd",
        `zstd: the record is zstd-compressed and this runtime's Node.js ${process.version} cannot read zstd (22.15 or later can): set compression gzip on Fluent Bit's kinesis_firehose output`,
      );
    }
    return decompressed("zstd", zstdDecompressSync, scratch.subarray(0, length), maxBytes);
  }
  // The snappy framing format's stream identifier: ff 06 00 00 "sNaPpY".
  if (length > 9 && scratch[0] === 0xff && scratch.toString("latin1", 4, 10) === "sNaPpY") {
    return reject(
      "snappy",
      "snappy: the record is snappy-compressed, which the transform does not read: set compression gzip on Fluent Bit's kinesis_firehose output",
    );
  }
  return scratch.toString("utf8", 0, length);
}

/**
 * Whether `data` is whole zstd frames (RFC 8878 §3.1): each frame's header, blocks up to the one marked last, its
 * checksum when the header says so, and nothing after the last frame; skippable frames are allowed. Node.js's
 * `zstdDecompressSync` returns what it decoded so far, without an error, for a frame cut short (an empty string for
 * a header alone), so a truncated record would otherwise reach the parsers as less text than was sent. True, or
 * what is wrong.
 */
export function zstdFramesWhole(data: Uint8Array): true | string {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  for (let frame = 1; at < view.length; frame++) {
    if (view.length - at < 8) return `frame ${frame} is cut short (${view.length - at} bytes)`;
    const magic = view.readUInt32LE(at);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      at += 8 + view.readUInt32LE(at + 4);
      if (at > view.length) return `skippable frame ${frame} is cut short`;
      continue;
    }
    if (magic !== 0xfd2fb528) return `frame ${frame} does not start with the zstd magic number`;
    const descriptor = view[at + 4] as number;
    const singleSegment = (descriptor & 0x20) !== 0;
    const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6] as number;
    const dictionaryBytes = [0, 1, 2, 4][descriptor & 0x03] as number;
    at += 5 + (singleSegment ? 0 : 1) + dictionaryBytes + contentSizeBytes;
    for (let last = false; !last; ) {
      if (at + 3 > view.length) return `frame ${frame} is cut short (a block header is missing)`;
      const header = view.readUIntLE(at, 3);
      last = (header & 1) === 1;
      const type = (header >> 1) & 0x03;
      if (type === 3) return `frame ${frame} has a block of the reserved type`;
      at += 3 + (type === 1 ? 1 : header >>> 3);
      if (at > view.length) return `frame ${frame} is cut short (a block is incomplete)`;
    }
    if ((descriptor & 0x04) !== 0) at += 4;
    if (at > view.length) return `frame ${frame} is cut short (its checksum is missing)`;
  }
  return true;
}

/**
 * Compressed `data` as text, decompressed by `decompress` into at most `maxBytes` (and `MAX_GUNZIP_BYTES`): data that
 * would expand beyond is refused (`decompressed_size_limit`) before it is held in memory, data `format` cannot read is
 * refused under the format's own code.
 */
function decompressed(
  format: "gzip" | "zstd",
  decompress: (data: Uint8Array, options: { maxOutputLength: number }) => Buffer,
  data: Uint8Array,
  maxBytes: number,
): string | Rejected {
  const limit = Math.max(1, Math.min(maxBytes, MAX_GUNZIP_BYTES));
  try {
    return decompress(data, { maxOutputLength: limit }).toString("utf8");
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      return reject(
        "decompressed_size_limit",
        `decompressed size limit: ${format} data expands beyond ${limit} bytes`,
      );
    }
    return reject(format, `${format}: ${errorMessage(error)}`);
  }
}
