/**
 * Detector benchmark on a real OpenSearch node (`scripts/opensearch-node.sh` through the integration tests' helper,
 * its default 768 MB heap unless `OPENSEARCH_HEAP` says otherwise; or the node at `OPENSEARCH_URL`), one shard.
 *
 * After a warm-up (`warmUp`: passes over 10k events of a day of their own), for each step (events per 15 minutes ×
 * services, always 1,000 caller identities): generated Istio traffic
 * (`test/integration/detector-traffic.ts`: the project's normalizer and rule tagging, as the transform indexes it)
 * spread over 15 minutes, then detection passes as the Lambda makes them (`runDetection` over the production
 * `SearchClient`, default pack, a minute apart, each with the previous pass's `now` as watermark, so each evaluates
 * the 15-minute lookback). Reports per step: the first pass (which writes the alerts), the median of the steady
 * passes after it (and their mean and range), searches per pass, each rule's summed `took` in the median pass, the
 * node's heap high-water mark during the passes (sampled every 100 ms from `_nodes/stats/jvm`), and the request
 * circuit breaker's trips.
 *
 * Steps: `AUDIT_TRAIL_BENCH_DETECTOR_STEPS`, comma-separated `EVENTSxSERVICES` (default
 * `10000x200,100000x200,1000000x200,10000x1000,100000x1000,1000000x1000`). Indexing 1M events takes minutes on a
 * small machine. With the default steps and ingest lag, the figures `audit-trail size` reads are written to
 * `lambdas/core/sizing/detector-measurements.json`.
 *
 * The traffic keeps its rate past the first pass: 15 minutes are indexed before it, then each steady pass's minute
 * of traffic is indexed just before that pass, as it would arrive, each record received by Firehose 5 s after its
 * event (`event.ingested`) and stamped by the node when indexed (`INDEXED_AT_FIELD`). Every pass finds a full
 * lookback behind it and what arrived since the last one. Passes evaluate incrementally as the Lambda does: the
 * first by `event.ingested` with the ingest lag `AUDIT_TRAIL_BENCH_DETECTOR_INGEST_LAG` (seconds; default 180, the
 * dev stack's 60 s buffering + 60 s retries + 60 s), the steady ones by the index stamp from the last pass's newest
 * (`indexedWatermarkMs`); or every pass the whole lookback when the lag is `off`. The bench indexes a minute of
 * traffic in seconds, so the index lag of a steady pass is the time indexing the minute before it took: the pass
 * reads again about one minute of traffic besides the new one, as the detector's 60 s index lag does in production
 * at a steady rate; and each pass starts once the node has finished merging what that burst wrote (production
 * spreads the minute's indexing over the minute).
 *
 * For working on the detector: with `OPENSEARCH_URL` (a node you started with `scripts/opensearch-node.sh start DIR`)
 * and `AUDIT_TRAIL_BENCH_DETECTOR_REUSE=1`, the first 15 minutes of a step whose traffic the node already holds are
 * not indexed again (its alerts are deleted, and the steady passes' minutes arrive again);
 * `AUDIT_TRAIL_BENCH_DETECTOR_TRACE=1` prints every search of the passes (rule, `took`, its aggregations and the
 * minutes of events or arrivals it spans, alerts per summary search and whether it reads their events);
 * `AUDIT_TRAIL_BENCH_DETECTOR_ANOMALIES=fixed` keeps the anomalies (and so the alerts) as many as at 10,000 events per
 * 15 minutes whatever the volume.
 */
import { writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@opensearch-project/opensearch";
import {
  ALERTS_INDEX,
  AUDIT_INDEX_PATTERN,
  AUDIT_INDEX_PREFIX,
  INDEXED_AT_FIELD,
} from "../lambdas/core/contracts.js";
import type { SearchClient } from "../lambdas/core/detection/ports.js";
import { AUDIT_EVENTS_INDICES, runDetection } from "../lambdas/core/detection/run.js";
import type { EcsDocument } from "../lambdas/core/ecs.js";
import { bootstrapDomain } from "../lambdas/core/opensearch/index.js";
import { defaultRulesDir, loadRulePack } from "../lambdas/core/rules/load.js";
import type { RulePack } from "../lambdas/core/rules/types.js";
import type { DetectorMeasurements, DetectorStep } from "../lambdas/core/sizing/detection.js";
import { transportSearchClient } from "../lambdas/detector/opensearch.js";
import { bootstrapSettings } from "../test/fixtures/bootstrap-settings.js";
import { indexTraffic, trafficDocuments } from "../test/integration/detector-traffic.js";
import { startTestNode } from "../test/integration/node.js";
import type { BenchResult } from "./run.js";

/** The figures `audit-trail size` reads (written when the bench runs its default steps). */
const MEASUREMENTS_FILE = "lambdas/core/sizing/detector-measurements.json";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const PRINCIPALS = 1000;
const SPAN_MS = 15 * 60_000;
const START = Date.parse("2026-06-01T10:00:00Z");
/**
 * Steady passes per step: five minutes, two hops of a five-minute window, so the passes that judge a window that just
 * closed (the error rate, the p99) are in the sample about as often as they come.
 */
const STEADY_PASSES = 5;
const INGEST_DELAY_MS = 5_000;

/** The passes' ingest lag (ms), or undefined: the whole lookback every pass. */
function ingestLagMs(): number | undefined {
  const raw = process.env.AUDIT_TRAIL_BENCH_DETECTOR_INGEST_LAG ?? "180";
  if (raw === "off") return undefined;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new Error(`AUDIT_TRAIL_BENCH_DETECTOR_INGEST_LAG: "${raw}" is not a number of seconds or "off"`);
  }
  return seconds * 1000;
}
/**
 * Destination services each caller calls outside the scan bursts (`TrafficShape.dependencies`):
 * `AUDIT_TRAIL_BENCH_DETECTOR_DEPENDENCIES`, a number or `all` (every service uniformly: at 1M events per 15
 * minutes every caller then reaches more than 10 services a minute, so `mesh_service_discovery_scan` fires for every
 * caller every minute). @default 8
 */
function dependencies(): number | undefined {
  const raw = process.env.AUDIT_TRAIL_BENCH_DETECTOR_DEPENDENCIES ?? "8";
  if (raw === "all") return undefined;
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(
      `AUDIT_TRAIL_BENCH_DETECTOR_DEPENDENCIES: "${raw}" is not a whole number of services or "all"`,
    );
  }
  return count;
}
/**
 * How the anomalies (plaintext, 403s, slow requests, scan bursts) grow with the traffic:
 * `AUDIT_TRAIL_BENCH_DETECTOR_ANOMALIES`, `proportional` (a fixed share of the events: alerts grow with the volume)
 * or `fixed` (as many per 15 minutes as 10,000 events have, whatever the volume: what the detector's reading of the
 * traffic costs, apart from writing more alerts). @default proportional
 */
function anomalies(): "proportional" | "fixed" {
  const raw = process.env.AUDIT_TRAIL_BENCH_DETECTOR_ANOMALIES ?? "proportional";
  if (raw !== "proportional" && raw !== "fixed") {
    throw new Error(`AUDIT_TRAIL_BENCH_DETECTOR_ANOMALIES: "${raw}" is neither "proportional" nor "fixed"`);
  }
  return raw;
}
const DEFAULT_STEPS = "10000x200,100000x200,1000000x200,10000x1000,100000x1000,1000000x1000";

interface Step {
  readonly events: number;
  readonly services: number;
}

function steps(): Step[] {
  const raw = process.env.AUDIT_TRAIL_BENCH_DETECTOR_STEPS ?? DEFAULT_STEPS;
  return raw.split(",").map((text) => {
    const match = /^(\d+)x(\d+)$/.exec(text.trim());
    if (match === null) {
      throw new Error(
        `AUDIT_TRAIL_BENCH_DETECTOR_STEPS: "${text}" is not EVENTSxSERVICES (for example 100000x200)`,
      );
    }
    return { events: Number(match[1]), services: Number(match[2]) };
  });
}

