import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { command } from "../../../lambdas/cli/commands/normalize.js";
import { MAX_RECORD_BYTES, readLines } from "../../../lambdas/cli/input.js";
import { createReingestSealer, normalizeRecord } from "../../../lambdas/core/normalize/index.js";

const ISTIO =
  '[2024-05-02T08:00:01.250Z] "GET /items HTTP/1.1" 200 - via_upstream - "-" 0 64 12 11 "-" "curl/8" "rid-1" "items:80" "10.1.2.3:80" outbound|80||items.shop.svc.cluster.local 10.1.9.9:40000 10.96.0.20:80 10.1.9.9:51000 - default';
const LINKERD = '10.9.0.1:4000 - - [2024-06-01T12:00:01Z] "GET /live HTTP/1.1" 200';

let dir: string;
let stdout: string;
let stderr: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "normalize-cli-"));
  stdout = "";
  stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("audit-trail normalize", () => {
  it("prints one ECS document per record and exits 0 when every record parses", async () => {
    // Prepare
    const file = join(dir, "access.log");
    writeFileSync(file, `${ISTIO}\n\n${LINKERD}\r\n`);
    // Act
    const status = await command.run([file]);
    // Assess
    expect(status).toBe(0);
    const docs = stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(docs.map((d) => d.event.dataset)).toEqual(["istio.access", "linkerd.access"]);
    expect(stderr).toContain("2 document(s), 0 failed");
  });

  it("reads archived documents and the transform's sealed re-ingested records as they are (the files are trusted)", async () => {
    // Prepare: a document from the archive's documents/, and a processing-failed line holding a sealed record
    const [doc] = (() => {
      const result = normalizeRecord(LINKERD);
      if (!result.ok) throw new Error(result.reason);
      return result.documents;
    })();
    const sealed = createReingestSealer("s".repeat(64)).seal(
      JSON.stringify({ ...doc, event: { ...doc?.event, id: "re-1" } }),
    );
    const failed = JSON.stringify({
      attemptsMade: 1,
      arrivalTimestamp: 0,
      rawData: Buffer.from(sealed).toString("base64"),
    });
    const file = join(dir, "mixed.json");
    writeFileSync(file, `${JSON.stringify(doc)}\n${failed}\n`);
    // Act
    const status = await command.run([file]);
    // Assess
    expect(status).toBe(0);
    const ids = stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l).event.id);
    expect(ids).toEqual([doc?.event.id, "re-1"]);
  });

  it("reads gzip files by their magic bytes, whatever the name", async () => {
    const file = join(dir, "access.txt");
    writeFileSync(file, gzipSync(`${LINKERD}\n${LINKERD}\n`));
    expect(await command.run([file])).toBe(0);
    expect(stdout.trimEnd().split("\n")).toHaveLength(2);
  });

  it("reads an archived backup object as Firehose writes it with GZIP: several gzip members, no .gz in its name", async () => {
    // Prepare: documents/ objects hold one document a line; a writer may append gzip members one after another
    const result = normalizeRecord(LINKERD);
    if (!result.ok) throw new Error(result.reason);
    const document = JSON.stringify(result.documents[0]);
    const file = join(dir, "AuditTrail-prod-DeliveryStream-1-2026-12-07-10-00-00-abc");
    writeFileSync(file, Buffer.concat([gzipSync(`${document}\n`), gzipSync(`${document}\n${document}\n`)]));

    // Act
    const status = await command.run([file]);

    // Assess
    expect(status).toBe(0);
    expect(stdout.trimEnd().split("\n")).toEqual([document, document, document]);
  });

  it("reads a file of Firehose's error output (the S3 error prefix) as the records it holds", async () => {
    // Prepare: an object from errors/processing-failed/, as Firehose writes it (gzip when configured)
    const line = (record: string) =>
      JSON.stringify({
        attemptsMade: 1,
        arrivalTimestamp: Date.UTC(2024, 5, 1, 12, 0, 5),
        errorCode: "Lambda.ProcessingFailed",
        errorMessage: "The data could not be decoded as UTF-8 or contains an invalid record.",
        attemptEndingTimestamp: Date.UTC(2024, 5, 1, 12, 0, 6),
        rawData: Buffer.from(record).toString("base64"),
        lambdaArn: "arn:aws:lambda:eu-west-1:111122223333:function:transform:$LATEST",
      });
    const file = join(dir, "audit-trail-1-2024-06-01-12-00-05-uuid");
    writeFileSync(file, gzipSync(`${line(ISTIO)}\n${line("hello world")}\n`));
    // Act
    const status = await command.run([file]);
    // Assess
    expect(status).toBe(1);
    expect(JSON.parse(stdout).event).toMatchObject({
      dataset: "istio.access",
      original: ISTIO,
      ingested: "2024-06-01T12:00:05.000Z",
    });
    expect(stderr).toContain(`${file}:2: Firehose error output: unrecognized log line`);
  });

  it("reports failures as file:line: reason and exits 1", async () => {
    const file = join(dir, "mixed.log");
    writeFileSync(file, `${LINKERD}\nhello world\n`);
    expect(await command.run([file])).toBe(1);
    expect(stderr).toContain(`${file}:2: unrecognized log line`);
    expect(stdout.trimEnd().split("\n")).toHaveLength(1);
  });

  it("reports a record over the maximum record size as a failure of its line, and normalizes the rest", async () => {
    // Prepare
    const file = join(dir, "long.log");
    writeFileSync(file, `${LINKERD}\n${"{".repeat(MAX_RECORD_BYTES + 10)}\n${LINKERD}\n`);
    // Act
    const status = await command.run([file]);
    // Assess
    expect(status).toBe(1);
    expect(stdout.trimEnd().split("\n")).toHaveLength(2);
    expect(stderr).toContain(
      `long.log:2: record of ${MAX_RECORD_BYTES + 10} bytes is longer than the ${MAX_RECORD_BYTES}-byte maximum record size; skipped`,
    );
    expect(stderr).toContain("2 document(s), 1 failed record(s)");
  });

  it("summarizes a binary file in one line instead of printing its bytes, and reads the next file", async () => {
    // Prepare: an executable's bytes (NULs and all, and no line breaks worth the name), then a log file
    const binary = join(dir, "program");
    const bytes = Buffer.alloc(200_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 251;
    writeFileSync(binary, bytes);
    const log = join(dir, "after.log");
    writeFileSync(log, `${LINKERD}\n`);
    // Act
    const status = await command.run([binary, log]);
    // Assess
    expect(status).toBe(1);
    expect(stderr).toBe(
      `${binary}:1: binary file (NUL bytes in its first 8 KiB; not a log file nor gzip): not read\n` +
        "audit-trail normalize: 1 document(s), 1 failed record(s)\n",
    );
    expect(stdout.trimEnd().split("\n")).toHaveLength(1);
  });

  it("reports failures as JSON objects with --json", async () => {
    const file = join(dir, "bad.log");
    writeFileSync(file, "{oops\n");
    expect(await command.run(["--json", file])).toBe(1);
    expect(JSON.parse(stderr.trim())).toEqual({
      file,
      line: 1,
      reason: expect.stringContaining("invalid JSON"),
    });
  });

  it("exits 2 naming the file for a corrupt gzip file", async () => {
    const file = join(dir, "broken.gz");
    writeFileSync(file, Buffer.concat([gzipSync("a\n").subarray(0, 12), Buffer.from("garbage")]));
    expect(await command.run([file])).toBe(2);
    expect(stderr).toContain(`audit-trail normalize: ${file}:`);
  });

  it("exits 2 with a clear message for a missing file, no files, or an unknown option", async () => {
    expect(await command.run([join(dir, "missing.log")])).toBe(2);
    expect(stderr).toContain("missing.log: no such file");
    expect(await command.run([])).toBe(2);
    expect(await command.run(["--bogus", "x"])).toBe(2);
    expect(stderr).toContain("unknown option '--bogus'");
  });
});

describe("readLines", () => {
  it("streams stdin for '-', numbering lines and skipping blank ones", async () => {
    const stdin = Readable.from([Buffer.from("a\n\nb"), Buffer.from("c\n")]);
    const lines = [];
    for await (const line of readLines(["-"], { stdin })) lines.push(line);
    expect(lines).toEqual([
      { file: "-", line: 1, text: "a" },
      { file: "-", line: 3, text: "bc" },
    ]);
  });

  it("gunzips stdin and yields nothing for an empty input", async () => {
    const gz = Readable.from([gzipSync("x\ny\n")]);
    const lines = [];
    for await (const line of readLines(["-"], { stdin: gz })) lines.push(line.text);
    expect(lines).toEqual(["x", "y"]);
    const none = [];
    for await (const line of readLines(["-"], { stdin: Readable.from([]) })) none.push(line);
    expect(none).toEqual([]);
  });
});
