/**
 * One detection run (the detector Lambda calls it every minute):
 *
 * 1. retry alerts still `pending` in the outbox;
 * 2. evaluate single-event rules (documents the transform tagged) and correlation windows (aggregations) over
 *    the evaluation range: from `min(watermark, now) - lookback` to now, so late records within `lookback` are
 *    counted and ids make re-evaluation harmless;
 * 3. fold firings under suppression, against this run's firings and the indexed alerts;
 * 4. write each new alert create-only, publish it, mark it (the outbox); extend indexed alerts that later
 *    firings fold into.
 *
 * The run is `complete` when every rule was evaluated and every new alert was written; only then may the caller
 * advance the watermark to `nowMs`.
 */
import { buildAlert } from "../alerts/build.js";
import type { AlertContext } from "../alerts/model.js";
import { ALERTS_INDEX, AUDIT_INDEX_PATTERN } from "../contracts.js";
import { singleDetection } from "../rules/evaluator.js";
import type { CompiledRule, CorrelationRule, Detection, RulePack } from "../rules/types.js";
import { DETECTION_EVENT_CAP } from "../rules/types.js";
import {
  countSingleEventMatches,
  evaluateCorrelation,
  fetchSingleEventHits,
  fetchWindowEvents,
} from "./correlations.js";
import { type DeliveryOutcome, errorMessage, Outbox } from "./outbox.js";
import type { AlertPublisher, DetectionLogger, SearchClient } from "./ports.js";
import { type EvaluationRange, evaluationRange, windowRange } from "./queries.js";
import { evaluateSilence } from "./silence.js";
import { type AlertDocument, AlertStore, type StoredAlert } from "./store.js";
import { extendDetection, grew, planSuppression } from "./suppression.js";

/**
 * The audit indices without the alerts index: `audit-*` also matches `audit-alerts`, whose documents carry
 * `rule.name` and `@timestamp` and would otherwise be read back as matched events (an alert loop).
 */
export const AUDIT_EVENTS_INDICES = `${AUDIT_INDEX_PATTERN},-${ALERTS_INDEX}`;

export const DETECTION_DEFAULTS = {
  /** ≥ Firehose's longest buffering interval (900 s), so late records are still counted. */
  lookbackMs: 15 * 60_000,
  maxCatchUpMs: 24 * 60 * 60_000,
  singleEventLimit: 1000,
  compositePageSize: 500,
  retryLimit: 100,
  recentAlertsLimit: 2000,
  /** Longer than the detector's timeout, so a live run never loses its claim. */
  leaseMs: 5 * 60_000,
} as const;

export interface DetectionRunOptions {
  readonly nowMs: number;
  /** `nowMs` of the last complete run; undefined on the first run. */
  readonly watermarkMs: number | undefined;
  /** Identifies this run's claims in the outbox. */
  readonly runId: string;
  /** @default 15 minutes */
  readonly lookbackMs?: number;
  /** @default 24 hours */
  readonly maxCatchUpMs?: number;
  /** @default AUDIT_EVENTS_INDICES (`audit-*,-audit-alerts`) */
  readonly auditIndex?: string;
  /** @default ALERTS_INDEX */
  readonly alertsIndex?: string;
  /** Most documents read per single-event rule and run. @default 1000 */
  readonly singleEventLimit?: number;
  /** @default 500 */
  readonly compositePageSize?: number;
  /** Most outbox alerts retried per run. @default 100 */
  readonly retryLimit?: number;
  /** @default 2000 */
  readonly recentAlertsLimit?: number;
  /** @default 5 minutes */
  readonly leaseMs?: number;
  /** Wall clock for outbox timestamps and leases. @default Date.now */
  readonly clock?: () => number;
}

export interface DetectionDependencies {
  readonly search: SearchClient;
  readonly publisher: AlertPublisher;
  readonly logger: DetectionLogger;
  readonly pack: RulePack;
  readonly alertContext: AlertContext;
}

export interface DetectionReport {
  readonly range: EvaluationRange;
  /** Firings found (before suppression). */
  readonly firings: number;
  /** Firings folded into another alert. */
  readonly suppressed: number;
  /** Indexed alerts extended by later firings. */
  readonly extended: number;
  /** Outcomes of this run's new alerts. */
  readonly delivered: Readonly<Record<DeliveryOutcome, number>>;
  /** Outcomes of retried outbox alerts. */
  readonly retried: Readonly<Record<DeliveryOutcome, number>>;
  /** Rules whose evaluation failed (the run is then incomplete). */
  readonly failedRules: readonly string[];
  /** Single-event rules with more matches in the range than `singleEventLimit`. */
  readonly truncatedRules: readonly string[];
  /** Every rule evaluated and every new alert written: the watermark may advance to `nowMs`. */
  readonly complete: boolean;
}

