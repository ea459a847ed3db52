/**
 * The Dashboards saved objects against a real OpenSearch node: a few representative documents go through the real
 * index templates, then every visualization and the saved search run as the search OpenSearch Dashboards sends for
 * them (`saved-object-queries.ts`). This proves the fields, types and aggregations work on the real mapping and
 * that each panel counts what it claims. (There is no OpenSearch Dashboards server here: the import itself is
 * tested against the import API's documented contract, in the unit tests.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALERTS_INDEX } from "../../lambdas/core/contracts.js";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import {
  type BootstrapStep,
  bootstrapDomain,
  buildDashboardsSavedObjects,
  ERROR_RATE_ALERT_THRESHOLD,
  LATENCY_P99_ALERT_THRESHOLD_NS,
  renderSavedObjectsNdjson,
  SAVED_OBJECT_ID_PREFIX,
} from "../../lambdas/core/opensearch/index.js";
import {
  indexPatternOf,
  parseNdjson,
  queryOf,
  type SearchRequest,
  searchRequests,
} from "../lambdas/core/opensearch/dashboards/saved-object-queries.js";
import { deleteIndices, TEST_BOOTSTRAP_OPTIONS, testClient, testSettings } from "./helpers.js";

const DAY_INDEX = "audit-2099-03-01";
const RANGE = { from: "2099-03-01T00:00:00Z", to: "2099-03-01T23:59:59Z", interval: "1h" };

const WEB = "spiffe://cluster.local/ns/shop/sa/web";
const REPORTING = "spiffe://cluster.local/ns/shop/sa/reporting";
const STOREFRONT = "storefront.shop.serviceaccount.identity.linkerd.cluster.local";
const PAYMENTS = "payments.pay.svc.cluster.local";
const CUSTOMERS = "customers.shop.svc.cluster.local";
const CATALOG = "catalog.shop.svc.cluster.local";

interface MeshRequest {
  readonly at: string;
  readonly principal: string;
  readonly service: string;
  readonly status: number;
  readonly durationMs: number;
  /** Absent: the source does not report it. */
  readonly mtls?: boolean;
  readonly mesh?: "istio" | "linkerd";
  readonly direction?: "inbound" | "outbound";
  readonly path?: string;
  readonly rules?: string[];
}

function meshRequest(request: MeshRequest): EcsDocument {
  const mesh = request.mesh ?? "istio";
  return {
    "@timestamp": `2099-03-01T${request.at}Z`,
    ecs: { version: "8.17.0" },
    event: {
      kind: "event",
      category: ["network", "web"],
      type: ["access"],
      action: "http_request",
      outcome: request.status < 400 ? "success" : "failure",
      dataset: `${mesh}.access`,
      duration: request.durationMs * 1_000_000,
    },
    source: { ip: "10.1.2.3" },
    http: { request: { method: "GET" }, response: { status_code: request.status } },
    url: { path: request.path ?? "/v1/charge" },
    mesh: {
      name: mesh,
      ...(request.mtls === undefined ? {} : { mtls: request.mtls }),
      direction: request.direction ?? "inbound",
      source: { principal: request.principal },
      destination: { service: request.service },
    },
    ...(request.rules === undefined ? {} : { rule: { name: request.rules } }),
  };
}

