/**
 * The end-to-end run shared by the test (`pipeline.e2e.test.ts`) and `npm run e2e`: the real Fluent Bit running the
 * shipped configuration tails the scenario's files (`scenario.ts`) into the Firehose stand-in, through the transform
 * bundle, into the real node, and the detector bundle, invoked on a shortened schedule, publishes to the SNS stand-in.
 * Each phase returns what it measured; the caller asserts.
 *
 * Shortened intervals (the shipped and synthesized ones in brackets): Fluent Bit `flush` 1 s [5 s], tail
 * `refresh_interval` 1 s [10 s], retry `scheduler.base` 1 s / `scheduler.cap` 3 s [5 s / 300 s]; the processor's
 * buffer 1 s / 1 MiB [60 s / 1 MiB]; the detector every 3 s [rate(1 minute)].
 */
import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { parse } from "yaml";
import {
  istioLogFormats,
  MTLS_REQUEST,
  PLAINTEXT_REQUEST,
  renderEnvoyJson,
} from "../examples/mesh-examples.js";
import {
  changedKeys,
  type FluentBitRun,
  overrideShippedConfig,
  SHIPPED_CONFIG,
  startFluentBit,
} from "./pipeline/fluent-bit.js";
import type { Pipeline } from "./pipeline/pipeline.js";
import { NodeFiles, type WrittenLine, writeScenario } from "./scenario.js";

export const INTERVALS = {
  flushSeconds: 1,
  refreshIntervalSeconds: 1,
  schedulerBaseSeconds: 1,
  schedulerCapSeconds: 3,
  processorBufferMs: 1000,
  detectorEveryMs: 3000,
} as const;

export const CLUSTER_NAME = "e2e-cluster";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A Fluent Bit instance on its own node folder, running the shipped configuration with the test's overrides. */
export async function fluentBitOn(
  pipeline: Pipeline,
  binary: string,
  dir: string,
  outputOptions: Record<string, string> = {},
): Promise<{ files: NodeFiles; run: FluentBitRun; changed: string[] }> {
  const root = join(dir, "node");
  const files = new NodeFiles(root, join(dir, "pod-metadata"));
  const shipped = readFileSync(SHIPPED_CONFIG, "utf8");
  const config = overrideShippedConfig(shipped, {
    root,
    podMetadataDir: files.podMetadataDir,
    endpoint: { host: "127.0.0.1", port: pipeline.firehose.port, caFile: pipeline.tls.certFile },
    httpPort: await freePort(),
    flushSeconds: INTERVALS.flushSeconds,
    refreshIntervalSeconds: INTERVALS.refreshIntervalSeconds,
    schedulerBaseSeconds: INTERVALS.schedulerBaseSeconds,
    schedulerCapSeconds: INTERVALS.schedulerCapSeconds,
    outputOptions,
  });
  mkdirSync(dir, { recursive: true });
  const run = startFluentBit({
    binary,
    config,
    workDir: dir,
    env: {
      AUDIT_TRAIL_DELIVERY_STREAM: pipeline.streamName,
      AUDIT_TRAIL_REGION: "eu-west-1",
      AUDIT_TRAIL_CLUSTER_NAME: CLUSTER_NAME,
      AWS_ACCESS_KEY_ID: "AKIDFLUENTBITE2E",
      AWS_SECRET_ACCESS_KEY: "fluent-bit-e2e-not-a-secret",
    },
  });
  return { files, run, changed: changedKeys(parse(shipped) as Record<string, unknown>, config) };
}

/** The custom-format lines of examples/mesh/istio/mesh-config.yaml: an mTLS request and a plaintext one, at `nowMs`. */
export function customFormatLines(nowMs: number): string[] {
  const labels = istioLogFormats().get("audit-trail-json");
  if (labels === undefined)
    throw new Error("examples/mesh/istio/mesh-config.yaml has no audit-trail-json provider");
  const at = (ms: number) => new Date(ms).toISOString();
  return [
    renderEnvoyJson(labels, {
      ...MTLS_REQUEST,
      "%START_TIME%": at(nowMs - 5000),
      "%REQ(X-REQUEST-ID)%": crypto.randomUUID(),
    }),
    renderEnvoyJson(labels, {
      ...PLAINTEXT_REQUEST,
      "%START_TIME%": at(nowMs - 4000),
      "%REQ(X-REQUEST-ID)%": crypto.randomUUID(),
    }),
  ];
}

