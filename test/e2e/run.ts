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
  fluentBitVersion,
  NODE_PATHS,
  overrideShippedConfig,
  SHIPPED_CONFIG,
  startFluentBit,
  WEBHOOK_CONFIG,
} from "./pipeline/fluent-bit.js";
import type { Pipeline } from "./pipeline/pipeline.js";
import {
  execEvent,
  istioTextLine,
  NodeFiles,
  PODS,
  type WrittenLine,
  webhookEventList,
  writeScenario,
} from "./scenario.js";
import type { DeliveryCounters } from "./stand-ins/delivery-stream.js";
import type { PublishedMessage } from "./stand-ins/sns.js";

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
  configFile = SHIPPED_CONFIG,
): Promise<{ files: NodeFiles; run: FluentBitRun; changed: string[]; httpInputPort: number }> {
  const root = join(dir, "node");
  const files = new NodeFiles(root, join(dir, "pod-metadata"));
  const shipped = readFileSync(configFile, "utf8");
  const httpInputPort = await freePort();
  const config = overrideShippedConfig(shipped, {
    root,
    podMetadataDir: files.podMetadataDir,
    endpoint: { host: "127.0.0.1", port: pipeline.firehose.port, caFile: pipeline.tls.certFile },
    httpPort: await freePort(),
    httpInputPort,
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
  return {
    files,
    run,
    changed: changedKeys(parse(shipped) as Record<string, unknown>, config),
    httpInputPort,
  };
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
  readonly failed: number;
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
    const expected = outcome === "dropped" || outcome === "failed" ? 0 : group.length;
    if (found.length !== expected) {
      problems.push(
        `${(group[0] as WrittenLine).file}: ${expected} document(s) expected, ${found.length} found for ${key.slice(0, 160)}`,
      );
    }
    for (const doc of found) {
      if (outcome !== "dropped" && outcome !== "failed" && doc.dataset !== outcome)
        problems.push(`${key.slice(0, 120)}: dataset ${doc.dataset}, expected ${outcome}`);
      const day = doc.ingested?.slice(0, 10);
      if (doc.index !== `audit-${day}`)
        problems.push(`${key.slice(0, 120)}: in ${doc.index}, expected audit-${day} (arrival day)`);
      byDataset[doc.dataset] = (byDataset[doc.dataset] ?? 0) + 1;
    }
  }
  return {
    written: lines.length,
    expectedDocuments: lines.filter((l) => l.outcome !== "dropped" && l.outcome !== "failed").length,
    dropped: lines.filter((l) => l.outcome === "dropped").length,
    failed: lines.filter((l) => l.outcome === "failed").length,
    problems,
    byDataset,
  };
}

export { writeScenario };

/** What the end-to-end run measured, phase by phase; the test asserts on it, `npm run e2e` prints it. */
export interface EndToEndReport {
  readonly fluentBitVersion: string;
  /** Keys of the shipped configuration the run overrode (`section.key`). */
  readonly overridden: string[];
  readonly main: {
    readonly accounting: Accounting;
    /** Records Fluent Bit got accepted by the Firehose stand-in, and its requests. */
    readonly firehose: { accepted: number; requests: Record<string, number>; failedRecords: number };
    readonly delivery: DeliveryCounters;
    /** Documents in the backup prefix, and the raw records of the processing-failed error output (decoded). */
    readonly backupDocuments: number;
    readonly processingFailedRecords: string[];
    /** Messages the SNS stand-in accepted, per rule. */
    readonly alertsByRule: Record<string, number>;
    /** Messages accepted on an SDK retry (`attempt` above 1), as `rule attempt=N`. */
    readonly retriedPublishes: string[];
    readonly alertTopics: Record<string, string>;
    readonly detectorRuns: number;
    readonly detectorErrors: string[];
  };
  readonly options: Record<
    string,
    {
      accounting: Accounting;
      documents: IndexedDocument[];
      /** Records of this option in the processing-failed error output (set for zstd). */
      errorOutput: number;
      transformLog: string;
      /** Fluent Bit's own error lines when it refused the option at start-up and exited. */
      refused?: string;
    }
  >;
  readonly outage: { accounting: Accounting; outageRequests: number; outageMs: number };
  /** The API server's audit webhook: one EventList POSTed to the control-plane configuration's http input. */
  readonly webhook: {
    status: number;
    events: number;
    accounting: Accounting;
    clusters: string[];
    overridden: string[];
  };
  readonly latency:
    | { writtenToIndexedMs: number; writtenToPublishedMs: number; auditID: string }
    | { error: string };
  /**
   * Messages per rule at the end of the run (every later detector run included), alerts naming the latency probe's
   * or the webhook's events (new events, fresh audit ids) left out: an alert of the incident must still have paged
   * once.
   */
  readonly finalAlertsByRule: Record<string, number>;
  readonly elapsedMs: number;
}

/** The alerts the default pack must page for the scenario, once each. */
export const EXPECTED_RULES = [
  "k8s_pod_exec",
  "mesh_auth_failure_burst",
  "mesh_config_change",
  "mesh_plaintext_suspected",
  "mesh_plaintext_traffic",
  "mesh_service_discovery_scan",
] as const;

/** The `kinesis_firehose` options users reach for, one Fluent Bit each. */
export const OUTPUT_OPTIONS: Readonly<Record<string, Record<string, string>>> = {
  "compression gzip": { compression: "gzip" },
  "compression zstd": { compression: "zstd" },
  "simple_aggregation on": { simple_aggregation: "on" },
  "time_key ts": { time_key: "ts" },
  "log_key log": { log_key: "log" },
};

function ruleOf(message: PublishedMessage): string {
  return message.attributes.rule ?? "?";
}

export interface RunOptions {
  readonly pipeline: Pipeline;
  readonly binary: string;
  readonly workDir: string;
  /** How long the stand-in answers 500s. */
  readonly outageMs: number;
  readonly onStage?: (line: string) => void;
}

export async function runEndToEnd(options: RunOptions): Promise<EndToEndReport> {
  const { pipeline, binary, workDir } = options;
  const stage = options.onStage ?? (() => undefined);
  const started = Date.now();
  let detectorRuns = 0;
  const detectorErrors: string[] = [];
  const schedule = setInterval(() => {
    pipeline
      .runDetector()
      .then(() => {
        detectorRuns++;
      })
      .catch((error: unknown) => detectorErrors.push(String(error)));
  }, INTERVALS.detectorEveryMs);
  const runs: FluentBitRun[] = [];
  try {
    // Main: the scenario through the shipped configuration.
    const since = Date.now();
    const main = await fluentBitOn(pipeline, binary, join(workDir, "fluent-bit-main"));
    runs.push(main.run);
    writeScenario(main.files, Date.now(), { customFormat: customFormatLines(Date.now()) });
    const written = main.files.written;
    const shipped = written.filter((l) => l.outcome !== "dropped").length;
    stage(
      `wrote ${written.length} lines on the node (${written.filter((l) => l.outcome === "dropped").length} the filters drop, ${written.filter((l) => l.outcome === "failed").length} the transform refuses)`,
    );
    await waitFor("every shipped line at the Firehose stand-in", 120_000, () =>
      pipeline.firehose.counters.accepted >= shipped ? true : undefined,
    ).catch((error: unknown) => stage(String(error)));
    stage(
      `Fluent Bit → Firehose stand-in: ${pipeline.firehose.counters.accepted} records in ${JSON.stringify(pipeline.firehose.counters.requests)} requests`,
    );
    await waitFor("the delivery stream to index them", 120_000, () =>
      pipeline.delivery.counters.ok + pipeline.delivery.counters.processingFailed >= shipped
        ? true
        : undefined,
    ).catch((error: unknown) => stage(String(error)));
    await pipeline.delivery.drain();
    const delivery = { ...pipeline.delivery.counters, indexed: { ...pipeline.delivery.counters.indexed } };
    stage(
      `transform → node: ${delivery.invocations} invocations, ${delivery.ok} Ok, ${delivery.dropped} Dropped, ${delivery.processingFailed} ProcessingFailed; indexed ${JSON.stringify(delivery.indexed)}`,
    );
    const accounting = account(written, await indexedSince(pipeline, since));
    stage(
      `accounted for every line: ${accounting.problems.length === 0 ? "yes" : `no, ${accounting.problems.length} problems`} (${JSON.stringify(accounting.byDataset)})`,
    );
    await waitFor("the incident's alerts", 90_000, () => {
      const rules = new Set(pipeline.sns.published.map(ruleOf));
      return EXPECTED_RULES.every((rule) => rules.has(rule)) ? true : undefined;
    }).catch((error: unknown) => stage(String(error)));
    // A few more scheduled runs: an alert must not page twice.
    const runsNow = detectorRuns;
    await waitFor("three more detector runs", 30_000, () => (detectorRuns >= runsNow + 3 ? true : undefined));
    const alertsByRule: Record<string, number> = {};
    const alertTopics: Record<string, string> = {};
    for (const message of pipeline.sns.published) {
      alertsByRule[ruleOf(message)] = (alertsByRule[ruleOf(message)] ?? 0) + 1;
      alertTopics[ruleOf(message)] = pipeline.topics[message.topicArn] ?? message.topicArn;
    }
    stage(
      `detector → SNS stand-in: ${Object.entries(alertsByRule)
        .map(([rule, n]) => `${rule} ×${n} (${alertTopics[rule]})`)
        .join(", ")}`,
    );
    const processingFailedRecords = pipeline.staging
      .lines("errors/processing-failed/")
      .map((line) =>
        Buffer.from((JSON.parse(line) as { rawData: string }).rawData, "base64").toString("utf8"),
      );
    const mainReport = {
      accounting,
      firehose: {
        accepted: pipeline.firehose.counters.accepted,
        requests: { ...pipeline.firehose.counters.requests },
        failedRecords: pipeline.firehose.counters.failedRecords,
      },
      delivery,
      backupDocuments: pipeline.staging.lines("documents/").length,
      processingFailedRecords,
      alertsByRule,
      retriedPublishes: pipeline.sns.published
        .filter((m) => m.attempt > 1)
        .map((m) => `${ruleOf(m)} attempt=${m.attempt}`),
      alertTopics,
      detectorRuns,
      detectorErrors,
    };
    // Latency: a fresh exec, from the line written to its alert published (the main Fluent Bit still running).
    const latency = await measureLatency(pipeline, main.files, stage);
    await main.run.stop();

    // The audit webhook: an EventList POSTed as the API server posts it, to examples/fluent-bit/audit-webhook/.
    const webhook = await fluentBitOn(
      pipeline,
      binary,
      join(workDir, "fluent-bit-webhook"),
      {},
      WEBHOOK_CONFIG,
    );
    runs.push(webhook.run);
    const webhookSince = Date.now();
    const list = webhookEventList(Date.now());
    const status = await waitFor("the webhook's http input", 20_000, () =>
      fetch(`http://127.0.0.1:${webhook.httpInputPort}/`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(list.body),
      })
        .then((response) => response.status)
        .catch(() => undefined),
    );
    await waitFor("the webhook's events", 60_000, async () => {
      const docs = await indexedSince(pipeline, webhookSince);
      return account(list.lines, docs).problems.length === 0 ? true : undefined;
    }).catch((error: unknown) => stage(String(error)));
    await pipeline.delivery.drain();
    // The webhook's events are new events (fresh audit ids): alerts they raise are theirs, not the incident's again.
    const laterAuditIds = [
      ...("error" in latency ? [] : [latency.auditID]),
      ...list.lines.map((l) => (JSON.parse(l.line) as { auditID: string }).auditID),
    ];
    const webhookDocs = (await indexedSince(pipeline, webhookSince)).filter(
      (doc) => doc.dataset === "kubernetes.audit",
    );
    const webhookReport = {
      status,
      events: list.lines.length,
      accounting: account(list.lines, webhookDocs),
      clusters: [...new Set(webhookDocs.map((doc) => doc.cluster ?? "none"))],
      overridden: webhook.changed,
    };
    stage(
      `audit webhook: one EventList of ${list.lines.length} events POSTed (HTTP ${status}) → ${webhookDocs.length} kubernetes.audit documents`,
    );
    await webhook.run.stop();

    // Options users reach for, one Fluent Bit each, side by side.
    const optionReports: EndToEndReport["options"] = {};
    const errorOutputBefore = pipeline.staging.lines("errors/processing-failed/").length;
    const processedBefore = pipeline.delivery.counters.ok + pipeline.delivery.counters.processingFailed;
    const optionRuns = await Promise.all(
      Object.entries(OUTPUT_OPTIONS).map(async ([name, outputOptions], i) => {
        const fb = await fluentBitOn(
          pipeline,
          binary,
          join(workDir, `fluent-bit-option-${i}`),
          outputOptions,
        );
        runs.push(fb.run);
        const now = Date.now();
        fb.files.writeContainer(
          PODS.ledger,
          "stdout",
          [
            ...customFormatLines(now).slice(0, 1),
            ...customFormatLines(now).slice(0, 1),
            istioTextLine(now),
            istioTextLine(now),
          ].map((line) => ({ line, outcome: "istio.access" as const })),
        );
        return { name, fb, since: now };
      }),
    );
    // A configuration Fluent Bit refuses stops it at start-up, before it reads anything.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const shipping = optionRuns.filter((r) => r.fb.run.exitCode() === undefined);
    const optionLines = shipping.reduce((n, r) => n + r.fb.files.written.length, 0);
    await waitFor("the options' records", 60_000, () =>
      pipeline.delivery.counters.ok + pipeline.delivery.counters.processingFailed - processedBefore >=
      optionLines
        ? true
        : undefined,
    ).catch((error: unknown) => stage(String(error)));
    await pipeline.delivery.drain();
    const transformLog = () => readFileSyncSafe(join(workDir, "transform.log"));
    for (const { name, fb, since: optionSince } of optionRuns) {
      const documents = (await indexedSince(pipeline, optionSince - 1000)).filter((doc) =>
        fb.files.written.some((l) => l.line === doc.original),
      );
      optionReports[name] = {
        accounting: account(fb.files.written, documents),
        documents,
        errorOutput: 0,
        transformLog: transformLog(),
        ...(fb.run.exitCode() === undefined
          ? {}
          : {
              refused: fb.run
                .log()
                .split("\n")
                .filter((line) => line.includes("[error]"))
                .join("\n"),
            }),
      };
      await fb.run.stop();
    }
    const errorOutputAfter = pipeline.staging.lines("errors/processing-failed/").length;
    const zstd = optionReports["compression zstd"];
    if (zstd !== undefined) zstd.errorOutput = errorOutputAfter - errorOutputBefore;
    stage(
      `options (${optionLines} lines): ${Object.entries(optionReports)
        .map(([name, r]) => `${name}: ${r.documents.length}/${r.accounting.written} indexed`)
        .join("; ")}`,
    );

    // Outage: the stand-in answers 500 for a while; Fluent Bit's filesystem buffer holds the records.
    const outage = await fluentBitOn(pipeline, binary, join(workDir, "fluent-bit-outage"));
    runs.push(outage.run);
    const outageSince = Date.now();
    pipeline.firehose.setOutage(true);
    const before = pipeline.firehose.counters.outageRequests;
    const lines = Array.from({ length: 50 }, (_, i) => istioTextLine(Date.now() - i));
    outage.files.writeContainer(
      PODS.payments,
      "stdout",
      lines.map((line) => ({ line, outcome: "istio.access" as const })),
    );
    stage(`Firehose stand-in answers 500 for ${options.outageMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, options.outageMs));
    pipeline.firehose.setOutage(false);
    const outageRequests = pipeline.firehose.counters.outageRequests - before;
    await waitFor("the outage's records", 90_000, async () => {
      const docs = await indexedSince(pipeline, outageSince);
      return account(outage.files.written, docs).problems.length === 0 ? true : undefined;
    }).catch((error: unknown) => stage(String(error)));
    await pipeline.delivery.drain();
    const outageAccounting = account(outage.files.written, await indexedSince(pipeline, outageSince));
    stage(
      `after the outage (${outageRequests} requests answered 500): ${outageAccounting.problems.length === 0 ? "every line arrived once" : `${outageAccounting.problems.length} problems`}`,
    );
    await outage.run.stop();

    return {
      fluentBitVersion: fluentBitVersion(binary),
      overridden: main.changed,
      main: mainReport,
      options: optionReports,
      outage: { accounting: outageAccounting, outageRequests, outageMs: options.outageMs },
      webhook: webhookReport,
      latency,
      finalAlertsByRule: countByRule(
        pipeline.sns.published.filter((m) => !laterAuditIds.some((id) => m.message.includes(id))),
      ),
      elapsedMs: Date.now() - started,
    };
  } finally {
    clearInterval(schedule);
    for (const run of runs) await run.stop().catch(() => undefined);
  }
}

function countByRule(messages: readonly PublishedMessage[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const message of messages) out[ruleOf(message)] = (out[ruleOf(message)] ?? 0) + 1;
  return out;
}

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * A fresh `kubectl exec` appended to the audit log Fluent Bit tails: from the line written to its document indexed
 * and to its `k8s_pod_exec` alert at the SNS stand-in.
 */
async function measureLatency(
  pipeline: Pipeline,
  files: NodeFiles,
  stage: (line: string) => void,
): Promise<EndToEndReport["latency"]> {
  const writtenMs = Date.now();
  const probe = execEvent(writtenMs);
  files.writeNodeFile(join(NODE_PATHS.audit, "audit.log"), [
    { line: probe.line, outcome: "kubernetes.audit" },
  ]);
  try {
    const indexedMs = await waitFor("the probe's document", 60_000, async () => {
      const response = await pipeline.client.count({
        index: "audit-*,-audit-alerts",
        body: { query: { term: { "event.id": `${probe.auditID}-ResponseStarted` } } },
      });
      return response.body.count > 0 ? Date.now() : undefined;
    });
    const published = await waitFor("the probe's alert", 60_000, () =>
      pipeline.sns.published.find((m) => ruleOf(m) === "k8s_pod_exec" && m.message.includes(probe.auditID)),
    );
    const latency = {
      writtenToIndexedMs: indexedMs - writtenMs,
      writtenToPublishedMs: published.publishedMs - writtenMs,
      auditID: probe.auditID,
    };
    stage(
      `latency of a kubectl exec: line written → document indexed ${(latency.writtenToIndexedMs / 1000).toFixed(1)} s, → alert published ${(latency.writtenToPublishedMs / 1000).toFixed(1)} s`,
    );
    return latency;
  } catch (error) {
    return { error: String(error) };
  }
}

/** The checks `npm run e2e` prints (the test asserts the same, one `it` each). */
export function verdicts(report: EndToEndReport): { check: string; ok: boolean; detail: string }[] {
  const { main } = report;
  const zstd = report.options["compression zstd"];
  const latency = report.latency;
  const optionOk = (name: string) => report.options[name]?.accounting.problems.length === 0;
  return [
    {
      check: "every shipped line indexed once with its dataset, none the filters drop",
      ok: main.accounting.problems.length === 0,
      detail: main.accounting.problems.slice(0, 3).join("; ") || JSON.stringify(main.accounting.byDataset),
    },
    {
      check:
        "backup prefix holds every indexed document; the refused line is in the processing-failed prefix",
      ok:
        main.backupDocuments === main.delivery.ok &&
        main.processingFailedRecords.length === main.accounting.failed,
      detail: `${main.backupDocuments} backed up, ${main.processingFailedRecords.length} in processing-failed`,
    },
    {
      check: "the incident's alerts paged once each",
      ok: EXPECTED_RULES.every((rule) => main.alertsByRule[rule] === 1),
      detail: EXPECTED_RULES.map((rule) => `${rule} ×${main.alertsByRule[rule] ?? 0}`).join(", "),
    },
    {
      check: "compression gzip, simple_aggregation on, time_key ts",
      ok: ["compression gzip", "simple_aggregation on", "time_key ts"].every(optionOk),
      detail: ["compression gzip", "simple_aggregation on", "time_key ts"]
        .map((name) => `${name}: ${report.options[name]?.documents.length ?? 0} documents`)
        .join(", "),
    },
    {
      check: "compression zstd read, or kept raw with a reason naming the fix",
      ok:
        (zstd?.documents.length ?? 0) === (zstd?.accounting.written ?? -1) ||
        (zstd?.errorOutput ?? 0) === zstd?.accounting.written,
      detail: `${zstd?.documents.length ?? 0} indexed, ${zstd?.errorOutput ?? 0} in processing-failed`,
    },
    {
      check: "log_key refused by Fluent Bit at start-up",
      ok: /can not be used together/.test(report.options["log_key log"]?.refused ?? ""),
      detail:
        report.options["log_key log"]?.refused?.split("\n").find((line) => line.includes("log_key")) ??
        "not refused",
    },
    {
      check: `nothing lost through a ${report.outage.outageMs / 1000} s Firehose outage`,
      ok: report.outage.outageRequests > 0 && report.outage.accounting.problems.length === 0,
      detail: `${report.outage.outageRequests} requests answered 500, ${report.outage.accounting.expectedDocuments} lines`,
    },
    {
      check: "the audit webhook's EventList: one kubernetes.audit document per event",
      ok: report.webhook.status === 200 && report.webhook.accounting.problems.length === 0,
      detail: `HTTP ${report.webhook.status}, ${report.webhook.events} events, clusters ${report.webhook.clusters.join(",")}`,
    },
    {
      check: "latency measured",
      ok: !("error" in latency),
      detail:
        "error" in latency
          ? latency.error
          : `written → indexed ${latency.writtenToIndexedMs} ms, written → alert published ${latency.writtenToPublishedMs} ms`,
    },
  ];
}