export async function runDetection(
  deps: DetectionDependencies,
  options: DetectionRunOptions,
): Promise<DetectionReport> {
  const settings = { ...DETECTION_DEFAULTS, ...definedOnly(options) };
  const auditIndex = options.auditIndex ?? AUDIT_EVENTS_INDICES;
  const store = new AlertStore(deps.search, options.alertsIndex ?? ALERTS_INDEX);
  const outbox = new Outbox(store, deps.publisher, deps.logger, {
    runId: options.runId,
    clock: options.clock ?? Date.now,
    leaseMs: settings.leaseMs,
  });
  const { logger, pack } = deps;

  const retried = emptyOutcomes();
  try {
    for (const outcome of await outbox.retryPending(settings.retryLimit)) retried[outcome]++;
  } catch (error) {
    logger.error("could not look for pending alerts; they stay pending", { error: errorMessage(error) });
  }

  const range = evaluationRange({
    nowMs: options.nowMs,
    watermarkMs: options.watermarkMs,
    lookbackMs: settings.lookbackMs,
    maxCatchUpMs: settings.maxCatchUpMs,
  });
  if (range.catchUpTruncated) {
    logger.warn("detector was behind by more than the catch-up limit; older windows were not evaluated", {
      watermark: options.watermarkMs === undefined ? undefined : new Date(options.watermarkMs).toISOString(),
      from: new Date(range.fromMs).toISOString(),
    });
  }

  const failedRules: string[] = [];
  const truncatedRules: string[] = [];
  const firings: Detection[] = [];
  for (const rule of pack.singleEventRules) {
    if (!rule.generatesAlerts) continue;
    try {
      const { documents, total } = await fetchSingleEventHits(
        deps.search,
        auditIndex,
        rule,
        range,
        settings.singleEventLimit,
      );
      if (total > documents.length) {
        truncatedRules.push(rule.name);
        logger.warn("more matches than the per-run limit; the oldest were evaluated", {
          rule: rule.name,
          total,
          limit: settings.singleEventLimit,
        });
      }
      for (const doc of documents) firings.push(singleDetection(rule, doc));
    } catch (error) {
      failedRules.push(rule.name);
      logger.error("single-event rule evaluation failed", { rule: rule.name, error: errorMessage(error) });
    }
  }
  for (const rule of pack.correlationRules) {
    if (!rule.generatesAlerts) continue;
    const windows = windowRange(rule, range);
    if (windows === undefined) continue;
    try {
      firings.push(
        ...(await evaluateCorrelation(deps.search, auditIndex, rule, windows, settings.compositePageSize)),
      );
    } catch (error) {
      failedRules.push(rule.name);
      logger.error("correlation evaluation failed", { rule: rule.name, error: errorMessage(error) });
    }
  }

  for (const rule of pack.rules) {
    if (rule.kind !== "silence" || !rule.generatesAlerts) continue;
    try {
      firings.push(
        ...(await evaluateSilence(deps.search, auditIndex, rule, options.nowMs, settings.compositePageSize)),
      );
    } catch (error) {
      failedRules.push(rule.name);
      logger.error("silence evaluation failed", { rule: rule.name, error: errorMessage(error) });
    }
  }

  const ruleNames = [...new Set(firings.map((firing) => firing.rule.name))];
  const maxReachMs = Math.max(
    0,
    ...firings.map((firing) => firing.rule.suppression.ms + reachOf(firing.rule)),
  );
  let existing: StoredAlert[];
  try {
    existing = await store.findRecent(ruleNames, range.fromMs - maxReachMs, settings.recentAlertsLimit);
  } catch (error) {
    logger.error("could not read recent alerts; nothing is written this run", { error: errorMessage(error) });
    return report(
      range,
      firings.length,
      0,
      0,
      emptyOutcomes(),
      retried,
      [...failedRules, ...ruleNames],
      truncatedRules,
    );
  }
  const plan = planSuppression(firings, existing);

  const delivered = emptyOutcomes();
  for (const detection of plan.fresh) {
    try {
      // Past the per-run limit, the folded single events undercount: count them in the index.
      const counted = truncatedRules.includes(detection.rule.name)
        ? await withExactCount(deps, auditIndex, detection)
        : detection;
      const withEvents = await withMatchedEvents(deps, auditIndex, counted);
      delivered[await outbox.deliverNew(buildAlert(withEvents, deps.alertContext))]++;
    } catch (error) {
      delivered.persist_failed++;
      logger.error("alert not built; nothing published, the window will be evaluated again", {
        rule: detection.rule.name,
        windowStart: detection.windowStart,
        error: errorMessage(error),
      });
    }
  }

  let extended = 0;
  for (const { stored, firings: later } of plan.extensions) {
    try {
      if (await extendStored(deps, store, auditIndex, stored, later)) extended++;
    } catch (error) {
      logger.warn("could not extend an alert; the next run tries again", {
        alertId: stored.id,
        error: errorMessage(error),
      });
    }
  }

  if (plan.fresh.length > 0 || extended > 0) {
    // The next run (a minute later, or at once when catching up) must find these alerts to fold into them.
    try {
      await deps.search.refresh({ index: options.alertsIndex ?? ALERTS_INDEX });
    } catch (error) {
      logger.warn("could not refresh the alerts index; it becomes searchable within its refresh interval", {
        error: errorMessage(error),
      });
    }
  }

  return report(
    range,
    firings.length,
    plan.suppressed,
    extended,
    delivered,
    retried,
    failedRules,
    truncatedRules,
  );
}

