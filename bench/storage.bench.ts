/**
 * Storage benchmark on a real OpenSearch node (`scripts/opensearch-node.sh` through the integration tests' helper, or
 * the node at `OPENSEARCH_URL`): what a byte of raw log costs on disk and in the archive.
 *
 * Two inputs, each run through the transform as the Lambda runs it (`transformBatch`, the default rule pack's
 * tagging, `event.original` kept): the benchmark mix (`bench/transform-mix.ts`, `AUDIT_TRAIL_BENCH_STORAGE_RECORDS`
 * records, default 40,000) and every line of the shared corpus of real logs (`AUDIT_TRAIL_CORPUS`, else
 * `../shared/corpus`; left out, saying so, when it is not there). Only records that produced documents count as
 * input (the others go to the error prefix, not to the index).
 *
 * For each index variant, the documents are bulk-indexed into a fresh one-shard, no-replica index created from the
 * shipped template's settings and mappings (`buildAuditIndexTemplate`), refreshed, force-merged to one segment, and
 * its primary store size (`_stats/store`) divided by the input's raw bytes. Variants: the stored-fields codec
 * (`default` LZ4, `best_compression` DEFLATE, `zstd`, `zstd_no_dict`: a codec the node refuses is reported as not
 * measured, with the node's answer), `event.original` indexed or stored only, and `_source` with or without
 * `event.original` and the audit event's `requestObject`/`responseObject`.
 *
 * The archive: the documents as the S3 backup writes them (NDJSON), gzip at level 6 (what Firehose's GZIP
 * compression and Node's zlib default to) and brotli, per raw byte; the raw input gzipped (the error prefix); and
 * the bytes Firehose bills per raw byte (each record rounded up to 5 KB).
 *
 * Writes every ratio, dated, with the command and the node's version, to
 * `lambdas/core/sizing/storage-measurements.json`, which `audit-trail size` reads as its defaults.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, gzipSync, constants as zlibConstants } from "node:zlib";
import { INDEXED_AT_PIPELINE } from "../lambdas/core/contracts.js";
import type { EcsDocument } from "../lambdas/core/ecs.js";
import { type FirehoseInputRecord, transformBatch } from "../lambdas/core/firehose/transform.js";
import {
  type AuditTemplateOptions,
  buildAuditIndexTemplate,
  buildIndexedAtPipeline,
  type IndexCodec,
  type SourceExcludableField,
} from "../lambdas/core/opensearch/audit-template.js";
import { precompileRulePack } from "../lambdas/core/rules/load.js";
import { PRECOMPILED_RULE_PACK_FILE, rulePackFromPrecompiled } from "../lambdas/core/rules/precompiled.js";
import { FIREHOSE_BILLING_INCREMENT_BYTES } from "../lambdas/core/sizing/guidance.js";
import type { StorageMeasurements, StorageVariantId } from "../lambdas/core/sizing/measurements.js";
import { startTestNode } from "../test/integration/node.js";
import type { BenchResult } from "./run.js";
import { generateMix, toRecords } from "./transform-mix.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const OUTPUT = join(root, "lambdas", "core", "sizing", "storage-measurements.json");
const BULK_BYTES = 4 * 1024 * 1024;

interface Variant {
  readonly id: StorageVariantId;
  readonly codec: IndexCodec;
  readonly indexEventOriginal: boolean;
  readonly sourceExcludes: readonly SourceExcludableField[];
}

const OBJECTS: readonly SourceExcludableField[] = [
  "kubernetes.audit.requestObject",
  "kubernetes.audit.responseObject",
];

/** Every variant measured; ids name what differs from the shipped template's defaults. */
const VARIANTS: readonly Variant[] = [
  { id: "default+original_indexed", codec: "default", indexEventOriginal: true, sourceExcludes: [] },
  { id: "default", codec: "default", indexEventOriginal: false, sourceExcludes: [] },
  {
    id: "default-original",
    codec: "default",
    indexEventOriginal: false,
    sourceExcludes: ["event.original"],
  },
  {
    id: "best_compression+original_indexed",
    codec: "best_compression",
    indexEventOriginal: true,
    sourceExcludes: [],
  },
  { id: "best_compression", codec: "best_compression", indexEventOriginal: false, sourceExcludes: [] },
  {
    id: "best_compression-objects",
    codec: "best_compression",
    indexEventOriginal: false,
    sourceExcludes: OBJECTS,
  },
  {
    id: "best_compression-original",
    codec: "best_compression",
    indexEventOriginal: false,
    sourceExcludes: ["event.original"],
  },
  {
    id: "best_compression-original-objects",
    codec: "best_compression",
    indexEventOriginal: false,
    sourceExcludes: ["event.original", ...OBJECTS],
  },
  { id: "zstd", codec: "zstd", indexEventOriginal: false, sourceExcludes: [] },
  { id: "zstd_no_dict", codec: "zstd_no_dict", indexEventOriginal: false, sourceExcludes: [] },
];

