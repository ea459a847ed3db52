/**
 * Generated mesh traffic for the detector's scale tests and benchmark: Istio JSON access-log lines (the format of
 * `examples/incident/istio-inbound-json.log`) from `principals` caller identities to `services` destination services,
 * spread evenly over a span of event time, through the project's own normalizer and rule tagging, as the transform
 * indexes them. Deterministic for a seed.
 *
 * The mix: 0.6 % plaintext requests (no peer identity, `connection_security_policy: none`: `mesh_plaintext_traffic`), 1 % 403s (`mesh_auth_failure`),
 * 2 % 5xx, durations of a few to a few hundred milliseconds with 0.5 % above 5 s (`mesh_latency_p99_high`'s
 * threshold), and in every 500 events a burst of 12 calls from one caller to 12 distinct services
 * (`mesh_service_discovery_scan`); `anomalyScale` makes the anomalies rarer or more frequent.
 */
import type { Client } from "@opensearch-project/opensearch";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../lambdas/core/normalize/index.js";
import type { RulePack } from "../../lambdas/core/rules/types.js";
import { dailyIndex } from "./incident.js";

export interface TrafficShape {
  readonly events: number;
  readonly services: number;
  readonly principals: number;
  /** Event time of the first event (epoch ms). */
  readonly startMs: number;
  /** Event-time span the events are spread over. */
  readonly spanMs: number;
  /** Share of requests without mTLS. @default 0.006 */
  readonly plaintextShare?: number;
  /** @default 1 */
  readonly seed?: number;
  /**
   * How long after its event time Firehose receives each record (`event.ingested`, which incremental evaluation
   * reads). @default none: no `event.ingested`
   */
  readonly ingestDelayMs?: number;
  /**
   * How many destination services each caller calls outside the scan bursts: a fixed set per caller (drawn from the
   * seed), as a workload has a stable set of dependencies. @default every service, uniformly at random
   */
  readonly dependencies?: number;
  /**
   * Multiplies how often the anomalies occur (plaintext, 403s, slow requests, scan bursts): `10_000 / events` keeps
   * as many per span as 10,000 events have, as when more traffic does not bring more attackers. @default 1
   */
  readonly anomalyScale?: number;
}

/** mulberry32: a small deterministic PRNG. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The i-th service's short name. */
const serviceName = (n: number) => `svc-${n}`;

/** Each caller's destination services (`TrafficShape.dependencies`), or undefined: every service. */
function dependencyGraph(shape: TrafficShape): number[][] | undefined {
  if (shape.dependencies === undefined) return undefined;
  const count = Math.min(shape.dependencies, shape.services);
  const rnd = random((shape.seed ?? 1) ^ 0x5eed);
  return Array.from({ length: shape.principals }, () => {
    const chosen = new Set<number>();
    while (chosen.size < count) chosen.add(Math.floor(rnd() * shape.services));
    return [...chosen];
  });
}

