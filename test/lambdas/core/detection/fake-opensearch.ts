/**
 * A fake OpenSearch for detection tests: the alerts index is a real in-memory document store with OpenSearch's
 * `op_type=create`, `if_seq_no`/`if_primary_term` and `_seq_no` semantics and the two alert queries the detector
 * sends; searches on the audit indices are answered from recorded responses (JSON fixtures in the real shape).
 * Failures can be injected per operation.
 */
import { valuesAt } from "../../../../lambdas/core/alerts/fields.js";
import { compareIndexed, exactTypeOf, indexedValue } from "../../../../lambdas/core/alerts/matched.js";
import type {
  BulkResult,
  BulkWrite,
  MultiSearchAnswer,
  SearchClient,
  StoredDocument,
  WriteRequest,
  WriteResult,
} from "../../../../lambdas/core/detection/ports.js";

export type AuditResponder = (body: Record<string, unknown>) => unknown;

interface Stored {
  source: Record<string, unknown>;
  seqNo: number;
  primaryTerm: number;
}

export class OpenSearchUnavailable extends Error {
  constructor(operation: string) {
    super(`ConnectionError: ${operation}: connect ECONNREFUSED`);
    this.name = "ConnectionError";
  }
}

export class FakeOpenSearch implements SearchClient {
  readonly documents = new Map<string, Stored>();
  readonly searches: { index: string; body: Record<string, unknown> }[] = [];
  readonly writes: WriteRequest[] = [];
  private seqNo = 0;
  /** Return true to make the matching call fail with a connection error. */
  failWrite: (request: WriteRequest) => boolean = () => false;
  failSearch: (index: string, body: Record<string, unknown>) => boolean = () => false;
  failGet = false;
  /** Return true to make a whole `_bulk` (or `_msearch`) request fail with a connection error. */
  failBulk: (writes: readonly BulkWrite[]) => boolean = () => false;
  failMsearch = false;
  /** Requests per kind, as the detector sent them. */
  readonly requests = { msearch: 0, bulk: 0 };

  constructor(
    private readonly alertsIndex: string,
    private readonly audit: AuditResponder,
  ) {}

  async search(request: { index: string; body: Record<string, unknown> }): Promise<unknown> {
    this.searches.push(request);
    await Promise.resolve();
    if (this.failSearch(request.index, request.body)) throw new OpenSearchUnavailable("search");
    if (request.index !== this.alertsIndex) {
      if ((request.body.aggs as Record<string, unknown> | undefined)?.alerts !== undefined) {
        return countedAlerts(request.body, (body) => withMatchedAggregations(body, this.audit(body)));
      }
      return withMatchedAggregations(request.body, this.audit(request.body));
    }
    const query = JSON.stringify(request.body.query);
    const ids = (request.body.query as { ids?: { values: string[] } } | undefined)?.ids?.values;
    const hits = [...this.documents.entries()]
      .filter(([id, doc]) =>
        ids !== undefined
          ? ids.includes(id)
          : query.includes("outbox.status")
            ? isRetryable(doc.source, query)
            : isRecent(doc.source, request.body),
      )
      .map(([id, doc]) => ({
        _index: this.alertsIndex,
        _id: id,
        _score: null,
        _seq_no: doc.seqNo,
        _primary_term: doc.primaryTerm,
        _source: structuredClone(doc.source),
      }));
    return {
      took: 1,
      timed_out: false,
      _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
      hits: { total: { value: hits.length, relation: "eq" }, max_score: null, hits },
    };
  }

  async get(request: { index: string; id: string }): Promise<StoredDocument | undefined> {
    await Promise.resolve();
    if (this.failGet) throw new OpenSearchUnavailable("get");
    const doc = this.documents.get(request.id);
    return doc === undefined
      ? undefined
      : {
          id: request.id,
          source: structuredClone(doc.source),
          seqNo: doc.seqNo,
          primaryTerm: doc.primaryTerm,
        };
  }

  /** The fake's alerts are searchable as soon as written: counts the calls only. */
  refreshes = 0;
  async refresh(): Promise<void> {
    this.refreshes++;
    await Promise.resolve();
  }

