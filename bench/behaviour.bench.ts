/**
 * Behavioural rules on a real OpenSearch node (`npm run bench -- behaviour`; the integration tests' node, or the one
 * at `OPENSEARCH_URL`).
 *
 * A generated month of traffic, as the transform indexes it (ECS documents tagged with the default pack's
 * single-event rules): `AUDIT_TRAIL_BENCH_BEHAVIOUR_SERVICES` services (default 300), each calling three steady
 * dependencies every `AUDIT_TRAIL_BENCH_BEHAVIOUR_EVERY_MIN` minutes (default 180) with jitter, and ten people using
 * the Kubernetes API daily. Planted on day 25: five established workloads each call a service they never called,
 * and a new identity creates 30 objects within five minutes. Controls that must stay quiet: a new workload (known for
 * less than 14 days) calling three services, and a new identity creating only 5 objects.
 *
 * Figures: precision and recall of the detector's behavioural alerts against the planted ones (runs every 6 hours
 * over the month) and of replay's; the detector's cost per run (wall ms and OpenSearch `took`, summed over the
 * behavioural rules) for a steady run (one minute of new events) with 1, 7 and 30 days of history behind it, and
 * for the first run (the whole history folded into the baseline) and a rebuild at each of those points.
 */
import { Client } from "@opensearch-project/opensearch";
import { ALERTS_INDEX } from "../lambdas/core/contracts.js";
import { evaluateBehaviour } from "../lambdas/core/detection/behaviour.js";
import type { SearchClient } from "../lambdas/core/detection/ports.js";
import { AUDIT_EVENTS_INDICES, DETECTION_DEFAULTS } from "../lambdas/core/detection/run.js";
import type { EcsDocument } from "../lambdas/core/ecs.js";
import { bootstrapDomain } from "../lambdas/core/opensearch/index.js";
import { StreamEvaluator } from "../lambdas/core/rules/evaluator.js";
import { defaultRulesDir, loadRulePack } from "../lambdas/core/rules/load.js";
import {
  type BehaviourRule,
  type Detection,
  isBehaviourRule,
  type RulePack,
} from "../lambdas/core/rules/types.js";
import { transportSearchClient } from "../lambdas/detector/opensearch.js";
import { bootstrapSettings } from "../test/fixtures/bootstrap-settings.js";
import { startTestNode } from "../test/integration/node.js";
import type { BenchResult, Figure } from "./run.js";

const DAY = 86_400_000;
const MINUTE = 60_000;
const START = Date.parse("2031-01-01T00:00:00Z");
const SERVICES = Number(process.env.AUDIT_TRAIL_BENCH_BEHAVIOUR_SERVICES ?? 300);
const EVERY_MIN = Number(process.env.AUDIT_TRAIL_BENCH_BEHAVIOUR_EVERY_MIN ?? 180);
const LOOKBACK = DETECTION_DEFAULTS.lookbackMs;