/** The access-log lines, in event-time order. */
export function* trafficLines(shape: TrafficShape): Generator<string> {
  const rnd = random(shape.seed ?? 1);
  const pick = (n: number) => Math.floor(rnd() * n);
  const dependencies = dependencyGraph(shape);
  const scale = shape.anomalyScale ?? 1;
  const burstEvery = Math.max(12, Math.round(500 / scale));
  for (let i = 0; i < shape.events; i++) {
    const timeMs = shape.startMs + Math.floor((i * shape.spanMs) / shape.events);
    // One burst in every 500 events (at scale 1): 12 consecutive calls from one caller to 12 distinct services.
    const scanning = i % burstEvery < 12;
    const principal = scanning ? Math.floor(i / burstEvery) % shape.principals : pick(shape.principals);
    const ownDependencies = dependencies?.[principal];
    const service = scanning
      ? (Math.floor(i / burstEvery) * 13 + (i % burstEvery)) % shape.services
      : ownDependencies === undefined
        ? pick(shape.services)
        : (ownDependencies[pick(ownDependencies.length)] as number);
    const r = rnd();
    const plaintext = rnd() < (shape.plaintextShare ?? 0.006) * scale;
    const status = r < 0.01 * scale ? 403 : r < 0.01 * scale + 0.02 ? 503 : 200;
    const slow = rnd() < 0.005 * scale;
    const durationMs = slow ? 5000 + pick(10_000) : 2 + Math.floor(rnd() ** 3 * 400);
    const svc = serviceName(service);
    yield JSON.stringify({
      authority: `${svc}:8080`,
      bytes_received: 0,
      // The mesh's own verdict on the connection: positive evidence either way (a high plaintext alert needs it).
      connection_security_policy: plaintext ? "none" : "mutual_tls",
      bytes_sent: 512 + pick(4096),
      downstream_local_address: `10.44.${service % 250}.${(service >> 8) % 250}:8080`,
      downstream_remote_address: `10.45.${principal % 250}.${(principal >> 8) % 250}:${30000 + pick(30000)}`,
      duration: durationMs,
      method: rnd() < 0.8 ? "GET" : "POST",
      path: `/api/v1/items/${pick(1000)}`,
      protocol: "HTTP/1.1",
      request_id: `${i.toString(16).padStart(8, "0")}-0000-4000-8000-${(shape.seed ?? 1).toString(16).padStart(12, "0")}`,
      requested_server_name: plaintext ? null : `outbound_.8080_._.${svc}.shop.svc.cluster.local`,
      response_code: status,
      response_code_details: "via_upstream",
      response_flags: "-",
      route_name: "default",
      source_identity: plaintext ? null : `spiffe://cluster.local/ns/shop/sa/caller-${principal}`,
      start_time: new Date(timeMs).toISOString(),
      upstream_cluster: "inbound|8080||",
      upstream_host: "10.44.2.12:8080",
      upstream_local_address: "127.0.0.6:46198",
      upstream_service_time: String(durationMs),
      user_agent: "Go-http-client/1.1",
    });
  }
}

/**
 * Each line as the transform indexes it: normalized (with `event.ingested` when the shape has a delay), tagged with
 * the single-event rules it matches.
 */
export function* trafficDocuments(shape: TrafficShape, pack: RulePack): Generator<EcsDocument> {
  let line = 0;
  for (const text of trafficLines(shape)) {
    const timeMs = shape.startMs + Math.floor((line * shape.spanMs) / shape.events);
    line++;
    const result = normalizeRecord(
      text,
      shape.ingestDelayMs === undefined
        ? {}
        : { receivedAt: new Date(timeMs + shape.ingestDelayMs).toISOString() },
    );
    if (!result.ok) throw new Error(`generated line ${line}: ${result.reason}`);
    for (const doc of result.documents) {
      const tags = pack.matchSingleEvent(doc);
      if (tags.length > 0) doc.rule = { ...doc.rule, name: [...tags] };
      yield doc;
    }
  }
}

/** Bulk-indexes documents in batches (without ids, as Firehose does) and refreshes; returns the indices written. */
export async function indexTraffic(
  client: Client,
  documents: Iterable<EcsDocument>,
  batchSize = 5000,
): Promise<string[]> {
  const indices = new Set<string>();
  let batch: EcsDocument[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const body = batch.flatMap((doc) => {
      const index = dailyIndex(doc);
      indices.add(index);
      return [{ index: { _index: index } }, doc];
    });
    const response = await client.bulk({ body });
    if (response.body.errors) {
      const first = (response.body.items as Record<string, { error?: unknown }>[])
        .map((item) => Object.values(item)[0]?.error)
        .find((error) => error !== undefined);
      throw new Error(`bulk indexing failed: ${JSON.stringify(first)}`);
    }
    batch = [];
  };
  for (const doc of documents) {
    batch.push(doc);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  await client.indices.refresh({ index: [...indices].join(",") || "_all" });
  return [...indices].sort();
}