/** Correlation detections come from aggregations without events: fetch the first events of their span. */
async function withMatchedEvents(
  deps: DetectionDependencies,
  index: string,
  detection: Detection,
): Promise<Detection> {
  if (detection.rule.kind !== "correlation" || detection.events.length >= DETECTION_EVENT_CAP)
    return detection;
  const events = await fetchWindowEvents(
    deps.search,
    index,
    detection.rule as CorrelationRule,
    detection.groupBy,
    Date.parse(detection.windowStart),
    Date.parse(detection.windowEnd),
  );
  return { ...detection, events };
}

/**
 * A single-event alert with its count taken from the index (`countSingleEventMatches`) rather than from the firings
 * folded into it: once an alert holds `DETECTION_EVENT_CAP` events, a later run cannot tell which of the firings it
 * re-evaluates were already counted. Never below `floor` (the count an indexed alert already shows).
 */
async function withExactCount(
  deps: DetectionDependencies,
  index: string,
  detection: Detection,
  floor = 0,
): Promise<Detection> {
  const { rule } = detection;
  if (rule.kind !== "single") return detection;
  const count = await countSingleEventMatches(
    deps.search,
    index,
    rule,
    detection.groupBy,
    Date.parse(detection.windowStart),
    Date.parse(detection.windowEnd),
  );
  return { ...detection, count: Math.max(count, floor) };
}

/** Folds later firings into an indexed alert and rewrites it (optimistic concurrency; the outbox is kept). */
async function extendStored(
  deps: DetectionDependencies,
  store: AlertStore,
  index: string,
  stored: StoredAlert,
  later: readonly Detection[],
): Promise<boolean> {
  const rule = later[0]?.rule;
  if (rule === undefined) return false;
  const document = stored.document;
  const base: Detection = {
    rule,
    windowStart: document.window.start,
    windowEnd: document.window.end,
    groupBy: { ...document.group },
    count: document.count,
    ...(document.value === undefined ? {} : { value: document.value }),
    events: [...document.events],
  };
  const folded = extendDetection(base, later);
  if (folded === undefined) return false;
  const merged = await withExactCount(deps, index, folded, document.count);
  if (!grew(merged, base)) return false;
  const withEvents =
    rule.kind === "correlation" && document.events.length < DETECTION_EVENT_CAP
      ? await withMatchedEvents(deps, index, { ...merged, events: [] })
      : merged;
  const rebuilt = buildAlert(withEvents, deps.alertContext);
  if (rebuilt.id !== stored.id) return false;
  const replacement: AlertDocument = { ...rebuilt, outbox: document.outbox };
  const result = await store.replace(stored, replacement);
  return result.outcome === "written";
}

/** How long before its window end an alert of the rule may start: a silence starts at its source's last document. */
function reachOf(rule: CompiledRule): number {
  switch (rule.kind) {
    case "single":
      return 0;
    case "correlation":
      return rule.timespanMs;
    case "silence":
      return rule.lookbackMs;
  }
}

function emptyOutcomes(): Record<DeliveryOutcome, number> {
  return {
    published: 0,
    duplicate: 0,
    not_paged: 0,
    publish_failed: 0,
    persist_failed: 0,
    claim_lost: 0,
    mark_failed: 0,
  };
}

function report(
  range: EvaluationRange,
  firings: number,
  suppressed: number,
  extended: number,
  delivered: Record<DeliveryOutcome, number>,
  retried: Record<DeliveryOutcome, number>,
  failedRules: readonly string[],
  truncatedRules: readonly string[],
): DetectionReport {
  return {
    range,
    firings,
    suppressed,
    extended,
    delivered,
    retried,
    failedRules: [...new Set(failedRules)],
    truncatedRules,
    complete: failedRules.length === 0 && delivered.persist_failed === 0,
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, member]) => member !== undefined)) as Partial<T>;
}
