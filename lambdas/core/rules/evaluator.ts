/**
 * The in-memory evaluator (CLI `replay`, rule tests): single-event detections per document, and correlations
 * over hopping windows on event time (`windows.ts`). Memory is bounded by the open windows: a window closes,
 * emits its detections and is dropped once the watermark (latest event time seen, minus the allowed lateness)
 * passes its end. Events older than a closed window are counted as late and left out of correlations (their
 * single-event detections still count).
 */
import { EventTally, type ExactField, exactFieldsOf } from "../alerts/matched.js";
import type { EcsDocument } from "../ecs.js";
import type { CountryLookup } from "../geo/index.js";
import { BehaviourTracker } from "./behaviour.js";
import { firstString, pathAccessor } from "./fields.js";
import { SilenceTracker } from "./silence.js";
import type { CorrelationRule, Detection, RulePack, SilenceRule, SingleEventRule } from "./types.js";
import { isBehaviourRule } from "./types.js";
import { conditionHolds, hopMs, keepEarliest, latestWindowStart, windowStartsContaining } from "./windows.js";

export interface EvaluatorOptions {
  /** How far behind the latest event time an event may arrive and still be correlated. @default 120000 */
  readonly allowedLatenessMs?: number;
  /** Country of an address, for `geo` rules (a pack with one needs it). @default none */
  readonly geo?: CountryLookup;
}

export interface EvaluatorStats {
  events: number;
  /** Documents without a parsable `@timestamp` (left out of correlations). */
  untimed: number;
  /** Documents that arrived after all their windows had closed. */
  late: number;
  /** The most windows (rule × window start) open at once: the memory bound. */
  maxOpenWindows: number;
}

interface GroupState {
  readonly groupBy: Record<string, string>;
  count: number;
  failures: number;
  readonly values: Set<string> | undefined;
  readonly numbers: number[] | undefined;
  readonly rulesSeen: Set<string> | undefined;
  /** The earliest matched events (`keepEarliest`), and their times. */
  readonly events: EcsDocument[];
  readonly eventTimes: number[];
  /** The tallies of the window's two hop slots for this group: every matched event, summarized. */
  readonly tallies: readonly [EventTally, EventTally];
}

interface CorrelationState {
  readonly rule: CorrelationRule;
  readonly groupAccessors: readonly {
    readonly path: string;
    readonly read: (doc: unknown) => string | undefined;
  }[];
  readonly readValues: ((doc: unknown, sink: (value: string) => void) => void) | undefined;
  readonly readNumber: ((doc: unknown) => number | undefined) | undefined;
  readonly population: ReadonlySet<string>;
  /** Window start → group key → state. */
  readonly windows: Map<number, Map<string, GroupState>>;
  /** Hop slot start → group key → tally of the slot's matched events (a window holds two slots). */
  readonly slots: Map<number, Map<string, EventTally>>;
  readonly exactFields: readonly ExactField[];
  /** Windows ending at or before this have been emitted. */
  closedUpTo: number;
  /** The earliest end of an open window (+Infinity when none is open). */
  nextCloseAt: number;
  /** Scratch space for the group-by values of the current document. */
  readonly values: (string | undefined)[];
}

/** Evaluates a pack over a stream of documents in (roughly) event-time order. */
export class StreamEvaluator {
  readonly stats: EvaluatorStats = { events: 0, untimed: 0, late: 0, maxOpenWindows: 0 };
  readonly #pack: RulePack;
  readonly #lateness: number;
  readonly #alerting: ReadonlyMap<string, SingleEventRule>;
  readonly #byInput = new Map<string, CorrelationState[]>();
  readonly #states: CorrelationState[];
  readonly #silence: SilenceTracker;
  readonly #singleFields = new Map<SingleEventRule, readonly ExactField[]>();
  readonly #behaviour: BehaviourTracker;
  #watermark = Number.NEGATIVE_INFINITY;
  #openWindows = 0;

