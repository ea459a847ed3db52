/**
 * Transform benchmark: a realistic generated mix of every format (mostly Istio sidecar lines, as Fluent Bit ships
 * them), through the same `transformBatch` the Lambda runs, in a process with the transform function's V8 flags
 * (`nodeFlags`: its semi-space size).
 *
 * - throughput: MB/s of decoded input through the transform, and its ratio to an identity baseline over the same
 *   records (base64 decode + JSON.parse + JSON.stringify + base64 encode; text lines go through as JSON strings);
 *   the Lambda also tags each document with the single-event rules it matches, so that run (default pack, loaded
 *   the way the Lambda loads it: precompiled) is measured too, interleaved with the others, and reported apart;
 * - the native floor: the same built-in steps the identity runs, but emitting the transform's own documents (base64
 *   decode, JSON.parse of JSON records, JSON.stringify of the documents, base64 encode), with parsing and
 *   normalizing counted as free. Documents are about 2.8 times the size of their input, so this is the highest
 *   transform / identity ratio any implementation emitting these documents with V8's JSON could reach;
 * - the same floor for documents cut down to the fields the schema names (`SCHEMA_FIELDS`), and what
 *   that leaves, at a ratio of 0.5, for everything the floor counts as free (parsing lines, normalizing, the
 *   `event.id` hash, tagging) next to what they cost today;
 * - latency: p50/p99 of one Firehose invocation carrying 6 MB of request payload (the Lambda invoke limit);
 * - size: the minified handler bundle, built with the settings and externals the stack deploys it with
 *   (`lib/private/bundle.ts`: ESM, minified, node22; the AWS SDK v3 left to the Node.js runtime, imported only to
 *   re-ingest extra documents or fetch the pseudonymization key), the same bundle with the SDK bundled instead
 *   (for comparison), the precompiled rule pack the transform loads next to it, and the time a fresh Node.js
 *   process takes to import the bundle (what the bundle size stands for: the module part of a cold start).
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import type { EcsDocument } from "../lambdas/core/ecs.js";
import { type FirehoseInputRecord, transformBatch } from "../lambdas/core/firehose/transform.js";
import { createReingestSealer, normalizeRecord } from "../lambdas/core/normalize/index.js";
import { precompileRulePack } from "../lambdas/core/rules/load.js";
import { PRECOMPILED_RULE_PACK_FILE, rulePackFromPrecompiled } from "../lambdas/core/rules/precompiled.js";
import {
  externalModules,
  LAMBDA_BUNDLE_SETTINGS,
  semiSpaceFlag,
  TRANSFORM_BUNDLE,
} from "../lib/private/bundle.js";
import type { BenchResult } from "./run.js";
import { generateMix, toRecords } from "./transform-mix.js";

const here = dirname(fileURLToPath(import.meta.url));

/** The V8 flags the transform function runs with (`NODE_OPTIONS`, `lib/ingestion.ts`). */
export const nodeFlags = [semiSpaceFlag(TRANSFORM_BUNDLE.semiSpaceMiB)];

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

function decodeText(record: FirehoseInputRecord): string {
  return Buffer.from(record.data, "base64").toString("utf8");
}

