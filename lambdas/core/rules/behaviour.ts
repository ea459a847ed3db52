/**
 * Behavioural rules (`new_value`, `geo`): the team's single definition, shared by the in-memory evaluator (replay,
 * rule tests) and the detector, which feeds the same functions with OpenSearch aggregations
 * (`detection/behaviour.ts`). docs/rules.md "Behaviour" states the semantics; in short:
 *
 * - a **key** is the group-by values plus the value fields (`new_value`) or the country of the address (`geo`
 *   `new_country`); a key is **new** at an event at `t` when no event of it lies in `[t - learning, t)`;
 * - the rule is quiet until `learning` has passed since the first event it ever saw (the trail's start for it:
 *   nothing is known before then, so everything would look new);
 * - with `known-for`, a key only fires when its group has been seen, without a gap longer than `learning`, since at
 *   least `known-for` before `t` (a new deployment does not page for each of its first edges);
 * - with a follow-up condition, a new key fires only when the count of follow-up events of the same key in
 *   `[t, t + timespan)` meets the condition;
 * - `impossible_travel` compares each located event of a group with the group's last event in each other country
 *   it was seen in since the group's last event in this one (within `learning`, the `MAX_TRAVEL_LOCATIONS` most
 *   recent countries): countries whose smallest possible distance (`geo/countries.ts`) could not be covered at
 *   `max-speed-kmh` in the time between them fire. Comparing with the latest event only would miss a move hidden
 *   behind an intermediate country (Germany, then Russia, then the US 20 minutes later: each hop has a smallest
 *   distance of 0 km, the whole move 4,000 km), or behind a country without coordinates.
 *
 * Everything is judged on event time, in `(@timestamp, event.id)` order, once no earlier event can still arrive
 * (replay: the allowed lateness; the detector: its lookback), so the result does not depend on arrival order.
 */
import type { EcsDocument } from "../ecs.js";
import { minDistanceKm } from "../geo/countries.js";
import type { CountryLookup } from "../geo/index.js";
import { sharedPackagedGeoIp } from "../geo/packaged.js";
import { firstString } from "./fields.js";
import { type ModeState, ModeTracker } from "./mode.js";
import type { BehaviourRule, CompiledRule, Detection } from "./types.js";
import { DETECTION_EVENT_CAP, isBehaviourRule } from "./types.js";
import { compareEvents, keepEarliest } from "./windows.js";

/** The ECS path a `geo` detection names the country under (in its group), as alerts show it. */
export const COUNTRY_FIELD = "source.geo.country_iso_code";
/** The group entry of an `impossible_travel` detection naming where the previous request came from. */
export const PREVIOUS_COUNTRY_FIELD = "previous.source.geo.country_iso_code";

/**
 * The distinct countries an `impossible_travel` group keeps, most recent first: a bound on the state per identity.
 * A move from an older country is judged only while fewer than this many other countries came after it.
 */
export const MAX_TRAVEL_LOCATIONS = 8;

/** A group's last located event in one country (`impossible_travel`). */
export interface LocatedEvent {
  readonly ms: number;
  readonly country: string;
}

/**
 * What a behavioural rule has learned, as JSON (the detector persists it between runs). Keys are `keyOf` strings.
 */
export interface BaselineState {
  readonly version: 2;
  /** The first event the rule ever saw; undefined while it has seen none. */
  trailStartMs: number | undefined;
  /** Every event before this has been folded in (detector; replay folds event by event). */
  throughMs: number;
  /** Key → when it was last seen. */
  keys: Record<string, number>;
  /** Group key → [known since (start of its current sighting streak), last seen]. */
  groups: Record<string, [number, number]>;
  /**
   * Group key → its last located event in each country, most recent first (in event order), at most
   * `MAX_TRAVEL_LOCATIONS` (`impossible_travel`).
   */
  located: Record<string, LocatedEvent[]>;
  /** New keys waiting for their follow-up window to settle. */
  pending: PendingFollowUp[];
  /** When the detector last rebuilt the state from the indices. */
  rebuiltAtMs?: number;
}

export interface PendingFollowUp {
  readonly key: string;
  readonly groupBy: Record<string, string>;
  readonly firstMs: number;
}

export function emptyBaseline(throughMs = Number.NEGATIVE_INFINITY): BaselineState {
  return {
    version: 2,
    trailStartMs: undefined,
    throughMs,
    keys: {},
    groups: {},
    located: {},
    pending: [],
  };
}

