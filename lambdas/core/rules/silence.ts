/**
 * Source silence, the team's single definition: the in-memory evaluator (replay) tracks each source's last document
 * with `SilenceTracker`; the detector asks OpenSearch for each source's latest `@timestamp` and builds the same
 * detections with `silenceDetection`.
 *
 * A source is a combination of a silence rule's `groupBy` values (a document missing some of them counts for the
 * source without those; a document with none of them belongs to no source). A source is silent once `timespan` has
 * passed since its last document; an `expected` source is silent when no document of it is seen at all.
 */
import type { EcsDocument } from "../ecs.js";
import { firstString } from "./fields.js";
import type { Detection, SilenceRule } from "./types.js";
import { compareEvents } from "./windows.js";

/**
 * The detection of a silent source: from its last document to the moment it went silent (`[last, last +
 * timespan]`), holding that document. For an expected source never seen, `lastDocument` is undefined and the window
 * starts at the beginning of the lookback period containing `nowMs` (aligned to the epoch), so the alert stays the
 * same while the source stays missing, and a new one opens each period.
 */
export function silenceDetection(
  rule: SilenceRule,
  groupBy: Readonly<Record<string, string>>,
  lastDocument: EcsDocument | undefined,
  nowMs: number,
): Detection {
  const startMs =
    lastDocument === undefined
      ? Math.floor(nowMs / rule.lookbackMs) * rule.lookbackMs
      : Date.parse(lastDocument["@timestamp"]);
  return {
    rule,
    windowStart: new Date(startMs).toISOString(),
    windowEnd: new Date(startMs + rule.timespanMs).toISOString(),
    groupBy: { ...groupBy },
    count: 0,
    events: lastDocument === undefined ? [] : [lastDocument],
  };
}

/** Whether a seen source satisfies an expected one: it has every value the expected source names. */
export function satisfies(
  seen: Readonly<Record<string, string>>,
  expected: Readonly<Record<string, string>>,
): boolean {
  return Object.keys(expected).every((path) => seen[path] === expected[path]);
}

interface SourceState {
  readonly groupBy: Record<string, string>;
  lastMs: number;
  last: EcsDocument;
  /** This silence (since `last`) has been reported. */
  reported: boolean;
}

interface RuleState {
  readonly rule: SilenceRule;
  readonly readers: readonly { readonly path: string; readonly read: (doc: unknown) => string | undefined }[];
  /** By the source's values, each followed by NUL, a missing one written as SOH (no allocation but the key). */
  readonly sources: Map<string, SourceState>;
  /** Scratch space for the current document's values. */
  readonly values: (string | undefined)[];
}

/** Tracks every source's last document over a stream in (roughly) event-time order. */
export class SilenceTracker {
  readonly #states: readonly RuleState[];
  /** No source can go silent before this event time. */
  #nextDeadline = Number.POSITIVE_INFINITY;
  #firstMs = Number.POSITIVE_INFINITY;

  constructor(rules: readonly SilenceRule[]) {
    this.#states = rules.map((rule) => ({
      rule,
      readers: rule.groupBy.map((path) => ({ path, read: firstString(path) })),
      sources: new Map(),
      values: rule.groupBy.map(() => undefined),
    }));
  }

  /** Notes a document of event time `timeMs` that matched the single-event rules `matched`. */
  observe(doc: EcsDocument, timeMs: number, matched: readonly string[]): void {
    if (timeMs < this.#firstMs) this.#firstMs = timeMs;
    for (const state of this.#states) {
      if (matched.length > 0 && state.rule.excludeRules.some((name) => matched.includes(name))) continue;
      const { readers, values } = state;
      let key = "";
      let named = false;
      for (let i = 0; i < readers.length; i++) {
        const value = (readers[i] as (typeof readers)[number]).read(doc);
        values[i] = value;
        if (value === undefined) key += "\u0001";
        else {
          key += `${value}\u0000`;
          named = true;
        }
      }
      if (!named) continue;
      const source = state.sources.get(key);
      if (source === undefined) {
        const groupBy: Record<string, string> = {};
        readers.forEach(({ path }, i) => {
          const value = values[i];
          if (value !== undefined) groupBy[path] = value;
        });
        state.sources.set(key, { groupBy, lastMs: timeMs, last: doc, reported: false });
      } else if (
        timeMs > source.lastMs ||
        (timeMs === source.lastMs && compareEvents(doc, source.last) > 0)
      ) {
        source.lastMs = timeMs;
        source.last = doc;
        source.reported = false;
      } else {
        continue;
      }
      this.#nextDeadline = Math.min(this.#nextDeadline, timeMs + state.rule.timespanMs);
    }
  }

  /** Detections of the sources that have gone silent by event time `nowMs` (each silence once). */
  advance(nowMs: number, out: Detection[]): void {
    if (nowMs < this.#nextDeadline) return;
    let next = Number.POSITIVE_INFINITY;
    for (const { rule, sources } of this.#states) {
      for (const source of sources.values()) {
        if (source.reported) continue;
        const deadline = source.lastMs + rule.timespanMs;
        if (nowMs >= deadline) {
          source.reported = true;
          out.push(silenceDetection(rule, source.groupBy, source.last, nowMs));
        } else {
          next = Math.min(next, deadline);
        }
      }
    }
    this.#nextDeadline = next;
  }

  /**
   * At the end of the input, as of its latest event time `nowMs`: expected sources never seen, when the input spans
   * at least the rule's timespan (a shorter input says nothing about them).
   */
  finish(nowMs: number, out: Detection[]): void {
    this.advance(nowMs, out);
    for (const { rule, sources } of this.#states) {
      if (nowMs - this.#firstMs < rule.timespanMs) continue;
      for (const expected of rule.expected) {
        const seen = [...sources.values()].some((source) => satisfies(source.groupBy, expected));
        if (!seen) out.push(silenceDetection(rule, expected, undefined, nowMs));
      }
    }
  }
}
