/**
 * Behavioural rules (`new_value`, `geo`) in the detector: the semantics of `rules/behaviour.ts`, fed by OpenSearch.
 *
 * Each rule keeps a baseline (`BaselineState`: when each key and group was last seen, the trail's start for the
 * rule, follow-ups waiting for their window) in one document of the alerts index, `_id` `baseline.<rule>`, with
 * `throughMs`: every event before it has been judged and folded in. A run:
 *
 * 1. reads the baseline (none yet: the trail's start is the earliest event tagged with the rule's inputs);
 * 2. judges the events of `[throughMs, now - lookback)`, a stretch of at most `learning` (and a day) at a time:
 *    one `composite` aggregation per stretch gives each key's first and last time there (and, with `known-for`,
 *    each group's), which `isNewAndEstablished` judges against the baseline before the stretch and `foldKey` /
 *    `foldGroup` fold in; `impossible_travel` reads the stretch's located events in order instead;
 * 3. counts each waiting follow-up once its window `[first, first + timespan)` has settled;
 * 4. after the run's alerts are written (`commit`), writes the baseline back (optimistic concurrency).
 *
 * So a run reads only the events since the last one, whatever the learning period (the cost does not grow with it),
 * and judges an event once no event before it can still arrive within the look-back: the same decisions as replay
 * on the same events. An event later than the look-back is never judged, and reaches the baseline at the next
 * rebuild: every `rebuildEveryMs` the baseline is recomputed from `learning + known-for` of history (which decides
 * every later event exactly as the incremental one), picking up such late events. `impossible_travel` keeps each
 * group's last event in each of its most recent countries (`MAX_TRAVEL_LOCATIONS`) and is not rebuilt.
 */
import type { EcsDocument } from "../ecs.js";
import type { CountryLookup } from "../geo/index.js";
import {
  type BaselineState,
  conditionMet,
  emptyBaseline,
  firstSightingDetection,
  foldGroup,
  foldKey,
  foldTrailStart,
  followUpDetection,
  isNewAndEstablished,
  keyFields,
  keyOf,
  prune,
  readBehaviourKey,
  travelStep,
  upgradeBaseline,
} from "../rules/behaviour.js";
import type { BehaviourRule, Detection } from "../rules/types.js";
import { DETECTION_EVENT_CAP } from "../rules/types.js";
import { asDocument } from "./correlations.js";
import { evaluateMode } from "./mode.js";
import type { SearchClient } from "./ports.js";
import { halfOpenTimeRange, taggedWith } from "./queries.js";
import {
  type CompositePage,
  pageComposite,
  pageEvents,
  parseSearchResponse,
  type RequestCounter,
  SearchResponseError,
  searchEarliestEvents,
} from "./responses.js";
import { readRuleState, ruleProgress, ruleStateText } from "./rule-state.js";

export { baselineId } from "./rule-state.js";

export interface BehaviourRunOptions {
  readonly nowMs: number;
  /** Events are judged once older than this (late records within it still count). */
  readonly lookbackMs: number;
  /** Events further back than this before `now` are folded into the baseline without being judged. */
  readonly maxCatchUpMs: number;
  /** The audit indices. */
  readonly index: string;
  /** Where the baseline document lives. */
  readonly alertsIndex: string;
  /** @default 24 hours */
  readonly rebuildEveryMs?: number;
  /** Country of an address (`geo` rules). */
  readonly geo?: CountryLookup;
  /** Keys per composite page of a stretch. @default BASELINE_KEYS_PER_PAGE */
  readonly pageSize?: number;
  /** Located events per page (`impossible_travel`). @default 1000 */
  readonly eventsPageSize?: number;
}

/**
 * Keys (and groups) per composite page of a stretch. Each page reads every event of the stretch again, so a page
 * holds as many keys as fit comfortably: a bucket is its key's ordinals and two `min`/`max` values (well under 200
 * bytes on the node, about 150 in the response), so a page is at most about 2 MB either side, and a minute of
 * 1,000 callers × 8 dependencies is one page instead of eight.
 */