  constructor(pack: RulePack, options: EvaluatorOptions = {}) {
    this.#pack = pack;
    this.#lateness = options.allowedLatenessMs ?? 120_000;
    this.#alerting = new Map(
      pack.singleEventRules.filter((rule) => rule.generatesAlerts).map((rule) => [rule.name, rule]),
    );
    this.#silence = new SilenceTracker(
      pack.rules.filter((rule): rule is SilenceRule => rule.kind === "silence" && rule.generatesAlerts),
    );
    this.#behaviour = new BehaviourTracker(pack.correlationRules, options.geo);
    this.#states = pack.correlationRules
      .filter((rule) => !isBehaviourRule(rule))
      .map((rule) => {
        const field = rule.field;
        const access = field === undefined ? undefined : pathAccessor(field);
        const state: CorrelationState = {
          rule,
          groupAccessors: rule.groupBy.map((path) => ({ path, read: firstString(path) })),
          readValues:
            rule.type === "value_count" && access !== undefined
              ? (doc, sink) => {
                  access(doc, (value) => {
                    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
                      sink(String(value));
                    return false;
                  });
                }
              : undefined,
          readNumber:
            rule.type === "percentile" && access !== undefined
              ? (doc) => {
                  let found: number | undefined;
                  access(doc, (value) => {
                    const number =
                      typeof value === "number"
                        ? value
                        : typeof value === "string"
                          ? Number(value)
                          : Number.NaN;
                    if (Number.isNaN(number)) return false;
                    found = number;
                    return true;
                  });
                  return found;
                }
              : undefined,
          population: new Set(rule.rules),
          windows: new Map(),
          slots: new Map(),
          exactFields: exactFieldsOf(rule),
          closedUpTo: Number.NEGATIVE_INFINITY,
          nextCloseAt: Number.POSITIVE_INFINITY,
          values: rule.groupBy.map(() => undefined),
        };
        for (const name of [...rule.rules, ...(rule.failures === undefined ? [] : [rule.failures])]) {
          const list = this.#byInput.get(name) ?? [];
          if (!list.includes(state)) list.push(state);
          this.#byInput.set(name, list);
        }
        return state;
      });
  }

  /**
   * Feeds one document (with its single-event matches when already known, e.g. from `rule.name`) and returns the
   * detections it completes: its own single-event detections and those of correlation windows that closed.
   */
  push(doc: EcsDocument, matched: readonly string[] = this.#pack.matchSingleEvent(doc)): Detection[] {
    this.stats.events++;
    const out: Detection[] = [];
    const time = Date.parse(doc["@timestamp"]);
    for (const name of matched) {
      const rule = this.#alerting.get(name);
      if (rule !== undefined) out.push(this.#singleWithTally(rule, doc, time));
    }
    if (Number.isNaN(time)) {
      this.stats.untimed++;
      return out;
    }
    this.#silence.observe(doc, time, matched);
    const behaviourLate = !this.#behaviour.observe(doc, time, matched);
    if (time > this.#watermark) {
      this.#watermark = time;
      this.#close(this.#watermark - this.#lateness, out);
      this.#behaviour.advance(this.#watermark - this.#lateness, out);
      // A source is judged silent only once no late document of it can still arrive.
      this.#silence.advance(this.#watermark - this.#lateness, out);
    }
    if (matched.length === 0) return out;
    let late = behaviourLate;
    const touched: CorrelationState[] = [];
    for (const name of matched) {
      const states = this.#byInput.get(name);
      if (states === undefined) continue;
      for (const state of states) if (!touched.includes(state)) touched.push(state);
    }
    for (const state of touched) {
      if (!this.#add(state, doc, time, matched)) late = true;
    }
    if (late) this.stats.late++;
    return out;
  }

  /** Closes every open window (end of input) and returns the remaining detections. */
  finish(): Detection[] {
    const out: Detection[] = [];
    this.#close(Number.POSITIVE_INFINITY, out);
    this.#behaviour.finish(out);
    if (this.#watermark !== Number.NEGATIVE_INFINITY) this.#silence.finish(this.#watermark, out);
    return out;
  }

  /** The latest event time seen minus the allowed lateness: nothing earlier can still change. */
  get safeTime(): number {
    return this.#watermark - this.#lateness;
  }

  /** The single-event detection with the tally of its event (alerts folding many events list all their values). */
  #singleWithTally(rule: SingleEventRule, doc: EcsDocument, time: number): Detection {
    const detection = singleDetection(rule, doc);
    if (Number.isNaN(time)) return detection;
    let fields = this.#singleFields.get(rule);
    if (fields === undefined) {
      fields = exactFieldsOf(rule);
      this.#singleFields.set(rule, fields);
    }
    const tally = new EventTally(fields);
    tally.add(doc, time);
    return { ...detection, tallies: [tally] };
  }

  /** The tally of the hop slot starting at `start` for group `key`, created when missing. */
  #slot(state: CorrelationState, start: number, key: string): EventTally {
    let groups = state.slots.get(start);
    if (groups === undefined) {
      groups = new Map();
      state.slots.set(start, groups);
    }
    let tally = groups.get(key);
    if (tally === undefined) {
      tally = new EventTally(state.exactFields);
      groups.set(key, tally);
    }
    return tally;
  }

  /** Adds the document to its two windows; false when both had already closed (late). */
  #add(state: CorrelationState, doc: EcsDocument, time: number, matched: readonly string[]): boolean {
    const { rule } = state;
    let inPopulation = false;
    for (const name of matched) {
      if (state.population.has(name)) {
        inPopulation = true;
        break;
      }
    }
    if (!inPopulation) return true;
    const { groupAccessors, values } = state;
    let key = "";
    for (let i = 0; i < groupAccessors.length; i++) {
      const value = groupAccessors[i]?.read(doc);
      if (value === undefined) return true;
      values[i] = value;
      key = i === 0 ? value : `${key}\u0000${value}`;
    }
    const isFailure = rule.failures !== undefined && matched.includes(rule.failures);
    // The event's hop slot is the later window's first and the earlier one's second: tallied once, while the
    // later window is open.
    const slotStart = latestWindowStart(time, rule.timespanMs);
    if (slotStart + rule.timespanMs > state.closedUpTo) this.#slot(state, slotStart, key).add(doc, time);
    let added = false;
    for (const start of windowStartsContaining(time, rule.timespanMs)) {
      if (start + rule.timespanMs <= state.closedUpTo) continue;
      let groups = state.windows.get(start);
      if (groups === undefined) {
        groups = new Map();
        state.windows.set(start, groups);
        if (start + rule.timespanMs < state.nextCloseAt) state.nextCloseAt = start + rule.timespanMs;
        this.#openWindows++;
        if (this.#openWindows > this.stats.maxOpenWindows) this.stats.maxOpenWindows = this.#openWindows;
      }
      let group = groups.get(key);
      if (group === undefined) {
        const groupBy: Record<string, string> = {};
        groupAccessors.forEach(({ path }, i) => {
          groupBy[path] = values[i] as string;
        });
        group = {
          groupBy,
          count: 0,
          failures: 0,
          values: rule.type === "value_count" ? new Set() : undefined,
          numbers: rule.type === "percentile" ? [] : undefined,
          rulesSeen: rule.type === "temporal" ? new Set() : undefined,
          events: [],
          eventTimes: [],
          tallies: [this.#slot(state, start, key), this.#slot(state, start + hopMs(rule.timespanMs), key)],
        };
        groups.set(key, group);
      }
      group.count++;
      if (isFailure) group.failures++;
      if (group.values !== undefined) {
        const values = group.values;
        state.readValues?.(doc, (value) => values.add(value));
      }
      if (group.numbers !== undefined) {
        const number = state.readNumber?.(doc);
        if (number !== undefined) group.numbers.push(number);
      }
      if (group.rulesSeen !== undefined) {
        for (const name of matched) if (state.population.has(name)) group.rulesSeen.add(name);
      }
      keepEarliest(group.events, group.eventTimes, doc, time);
      added = true;
    }
    return added;
  }

  /** Emits and drops every window that ends at or before `until`. */
  #close(until: number, out: Detection[]): void {
    for (const state of this.#states) {
      if (state.nextCloseAt > until) {
        if (until > state.closedUpTo && until !== Number.POSITIVE_INFINITY)
          state.closedUpTo = alignDown(until, state.rule.timespanMs);
        continue;
      }
      const starts = [...state.windows.keys()]
        .filter((start) => start + state.rule.timespanMs <= until)
        .sort((a, b) => a - b);
      for (const start of starts) {
        const groups = state.windows.get(start) as Map<string, GroupState>;
        state.windows.delete(start);
        this.#openWindows--;
        for (const group of groups.values()) {
          const detection = correlationDetection(state.rule, start, group);
          if (detection !== undefined) out.push(detection);
        }
      }
      // Slots no open window holds: the detections emitted keep theirs.
      const hop = hopMs(state.rule.timespanMs);
      for (const slot of state.slots.keys()) {
        if (!state.windows.has(slot) && !state.windows.has(slot - hop)) state.slots.delete(slot);
      }
      let nextCloseAt = Number.POSITIVE_INFINITY;
      for (const start of state.windows.keys())
        nextCloseAt = Math.min(nextCloseAt, start + state.rule.timespanMs);
      state.nextCloseAt = nextCloseAt;
      if (until !== Number.POSITIVE_INFINITY && until > state.closedUpTo)
        state.closedUpTo = alignDown(until, state.rule.timespanMs);
    }
  }
}

