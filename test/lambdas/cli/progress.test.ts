/**
 * Progress on a terminal only: a line on stderr redrawn in place while a long verb works (records, bytes of the
 * total, rate, time left), erased at the end; nothing at all when stderr is a file or a pipe.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { runCompliance } from "../../../lambdas/cli/commands/compliance.js";
import { runNormalize } from "../../../lambdas/cli/commands/normalize.js";
import { parseReplayArgs, runReplay } from "../../../lambdas/cli/commands/replay.js";
import { runVerify } from "../../../lambdas/cli/commands/verify.js";
import { countProgress, type ProgressStream, readProgress } from "../../../lambdas/cli/progress.js";
import { keyPair, removeDir, sealedTwoPeriodCopy, tempDir } from "../core/digest/local-archive-helpers.js";
import { parsedArgs } from "./helpers.js";

function stream(isTTY: boolean): ProgressStream & { text: () => string; writes: string[] } {
  const writes: string[] = [];
  return { isTTY, writes, write: (text) => writes.push(text) > 0, text: () => writes.join("") };
}

const sink = { write: () => true };
const ERASE = "\r\x1b[2K";
const INCIDENT = "examples/incident";
const incidentBytes = readdirSync(INCIDENT).reduce(
  (sum, file) => sum + statSync(join(INCIDENT, file)).size,
  0,
);

describe("readProgress", () => {
  it("draws records, MB of the total, rate and time left on a terminal, and erases the line when done", () => {
    // Prepare
    let now = 0;
    const tty = stream(true);
    const progress = readProgress("replay", 100_000_000, { stream: tty, now: () => now });

    // Act
    progress.update({ records: 10, bytes: 1_000 }); // within the first second: nothing
    now = 5_000;
    progress.update({ records: 1_000_000, bytes: 50_000_000 });
    progress.done();

    // Assess
    expect(tty.writes).toEqual([
      `${ERASE}replay: 1,000,000 records, 50.0 of 100.0 MB (50%), 10.0 MB/s, ETA 5 s`,
      ERASE,
    ]);
  });

  it("writes nothing when the stream is not a terminal", () => {
    // Prepare
    let now = 0;
    const piped = stream(false);
    const progress = readProgress("replay", 100, { stream: piped, now: () => now, delayMs: 0 });

    // Act
    now = 10_000;
    progress.update({ records: 1, bytes: 50 });
    progress.done();

    // Assess
    expect(piped.writes).toEqual([]);
  });
});

describe("countProgress", () => {
  it("draws items of the total, rate and time left per stage, the rate measured from the stage's start", () => {
    // Prepare
    let now = 0;
    const tty = stream(true);
    const progress = countProgress("verify", { stream: tty, now: () => now, intervalMs: 0 });

    // Act
    progress.update({ stage: "digests", done: 0, total: 8_760 }); // within the first second: nothing
    now = 2_000;
    progress.update({ stage: "digests", done: 4_000, total: 8_760 });
    now = 4_000;
    progress.update({ stage: "digests", done: 8_000, total: 8_760 });
    progress.update({ stage: "objects", done: 0, total: 100_000 });
    now = 14_000;
    progress.update({ stage: "objects", done: 25_000, total: 100_000 });
    progress.done();

    // Assess
    expect(tty.writes).toEqual([
      `${ERASE}verify: digests 4,000 of 8,760 (45%)`,
      `${ERASE}verify: digests 8,000 of 8,760 (91%), 2,000/s, ETA 1 s`,
      `${ERASE}verify: objects 0 of 100,000 (0%)`,
      `${ERASE}verify: objects 25,000 of 100,000 (25%), 2,500/s, ETA 30 s`,
      ERASE,
    ]);
  });

  it("writes nothing when the stream is not a terminal", () => {
    let now = 0;
    const piped = stream(false);
    const progress = countProgress("verify", { stream: piped, now: () => now, delayMs: 0 });

    now = 10_000;
    progress.update({ stage: "objects", done: 5, total: 10 });
    progress.done();

    expect(piped.writes).toEqual([]);
  });
});

describe("progress of the verbs", () => {
  it("replay shows records and bytes of the files' total on a terminal, then erases it", async () => {
    // Prepare
    const args = parsedArgs(parseReplayArgs(["--json", INCIDENT]));
    const tty = stream(true);

    // Act
    await runReplay(args, sink, sink, { stream: tty, delayMs: 0, intervalMs: 0 });

    // Assess
    const total = (incidentBytes / 1_000_000).toFixed(1);
    expect(tty.text()).toMatch(new RegExp(`replay: [\\d,]+ records, [\\d.]+ of ${total} MB \\(\\d+%\\)`));
    expect(tty.writes.at(-1)).toBe(ERASE);
  });

  it("replay writes no progress when stderr is piped", async () => {
    // Prepare
    const args = parsedArgs(parseReplayArgs(["--json", INCIDENT]));
    const piped = stream(false);

    // Act
    await runReplay(args, sink, sink, { stream: piped, delayMs: 0, intervalMs: 0 });

    // Assess
    expect(piped.writes).toEqual([]);
  });

  it("normalize shows its progress on a terminal too", async () => {
    // Prepare
    const tty = stream(true);
    const file = join(INCIDENT, "istio-inbound-json.log");

    // Act
    const status = await runNormalize([file], {
      out: sink,
      err: sink,
      progress: { stream: tty, delayMs: 0, intervalMs: 0 },
    });

    // Assess
    expect(status).toBe(0);
    expect(tty.text()).toMatch(/normalize: [\d,]+ records, [\d.]+ of 1\.3 MB/);
    expect(tty.writes.at(-1)).toBe(ERASE);
  });

  it("compliance says that it is synthesizing on a terminal, then erases the line", async () => {
    // Prepare
    const tty = stream(true);
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);

    // Act
    const status = await runCompliance(["-c", "env=prod"], { stream: tty });
    vi.restoreAllMocks();

    // Assess
    expect(status).toBe(0);
    expect(tty.writes).toEqual([
      `${ERASE}compliance: synthesizing stack AuditTrail-prod in memory, offline (takes a few seconds)`,
      ERASE,
    ]);
  }, 300_000); // synthesizing prod takes seconds alone, and minutes beside the whole suite on two cores

  describe("verify", () => {
    const keys = keyPair();
    const T0 = Date.parse("2026-11-20T06:00:00Z");

    async function archive(): Promise<{ dir: string; argv: string[] }> {
      const dir = await tempDir();
      return { dir, argv: await sealedTwoPeriodCopy(dir, keys, T0) };
    }

    it("shows the digests and objects checked of the total on a terminal, then erases the line", async () => {
      // Prepare
      const { dir, argv } = await archive();
      const tty = stream(true);
      vi.spyOn(process.stdout, "write").mockImplementation(() => true);
      vi.spyOn(process.stderr, "write").mockImplementation(() => true);

      // Act
      let status: number;
      try {
        status = await runVerify(argv, undefined, { stream: tty, delayMs: 0, intervalMs: 0 });
      } finally {
        vi.restoreAllMocks();
        await removeDir(dir);
      }

      // Assess
      expect(status).toBe(0);
      expect(tty.text()).toMatch(/verify: digests 0 of \d+/);
      expect(tty.text()).toContain("verify: objects 2 of 2 (100%)");
      expect(tty.writes.at(-1)).toBe(ERASE);
    });

    it("writes no progress when stderr is piped, and still its findings and summary", async () => {
      // Prepare
      const { dir, argv } = await archive();
      const piped = stream(false);
      const err: string[] = [];
      vi.spyOn(process.stdout, "write").mockImplementation(() => true);
      vi.spyOn(process.stderr, "write").mockImplementation((chunk) => err.push(String(chunk)) > 0);

      // Act
      let status: number;
      try {
        status = await runVerify(argv, undefined, { stream: piped, delayMs: 0, intervalMs: 0 });
      } finally {
        vi.restoreAllMocks();
        await removeDir(dir);
      }

      // Assess
      expect(status).toBe(0);
      expect(piped.writes).toEqual([]);
      expect(err.join("")).toMatch(/^OK: \d+ digests, periods .* 2 objects checked/);
    });
  });
});