/** The fields that make a rule's key, in order: group-by, then the value fields (geo: the country). */
export function keyFields(rule: BehaviourRule): readonly string[] {
  return rule.type === "geo"
    ? [...rule.groupBy, COUNTRY_FIELD]
    : [...rule.groupBy, ...rule.behaviour.valueFields];
}

export function keyOf(values: readonly string[]): string {
  return JSON.stringify(values);
}

/**
 * A first sighting of a key within one stretch of events no longer than `learning` (one event, in replay): the
 * key's earliest event there, and its group's earliest.
 */
export interface Sighting {
  readonly key: string;
  readonly groupKey: string;
  readonly firstMs: number;
  readonly groupFirstMs: number;
}

/**
 * Whether the first sighting fires (before any follow-up), judged against the state before the stretch.
 */
export function isNewAndEstablished(rule: BehaviourRule, state: BaselineState, sighting: Sighting): boolean {
  const { learningMs, knownForMs } = rule.behaviour;
  const t = sighting.firstMs;
  if (state.trailStartMs === undefined || t < state.trailStartMs + learningMs) return false;
  const last = state.keys[sighting.key];
  if (last !== undefined && last >= t - learningMs) return false;
  if (knownForMs > 0)
    return knownSince(rule, state, sighting.groupKey, sighting.groupFirstMs) <= t - knownForMs;
  return true;
}

/** When the group's current streak started, given its first event of the stretch. */
function knownSince(
  rule: BehaviourRule,
  state: BaselineState,
  groupKey: string,
  groupFirstMs: number,
): number {
  const group = state.groups[groupKey];
  if (group === undefined || group[1] < groupFirstMs - rule.behaviour.learningMs) return groupFirstMs;
  return group[0];
}

/** Folds a key's events of one stretch (earliest and latest) into the state. */
export function foldKey(state: BaselineState, key: string, lastMs: number): void {
  const known = state.keys[key];
  if (known === undefined || known < lastMs) state.keys[key] = lastMs;
}

/** Folds a group's events of one stretch into the state (a gap longer than `learning` starts a new streak). */
export function foldGroup(
  rule: BehaviourRule,
  state: BaselineState,
  groupKey: string,
  firstMs: number,
  lastMs: number,
): void {
  const since = knownSince(rule, state, groupKey, firstMs);
  const last = Math.max(lastMs, state.groups[groupKey]?.[1] ?? lastMs);
  state.groups[groupKey] = [since, last];
}

export function foldTrailStart(state: BaselineState, firstMs: number): void {
  if (state.trailStartMs === undefined || firstMs < state.trailStartMs) state.trailStartMs = firstMs;
}

/** Drops what can no longer decide anything for events at or after `fromMs`: older than the learning period. */
export function prune(rule: BehaviourRule, state: BaselineState, fromMs: number): void {
  const horizon = fromMs - rule.behaviour.learningMs;
  for (const [key, last] of Object.entries(state.keys)) if (last < horizon) delete state.keys[key];
  for (const [key, [, last]] of Object.entries(state.groups)) if (last < horizon) delete state.groups[key];
  for (const [key, located] of Object.entries(state.located)) {
    const recent = located.filter((event) => event.ms >= horizon);
    if (recent.length === 0) delete state.located[key];
    else if (recent.length < located.length) state.located[key] = recent;
  }
}

/**
 * `impossible_travel`: the speed (km/h) a move from `previous` to `current` needs at least, when it exceeds the
 * rule's maximum; undefined otherwise (same country, previous event older than `learning`, a country without
 * coordinates). Events less than a second apart count as a second.
 */
export function travelSpeed(
  rule: BehaviourRule,
  previous: LocatedEvent,
  current: LocatedEvent,
): number | undefined {
  if (previous.country === current.country) return undefined;
  if (previous.ms < current.ms - rule.behaviour.learningMs) return undefined;
  const distance = minDistanceKm(previous.country, current.country);
  if (distance === undefined || distance <= 0) return undefined;
  const hours = Math.max(current.ms - previous.ms, 1000) / 3_600_000;
  const speed = distance / hours;
  return speed > (rule.behaviour.maxSpeedKmh ?? Number.POSITIVE_INFINITY) ? speed : undefined;
}