  async write(request: WriteRequest): Promise<WriteResult> {
    this.writes.push(request);
    await Promise.resolve();
    if (this.failWrite(request)) throw new OpenSearchUnavailable("index");
    const current = this.documents.get(request.id);
    if (request.create === true && current !== undefined) return { outcome: "conflict" };
    if (request.ifSeqNo !== undefined) {
      if (
        current === undefined ||
        current.seqNo !== request.ifSeqNo ||
        current.primaryTerm !== request.ifPrimaryTerm
      ) {
        return { outcome: "conflict" };
      }
    }
    this.seqNo++;
    this.documents.set(request.id, {
      source: JSON.parse(JSON.stringify(request.document)) as Record<string, unknown>,
      seqNo: this.seqNo,
      primaryTerm: 1,
    });
    return { outcome: "written", seqNo: this.seqNo, primaryTerm: 1 };
  }

  /** Each search as `search` answers it; a search `failSearch` picks fails alone, as the node reports it. */
  async msearch(request: {
    index: string;
    bodies: readonly Record<string, unknown>[];
  }): Promise<MultiSearchAnswer[]> {
    this.requests.msearch++;
    await Promise.resolve();
    if (this.failMsearch) throw new OpenSearchUnavailable("msearch");
    const answers: MultiSearchAnswer[] = [];
    for (const body of request.bodies) {
      try {
        answers.push({ ok: true, body: await this.search({ index: request.index, body }) });
      } catch (error) {
        answers.push({ ok: false, error: `status 503: ${(error as Error).message}` });
      }
    }
    return answers;
  }

  /** Each write as `write` makes it; a write `failWrite` picks fails alone, as the node reports it. */
  async bulk(request: { index: string; writes: readonly BulkWrite[] }): Promise<BulkResult[]> {
    this.requests.bulk++;
    await Promise.resolve();
    if (this.failBulk(request.writes)) throw new OpenSearchUnavailable("bulk");
    const results: BulkResult[] = [];
    for (const write of request.writes) {
      try {
        results.push(await this.write({ ...write, index: request.index }));
      } catch (error) {
        results.push({ outcome: "failed", error: `status 503: ${(error as Error).message}` });
      }
    }
    return results;
  }

  /** The stored alert documents' outbox status by id. */
  statuses(): Record<string, string> {
    return Object.fromEntries(
      [...this.documents.entries()].map(([id, doc]) => [
        id,
        (doc.source.outbox as { status: string }).status,
      ]),
    );
  }
}

function isRetryable(source: Record<string, unknown>, query: string): boolean {
  const outbox = source.outbox as { status: string; leaseUntil?: string };
  if (outbox.status === "pending") return true;
  if (outbox.status !== "publishing" || outbox.leaseUntil === undefined) return false;
  const match = /"lt":"([^"]+)"/.exec(query);
  return match !== null && outbox.leaseUntil < (match[1] as string);
}

function isRecent(source: Record<string, unknown>, body: Record<string, unknown>): boolean {
  const text = JSON.stringify(body.query);
  const names = /"terms":\{"rule\.name":(\[[^\]]*\])/.exec(text);
  const since = /"gte":"([^"]+)"/.exec(text);
  const rule = (source.rule as { name: string }).name;
  const end = (source.window as { end: string }).end;
  return (
    names !== null &&
    (JSON.parse(names[1] as string) as string[]).includes(rule) &&
    since !== null &&
    end >= (since[1] as string)
  );
}

/**
 * The alert summary aggregations (`matchedAggregations`) a recorded response lacks, computed over the hits it
 * returns as OpenSearch would over those documents (a count response has no hits: no first time, no summary).
 */
function withMatchedAggregations(body: Record<string, unknown>, response: unknown): unknown {
  const aggs = body.aggs as Record<string, Record<string, unknown>> | undefined;
  const answer = response as {
    hits?: { hits?: { _source: Record<string, unknown> }[] };
    aggregations?: object;
  };
  if (aggs?.matched_first === undefined || answer.aggregations !== undefined) return response;
  const sources = (answer.hits?.hits ?? []).map((hit) => hit._source);
  const times = sources.map((source) => Date.parse(String(source["@timestamp"])));
  const aggregations: Record<string, unknown> = {
    matched_first: { value: times.length === 0 ? null : Math.min(...times) },
    matched_last: { value: times.length === 0 ? null : Math.max(...times) },
  };
  for (const [name, agg] of Object.entries(aggs)) {
    const composite = agg.composite as
      | { size: number; sources: { v: { terms: { field: string } } }[] }
      | undefined;
    if (!name.startsWith("values_") || composite === undefined) continue;
    const field = composite.sources[0]?.v.terms.field ?? "";
    const type = exactTypeOf(field);
    if (type === undefined) throw new Error(`the fake aggregates only exact fields, not ${field}`);
    const values = new Set<string | number | boolean>();
    for (const source of sources) {
      for (const raw of valuesAt(source, field)) {
        const value = indexedValue(type, raw);
        if (value !== undefined) values.add(value);
      }
    }
    const sorted = [...values].sort(compareIndexed(type));
    aggregations[name] = {
      buckets: sorted.slice(0, composite.size).map((v) => ({ key: { v }, doc_count: 1 })),
    };
    aggregations[name.replace("values_", "distinct_")] = { value: values.size };
  }
  return { ...answer, aggregations };
}

