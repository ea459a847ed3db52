/**
 * Correlation windows: the team's single definition, shared by the in-memory evaluator (CLI) and
 * the detector (which builds the same windows with two `date_histogram`s, offsets 0 and timespan/2).
 *
 * Windows are hopping: length `timespan`, a new one every `timespan / 2`, aligned to the Unix epoch
 * (`start = k * timespan / 2`). An event at `t` belongs to exactly two windows, `[s, s + timespan)` for
 * `s = floor(t / hop) * hop` and `s - hop`. A correlation fires for (rule, group, window) when its condition holds
 * over the events of that window and group. How firings of one (rule, group) become one alert is `suppression.ts`.
 */
import type { EcsDocument } from "../ecs.js";
import type { CorrelationCondition, Detection } from "./types.js";
import { DETECTION_EVENT_CAP } from "./types.js";

/** The hop between window starts. Timespans are whole seconds, so this is an integer number of milliseconds. */
export function hopMs(timespanMs: number): number {
  return timespanMs / 2;
}

/** Start of the latest window containing `timestampMs` (the other one starts one hop earlier). */
export function latestWindowStart(timestampMs: number, timespanMs: number): number {
  const hop = hopMs(timespanMs);
  return Math.floor(timestampMs / hop) * hop;
}

/** The starts of the two windows containing `timestampMs`, earliest first. */
export function windowStartsContaining(timestampMs: number, timespanMs: number): [number, number] {
  const latest = latestWindowStart(timestampMs, timespanMs);
  return [latest - hopMs(timespanMs), latest];
}

/** Whether `timestampMs` lies in the window starting at `startMs`. */
export function inWindow(timestampMs: number, startMs: number, timespanMs: number): boolean {
  return timestampMs >= startMs && timestampMs < startMs + timespanMs;
}

/**
 * The order of an alert's events, the detector's query order too (`@timestamp` then `event.id`, missing ids last):
 * when more events match than an alert holds, replay and the detector keep the same earliest ones.
 */
export function compareEvents(a: EcsDocument, b: EcsDocument): number {
  return (
    Date.parse(a["@timestamp"]) - Date.parse(b["@timestamp"]) || compareEventIds(a.event?.id, b.event?.id)
  );
}

function compareEventIds(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  return a < b ? -1 : 1;
}

/**
 * Adds `event` (at `timeMs`) to `events`, kept sorted by `compareEvents` and at most `DETECTION_EVENT_CAP` long,
 * when it is among the earliest; `times` holds the kept events' times. In place; an event equal to one held goes
 * after it, so ties keep arrival order.
 */
export function keepEarliest(
  events: EcsDocument[],
  times: number[],
  event: EcsDocument,
  timeMs: number,
): void {
  let at = events.length;
  const id = event.event?.id;
  // From the end: in-order logs stop at the first comparison.
  while (at > 0) {
    const held = times[at - 1] as number;
    if (timeMs > held || (timeMs === held && compareEventIds(id, events[at - 1]?.event?.id) >= 0)) break;
    at--;
  }
  if (at >= DETECTION_EVENT_CAP) return;
  events.splice(at, 0, event);
  times.splice(at, 0, timeMs);
  if (events.length > DETECTION_EVENT_CAP) {
    events.pop();
    times.pop();
  }
}

/** Whether every bound of the condition holds for `value`. An empty condition never holds. */
export function conditionHolds(condition: CorrelationCondition, value: number): boolean {
  let bounded = false;
  if (condition.gt !== undefined) {
    if (!(value > condition.gt)) return false;
    bounded = true;
  }
  if (condition.gte !== undefined) {
    if (!(value >= condition.gte)) return false;
    bounded = true;
  }
  if (condition.lt !== undefined) {
    if (!(value < condition.lt)) return false;
    bounded = true;
  }
  if (condition.lte !== undefined) {
    if (!(value <= condition.lte)) return false;
    bounded = true;
  }
  if (condition.eq !== undefined) {
    if (value !== condition.eq) return false;
    bounded = true;
  }
  if (condition.neq !== undefined) {
    if (value === condition.neq) return false;
    bounded = true;
  }
  return bounded;
}

/** A stable string for a group-by record (keys sorted), for ids and maps. */
export function groupKey(groupBy: Readonly<Record<string, string>>): string {
  const keys = Object.keys(groupBy).sort();
  return JSON.stringify(keys.map((key) => [key, groupBy[key]]));
}

/** The deterministic identity of a firing: rule, group and window start. */
export function detectionKey(detection: Detection): string {
  return `${detection.rule.name}|${groupKey(detection.groupBy)}|${detection.windowStart}`;
}
