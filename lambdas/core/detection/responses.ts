/**
 * Validation of OpenSearch response bodies. A response the detector cannot read, or one that only covers part
 * of the data (shard failures, timeouts), fails the run with a message naming the query and the problem: a
 * silent partial answer would lose alerts.
 */
import * as z from "zod";
import type { ExactField, FieldValues, MatchedSummary } from "../alerts/matched.js";
import type { SearchClient } from "./ports.js";
import { EVENT_ORDER, matchedDistinctName, matchedValuesName } from "./queries.js";

export class SearchResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SearchResponseError";
  }
}

/** One page of a composite aggregation: its buckets and the key to ask the next page after. */
export interface CompositePage<B> {
  readonly after_key?: Record<string, unknown> | undefined;
  readonly buckets: readonly B[];
}

/**
 * Pages a composite aggregation to its end, the one loop every composite query of the detector uses. `fetch(after,
 * page)` sends one page's search and returns its composite, or `undefined` when there is nothing to page (no index
 * matched); `visit` takes each page's buckets in order. Paging ends at a short page or a page without `after_key`,
 * and a query that would page past `maxPages` fails naming `purpose` rather than looping.
 */
export async function pageComposite<B>(
  purpose: string,
  pageSize: number,
  fetch: (after: Record<string, unknown> | undefined, page: number) => Promise<CompositePage<B> | undefined>,
  visit: (buckets: readonly B[]) => void | Promise<void>,
  maxPages = 100_000,
): Promise<void> {
  let after: Record<string, unknown> | undefined;
  for (let page = 0; ; page++) {
    const composite = await fetch(after, page);
    if (composite === undefined) return;
    await visit(composite.buckets);
    if (composite.after_key === undefined || composite.buckets.length < pageSize) return;
    if (page >= maxPages) throw new SearchResponseError(`${purpose}: composite paging did not end`);
    after = composite.after_key;
  }
}

/** The searches a run has sent so far (for the benchmark), counted by whoever sends one. */
export interface RequestCounter {
  requests: number;
}

/**
 * Every document of `index` matching `filter`, in event order (`EVENT_ORDER`), read a page of `pageSize` at a time
 * with `search_after`, the one loop the stateful rules read events with: `visit` takes each hit in order, and each
 * page's search counts on `counter`. A full page whose last hit has no sort values fails naming `purpose`.
 */
export async function pageEvents(
  client: SearchClient,
  request: {
    readonly index: string;
    readonly filter: readonly Record<string, unknown>[];
    readonly pageSize: number;
    readonly purpose: string;
  },
  counter: RequestCounter,
  visit: (hit: SearchHit) => void,
): Promise<void> {
  const { index, filter, pageSize, purpose } = request;
  let after: unknown[] | undefined;
  for (;;) {
    const body = {
      size: pageSize,
      track_total_hits: false,
      sort: EVENT_ORDER,
      query: { bool: { filter } },
      ...(after === undefined ? {} : { search_after: after }),
    };
    counter.requests++;
    const response = parseSearchResponse(await client.search({ index, body }), purpose);
    for (const hit of response.hits.hits) visit(hit);
    const last = response.hits.hits[response.hits.hits.length - 1];
    if (response.hits.hits.length < pageSize || last === undefined) return;
    if (last.sort === undefined) throw new SearchResponseError(`${purpose}: a hit without sort values`);
    after = last.sort;
  }
}

/**
 * The earliest `size` events matching `filter` (and none of `mustNot`), in event order, in one search: the events a
 * stateful rule's alert holds. `exactTotal` also asks how many match in all (`hits.total`). The search counts on
 * `counter`; a response the detector cannot read fails naming `purpose`.
 */
