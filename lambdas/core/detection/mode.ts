/**
 * `mtls_mode` rules (`mesh_namespace_not_strict`) in the detector: the semantics of `rules/mode.ts`, fed by
 * OpenSearch. The rule's state (every PeerAuthentication as the audit events left it, and the running tally of each
 * group's current UTC day) lives in one document of the alerts index, `_id` `baseline.<rule>` like the behavioural
 * rules' baselines, with `throughMs`: every event before it has been judged. A run:
 *
 * 1. reads the state (none yet: the PeerAuthentication changes before the judged range are folded in unjudged);
 *    every `rebuildEveryMs` the policies are refolded from every change event before `throughMs`, which takes in
 *    changes indexed later than the look-back;
 * 2. judges `[throughMs, now - lookback)` a UTC day at most at a time: reads the stretch's PeerAuthentication changes
 *    in event order, and cuts the stretch at each change's time, so the mode is constant within each piece (a change
 *    at `t` applies from `t` on); per piece, one `composite` aggregation of the traffic by cluster and destination
 *    namespace gives each group's requests and, in a `filter` sub-aggregation, those that prove plaintext: all of
 *    them count while the effective mode is PERMISSIVE or DISABLE, else only the proven ones;
 * 3. adds them to the group's day (count, first and latest request) and fetches the earliest events until the day
 *    holds `DETECTION_EVENT_CAP`; each group whose day grew is one detection with the day's running count, so the
 *    alert (its id made by the day's first request) grows run after run to the day's exact count;
 * 4. after the run's alerts are written (`commit`), writes the state back (optimistic concurrency).
 *
 * So a run reads the new events once, and decides each as replay does: same order, same mode, same day.
 */
import type { EcsDocument } from "../ecs.js";
import {
  allowsPlaintext,
  DAY_MS,
  type DayTally,
  dayKey,
  effectiveMode,
  emptyModeState,
  foldModeChange,
  type ModeGroup,
  type ModeState,
  modeDetection,
  modeGroup,
  modeRoles,
  utcDayStart,
} from "../rules/mode.js";
import type { BehaviourRule, Detection } from "../rules/types.js";
import { DETECTION_EVENT_CAP } from "../rules/types.js";
import type { BehaviourProgress, BehaviourRunOptions } from "./behaviour.js";
import { asDocument } from "./correlations.js";
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

const DEFAULT_REBUILD_EVERY_MS = DAY_MS;

interface StoredModeState extends ModeState {
  rebuiltAtMs?: number;
}

function tagsOf(doc: EcsDocument): readonly string[] {
  const name = (doc as { rule?: { name?: unknown } }).rule?.name;
  return Array.isArray(name)
    ? name.filter((n): n is string => typeof n === "string")
    : typeof name === "string"
      ? [name]
      : [];
}

/** Reads a stored state; one that cannot be read is an error naming the rule. */
export function parseModeState(source: Record<string, unknown>, rule: BehaviourRule): StoredModeState {
  const state = JSON.parse(ruleStateText(source, "state", rule)) as StoredModeState;
  if (state.version !== 1 || state.kind !== "mtls_mode" || typeof state.throughMs !== "number")
    throw new SearchResponseError(`state of ${rule.name}: not an mtls_mode state of version 1`);
  return state;
}

