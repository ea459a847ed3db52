/**
 * The searches behind source-silence rules in the detector: each source's latest `@timestamp` within the rule's
 * lookback (a `composite` aggregation on the group-by fields, missing values as their own bucket, with a `max`),
 * then the last document of each source that has gone silent. What a source is and when it is silent is
 * `rules/silence.ts` (the one definition, which replay's `SilenceTracker` also follows); the detections come from
 * its `silenceDetection`.
 */
import * as z from "zod";
import { satisfies, silenceDetection } from "../rules/silence.js";
import type { Detection, SilenceRule } from "../rules/types.js";
import { asDocument } from "./correlations.js";
import type { SearchClient } from "./ports.js";
import { groupSourceName, LATEST_EVENT_FIRST } from "./queries.js";
import {
  pageComposite,
  parseAggregation,
  parseSearchResponse,
  SearchResponseError,
  termsComposite,
} from "./responses.js";

/** Every source's latest event time in `[nowMs - lookback, nowMs]`, a page of sources at a time. */
export function sourcesQuery(
  rule: SilenceRule,
  nowMs: number,
  pageSize: number,
  after?: Record<string, unknown>,
) {
  return {
    size: 0,
    track_total_hits: false,
    query: {
      bool: {
        filter: [
          { range: { "@timestamp": { gte: nowMs - rule.lookbackMs, lte: nowMs, format: "epoch_millis" } } },
        ],
        ...excluded(rule),
      },
    },
    aggs: {
      sources: {
        composite: termsComposite(
          rule.groupBy.map((field, index) => [groupSourceName(index), field] as const),
          pageSize,
          after,
        ),
        aggs: { last: { max: { field: "@timestamp" } } },
      },
    },
  };
}

/** The source's last document at or before `nowMs` (the latest by `EVENT_ORDER`). */
export function lastDocumentQuery(
  rule: SilenceRule,
  groupBy: Readonly<Record<string, string>>,
  nowMs: number,
) {
  const filter: Record<string, unknown>[] = [
    { range: { "@timestamp": { gte: nowMs - rule.lookbackMs, lte: nowMs, format: "epoch_millis" } } },
  ];
  const mustNot: Record<string, unknown>[] = [...(excluded(rule).must_not ?? [])];
  for (const field of rule.groupBy) {
    const value = groupBy[field];
    if (value === undefined) mustNot.push({ exists: { field } });
    else filter.push({ term: { [field]: value } });
  }
  return {
    size: 1,
    track_total_hits: false,
    sort: LATEST_EVENT_FIRST,
    query: { bool: { filter, ...(mustNot.length === 0 ? {} : { must_not: mustNot }) } },
  };
}

/** Leaves out documents tagged with the rule's `excludeRules`. */
function excluded(rule: SilenceRule): { must_not?: Record<string, unknown>[] } {
  return rule.excludeRules.length === 0
    ? {}
    : { must_not: [{ terms: { "rule.name": [...rule.excludeRules] } }] };
}

const sourcesSchema = z.object({
  after_key: z.record(z.string(), z.unknown()).optional(),
  buckets: z.array(
    z.object({
      key: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
      doc_count: z.number().int(),
      last: z.object({ value: z.number().nullable() }),
    }),
  ),
});

/** Detections of the rule's sources silent at `nowMs`, and of its expected sources not seen in the lookback. */
export async function evaluateSilence(
  client: SearchClient,
  index: string,
  rule: SilenceRule,
  nowMs: number,
  pageSize: number,
): Promise<Detection[]> {
  const purpose = `silence ${rule.name}`;
  const seen: Record<string, string>[] = [];
  const silent: Record<string, string>[] = [];
  await pageComposite(
    purpose,
    pageSize,
    async (after) => {
      const response = parseSearchResponse(
        await client.search({ index, body: sourcesQuery(rule, nowMs, pageSize, after) }),
        purpose,
      );
      return parseAggregation(response.aggregations?.sources, sourcesSchema, purpose, "sources");
    },
    (buckets) => {
      for (const bucket of buckets) {
        const groupBy: Record<string, string> = {};
        rule.groupBy.forEach((field, position) => {
          const value = bucket.key[groupSourceName(position)];
          if (value !== null && value !== undefined) groupBy[field] = String(value);
        });
        // Documents with none of the fields belong to no source.
        if (Object.keys(groupBy).length === 0 || bucket.last.value === null) continue;
        seen.push(groupBy);
        if (nowMs - bucket.last.value >= rule.timespanMs) silent.push(groupBy);
      }
    },
    10_000,
  );
  const detections: Detection[] = [];
  for (const groupBy of silent) {
    const response = parseSearchResponse(
      await client.search({ index, body: lastDocumentQuery(rule, groupBy, nowMs) }),
      `last document of ${rule.name}`,
    );
    const hit = response.hits.hits[0];
    if (hit === undefined) {
      throw new SearchResponseError(
        `${purpose}: the aggregation saw source ${JSON.stringify(groupBy)} but its last document was not found`,
      );
    }
    detections.push(silenceDetection(rule, groupBy, asDocument(hit, rule.name), nowMs));
  }
  for (const expected of rule.expected) {
    if (!seen.some((source) => satisfies(source, expected))) {
      detections.push(silenceDetection(rule, expected, undefined, nowMs));
    }
  }
  return detections;
}
