/**
 * Suppression across runs. Within one run, firings merge exactly as the in-memory evaluator merges them
 * (`foldDetections`, chained on the latest firing). Across runs, the alerts index holds the open alerts: a firing
 * for the same rule and group within the suppression of an indexed alert's span (or the re-evaluation of a window
 * already alerted) folds into that alert instead of opening a new one, so a sustained burst pages once.
 */
import { correlationAlertId, documentFingerprint, singleEventAlertId } from "../alerts/ids.js";
import type { Detection, Suppression } from "../rules/types.js";
import { foldDetections, groupKey, isSuppressed, lastFiringStart, sameSpan } from "../rules/windows.js";
import type { StoredAlert } from "./store.js";

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

export interface SuppressionPlan {
  /** Alerts to create, merged within the run. */
  readonly fresh: Detection[];
  /** Indexed alerts that later firings fold into, with those firings. */
  readonly extensions: { readonly stored: StoredAlert; readonly firings: Detection[] }[];
  /** Firings folded into an indexed alert or an earlier firing of this run. */
  readonly suppressed: number;
}

/**
 * Sorts firings per (rule, group) by window start; a firing is covered by an indexed alert when it has the same
 * id, or starts within the rule's suppression before the alert's start or after its latest firing; otherwise it
 * folds into this run's open alert when `isSuppressed`, or opens a new one.
 */
export function planSuppression(
  firings: readonly Detection[],
  existing: readonly StoredAlert[],
): SuppressionPlan {
  const existingByKey = new Map<string, StoredAlert[]>();
  const existingById = new Map<string, StoredAlert>();
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
  const extensions = new Map<string, { stored: StoredAlert; firings: Detection[] }>();
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
        ?.find((stored) => covers(stored, latest.get(stored.id), start, suppression, timespanOf(firing)));
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

function timespanOf(detection: Detection): number {
  return detection.rule.kind === "single" ? 0 : detection.rule.timespanMs;
}

function covers(
  stored: StoredAlert,
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