export async function searchEarliestEvents(
  client: SearchClient,
  request: {
    readonly index: string;
    readonly filter: readonly Record<string, unknown>[];
    readonly mustNot?: readonly Record<string, unknown>[];
    readonly size: number;
    readonly exactTotal?: boolean;
    readonly purpose: string;
  },
  counter: RequestCounter,
): Promise<SearchResponse> {
  const { index, filter, mustNot, size, exactTotal = false, purpose } = request;
  const body = {
    size,
    track_total_hits: exactTotal,
    sort: EVENT_ORDER,
    query: { bool: { filter, ...(mustNot === undefined ? {} : { must_not: mustNot }) } },
  };
  counter.requests++;
  return parseSearchResponse(await client.search({ index, body }), purpose);
}

/**
 * The `composite` of one page that `pageComposite` pages: a bucket per distinct combination of the `sources` fields
 * (`[name, field]`, a missing value being a bucket of its own), `size` buckets a page, after `after`.
 */
export function termsComposite(
  sources: readonly (readonly [name: string, field: string])[],
  size: number,
  after: Record<string, unknown> | undefined,
): Record<string, unknown> {
  return {
    size,
    sources: sources.map(([name, field]) => ({ [name]: { terms: { field, missing_bucket: true } } })),
    ...(after === undefined ? {} : { after }),
  };
}

export const hitSchema = z.object({
  _index: z.string(),
  _id: z.string(),
  _source: z.record(z.string(), z.unknown()),
  _seq_no: z.number().int().optional(),
  _primary_term: z.number().int().optional(),
  /** The hit's sort values, when the search was sorted (`search_after` takes them). */
  sort: z.array(z.unknown()).optional(),
});

export type SearchHit = z.infer<typeof hitSchema>;

const hitsSchema = z.object({
  total: z.object({ value: z.number().int(), relation: z.string() }).optional(),
  hits: z.array(hitSchema),
});

const searchResponseSchema = z.object({
  timed_out: z.boolean().optional(),
  _shards: z
    .object({
      total: z.number().int(),
      successful: z.number().int(),
      failed: z.number().int(),
      failures: z.array(z.unknown()).optional(),
    })
    .optional(),
  hits: hitsSchema,
  aggregations: z.record(z.string(), z.unknown()).optional(),
});

export type SearchResponse = z.infer<typeof searchResponseSchema>;

/** Validates a `_search` response and rejects partial results. `purpose` names the query in errors. */
export function parseSearchResponse(body: unknown, purpose: string): SearchResponse {
  const parsed = searchResponseSchema.safeParse(body);
  if (!parsed.success) {
    throw new SearchResponseError(`${purpose}: unexpected search response: ${z.prettifyError(parsed.error)}`);
  }
  const response = parsed.data;
  if (response.timed_out === true)
    throw new SearchResponseError(`${purpose}: the search timed out (partial results)`);
  if (response._shards !== undefined && response._shards.failed > 0) {
    const reason = JSON.stringify(response._shards.failures?.[0] ?? {}).slice(0, 300);
    throw new SearchResponseError(
      `${purpose}: ${response._shards.failed} of ${response._shards.total} shards failed (partial results): ${reason}`,
    );
  }
  return response;
}

