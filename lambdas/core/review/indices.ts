/**
 * The documents and alerts of the review (and the posture) read from OpenSearch, fed to the same builders the files
 * feed: the audit events `reviewAuditQuery` selects (all up to the period's end, so that policy changes before the
 * period set the state), mesh traffic from the start of the previous period with the fields the reports read, the
 * service edges seen before that (a `composite` aggregation: first sighting per edge, no documents), and the
 * period's alerts with their state. Pure: the caller hands in a `search` (the SigV4-signed client in the CLI and the
 * Lambda, a plain one to the test node).
 */
import type { Alert } from "../alerts/index.js";
import { ALERTS_INDEX } from "../contracts.js";
import { type CompositePage, pageComposite, termsComposite } from "../detection/responses.js";
import { AUDIT_EVENTS_INDICES } from "../detection/run.js";
import type { EcsDocument } from "../ecs.js";
import { destinationOf, PostureBuilder, type PostureOptions, type PostureReport } from "../posture/build.js";
import { TRAFFIC_FIELDS } from "../trail/project.js";
import { type PipelineHealth, ReviewBuilder, type ReviewOptions, type ReviewReport } from "./build.js";
import { reviewAuditQuery, reviewRelevant } from "./relevant.js";

export interface IndexSearch {
  search(request: { readonly index: string; readonly body: Record<string, unknown> }): Promise<unknown>;
}

/** Documents per page. */
const PAGE = 1000;

interface Hits {
  hits?: { hits?: { _source?: Record<string, unknown>; sort?: unknown[] }[] };
  aggregations?: Record<string, unknown>;
  _shards?: { failed?: number };
}

/** A response that says shards failed is not a complete answer: the report would silently miss documents. */
function checked(response: unknown, what: string): Hits {
  const body = response as Hits;
  if ((body._shards?.failed ?? 0) > 0)
    throw new Error(`OpenSearch answered the ${what} search with ${body._shards?.failed} failed shard(s)`);
  return body;
}

/** Every document matching `query`, in `@timestamp`, `event.id` order, a page at a time (`search_after`). */
export async function* searchAll(
  client: IndexSearch,
  index: string,
  query: Record<string, unknown>,
  what: string,
  sourceIncludes?: readonly string[],
): AsyncGenerator<Record<string, unknown>> {
  let after: unknown[] | undefined;
  for (;;) {
    const body: Record<string, unknown> = {
      size: PAGE,
      query,
      sort: [
        { "@timestamp": "asc" },
        { "event.id": { order: "asc", missing: "_last", unmapped_type: "keyword" } },
      ],
      track_total_hits: false,
      ...(sourceIncludes === undefined ? {} : { _source: { includes: [...sourceIncludes] } }),
      ...(after === undefined ? {} : { search_after: after }),
    };
    const hits = checked(await client.search({ index, body }), what).hits?.hits ?? [];
    for (const hit of hits) if (hit._source !== undefined) yield hit._source;
    if (hits.length < PAGE) return;
    after = hits[hits.length - 1]?.sort;
    if (after === undefined) return;
  }
}

function range(from: string | undefined, to: string): Record<string, unknown> {
  return { range: { "@timestamp": { ...(from === undefined ? {} : { gte: from }), lte: to } } };
}

/** The audit events the reports read, up to `until`. */
export function auditDocuments(client: IndexSearch, until: string): AsyncGenerator<Record<string, unknown>> {
  const query = reviewAuditQuery() as { bool: { filter: unknown[] } };
  return searchAll(
    client,
    AUDIT_EVENTS_INDICES,
    { bool: { ...query.bool, filter: [...query.bool.filter, range(undefined, until)] } },
    "audit events",
  );
}

/** Mesh traffic in `[from, until]`, with the fields the reports read. */
export function trafficDocuments(
  client: IndexSearch,
  from: string,
  until: string,
): AsyncGenerator<Record<string, unknown>> {
  return searchAll(
    client,
    AUDIT_EVENTS_INDICES,
    {
      bool: {
        filter: [{ exists: { field: "mesh.name" } }, range(from, until)],
        must_not: [{ term: { "event.dataset": "kubernetes.audit" } }],
      },
    },
    "mesh traffic",
    TRAFFIC_FIELDS,
  );
}

/** The fields an edge is told by; `destinationOf` reads the same fields of a document. */
const EDGE_SOURCES = [
  ["cluster", "orchestrator.cluster.name"],
  ["principal", "mesh.source.principal"],
  ["service", "mesh.destination.service"],
  ["workload", "mesh.destination.workload"],
  ["namespace", "mesh.destination.namespace"],
  ["domain", "url.domain"],
  ["direction", "mesh.direction"],
  ["pod_namespace", "kubernetes.namespace"],
] as const;