/** A small deterministic generator (xorshift), so every run plants the same month. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const principal = (i: number | string) => `spiffe://cluster.local/ns/shop/sa/svc-${i}`;
const service = (i: number) => `svc-${i}.shop.svc.cluster.local`;

let counter = 0;
function meshCall(ms: number, from: string, to: string): EcsDocument {
  return {
    "@timestamp": new Date(ms).toISOString(),
    ecs: { version: "8.17.0" },
    event: {
      id: `b${(counter++).toString(36)}`,
      kind: "event",
      category: ["network", "web"],
      type: ["access"],
      action: "http_request",
      outcome: "success",
      dataset: "istio.access",
    },
    mesh: {
      name: "istio",
      direction: "inbound",
      mtls: true,
      source: { principal: from },
      destination: { service: to },
    },
    http: { request: { method: "GET" }, response: { status_code: 200 } },
    url: { path: "/api/items" },
  } as unknown as EcsDocument;
}

function audit(ms: number, user: string, verb: string, name: string): EcsDocument {
  return {
    "@timestamp": new Date(ms).toISOString(),
    ecs: { version: "8.17.0" },
    event: {
      id: `k${(counter++).toString(36)}`,
      kind: "event",
      category: ["api"],
      action: verb,
      dataset: "kubernetes.audit",
    },
    source: { ip: "10.0.12.7" },
    kubernetes: {
      audit: {
        stage: "ResponseComplete",
        verb,
        user: { username: user },
        objectRef: { resource: "configmaps", namespace: "shop", name },
        responseStatus: { code: verb === "create" ? 201 : 200 },
      },
    },
  } as unknown as EcsDocument;
}

interface Planted {
  readonly rule: string;
  readonly group: Record<string, string>;
}

function month(): { documents: EcsDocument[]; planted: Planted[] } {
  const rand = random(17);
  const documents: EcsDocument[] = [];
  const steady = (i: number) => [1, 2, 3].map((k) => (i + k * 7) % SERVICES);
  for (let i = 0; i < SERVICES; i++) {
    for (const j of steady(i)) {
      for (
        let t = START + rand() * EVERY_MIN * MINUTE;
        t < START + 30 * DAY;
        t += EVERY_MIN * MINUTE * (0.5 + rand())
      ) {
        documents.push(meshCall(Math.floor(t), principal(i), service(j)));
      }
    }
  }
  for (let person = 0; person < 10; person++) {
    for (let day = 0; day < 30; day++) {
      documents.push(
        audit(START + day * DAY + (9 + person / 10) * 3_600_000, `person-${person}@example.com`, "get", "cm"),
      );
    }
  }
  const planted: Planted[] = [];
  const day25 = START + 25 * DAY + 10 * 3_600_000;
  for (let k = 0; k < 5; k++) {
    const from = 10 + k * 37;
    const to = (from + 100) % SERVICES;
    documents.push(meshCall(day25 + k * 17 * MINUTE, principal(from), service(to)));
    documents.push(meshCall(day25 + k * 17 * MINUTE + 5_000, principal(from), service(to)));
    planted.push({
      rule: "mesh_new_service_edge",
      group: { "mesh.source.principal": principal(from), "mesh.destination.service": service(to) },
    });
  }
  // Control: a workload first seen on day 20 calls three services (not known for 14 days: quiet).
  for (let k = 0; k < 3; k++)
    documents.push(meshCall(START + 20 * DAY + k * DAY, principal("newcomer"), service(k)));
  // Planted: a new identity creates 30 objects within five minutes.
  for (let k = 0; k < 30; k++)
    documents.push(audit(day25 + k * 10_000, "mallory@example.com", "create", `x-${k}`));
  planted.push({
    rule: "k8s_new_identity_bulk_create",
    group: { "kubernetes.audit.user.username": "mallory@example.com" },
  });
  // Control: a new identity creates only 5.
  for (let k = 0; k < 5; k++)
    documents.push(audit(day25 + k * 10_000, "intern@example.com", "create", `y-${k}`));
  documents.sort((a, b) => Date.parse(a["@timestamp"]) - Date.parse(b["@timestamp"]));
  return { documents, planted };
}

function timed(inner: SearchClient) {
  const stats = { took: 0, searches: 0 };
  const client: SearchClient = {
    ...inner,
    get: (request) => inner.get(request),
    write: (request) => inner.write(request),
    refresh: (request) => inner.refresh(request),
    async search(request) {
      const response = (await inner.search(request)) as { took?: number };
      stats.took += response.took ?? 0;
      stats.searches++;
      return response;
    },
  };
  return { client, stats };
}

function score(found: readonly Detection[], planted: readonly Planted[]) {
  const key = (rule: string, group: Record<string, string>) =>
    `${rule} ${JSON.stringify(Object.fromEntries(Object.entries(group).sort()))}`;
  const expected = new Set(planted.map((p) => key(p.rule, p.group)));
  const got = new Set(found.map((d) => key(d.rule.name, d.groupBy)));
  const hits = [...got].filter((k) => expected.has(k)).length;
  return { precision: got.size === 0 ? 1 : hits / got.size, recall: hits / expected.size, alerts: got.size };
}

/** A precision or recall, whose target is all: 1. */
function wholeRatio(value: number): Figure {
  return { value, unit: "ratio", target: "1", meetsTarget: value === 1 };
}

