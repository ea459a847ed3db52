/**
 * Suppression, the team's single definition: how the firings of one rule and group become one alert, for replay
 * and the detector alike.
 *
 * A firing for the same rule and group whose window starts within the rule's suppression after the latest firing
 * already folded into the open alert belongs to that alert (`isSuppressed`, `foldDetections`). The same rule runs
 * over a batch (`mergeDetections`), over a stream (`SuppressionMerger`, replay), and across detector runs against
 * the alerts index (`planSuppression`: within one run, firings merge as in memory; an indexed alert's span takes
 * the firings its suppression covers, so a sustained burst pages once; `extendDetection` grows it).
 */

import { correlationAlertId, documentFingerprint, singleEventAlertId } from "../alerts/ids.js";
import type { Alert } from "../alerts/model.js";
import type { Detection, Suppression } from "./types.js";
import { DETECTION_EVENT_CAP } from "./types.js";
import { compareEvents, groupKey } from "./windows.js";

/** An alert already in the alerts index, as suppression reads it (the detector's `StoredAlert` is one). */
export interface IndexedAlert {
  readonly id: string;
  readonly document: Pick<Alert, "rule" | "group" | "window">;
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

/**
 * Streaming form of `mergeDetections` for long inputs: holds one open alert per (rule, group) and releases it
 * once no later firing can fold into it. Fed detections in window-start order per (rule, group), it returns the
 * same alerts as `mergeDetections`.
 */
export class SuppressionMerger {
  readonly #open = new Map<string, Detection>();

  /** Adds a firing; returns alerts that are now final. */
  push(detection: Detection): Detection[] {
    const key = `${detection.rule.name}|${groupKey(detection.groupBy)}`;
    const anchor = this.#open.get(key);
    const start = Date.parse(detection.windowStart);
    const { suppression } = detection.rule;
    if (
      anchor !== undefined &&
      isSuppressed(lastFiringStart(anchor), start, suppression.ms, suppression.aligned)
    ) {
      this.#open.set(key, foldDetections(anchor, detection));
      return [];
    }
    const out = anchor === undefined ? [] : [anchor];
    if (detection.rule.suppression.ms === 0) {
      this.#open.delete(key);
      out.push(detection);
      return out;
    }
    this.#open.set(key, detection);
    return out;
  }

  /** Releases alerts whose suppression ended before `safeTimeMs` (nothing earlier can still arrive). */
  release(safeTimeMs: number): Detection[] {
    const out: Detection[] = [];
    for (const [key, alert] of this.#open) {
      if (
        suppressionEndMs(lastFiringStart(alert), alert.rule.suppression) + correlationSpanOf(alert) <=
        safeTimeMs
      ) {
        out.push(alert);
        this.#open.delete(key);
      }
    }
    return out;
  }

