/**
 * Correlation windows and suppression: the team's single definition, shared by the in-memory evaluator (CLI) and
 * the detector (which builds the same windows with two `date_histogram`s, offsets 0 and timespan/2).
 *
 * Windows are hopping: length `timespan`, a new one every `timespan / 2`, aligned to the Unix epoch
 * (`start = k * timespan / 2`). An event at `t` belongs to exactly two windows, `[s, s + timespan)` for
 * `s = floor(t / hop) * hop` and `s - hop`. A correlation fires for (rule, group, window) when its condition holds
 * over the events of that window and group.
 */
import type { EcsDocument } from "../ecs.js";
import type { CorrelationCondition, Detection, Suppression } from "./types.js";
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

/**
 * Suppression: a firing for the same rule and group whose window starts before `lastFiringStartMs +
 * suppressionMs` (the latest firing already folded into the open alert) belongs to that alert. With the default
 * suppression (= timespan) overlapping windows merge, so a sustained burst is one alert that grows, and a new
 * alert opens only after a quiet gap. 0 disables suppression.
 */
export function isSuppressed(
  lastFiringStartMs: number,
  firingWindowStartMs: number,
  suppressionMs: number,
  aligned = false,
): boolean {
  if (firingWindowStartMs < lastFiringStartMs) return false;
  if (aligned) return suppressionMs > 0 && sameSpan(lastFiringStartMs, firingWindowStartMs, suppressionMs);
  return firingWindowStartMs < lastFiringStartMs + suppressionMs;
}

/** Whether two instants lie in the same span of `spanMs` aligned to the Unix epoch (24 hours: the same UTC day). */
export function sameSpan(aMs: number, bMs: number, spanMs: number): boolean {
  return Math.floor(aMs / spanMs) === Math.floor(bMs / spanMs);
}

/**
 * The instant from which no firing can fold into an alert whose latest firing started at `lastFiringStartMs`: that
 * plus the suppression, or (aligned) the end of its span.
 */
export function suppressionEndMs(lastFiringStartMs: number, suppression: Suppression): number {
  if (suppression.aligned === true && suppression.ms > 0)
    return (Math.floor(lastFiringStartMs / suppression.ms) + 1) * suppression.ms;
  return lastFiringStartMs + suppression.ms;
}

/** The window start of the latest firing folded into an alert (its window end minus the rule's timespan). */
export function lastFiringStart(detection: Detection): number {
  const timespan = detection.rule.kind === "single" ? 0 : detection.rule.timespanMs;
  return Date.parse(detection.windowEnd) - timespan;
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

/**
 * Merges firings under each rule's suppression: per (rule, group), in window-start order, a firing within the
 * suppression of the open alert's latest firing is folded into it (window end extended; correlations keep count and
 * value of the firing with the largest count, earliest on ties; single-event counts add up; events united, the
 * earliest kept up to the cap); otherwise it opens a new alert.
 * Pure; the result is sorted by window start, then rule name.
 */
export function mergeDetections(detections: readonly Detection[]): Detection[] {
  const sorted = [...detections].sort(compareDetections);
  const open = new Map<string, Detection>();
  const result: Detection[] = [];
  for (const detection of sorted) {
    const key = `${detection.rule.name}|${groupKey(detection.groupBy)}`;
    const anchor = open.get(key);
    const start = Date.parse(detection.windowStart);
    const { suppression } = detection.rule;
    if (
      anchor !== undefined &&
      isSuppressed(lastFiringStart(anchor), start, suppression.ms, suppression.aligned)
    ) {
      const merged = foldDetections(anchor, detection);
      open.set(key, merged);
      result[result.indexOf(anchor)] = merged;
      continue;
    }
    open.set(key, detection);
    result.push(detection);
  }
  return result;
}

/** Folds a later firing into the alert opened by `anchor` (see `mergeDetections`). */
export function foldDetections(anchor: Detection, next: Detection): Detection {
  // Single-event firings are distinct events and add up; overlapping correlation windows share events, so the
  // alert keeps the largest window's count (and its value).
  const best = next.count > anchor.count ? next : anchor;
  const count = anchor.rule.kind === "single" ? anchor.count + next.count : best.count;
  const events = [...anchor.events];
  for (const event of next.events) if (!events.includes(event)) events.push(event);
  events.sort(compareEvents);
  if (events.length > DETECTION_EVENT_CAP) events.length = DETECTION_EVENT_CAP;
  const windowEnd =
    Date.parse(next.windowEnd) > Date.parse(anchor.windowEnd) ? next.windowEnd : anchor.windowEnd;
  // What every folded event says: the tallies of both (a hop slot shared by two windows once); a summary read
  // for one span no longer describes the folded one.
  const tallies = [...(anchor.tallies ?? [])];
  for (const tally of next.tallies ?? []) if (!tallies.includes(tally)) tallies.push(tally);
  const merged: Detection = {
    rule: anchor.rule,
    windowStart: anchor.windowStart,
    windowEnd,
    groupBy: anchor.groupBy,
    count,
    events,
    ...(best.value === undefined ? {} : { value: best.value }),
    ...(tallies.length === 0 ? {} : { tallies }),
  };
  return merged;
}

function compareDetections(a: Detection, b: Detection): number {
  const byStart = Date.parse(a.windowStart) - Date.parse(b.windowStart);
  if (byStart !== 0) return byStart;
  const byEnd = Date.parse(a.windowEnd) - Date.parse(b.windowEnd);
  if (byEnd !== 0) return byEnd;
  return a.rule.name < b.rule.name ? -1 : a.rule.name > b.rule.name ? 1 : 0;
}
