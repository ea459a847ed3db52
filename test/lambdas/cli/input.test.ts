import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type InputLine, MAX_RECORD_BYTES, readLines } from "../../../lambdas/cli/input.js";

/** What `readline` makes of the same chunks: the reference the line splitter must agree with. */
async function readlineReference(chunks: readonly Buffer[]): Promise<InputLine[]> {
  const lines: InputLine[] = [];
  let line = 0;
  const reader = createInterface({ input: Readable.from(chunks), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const text of reader) {
    line++;
    if (text.trim() !== "") lines.push({ file: "-", line, text });
  }
  return lines;
}

async function splitterLines(chunks: readonly Buffer[]): Promise<InputLine[]> {
  const lines: InputLine[] = [];
  for await (const line of readLines(["-"], { stdin: Readable.from(chunks) })) lines.push(line);
  return lines;
}

/** Text of line breaks (`\n`, `\r\n`, lone `\r`), blanks and multi-byte characters, cut into chunks anywhere. */
const chunkedText = fc
  .array(
    fc.oneof(fc.constantFrom("\n", "\r\n", "\r", " ", "\t", "é", "😀", "{}"), fc.string({ maxLength: 8 })),
    {
      maxLength: 60,
    },
  )
  .chain((parts) => {
    const bytes = Buffer.from(parts.join(""), "utf8");
    return fc
      .uniqueArray(fc.integer({ min: 1, max: Math.max(1, bytes.length - 1) }), { maxLength: 8 })
      .map((cuts) => {
        const points = [0, ...cuts.filter((c) => c < bytes.length).sort((a, b) => a - b), bytes.length];
        const chunks: Buffer[] = [];
        for (let i = 1; i < points.length; i++) {
          const slice = bytes.subarray(points[i - 1], points[i]);
          if (slice.length > 0) chunks.push(Buffer.from(slice));
        }
        return chunks;
      });
  });

describe("readLines", () => {
  it("splits lines and numbers them exactly as readline does, however the bytes are chunked", async () => {
    await fc.assert(
      fc.asyncProperty(chunkedText, async (chunks) => {
        expect(await splitterLines(chunks)).toEqual(await readlineReference(chunks));
      }),
      { numRuns: 300 },
    );
  });

  it("keeps a CRLF split across two chunks as one line break", async () => {
    // Prepare
    const chunks = [Buffer.from("first\r"), Buffer.from("\nsecond\n")];
    // Act
    const lines = await splitterLines(chunks);
    // Assess
    expect(lines).toEqual([
      { file: "-", line: 1, text: "first" },
      { file: "-", line: 2, text: "second" },
    ]);
  });

  it("reports a record longer than the maximum as an error of its own line, and reads on after it", async () => {
    // Prepare: a record of 1.5 times the maximum, arriving in 64 KiB chunks, between two ordinary lines
    const long = Buffer.alloc(Math.floor(MAX_RECORD_BYTES * 1.5), "x");
    const chunks: Buffer[] = [Buffer.from("first\n")];
    for (let at = 0; at < long.length; at += 65_536) chunks.push(long.subarray(at, at + 65_536));
    chunks.push(Buffer.from("\nlast\n"));

    // Act
    const lines = await splitterLines(chunks);

    // Assess
    expect(lines).toEqual([
      { file: "-", line: 1, text: "first" },
      {
        file: "-",
        line: 2,
        text: "",
        error: `record of ${long.length} bytes is longer than the ${MAX_RECORD_BYTES}-byte maximum record size; skipped`,
      },
      { file: "-", line: 3, text: "last" },
    ]);
  });

  it("counts a multi-byte record's size in UTF-8 bytes, also when one chunk holds all of it", async () => {
    // Prepare: one chunk whose first line is under the maximum in characters but over it in bytes
    const text = "é".repeat(MAX_RECORD_BYTES / 2 + 1);

    // Act
    const lines = await splitterLines([Buffer.from(`${text}\nok`)]);

    // Assess
    expect(lines.map((line) => line.error ?? line.text)).toEqual([
      `record of ${MAX_RECORD_BYTES + 2} bytes is longer than the ${MAX_RECORD_BYTES}-byte maximum record size; skipped`,
      "ok",
    ]);
  });

  it("accepts a record of exactly the maximum size spread over many chunks", async () => {
    // Prepare
    const record = Buffer.alloc(MAX_RECORD_BYTES, "y");
    const chunks: Buffer[] = [];
    for (let at = 0; at < record.length; at += 16_384) chunks.push(record.subarray(at, at + 16_384));

    // Act
    const lines = await splitterLines(chunks);

    // Assess
    expect(lines).toHaveLength(1);
    expect(lines[0]?.text.length).toBe(MAX_RECORD_BYTES);
    expect(lines[0]?.error).toBeUndefined();
  });
});