/** Evaluates one `mtls_mode` rule up to `now - lookback`. */
export async function evaluateMode(
  client: SearchClient,
  rule: BehaviourRule,
  options: BehaviourRunOptions,
): Promise<BehaviourProgress> {
  const roles = modeRoles(rule);
  const changeRules = [...roles.namespaceRules, ...roles.meshRules];
  const meshRules = new Set(roles.meshRules);
  const trafficRules = [...new Set([...rule.rules, ...roles.plaintextRules])];
  const counter: RequestCounter = { requests: 0 };
  const settleMs = options.nowMs - options.lookbackMs;
  const judgeFrom = settleMs - options.maxCatchUpMs;
  const stored = await readRuleState(client, options.alertsIndex, rule);
  counter.requests++;

  /** Every change in `[from, to)` (from the start when `from` is undefined), in event order. */
  const changes = async (from: number | undefined, to: number): Promise<EcsDocument[]> =>
    readAll(
      client,
      options,
      counter,
      [taggedWith(changeRules), halfOpenTimeRange(from, to)],
      `changes of ${rule.name}`,
    );
  const fold = (state: ModeState, doc: EcsDocument) =>
    foldModeChange(
      state,
      doc,
      Date.parse(doc["@timestamp"]),
      tagsOf(doc).some((tag) => meshRules.has(tag)),
    );

  let state: StoredModeState;
  const first = stored === undefined;
  if (stored === undefined) {
    state = emptyModeState(Math.min(judgeFrom, settleMs));
    for (const doc of await changes(undefined, state.throughMs)) fold(state, doc);
    state.rebuiltAtMs = options.nowMs;
  } else {
    state = parseModeState(stored.source, rule);
    if ((state.rebuiltAtMs ?? 0) + (options.rebuildEveryMs ?? DEFAULT_REBUILD_EVERY_MS) <= options.nowMs) {
      state.policies = {};
      for (const doc of await changes(undefined, state.throughMs)) fold(state, doc);
      state.rebuiltAtMs = options.nowMs;
    }
  }

  const touched = new Map<string, { group: ModeGroup; events: EcsDocument[] }>();
  let skipped: { fromMs: number; toMs: number } | undefined;
  while (state.throughMs < settleMs) {
    const from = state.throughMs;
    let to = Math.min(utcDayStart(from) + DAY_MS, settleMs);
    const judge = from >= judgeFrom;
    if (!judge) {
      to = Math.min(to, judgeFrom);
      if (!first) skipped = { fromMs: skipped?.fromMs ?? from, toMs: to };
    }
    const stretchChanges = await changes(from, to);
    const cuts = [...new Set(stretchChanges.map((doc) => Date.parse(doc["@timestamp"])))].filter(
      (ms) => ms > from,
    );
    const starts = [from, ...cuts];
    let next = 0;
    for (const [index, start] of starts.entries()) {
      while (
        next < stretchChanges.length &&
        Date.parse((stretchChanges[next] as EcsDocument)["@timestamp"]) <= start
      )
        fold(state, stretchChanges[next++] as EcsDocument);
      const end = starts[index + 1] ?? to;
      if (judge) await judgePiece(start, end);
    }
    state.throughMs = to;
  }

  /** Judges the traffic of `[start, end)`, within one UTC day, under the current mode. */
  async function judgePiece(start: number, end: number): Promise<void> {
    const [clusterField, namespaceField] = rule.groupBy as [string, string];
    const size = options.pageSize ?? 1000;
    const purpose = `traffic of ${rule.name}`;
    type GroupBucket = {
      key: { cluster?: unknown; namespace?: unknown };
      doc_count: number;
      first: { value: number | null };
      last: { value: number | null };
      proof: { doc_count: number; first: { value: number | null }; last: { value: number | null } };
    };
    await pageComposite<GroupBucket>(
      purpose,
      size,
      async (after) => {
        const body = {
          size: 0,
          track_total_hits: false,
          query: { bool: { filter: [taggedWith(trafficRules), halfOpenTimeRange(start, end)] } },
          aggs: {
            groups: {
              composite: {
                size,
                sources: [
                  { cluster: { terms: { field: clusterField, missing_bucket: true } } },
                  { namespace: { terms: { field: namespaceField } } },
                ],
                ...(after === undefined ? {} : { after }),
              },
              aggs: {
                first: { min: { field: "@timestamp" } },
                last: { max: { field: "@timestamp" } },
                proof: {
                  filter:
                    roles.plaintextRules.length === 0 ? { match_none: {} } : taggedWith(roles.plaintextRules),
                  aggs: { first: { min: { field: "@timestamp" } }, last: { max: { field: "@timestamp" } } },
                },
              },
            },
          },
        };
        counter.requests++;
        const response = parseSearchResponse(await client.search({ index: options.index, body }), purpose);
        const groups = response.aggregations?.groups as CompositePage<GroupBucket> | undefined;
        // No aggregations at all: no index matched the pattern (nothing indexed yet).
        if (groups === undefined && response.aggregations === undefined) return undefined;
        if (groups === undefined)
          throw new SearchResponseError(`${purpose}: no composite aggregation in the response`);
        return groups;
      },
      async (buckets) => {
        for (const bucket of buckets) {
          const cluster = typeof bucket.key.cluster === "string" ? bucket.key.cluster : "";
          const group = modeGroup(rule, cluster, String(bucket.key.namespace));
          const all = allowsPlaintext(effectiveMode(state, group.cluster, group.namespace));
          const counted = all ? bucket : bucket.proof;
          if (counted.doc_count === 0 || counted.first.value === null || counted.last.value === null)
            continue;
          await count(group, start, end, all, counted.doc_count, counted.first.value, counted.last.value);
        }
      },
    );
  }

  /** Adds a piece's counted requests to the group's day, with the earliest events while the day holds fewer than the cap. */
  async function count(
    group: ModeGroup,
    start: number,
    end: number,
    all: boolean,
    requests: number,
    firstMs: number,
    lastMs: number,
  ): Promise<void> {
    const key = dayKey(group, utcDayStart(start));
    const tally: DayTally = state.days[key] ?? { count: 0, firstMs, lastMs, held: 0 };
    state.days[key] = tally;
    tally.count += requests;
    tally.firstMs = Math.min(tally.firstMs, firstMs);
    tally.lastMs = Math.max(tally.lastMs, lastMs);
    const entry = touched.get(key) ?? { group, events: [] };
    touched.set(key, entry);
    if (tally.held >= DETECTION_EVENT_CAP) return;
    const [clusterField, namespaceField] = rule.groupBy as [string, string];
    const filter: Record<string, unknown>[] = [
      taggedWith(all ? trafficRules : roles.plaintextRules),
      halfOpenTimeRange(start, end),
      { term: { [namespaceField]: group.namespace } },
    ];
    const mustNot = group.cluster === "" ? [{ exists: { field: clusterField } }] : [];
    if (group.cluster !== "") filter.push({ term: { [clusterField]: group.cluster } });
    const request = {
      index: options.index,
      filter,
      mustNot,
      size: DETECTION_EVENT_CAP - tally.held,
      purpose: `events of ${rule.name}`,
    };
    const response = await searchEarliestEvents(client, request, counter);
    const events = response.hits.hits.map((hit) => asDocument(hit, rule.name));
    tally.held += events.length;
    entry.events.push(...events);
  }

  const detections: Detection[] = [];
  for (const [key, { group, events }] of touched) {
    const tally = state.days[key] as DayTally;
    detections.push(modeDetection(rule, group, tally.firstMs, tally.lastMs, tally.count, events));
  }
  // A day that ended before the judged point is final: its alert holds its count.
  for (const [key, tally] of Object.entries(state.days))
    if (utcDayStart(tally.firstMs) + DAY_MS <= state.throughMs) delete state.days[key];

  return ruleProgress(client, options.alertsIndex, rule, { detections, skipped, counter }, stored, state);
}

/** Every document matching `filter`, in event order (`search_after` pages). */
async function readAll(
  client: SearchClient,
  options: BehaviourRunOptions,
  counter: RequestCounter,
  filter: Record<string, unknown>[],
  purpose: string,
): Promise<EcsDocument[]> {
  const out: EcsDocument[] = [];
  const request = { index: options.index, filter, pageSize: options.pageSize ?? 1000, purpose };
  await pageEvents(client, request, counter, (hit) => out.push(asDocument(hit, purpose)));
  return out;
}
