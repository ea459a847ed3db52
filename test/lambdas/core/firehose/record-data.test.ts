import { gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeRecordData } from "../../../../lambdas/core/firehose/record-data.js";

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
              ? { error: "empty record (no data after base64 decoding)" }
              : bytes[0] === 0x1f && bytes[1] === 0x8b
                ? (() => {
                    try {
                      return gunzipSync(bytes).toString("utf8");
                    } catch (error) {
                      return { error: `gzip: ${(error as Error).message}` };
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
