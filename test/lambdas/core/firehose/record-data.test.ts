import * as zlib from "node:zlib";
import { gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeRecordData, zstdFramesWhole } from "../../../../lambdas/core/firehose/record-data.js";
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

  // The Lambdas run Node.js 22 (zstd); a laptop or CI on Node 20 has none. Each runtime's behaviour is asserted on
  // that runtime, so neither case is skipped: CI also runs this file on Node.js 22 (.ci/run).
  it(`${zstdAvailable ? "reads a zstd record" : "refuses a zstd record naming the compression and the fix"} on Node.js ${process.version}`, () => {
    const decoded = decodeRecordData(zstdFrame("hello").toString("base64"));
    if (zstdAvailable) {
      expect(decoded).toBe("hello");
    } else {
      expect(decoded).toMatchObject({
        failure: { code: "zstd" },
        reason: expect.stringMatching(/^zstd: the record is zstd-compressed .*compression gzip/),
      });
    }
  });

  describe("zstd frames cut short (Node.js decodes them to less text without an error)", () => {
    // "hello world " × 50 as zstd writes it (a compressed block), without and with its checksum.
    const compressed = Buffer.from("28b52ffd6058019d00006068656c6c6f20776f726c64200100495e9524", "hex");
    const checksummed = Buffer.from(
      "28b52ffd6458019d00006068656c6c6f20776f726c64200100495e9524de827e8e",
      "hex",
    );
    const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 0xaa, 0xbb]);

    it("takes whole frames: raw or compressed blocks, a checksum, several frames, skippable frames", () => {
      for (const whole of [
        zstdFrame("hello"),
        compressed,
        checksummed,
        Buffer.concat([compressed, zstdFrame("again")]),
        Buffer.concat([skippable, checksummed]),
      ]) {
        expect(zstdFramesWhole(whole)).toBe(true);
      }
    });

    it("names what is missing in a frame cut anywhere", () => {
      for (const frame of [zstdFrame("hello"), compressed, checksummed]) {
        for (let cut = 1; cut < frame.length; cut++) {
          expect(zstdFramesWhole(frame.subarray(0, cut))).toMatch(/^frame 1 is cut short/);
        }
      }
      expect(zstdFramesWhole(Buffer.concat([compressed, compressed.subarray(0, 12)]))).toMatch(
        /^frame 2 is cut short/,
      );
      expect(zstdFramesWhole(skippable.subarray(0, 9))).toBe("skippable frame 1 is cut short");
    });

    it("refuses trailing bytes that are not a frame, and a block of the reserved type", () => {
      expect(zstdFramesWhole(Buffer.concat([compressed, Buffer.from("trailing text")]))).toBe(
        "frame 2 does not start with the zstd magic number",
      );
      const reserved = Buffer.from(compressed);
      reserved[7] = (reserved[7] as number) | 0x06; // the block header follows the 2-byte content size
      expect(zstdFramesWhole(reserved)).toBe("frame 1 has a block of the reserved type");
    });

    it("refuses a truncated zstd record under the zstd code on every runtime", () => {
      expect(decodeRecordData(checksummed.subarray(0, 30).toString("base64"))).toMatchObject({
        failure: { code: "zstd" },
        reason: "zstd: frame 1 is cut short (its checksum is missing)",
      });
    });
  });

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