interface Input {
  readonly name: "mix" | "corpus";
  readonly description: string;
  /** Bytes of the records that produced documents, as the producer sent them (one line each). */
  readonly rawBytes: number;
  readonly records: number;
  /** The NDJSON documents, each line one document. */
  readonly documents: readonly string[];
  readonly documentBytes: number;
  /** Bytes Firehose bills for these records. */
  readonly billedBytes: number;
  /** The records that produced documents, as sent (what the error prefix or a raw archive would hold). */
  readonly raw: Buffer;
}

function tagger() {
  const rulePack = precompileRulePack([join(root, "rules")], {}, root);
  const pack = rulePackFromPrecompiled(rulePack, PRECOMPILED_RULE_PACK_FILE);
  return (doc: EcsDocument) => pack.matchSingleEvent(doc);
}

/** The documents the transform makes of `lines`, in batches of about 1 MiB (its processor buffer). */
function transformLines(name: Input["name"], description: string, lines: readonly string[]): Input {
  const tag = tagger();
  const records = toRecords(lines);
  const documents: string[] = [];
  const raw: Buffer[] = [];
  let rawBytes = 0;
  let kept = 0;
  let billedBytes = 0;
  for (let start = 0; start < records.length; ) {
    const batch: FirehoseInputRecord[] = [];
    let size = 0;
    while (start < records.length && size < 1024 * 1024) {
      const record = records[start++] as FirehoseInputRecord;
      batch.push(record);
      size += record.data.length;
    }
    const { response } = transformBatch({ records: batch }, { tagger: tag });
    response.records.forEach((out, i) => {
      if (out.result !== "Ok") return;
      const input = Buffer.from((batch[i] as FirehoseInputRecord).data, "base64");
      rawBytes += input.length;
      raw.push(input);
      billedBytes +=
        Math.ceil(input.length / FIREHOSE_BILLING_INCREMENT_BYTES) * FIREHOSE_BILLING_INCREMENT_BYTES;
      kept++;
      for (const line of Buffer.from(out.data ?? "", "base64")
        .toString("utf8")
        .split("\n")) {
        if (line !== "") documents.push(line);
      }
    });
  }
  const documentBytes = documents.reduce((sum, doc) => sum + Buffer.byteLength(doc) + 1, 0);
  return {
    name,
    description,
    rawBytes,
    records: kept,
    documents,
    documentBytes,
    billedBytes,
    raw: Buffer.concat(raw),
  };
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
}

function corpusInput(): Input | string {
  const dir = resolve(process.env.AUDIT_TRAIL_CORPUS ?? join(root, "..", "shared", "corpus"));
  if (!existsSync(dir)) return `no corpus at ${dir} (set AUDIT_TRAIL_CORPUS)`;
  const lines: string[] = [];
  for (const file of walk(dir)) {
    if (/\.(md|txt|yaml|yml|conf|go|py|rb)$/i.test(file)) continue;
    const text = readFileSync(file);
    if (text.subarray(0, 8192).includes(0)) continue;
    for (const line of text.toString("utf8").split("\n")) if (line.trim() !== "") lines.push(line);
  }
  return transformLines(
    "corpus",
    "every non-blank line of the shared corpus's log files, one record each",
    lines,
  );
}

interface NodeApi {
  request(method: string, path: string, body?: string, contentType?: string): Promise<unknown>;
}

