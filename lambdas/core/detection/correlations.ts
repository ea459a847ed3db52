/**
 * Correlation rules over OpenSearch: run the window aggregation (all composite pages), turn each window bucket
 * whose condition holds into a `Detection` (the same value the in-memory evaluator computes), and fetch the
 * matched events of the alerts that will be written.
 */

import * as z from "zod";
import type { EcsDocument } from "../ecs.js";
import type { CorrelationRule, Detection, SingleEventRule } from "../rules/types.js";
import { conditionHolds } from "../rules/windows.js";
import type { SearchClient } from "./ports.js";
import type { EvaluationRange, WindowRange } from "./queries.js";
import {
  correlationQuery,
  groupSourceName,
  singleEventCountQuery,
  singleEventQuery,
  windowEventsQuery,
} from "./queries.js";
import {
  compositeSchema,
  parseAggregation,
  parseSearchResponse,
  type SearchHit,
  SearchResponseError,
  type WindowBucket,
  windowBucketSchema,
} from "./responses.js";

const histogramsSchema = z.object({
  w0: z.object({ buckets: z.array(windowBucketSchema) }),
  w1: z.object({ buckets: z.array(windowBucketSchema) }),
});

/** The value of one window bucket, or undefined when the correlation does not fire there. */
export function bucketValue(rule: CorrelationRule, bucket: WindowBucket): number | undefined {
  const count = bucket.doc_count;
  if (count === 0 || count < rule.minCount) return undefined;
  let value: number;
  switch (rule.type) {
    case "event_count":
      value = count;
      break;
    case "value_count":
      value = bucket.distinct?.value ?? 0;
      break;
    case "failure_ratio":
      value = (bucket.failures?.doc_count ?? 0) / count;
      break;
    case "percentile": {
      const found = bucket.pct?.values[0]?.value;
      if (found === undefined || found === null) return undefined;
      value = found;
      break;
    }
    case "temporal":
      value = Object.values(bucket.rules?.buckets ?? {}).filter((entry) => entry.doc_count > 0).length;
      break;
  }
  return conditionHolds(rule.condition, value) ? value : undefined;
}

/** Detections (without events yet) of every window of the range whose condition holds, all groups. */
export async function evaluateCorrelation(
  client: SearchClient,
  index: string,
  rule: CorrelationRule,
  windows: WindowRange,
  pageSize: number,
): Promise<Detection[]> {
  const purpose = `correlation ${rule.name}`;
  const detections: Detection[] = [];
  let after: Record<string, unknown> | undefined;
  for (let page = 0; ; page++) {
    const body = correlationQuery(rule, windows, pageSize, after);
    const response = parseSearchResponse(await client.search({ index, body }), purpose);
    if (rule.groupBy.length === 0) {
      const histograms = parseAggregation(response.aggregations, histogramsSchema, purpose, "w0/w1");
      collect(rule, windows, {}, [...histograms.w0.buckets, ...histograms.w1.buckets], detections);
      return detections;
    }
    const groups = parseAggregation(response.aggregations?.groups, compositeSchema, purpose, "groups");
    for (const bucket of groups.buckets) {
      const groupBy: Record<string, string> = {};
      rule.groupBy.forEach((field, position) => {
        const value = bucket.key[groupSourceName(position)];
        if (value === undefined) {
          throw new SearchResponseError(
            `${purpose}: composite key lacks ${groupSourceName(position)} (${field})`,
          );
        }
        groupBy[field] = String(value);
      });
      collect(rule, windows, groupBy, [...bucket.w0.buckets, ...bucket.w1.buckets], detections);
    }
    if (groups.after_key === undefined || groups.buckets.length < pageSize) return detections;
    if (page > 10_000) throw new SearchResponseError(`${purpose}: composite paging did not end`);
    after = groups.after_key;
  }
}

function collect(
  rule: CorrelationRule,
  windows: WindowRange,
  groupBy: Record<string, string>,
  buckets: readonly WindowBucket[],
  out: Detection[],
): void {
  for (const bucket of buckets) {
    // Histogram buckets outside the range hold only part of their window's events: never judge them.
    if (bucket.key < windows.firstStartMs || bucket.key > windows.lastStartMs) continue;
    const value = bucketValue(rule, bucket);
    if (value === undefined) continue;
    out.push({
      rule,
      windowStart: new Date(bucket.key).toISOString(),
      windowEnd: new Date(bucket.key + rule.timespanMs).toISOString(),
      groupBy: { ...groupBy },
      count: bucket.doc_count,
      ...(rule.type === "event_count" ? {} : { value }),
      events: [],
    });
  }
}

/** The first matched events in `[fromMs, toExclusiveMs)` for the group, oldest first. */
export async function fetchWindowEvents(
  client: SearchClient,
  index: string,
  rule: CorrelationRule,
  groupBy: Readonly<Record<string, string>>,
  fromMs: number,
  toExclusiveMs: number,
): Promise<EcsDocument[]> {
  const body = windowEventsQuery(rule, groupBy, fromMs, toExclusiveMs);
  const response = parseSearchResponse(await client.search({ index, body }), `events of ${rule.name}`);
  return response.hits.hits.map((hit) => asDocument(hit, rule.name));
}

/** Documents tagged with a single-event rule in the range, oldest first, at most `limit`. */
export async function fetchSingleEventHits(
  client: SearchClient,
  index: string,
  rule: SingleEventRule,
  range: EvaluationRange,
  limit: number,
): Promise<{ documents: EcsDocument[]; total: number }> {
  const body = singleEventQuery(rule, range, limit);
  const response = parseSearchResponse(
    await client.search({ index, body }),
    `single-event rule ${rule.name}`,
  );
  const documents = response.hits.hits.map((hit) => asDocument(hit, rule.name));
  return { documents, total: response.hits.total?.value ?? documents.length };
}

/** The exact number of documents a single-event alert over `[fromMs, toMs]` and its group stands for. */
export async function countSingleEventMatches(
  client: SearchClient,
  index: string,
  rule: SingleEventRule,
  groupBy: Readonly<Record<string, string>>,
  fromMs: number,
  toMs: number,
): Promise<number> {
  const purpose = `count of ${rule.name}`;
  const body = singleEventCountQuery(rule, groupBy, fromMs, toMs);
  const total = parseSearchResponse(await client.search({ index, body }), purpose).hits.total;
  if (total === undefined || total.relation !== "eq") {
    throw new SearchResponseError(
      `${purpose}: the response has no exact hits.total (${JSON.stringify(total)})`,
    );
  }
  return total.value;
}

/** An indexed document as the ECS type, after checking the one field detection relies on. */
export function asDocument(hit: SearchHit, ruleName: string): EcsDocument {
  const timestamp = hit._source["@timestamp"];
  if (typeof timestamp !== "string" || Number.isNaN(Date.parse(timestamp))) {
    throw new SearchResponseError(
      `rule ${ruleName}: document ${hit._index}/${hit._id} has no valid @timestamp (${JSON.stringify(timestamp)})`,
    );
  }
  return hit._source as unknown as EcsDocument;
}