/**
 * The documents of a time-ordered stream in the order they arrive: `until(ms)` yields those before `ms` not yet
 * yielded, holding back the first at or after it for the next call.
 */
function arrivingUntil(documents: Iterable<EcsDocument>): (untilMs: number) => Generator<EcsDocument> {
  const iterator = documents[Symbol.iterator]();
  let held: EcsDocument | undefined;
  return function* until(untilMs: number) {
    for (;;) {
      let doc = held;
      held = undefined;
      if (doc === undefined) {
        const next = iterator.next();
        if (next.done === true) return;
        doc = next.value;
      }
      if (Date.parse(doc["@timestamp"]) >= untilMs) {
        held = doc;
        return;
      }
      yield doc;
    }
  };
}

/** Which rule a search belongs to: its `rule.name` filter, mapped back from building blocks to their correlation. */
function ruleOf(body: Record<string, unknown>, pack: RulePack): string {
  const filter = (body.query as { bool?: { filter?: Record<string, Record<string, unknown>>[] } } | undefined)
    ?.bool?.filter?.[0];
  const term = filter?.term?.["rule.name"];
  const terms = filter?.terms?.["rule.name"];
  const names = typeof term === "string" ? [term] : Array.isArray(terms) ? (terms as string[]) : [];
  if (names.length === 0)
    return body.aggs !== undefined && "sources" in (body.aggs as object) ? "silence" : "other";
  const candidates = pack.correlationRules.filter(
    (rule) => rule.rules.length === names.length && rule.rules.every((name) => names.includes(name)),
  );
  if (candidates.length <= 1) return candidates[0]?.name ?? names.join("+");
  // Rules over the same building blocks (the error rate and the p99 both read mesh_http_request): by aggregation.
  const text = JSON.stringify(body.aggs ?? {});
  const type = text.includes('"failures"')
    ? "failure_ratio"
    : text.includes('"pct"') || text.includes('"beyond"')
      ? "percentile"
      : undefined;
  return (candidates.find((rule) => rule.type === type) ?? candidates[0])?.name ?? names.join("+");
}

/**
 * The production search client, recording each search's `took` by rule (the single-event rules' first pages by
 * their rule; the new alerts' summaries, sent in `_msearch` batches, as "alert summaries"), the requests sent, and the wall time spent writing alerts (the
 * summaries, `_bulk`, single writes and reads of the alerts index) as the client sees it.
 */