function api(url: string): NodeApi {
  return {
    async request(method, path, body, contentType = "application/json") {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { "content-type": contentType },
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 500)}`);
      return JSON.parse(text) as unknown;
    },
  };
}

/** Primary store bytes after indexing `input` into a fresh index of `variant`; a string when the node refuses it. */
async function measure(node: NodeApi, variant: Variant, input: Input): Promise<number | string> {
  const index = `storage-bench-${input.name}-${variant.id.replaceAll(/[^a-z0-9_-]/g, "_")}`;
  const options: AuditTemplateOptions = {
    shardCount: 1,
    replicaCount: 0,
    indexEventOriginal: variant.indexEventOriginal,
    codec: variant.codec,
    sourceExcludes: variant.sourceExcludes,
  };
  const { settings, mappings } = (buildAuditIndexTemplate(options) as { template: Record<string, unknown> })
    .template as { settings: Record<string, unknown>; mappings: Record<string, unknown> };
  await node.request("DELETE", `/${index}?ignore_unavailable=true`);
  try {
    // The template's final pipeline stamps every document as a deployed domain does.
    await node.request(
      "PUT",
      `/_ingest/pipeline/${INDEXED_AT_PIPELINE}`,
      JSON.stringify(buildIndexedAtPipeline()),
    );
    await node.request(
      "PUT",
      `/${index}`,
      JSON.stringify({
        // Store statistics are cached for 10 s by default: read them fresh.
        settings: { ...settings, "index.refresh_interval": "-1", "index.store.stats_refresh_interval": "0s" },
        mappings,
      }),
    );
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  let chunk: string[] = [];
  let chunkBytes = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const result = (await node.request(
      "POST",
      `/${index}/_bulk`,
      `${chunk.join("\n")}\n`,
      "application/x-ndjson",
    )) as {
      errors: boolean;
      items: { index?: { error?: unknown } }[];
    };
    if (result.errors) {
      const first = result.items.find((item) => item.index?.error !== undefined);
      throw new Error(`bulk into ${index} refused documents: ${JSON.stringify(first?.index?.error)}`);
    }
    chunk = [];
    chunkBytes = 0;
  };
  // Two halves, each refreshed: at least two segments, so the force-merge below rewrites them.
  const half = Math.ceil(input.documents.length / 2);
  for (const part of [input.documents.slice(0, half), input.documents.slice(half)]) {
    for (const doc of part) {
      chunk.push('{"index":{}}', doc);
      chunkBytes += doc.length + 13;
      if (chunkBytes >= BULK_BYTES) await flush();
    }
    await flush();
    await node.request("POST", `/${index}/_refresh`);
  }
  await node.request("POST", `/${index}/_flush`);
  // With `_source` filtered (every audit index leaves the index stamp out), a shard also stores each document's
  // full source (`_recovery_source`) until its peer-recovery retention lease has moved past it; a merge after that
  // drops it. A daily index gets there within a minute of its last write (the global checkpoint sync), so measure
  // after it, as a closed day's index is.
  await leasesPastAllOperations(node, index);
  await node.request("POST", `/${index}/_forcemerge?max_num_segments=1`);
  // The merged segment replaces the old ones for searches (and on disk) only at the next refresh.
  await node.request("POST", `/${index}/_refresh`);
  await node.request("POST", `/${index}/_flush`);
  const stats = (await node.request("GET", `/${index}/_stats/store,docs,segments`)) as {
    _all: {
      primaries: { store: { size_in_bytes: number }; docs: { count: number }; segments: { count: number } };
    };
  };
  const { store, docs, segments } = stats._all.primaries;
  if (segments.count !== 1) throw new Error(`${index} has ${segments.count} segments after the force-merge`);
  if (docs.count !== input.documents.length) {
    throw new Error(`${index} holds ${docs.count} documents, ${input.documents.length} were indexed`);
  }
  await node.request("DELETE", `/${index}`);
  return store.size_in_bytes;
}

/** Waits until every retention lease of the index's shard retains no operation already indexed (at most 3 min). */
async function leasesPastAllOperations(node: NodeApi, index: string): Promise<void> {
  for (let waited = 0; waited < 180; waited++) {
    const stats = (await node.request("GET", `/${index}/_stats/docs?level=shards`)) as {
      indices: Record<
        string,
        {
          shards: Record<
            string,
            {
              seq_no: { max_seq_no: number };
              retention_leases: { leases: { retaining_seq_no: number }[] };
            }[]
          >;
        }
      >;
    };
    const copies = Object.values(stats.indices[index]?.shards ?? {}).flat();
    const done =
      copies.length > 0 &&
      copies.every((copy) =>
        copy.retention_leases.leases.every((lease) => lease.retaining_seq_no > copy.seq_no.max_seq_no),
      );
    if (done) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`${index}: retention leases did not pass the last operation within 3 minutes`);
}

/** A document as the transform writes it with `keepOriginal: false`: without `event.original`. */
function withoutEventOriginal(line: string): string {
  const doc = JSON.parse(line) as { event?: Record<string, unknown> };
  if (doc.event !== undefined) delete doc.event.original;
  return JSON.stringify(doc);
}

const round = (value: number) => Number(value.toFixed(4));

export default async (): Promise<BenchResult> => {
  const count = Number(process.env.AUDIT_TRAIL_BENCH_STORAGE_RECORDS ?? 40_000);
  const inputs: Input[] = [
    transformLines(
      "mix",
      `bench/transform-mix.ts, ${count.toLocaleString("en-US")} records`,
      generateMix(count),
    ),
  ];
  const corpus = corpusInput();
  const notes: string[] = [];
  if (typeof corpus === "string") notes.push(corpus);
  else inputs.push(corpus);

  const node = await startTestNode();
  const figures: BenchResult = {};
  const output: StorageMeasurements = {
    measuredAt: new Date().toISOString().slice(0, 10),
    command: "npm run bench -- storage",
    file: relative(root, OUTPUT),
    opensearch: "",
    machine: `${cpus().length} × ${cpus()[0]?.model ?? "unknown"}, Node.js ${process.version}`,
    notes,
    inputs: {},
  };
  try {
    const http = api(node.url);
    const info = (await http.request("GET", "/")) as { version: { number: string; distribution?: string } };
    output.opensearch = `OpenSearch ${info.version.number}`;
    for (const input of inputs) {
      const ndjson = Buffer.from(`${input.documents.join("\n")}\n`);
      const gzipped = gzipSync(ndjson, { level: 6 }).length;
      const withoutOriginal = Buffer.from(
        `${input.documents.map((doc) => withoutEventOriginal(doc)).join("\n")}\n`,
      );
      const gzippedWithoutOriginal = gzipSync(withoutOriginal, { level: 6 }).length;
      const brotli = brotliCompressSync(ndjson, {
        params: {
          [zlibConstants.BROTLI_PARAM_QUALITY]: 5,
          [zlibConstants.BROTLI_PARAM_SIZE_HINT]: ndjson.length,
        },
      }).length;
      const rawGzipped = gzipSync(input.raw, { level: 6 }).length;
      const variants: Record<
        string,
        { storeBytes: number; perRawByte: number; perDocumentByte: number } | { unavailable: string }
      > = {};
      for (const variant of VARIANTS) {
        const stored = await measure(http, variant, input);
        if (typeof stored === "string") {
          variants[variant.id] = { unavailable: stored };
          continue;
        }
        variants[variant.id] = {
          storeBytes: stored,
          perRawByte: round(stored / input.rawBytes),
          perDocumentByte: round(stored / input.documentBytes),
        };
        figures[`${input.name}.store/raw ${variant.id}`] = { value: stored / input.rawBytes, unit: "× raw" };
      }
      output.inputs[input.name] = {
        description: input.description,
        records: input.records,
        documents: input.documents.length,
        rawBytes: input.rawBytes,
        averageRecordBytes: Math.round(input.rawBytes / input.records),
        documentBytes: input.documentBytes,
        documentExpansion: round(input.documentBytes / input.rawBytes),
        documentExpansionWithoutOriginal: round(withoutOriginal.length / input.rawBytes),
        archiveGzipPerRawByte: round(gzipped / input.rawBytes),
        archiveGzipPerRawByteWithoutOriginal: round(gzippedWithoutOriginal / input.rawBytes),
        archiveBrotliPerRawByte: round(brotli / input.rawBytes),
        rawGzipPerRawByte: round(rawGzipped / input.rawBytes),
        firehoseBilledPerRawByte: round(input.billedBytes / input.rawBytes),
        variants,
      };
      figures[`${input.name}.documentExpansion`] = {
        value: input.documentBytes / input.rawBytes,
        unit: "× raw",
      };
      figures[`${input.name}.archive gzip/raw`] = { value: gzipped / input.rawBytes, unit: "× raw" };
      figures[`${input.name}.archive brotli/raw`] = { value: brotli / input.rawBytes, unit: "× raw" };
      figures[`${input.name}.firehose billed/raw`] = {
        value: input.billedBytes / input.rawBytes,
        unit: "× raw",
      };
    }
  } finally {
    await node.stop();
  }
  await writeFile(OUTPUT, `${JSON.stringify(output, null, 2)}\n`);
  process.stdout.write(`storage: wrote ${relative(root, OUTPUT)}\n`);
  return figures;
};
