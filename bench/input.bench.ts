/**
 * The CLI's line reader on input without newlines: one file of a single line of N MB (default 60,
 * `AUDIT_TRAIL_BENCH_LONG_LINE_MB`), read by `readLines` as `normalize` and `replay` read their files. The reader
 * is linear (each chunk searched once, an unfinished line kept as pieces up to `MAX_RECORD_BYTES`), so the time is
 * that of reading the bytes and the memory stays flat; the reader this replaced took 35 s for 60 MB.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_RECORD_BYTES, readLines } from "../lambdas/cli/input.js";
import type { BenchResult } from "./run.js";

export default async function bench(): Promise<BenchResult> {
  const megabytes = Number(process.env.AUDIT_TRAIL_BENCH_LONG_LINE_MB ?? "60");
  if (!Number.isFinite(megabytes) || megabytes <= 0) {
    throw new Error(`AUDIT_TRAIL_BENCH_LONG_LINE_MB must be a positive number, got '${megabytes}'`);
  }
  const dir = await mkdtemp(join(tmpdir(), "audit-trail-input-bench-"));
  const file = join(dir, "one-line.log");
  try {
    await writeFile(file, Buffer.alloc(megabytes * 1_000_000, "x"));
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sample = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 20);
    const start = performance.now();
    let errors = 0;
    for await (const line of readLines([file])) if (line.error !== undefined) errors++;
    const seconds = (performance.now() - start) / 1000;
    clearInterval(sample);
    if (errors !== 1) throw new Error(`expected one over-long record, got ${errors}`);
    return {
      longLineSeconds: { value: seconds, unit: `s to read one ${megabytes} MB line (reported as too long)` },
      longLineMegabytesPerSecond: { value: megabytes / seconds, unit: "MB/s" },
      longLineRssGrowthMegabytes: {
        value: Math.round((peakRss - rssBefore) / 1e6),
        unit: `MB of peak RSS over the start (maximum record ${MAX_RECORD_BYTES} bytes)`,
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