export const BASELINE_KEYS_PER_PAGE = 10_000;

export interface BehaviourProgress {
  readonly detections: Detection[];
  /** A range folded without being judged (beyond the catch-up limit, after the first run). */
  readonly skipped: { readonly fromMs: number; readonly toMs: number } | undefined;
  /** Requests sent to OpenSearch (for the benchmark). */
  readonly requests: number;
  /** Writes the advanced baseline; call once the detections are written. Resolves false on a concurrent write. */
  commit(): Promise<boolean>;
}

const DAY_MS = 86_400_000;
export const DEFAULT_REBUILD_EVERY_MS = DAY_MS;

/** Evaluates one behavioural rule up to `now - lookback`. */
export async function evaluateBehaviour(
  client: SearchClient,
  rule: BehaviourRule,
  options: BehaviourRunOptions,
): Promise<BehaviourProgress> {
  // The effective-mode kind keeps its own state (`mode.ts`), in the same place.
  if (rule.type === "mtls_mode") return evaluateMode(client, rule, options);
  const counter: RequestCounter = { requests: 0 };
  const settleMs = options.nowMs - options.lookbackMs;
  const stored = await readRuleState(client, options.alertsIndex, rule);
  counter.requests++;
  let state: BaselineState;
  let first = false;
  if (stored === undefined) {
    first = true;
    state = emptyBaseline(settleMs);
    const start = await earliestEvent(client, rule, options, counter);
    if (start !== undefined && start < settleMs) state.throughMs = start;
    state.rebuiltAtMs = options.nowMs;
  } else {
    state = parseBaseline(stored.source, rule);
    const rebuildEvery = options.rebuildEveryMs ?? DEFAULT_REBUILD_EVERY_MS;
    if (
      rule.behaviour.geo !== "impossible_travel" &&
      (state.rebuiltAtMs ?? 0) + rebuildEvery <= options.nowMs
    ) {
      state = await rebuild(client, rule, state, options, counter);
    }
  }

  const detections: Detection[] = [];
  let skipped: { fromMs: number; toMs: number } | undefined;
  const judgeFrom = settleMs - options.maxCatchUpMs;
  const stretch = Math.min(rule.behaviour.learningMs, DAY_MS);
  while (state.throughMs < settleMs) {
    const from = state.throughMs;
    let to = Math.min(from + stretch, settleMs);
    const judge = from >= judgeFrom;
    if (!judge) {
      to = Math.min(to, judgeFrom);
      if (!first) skipped = { fromMs: skipped?.fromMs ?? from, toMs: to };
    }
    await stretchStep(client, rule, state, from, to, judge, options, counter, detections);
    state.throughMs = to;
  }
  await settleFollowUps(client, rule, state, settleMs, options, counter, detections);
  prune(rule, state, settleMs);

  return ruleProgress(client, options.alertsIndex, rule, { detections, skipped, counter }, stored, state);
}

/** Reads a stored baseline; one that cannot be read is rebuilt (the error names the rule). */
export function parseBaseline(source: Record<string, unknown>, rule: BehaviourRule): BaselineState {
  const parsed = JSON.parse(ruleStateText(source, "baseline", rule)) as { version?: unknown };
  const state = upgradeBaseline(parsed);
  if (state === undefined)
    throw new SearchResponseError(
      `baseline of ${rule.name}: unknown state version ${String(parsed.version)}`,
    );
  return state;
}

/**
 * Recomputes the baseline from `learning + known-for` of history before `throughMs` (keeping the trail's start and
 * the waiting follow-ups): a group seen continuously since before that horizon gets a later `since`, but one at
 * most `learning` after the horizon, so every later decision (`since <= t - known-for` for `t >= throughMs`) is the
 * same. Late events the incremental folds missed are in.
 */