const documents: EcsDocument[] = [
  meshRequest({ at: "10:00:00", principal: WEB, service: PAYMENTS, status: 200, durationMs: 20, mtls: true }),
  meshRequest({ at: "10:05:00", principal: WEB, service: PAYMENTS, status: 200, durationMs: 40, mtls: true }),
  meshRequest({ at: "10:10:00", principal: WEB, service: PAYMENTS, status: 403, durationMs: 5, mtls: true }),
  // The client sidecar's record of the same 403: not counted again.
  meshRequest({
    at: "10:10:00",
    principal: WEB,
    service: PAYMENTS,
    status: 403,
    durationMs: 6,
    mtls: true,
    direction: "outbound",
  }),
  meshRequest({ at: "10:20:00", principal: WEB, service: PAYMENTS, status: 401, durationMs: 3, mtls: false }),
  meshRequest({
    at: "11:00:00",
    principal: WEB,
    service: PAYMENTS,
    status: 503,
    durationMs: 6_000,
    mtls: true,
  }),
  meshRequest({
    at: "11:10:00",
    principal: REPORTING,
    service: CUSTOMERS,
    status: 200,
    durationMs: 15,
    mtls: true,
    path: "/api/v1/customers/1",
    rules: ["mesh_http_request", "mesh_sensitive_read"],
  }),
  meshRequest({
    at: "11:20:00",
    principal: REPORTING,
    service: CUSTOMERS,
    status: 200,
    durationMs: 25,
    mtls: true,
    path: "/api/v1/customers/2",
    rules: ["mesh_http_request", "mesh_sensitive_read"],
  }),
  // A record that does not say whether mTLS was used (as an Envoy custom format without the `mtls` key).
  meshRequest({
    at: "11:30:00",
    principal: STOREFRONT,
    service: CATALOG,
    status: 200,
    durationMs: 8,
    mesh: "linkerd",
  }),
  // An API-server 403: not mesh traffic, stays out of every mesh panel.
  {
    "@timestamp": "2099-03-01T10:15:00Z",
    ecs: { version: "8.17.0" },
    event: {
      kind: "event",
      category: ["iam"],
      type: ["access"],
      action: "get",
      outcome: "failure",
      dataset: "kubernetes.audit",
    },
    user: { name: "system:serviceaccount:shop:web" },
    http: { response: { status_code: 403 } },
  },
];

const alerts = [
  {
    id: "alert-1",
    "@timestamp": "2099-03-01T10:11:00Z",
    severity: "medium",
    rule: { name: "mesh_auth_failure_burst" },
  },
  {
    id: "alert-2",
    "@timestamp": "2099-03-01T10:21:00Z",
    severity: "high",
    rule: { name: "mesh_plaintext_traffic" },
  },
];

/** A behavioural rule's baseline as the detector keeps it in the alerts index (`detection/behaviour.ts`). */
const BASELINE = {
  id: "baseline.k8s_user_new_country",
  document: {
    baseline: { rule: "k8s_user_new_country", state: JSON.stringify({ version: 1, throughMs: 0 }) },
  },
};

type Aggregations = Record<string, unknown>;
interface Bucket {
  key: string | number;
  key_as_string?: string;
  doc_count: number;
  [sub: string]: unknown;
}

function buckets(aggregations: unknown, name: string): Bucket[] {
  const value = (aggregations as Record<string, { buckets?: unknown }>)[name]?.buckets;
  if (Array.isArray(value)) return value as Bucket[];
  if (typeof value === "object" && value !== null) {
    return Object.entries(value as Record<string, Bucket>).map(([key, bucket]) => ({ ...bucket, key }));
  }
  throw new Error(`no buckets "${name}" in ${JSON.stringify(aggregations).slice(0, 300)}`);
}

/** `{ key: total doc_count }` over the inner buckets `name` of every outer bucket. */
function totalsBy(outer: Bucket[], name: string): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const bucket of outer) {
    for (const inner of buckets(bucket, name))
      totals[String(inner.key)] = (totals[String(inner.key)] ?? 0) + inner.doc_count;
  }
  return totals;
}

/** Each level of bucket aggregations has buckets, down to the leaves. */
function emptyLevels(aggregations: unknown, path = "aggregations"): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(aggregations as Record<string, unknown>)) {
    if (typeof value !== "object" || value === null || !("buckets" in value)) continue;
    const list = buckets(aggregations, name);
    if (list.every((bucket) => bucket.doc_count === 0))
      problems.push(`${path}.${name} has no non-empty bucket`);
    for (const bucket of list.filter((candidate) => candidate.doc_count > 0)) {
      problems.push(...emptyLevels(bucket, `${path}.${name}[${bucket.key}]`));
    }
  }
  return problems;
}