export default async function bench(): Promise<BenchResult> {
  const node = await startTestNode();
  const raw = new Client({ node: node.url, requestTimeout: 120_000 });
  const result: BenchResult = {};
  try {
    const pack: RulePack = await loadRulePack([defaultRulesDir()]);
    const rules = pack.correlationRules.filter(isBehaviourRule).filter((rule) => rule.type === "new_value");
    const { documents, planted } = month();
    for (const doc of documents) {
      const tags = pack.matchSingleEvent(doc);
      if (tags.length > 0) doc.rule = { name: tags };
    }
    await raw.indices.delete({ index: "audit-2031-*", ignore_unavailable: true });
    await raw.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
    await bootstrapDomain(
      raw,
      bootstrapSettings({
        DomainEndpoint: "localhost",
        DomainName: "bench",
        HotDays: 1,
        WarmDays: 1,
        DeleteAfterDays: 400,
        ReplicaCount: 0,
      }),
      { ismFlavor: "plain", ageUnit: "m", allowMissingPlugins: ["security", "ism"] },
    );
    await raw.indices.create({ index: ALERTS_INDEX }).catch(() => undefined);
    for (let i = 0; i < documents.length; i += 5000) {
      const chunk = documents.slice(i, i + 5000);
      const body = chunk.flatMap((doc) => [
        { index: { _index: `audit-${doc["@timestamp"].slice(0, 10)}` } },
        doc,
      ]);
      const response = await raw.bulk({ body });
      if (response.body.errors === true) throw new Error("bulk indexing failed");
    }
    await raw.indices.refresh({ index: "audit-2031-*" });
    result.documents = { value: documents.length, unit: "documents" };

    // Replay over the month.
    const evaluator = new StreamEvaluator(pack, { allowedLatenessMs: LOOKBACK });
    const replayed: Detection[] = [];
    for (const doc of documents) replayed.push(...evaluator.push(doc));
    replayed.push(...evaluator.finish());
    const replayScore = score(
      replayed.filter((d) => isBehaviourRule(d.rule)),
      planted,
    );
    result.replayPrecision = wholeRatio(replayScore.precision);
    result.replayRecall = wholeRatio(replayScore.recall);

    // The detector over the month, a run every 6 hours.
    const search = transportSearchClient(raw);
    const options = (nowMs: number) => ({
      nowMs,
      lookbackMs: LOOKBACK,
      maxCatchUpMs: DETECTION_DEFAULTS.maxCatchUpMs,
      index: AUDIT_EVENTS_INDICES,
      alertsIndex: ALERTS_INDEX,
    });
    const found: Detection[] = [];
    for (let now = START + 6 * 3_600_000; now <= START + 31 * DAY; now += 6 * 3_600_000) {
      for (const rule of rules) {
        const progress = await evaluateBehaviour(search, rule as BehaviourRule, options(now));
        found.push(...progress.detections);
        await progress.commit();
      }
    }
    const detectorScore = score(found, planted);
    result.detectorPrecision = wholeRatio(detectorScore.precision);
    result.detectorRecall = wholeRatio(detectorScore.recall);
    result.detectorAlerts = {
      value: detectorScore.alerts,
      unit: "alerts",
      target: `= ${planted.length} (planted)`,
      meetsTarget: detectorScore.alerts === planted.length,
    };

    // Cost per run at 1, 7 and 30 days of history.
    for (const days of [1, 7, 30]) {
      const now = START + days * DAY;
      for (const rule of rules)
        await raw
          .delete({ index: ALERTS_INDEX, id: `baseline.${rule.name}`, refresh: true })
          .catch(() => undefined);
      const measure = async (at: number, rebuildEveryMs?: number) => {
        const { client, stats } = timed(search);
        const started = performance.now();
        for (const rule of rules) {
          const progress = await evaluateBehaviour(client, rule as BehaviourRule, {
            ...options(at),
            ...(rebuildEveryMs === undefined ? {} : { rebuildEveryMs }),
          });
          await progress.commit();
        }
        const ms = performance.now() - started;
        await raw.indices.refresh({ index: ALERTS_INDEX });
        return { ms, took: stats.took, searches: stats.searches };
      };
      const first = await measure(now - MINUTE);
      const steadyRuns = [];
      for (let k = 0; k < 5; k++) steadyRuns.push(await measure(now + k * MINUTE));
      steadyRuns.sort((a, b) => a.ms - b.ms);
      const steady = steadyRuns[2] as { ms: number; took: number; searches: number };
      const rebuild = await measure(now + 5 * MINUTE, 1);
      result[`steadyRunMs_${days}d`] = {
        value: steady.ms,
        unit: `ms per run (median of 5; ${rules.length} rules)`,
      };
      result[`steadyRunTookMs_${days}d`] = { value: steady.took, unit: "ms OpenSearch took" };
      result[`steadyRunSearches_${days}d`] = { value: steady.searches, unit: "searches" };
      result[`firstRunMs_${days}d`] = { value: first.ms, unit: "ms (history folded)" };
      result[`rebuildRunMs_${days}d`] = { value: rebuild.ms, unit: "ms (learning + known-for re-read)" };
    }
  } finally {
    await raw.indices.delete({ index: "audit-2031-*", ignore_unavailable: true }).catch(() => undefined);
    await raw.close();
    await node.stop();
  }
  return result;
}