async function rebuild(
  client: SearchClient,
  rule: BehaviourRule,
  stored: BaselineState,
  options: BehaviourRunOptions,
  counter: RequestCounter,
): Promise<BaselineState> {
  const state = emptyBaseline(stored.throughMs);
  state.trailStartMs = stored.trailStartMs;
  state.pending = stored.pending;
  state.rebuiltAtMs = options.nowMs;
  const horizon = stored.throughMs - rule.behaviour.learningMs - rule.behaviour.knownForMs;
  let from = Math.max(horizon, stored.trailStartMs ?? horizon);
  const stretch = Math.min(rule.behaviour.learningMs, DAY_MS);
  while (from < stored.throughMs) {
    const to = Math.min(from + stretch, stored.throughMs);
    await stretchStep(client, rule, state, from, to, false, options, counter, []);
    from = to;
  }
  return state;
}

async function earliestEvent(
  client: SearchClient,
  rule: BehaviourRule,
  options: BehaviourRunOptions,
  counter: RequestCounter,
): Promise<number | undefined> {
  const body = {
    size: 0,
    track_total_hits: false,
    query: { bool: { filter: [taggedWith(rule.rules)] } },
    aggs: { first: { min: { field: "@timestamp" } } },
  };
  counter.requests++;
  const response = parseSearchResponse(
    await client.search({ index: options.index, body }),
    `start of ${rule.name}`,
  );
  const value = (response.aggregations?.first as { value?: number | null } | undefined)?.value;
  return value === null || value === undefined ? undefined : value;
}

interface KeyStretch {
  readonly groupValues: Record<string, string>;
  readonly groupBy: Record<string, string>;
  firstMs: number;
  lastMs: number;
  /** `new_country`: the addresses of the key (for its first events). */
  readonly ips: Set<string>;
}

/** Judges (when `judge`) and folds the events of `[from, to)`. */
async function stretchStep(
  client: SearchClient,
  rule: BehaviourRule,
  state: BaselineState,
  from: number,
  to: number,
  judge: boolean,
  options: BehaviourRunOptions,
  counter: RequestCounter,
  out: Detection[],
): Promise<void> {
  if (rule.behaviour.geo === "impossible_travel") {
    await travelStretch(client, rule, state, from, to, options, counter, out);
    return;
  }
  const geoRule = rule.type === "geo";
  const fields = geoRule ? [...rule.groupBy, rule.behaviour.ipField as string] : [...keyFields(rule)];
  const keys = new Map<string, KeyStretch>();
  const earliest = await forEachComposite(
    client,
    rule,
    fields,
    from,
    to,
    options,
    counter,
    (values, firstMs, lastMs) => {
      const groupValues: Record<string, string> = {};
      rule.groupBy.forEach((path, i) => {
        groupValues[path] = values[i] as string;
      });
      let keyValues: string[];
      const groupBy: Record<string, string> = { ...groupValues };
      let ip: string | undefined;
      if (geoRule) {
        ip = values[rule.groupBy.length] as string;
        const country = options.geo?.country(ip);
        if (country === undefined) return;
        keyValues = [...rule.groupBy.map((path) => groupValues[path] as string), country];
        groupBy["source.geo.country_iso_code"] = country;
      } else {
        keyValues = values;
        rule.behaviour.valueFields.forEach((path, i) => {
          groupBy[path] = values[rule.groupBy.length + i] as string;
        });
      }
      const key = keyOf(keyValues);
      const entry = keys.get(key);
      if (entry === undefined) {
        keys.set(key, { groupValues, groupBy, firstMs, lastMs, ips: new Set(ip === undefined ? [] : [ip]) });
      } else {
        entry.firstMs = Math.min(entry.firstMs, firstMs);
        entry.lastMs = Math.max(entry.lastMs, lastMs);
        if (ip !== undefined) entry.ips.add(ip);
      }
    },
  );
  if (earliest === undefined) return;
  foldTrailStart(state, earliest);
  const groups = new Map<string, { firstMs: number; lastMs: number }>();
  if (rule.behaviour.knownForMs > 0) {
    await forEachComposite(
      client,
      rule,
      rule.groupBy,
      from,
      to,
      options,
      counter,
      (values, firstMs, lastMs) => {
        groups.set(keyOf(values), { firstMs, lastMs });
      },
    );
  }
  const fresh: { key: string; entry: KeyStretch }[] = [];
  if (judge) {
    for (const [key, entry] of keys) {
      const groupKey = keyOf(rule.groupBy.map((path) => entry.groupValues[path] as string));
      const sighting = {
        key,
        groupKey,
        firstMs: entry.firstMs,
        groupFirstMs: groups.get(groupKey)?.firstMs ?? entry.firstMs,
      };
      if (isNewAndEstablished(rule, state, sighting)) fresh.push({ key, entry });
    }
  }
  for (const [key, entry] of keys) foldKey(state, key, entry.lastMs);
  for (const [groupKey, group] of groups) foldGroup(rule, state, groupKey, group.firstMs, group.lastMs);
  fresh.sort((a, b) => a.entry.firstMs - b.entry.firstMs || a.key.localeCompare(b.key));
  for (const { key, entry } of fresh) {
    if (rule.behaviour.followUpRules.length > 0) {
      state.pending.push({ key, groupBy: entry.groupBy, firstMs: entry.firstMs });
      continue;
    }
    const events = await firstEvents(client, rule, entry, options, counter);
    out.push(firstSightingDetection(rule, entry.groupBy, entry.firstMs, events));
  }
}

