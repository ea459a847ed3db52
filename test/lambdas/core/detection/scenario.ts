/**
 * A detection scenario: a small rule pack (k8s_pod_exec, mesh_auth_failure_burst), the fake OpenSearch answering
 * audit searches from the recorded fixtures, and a recording SNS publisher with injectable failures.
 */
import { readFileSync } from "node:fs";
import type { SnsAlertMessage } from "../../../../lambdas/core/alerts/render.js";
import type { AlertTopic } from "../../../../lambdas/core/contracts.js";
import { ALERTS_INDEX } from "../../../../lambdas/core/contracts.js";
import type { AlertPublisher, DetectionLogger } from "../../../../lambdas/core/detection/ports.js";
import { NEWEST_INDEX_STAMP } from "../../../../lambdas/core/detection/queries.js";
import {
  type DetectionReport,
  type DetectionRunOptions,
  runDetection,
} from "../../../../lambdas/core/detection/run.js";
import type {
  CompiledRule,
  CorrelationRule,
  RulePack,
  SingleEventRule,
} from "../../../../lambdas/core/rules/types.js";
import { correlationRule, singleRule } from "../alerts/factories.js";
import { FakeOpenSearch } from "./fake-opensearch.js";

export function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8"));
}

export const EMPTY_SEARCH = {
  took: 1,
  timed_out: false,
  _shards: { total: 3, successful: 3, skipped: 0, failed: 0 },
  hits: { total: { value: 0, relation: "eq" }, max_score: null, hits: [] },
};

export function packOf(rules: readonly CompiledRule[]): RulePack {
  const singles = rules.filter((rule): rule is SingleEventRule => rule.kind === "single");
  return {
    rules,
    singleEventRules: singles,
    correlationRules: rules.filter((rule): rule is CorrelationRule => rule.kind === "correlation"),
    get: (name) => rules.find((rule) => rule.name === name || rule.id === name),
    matchSingleEvent: (doc) => singles.filter((rule) => rule.matches(doc)).map((rule) => rule.name),
  };
}

/** The run's search for the newest index stamp (`newestIndexStampQuery`). */
export function isNewestStampSearch(body: Record<string, unknown>): boolean {
  return (body.aggs as Record<string, unknown> | undefined)?.[NEWEST_INDEX_STAMP] !== undefined;
}

/** `recordedAudit`, with `newest` as the newest index stamp on the audit indices (null: no document has one). */
export function recordedAuditStamped(newest: number | null): (body: Record<string, unknown>) => unknown {
  return (body) =>
    isNewestStampSearch(body)
      ? { ...EMPTY_SEARCH, aggregations: { [NEWEST_INDEX_STAMP]: { value: newest } } }
      : recordedAudit(body);
}

/** Answers the audit searches of the scenario's rules from the fixtures. */
export function recordedAudit(body: Record<string, unknown>): unknown {
  const text = JSON.stringify(body);
  // Incremental evaluation's touched slots: the recorded burst's events are the new documents.
  const slots = (body.aggs as { slots?: { date_histogram: { fixed_interval: string } } } | undefined)?.slots;
  if (slots !== undefined) {
    if (!text.includes('"mesh_auth_failure"'))
      return { ...EMPTY_SEARCH, aggregations: { slots: { buckets: [] } } };
    const hop = Number.parseInt(slots.date_histogram.fixed_interval, 10);
    const events = fixture("auth-failure-burst.events.json") as {
      hits: { hits: { _source: { "@timestamp": string } }[] };
    };
    const keys = [
      ...new Set(
        events.hits.hits.map((hit) => Math.floor(Date.parse(hit._source["@timestamp"]) / hop) * hop),
      ),
    ];
    return {
      ...EMPTY_SEARCH,
      aggregations: { slots: { buckets: keys.sort((x, y) => x - y).map((key) => ({ key, doc_count: 1 })) } },
    };
  }
  // The window aggregation (the events query carries the alert summary's aggregations too, and hits).
  if (body.aggs !== undefined && body.size === 0 && text.includes('"mesh_auth_failure"'))
    return fixture("auth-failure-burst.composite.json");
  if (text.includes('"mesh.source.principal":"spiffe://cluster.local/ns/web/sa/frontend"')) {
    return fixture("auth-failure-burst.events.json");
  }
  if (text.includes('"k8s_pod_exec"')) return fixture("pod-exec.hits.json");
  return EMPTY_SEARCH;
}

export class RecordingPublisher implements AlertPublisher {
  readonly published: { topic: AlertTopic; message: SnsAlertMessage }[] = [];
  attempts = 0;
  /** Return true to make the publish fail (SNS throttling, outage). */
  fail: (message: SnsAlertMessage) => boolean = () => false;

  async publish(topic: AlertTopic, message: SnsAlertMessage): Promise<string> {
    this.attempts++;
    await Promise.resolve();
    if (this.fail(message)) throw Object.assign(new Error("Rate exceeded"), { name: "ThrottledException" });
    this.published.push({ topic, message });
    return `msg-${this.published.length}`;
  }

  /** Rule names paged, in order. */
  rules(): string[] {
    return this.published.map((entry) => entry.message.attributes.rule);
  }
}

export const silentLogger: DetectionLogger & { errors: string[]; warnings: string[] } = {
  errors: [],
  warnings: [],
  info: () => {},
  warn(message) {
    this.warnings.push(message);
  },
  error(message) {
    this.errors.push(message);
  },
};

/** After the recorded burst (10:03–10:04) and the recorded exec (10:15:42). */
export const NOW = Date.parse("2025-03-04T10:17:00.000Z");

export function scenario(rules: readonly CompiledRule[] = [singleRule(), correlationRule()]) {
  const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
  const publisher = new RecordingPublisher();
  const pack = packOf(rules);
  let clock = NOW;
  const run = (overrides: Partial<DetectionRunOptions> = {}): Promise<DetectionReport> =>
    runDetection(
      {
        search,
        publisher,
        logger: silentLogger,
        pack,
        alertContext: { environment: "prod", dashboardsUrl: "https://search.example.com/_dashboards" },
      },
      {
        nowMs: clock,
        watermarkMs: clock - 60_000,
        runId: `run-${clock}`,
        clock: () => clock,
        ...overrides,
      },
    );
  return {
    search,
    publisher,
    pack,
    run,
    setClock(ms: number) {
      clock = ms;
    },
  };
}