/** The detection of a new key without follow-up: its events at the first sighting. */
export function firstSightingDetection(
  rule: BehaviourRule,
  groupBy: Record<string, string>,
  firstMs: number,
  events: EcsDocument[],
): Detection {
  const sorted = [...events].sort(compareEvents).slice(0, DETECTION_EVENT_CAP);
  return {
    rule,
    windowStart: new Date(firstMs).toISOString(),
    windowEnd: new Date(firstMs).toISOString(),
    groupBy: { ...groupBy },
    count: sorted.length,
    events: sorted,
  };
}

/** The detection of a new key whose follow-up window `[first, first + timespan)` met the condition. */
export function followUpDetection(
  rule: BehaviourRule,
  groupBy: Record<string, string>,
  firstMs: number,
  count: number,
  events: EcsDocument[],
): Detection {
  return {
    rule,
    windowStart: new Date(firstMs).toISOString(),
    windowEnd: new Date(firstMs + rule.timespanMs).toISOString(),
    groupBy: { ...groupBy },
    count,
    events: [...events].sort(compareEvents).slice(0, DETECTION_EVENT_CAP),
  };
}

export function travelDetection(
  rule: BehaviourRule,
  groupValues: Record<string, string>,
  previous: LocatedEvent,
  current: LocatedEvent,
  speed: number,
  event: EcsDocument,
): Detection {
  return {
    rule,
    windowStart: new Date(previous.ms).toISOString(),
    windowEnd: new Date(current.ms).toISOString(),
    groupBy: { ...groupValues, [PREVIOUS_COUNTRY_FIELD]: previous.country, [COUNTRY_FIELD]: current.country },
    count: 2,
    value: Math.round(speed),
    events: [event],
  };
}

interface Buffered {
  readonly doc: EcsDocument;
  readonly time: number;
  readonly matched: readonly string[];
}

interface OpenFollowUp extends PendingFollowUp {
  count: number;
  readonly events: EcsDocument[];
  readonly eventTimes: number[];
}

/** One rule's replay state. */
class RuleTracker {
  readonly state = emptyBaseline();
  get name(): string {
    return this.#rule.name;
  }
  readonly #rule: BehaviourRule;
  readonly #inputs: ReadonlySet<string>;
  readonly #followUps: ReadonlySet<string>;
  readonly #geo: CountryLookup | undefined;
  /** Follow-up windows still open, by key. */
  readonly #open = new Map<string, OpenFollowUp[]>();

  constructor(rule: BehaviourRule, geo: CountryLookup | undefined) {
    this.#rule = rule;
    this.#inputs = new Set(rule.rules);
    this.#followUps = new Set(rule.behaviour.followUpRules);
    this.#geo = geo;
  }