/** Every combination of `fields` in `[from, to)` with its first and last time (composite pages). */
async function forEachComposite(
  client: SearchClient,
  rule: BehaviourRule,
  fields: readonly string[],
  from: number,
  to: number,
  options: BehaviourRunOptions,
  counter: RequestCounter,
  visit: (values: string[], firstMs: number, lastMs: number) => void,
): Promise<number | undefined> {
  const size = options.pageSize ?? BASELINE_KEYS_PER_PAGE;
  const purpose = `baseline of ${rule.name}`;
  let earliest: number | undefined;
  type KeyBucket = { key: Record<string, unknown>; first: { value: number }; last: { value: number } };
  await pageComposite<KeyBucket>(
    purpose,
    size,
    async (after, page) => {
      const body = {
        size: 0,
        track_total_hits: false,
        query: { bool: { filter: [taggedWith(rule.rules), halfOpenTimeRange(from, to)] } },
        aggs: {
          keys: {
            composite: {
              size,
              sources: fields.map((field, i) => ({ [`k${i}`]: { terms: { field } } })),
              ...(after === undefined ? {} : { after }),
            },
            aggs: { first: { min: { field: "@timestamp" } }, last: { max: { field: "@timestamp" } } },
          },
          // Every input event, with or without the key's fields: the trail's start counts them all.
          ...(page === 0 ? { any: { min: { field: "@timestamp" } } } : {}),
        },
      };
      counter.requests++;
      const response = parseSearchResponse(await client.search({ index: options.index, body }), purpose);
      const keys = response.aggregations?.keys as CompositePage<KeyBucket> | undefined;
      // No aggregations at all: no index matched the pattern (nothing indexed yet).
      if (keys === undefined && response.aggregations === undefined) return undefined;
      if (keys === undefined)
        throw new SearchResponseError(`${purpose}: no composite aggregation in the response`);
      if (page === 0) {
        const any = (response.aggregations?.any as { value?: number | null } | undefined)?.value;
        earliest = any === null || any === undefined ? undefined : any;
      }
      return keys;
    },
    (buckets) => {
      for (const bucket of buckets) {
        visit(
          fields.map((_, i) => String(bucket.key[`k${i}`])),
          bucket.first.value,
          bucket.last.value,
        );
      }
    },
  );
  return earliest;
}

