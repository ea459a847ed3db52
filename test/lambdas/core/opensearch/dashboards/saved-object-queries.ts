/**
 * Reads the rendered saved objects the way OpenSearch Dashboards does, independently of the builders that made
 * them: which index pattern each visualization or search reads, which fields it aggregates, filters, sorts on or
 * shows, and the OpenSearch search request it becomes (Lucene queries as `query_string`, aggregations nested in
 * the order of `visState.aggs`, TSVB filter ratios as numerator/denominator `filter` aggregations).
 */
import { SAVED_SEARCH_REF, SEARCH_SOURCE_INDEX_REF } from "../../../../../lambdas/core/opensearch/index.js";
import { type AggSchema, type ParsedSavedObject, savedObjectSchema } from "./import-schema.js";

export type FieldUseKind =
  | "terms"
  | "date_histogram"
  | "percentiles"
  | "cardinality"
  | "max"
  | "term query"
  | "range query"
  | "exists query"
  | "sort"
  | "column"
  | "time field"
  | "field format";

export interface FieldUse {
  readonly objectId: string;
  readonly indexPatternId: string;
  readonly field: string;
  readonly kind: FieldUseKind;
}

/** Parses an import file line by line against the saved-object schema. */
export function parseNdjson(ndjson: string): ParsedSavedObject[] {
  return ndjson
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => savedObjectSchema.parse(JSON.parse(line)));
}

type IndexPattern = Extract<ParsedSavedObject, { type: "index-pattern" }>;
type Search = Extract<ParsedSavedObject, { type: "search" }>;
type Visualization = Extract<ParsedSavedObject, { type: "visualization" }>;

function byKey(objects: readonly ParsedSavedObject[], type: string, id: string): ParsedSavedObject {
  const found = objects.find((object) => object.type === type && object.id === id);
  if (found === undefined) throw new Error(`${type} "${id}" is not in the set`);
  return found;
}

function reference(object: ParsedSavedObject, name: string): { type: string; id: string } {
  const found = object.references.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`${object.type} "${object.id}" has no reference "${name}"`);
  return found;
}

/** The index pattern a search or visualization reads (through its saved search, or by TSVB index expression). */
export function indexPatternOf(
  objects: readonly ParsedSavedObject[],
  object: Search | Visualization,
): IndexPattern {
  if (object.type === "search") {
    return byKey(objects, "index-pattern", reference(object, SEARCH_SOURCE_INDEX_REF).id) as IndexPattern;
  }
  const visState = object.attributes.visState;
  if (visState.type === "metrics") {
    const found = objects.find(
      (candidate) =>
        candidate.type === "index-pattern" && candidate.attributes.title === visState.params.index_pattern,
    );
    if (found === undefined) {
      throw new Error(
        `TSVB "${object.id}" reads "${visState.params.index_pattern}", which no index pattern has as title`,
      );
    }
    return found as IndexPattern;
  }
  if (object.attributes.savedSearchRefName !== undefined) {
    const search = byKey(objects, "search", reference(object, SAVED_SEARCH_REF).id) as Search;
    return indexPatternOf(objects, search);
  }
  return byKey(objects, "index-pattern", reference(object, SEARCH_SOURCE_INDEX_REF).id) as IndexPattern;
}

/** The query of a search or visualization (a visualization on a saved search uses the search's). */
export function queryOf(
  objects: readonly ParsedSavedObject[],
  object: Search | Visualization,
): { query: string; language: string } | undefined {
  if (object.type === "visualization" && object.attributes.savedSearchRefName !== undefined) {
    return queryOf(objects, byKey(objects, "search", reference(object, SAVED_SEARCH_REF).id) as Search);
  }
  const searchSource = object.attributes.kibanaSavedObjectMeta.searchSourceJSON;
  return "query" in searchSource ? searchSource.query : undefined;
}