/** The latest window end at or before `time` (window ends fall on the hop grid too). */
function alignDown(time: number, timespanMs: number): number {
  const hop = timespanMs / 2;
  return Math.floor(time / hop) * hop;
}

export function singleDetection(rule: SingleEventRule, doc: EcsDocument): Detection {
  const groupBy: Record<string, string> = {};
  for (const path of rule.suppression.groupBy) {
    const value = firstString(path)(doc);
    if (value !== undefined) groupBy[path] = value;
  }
  return {
    rule,
    windowStart: doc["@timestamp"],
    windowEnd: doc["@timestamp"],
    groupBy,
    count: 1,
    events: [doc],
  };
}

/** The correlation's value over one window and group, or undefined when it does not fire. */
export function correlationValue(
  rule: CorrelationRule,
  group: {
    count: number;
    failures: number;
    values?: Set<string>;
    numbers?: number[];
    rulesSeen?: Set<string>;
  },
): number | undefined {
  if (group.count < rule.minCount || group.count === 0) return undefined;
  let value: number;
  switch (rule.type) {
    case "event_count":
      value = group.count;
      break;
    case "value_count":
      value = group.values?.size ?? 0;
      break;
    case "temporal":
      value = group.rulesSeen?.size ?? 0;
      break;
    case "new_value":
    case "geo":
    case "mtls_mode":
      // Judged against a baseline (rules/behaviour.ts), never over windows.
      return undefined;
    case "failure_ratio":
      value = group.failures / group.count;
      break;
    case "percentile": {
      const numbers = group.numbers ?? [];
      if (numbers.length === 0) return undefined;
      value = percentile(numbers, rule.percentile ?? 50);
      break;
    }
  }
  return conditionHolds(rule.condition, value) ? value : undefined;
}

