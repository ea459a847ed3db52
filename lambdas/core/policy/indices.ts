/**
 * The calls and the policy audit events `policy suggest` and `policy drift` read, from the audit indices instead of
 * files, without downloading the traffic: one `composite` aggregation, paged (`after_key`), over the server-side
 * mesh documents of the period, keyed by every field `observeCall` reads (caller, destination, method, path, port,
 * mesh, status, gRPC status, outcome, Envoy's response details), with each bucket's first and last time. Each bucket
 * becomes the document `observeCall` would have seen, standing for `doc_count` calls, so the files and the indices
 * give the same calls and the same suggestion. Bounded: at most `maxBuckets` distinct combinations (then a clear
 * error asks for a shorter period), held as weighted calls, never as documents.
 *
 * The policies' audit events (Istio, Linkerd and Consul authorization objects) are few: they are read as documents,
 * all of them up to the period's end (a policy created before the period is in force in it).
 */
import { pageComposite, termsComposite } from "../detection/responses.js";
import { AUDIT_EVENTS_INDICES } from "../detection/run.js";
import type { EcsDocument } from "../ecs.js";
import { type IndexSearch, searchAll } from "../review/indices.js";
import { AuditedPolicies } from "./drift.js";
import { type ObservedCall, observeCall } from "./traffic.js";

/** Composite buckets per page. */
const PAGE = 1000;

/** The most distinct combinations read before giving up. @default 500,000 */
export const DEFAULT_MAX_BUCKETS = 500_000;

export class PolicyIndicesError extends Error {
  override readonly name = "PolicyIndicesError";
}

/** Composite source name → document field. Everything `observeCall` and `destinationOf` read. */
const CALL_FIELDS = [
  ["principal", "mesh.source.principal"],
  ["service", "mesh.destination.service"],
  ["namespace", "mesh.destination.namespace"],
  ["workload", "mesh.destination.workload"],
  ["domain", "url.domain"],
  ["authority", "envoy.authority"],
  ["pod_namespace", "kubernetes.namespace"],
  ["method", "http.request.method"],
  ["path", "url.path"],
  ["port", "destination.port"],
  ["mesh", "mesh.name"],
  ["direction", "mesh.direction"],
  ["status", "http.response.status_code"],
  ["grpc", "mesh.grpc_status_code"],
  ["outcome", "event.outcome"],
  ["details", "envoy.response_code_details"],
] as const;

export interface CallQuery {
  readonly since: string;
  readonly until: string;
  /** Also read the calls a policy refused (drift); suggest reads only those that may have succeeded. */
  readonly withDenied: boolean;
  /** @default DEFAULT_MAX_BUCKETS */
  readonly maxBuckets?: number;
}

/** Server-side mesh traffic of the period; what can only be a failure is left out unless a policy refused it. */
function callsQuery(query: CallQuery): Record<string, unknown> {
  const mayHaveSucceeded = {
    bool: {
      must_not: [
        { term: { "event.outcome": "failure" } },
        { range: { "http.response.status_code": { gte: 400 } } },
        {
          bool: {
            filter: [{ exists: { field: "mesh.grpc_status_code" } }],
            must_not: [{ term: { "mesh.grpc_status_code": 0 } }],
          },
        },
      ],
    },
  };
  const refused = { prefix: { "envoy.response_code_details": "rbac_access_denied" } };
  return {
    bool: {
      filter: [
        { exists: { field: "mesh.name" } },
        { range: { "@timestamp": { gte: query.since, lte: query.until } } },
        query.withDenied
          ? { bool: { should: [mayHaveSucceeded, refused], minimum_should_match: 1 } }
          : mayHaveSucceeded,
      ],
      must_not: [
        { term: { "mesh.direction": "outbound" } },
        { term: { "event.dataset": "kubernetes.audit" } },
      ],
    },
  };
}

interface CompositeBucket {
  readonly key: Record<string, unknown>;
  readonly doc_count: number;
  readonly first?: { value?: number | null };
  readonly last?: { value?: number | null };
}

function checkedAggregation(response: unknown): {
  buckets: CompositeBucket[];
  after?: Record<string, unknown>;
} {
  const body = response as {
    _shards?: { failed?: number };
    aggregations?: { calls?: { buckets?: CompositeBucket[]; after_key?: Record<string, unknown> } };
  };
  if ((body._shards?.failed ?? 0) > 0)
    throw new PolicyIndicesError(
      `OpenSearch answered the calls search with ${body._shards?.failed} failed shard(s)`,
    );
  const calls = body.aggregations?.calls;
  if (calls === undefined)
    throw new PolicyIndicesError("OpenSearch answered the calls search without its aggregation");
  return {
    buckets: calls.buckets ?? [],
    ...(calls.after_key === undefined ? {} : { after: calls.after_key }),
  };
}