/**
 * A query with a `filters` bucket per alert (`singleEventCountsQuery`, `windowEventsQuery`) answered as the alerts'
 * own queries would be, each bucket from the recorded answer to the request's query and its filter together: its
 * `doc_count` that answer's exact total, its first events (`first_events`, where asked) that answer's hits, its
 * values (`terms` in key order) and distinct counts those of the answer's documents.
 */
function countedAlerts(
  body: Record<string, unknown>,
  answer: (body: Record<string, unknown>) => unknown,
): unknown {
  const counted = (
    body.aggs as {
      alerts: {
        filters: { filters: Record<string, unknown> };
        aggs: Record<string, Record<string, unknown>>;
      };
    }
  ).alerts;
  const { first_events: firstEvents, ...sub } = counted.aggs;
  const topHits = firstEvents?.top_hits as { size: number; sort: unknown } | undefined;
  const aggs: Record<string, unknown> = {};
  for (const [name, agg] of Object.entries(sub)) {
    const terms = agg.terms as { field: string; size: number } | undefined;
    aggs[name] =
      terms === undefined
        ? agg
        : { composite: { size: terms.size, sources: [{ v: { terms: { field: terms.field } } }] } };
  }
  const shared = (body.query as { bool: { filter: Record<string, { should?: unknown }>[] } }).bool.filter;
  // A correlation's events query keeps only its alerts' documents (a should of their filters); asked without its
  // events it is answered as the events query, without them.
  const correlation = shared.some((clause) => clause.bool?.should !== undefined);
  const buckets: Record<string, unknown> = {};
  for (const [name, filter] of Object.entries(counted.filters.filters)) {
    const query = { bool: { filter: [...shared, filter] } };
    const one = answer(
      topHits === undefined && !correlation
        ? { size: 0, track_total_hits: true, query, aggs }
        : { size: topHits?.size ?? 20, track_total_hits: false, sort: topHits?.sort, query, aggs },
    ) as {
      hits: { total?: { value: number }; hits?: unknown[] };
      aggregations?: Record<string, { buckets?: { key: { v: unknown } }[] }>;
    };
    const aggregations: Record<string, unknown> = {};
    for (const [aggName, value] of Object.entries(one.aggregations ?? {})) {
      aggregations[aggName] =
        value.buckets === undefined
          ? value
          : { buckets: value.buckets.map((bucket) => ({ key: bucket.key.v, doc_count: 1 })) };
    }
    buckets[name] = {
      doc_count: one.hits.total?.value ?? one.hits.hits?.length ?? 0,
      ...(topHits === undefined ? {} : { first_events: { hits: { hits: one.hits.hits ?? [] } } }),
      ...aggregations,
    };
  }
  return {
    took: 1,
    timed_out: false,
    _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
    hits: { hits: [] },
    aggregations: { alerts: { buckets } },
  };
}

/**
 * A client for tests of one query: each search's body is recorded in `bodies` and answered by `answer`; reads,
 * writes and refreshes do nothing, and `_msearch` or `_bulk` fail the test.
 */
export function searchOnly(answer: AuditResponder): {
  client: SearchClient;
  bodies: Record<string, unknown>[];
} {
  const bodies: Record<string, unknown>[] = [];
  const client: SearchClient = {
    search: async ({ body }) => {
      bodies.push(body);
      return answer(body);
    },
    get: async () => undefined,
    write: async () => ({ outcome: "conflict" }),
    refresh: async () => {},
    msearch: async () => {
      throw new Error("this test expects no _msearch");
    },
    bulk: async () => {
      throw new Error("this test expects no _bulk");
    },
  };
  return { client, bodies };
}