/**
 * The `p`-th percentile by linear interpolation at rank `n * p / 100 - 0.5` (0-based; Hazen's definition,
 * Hyndman–Fan type 5), clamped to the smallest and largest value. This is what OpenSearch's `percentiles`
 * aggregation (a t-digest) returns wherever the digest holds the samples around that rank as single-sample
 * centroids, which it does for small sets and for the tails of larger ones (p99 over a few hundred requests): there
 * replay and the detector agree. Where the digest has merged samples, its answer is an estimate of this value.
 * Sorts `values` in place.
 */
export function percentile(values: number[], p: number): number {
  values.sort((a, b) => a - b);
  const position = Math.min(Math.max((values.length * p) / 100 - 0.5, 0), values.length - 1);
  const lower = Math.floor(position);
  const low = values[lower] as number;
  const high = values[Math.ceil(position)] as number;
  return low + (high - low) * (position - lower);
}

function correlationDetection(
  rule: CorrelationRule,
  start: number,
  group: GroupState,
): Detection | undefined {
  const value = correlationValue(rule, {
    count: group.count,
    failures: group.failures,
    ...(group.values === undefined ? {} : { values: group.values }),
    ...(group.numbers === undefined ? {} : { numbers: group.numbers }),
    ...(group.rulesSeen === undefined ? {} : { rulesSeen: group.rulesSeen }),
  });
  if (value === undefined) return undefined;
  const events = [...group.events];
  return {
    rule,
    windowStart: new Date(start).toISOString(),
    windowEnd: new Date(start + rule.timespanMs).toISOString(),
    groupBy: group.groupBy,
    count: group.count,
    ...(rule.type === "event_count" ? {} : { value }),
    events,
    tallies: [...group.tallies],
  };
}