/** Reads an aggregation result with `schema`; errors name the query and the aggregation path. */
export function parseAggregation<T extends z.ZodType>(
  value: unknown,
  schema: T,
  purpose: string,
  path: string,
): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new SearchResponseError(
      `${purpose}: unexpected aggregation ${path}: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/** A date_histogram bucket with the sub-aggregations the correlation queries add. */
export const windowBucketSchema = z.object({
  key: z.number(),
  doc_count: z.number().int(),
  distinct: z.object({ value: z.number() }).optional(),
  failures: z.object({ doc_count: z.number().int() }).optional(),
  pct: z.object({ values: z.array(z.object({ key: z.number(), value: z.number().nullable() })) }).optional(),
  rules: z.object({ buckets: z.record(z.string(), z.object({ doc_count: z.number().int() })) }).optional(),
  /** Percentile candidates (phase 1): documents with the field, and values beyond the threshold. */
  values: z.object({ value: z.number() }).optional(),
  beyond: z.object({ doc_count: z.number().int() }).optional(),
});

export type WindowBucket = z.infer<typeof windowBucketSchema>;

/**
 * A correlation query's windows: the two window histograms (`w0`, `w1`), or the hop slots the windows add up from
 * (`slots`, `windowsAddUp` in `queries.ts`).
 */
export const windowHistogramsSchema = z.object({
  w0: z.object({ buckets: z.array(windowBucketSchema) }).optional(),
  w1: z.object({ buckets: z.array(windowBucketSchema) }).optional(),
  slots: z.object({ buckets: z.array(windowBucketSchema) }).optional(),
});

export type WindowHistograms = z.infer<typeof windowHistogramsSchema>;

export const compositeSchema = z.object({
  after_key: z.record(z.string(), z.unknown()).optional(),
  buckets: z.array(
    z
      .object({
        key: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
        doc_count: z.number().int(),
      })
      .extend(windowHistogramsSchema.shape),
  ),
});

const compositeValuesSchema = z.object({
  after_key: z.record(z.string(), z.unknown()).optional(),
  buckets: z.array(z.object({ key: z.object({ v: z.union([z.string(), z.number(), z.boolean()]) }) })),
});
/** A single-value metric aggregation's answer (`min`, `max`, `cardinality`). */
export const metricSchema = z.object({ value: z.number().nullable() });
const termsValuesSchema = z.object({
  buckets: z.array(
    z.object({ key: z.union([z.string(), z.number(), z.boolean()]), key_as_string: z.string().optional() }),
  ),
});

/** How `values_<i>` lists its values: a top-level `composite` or a `terms` under a bucket. */
export type ListedShape = "composite" | "terms";

/**
 * The values a `values_<i>` aggregation lists, in its order: a top-level `composite` (`matchedAggregations`) or a
 * `terms` in key order under a bucket (`matchedBucketAggregations`, where a boolean's key is 1 or 0 and its text
 * `key_as_string`).
 */
function listedValues(
  aggregation: unknown,
  field: ExactField,
  shape: ListedShape,
  purpose: string,
  name: string,
): (string | number | boolean)[] {
  if (shape === "composite") {
    return parseAggregation(aggregation, compositeValuesSchema, purpose, name).buckets.map(
      (bucket) => bucket.key.v,
    );
  }
  return parseAggregation(aggregation, termsValuesSchema, purpose, name).buckets.map((bucket) =>
    field.type === "boolean" && typeof bucket.key !== "boolean"
      ? bucket.key_as_string === "true" || bucket.key === 1
      : bucket.key,
  );
}

/**
 * Reads `matchedAggregations` over `fields` (`shape` "terms": `matchedBucketAggregations` under a bucket):
 * undefined when no document matched (no first time). A field's total is the number of values listed while fewer
 * than `kept + 1` came back, else the larger of that and the `cardinality` (`kept + 1` under a bucket without one).
 */
export function parseMatched(
  aggregations: Record<string, unknown> | undefined,
  fields: readonly ExactField[],
  kept: number,
  purpose: string,
  shape: ListedShape = "composite",
): MatchedSummary | undefined {
  const first = parseAggregation(aggregations?.matched_first, metricSchema, purpose, "matched_first").value;
  const last = parseAggregation(aggregations?.matched_last, metricSchema, purpose, "matched_last").value;
  if (first === null || last === null) return undefined;
  const values: Record<string, FieldValues> = {};
  fields.forEach((field, index) => {
    const { path } = field;
    const name = matchedValuesName(index);
    const listed = listedValues(aggregations?.[name], field, shape, purpose, name);
    if (listed.length === 0) return;
    const distinctName = matchedDistinctName(index);
    // Under a bucket the distinct count is asked for separately (`matchedBucketAggregations`): without it, a field
    // listing more than `kept` values has a total of `kept + 1` (more than it lists), for `withTotals` to complete.
    const estimate =
      shape === "terms" && aggregations?.[distinctName] === undefined
        ? undefined
        : parseAggregation(aggregations?.[distinctName], metricSchema, purpose, distinctName).value;
    const total = listed.length <= kept ? listed.length : Math.max(listed.length, estimate ?? 0);
    values[path] = { values: listed.slice(0, kept), total };
  });
  return { firstMs: first, lastMs: last, values };
}