function measured(inner: SearchClient, pack: RulePack) {
  const took = new Map<string, number>();
  let searches = 0;
  let requests = 0;
  let writeMs = 0;
  // Writes overlap (the detector rewrites two batches of grown alerts at once): the time any is in flight counts once.
  let writesInFlight = 0;
  let firstInFlightSince = 0;
  const add = (rule: string, ms: number | undefined) => took.set(rule, (took.get(rule) ?? 0) + (ms ?? 0));
  const timed = async <T>(work: () => Promise<T>): Promise<T> => {
    if (writesInFlight++ === 0) firstInFlightSince = performance.now();
    try {
      return await work();
    } finally {
      if (--writesInFlight === 0) writeMs += performance.now() - firstInFlightSince;
    }
  };
  const client: SearchClient = {
    ...inner,
    async search(request) {
      const response = (await inner.search(request)) as { took?: number };
      searches++;
      requests++;
      const rule = request.index === ALERTS_INDEX ? "alerts index" : ruleOf(request.body, pack);
      add(rule, response.took);
      if (TRACE) {
        process.stderr.write(
          `detector bench: trace search ${rule} took ${response.took} ms (${searchShape(request.body)})\n`,
        );
      }
      return response;
    },
    async msearch(request) {
      // The single-event rules' first pages (no aggregations) are the rules' reads; the rest are alert summaries.
      const firstPages = request.bodies.every((body) => body.aggs === undefined);
      const answers = firstPages ? await inner.msearch(request) : await timed(() => inner.msearch(request));
      requests++;
      searches += request.bodies.length;
      answers.forEach((answer, at) => {
        const took = answer.ok ? (answer.body as { took?: number }).took : undefined;
        const body = request.bodies[at] as Record<string, unknown>;
        if (firstPages) {
          const rule = ruleOf(body, pack);
          add(rule, took);
          if (TRACE) process.stderr.write(`detector bench: trace first page ${rule} took ${took} ms\n`);
          return;
        }
        add("alert summaries", took);
        if (TRACE) {
          const aggs = body.aggs as Record<string, { filters?: { filters: object } }> | undefined;
          const alerts = Object.keys(aggs?.alerts?.filters?.filters ?? {}).length;
          const detail = `${alerts} alerts${JSON.stringify(aggs).includes("top_hits") ? " with events" : ""}${aggs?.spans === undefined ? "" : ", incremental"}`;
          process.stderr.write(
            `detector bench: trace summary ${ruleOf(body, pack)} took ${took ?? "failed"} ms (${detail})\n`,
          );
        }
      });
      return answers;
    },
    async bulk(request) {
      requests++;
      return timed(() => inner.bulk(request));
    },
    async write(request) {
      requests++;
      return timed(() => inner.write(request));
    },
    async get(request) {
      requests++;
      return timed(() => inner.get(request));
    },
  };
  return {
    client,
    take() {
      const result = { took: Object.fromEntries(took), searches, requests, writeMs };
      took.clear();
      searches = 0;
      requests = 0;
      writeMs = 0;
      return result;
    },
  };
}

async function nodeStats(url: string): Promise<{ heapUsed: number; heapMax: number; trips: number }> {
  const response = await fetch(`${url}/_nodes/_local/stats/jvm,breaker`);
  const body = (await response.json()) as {
    nodes: Record<
      string,
      {
        jvm: { mem: { heap_used_in_bytes: number; heap_max_in_bytes: number } };
        breakers: Record<string, { tripped: number }>;
      }
    >;
  };
  const node = Object.values(body.nodes)[0];
  if (node === undefined) throw new Error(`${url}/_nodes/_local/stats answered no node`);
  return {
    heapUsed: node.jvm.mem.heap_used_in_bytes,
    heapMax: node.jvm.mem.heap_max_in_bytes,
    trips: Object.values(node.breakers).reduce((sum, breaker) => sum + breaker.tripped, 0),
  };
}

/**
 * Waits until the node merges no segments (at most `limitMs`). Production indexes a minute of traffic over the
 * minute; the bench indexes it in seconds just before a pass, and the merges that burst starts would otherwise run
 * through the pass.
 */
