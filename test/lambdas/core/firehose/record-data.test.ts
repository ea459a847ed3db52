import * as zlib from "node:zlib";
import { gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeRecordData } from "../../../../lambdas/core/firehose/record-data.js";
import { reject } from "../../../../lambdas/core/parsers/types.js";

describe("decodeRecordData", () => {
  it("reads each record exactly as Buffer.from(data, 'base64') does, whatever came before it", () => {
    // Every record is decoded into one reused buffer: a record must never see bytes of a longer one decoded
    // before it (a lone 0x1f after a gzip record is not gzip), nor lose any of its own.
    const base64ish = fc.string({ unit: fc.constantFrom(..."ABCXYZabcxyz0189+/=-_ \n.é") });
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }).map((bytes) => Buffer.from(bytes).toString("base64")),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => gzipSync(bytes).toString("base64")),
      fc.constantFrom("Hw==", "H4s=", "", "===="),
      base64ish,
    );
    fc.assert(
      fc.property(fc.array(payload, { minLength: 1, maxLength: 8 }), (datas) => {
        for (const data of datas) {
          const bytes = Buffer.from(data, "base64");
          const expected =
            bytes.length === 0
              ? reject("empty_record", "empty record (no data after base64 decoding)")
              : bytes[0] === 0x1f && bytes[1] === 0x8b
                ? (() => {
                    try {
                      return gunzipSync(bytes).toString("utf8");
                    } catch (error) {
                      return reject("gzip", `gzip: ${(error as Error).message}`);
                    }
                  })()
                : bytes.toString("utf8");
          expect(decodeRecordData(data)).toEqual(expected);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("decodeRecordData: Fluent Bit's kinesis_firehose compression", () => {
  /** A zstd frame holding `text` in one raw block (single segment, 1-byte content size): what `zstd` writes for it. */
  function zstdFrame(text: string): Buffer {
    const body = Buffer.from(text, "utf8");
    if (body.length > 255) throw new Error("the test frame holds at most 255 bytes");
    const blockHeader = 1 | (body.length << 3);
    return Buffer.concat([
      Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, body.length]),
      Buffer.from([blockHeader & 0xff, (blockHeader >> 8) & 0xff, (blockHeader >> 16) & 0xff]),
      body,
    ]);
  }
  const zstdAvailable = typeof (zlib as { zstdDecompressSync?: unknown }).zstdDecompressSync === "function";

  it.runIf(zstdAvailable)("reads a zstd record (compression zstd) where the runtime has zstd", () => {
    expect(decodeRecordData(zstdFrame("hello").toString("base64"))).toBe("hello");
  });

  it.skipIf(zstdAvailable)(
    "refuses a zstd record naming the compression and the fix where the runtime has no zstd",
    () => {
      expect(decodeRecordData(zstdFrame("hello").toString("base64"))).toMatchObject({
        failure: { code: "zstd" },
        reason: expect.stringMatching(/^zstd: the record is zstd-compressed .*compression gzip/),
      });
    },
  );

  it("refuses a snappy-framed record naming the compression and the fix", () => {
    const framed = Buffer.concat([
      Buffer.from([0xff, 0x06, 0x00, 0x00]),
      Buffer.from("sNaPpY"),
      Buffer.from([0x01, 0x09, 0, 0, 0, 0, 0, 0, 0x61]),
    ]);
    expect(decodeRecordData(framed.toString("base64"))).toMatchObject({
      failure: { code: "snappy" },
      reason: expect.stringMatching(/^snappy: the record is snappy-compressed.*compression gzip/),
    });
  });
});