  wants(matched: readonly string[]): boolean {
    return matched.some((name) => this.#inputs.has(name) || this.#followUps.has(name));
  }

  /**
   * Judges the events of one timestamp (in `compareEvents` order): first sightings first, then the follow-up
   * events, so a follow-up event at the very time of its key's first sighting counts.
   */
  judge(batch: readonly Buffered[], out: Detection[]): void {
    const rule = this.#rule;
    const sightings = new Map<string, { groupBy: Record<string, string>; events: EcsDocument[] }>();
    const fresh: { key: string; groupKey: string; groupBy: Record<string, string>; fires: boolean }[] = [];
    for (const item of batch) {
      if (!item.matched.some((name) => this.#inputs.has(name))) continue;
      foldTrailStart(this.state, item.time);
      const read = this.#read(item.doc);
      if (read === undefined) continue;
      if (rule.behaviour.geo === "impossible_travel") {
        this.#travel(read, item, out);
        continue;
      }
      const seen = sightings.get(read.key);
      if (seen !== undefined) {
        seen.events.push(item.doc);
        continue;
      }
      const fires = isNewAndEstablished(rule, this.state, {
        key: read.key,
        groupKey: read.groupKey,
        firstMs: item.time,
        groupFirstMs: item.time,
      });
      sightings.set(read.key, { groupBy: read.groupBy, events: [item.doc] });
      fresh.push({ key: read.key, groupKey: read.groupKey, groupBy: read.groupBy, fires });
    }
    const time = batch[0]?.time ?? 0;
    for (const { key, groupKey, groupBy, fires } of fresh) {
      foldKey(this.state, key, time);
      foldGroup(rule, this.state, groupKey, time, time);
      if (!fires) continue;
      if (rule.behaviour.followUpRules.length === 0) {
        out.push(firstSightingDetection(rule, groupBy, time, sightings.get(key)?.events ?? []));
      } else {
        const list = this.#open.get(key) ?? [];
        list.push({ key, groupBy, firstMs: time, count: 0, events: [], eventTimes: [] });
        this.#open.set(key, list);
      }
    }
    if (this.#open.size === 0) return;
    for (const item of batch) {
      if (!item.matched.some((name) => this.#followUps.has(name))) continue;
      const read = this.#read(item.doc);
      if (read === undefined) continue;
      for (const open of this.#open.get(read.key) ?? []) {
        if (item.time < open.firstMs || item.time >= open.firstMs + rule.timespanMs) continue;
        open.count++;
        keepEarliest(open.events, open.eventTimes, item.doc, item.time);
      }
    }
  }

  /** Emits the follow-up windows that ended at or before `until`. */
  close(until: number, out: Detection[]): void {
    const rule = this.#rule;
    for (const [key, list] of this.#open) {
      const remaining = list.filter((open) => {
        if (open.firstMs + rule.timespanMs > until) return true;
        if (conditionMet(rule, open.count))
          out.push(followUpDetection(rule, open.groupBy, open.firstMs, open.count, open.events));
        return false;
      });
      if (remaining.length === 0) this.#open.delete(key);
      else this.#open.set(key, remaining);
    }
  }

  #travel(read: BehaviourKey, item: Buffered, out: Detection[]): void {
    const detection = travelStep(this.#rule, this.state, read, item.time, item.doc);
    if (detection !== undefined) out.push(detection);
  }

  #read(doc: EcsDocument): BehaviourKey | undefined {
    return readBehaviourKey(this.#rule, doc, this.#geo);
  }
}

/** What one event says for a behavioural rule: its key, its group and (geo) its country. */
export interface BehaviourKey {
  readonly key: string;
  readonly groupKey: string;
  /** Group-by values, plus the value fields (`new_value`) or the country (`geo` `new_country`). */
  readonly groupBy: Record<string, string>;
  readonly groupValues: Record<string, string>;
  readonly country: string | undefined;
}

/**
 * The key of an event (the first value of each field, as every rule reads fields), or undefined when the event lacks
 * a group-by or value field, or (`new_country`) its address has no country.
 */
export function readBehaviourKey(
  rule: BehaviourRule,
  doc: EcsDocument,
  geo: CountryLookup | undefined,
): BehaviourKey | undefined {
  const groupValues: Record<string, string> = {};
  const values: string[] = [];
  for (const path of rule.groupBy) {
    const value = firstString(path)(doc);
    if (value === undefined) return undefined;
    groupValues[path] = value;
    values.push(value);
  }
  const groupKey = keyOf(values);
  const groupBy: Record<string, string> = { ...groupValues };
  let country: string | undefined;
  if (rule.type === "geo") {
    const ipField = rule.behaviour.ipField;
    const ip = ipField === undefined ? undefined : firstString(ipField)(doc);
    country = ip === undefined ? undefined : geo?.country(ip);
    if (rule.behaviour.geo === "new_country") {
      if (country === undefined) return undefined;
      values.push(country);
      groupBy[COUNTRY_FIELD] = country;
    }
  } else {
    for (const path of rule.behaviour.valueFields) {
      const value = firstString(path)(doc);
      if (value === undefined) return undefined;
      groupBy[path] = value;
      values.push(value);
    }
  }
  return { key: keyOf(values), groupKey, groupBy, groupValues, country };
}

/**
 * `impossible_travel`: judges one located event against the group's last event in each country it was seen in since
 * its last event in this country (a move from a country seen before that was judged then, over a shorter time), and
 * makes it the group's latest. The most recent of those moves that is too fast fires: at most one detection per
 * event. Events must come in `compareEvents` order.
 */
export function travelStep(
  rule: BehaviourRule,
  state: BaselineState,
  read: BehaviourKey,
  time: number,
  doc: EcsDocument,
): Detection | undefined {
  if (read.country === undefined) return undefined;
  const current: LocatedEvent = { ms: time, country: read.country };
  const located = state.located[read.groupKey] ?? [];
  const here = located.findIndex((event) => event.country === current.country);
  const since = here < 0 ? located : located.slice(0, here);
  state.located[read.groupKey] = [
    current,
    ...located.filter((event) => event.country !== current.country),
  ].slice(0, MAX_TRAVEL_LOCATIONS);
  for (const previous of since) {
    const speed = travelSpeed(rule, previous, current);
    if (speed !== undefined) return travelDetection(rule, read.groupValues, previous, current, speed, doc);
  }
  return undefined;
}

/**
 * A state as stored by an earlier version: version 1 kept one located event per group (its latest), which is the
 * first entry of version 2's list.
 */
export function upgradeBaseline(state: unknown): BaselineState | undefined {
  if (typeof state !== "object" || state === null) return undefined;
  const stored = state as { version?: unknown; throughMs?: unknown; located?: Record<string, unknown> };
  if (typeof stored.throughMs !== "number") return undefined;
  if (stored.version === 2) return state as BaselineState;
  if (stored.version !== 1) return undefined;
  const located: Record<string, LocatedEvent[]> = {};
  for (const [key, event] of Object.entries(stored.located ?? {}))
    located[key] = Array.isArray(event) ? (event as LocatedEvent[]) : [event as LocatedEvent];
  return { ...(state as Omit<BaselineState, "version" | "located">), version: 2, located };
}

/** Whether a follow-up count meets the rule's condition (the lower and upper bounds of `condition`). */
export function conditionMet(rule: BehaviourRule, count: number): boolean {
  const { gt, gte, lt, lte, eq, neq } = rule.condition;
  return (
    (gt === undefined || count > gt) &&
    (gte === undefined || count >= gte) &&
    (lt === undefined || count < lt) &&
    (lte === undefined || count <= lte) &&
    (eq === undefined || count === eq) &&
    (neq === undefined || count !== neq)
  );
}

/**
 * The in-memory side (replay, rule tests): holds the events of behavioural rules until no earlier event can still
 * arrive (`advance(safeTime)`), then judges them in event-time order. An event older than what was already judged
 * is late: it is counted and left out (as the detector leaves out events later than its lookback).
 */
export class BehaviourTracker {
  readonly #trackers: (RuleTracker | ModeTracker)[];
  #buffer: Buffered[] = [];
  #judgedUpTo = Number.NEGATIVE_INFINITY;
  late = 0;

  constructor(rules: readonly CompiledRule[], geo: CountryLookup | undefined) {
    // Without a lookup, geo rules read the installed DB-IP package on first use (CLI, tests, benches).
    const lookup = geo ?? sharedPackagedGeoIp();
    this.#trackers = rules
      .filter(isBehaviourRule)
      .map((rule) => (rule.type === "mtls_mode" ? new ModeTracker(rule) : new RuleTracker(rule, lookup)));
  }

  get active(): boolean {
    return this.#trackers.length > 0;
  }

  /** Buffers a document one of the rules reads; false when it came after its time was judged (late). */
  observe(doc: EcsDocument, time: number, matched: readonly string[]): boolean {
    if (this.#trackers.length === 0 || !this.#trackers.some((tracker) => tracker.wants(matched))) return true;
    if (time < this.#judgedUpTo) return false;
    this.#buffer.push({ doc, time, matched });
    return true;
  }

  /** Judges every buffered event before `safeTime`, and emits follow-ups whose window ended by then. */
  advance(safeTime: number, out: Detection[]): void {
    if (this.#trackers.length === 0 || safeTime <= this.#judgedUpTo) return;
    const ready = this.#buffer
      .filter((item) => item.time < safeTime)
      .sort((a, b) => compareEvents(a.doc, b.doc));
    this.#buffer = this.#buffer.filter((item) => item.time >= safeTime);
    let start = 0;
    while (start < ready.length) {
      const time = (ready[start] as Buffered).time;
      let end = start;
      while (end < ready.length && (ready[end] as Buffered).time === time) end++;
      const batch = ready.slice(start, end);
      for (const tracker of this.#trackers) {
        tracker.close(time, out);
        tracker.judge(batch, out);
      }
      start = end;
    }
    this.#judgedUpTo = safeTime;
    for (const tracker of this.#trackers) tracker.close(safeTime, out);
  }

  /** End of input: judges everything and closes every follow-up window. */
  finish(out: Detection[]): void {
    this.advance(Number.POSITIVE_INFINITY, out);
  }

  /** The learned state of each rule (for tests and the CLI's summary). */
  states(): ReadonlyMap<string, BaselineState | ModeState> {
    return new Map(this.#trackers.map((tracker) => [tracker.name, tracker.state]));
  }
}
