/**
 * Transform benchmark: a realistic generated mix of every format (mostly Istio sidecar lines, as Fluent Bit ships
 * them), through the same `transformBatch` the Lambda runs.
 *
 * - throughput: MB/s of decoded input through the transform, and its ratio to an identity baseline over the same
 *   records (base64 decode + JSON.parse + JSON.stringify + base64 encode; text lines go through as JSON strings);
 *   the Lambda also tags each document with the single-event rules it matches, so that run (default pack) is
 *   measured too, interleaved with the other two, and reported apart;
 * - latency: p50/p99 of one Firehose invocation carrying 6 MB of request payload (the Lambda invoke limit);
 * - size: the minified handler bundle (esbuild, ESM, minify, platform node, target node22, AWS SDK bundled,
 *   `mainFields: module,main` so the SDK's ES modules are tree-shaken).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { EcsDocument } from "../lambdas/core/ecs.js";
import { type FirehoseInputRecord, transformBatch } from "../lambdas/core/firehose/transform.js";
import { loadRulePack } from "../lambdas/core/rules/index.js";
import type { BenchResult } from "./run.js";
import { generateMix, toRecords } from "./transform-mix.js";

const here = dirname(fileURLToPath(import.meta.url));

/** Records up to `bytes` of request payload (base64 data plus record envelope). */
function batchOf(records: readonly FirehoseInputRecord[], bytes: number): FirehoseInputRecord[] {
  const out: FirehoseInputRecord[] = [];
  let size = 200;
  for (const r of records) {
    const s = r.data.length + r.recordId.length + 80;
    if (size + s > bytes) break;
    out.push(r);
    size += s;
  }
  return out;
}

/**
 * The identity transform: base64 decode + JSON.parse + JSON.stringify + base64 encode of each record (a text
 * line goes through as a JSON string), collected into the same response shape every Firehose transform returns.
 */
function identity(records: readonly FirehoseInputRecord[]): {
  records: { recordId: string; result: "Ok"; data: string }[];
} {
  const out = new Array<{ recordId: string; result: "Ok"; data: string }>(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as FirehoseInputRecord;
    const text = Buffer.from(r.data, "base64").toString("utf8");
    const value: unknown = text.charCodeAt(0) === 123 ? JSON.parse(text) : text;
    out[i] = {
      recordId: r.recordId,
      result: "Ok",
      data: Buffer.from(`${JSON.stringify(value)}\n`, "utf8").toString("base64"),
    };
  }
  return { records: out };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function time<T>(fn: () => T): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

async function bundleSize(): Promise<number> {
  const result = await build({
    entryPoints: [join(here, "..", "lambdas", "transform", "handler.ts")],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "node",
    target: "node22",
    mainFields: ["module", "main"],
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles.reduce((sum, f) => sum + f.contents.length, 0);
}

function measure(fn: () => unknown, runs: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push(time(fn));
  return out.sort((a, b) => a - b);
}

export default async (): Promise<BenchResult> => {
  const all = toRecords(generateMix(60_000));
  const decodedBytes = (records: readonly FirehoseInputRecord[]) =>
    records.reduce((sum, r) => sum + Buffer.from(r.data, "base64").length, 0);

  // Throughput: batches of 1 MiB of request payload, the processor buffer the stack should configure (documents
  // are 2–3.5 times the size of their input, so a larger buffer would cross the 6 MB response limit).
  const small = batchOf(all, 1024 * 1024);
  const smallBytes = decodedBytes(small);
  // The Lambda also tags every document with the single-event rules it matches (the default pack here).
  const pack = await loadRulePack([join(here, "..", "rules")]);
  const tagged = {
    multiDocument: "overflow",
    tagger: (doc: EcsDocument) => pack.matchSingleEvent(doc),
  } as const;
  for (let i = 0; i < 10; i++) {
    transformBatch({ records: small }, { multiDocument: "overflow" });
    transformBatch({ records: small }, tagged);
    identity(small);
  }
  // Interleaved runs, medians: the machine is shared, and a mean would mostly measure the neighbours.
  const transformMs: number[] = [];
  const taggedMs: number[] = [];
  const identityMs: number[] = [];
  for (let i = 0; i < 60; i++) {
    transformMs.push(time(() => transformBatch({ records: small }, { multiDocument: "overflow" })));
    taggedMs.push(time(() => transformBatch({ records: small }, tagged)));
    identityMs.push(time(() => identity(small)));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const mbps = (ms: number) => smallBytes / 1e6 / (ms / 1000);
  const transformMbps = mbps(median(transformMs));
  const taggedMbps = mbps(median(taggedMs));
  const identityMbps = mbps(median(identityMs));
  const ratio = transformMbps / identityMbps;
  const smallStats = transformBatch({ records: small }, { multiDocument: "overflow" }).stats;

  // Latency: one invocation carrying 6 MB of request payload (the Lambda invoke limit).
  const full = batchOf(all, 6 * 1024 * 1024);
  for (let i = 0; i < 3; i++) transformBatch({ records: full }, { multiDocument: "overflow" });
  const fullMs = measure(() => transformBatch({ records: full }, { multiDocument: "overflow" }), 30);
  const fullStats = transformBatch({ records: full }, { multiDocument: "overflow" }).stats;
  const p50 = percentile(fullMs, 50);
  const p99 = percentile(fullMs, 99);

  const bundleKb = (await bundleSize()) / 1024;
  return {
    "1 MiB batch: records": { value: small.length, unit: "records" },
    "1 MiB batch: records failed": { value: smallStats.failed, unit: "records" },
    "transform throughput": { value: transformMbps, unit: "MB/s" },
    "identity baseline throughput": { value: identityMbps, unit: "MB/s" },
    "transform / identity ratio": {
      value: ratio,
      unit: "ratio",
      target: ">= 0.5",
      meetsTarget: ratio >= 0.5,
    },
    "transform throughput, rule tagging on": { value: taggedMbps, unit: "MB/s" },
    "transform (rule tagging on) / identity": { value: taggedMbps / identityMbps, unit: "ratio" },
    "6 MB batch: records": { value: full.length, unit: "records" },
    "6 MB batch: input (decoded)": { value: decodedBytes(full) / 1e6, unit: "MB" },
    "6 MB batch: returned for size (kept in S3)": { value: fullStats.oversize, unit: "records" },
    "6 MB invocation p50": { value: p50, unit: "ms", target: "<= 150", meetsTarget: p50 <= 150 },
    "6 MB invocation p99": { value: p99, unit: "ms", target: "<= 150", meetsTarget: p99 <= 150 },
    "handler bundle (minified)": {
      value: bundleKb,
      unit: "KB",
      target: "<= 200",
      meetsTarget: bundleKb <= 200,
    },
  };
};