const LUCENE_FIELD = /(?:^|[\s(])(?:_exists_:([A-Za-z@_][A-Za-z0-9@_.]*)|([A-Za-z@_][A-Za-z0-9@_.]*):(\[)?)/g;

/** Fields a Lucene query string names, and how (`_exists_:f`, `f:[a TO b]`, `f:value`). */
export function luceneFieldUses(query: string): { field: string; kind: FieldUseKind }[] {
  const uses: { field: string; kind: FieldUseKind }[] = [];
  for (const match of query.matchAll(LUCENE_FIELD)) {
    if (match[1] !== undefined) uses.push({ field: match[1], kind: "exists query" });
    else
      uses.push({ field: match[2] as string, kind: match[3] === undefined ? "term query" : "range query" });
  }
  return uses;
}

const AGG_FIELD_KIND: Partial<Record<AggSchema["type"], FieldUseKind>> = {
  terms: "terms",
  date_histogram: "date_histogram",
  percentiles: "percentiles",
  cardinality: "cardinality",
  max: "max",
};

/** Every field every object aggregates, filters, sorts on, shows or formats, with the index pattern it belongs to. */
export function fieldUses(objects: readonly ParsedSavedObject[]): FieldUse[] {
  const uses: FieldUse[] = [];
  const add = (objectId: string, indexPatternId: string, field: string, kind: FieldUseKind) =>
    uses.push({ objectId, indexPatternId, field, kind });
  const addQuery = (objectId: string, indexPatternId: string, query: string | undefined) => {
    for (const use of luceneFieldUses(query ?? "")) add(objectId, indexPatternId, use.field, use.kind);
  };
  for (const object of objects) {
    if (object.type === "index-pattern") {
      add(object.id, object.id, object.attributes.timeFieldName, "time field");
      for (const field of Object.keys(object.attributes.fieldFormatMap))
        add(object.id, object.id, field, "field format");
    } else if (object.type === "search") {
      const pattern = indexPatternOf(objects, object).id;
      addQuery(object.id, pattern, queryOf(objects, object)?.query);
      for (const [field] of object.attributes.sort) add(object.id, pattern, field, "sort");
      for (const column of object.attributes.columns) add(object.id, pattern, column, "column");
    } else if (object.type === "visualization") {
      const pattern = indexPatternOf(objects, object).id;
      const visState = object.attributes.visState;
      if (visState.type === "metrics") {
        const panel = visState.params;
        add(object.id, pattern, panel.time_field, "date_histogram");
        if (typeof panel.filter === "object" && panel.filter !== null)
          addQuery(object.id, pattern, panel.filter.query);
        for (const series of panel.series) {
          if (series.split_mode === "terms" && typeof series.terms_field === "string") {
            add(object.id, pattern, series.terms_field, "terms");
          }
          if (typeof series.filter === "object") addQuery(object.id, pattern, series.filter.query);
          for (const metric of series.metrics) {
            addQuery(object.id, pattern, metric.numerator?.query);
            addQuery(object.id, pattern, metric.denominator?.query);
            if (typeof metric.field === "string") add(object.id, pattern, metric.field, "max");
          }
        }
      } else {
        addQuery(object.id, pattern, queryOf(objects, object)?.query);
        for (const agg of visState.aggs) {
          const kind = AGG_FIELD_KIND[agg.type];
          if (kind !== undefined && "field" in agg.params) add(object.id, pattern, agg.params.field, kind);
          if (agg.type === "filters") {
            for (const filter of agg.params.filters) addQuery(object.id, pattern, filter.input.query);
          }
        }
      }
    }
  }
  return uses;
}

/** An OpenSearch search that a visualization or saved search turns into. */
export interface SearchRequest {
  readonly objectId: string;
  readonly title: string;
  /** The index expression: the index pattern's title. */
  readonly index: string;
  readonly body: Record<string, unknown>;
}

export interface TimeRange {
  readonly from: string;
  readonly to: string;
  /** Date-histogram bucket size standing in for Dashboards' automatic interval. */
  readonly interval: string;
}

function queryString(query: { query: string; language: string } | undefined): Record<string, unknown> {
  if (query === undefined || query.query.trim() === "") return { match_all: {} };
  if (query.language !== "lucene")
    throw new Error(`only Lucene queries are translated here, got ${query.language}`);
  return { query_string: { query: query.query, analyze_wildcard: true } };
}

function boolQuery(
  timeField: string,
  range: TimeRange,
  queries: readonly ({ query: string; language: string } | undefined)[],
): Record<string, unknown> {
  return {
    bool: {
      filter: [
        ...queries.map(queryString),
        { range: { [timeField]: { gte: range.from, lte: range.to, format: "strict_date_optional_time" } } },
      ],
    },
  };
}

function metricBody(agg: AggSchema): Record<string, unknown> {
  switch (agg.type) {
    case "percentiles":
      return { percentiles: { field: agg.params.field, percents: agg.params.percents } };
    case "cardinality":
    case "max":
    case "min":
    case "avg":
    case "sum":
      return { [agg.type]: { field: agg.params.field } };
    default:
      throw new Error(`aggregation ${agg.type} is not a field metric`);
  }
}

function bucketBody(
  agg: AggSchema,
  metrics: readonly AggSchema[],
  range: TimeRange,
): Record<string, unknown> {
  switch (agg.type) {
    case "date_histogram":
      return {
        date_histogram: {
          field: agg.params.field,
          fixed_interval: range.interval,
          min_doc_count: agg.params.min_doc_count,
        },
      };
    case "terms": {
      const { orderBy, order } = agg.params;
      const metric = metrics.find((candidate) => candidate.id === orderBy);
      let ordering: Record<string, string>;
      if (orderBy === "_key") ordering = { _key: order };
      else if (orderBy === "custom" || metric?.type === "count") ordering = { _count: order };
      else ordering = { [orderBy]: order };
      return { terms: { field: agg.params.field, size: agg.params.size, order: ordering } };
    }
    case "filters":
      return {
        filters: {
          filters: Object.fromEntries(
            agg.params.filters.map((filter) => [filter.label, queryString(filter.input)]),
          ),
        },
      };
    default:
      throw new Error(`aggregation ${agg.type} is not a bucket aggregation`);
  }
}

/** Buckets nested in the order of `aggs`, the field metrics under the innermost bucket. */
export function aggregationsOf(aggs: readonly AggSchema[], range: TimeRange): Record<string, unknown> {
  const metrics = aggs.filter((agg) => agg.schema === "metric");
  let inner: Record<string, unknown> = Object.fromEntries(
    metrics.filter((agg) => agg.type !== "count").map((agg) => [agg.id, metricBody(agg)]),
  );
  for (const bucket of aggs.filter((agg) => agg.schema !== "metric").reverse()) {
    const body = bucketBody(bucket, metrics, range);
    inner = { [bucket.id]: Object.keys(inner).length === 0 ? body : { ...body, aggs: inner } };
  }
  return inner;
}

/** The search each visualization and saved search sends for the time range. */
export function searchRequests(objects: readonly ParsedSavedObject[], range: TimeRange): SearchRequest[] {
  const requests: SearchRequest[] = [];
  for (const object of objects) {
    if (object.type !== "visualization" && object.type !== "search") continue;
    const pattern = indexPatternOf(objects, object);
    const timeField = pattern.attributes.timeFieldName;
    const base = { objectId: object.id, title: object.attributes.title, index: pattern.attributes.title };
    if (object.type === "search") {
      requests.push({
        ...base,
        body: {
          size: 100,
          query: boolQuery(timeField, range, [queryOf(objects, object)]),
          sort: object.attributes.sort.map(([field, direction]) => ({ [field]: { order: direction } })),
          _source: object.attributes.columns,
        },
      });
      continue;
    }
    const visState = object.attributes.visState;
    if (visState.type === "metrics") {
      const panel = visState.params;
      const panelFilter =
        typeof panel.filter === "object" && panel.filter !== null ? panel.filter : undefined;
      for (const series of panel.series) {
        const ratios = Object.fromEntries(
          series.metrics.flatMap((metric) => [
            [`${metric.id}-numerator`, { filter: queryString(metric.numerator) }],
            [`${metric.id}-denominator`, { filter: queryString(metric.denominator) }],
          ]),
        );
        const timeseries = {
          date_histogram: { field: panel.time_field, fixed_interval: range.interval, min_doc_count: 0 },
          aggs: ratios,
        };
        const aggs =
          series.split_mode === "terms"
            ? {
                [series.id]: {
                  terms: {
                    field: series.terms_field,
                    size: Number(series.terms_size ?? 10),
                    order: { _count: series.terms_direction ?? "desc" },
                  },
                  aggs: { timeseries },
                },
              }
            : { timeseries };
        const seriesFilter = typeof series.filter === "object" ? series.filter : undefined;
        requests.push({
          ...base,
          body: {
            size: 0,
            query: boolQuery(panel.time_field, range, [
              panelFilter === undefined
                ? undefined
                : { query: panelFilter.query ?? "", language: panelFilter.language ?? "lucene" },
              seriesFilter === undefined
                ? undefined
                : { query: seriesFilter.query, language: seriesFilter.language ?? "lucene" },
            ]),
            aggs,
          },
        });
      }
      continue;
    }
    requests.push({
      ...base,
      body: {
        size: 0,
        query: boolQuery(timeField, range, [queryOf(objects, object)]),
        aggs: aggregationsOf(visState.aggs, range),
      },
    });
  }
  return requests;
}