  /** Releases everything (end of input). */
  flush(): Detection[] {
    const out = [...this.#open.values()];
    this.#open.clear();
    return out;
  }
}

/** The timespan a released alert waits out: a correlation's; 0 for any other kind. */
function correlationSpanOf(detection: Detection): number {
  return detection.rule.kind === "correlation" ? detection.rule.timespanMs : 0;
}

/** The id `buildAlert` will give the detection. */
export function detectionAlertId(detection: Detection): string {
  const { rule } = detection;
  if (rule.kind === "single") {
    const event = detection.events[0];
    if (event === undefined)
      throw new Error(`rule ${rule.name}: a single-event detection must carry its event`);
    return singleEventAlertId(rule.name, event);
  }
  return correlationAlertId(rule.name, detection.groupBy, detection.windowStart);
}

export interface SuppressionPlan<A extends IndexedAlert = IndexedAlert> {
  /** Alerts to create, merged within the run. */
  readonly fresh: Detection[];
  /** Indexed alerts that later firings fold into, with those firings. */
  readonly extensions: { readonly stored: A; readonly firings: Detection[] }[];
  /** Firings folded into an indexed alert or an earlier firing of this run. */
  readonly suppressed: number;
}

/**
 * Sorts firings per (rule, group) by window start; a firing is covered by an indexed alert when it has the same
 * id, or starts within the rule's suppression before the alert's start or after its latest firing; otherwise it
 * folds into this run's open alert when `isSuppressed`, or opens a new one.
 */
export function planSuppression<A extends IndexedAlert>(
  firings: readonly Detection[],
  existing: readonly A[],
): SuppressionPlan<A> {
  const existingByKey = new Map<string, A[]>();
  const existingById = new Map<string, A>();
  for (const stored of existing) {
    const key = `${stored.document.rule.name}|${groupKey(stored.document.group)}`;
    const list = existingByKey.get(key) ?? [];
    list.push(stored);
    existingByKey.set(key, list);
    existingById.set(stored.id, stored);
  }
  const sorted = [...firings].sort(
    (a, b) =>
      Date.parse(a.windowStart) - Date.parse(b.windowStart) ||
      Date.parse(a.windowEnd) - Date.parse(b.windowEnd),
  );
  const open = new Map<string, number>();
  const fresh: Detection[] = [];
  const extensions = new Map<string, { stored: A; firings: Detection[] }>();
  /** Latest firing start folded into each indexed alert so far: the chain grows as this run's firings fold in. */
  const latest = new Map<string, number>();
  let suppressed = 0;
  for (const firing of sorted) {
    const key = `${firing.rule.name}|${groupKey(firing.groupBy)}`;
    const start = Date.parse(firing.windowStart);
    const suppression = firing.rule.suppression;
    const covering =
      existingById.get(detectionAlertId(firing)) ??
      existingByKey
        .get(key)
        ?.find((stored) => covers(stored, latest.get(stored.id), start, suppression, spanOf(firing)));
    if (covering !== undefined) {
      latest.set(covering.id, Math.max(latest.get(covering.id) ?? Number.NEGATIVE_INFINITY, start));
      const entry = extensions.get(covering.id) ?? { stored: covering, firings: [] };
      entry.firings.push(firing);
      extensions.set(covering.id, entry);
      suppressed++;
      continue;
    }
    const openIndex = open.get(key);
    const anchor = openIndex === undefined ? undefined : fresh[openIndex];
    if (
      anchor !== undefined &&
      isSuppressed(lastFiringStart(anchor), start, suppression.ms, suppression.aligned)
    ) {
      fresh[openIndex as number] = foldDetections(anchor, firing);
      suppressed++;
      continue;
    }
    open.set(key, fresh.length);
    fresh.push(firing);
  }
  return { fresh, extensions: [...extensions.values()], suppressed };
}

function spanOf(detection: Detection): number {
  return detection.rule.kind === "single" ? 0 : detection.rule.timespanMs;
}

function covers(
  stored: IndexedAlert,
  foldedMs: number | undefined,
  startMs: number,
  suppression: Suppression,
  timespanMs: number,
): boolean {
  const suppressionMs = suppression.ms;
  if (suppressionMs <= 0) return false;
  const alertStart = Date.parse(stored.document.window.start);
  // Aligned: one alert per span (a UTC day for 24 hours), whatever the order the span's firings come in.
  if (suppression.aligned === true) return sameSpan(alertStart, startMs, suppressionMs);
  const latestFiring = Math.max(
    alertStart,
    Date.parse(stored.document.window.end) - timespanMs,
    foldedMs ?? alertStart,
  );
  return startMs > alertStart - suppressionMs && startMs < latestFiring + suppressionMs;
}

/**
 * The indexed alert as a detection, folded with later firings (events deduplicated by fingerprint). Returns
 * undefined when the firings change nothing (same span, no larger count; single events already held count once).
 */
export function extendDetection(base: Detection, firings: readonly Detection[]): Detection | undefined {
  let merged = base;
  const seen = new Set(base.events.map(documentFingerprint));
  for (const firing of [...firings].sort((a, b) => Date.parse(a.windowStart) - Date.parse(b.windowStart))) {
    const events = firing.events.filter((event) => !seen.has(documentFingerprint(event)));
    // A single event the alert already holds was counted when it was folded in: its re-evaluation adds nothing.
    if (firing.rule.kind === "single" && events.length === 0) continue;
    for (const event of events) seen.add(documentFingerprint(event));
    merged = foldDetections(merged, { ...firing, events });
  }
  return grew(merged, base) ? merged : undefined;
}

/** Whether the alert spans longer, counts more or holds more events than before. */
export function grew(merged: Detection, before: Detection): boolean {
  return (
    Date.parse(merged.windowEnd) > Date.parse(before.windowEnd) ||
    merged.count > before.count ||
    merged.events.length > before.events.length
  );
}