async function mergesSettled(url: string, limitMs = 30_000): Promise<void> {
  const until = performance.now() + limitMs;
  while (performance.now() < until) {
    const response = await fetch(`${url}/_nodes/_local/stats/indices/merge`);
    const body = (await response.json()) as {
      nodes: Record<string, { indices: { merges: { current: number } } }>;
    };
    if (Object.values(body.nodes).every((node) => node.indices.merges.current === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const TRACE = process.env.AUDIT_TRAIL_BENCH_DETECTOR_TRACE === "1";

/**
 * What a traced search reads: each top-level aggregation's name with those directly under it, and the minutes of
 * event time or of arrival its filters span.
 */
function searchShape(body: Record<string, unknown>): string {
  const aggs = (body.aggs ?? {}) as Record<string, { aggs?: Record<string, unknown> }>;
  const names = Object.entries(aggs).map(([name, agg]) =>
    agg.aggs === undefined ? name : `${name}>${Object.keys(agg.aggs).join("+")}`,
  );
  const spans: string[] = [];
  JSON.stringify(body, (key, value) => {
    if ((key === "@timestamp" || key === INDEXED_AT_FIELD) && typeof value === "object" && value !== null) {
      const { gte, gt, lte, lt } = value as Record<string, unknown>;
      const from = Number(gte ?? gt);
      const to = Number(lte ?? lt);
      const minutes =
        Number.isFinite(from) && Number.isFinite(to) ? `${Math.round((to - from) / 6000) / 10} min` : "open";
      spans.push(`${key === INDEXED_AT_FIELD ? "arrived" : "events"} ${minutes}`);
    }
    return value;
  });
  return [names.join(", ") || "hits", ...spans].join("; ");
}

/** Where the bench notes which step's traffic the node holds, for `AUDIT_TRAIL_BENCH_DETECTOR_REUSE`. */
const TRAFFIC_NOTE_INDEX = "bench-detector-traffic";

/** Documents of the audit indices with an event time before `endMs`: a step's first 15 minutes. */
async function documentsBefore(client: Client, endMs: number): Promise<number> {
  const count = await client.count({
    index: AUDIT_EVENTS_INDICES,
    allow_no_indices: true,
    // The warm-up deletes the alerts index, which the pattern excludes by name.
    ignore_unavailable: true,
    body: { query: { range: { "@timestamp": { lt: endMs, format: "epoch_millis" } } } },
  });
  return (count.body as { count: number }).count;
}

/**
 * The step whose traffic the node holds, when its audit indices hold exactly that step's first 15 minutes (ending
 * at `endMs`; the steady passes' minutes after it arrive again each run).
 */
async function trafficHeld(client: Client, endMs: number): Promise<string | undefined> {
  const note = await client.get({ index: TRAFFIC_NOTE_INDEX, id: "traffic" }, { ignore: [404] });
  const body = note.body as { found?: boolean; _source?: { step: string; documents: number } };
  if (body.found !== true || body._source === undefined) return undefined;
  return (await documentsBefore(client, endMs)) === body._source.documents ? body._source.step : undefined;
}

/**
 * Deletes the audit documents with an event time at or after `fromMs`, ten thousand at a time (the test node has no
 * `_delete_by_query`: that is the reindex module's).
 */
async function deleteFrom(client: Client, fromMs: number): Promise<void> {
  for (;;) {
    const found = await client.search({
      index: AUDIT_EVENTS_INDICES,
      body: {
        size: 10_000,
        _source: false,
        query: { range: { "@timestamp": { gte: fromMs, format: "epoch_millis" } } },
      },
    });
    const hits = (found.body as { hits: { hits: { _index: string; _id: string }[] } }).hits.hits;
    if (hits.length === 0) return;
    await client.bulk({
      refresh: true,
      body: hits.map((hit) => ({ delete: { _index: hit._index, _id: hit._id } })),
    });
  }
}

/** The audit template, pipeline and alerts index, as the stack's bootstrap installs them (no ISM on the test node). */
async function bootstrap(client: Client): Promise<void> {
  await bootstrapDomain(
    client,
    bootstrapSettings({
      DomainEndpoint: "localhost",
      DomainName: "bench",
      HotDays: 1,
      WarmDays: 1,
      DeleteAfterDays: 60,
      ReplicaCount: 0,
    }),
    { ismFlavor: "plain", ageUnit: "m", allowMissingPlugins: ["security", "ism"] },
  );
}

/** Whole-lookback passes over a small trail of its own before the first step. */
const WARM_UP_PASSES = 5;

/**
 * Runs the detector over 10k events of a day of their own (deleted after) before the first step, so that the first
 * step is not measured on a node and a Node.js whose compilers have not yet seen its code paths.
 */
async function warmUp(
  client: Client,
  pack: RulePack,
  publisher: { publish: () => Promise<string> },
  logger: { info(): void; warn(): void; error(): void },
): Promise<void> {
  const startMs = START - 2 * 24 * 60 * 60_000;
  const index = `${AUDIT_INDEX_PREFIX}-${new Date(startMs).toISOString().slice(0, 10)}`;
  await client.indices.delete({ index: `${index},${ALERTS_INDEX}`, ignore_unavailable: true });
  await bootstrap(client);
  await indexTraffic(
    client,
    trafficDocuments(
      {
        events: 10_000,
        services: 200,
        principals: PRINCIPALS,
        startMs,
        spanMs: SPAN_MS,
        ingestDelayMs: INGEST_DELAY_MS,
      },
      pack,
    ),
  );
  const search = transportSearchClient(client);
  for (let pass = 0; pass < WARM_UP_PASSES; pass++) {
    const nowMs = startMs + SPAN_MS + pass * 60_000;
    await runDetection(
      { search, publisher, logger, pack, alertContext: { environment: "bench" } },
      { nowMs, watermarkMs: nowMs - 60_000, runId: `warm-up-${pass}`, clock: () => nowMs },
    );
  }
  await client.indices.delete({ index: `${index},${ALERTS_INDEX}`, ignore_unavailable: true });
}

const round = (value: number) => Math.round(value * 1000) / 1000;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

export default async function bench(): Promise<BenchResult> {
  const node = await startTestNode();
  const result: BenchResult = {};
  const measuredSteps: DetectorStep[] = [];
  const loads: number[] = [];
  try {
    const client = new Client({ node: node.url, requestTimeout: 600_000 });
    const pack = await loadRulePack([defaultRulesDir()]);
    const silent = { info() {}, warn() {}, error() {} };
    const lagMs = ingestLagMs();
    const perCaller = dependencies();
    const anomalyGrowth = anomalies();
    result.anomalies = {
      value: anomalyGrowth === "fixed" ? 0 : 1,
      unit:
        anomalyGrowth === "fixed"
          ? "(fixed: as many per 15 minutes as 10,000 events have)"
          : "(proportional: a fixed share of the events)",
    };
    result.dependenciesPerCaller = {
      value: perCaller ?? -1,
      unit: perCaller === undefined ? "(all: every service)" : "services each caller calls",
    };
    result.ingestLagSeconds = {
      value: lagMs === undefined ? -1 : lagMs / 1000,
      unit: lagMs === undefined ? "(off: whole lookback every pass)" : "s (incremental evaluation)",
    };
    const publisher = { publish: async () => "bench" };
    await warmUp(client, pack, publisher, silent);
    for (const step of steps()) {
      const label = `${step.events >= 1e6 ? `${step.events / 1e6}M` : `${step.events / 1e3}k`}x${step.services}`;
      const eventsIndexed = Math.round((step.events * (SPAN_MS + STEADY_PASSES * 60_000)) / SPAN_MS);
      const traffic = `${label}/${perCaller ?? "all"}/${anomalyGrowth}`;
      const reuse =
        process.env.AUDIT_TRAIL_BENCH_DETECTOR_REUSE === "1" &&
        (await trafficHeld(client, START + SPAN_MS)) === traffic;
      await client.indices.delete({
        index: reuse ? ALERTS_INDEX : `${AUDIT_INDEX_PATTERN},${ALERTS_INDEX},${TRAFFIC_NOTE_INDEX}`,
        ignore_unavailable: true,
      });
      await bootstrap(client);
      const end = START + SPAN_MS;
      const arrivals = arrivingUntil(
        trafficDocuments(
          {
            // The same rate past the first pass: a minute more per steady pass.
            events: eventsIndexed,
            services: step.services,
            principals: PRINCIPALS,
            startMs: START,
            spanMs: SPAN_MS + STEADY_PASSES * 60_000,
            ingestDelayMs: INGEST_DELAY_MS,
            ...(anomalyGrowth === "fixed" ? { anomalyScale: 10_000 / step.events } : {}),
            ...(perCaller === undefined ? {} : { dependencies: perCaller }),
          },
          pack,
        ),
      );
      const indexStart = performance.now();
      if (reuse) {
        // The steady passes' traffic arrives again, stamped now.
        await deleteFrom(client, end);
        // The first 15 minutes are on the node from an earlier run: read past them.
        for (const _ of arrivals(end));
      } else {
        await indexTraffic(client, arrivals(end));
      }
      await client.index({
        index: TRAFFIC_NOTE_INDEX,
        id: "traffic",
        body: { step: traffic, documents: await documentsBefore(client, end) },
        refresh: true,
      });
      const indexSeconds = (performance.now() - indexStart) / 1000;

      const search = measured(transportSearchClient(client), pack);
      const before = await nodeStats(node.url);
      let heapPeak = before.heapUsed;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          heapPeak = Math.max(heapPeak, (await nodeStats(node.url)).heapUsed);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      const passes: {
        ms: number;
        searches: number;
        requests: number;
        writeMs: number;
        took: Record<string, number>;
        alerts: number;
        failed: string[];
      }[] = [];
      let indexedThroughMs: number | undefined;
      let indexLagMs: number | undefined;
      for (let pass = 0; pass <= STEADY_PASSES; pass++) {
        const nowMs = end + pass * 60_000;
        if (pass > 0) {
          const arriving = performance.now();
          await indexTraffic(client, arrivals(nowMs));
          indexLagMs = Math.ceil(performance.now() - arriving);
        }
        await mergesSettled(node.url);
        const started = performance.now();
        const report = await runDetection(
          { search: search.client, publisher, logger: silent, pack, alertContext: { environment: "bench" } },
          {
            nowMs,
            watermarkMs: nowMs - 60_000,
            runId: `bench-${pass}`,
            clock: () => nowMs,
            ...(lagMs === undefined ? {} : { ingestLagMs: lagMs }),
            ...(indexedThroughMs === undefined ? {} : { indexedWatermarkMs: indexedThroughMs }),
            ...(indexLagMs === undefined ? {} : { indexLagMs }),
          },
        );
        indexedThroughMs = report.indexedThroughMs;
        const ms = performance.now() - started;
        const alerts = Object.values(report.delivered).reduce((sum, count) => sum + count, 0);
        passes.push({ ms, ...search.take(), alerts, failed: [...report.failedRules] });
      }
      sampling = false;
      await sampler;
      const after = await nodeStats(node.url);
      const steady = passes.slice(1);
      const medianMs = median(steady.map((pass) => pass.ms));
      const medianPass = steady.find((pass) => pass.ms === medianMs) ?? steady[0];
      const failed = [...new Set(passes.flatMap((pass) => pass.failed))];
      result[`${label}.indexSeconds`] = { value: indexSeconds, unit: `s to index ${step.events} events` };
      result[`${label}.firstPassSeconds`] = {
        value: (passes[0]?.ms ?? 0) / 1000,
        unit: "s (writes the alerts)",
      };
      result[`${label}.steadyPassSeconds`] = {
        value: medianMs / 1000,
        unit: `s (median of ${STEADY_PASSES})`,
        target: "< 20",
        meetsTarget: medianMs < 20_000,
      };
      const steadyMs = steady.map((pass) => pass.ms);
      result[`${label}.steadyPassMeanSeconds`] = {
        value: round(steadyMs.reduce((sum, ms) => sum + ms, 0) / steadyMs.length / 1000),
        unit: `s (mean of ${STEADY_PASSES}; ${round(Math.min(...steadyMs) / 1000)}–${round(Math.max(...steadyMs) / 1000)} s)`,
      };
      result[`${label}.searchesPerPass`] = { value: medianPass?.searches ?? 0, unit: "searches" };
      result[`${label}.requestsPerPass`] = {
        value: medianPass?.requests ?? 0,
        unit: "requests (a _msearch or _bulk is one)",
      };
      result[`${label}.newAlertsPerPass`] = { value: medianPass?.alerts ?? 0, unit: "new alerts" };
      result[`${label}.alertWriteSeconds`] = {
        value: (medianPass?.writeMs ?? 0) / 1000,
        unit: "s writing alerts (summaries, _bulk, reads and writes of the alerts index)",
      };
      for (const [rule, took] of Object.entries(medianPass?.took ?? {}).sort((a, b) => b[1] - a[1])) {
        result[`${label}.took.${rule}`] = { value: took, unit: "ms (sum of took)" };
      }
      result[`${label}.heapHighWaterMB`] = {
        value: heapPeak / 2 ** 20,
        unit: `MB of a ${Math.round(after.heapMax / 2 ** 20)} MB heap (sampled every 100 ms)`,
      };
      result[`${label}.breakerTrips`] = {
        value: after.trips - before.trips,
        unit: "circuit-breaker trips",
        target: "0",
        meetsTarget: after.trips === before.trips,
      };
      result[`${label}.failedRules`] = {
        value: failed.length,
        unit: failed.length === 0 ? "rules failed" : `rules failed: ${failed.join(", ")}`,
        target: "0",
        meetsTarget: failed.length === 0,
      };
      loads.push(loadavg()[0] ?? 0);
      measuredSteps.push({
        eventsPer15Minutes: step.events,
        services: step.services,
        principals: PRINCIPALS,
        steadyPassSeconds: round(medianMs / 1000),
        alertWriteSeconds: round((medianPass?.writeMs ?? 0) / 1000),
        newAlertsPerPass: medianPass?.alerts ?? 0,
        searchesPerPass: medianPass?.searches ?? 0,
        requestsPerPass: medianPass?.requests ?? 0,
        heapHighWaterMB: Math.round(heapPeak / 2 ** 20),
        breakerTrips: after.trips - before.trips,
      });
      // Each step's figures as soon as it ends: a long run interrupted still leaves them.
      for (const [name, figure] of Object.entries(result).filter(([key]) => key.startsWith(`${label}.`))) {
        process.stderr.write(
          `detector bench: ${name} ${Math.round(figure.value * 1000) / 1000} ${figure.unit}\n`,
        );
      }
    }
    if (process.env.AUDIT_TRAIL_BENCH_DETECTOR_REUSE !== "1") {
      await client.indices.delete({
        index: `${AUDIT_INDEX_PATTERN},${ALERTS_INDEX},${TRAFFIC_NOTE_INDEX}`,
        ignore_unavailable: true,
      });
    }
    if (
      process.env.AUDIT_TRAIL_BENCH_DETECTOR_STEPS === undefined &&
      process.env.AUDIT_TRAIL_BENCH_DETECTOR_DEPENDENCIES === undefined &&
      anomalyGrowth === "proportional" &&
      lagMs !== undefined
    ) {
      const info = (await client.info()).body as { version: { number: string } };
      const heapMB = Math.round((await nodeStats(node.url)).heapMax / 2 ** 20);
      const output: DetectorMeasurements = {
        measuredAt: new Date().toISOString().slice(0, 10),
        command: "npm run bench -- detector",
        file: MEASUREMENTS_FILE,
        opensearch: `OpenSearch ${info.version.number}, one shard, ${heapMB} MB heap`,
        machine: `${cpus().length} × ${cpus()[0]?.model ?? "unknown"}, Node.js ${process.version}, 1-minute load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} at the steps' ends (shared)`,
        notes: [
          `incremental evaluation: the first pass by event.ingested with an ingest lag of ${lagMs / 1000} s, the steady ones by the index stamp (index lag: the time indexing the minute before took); ${PRINCIPALS} callers, each calling ${perCaller ?? "every"} destination services besides its scan bursts; median of ${STEADY_PASSES} steady passes while the traffic keeps arriving`,
        ],
        steps: measuredSteps,
      };
      await writeFile(join(root, MEASUREMENTS_FILE), `${JSON.stringify(output, null, 2)}\n`);
      process.stderr.write(`detector bench: wrote ${MEASUREMENTS_FILE}\n`);
    }
  } finally {
    await node.stop();
  }
  return result;
}