function receivedAt(record: FirehoseInputRecord): string {
  return new Date(record.approximateArrivalTimestamp as number).toISOString();
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function time<T>(fn: () => T): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

const root = join(here, "..");

/** The minified transform bundle, as `auditFunction` builds it (esbuild's `index.mjs`; the source map apart). */
async function transformBundle(useRuntimeAwsSdk: boolean): Promise<Uint8Array> {
  const result = await build({
    entryPoints: [join(root, TRANSFORM_BUNDLE.entry)],
    bundle: true,
    minify: LAMBDA_BUNDLE_SETTINGS.minify,
    format: LAMBDA_BUNDLE_SETTINGS.format,
    platform: LAMBDA_BUNDLE_SETTINGS.platform,
    target: LAMBDA_BUNDLE_SETTINGS.target,
    mainFields: [...LAMBDA_BUNDLE_SETTINGS.mainFields],
    banner: { js: LAMBDA_BUNDLE_SETTINGS.banner },
    external: externalModules(useRuntimeAwsSdk),
    write: false,
    logLevel: "silent",
  });
  const [output] = result.outputFiles;
  if (output === undefined || result.outputFiles.length !== 1) throw new Error("expected one bundle file");
  return output.contents;
}

/**
 * Median milliseconds a fresh Node.js process takes to import the bundle laid out as in the Lambda (`index.mjs`,
 * `rules/rule-pack.json`): module loading, the handler's start-up and the rule pack's compilation.
 */
async function coldImportMs(bundle: Uint8Array, rulePack: string, runs: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "transform-bundle-"));
  try {
    await writeFile(join(dir, "index.mjs"), bundle);
    await mkdir(join(dir, "rules"));
    await writeFile(join(dir, "rules", PRECOMPILED_RULE_PACK_FILE), rulePack);
    const script = [
      "const start = performance.now();",
      `await import(${JSON.stringify(join(dir, "index.mjs"))});`,
      "process.stdout.write(String(performance.now() - start));",
    ].join(" ");
    const env = {
      PATH: process.env.PATH,
      AWS_REGION: "eu-west-1",
      AUDIT_TRAIL_RULES_DIR: join(dir, "rules"),
      AUDIT_TRAIL_REINGEST_KEY_SECRET_ARN: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:bench",
      POWERTOOLS_LOG_LEVEL: "SILENT",
      POWERTOOLS_METRICS_DISABLED: "true",
    };
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
        env,
      });
      times.push(Number(stdout));
    }
    return percentile(
      times.sort((a, b) => a - b),
      50,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The native floor of one batch: base64 decode, JSON.parse of JSON records, JSON.stringify of the transform's
 * documents (given), base64 encode; nothing of parsing or normalizing.
 */
function nativeFloor(records: readonly FirehoseInputRecord[], documents: readonly EcsDocument[]): string[] {
  const out = new Array<string>(records.length);
  for (let i = 0; i < records.length; i++) {
    const data = (records[i] as FirehoseInputRecord).data;
    const text = floorScratch.toString("utf8", 0, floorScratch.write(data, 0, "base64"));
    if (text.charCodeAt(0) === 123) JSON.parse(text);
    const length = floorScratch.write(JSON.stringify(documents[i]), 0, "utf8");
    floorScratch[length] = 10;
    out[i] = floorScratch.toString("base64", 0, length + 1);
  }
  return out;
}

/** One buffer for every record of the floor (its fastest form; the mix's records and documents fit). */
const floorScratch = Buffer.allocUnsafe(1024 * 1024);

/**
 * The fields the schema names (the design's ECS field list and the transform issue's), as a projection (`true`:
 * the whole subtree): `@timestamp`, `event.*` (with `event.id`, which alerts need), source and destination
 * ip/port/address, method, status, `url.path`, `user_agent.original`, `tls.*`, `trace.id`, `user.name`,
 * `kubernetes.*` (audit fields and pod metadata), the cluster, Hubble's verdict, drop reason, auth type and
 * encryption, and `mesh.*`. Everything else the transform writes (`related.ip`, `network.*`, `envoy.*`,
 * `url.query`, byte counts, …) is left out.
 */
type Projection = true | { readonly [field: string]: Projection };
const endpoint = { ip: true, port: true, address: true } as const;
const SCHEMA_FIELDS: Projection = {
  "@timestamp": true,
  event: {
    kind: true,
    category: true,
    type: true,
    action: true,
    outcome: true,
    dataset: true,
    duration: true,
    original: true,
    id: true,
  },
  source: endpoint,
  destination: endpoint,
  http: { request: { method: true }, response: { status_code: true } },
  url: { path: true },
  user_agent: { original: true },
  tls: true,
  trace: { id: true },
  user: { name: true },
  kubernetes: true,
  orchestrator: { cluster: true },
  cilium: { verdict: true, drop_reason: true, auth_type: true, encrypted: true },
  mesh: true,
};

function project(value: unknown, projection: Projection): unknown {
  if (projection === true || typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [field, sub] of Object.entries(projection)) {
    const v = (value as Record<string, unknown>)[field];
    if (v !== undefined) out[field] = project(v, sub);
  }
  return out;
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
  // The Lambda also tags every document with the single-event rules it matches (the default pack here, loaded
  // as the Lambda loads it).
  const rulePack = precompileRulePack([join(root, "rules")], {}, root);
  const pack = rulePackFromPrecompiled(rulePack, PRECOMPILED_RULE_PACK_FILE);
  // Overflow documents are sealed as the Lambda seals them (the key is fetched once per cold start, not timed).
  const overflow = { multiDocument: "overflow", reingest: createReingestSealer("b".repeat(64)) } as const;
  const tagged = { ...overflow, tagger: (doc: EcsDocument) => pack.matchSingleEvent(doc) } as const;
  for (let i = 0; i < 10; i++) {
    transformBatch({ records: small }, overflow);
    transformBatch({ records: small }, tagged);
    identity(small);
  }
  // Interleaved runs, medians: the machine is shared, and a mean would mostly measure the neighbours.
  const transformMs: number[] = [];
  const taggedMs: number[] = [];
  const identityMs: number[] = [];
  for (let i = 0; i < 60; i++) {
    transformMs.push(time(() => transformBatch({ records: small }, overflow)));
    taggedMs.push(time(() => transformBatch({ records: small }, tagged)));
    identityMs.push(time(() => identity(small)));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const mbps = (ms: number) => smallBytes / 1e6 / (ms / 1000);
  const transformMbps = mbps(median(transformMs));
  const taggedMbps = mbps(median(taggedMs));
  const identityMbps = mbps(median(identityMs));
  const ratio = transformMbps / identityMbps;
  const smallStats = transformBatch({ records: small }, overflow).stats;

  // Latency: one invocation carrying 6 MB of request payload (the Lambda invoke limit).
  const full = batchOf(all, 6 * 1024 * 1024);
  for (let i = 0; i < 3; i++) transformBatch({ records: full }, overflow);
  const fullMs = measure(() => transformBatch({ records: full }, overflow), 30);
  const fullStats = transformBatch({ records: full }, overflow).stats;
  const p50 = percentile(fullMs, 50);
  const p99 = percentile(fullMs, 99);

  // The native floors, after the latency runs (their documents stay alive while they run), interleaved with the
  // identity again; beside them, what parsing lines, normalizing and hashing cost (normalizeRecord, less the
  // JSON.parse of the record the floors already count).
  const documents = small.map((record) => {
    const result = normalizeRecord(decodeText(record), { receivedAt: receivedAt(record) });
    if (!result.ok) throw new Error(`the mix holds a record the transform fails: ${result.reason}`);
    return result.documents[0] as EcsDocument;
  });
  // Parsed back from JSON, so V8 sees them with the object shapes JSON.parse gives.
  const schemaOnly = documents.map(
    (doc) => JSON.parse(JSON.stringify(project(doc, SCHEMA_FIELDS))) as EcsDocument,
  );
  const texts = small.map(decodeText);
  const normalizeAll = () => {
    for (let i = 0; i < small.length; i++) {
      normalizeRecord(texts[i] as string, { receivedAt: receivedAt(small[i] as FirehoseInputRecord) });
    }
  };
  const parseAll = () => {
    for (const text of texts) if (text.charCodeAt(0) === 123) JSON.parse(text);
  };
  const rounds: Record<string, () => unknown> = {
    identity: () => identity(small),
    floor: () => nativeFloor(small, documents),
    schemaFloor: () => nativeFloor(small, schemaOnly),
    normalize: normalizeAll,
    parse: parseAll,
    tagging: () => {
      for (const doc of documents) pack.matchSingleEvent(doc);
    },
  };
  const roundMs = Object.fromEntries(Object.keys(rounds).map((name) => [name, [] as number[]]));
  for (let i = 0; i < 10; i++) for (const fn of Object.values(rounds)) fn();
  for (let i = 0; i < 60; i++) {
    for (const [name, fn] of Object.entries(rounds)) roundMs[name]?.push(time(fn));
  }
  const medianOf = (name: string) => median(roundMs[name] as number[]);
  const floorIdentityMs = medianOf("identity");
  const floorRatio = floorIdentityMs / medianOf("floor");
  const schemaFloorRatio = floorIdentityMs / medianOf("schemaFloor");
  const schemaBudgetMs = 2 * floorIdentityMs - medianOf("schemaFloor");
  const normalizingMs = medianOf("normalize") - medianOf("parse");
  const bytesOf = (docs: readonly EcsDocument[]) =>
    docs.reduce((sum, doc) => sum + Buffer.byteLength(JSON.stringify(doc)), 0);

  const bundle = await transformBundle(TRANSFORM_BUNDLE.useRuntimeAwsSdk);
  const bundleKb = bundle.length / 1024;
  const withSdkKb = (await transformBundle(false)).length / 1024;
  const rulePackKb = Buffer.byteLength(rulePack) / 1024;
  const importMs = await coldImportMs(bundle, rulePack, 7);
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
    "native floor / identity": {
      value: floorRatio,
      unit: "ratio (the best any transform emitting these documents could reach)",
    },
    "documents / input": { value: bytesOf(documents) / smallBytes, unit: "bytes ratio" },
    "native floor, schema fields only / identity": {
      value: schemaFloorRatio,
      unit: "ratio (documents cut to the fields the schema names)",
    },
    "schema fields only: documents / input": { value: bytesOf(schemaOnly) / smallBytes, unit: "bytes ratio" },
    "schema fields only: left at ratio 0.5": {
      value: schemaBudgetMs,
      unit: "ms per 1 MiB batch for parsing lines, normalizing, hashing and tagging",
    },
    "parsing lines, normalizing, hashing today": {
      value: normalizingMs,
      unit: "ms per 1 MiB batch (normalizeRecord less JSON.parse)",
    },
    "rule tagging today": { value: medianOf("tagging"), unit: "ms per 1 MiB batch (default pack)" },
    "transform throughput, rule tagging on": { value: taggedMbps, unit: "MB/s" },
    "transform (rule tagging on) / identity": { value: taggedMbps / identityMbps, unit: "ratio" },
    "6 MB batch: records": { value: full.length, unit: "records" },
    "6 MB batch: input (decoded)": { value: decodedBytes(full) / 1e6, unit: "MB" },
    "6 MB batch: records that did not fit": {
      value: fullStats.oversize,
      unit: "records (answered Dropped, their documents re-ingested through the stream)",
    },
    "6 MB invocation p50": { value: p50, unit: "ms", target: "<= 150", meetsTarget: p50 <= 150 },
    "6 MB invocation p99": { value: p99, unit: "ms", target: "<= 150", meetsTarget: p99 <= 150 },
    "handler bundle (minified)": {
      value: bundleKb,
      unit: TRANSFORM_BUNDLE.useRuntimeAwsSdk
        ? "KB (AWS SDK v3 external: the runtime's, imported only to re-ingest or fetch the HMAC key)"
        : "KB (AWS SDK v3 bundled)",
      target: "<= 200",
      meetsTarget: bundleKb <= 200,
    },
    "handler bundle, AWS SDK v3 bundled": { value: withSdkKb, unit: "KB (for comparison)" },
    "precompiled rule pack (default, no overrides)": {
      value: rulePackKb,
      unit: "KB (JSON next to the bundle)",
    },
    "handler import, fresh process (median of 7)": {
      value: importMs,
      unit: "ms (bundle, start-up, rule pack)",
    },
  };
};