export interface IndexedDocument {
  readonly index: string;
  readonly dataset: string;
  readonly original: string | undefined;
  readonly id: string;
  readonly ingested: string | undefined;
  readonly cluster: string | undefined;
  readonly pod: string | undefined;
}

/** Every document of `audit-*` ingested since `sinceMs` (fresh node or not). */
export async function indexedSince(pipeline: Pipeline, sinceMs: number): Promise<IndexedDocument[]> {
  const out: IndexedDocument[] = [];
  const response = await pipeline.client.search({
    index: "audit-*,-audit-alerts",
    size: 10_000,
    body: {
      query: { range: { "event.ingested": { gte: new Date(sinceMs).toISOString() } } },
      _source: [
        "event.dataset",
        "event.original",
        "event.id",
        "event.ingested",
        "orchestrator.cluster.name",
        "kubernetes.pod.name",
      ],
    },
  });
  for (const hit of response.body.hits.hits as {
    _index: string;
    _source: Record<string, Record<string, unknown>>;
  }[]) {
    const s = hit._source;
    out.push({
      index: hit._index,
      dataset: String(s.event?.dataset),
      original: s.event?.original as string | undefined,
      id: String(s.event?.id),
      ingested: s.event?.ingested as string | undefined,
      cluster: (s.orchestrator?.cluster as { name?: string } | undefined)?.name,
      pod: (s.kubernetes?.pod as { name?: string } | undefined)?.name,
    });
  }
  return out;
}

/** How the written lines came out: per line, the documents carrying it (by `event.original`, or the audit id). */
export interface Accounting {
  readonly written: number;
  readonly expectedDocuments: number;
  readonly dropped: number;
  /** Lines with no document, a wrong dataset, or a document too many; empty when every line is accounted for. */
  readonly problems: string[];
  readonly byDataset: Record<string, number>;
}

function keyOfLine(line: WrittenLine): string {
  if (line.outcome === "kubernetes.audit") {
    const event = JSON.parse(line.line) as { auditID: string; stage?: string };
    return event.stage === undefined ? event.auditID : `${event.auditID}-${event.stage}`;
  }
  return line.line;
}

export function account(lines: readonly WrittenLine[], documents: readonly IndexedDocument[]): Accounting {
  const docs = new Map<string, IndexedDocument[]>();
  for (const doc of documents) {
    const key = doc.dataset === "kubernetes.audit" ? doc.id : (doc.original ?? doc.id);
    docs.set(key, [...(docs.get(key) ?? []), doc]);
  }
  const problems: string[] = [];
  const wanted = new Map<string, WrittenLine[]>();
  for (const line of lines) {
    const key = keyOfLine(line);
    wanted.set(key, [...(wanted.get(key) ?? []), line]);
  }
  const byDataset: Record<string, number> = {};
  for (const [key, group] of wanted) {
    const outcome = (group[0] as WrittenLine).outcome;
    const found = docs.get(key) ?? [];
    const expected = outcome === "dropped" ? 0 : group.length;
    if (found.length !== expected) {
      problems.push(
        `${(group[0] as WrittenLine).file}: ${expected} document(s) expected, ${found.length} found for ${key.slice(0, 160)}`,
      );
    }
    for (const doc of found) {
      if (outcome !== "dropped" && doc.dataset !== outcome)
        problems.push(`${key.slice(0, 120)}: dataset ${doc.dataset}, expected ${outcome}`);
      const day = doc.ingested?.slice(0, 10);
      if (doc.index !== `audit-${day}`)
        problems.push(`${key.slice(0, 120)}: in ${doc.index}, expected audit-${day} (arrival day)`);
      byDataset[doc.dataset] = (byDataset[doc.dataset] ?? 0) + 1;
    }
  }
  return {
    written: lines.length,
    expectedDocuments: lines.filter((l) => l.outcome !== "dropped").length,
    dropped: lines.filter((l) => l.outcome === "dropped").length,
    problems,
    byDataset,
  };
}

export { writeScenario };