/** The document a bucket stands for: exactly the fields `observeCall` reads. */
function bucketDocument(key: Record<string, unknown>, time: string): EcsDocument {
  const text = (name: string): string | undefined =>
    typeof key[name] === "string" ? (key[name] as string) : undefined;
  const number = (name: string): number | undefined =>
    typeof key[name] === "number" ? (key[name] as number) : undefined;
  const set = <T>(value: T | undefined, build: (v: T) => Record<string, unknown>) =>
    value === undefined ? {} : build(value);
  return {
    "@timestamp": time,
    event: { kind: "event", ...set(text("outcome"), (outcome) => ({ outcome })) },
    mesh: {
      name: text("mesh") ?? "mesh",
      ...set(text("direction"), (direction) => ({ direction })),
      ...set(number("grpc"), (grpc_status_code) => ({ grpc_status_code })),
      ...set(text("principal"), (principal) => ({ source: { principal } })),
      destination: {
        ...set(text("service"), (service) => ({ service })),
        ...set(text("namespace"), (namespace) => ({ namespace })),
        ...set(text("workload"), (workload) => ({ workload })),
      },
    },
    ...set(text("pod_namespace"), (namespace) => ({ kubernetes: { namespace } })),
    ...(text("method") === undefined && number("status") === undefined
      ? {}
      : {
          http: {
            ...set(text("method"), (method) => ({ request: { method } })),
            ...set(number("status"), (status_code) => ({ response: { status_code } })),
          },
        }),
    ...(text("path") === undefined && text("domain") === undefined
      ? {}
      : {
          url: {
            ...set(text("path"), (path) => ({ path })),
            ...set(text("domain"), (domain) => ({ domain })),
          },
        }),
    ...set(number("port"), (port) => ({ destination: { port } })),
    ...(text("details") === undefined && text("authority") === undefined
      ? {}
      : {
          envoy: {
            ...set(text("details"), (response_code_details) => ({ response_code_details })),
            ...set(text("authority"), (authority) => ({ authority })),
          },
        }),
  } as unknown as EcsDocument;
}

/** The calls of the period, each distinct combination once with its count, first and last time. */
export async function callsFromSearch(
  client: IndexSearch,
  query: CallQuery,
  progress?: (page: number, buckets: number) => void,
): Promise<{ calls: ObservedCall[]; requests: number }> {
  const max = query.maxBuckets ?? DEFAULT_MAX_BUCKETS;
  const calls: ObservedCall[] = [];
  let buckets = 0;
  let requests = 0;
  await pageComposite(
    "the period's calls",
    PAGE,
    async (after) => {
      const body = {
        size: 0,
        track_total_hits: false,
        query: callsQuery(query),
        aggs: {
          calls: {
            composite: termsComposite(CALL_FIELDS, PAGE, after),
            aggs: { first: { min: { field: "@timestamp" } }, last: { max: { field: "@timestamp" } } },
          },
        },
      };
      requests++;
      const page = checkedAggregation(await client.search({ index: AUDIT_EVENTS_INDICES, body }));
      buckets += page.buckets.length;
      if (buckets > max)
        throw new PolicyIndicesError(
          `more than ${max} distinct (caller, destination, method, path, port, status) combinations between ${query.since} and ${query.until}: give a shorter --since`,
        );
      return { buckets: page.buckets, after_key: page.after };
    },
    (page) => {
      for (const bucket of page) {
        const firstMs = bucket.first?.value;
        const lastMs = bucket.last?.value;
        if (typeof firstMs !== "number" || typeof lastMs !== "number") continue;
        const first = new Date(firstMs).toISOString();
        const call = observeCall(bucketDocument(bucket.key, first));
        if (call === undefined) continue;
        calls.push({ ...call, count: bucket.doc_count, lastTime: new Date(lastMs).toISOString() });
      }
      progress?.(requests, buckets);
    },
  );
  return { calls, requests };
}

/** The resources whose audit events declare mesh authorization (see `AuditedPolicies`). */
const POLICY_RESOURCES = [
  "authorizationpolicies",
  "servers",
  "meshtlsauthentications",
  "networkauthentications",
  "serviceintentions",
];

/** The policy objects the audit events up to `until` leave in force. */
export async function auditedPoliciesFromSearch(
  client: IndexSearch,
  until: string,
): Promise<AuditedPolicies> {
  const audited = new AuditedPolicies();
  const documents = searchAll(
    client,
    AUDIT_EVENTS_INDICES,
    {
      bool: {
        filter: [
          { term: { "event.dataset": "kubernetes.audit" } },
          { terms: { "kubernetes.audit.objectRef.resource": POLICY_RESOURCES } },
          {
            terms: {
              "kubernetes.audit.objectRef.apiGroup": [
                "security.istio.io",
                "policy.linkerd.io",
                "consul.hashicorp.com",
              ],
            },
          },
          { range: { "@timestamp": { lte: until } } },
        ],
      },
    },
    "policy audit events",
  );
  for await (const doc of documents) audited.observe(doc as unknown as EcsDocument);
  return audited;
}