/** Edges seen before `before`: the first sighting of each (source principal, destination) pair. */
export async function edgesBefore(
  client: IndexSearch,
  before: string,
): Promise<{ cluster?: string; source: string; destination: string; firstSeen: string }[]> {
  const out = new Map<string, { cluster?: string; source: string; destination: string; firstSeen: string }>();
  type EdgeBucket = { key: Record<string, unknown>; first?: { value_as_string?: string; value?: number } };
  await pageComposite<EdgeBucket>(
    "service edges",
    PAGE,
    async (after) => {
      const body = {
        size: 0,
        query: {
          bool: {
            filter: [
              { exists: { field: "mesh.source.principal" } },
              { range: { "@timestamp": { lt: before } } },
            ],
            must_not: [{ term: { "event.dataset": "kubernetes.audit" } }],
          },
        },
        aggs: {
          edges: {
            composite: termsComposite(EDGE_SOURCES, PAGE, after),
            aggs: { first: { min: { field: "@timestamp" } } },
          },
        },
      };
      const response = checked(await client.search({ index: AUDIT_EVENTS_INDICES, body }), "service edges");
      const edges = response.aggregations?.edges as CompositePage<EdgeBucket> | undefined;
      return edges ?? { buckets: [] };
    },
    (buckets) => {
      for (const bucket of buckets) {
        const k = bucket.key;
        const value = (name: string): string | undefined =>
          typeof k[name] === "string" ? (k[name] as string) : undefined;
        const doc = {
          "@timestamp": before,
          mesh: {
            name: "mesh",
            ...(value("direction") === undefined ? {} : { direction: value("direction") }),
            destination: {
              ...(value("service") === undefined ? {} : { service: value("service") }),
              ...(value("workload") === undefined ? {} : { workload: value("workload") }),
              ...(value("namespace") === undefined ? {} : { namespace: value("namespace") }),
            },
          },
          ...(value("domain") === undefined ? {} : { url: { domain: value("domain") } }),
          ...(value("pod_namespace") === undefined
            ? {}
            : { kubernetes: { namespace: value("pod_namespace") } }),
        } as unknown as EcsDocument;
        const { service, namespace } = destinationOf(doc);
        const source = value("principal");
        if (service === undefined || source === undefined) continue;
        const destination = namespace === undefined ? service : `${namespace}/${service}`;
        const firstMs = bucket.first?.value;
        const firstSeen =
          bucket.first?.value_as_string !== undefined
            ? new Date(Date.parse(bucket.first.value_as_string)).toISOString()
            : new Date(firstMs ?? Date.parse(before)).toISOString();
        const cluster = value("cluster");
        const key = `${cluster ?? ""}\u0000${source}\u0000${destination}`;
        const known = out.get(key);
        if (known === undefined || firstSeen < known.firstSeen)
          out.set(key, { ...(cluster === undefined ? {} : { cluster }), source, destination, firstSeen });
      }
    },
  );
  return [...out.values()];
}

/** The alerts of `[since, until]` with their state (`outbox.status`). */
export async function alertsOf(
  client: IndexSearch,
  since: string,
  until: string,
): Promise<{ alert: Alert; state: string }[]> {
  const out: { alert: Alert; state: string }[] = [];
  let after: unknown[] | undefined;
  for (;;) {
    const body = {
      size: PAGE,
      query: range(since, until),
      sort: [{ "@timestamp": "asc" }, { id: "asc" }],
      ...(after === undefined ? {} : { search_after: after }),
    };
    const hits = checked(await client.search({ index: ALERTS_INDEX, body }), "alerts").hits?.hits ?? [];
    for (const hit of hits) {
      const source = hit._source as (Alert & { outbox?: { status?: string } }) | undefined;
      if (source === undefined) continue;
      const { outbox, ...alert } = source;
      out.push({ alert: alert as Alert, state: outbox?.status ?? "unknown" });
    }
    if (hits.length < PAGE) return out;
    after = hits[hits.length - 1]?.sort;
    if (after === undefined) return out;
  }
}

/** The posture of `[since, until]` from the indices. */
export async function postureFromSearch(
  client: IndexSearch,
  options: PostureOptions,
): Promise<PostureReport> {
  const builder = new PostureBuilder(options);
  for await (const doc of auditDocuments(client, options.until)) {
    const relevant = reviewRelevant(doc as unknown as EcsDocument);
    if (relevant !== undefined) builder.add(relevant);
  }
  for await (const doc of trafficDocuments(client, options.since, options.until))
    builder.add(doc as unknown as EcsDocument);
  return builder.report();
}

/** The review of `[since, until]` from the indices; `pipeline` is what the caller could check of the pipeline. */
export async function reviewFromSearch(
  client: IndexSearch,
  options: ReviewOptions,
  pipeline: Omit<PipelineHealth, "silentSources">,
): Promise<ReviewReport> {
  const builder = new ReviewBuilder(options);
  const previousSince = new Date(
    Date.parse(options.since) - (Date.parse(options.until) - Date.parse(options.since)),
  ).toISOString();
  for await (const doc of auditDocuments(client, options.until)) {
    const relevant = reviewRelevant(doc as unknown as EcsDocument);
    if (relevant !== undefined) builder.add(relevant);
  }
  for await (const doc of trafficDocuments(client, previousSince, options.until))
    builder.add(doc as unknown as EcsDocument);
  for (const edge of await edgesBefore(client, previousSince)) builder.addEdgeBaseline(edge);
  for (const { alert, state } of await alertsOf(client, options.since, options.until))
    builder.addAlert(alert, state);
  return builder.report(pipeline);
}