/** The key's events at its first sighting (what replay holds for a first-sighting detection). */
async function firstEvents(
  client: SearchClient,
  rule: BehaviourRule,
  entry: KeyStretch,
  options: BehaviourRunOptions,
  counter: RequestCounter,
): Promise<EcsDocument[]> {
  const filter: Record<string, unknown>[] = [
    taggedWith(rule.rules),
    halfOpenTimeRange(entry.firstMs, entry.firstMs + 1),
  ];
  for (const [path, value] of Object.entries(entry.groupValues)) filter.push({ term: { [path]: value } });
  if (rule.type === "geo") filter.push({ terms: { [rule.behaviour.ipField as string]: [...entry.ips] } });
  else for (const path of rule.behaviour.valueFields) filter.push({ term: { [path]: entry.groupBy[path] } });
  const request = {
    index: options.index,
    filter,
    size: DETECTION_EVENT_CAP,
    purpose: `events of ${rule.name}`,
  };
  const response = await searchEarliestEvents(client, request, counter);
  const documents = response.hits.hits.map((hit) => asDocument(hit, rule.name));
  // The address filter is wider than the country when an address moved country within the stretch: keep the key's.
  return documents.filter((doc) => readBehaviourKey(rule, doc, options.geo) !== undefined);
}

/** Follow-ups whose window has settled: counted, fired when the condition holds, and forgotten. */
async function settleFollowUps(
  client: SearchClient,
  rule: BehaviourRule,
  state: BaselineState,
  settleMs: number,
  options: BehaviourRunOptions,
  counter: RequestCounter,
  out: Detection[],
): Promise<void> {
  const waiting: typeof state.pending = [];
  for (const pending of state.pending) {
    const endMs = pending.firstMs + rule.timespanMs;
    if (endMs > settleMs) {
      waiting.push(pending);
      continue;
    }
    const filter: Record<string, unknown>[] = [
      taggedWith(rule.behaviour.followUpRules),
      halfOpenTimeRange(pending.firstMs, endMs),
    ];
    for (const path of keyFields(rule)) filter.push({ term: { [path]: pending.groupBy[path] } });
    const purpose = `follow-up of ${rule.name}`;
    const response = await searchEarliestEvents(
      client,
      { index: options.index, filter, size: DETECTION_EVENT_CAP, exactTotal: true, purpose },
      counter,
    );
    const total = response.hits.total;
    if (total === undefined || total.relation !== "eq")
      throw new SearchResponseError(`${purpose}: the response has no exact hits.total`);
    if (!conditionMet(rule, total.value)) continue;
    const events = response.hits.hits.map((hit) => asDocument(hit, rule.name));
    out.push(followUpDetection(rule, pending.groupBy, pending.firstMs, total.value, events));
  }
  state.pending = waiting;
}

/** `impossible_travel`: the stretch's events in order, each judged against its group's previous located one. */
async function travelStretch(
  client: SearchClient,
  rule: BehaviourRule,
  state: BaselineState,
  from: number,
  to: number,
  options: BehaviourRunOptions,
  counter: RequestCounter,
  out: Detection[],
): Promise<void> {
  const request = {
    index: options.index,
    filter: [taggedWith(rule.rules), halfOpenTimeRange(from, to)],
    pageSize: options.eventsPageSize ?? 1000,
    purpose: `travel of ${rule.name}`,
  };
  await pageEvents(client, request, counter, (hit) => {
    const doc = asDocument(hit, rule.name);
    const time = Date.parse(doc["@timestamp"]);
    foldTrailStart(state, time);
    const read = readBehaviourKey(rule, doc, options.geo);
    if (read === undefined) return;
    const detection = travelStep(rule, state, read, time, doc);
    if (detection !== undefined) out.push(detection);
  });
}