describe("Dashboards visualizations on a real OpenSearch node", () => {
  const client = testClient();
  const objects = parseNdjson(renderSavedObjectsNdjson(buildDashboardsSavedObjects()));
  const requests = searchRequests(objects, RANGE);
  let steps: BootstrapStep[] = [];

  async function run(request: SearchRequest): Promise<{ hits: unknown[]; aggregations: Aggregations }> {
    const response = await client.transport.request({
      method: "POST",
      path: `/${request.index}/_search`,
      body: request.body,
    });
    const body = response.body as { hits: { hits: unknown[] }; aggregations?: Aggregations };
    return { hits: body.hits.hits, aggregations: body.aggregations ?? {} };
  }

  async function panel(suffix: string): Promise<{ hits: unknown[]; aggregations: Aggregations }> {
    const request = requests.find((candidate) => candidate.objectId === `${SAVED_OBJECT_ID_PREFIX}${suffix}`);
    if (request === undefined) throw new Error(`no search for ${suffix}`);
    return run(request);
  }

  beforeAll(async () => {
    await deleteIndices(client, "audit-*");
    steps = await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
    await client.bulk({
      refresh: true,
      body: [
        ...documents.flatMap((document) => [{ create: { _index: DAY_INDEX } }, document]),
        ...alerts.flatMap((alert) => [{ create: { _index: ALERTS_INDEX, _id: alert.id } }, alert]),
        { create: { _index: ALERTS_INDEX, _id: BASELINE.id } },
        BASELINE.document,
      ],
    });
  });
  afterAll(async () => {
    await deleteIndices(client, "audit-*");
  });

  it("skips the import on a cluster without Dashboards, saying so", () => {
    expect(steps.find((step) => step.step === "dashboards saved objects")).toEqual({
      step: "dashboards saved objects",
      outcome: "skipped",
      detail: "no OpenSearch Dashboards endpoint given",
    });
  });

  it("runs every visualization and the saved search without error, each returning data at every level", async () => {
    // Act
    const problems: string[] = [];
    for (const request of requests) {
      const result = await run(request).catch((error: { meta?: { body?: unknown } }) => {
        problems.push(`${request.title}: ${JSON.stringify(error.meta?.body ?? String(error)).slice(0, 400)}`);
        return undefined;
      });
      if (result === undefined) continue;
      if ("aggs" in request.body) {
        problems.push(...emptyLevels(result.aggregations).map((problem) => `${request.title}: ${problem}`));
      } else if (result.hits.length === 0) {
        problems.push(`${request.title}: no hits`);
      }
    }

    // Assess
    expect(requests).toHaveLength(10);
    expect(problems).toEqual([]);
  });

  it("counts 401 and 403 once each, server side, without the API server's 403", async () => {
    // Act
    const overTime = await panel("auth-failures-over-time");
    const byCaller = await panel("auth-failures-heatmap");

    // Assess
    expect(totalsBy(buckets(overTime.aggregations, "2"), "3")).toEqual({ "401": 1, "403": 1 });
    expect(totalsBy(buckets(byCaller.aggregations, "2"), "3")).toEqual({ [WEB]: 2 });
  });

  it("splits mesh traffic into mutual TLS, plaintext and not reported", async () => {
    // Act
    const { aggregations } = await panel("mtls-status");

    // Assess
    expect(
      Object.fromEntries(buckets(aggregations, "2").map((bucket) => [bucket.key, bucket.doc_count])),
    ).toEqual({
      "mutual TLS": 6,
      plaintext: 1,
      "not reported": 1,
    });
  });

  it("ranks callers by requests", async () => {
    // Act
    const { aggregations } = await panel("top-callers");

    // Assess
    expect(buckets(aggregations, "2").map((bucket) => [bucket.key, bucket.doc_count])).toEqual([
      [WEB, 5],
      [REPORTING, 2],
      [STOREFRONT, 1],
    ]);
  });

  it("draws p99 latency per destination service, above the alert threshold only where a request was slow", async () => {
    // Act
    const { aggregations } = await panel("latency-p99");

    // Assess
    const p99 = (service: string) =>
      Math.max(
        ...buckets(aggregations, "2").flatMap((time) =>
          buckets(time, "3")
            .filter((bucket) => bucket.key === service)
            .map((bucket) =>
              Number((bucket["1"] as { values: Record<string, number | null> }).values["99.0"]),
            ),
        ),
      );
    expect(p99(PAYMENTS)).toBeGreaterThan(LATENCY_P99_ALERT_THRESHOLD_NS);
    expect(p99(CUSTOMERS)).toBeLessThan(LATENCY_P99_ALERT_THRESHOLD_NS);
    expect(p99(CATALOG)).toBe(8_000_000);
  });

  it("computes the error rate as 4xx+5xx over server-side responses, overall and per destination service", async () => {
    // Act
    const gauge = await panel("error-rate");
    const byService = await panel("error-rate-by-service");

    // Assess
    const ratio = (timeBuckets: Bucket[], metric: string) => {
      const sum = (part: string) =>
        timeBuckets.reduce(
          (total, bucket) => total + (bucket[`${metric}-${part}`] as { doc_count: number }).doc_count,
          0,
        );
      return sum("numerator") / sum("denominator");
    };
    const overall = ratio(buckets(gauge.aggregations, "timeseries"), "error-ratio");
    expect(overall).toBeCloseTo(3 / 8, 10);
    expect(overall).toBeGreaterThan(ERROR_RATE_ALERT_THRESHOLD);
    const perService = Object.fromEntries(
      buckets(byService.aggregations, "error-rate-per-service").map((service) => [
        service.key,
        ratio(buckets(service, "timeseries"), "error-ratio-per-service"),
      ]),
    );
    expect(perService).toEqual({ [PAYMENTS]: 3 / 5, [CUSTOMERS]: 0, [CATALOG]: 0 });
  });

  it("tables sensitive reads by identity and lists them newest first", async () => {
    // Act
    const table = await panel("sensitive-data-access");
    const search = await panel("sensitive-reads");

    // Assess
    const [row] = buckets(table.aggregations, "4");
    if (row === undefined) throw new Error("no row in the sensitive data table");
    expect(row.key).toBe(REPORTING);
    const [service] = buckets(row, "5");
    if (service === undefined) throw new Error("no destination service under the reporting identity");
    expect([service.key, service.doc_count]).toEqual([CUSTOMERS, 2]);
    expect((service["2"] as { value: number }).value).toBe(2);
    expect((service["3"] as { value_as_string: string }).value_as_string).toBe("2099-03-01T11:20:00.000Z");
    const paths = (search.hits as { _source: { url: { path: string } } }[]).map(
      (hit) => hit._source.url.path,
    );
    expect(paths).toEqual(["/api/v1/customers/2", "/api/v1/customers/1"]);
  });

  it("leaves the detector's baseline documents out of every panel on the alerts index, with or without a time range", async () => {
    // Prepare
    const onAlerts = objects.flatMap((object) =>
      (object.type === "visualization" || object.type === "search") &&
      indexPatternOf(objects, object).attributes.title === ALERTS_INDEX
        ? [object]
        : [],
    );

    // Act
    const matched: Record<string, number> = {};
    for (const object of onAlerts) {
      const query = queryOf(objects, object);
      const response = await client.search({
        index: ALERTS_INDEX,
        body: {
          size: 100,
          query: { query_string: { query: query?.query ?? "*", analyze_wildcard: true } },
        },
      });
      const ids = (response.body.hits.hits as { _id: string }[]).map((hit) => hit._id).sort();
      matched[object.id] = ids.includes(BASELINE.id) ? -1 : ids.length;
    }

    // Assess
    expect(onAlerts.length).toBeGreaterThan(0);
    expect(matched).toEqual(Object.fromEntries(onAlerts.map((object) => [object.id, alerts.length])));
  });

  it("counts alerts per severity from the alerts index only", async () => {
    // Act
    const { aggregations } = await panel("alerts-over-time");

    // Assess
    expect(totalsBy(buckets(aggregations, "2"), "3")).toEqual({ high: 1, medium: 1 });
  });
});
