/**
 * One detection run (the detector Lambda calls it every minute):
 *
 * 1. retry alerts still `pending` in the outbox;
 * 2. evaluate single-event rules (documents the transform tagged, paged to the end: every rule's first page in a
 *    few `_msearch` requests, `firstSingleEventPages`) and correlation windows
 *    (aggregations cut to a memory budget, `queries.ts`) over each rule's evaluation range: from
 *    `min(watermark, now) - lookback` to now, so late records within `lookback` are counted and ids make
 *    re-evaluation harmless; a rule that fell behind resumes from its own point (`resumeFromMs`);
 * 3. fold firings under suppression, against this run's firings and the indexed alerts;
 * 4. write the new alerts create-only, publish them, mark them (the outbox), a batch at a time: one `_msearch` for
 *    their counts and events, one `_bulk` to create, SNS a few at a time, one `_bulk` to mark; extend the indexed
 *    alerts that later firings fold into, a batch at a time too (a search by id, an `_msearch`, a `_bulk`).
 *
 * Guarantees (tested in `test/lambdas/core/detection/run.test.ts` and `test/integration/detector-isolation.test.ts`):
 * - a rule that fails (its query errors, its response is partial, its alerts cannot be written) never holds back
 *   the others: their alerts are written and published and the caller advances the watermark to `nowMs`; the
 *   failed rule is named in `failedRules` with its error, published once to the ops topic when it starts failing,
 *   and listed in `resumeFromMs` with the start of the range it did not finish, so the next run evaluates that
 *   range again for it alone (late alerts, never lost); a silence rule's resume point is the first time it did not
 *   judge its sources as of, and it then judges them as of every minute since (a source silent only while the rule
 *   failed is still alerted);
 * - a rule that runs out of the run's time (`deadlineMs`) or event budget (`maxEventsPerRun`) keeps what it
 *   evaluated and resumes where it stopped (`resumeFromMs`, `partialRules`): nothing is truncated, what did not
 *   fit carries over;
 * - a rule further behind than `maxCatchUpMs` is evaluated from `now - maxCatchUpMs` on and the run lists the range
 *   it skipped (`skipped`): the one way a range goes unevaluated, and always on record;
 * - alert writes stop at `writeDeadlineMs`: the rules of the alerts not written (or extended) by then resume from
 *   before them (`resumeFromMs`, `partialRules`), so the next run evaluates and writes them; a behavioural rule's
 *   baseline stays where it was;
 * - single-event alerts count every matching document of their span (counted in the index).
 *
 * The run is `complete` when every rule was evaluated to `nowMs` and every new alert was written.
 */
import { buildAlert } from "../alerts/build.js";
import {
  EventTally,
  exactFieldsOf,
  type MatchedSummary,
  mergeSummaries,
  partlyListed,
  storedSummary,
  summarizeTallies,
  withTotals,
} from "../alerts/matched.js";
import type { Alert, AlertContext } from "../alerts/model.js";
import { ALERTS_INDEX, AUDIT_INDEX_PATTERN } from "../contracts.js";
import type { EcsDocument } from "../ecs.js";
import { errorDescription } from "../errors.js";
import { singleDetection } from "../rules/evaluator.js";
import { extendDetection, grew, planSuppression } from "../rules/suppression.js";
import type {
  BehaviourRule,
  CompiledRule,
  CorrelationRule,
  Detection,
  RulePack,
  SingleEventRule,
} from "../rules/types.js";
import { DETECTION_EVENT_CAP, isBehaviourRule } from "../rules/types.js";
import { groupKey, hopMs } from "../rules/windows.js";
import { type BehaviourProgress, evaluateBehaviour } from "./behaviour.js";
import { chunks, forEachConcurrently } from "./concurrency.js";
import {
  type AlertSummary,
  evaluateCorrelationInChunks,
  fetchSingleEventPage,
  firstSingleEventPages,
  type SearchRequest,
  type SingleEventPage,
  singleEventCountsOnlyRequest,
  singleEventCountsRequest,
  touchedWindowRanges,
  windowEventsRequest,
} from "./correlations.js";
import { type DeliveryOutcome, Outbox } from "./outbox.js";
import type { AlertPublisher, DetectionLogger, SearchClient, StoredDocument } from "./ports.js";
import {
  type AggregationBudget,
  type AlertSpan,
  type ArrivalMark,
  countedAlertsPerRequest,
  DEFAULT_AGGREGATION_BUDGET,
  type EvaluationRange,
  evaluationRange,
  eventsAlertsPerRequest,
  type IngestWindow,
  NEWEST_INDEX_STAMP,
  newestIndexStampQuery,
  type WindowRange,
  windowRange,
} from "./queries.js";
import { metricSchema, parseAggregation, parseSearchResponse } from "./responses.js";
import { ruleFailureMessage } from "./rule-failure.js";
import { readRuleState, writeRuleState } from "./rule-state.js";
import { knownSightings, SilenceJudge } from "./silence-search.js";
import { type AlertDocument, type AlertGroup, AlertStore, type StoredAlert } from "./store.js";

/**
 * The audit indices without the alerts index: `audit-*` also matches `audit-alerts`, whose documents carry
 * `rule.name` and `@timestamp` and would otherwise be read back as matched events (an alert loop).
 */
export const AUDIT_EVENTS_INDICES = `${AUDIT_INDEX_PATTERN},-${ALERTS_INDEX}`;

/**
 * Correlation and behavioural rules evaluated at once, and batches of grown alerts rewritten at once: a search thread
 * each on the node (the smallest domain the stack deploys has two vCPUs), and at most twice
 * `DEFAULT_AGGREGATION_BUDGET` of the node's heap.
 */
const SEARCHES_AT_ONCE = 2;

/** A silence rule behind judges its sources as of every scheduled run it missed: one a minute. */
const SILENCE_STEP_MS = 60_000;

export const DETECTION_DEFAULTS = {
  /** ≥ Firehose's longest buffering interval (900 s), so late records are still counted. */
  lookbackMs: 15 * 60_000,
  maxCatchUpMs: 24 * 60 * 60_000,
  /** Documents per single-event page. */
  singleEventPageSize: 1000,
  /** Matched documents one run holds at most (about 3 KB each): the detector's own memory bound. */
  maxEventsPerRun: 50_000,
  retryLimit: 100,
  /** Alerts per page when reading the recent alerts (all of them are read). */
  recentAlertsPageSize: 2000,
  /** Longer than the detector's timeout, so a live run never loses its claim. */
  leaseMs: 5 * 60_000,
  /** Alerts published (and indexed alerts extended) at once. */
  deliveryConcurrency: 8,
  /** New alerts per batch: one `_msearch` of their counts and events, one `_bulk` to create, one to mark. */
  writeBatchSize: 100,
  /**
   * A document is searchable this long at most after the node stamped it (`INDEXED_AT_FIELD`): the rest of its bulk
   * request, the audit indices' 5 s refresh, and clock differences between nodes, with room to spare. Elastic's
   * detection engine reads by the same kind of stamp (`event.ingested` set by an ingest pipeline) with a one-minute
   * additional look-back by default.
   */
  indexLagMs: 60_000,
} as const;

export interface DetectionRunOptions {
  readonly nowMs: number;
  /** `nowMs` of the last run; undefined on the first run. */
  readonly watermarkMs: number | undefined;
  /**
   * Rules behind the watermark (the last run's `resumeFromMs`): each is evaluated from its own point instead of
   * `watermark - lookback`. @default none
   */
  readonly resumeFromMs?: Readonly<Record<string, number>>;
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
  /** Documents per single-event page. @default 1000 */
  readonly singleEventPageSize?: number;
  /** Matched documents one run holds at most; the rest carries over. @default 50,000 */
  readonly maxEventsPerRun?: number;
  /** What one correlation request may hold on the node. @default DEFAULT_AGGREGATION_BUDGET */
  readonly aggregationBudget?: AggregationBudget;
  /**
   * When (by `clock`) the run stops starting new evaluation requests and writes what it has; the rest carries
   * over. @default no deadline
   */
  readonly deadlineMs?: number;
  /** Most outbox alerts retried per run. @default 100 */
  readonly retryLimit?: number;
  /** Alerts per page when reading the recent alerts; all are read. @default 2000 */
  readonly recentAlertsPageSize?: number;
  /** @default 5 minutes */
  readonly leaseMs?: number;
  /** New alerts published, and indexed alerts extended, at once. @default 8 */
  readonly deliveryConcurrency?: number;
  /** New alerts per batch (one `_msearch` of their counts and events, one `_bulk` to create, one to mark). @default 100 */
  readonly writeBatchSize?: number;
  /**
   * When (by `clock`) the run stops starting alert writes (new alerts a batch at a time, extensions one at a time):
   * the rules of what is left resume from before those alerts (`resumeFromMs`, `partialRules`), so the next run
   * evaluates and writes them. Later than `deadlineMs`, so that the writes of what was evaluated have time of
   * their own. @default no deadline
   */
  readonly writeDeadlineMs?: number;
  /**
   * Incremental evaluation: how long after Firehose stamps `event.ingested` a document may first become searchable
   * (buffering interval, retry duration, refresh). When set, a rule that is not behind reads only what may be new
   * since the watermark (`IngestWindow`): single-event rules the documents ingested after `watermark -
   * ingestLagMs`, correlations the windows holding one (and, for rules judged on closed windows, those that closed
   * since the watermark), however late their event time (up to `maxCatchUpMs`). A rule that is behind, and every
   * rule on the first run, evaluates its whole range. @default undefined: every run evaluates the whole lookback
   */
  readonly ingestLagMs?: number;
  /**
   * Incremental evaluation by the node's index stamp (`INDEXED_AT_FIELD`): the newest stamp searchable when the last
   * run started (its report's `indexedThroughMs`). With it, a document with the stamp is new when stamped at or
   * after `indexedWatermarkMs - indexLagMs` (`ArrivalMark`), seconds of traffic where `ingestLagMs` spans Firehose's
   * buffering and retries; documents without it (indexed before the audit indices had the pipeline) are still read
   * by `event.ingested`. Both marks are in the clock that stamped the documents, so the detector's own clock does
   * not enter. Used only with `ingestLagMs` and `watermarkMs`. @default undefined: every document by `event.ingested`
   */
  readonly indexedWatermarkMs?: number;
  /** How long after the node stamps a document it may first become searchable. @default 60 s */
  readonly indexLagMs?: number;
  /** Wall clock for outbox timestamps, leases and the deadline. @default Date.now */
  readonly clock?: () => number;
  /** How often behavioural rules rebuild their baseline from the indices. @default 24 hours */
  readonly baselineRebuildEveryMs?: number;
}

export interface DetectionDependencies {
  readonly search: SearchClient;
  readonly publisher: AlertPublisher;
  readonly logger: DetectionLogger;
  readonly pack: RulePack;
  readonly alertContext: AlertContext;
}

/** A rule whose evaluation failed this run, and why. */
export interface RuleFailure {
  readonly rule: string;
  readonly error: string;
  /**
   * Where the rule resumes next run (epoch ms): the start of the range it did not finish; for a silence rule, the
   * first time it did not judge its sources as of. Undefined when the rule's alerts could not be read back.
   */
  readonly resumeFromMs: number | undefined;
}

/** A range a rule did not evaluate because it lay beyond `maxCatchUpMs`. */
export interface SkippedRange {
  readonly rule: string;
  readonly fromMs: number;
  readonly toMs: number;
}

export interface DetectionReport {
  /** The range of rules not behind (from the watermark). */
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
  /** Rules whose evaluation failed. */
  readonly failedRules: readonly string[];
  /** The errors of `failedRules`. */
  readonly failures: readonly RuleFailure[];
  /** Rules that ran out of the run's time or event budget and resume where they stopped. */
  readonly partialRules: readonly string[];
  /** Rules that must resume from their own point next run (failed or partial): pass it back as `resumeFromMs`. */
  readonly resumeFromMs: Readonly<Record<string, number>>;
  /** Ranges beyond the catch-up limit that were not evaluated. */
  readonly skipped: readonly SkippedRange[];
  /** Every rule evaluated to `nowMs` and every new alert written. */
  readonly complete: boolean;
  /**
   * Incremental evaluation (`ingestLagMs`): the newest index stamp searchable when this run started, or the last
   * run's when none is newer or it could not be read. Pass it back as `indexedWatermarkMs`.
   */
  readonly indexedThroughMs: number | undefined;
}

export async function runDetection(
  deps: DetectionDependencies,
  options: DetectionRunOptions,
): Promise<DetectionReport> {
  const settings = { ...DETECTION_DEFAULTS, ...definedOnly(options) };
  const clock = options.clock ?? Date.now;
  const auditIndex = options.auditIndex ?? AUDIT_EVENTS_INDICES;
  const budget = options.aggregationBudget ?? DEFAULT_AGGREGATION_BUDGET;
  const alertsIndex = options.alertsIndex ?? ALERTS_INDEX;
  const store = new AlertStore(deps.search, alertsIndex);
  const outbox = new Outbox(store, deps.publisher, deps.logger, {
    runId: options.runId,
    clock,
    leaseMs: settings.leaseMs,
    publishConcurrency: settings.deliveryConcurrency,
  });
  const { logger, pack } = deps;
  const previousResume = options.resumeFromMs ?? {};
  const outOfTime = () => options.deadlineMs !== undefined && clock() >= options.deadlineMs;

  const retried = emptyOutcomes();
  try {
    for (const outcome of await outbox.retryPending(settings.retryLimit)) retried[outcome]++;
  } catch (error) {
    logger.error("could not look for pending alerts; they stay pending", { error: errorDescription(error) });
  }
  // Read before any evaluation: whatever becomes searchable after it, the next run reads.
  const indexedThroughMs =
    options.ingestLagMs === undefined
      ? undefined
      : await newestIndexStamp(
          deps.search,
          auditIndex,
          options.indexedWatermarkMs,
          settings.indexLagMs,
          logger,
        );

  const rangeOptions = {
    nowMs: options.nowMs,
    lookbackMs: settings.lookbackMs,
    maxCatchUpMs: settings.maxCatchUpMs,
  };
  const range = evaluationRange({ ...rangeOptions, watermarkMs: options.watermarkMs });
  const skipped: SkippedRange[] = [];
  /** The rule's range: its own resume point when it is behind, else the watermark's. */
  const rangeOf = (rule: CompiledRule): EvaluationRange => {
    const resume = previousResume[rule.name];
    const own =
      resume === undefined
        ? range
        : evaluationRange({ ...rangeOptions, watermarkMs: resume + settings.lookbackMs });
    if (own.catchUpTruncated) {
      const wanted =
        resume ??
        (options.watermarkMs === undefined ? own.fromMs : options.watermarkMs - settings.lookbackMs);
      skipped.push({ rule: rule.name, fromMs: wanted, toMs: own.fromMs });
      logger.warn("rule was behind by more than the catch-up limit; a range was not evaluated", {
        rule: rule.name,
        from: new Date(wanted).toISOString(),
        to: new Date(own.fromMs).toISOString(),
      });
    }
    return own;
  };

  const failures = new Map<string, RuleFailure>();
  const resume = new Map<string, number>();
  const partialRules: string[] = [];
  const fail = (rule: CompiledRule, from: number | undefined, error: unknown, what: string) => {
    failures.set(rule.name, { rule: rule.name, error: errorDescription(error), resumeFromMs: from });
    if (from !== undefined) resume.set(rule.name, Math.min(from, resume.get(rule.name) ?? from));
    logger.error(`${what} failed; the other rules go on, this one resumes next run`, {
      rule: rule.name,
      error: errorDescription(error),
      ...(from === undefined ? {} : { resumeFrom: new Date(from).toISOString() }),
    });
  };
  /** A rule stopped for the run's time (or event budget): it resumes at `from` next run. */
  const stopAt = (rule: CompiledRule, from: number, why = "out of the run's time") => {
    resume.set(rule.name, from);
    partialRules.push(rule.name);
    logger.warn(`${why}; the rule resumes where it stopped`, {
      rule: rule.name,
      resumeFrom: new Date(from).toISOString(),
    });
  };
  const outOfWriteTime = () => options.writeDeadlineMs !== undefined && clock() >= options.writeDeadlineMs;
  /** Rules with alerts left unwritten at the write deadline: they resume from before those alerts. */
  const carried = new Set<string>();
  const carry = (rule: CompiledRule, unwritten: readonly Detection[]) => {
    let from = rangeStartOf(rule);
    // A silence rule resumes as of the time it judged; the others from the earliest unwritten alert's start.
    if (rule.kind !== "silence") {
      for (const detection of unwritten) from = Math.min(from, Date.parse(detection.windowStart));
    }
    resume.set(rule.name, Math.min(from, resume.get(rule.name) ?? from));
    if (!carried.has(rule.name)) {
      carried.add(rule.name);
      if (!partialRules.includes(rule.name)) partialRules.push(rule.name);
      logger.warn(
        "out of the run's time to write alerts; the rule's unwritten alerts carry over to the next run",
        {
          rule: rule.name,
          resumeFrom: new Date(resume.get(rule.name) as number).toISOString(),
        },
      );
    }
  };
  const ranges = new Map<string, EvaluationRange>();
  const rangeStartOf = (rule: CompiledRule) => (ranges.get(rule.name) ?? range).fromMs;
  /** What may be new for a rule not behind (incremental evaluation), else undefined: its whole range. */
  const ingestWindowOf = (rule: CompiledRule, own: EvaluationRange): IngestWindow | undefined =>
    options.ingestLagMs === undefined ||
    options.watermarkMs === undefined ||
    previousResume[rule.name] !== undefined
      ? undefined
      : {
          arrived: {
            ingestedFromMs: options.watermarkMs - options.ingestLagMs,
            ...(options.indexedWatermarkMs === undefined
              ? {}
              : { indexedFromMs: options.indexedWatermarkMs - settings.indexLagMs }),
          },
          untaggedFromMs: own.fromMs,
          floorMs: options.nowMs - settings.maxCatchUpMs,
          toMs: options.nowMs,
        };

  const firings: Detection[] = [];
  let eventsHeld = 0;
  const singles = pack.singleEventRules
    .filter((rule) => rule.generatesAlerts)
    .map((rule) => {
      const own = rangeOf(rule);
      ranges.set(rule.name, own);
      return { rule, range: own, ingest: ingestWindowOf(rule, own) };
    });
  // Every rule's first page in a few `_msearch` requests when they all fit the event budget; a rule with more pages
  // reads the rest on its own. Without an answer (the request failed as a whole), each reads its first page itself.
  let firstPages: (SingleEventPage | Error)[] | undefined;
  if (!outOfTime() && singles.length * settings.singleEventPageSize <= settings.maxEventsPerRun) {
    try {
      firstPages = await firstSingleEventPages(
        deps.search,
        auditIndex,
        singles,
        settings.singleEventPageSize,
      );
    } catch (error) {
      logger.warn("could not read the single-event rules' first pages together; each reads its own", {
        error: errorDescription(error),
      });
    }
  }
  for (const [position, { rule, range: own, ingest }] of singles.entries()) {
    let prefetched = firstPages?.[position];
    let after: unknown[] | undefined;
    let lastTimeMs: number | undefined;
    try {
      for (;;) {
        let page: SingleEventPage;
        if (prefetched !== undefined) {
          if (prefetched instanceof Error) throw prefetched;
          page = prefetched;
          prefetched = undefined;
        } else {
          if (outOfTime() || eventsHeld >= settings.maxEventsPerRun) {
            // Resume at the last document read: its time's other documents are read again, their ids dedupe.
            stopAt(rule, lastTimeMs ?? own.fromMs, "out of the run's time or event budget");
            break;
          }
          const size = Math.min(settings.singleEventPageSize, settings.maxEventsPerRun - eventsHeld);
          page = await fetchSingleEventPage(deps.search, auditIndex, rule, own, size, after, ingest);
        }
        for (const doc of page.documents) firings.push(singleDetection(rule, doc));
        eventsHeld += page.documents.length;
        lastTimeMs = lastTime(page.documents) ?? lastTimeMs;
        if (page.next === undefined) break;
        after = page.next;
      }
    } catch (error) {
      // Firings already read stay: their alerts are written, and the rule reads its whole range again.
      fail(rule, own.fromMs, error, "single-event rule evaluation");
    }
  }
  /** A correlation's windows with new documents (every window of its range without incremental evaluation). */
  const correlationOf = async (rule: CorrelationRule): Promise<() => void> => {
    const own = rangeOf(rule);
    ranges.set(rule.name, own);
    const ingest = ingestWindowOf(rule, own);
    const detections: Detection[] = [];
    /** Why the rule stopped short of its range, if it did: applied after its detections. */
    let stopped: (() => void) | undefined;
    try {
      let toEvaluate: WindowRange[];
      if (ingest === undefined) {
        const windows = windowRange(rule, own);
        toEvaluate = windows === undefined ? [] : [windows];
      } else {
        const eligible = windowRange(rule, {
          fromMs: ingest.floorMs,
          toMs: ingest.toMs,
          catchUpTruncated: false,
        });
        toEvaluate =
          eligible === undefined
            ? []
            : await touchedWindowRanges(
                deps.search,
                auditIndex,
                rule,
                ingest,
                eligible,
                options.watermarkMs as number,
              );
      }
      for (const windows of toEvaluate) {
        const progress = await evaluateCorrelationInChunks(deps.search, auditIndex, rule, windows, {
          budget,
          ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
          clock,
        });
        detections.push(...progress.detections);
        if (progress.complete) continue;
        // Windows starting after the last one evaluated are those ending after `resumeFrom`; none evaluated of
        // this range: from its first window on.
        const from =
          progress.evaluatedThroughStartMs === undefined
            ? Math.min(own.fromMs, windows.firstStartMs + rule.timespanMs - hopMs(rule.timespanMs))
            : progress.evaluatedThroughStartMs + rule.timespanMs;
        stopped = () => stopAt(rule, from);
        break;
      }
    } catch (error) {
      stopped = () => fail(rule, own.fromMs, error, "correlation evaluation");
    }
    return () => {
      firings.push(...detections);
      stopped?.();
    };
  };

  // Behavioural rules judge from their own baseline's point (`behaviour.ts`); the baseline moves on only once
  // their alerts are written (below), so a failed write judges the same events again next run.
  /** Rules whose state (`rule-state.ts`) this run advanced: saved once their alerts are written. */
  const statefulRules = new Map<string, Pick<BehaviourProgress, "commit">>();
  const behaviourOf = async (rule: BehaviourRule): Promise<() => void> => {
    try {
      const progress = await evaluateBehaviour(deps.search, rule, {
        nowMs: options.nowMs,
        lookbackMs: settings.lookbackMs,
        maxCatchUpMs: settings.maxCatchUpMs,
        index: auditIndex,
        alertsIndex,
        ...(deps.alertContext.geo === undefined ? {} : { geo: deps.alertContext.geo }),
        ...(options.baselineRebuildEveryMs === undefined
          ? {}
          : { rebuildEveryMs: options.baselineRebuildEveryMs }),
      });
      return () => {
        statefulRules.set(rule.name, progress);
        firings.push(...progress.detections);
        if (progress.skipped === undefined) return;
        skipped.push({ rule: rule.name, ...progress.skipped });
        logger.warn(
          "rule was behind by more than the catch-up limit; a range was folded into its baseline unjudged",
          {
            rule: rule.name,
            from: new Date(progress.skipped.fromMs).toISOString(),
            to: new Date(progress.skipped.toMs).toISOString(),
          },
        );
      };
    } catch (error) {
      return () => fail(rule, options.nowMs - settings.lookbackMs, error, "behaviour evaluation");
    }
  };
  // The correlation and behavioural rules, `SEARCHES_AT_ONCE` at a time: each is a few searches the detector waits on,
  // which the node answers on a search thread each. What each found is applied in the pack's order once all are
  // done, so a run's alerts, failures and resume points do not depend on which answered first.
  const evaluations: (() => Promise<() => void>)[] = [];
  for (const rule of pack.correlationRules) {
    if (!rule.generatesAlerts) continue;
    evaluations.push(isBehaviourRule(rule) ? () => behaviourOf(rule) : () => correlationOf(rule));
  }
  const found: (() => void)[] = [];
  await forEachConcurrently(evaluations, SEARCHES_AT_ONCE, async (evaluate, position) => {
    found[position] = await evaluate();
  });
  for (const apply of found) apply();

  // A silence rule judges its sources as of a time. Behind (it failed, or ran out of time), it judges them as of
  // every scheduled minute since its resume point, so a source that went silent and came back meanwhile is still
  // alerted (the same silence judged twice is the same alert); the catch-up limit bounds how far back. A rule not
  // behind starts from the sightings the last run left (`SilenceJudge`), reading only what arrived since.
  for (const rule of pack.rules) {
    if (rule.kind !== "silence" || !rule.generatesAlerts) continue;
    const resumeAt = previousResume[rule.name];
    const times: number[] = [];
    if (resumeAt !== undefined) {
      const floor = options.nowMs - settings.maxCatchUpMs;
      if (resumeAt < floor) {
        skipped.push({ rule: rule.name, fromMs: resumeAt, toMs: floor });
        logger.warn("rule was behind by more than the catch-up limit; a range was not evaluated", {
          rule: rule.name,
          from: new Date(resumeAt).toISOString(),
          to: new Date(floor).toISOString(),
        });
      }
      for (let at = Math.max(resumeAt, floor); at < options.nowMs; at += SILENCE_STEP_MS) times.push(at);
    }
    times.push(options.nowMs);
    const own = { fromMs: times[0] as number, toMs: options.nowMs, catchUpTruncated: false };
    ranges.set(rule.name, own);
    let judge: SilenceJudge;
    let stored: StoredDocument | undefined;
    try {
      stored = await readRuleState(deps.search, alertsIndex, rule);
      const arrived = ingestWindowOf(rule, own)?.arrived;
      const known =
        arrived === undefined ? undefined : knownSightings(stored, rule, options.watermarkMs, arrived);
      judge = new SilenceJudge(deps.search, auditIndex, rule, 500, known);
    } catch (error) {
      fail(rule, times[0], error, "reading the silence rule's sightings");
      continue;
    }
    let judged = true;
    for (const at of times) {
      if (at !== options.nowMs && outOfTime()) {
        stopAt(rule, at);
        judged = false;
        break;
      }
      try {
        firings.push(...(await judge.at(at)));
      } catch (error) {
        fail(rule, at, error, "silence evaluation");
        judged = false;
        break;
      }
    }
    if (judged) {
      statefulRules.set(rule.name, {
        commit: () => writeRuleState(deps.search, alertsIndex, rule, stored, judge.sightings()),
      });
    }
  }

  const ruleNames = [...new Set(firings.map((firing) => firing.rule.name))];
  // Late events (incremental evaluation reads them up to the catch-up limit) fold into the alerts of their time.
  let earliestFrom = Math.min(range.fromMs, ...[...ranges.values()].map((own) => own.fromMs));
  for (const firing of firings) earliestFrom = Math.min(earliestFrom, Date.parse(firing.windowStart));
  const maxReachMs = Math.max(
    0,
    ...firings.map((firing) => firing.rule.suppression.ms + reachOf(firing.rule)),
  );
  let existing: StoredAlert[];
  try {
    existing = await findRecentFor(store, firings, earliestFrom - maxReachMs, settings.recentAlertsPageSize);
  } catch (error) {
    logger.error("could not read recent alerts; nothing is written this run", {
      error: errorDescription(error),
    });
    for (const name of ruleNames) {
      const rule = pack.get(name);
      if (rule !== undefined && !failures.has(name))
        fail(rule, rangeStartOf(rule), error, "reading recent alerts");
    }
    return finish(firings.length, 0, 0, emptyOutcomes());
  }
  const plan = planSuppression(firings, existing);

  const delivered = emptyOutcomes();
  // Incremental evaluation: every document that arrived before this mark is searchable (Firehose received it more
  // than the ingest lag ago, or the node stamped it more than the index lag before the newest stamp this run found),
  // so the alerts' summaries have read them all (`withSummaries`).
  const summariesReadBefore: ArrivalMark | undefined =
    options.ingestLagMs === undefined
      ? undefined
      : {
          ingestedFromMs: options.nowMs - options.ingestLagMs,
          ...(indexedThroughMs === undefined
            ? {}
            : { indexedFromMs: indexedThroughMs - settings.indexLagMs }),
        };
  // New alerts a batch at a time: one `_msearch` reads every alert's count and events, one `_bulk` creates them,
  // SNS takes the paging ones a few at a time, one `_bulk` marks them. A batch not started by the write deadline
  // carries over: its rules resume from before its alerts (next run evaluates and writes them again).
  const fetched = fetchedDocuments(firings);
  for (const batch of chunks(plan.fresh, settings.writeBatchSize)) {
    if (outOfWriteTime()) {
      for (const detection of batch) carry(detection.rule, [detection]);
      continue;
    }
    const summarized = await withSummaries(
      deps,
      auditIndex,
      batch.map((detection) =>
        detection.rule.kind === "single" ? { detection, fetched: fetched(detection) } : { detection },
      ),
      summariesReadBefore,
    );
    const alerts: Alert[] = [];
    const rules: CompiledRule[] = [];
    summarized.forEach((entry, position) => {
      const { rule } = batch[position] as Detection;
      try {
        if ("error" in entry) throw entry.error;
        alerts.push(buildAlert(entry.detection, deps.alertContext));
        rules.push(rule);
      } catch (error) {
        delivered.persist_failed++;
        // Nothing was published: the rule evaluates this range again next run, the others go on.
        if (!failures.has(rule.name)) fail(rule, rangeStartOf(rule), error, "writing an alert");
      }
    });
    const outcomes = await outbox.deliverMany(alerts);
    outcomes.forEach((outcome, position) => {
      delivered[outcome]++;
      const rule = rules[position] as CompiledRule;
      if (outcome === "persist_failed" && !failures.has(rule.name)) {
        fail(
          rule,
          rangeStartOf(rule),
          "the alert could not be written to the alerts index",
          "writing an alert",
        );
      }
    });
  }

  for (const [name, progress] of statefulRules) {
    if (failures.has(name) || carried.has(name)) continue;
    try {
      if (!(await progress.commit()))
        logger.warn("another run moved the rule's state first; kept theirs", { rule: name });
    } catch (error) {
      logger.warn("could not save the rule's state; the next run starts from the one saved before", {
        rule: name,
        error: errorDescription(error),
      });
    }
  }

  // Indexed alerts that later firings fold into, a batch at a time (one search for the documents, one `_msearch` for
  // their counts and events, one `_bulk` to rewrite them), two batches at once: each rewrites its own alerts, each
  // guarded by its sequence number. A batch not started by the write deadline carries over.
  let extended = 0;
  await forEachConcurrently(
    chunks(plan.extensions, settings.writeBatchSize),
    SEARCHES_AT_ONCE,
    async (batch) => {
      if (outOfWriteTime()) {
        for (const { firings: later } of batch) carry(later[0]?.rule as CompiledRule, later);
        return;
      }
      // Not `extended += await …`: that reads `extended` before the other batch adds to it.
      const rewritten = await extendBatch(deps, store, auditIndex, batch, summariesReadBefore);
      extended += rewritten;
    },
  );

  if (plan.fresh.length > 0 || extended > 0) {
    // The next run (a minute later, or at once when catching up) must find these alerts to fold into them.
    try {
      await deps.search.refresh({ index: alertsIndex });
    } catch (error) {
      logger.warn("could not refresh the alerts index; it becomes searchable within its refresh interval", {
        error: errorDescription(error),
      });
    }
  }

  return finish(firings.length, plan.suppressed, extended, delivered);

  async function finish(
    found: number,
    suppressed: number,
    extendedCount: number,
    outcomes: Record<DeliveryOutcome, number>,
  ): Promise<DetectionReport> {
    // A rule that starts failing is news for the operators once; while it keeps failing the metric and its
    // alarm carry it, and the next message comes when it fails again after recovering.
    for (const failure of failures.values()) {
      if (previousResume[failure.rule] !== undefined && failure.resumeFromMs !== undefined) continue;
      try {
        await deps.publisher.publish(
          "ops",
          ruleFailureMessage(failure, { environment: deps.alertContext.environment, nowMs: options.nowMs }),
        );
      } catch (error) {
        logger.warn("could not tell the ops topic about a failed rule; its metric still counts it", {
          rule: failure.rule,
          error: errorDescription(error),
        });
      }
    }
    return {
      range,
      firings: found,
      suppressed,
      extended: extendedCount,
      delivered: outcomes,
      retried,
      failedRules: [...failures.keys()],
      failures: [...failures.values()],
      partialRules,
      resumeFromMs: Object.fromEntries(resume),
      skipped,
      complete: failures.size === 0 && partialRules.length === 0 && outcomes.persist_failed === 0,
      indexedThroughMs,
    };
  }
}

/**
 * The newest index stamp searchable now (`newestIndexStampQuery`), at or after the last run's less the index lag;
 * the last run's when there is none newer or the search fails (the next run then reads from the same mark again).
 */
async function newestIndexStamp(
  search: SearchClient,
  auditIndex: string,
  lastMs: number | undefined,
  indexLagMs: number,
  logger: DetectionLogger,
): Promise<number | undefined> {
  const purpose = "newest index stamp";
  try {
    const response = parseSearchResponse(
      await search.search({
        index: auditIndex,
        body: newestIndexStampQuery(lastMs === undefined ? undefined : lastMs - indexLagMs),
      }),
      purpose,
    );
    const newest = parseAggregation(
      response.aggregations?.[NEWEST_INDEX_STAMP],
      metricSchema,
      purpose,
      NEWEST_INDEX_STAMP,
    ).value;
    return newest === null ? lastMs : Math.max(newest, lastMs ?? newest);
  } catch (error) {
    logger.warn("could not read the newest index stamp; the next run reads from the same mark again", {
      error: errorDescription(error),
    });
    return lastMs;
  }
}

function lastTime(documents: readonly EcsDocument[]): number | undefined {
  const last = documents[documents.length - 1];
  return last === undefined ? undefined : Date.parse(last["@timestamp"]);
}

/**
 * The documents the run fetched of a single-event detection's rule and group, in its span (its firings' documents),
 * found by rule and group among the firings in the order they were read.
 */
function fetchedDocuments(firings: readonly Detection[]): (detection: Detection) => EcsDocument[] {
  const byGroup = new Map<string, EcsDocument[]>();
  for (const firing of firings) {
    if (firing.rule.kind !== "single") continue;
    const key = `${firing.rule.name}|${groupKey(firing.groupBy)}`;
    const documents = byGroup.get(key) ?? [];
    documents.push(...firing.events);
    byGroup.set(key, documents);
  }
  return (detection) => {
    const fromMs = Date.parse(detection.windowStart);
    const toMs = Date.parse(detection.windowEnd);
    return (byGroup.get(`${detection.rule.name}|${groupKey(detection.groupBy)}`) ?? []).filter((document) => {
      const timeMs = Date.parse(document["@timestamp"]);
      return timeMs >= fromMs && timeMs <= toMs;
    });
  };
}

/**
 * A detection to summarize, the summary its indexed alert already holds (a grown alert's, `storedSummary`), and
 * the exact fields (indices into `exactFieldsOf`) whose distinct count over the whole span it needs besides those
 * the known summary lists in part.
 */
interface ToSummarize {
  readonly detection: Detection;
  readonly known?: KnownSummary;
  readonly totals?: readonly number[];
  /** A new single-event alert's documents among those the run fetched: its group's, in its span. */
  readonly fetched?: readonly EcsDocument[];
  /** Summarize from the index although `fetched` is given: the index holds more of the alert's documents. */
  readonly fromIndex?: boolean;
}

/** An alert's stored summary and the span it summarized. */
interface KnownSummary {
  readonly summary: MatchedSummary & { readonly readBefore: ArrivalMark };
  readonly fromMs: number;
  readonly toMs: number;
}

type Summarized = { detection: Detection } | { error: unknown };

/** What a summary search says of one detection: complete, or what a further search must ask. */
type SummaryOutcome = Detection | { readonly totals: readonly number[] } | { readonly fromIndex: true };

/**
 * What a new (or grown) alert needs from the index besides its firing, for a batch of detections in one `_msearch`:
 * a single-event alert's exact count and matched summary, a correlation's first events and matched summary. The
 * single-event alerts of one rule are counted together, up to `countedAlertsPerRequest` per search
 * (`singleEventCountsRequest`: one `filters` bucket each), and the alerts of one correlation likewise
 * (`windowEventsRequest`), so a batch makes about one search per rule, not one per alert. An answer per detection,
 * in order; a search that fails fails the detections it was for, and only those.
 *
 * A grown alert whose indexed summary says what it read (`known`: `Alert.seen.through`) is summarized from the
 * documents that summary did not read, merged with it (`mergeSummaries`): a pass reads what arrived since, not the
 * alert's whole span again (an alert that grows every minute for hours would otherwise be read whole every minute).
 * Its count and first events still come from the whole span. When a field's total cannot be merged (it outgrew the
 * values both sides list), the alert is summarized again over its whole span in a second `_msearch`. With
 * `readBefore` (incremental evaluation: every document that arrived before that mark is searchable), the summaries
 * record it, so the next one can do the same.
 *
 * A new single-event alert comes with the documents of its group and span the run fetched (`fetched`): when the index
 * holds exactly as many (one `filters` bucket per alert and nothing else, `singleEventCountsOnlyRequest`), those are
 * all of its documents, and its count and summary are theirs (`EventTally`, `summarizeTallies`: the values and totals
 * the index's aggregations would give) without reading them again; otherwise (documents that arrived before what the
 * run read, or another group's document holding its value too) it is summarized from the index as any other. In an
 * alert storm, most new alerts are of documents the run has just fetched.
 */
async function withSummaries(
  deps: DetectionDependencies,
  index: string,
  items: readonly ToSummarize[],
  readBefore: ArrivalMark | undefined,
): Promise<Summarized[]> {
  const results: Summarized[] = items.map(({ detection }) => ({ detection }));
  const stamped = (detection: Detection): Detection =>
    readBefore === undefined || detection.matched === undefined
      ? detection
      : { ...detection, matched: { ...detection.matched, readBefore } };
  let pending = items.map((item, position) => ({ item, position }));
  // The first round asks no distinct count but those a known summary needs; an alert that lists more values than it
  // keeps, or whose summary cannot be merged, is read again with the counts it lacks, over its whole span (which
  // always completes it: asking twice would be a fault). A new alert whose fetched documents are not all of its
  // documents is read again from the index.
  while (pending.length > 0) {
    const requests = summaryRequests(pending.map(({ item }) => item));
    const again: typeof pending = [];
    let answers: Awaited<ReturnType<SearchClient["msearch"]>> = [];
    try {
      if (requests.length > 0) {
        answers = await deps.search.msearch({ index, bodies: requests.map((request) => request.body) });
      }
      if (answers.length !== requests.length) {
        throw new Error(`${requests.length} searches sent, ${answers.length} answers`);
      }
    } catch (error) {
      for (const request of requests) {
        for (const at of request.positions)
          results[(pending[at] as (typeof pending)[number]).position] = { error };
      }
      return results;
    }
    requests.forEach((request, at) => {
      const answer = answers[at] as (typeof answers)[number];
      let read: SummaryOutcome[];
      try {
        if (!answer.ok) throw new Error(`search for the alert's events: ${answer.error}`);
        read = request.read(answer.body);
      } catch (error) {
        for (const offset of request.positions) {
          results[(pending[offset] as (typeof pending)[number]).position] = { error };
        }
        return;
      }
      request.positions.forEach((offset, nth) => {
        const entry = pending[offset] as (typeof pending)[number];
        const outcome = read[nth] as SummaryOutcome;
        if ("fromIndex" in outcome) {
          again.push({ item: { ...entry.item, fromIndex: true }, position: entry.position });
        } else if (!("totals" in outcome)) {
          results[entry.position] = { detection: stamped(outcome) };
        } else if (entry.item.totals !== undefined) {
          results[entry.position] = {
            error: new Error("the alert's summary lacked distinct counts after they were asked for"),
          };
        } else {
          again.push({ item: { ...entry.item, totals: outcome.totals }, position: entry.position });
        }
      });
    });
    pending = again;
  }
  return results;
}

/**
 * A search of `withSummaries` and the detections (by position) it completes, in the order `read` returns them, or
 * for one it cannot complete, the fields whose distinct counts over the whole span a further search must ask for, or
 * that the index must summarize it (its fetched documents are not all of its documents).
 */
type SummaryRequest = SearchRequest<SummaryOutcome[]> & {
  readonly positions: readonly number[];
};

/**
 * The searches `items` need (see `withSummaries`); a detection that needs none has none. A rule's alerts travel
 * together, apart by whether they need their first events and by which fields' whole-span totals they need (a
 * `cardinality` over the whole span for some alerts is not paid by the others).
 */
function summaryRequests(items: readonly ToSummarize[]): SummaryRequest[] {
  const requests: SummaryRequest[] = [];
  const groups = new Map<
    string,
    { rule: CompiledRule; withEvents: boolean; totals: number[]; positions: number[] }
  >();
  const fromFetched = new Map<string, { rule: SingleEventRule; positions: number[] }>();
  items.forEach(({ detection, known, totals: asked = [], fetched, fromIndex }, position) => {
    const { rule } = detection;
    if (rule.kind === "silence" || (rule.kind === "correlation" && isBehaviourRule(rule))) return;
    if (rule.kind === "single" && known === undefined && fetched !== undefined && fromIndex !== true) {
      const group = fromFetched.get(rule.name) ?? { rule, positions: [] };
      group.positions.push(position);
      fromFetched.set(rule.name, group);
      return;
    }
    // Alerts that already hold their first events need only their summary.
    const withEvents = rule.kind === "correlation" && detection.events.length < DETECTION_EVENT_CAP;
    const partly = known === undefined ? [] : partlyListed(exactFieldsOf(rule), known.summary);
    const totals = [...new Set([...asked, ...partly])].sort((a, b) => a - b);
    const key = `${rule.name}|${withEvents}|${totals.join(",")}`;
    const group = groups.get(key) ?? { rule, withEvents, totals, positions: [] };
    group.positions.push(position);
    groups.set(key, group);
  });
  for (const { rule, positions: all } of fromFetched.values()) {
    for (const positions of chunks(all, countedAlertsPerRequest([]))) {
      const batch = positions.map((position) => items[position] as ToSummarize);
      const request = singleEventCountsOnlyRequest(rule, batch.map(alertSpan));
      const fields = exactFieldsOf(rule);
      requests.push({
        positions,
        body: request.body,
        read: (response) =>
          request.read(response).map((count, offset): SummaryOutcome => {
            const { detection, fetched = [] } = batch[offset] as ToSummarize;
            if (count !== fetched.length) return { fromIndex: true };
            const tally = new EventTally(fields);
            for (const document of fetched) tally.add(document, Date.parse(document["@timestamp"]));
            const matched = summarizeTallies([tally]);
            return { ...detection, count, ...(matched === undefined ? {} : { matched }) };
          }),
      });
    }
  }
  for (const { rule, withEvents, totals, positions: all } of groups.values()) {
    const fields = exactFieldsOf(rule);
    const perRequest =
      rule.kind === "correlation" ? eventsAlertsPerRequest(rule, fields) : countedAlertsPerRequest(fields);
    for (const positions of chunks(all, perRequest)) {
      const batch = positions.map((position) => items[position] as ToSummarize);
      const spans = batch.map(alertSpan);
      // The alert's summary, or the distinct counts over its whole span that a second search must ask for: those of the
      // fields it lists in part (read whole), or of every field (a known summary that could not be merged).
      const merged = (
        offset: number,
        answer: AlertSummary,
      ): MatchedSummary | undefined | { readonly totals: readonly number[] } => {
        const known = (batch[offset] as ToSummarize).known;
        if (known !== undefined) {
          return (
            mergeSummaries(fields, known.summary, answer.matched, answer.totals) ?? {
              totals: fields.map((_, index) => index),
            }
          );
        }
        if (answer.matched === undefined) return undefined;
        return (
          withTotals(fields, answer.matched, answer.totals) ?? {
            totals: partlyListed(fields, answer.matched),
          }
        );
      };
      const unfinished = (
        matched: ReturnType<typeof merged>,
      ): matched is { readonly totals: readonly number[] } => matched !== undefined && "totals" in matched;
      const complete = (offset: number, matched: MatchedSummary | undefined, changes: Partial<Detection>) => {
        const detection = (batch[offset] as ToSummarize).detection;
        return { ...detection, ...changes, ...(matched === undefined ? {} : { matched }) };
      };
      if (rule.kind === "correlation") {
        const request = windowEventsRequest(rule, spans, withEvents, totals);
        requests.push({
          positions,
          body: request.body,
          read: (response) =>
            request.read(response).map((answer, offset) => {
              const matched = merged(offset, answer);
              if (unfinished(matched)) return matched;
              return complete(offset, matched, withEvents ? { events: answer.events } : {});
            }),
        });
      } else if (rule.kind === "single") {
        const request = singleEventCountsRequest(rule, spans, totals);
        requests.push({
          positions,
          body: request.body,
          read: (response) =>
            request.read(response).map((answer, offset) => {
              const matched = merged(offset, { ...answer, events: [] });
              if (unfinished(matched)) return matched;
              return complete(offset, matched, { count: answer.count });
            }),
        });
      }
    }
  }
  return requests;
}

/** A detection's span and group, and what its last summary read, as the batched summary searches take them. */
function alertSpan({ detection, known }: ToSummarize): AlertSpan {
  return {
    groupBy: detection.groupBy,
    fromMs: Date.parse(detection.windowStart),
    toMs: Date.parse(detection.windowEnd),
    ...(known === undefined
      ? {}
      : {
          read: { fromMs: known.fromMs, toMs: known.toMs, readBefore: known.summary.readBefore },
        }),
  };
}

/**
 * Folds later firings into indexed alerts and rewrites those that grew (optimistic concurrency; the outbox is kept):
 * the number rewritten. Most re-evaluated firings add nothing to the alert they fold into, which the summary
 * tells: only the others are read whole (one search), counted or given their events (one `_msearch`) and rewritten
 * (one `_bulk`). An alert that cannot be read, counted or written is left as it is, with a warning; one that
 * changed meanwhile (a conflict) is left to the run that changed it.
 */
async function extendBatch(
  deps: DetectionDependencies,
  store: AlertStore,
  index: string,
  batch: readonly { stored: StoredAlert; firings: Detection[] }[],
  readBefore: ArrivalMark | undefined,
): Promise<number> {
  const { logger } = deps;
  const warn = (alertId: string, error: unknown) =>
    logger.warn("could not extend an alert; the next run tries again", {
      alertId,
      error: errorDescription(error),
    });
  const candidates = batch.filter(({ stored, firings: later }) => {
    const rule = later[0]?.rule;
    return rule !== undefined && extendDetection(baseOf(stored.document, rule), later) !== undefined;
  });
  if (candidates.length === 0) return 0;
  let documents: Map<string, StoredAlert>;
  try {
    documents = await store.getMany(candidates.map(({ stored }) => stored.id));
  } catch (error) {
    for (const { stored } of candidates) warn(stored.id, error);
    return 0;
  }
  const folds: { stored: StoredAlert; base: Detection; folded: Detection }[] = [];
  for (const { stored: summary, firings: later } of candidates) {
    const stored = documents.get(summary.id);
    const rule = later[0]?.rule as CompiledRule;
    if (stored === undefined) continue;
    const base = baseOf(stored.document, rule);
    const folded = extendDetection(base, later);
    if (folded === undefined) continue;
    // A correlation's count is its window's: it grew or not before its events are read again.
    if (rule.kind === "correlation" && !grew(folded, base)) continue;
    folds.push({
      stored,
      base,
      folded:
        rule.kind !== "correlation" ||
        isBehaviourRule(rule) ||
        stored.document.events.length >= DETECTION_EVENT_CAP
          ? folded
          : { ...folded, events: [] },
    });
  }
  const summarized = await withSummaries(
    deps,
    index,
    folds.map(({ stored, folded }) => {
      const summary = storedSummary(stored.document, exactFieldsOf(folded.rule));
      if (summary === undefined) return { detection: folded };
      const { window } = stored.document;
      return {
        detection: folded,
        known: {
          summary,
          fromMs: Date.parse(window.start),
          toMs: Date.parse(window.end),
        },
      };
    }),
    readBefore,
  );
  const rewrites: { stored: StoredAlert; document: AlertDocument }[] = [];
  summarized.forEach((entry, position) => {
    const { stored, base, folded } = folds[position] as (typeof folds)[number];
    if ("error" in entry) {
      warn(stored.id, entry.error);
      return;
    }
    // A single-event alert never counts fewer than it already shows.
    const merged =
      folded.rule.kind === "single"
        ? { ...entry.detection, count: Math.max(entry.detection.count, stored.document.count) }
        : entry.detection;
    if (folded.rule.kind !== "correlation" && !grew(merged, base)) return;
    try {
      const rebuilt = buildAlert(merged, deps.alertContext);
      if (rebuilt.id === stored.id) {
        rewrites.push({ stored, document: { ...rebuilt, outbox: stored.document.outbox } });
      }
    } catch (error) {
      warn(stored.id, error);
    }
  });
  if (rewrites.length === 0) return 0;
  let results: Awaited<ReturnType<AlertStore["replaceMany"]>>;
  try {
    results = await store.replaceMany(rewrites);
  } catch (error) {
    for (const { stored } of rewrites) warn(stored.id, error);
    return 0;
  }
  let written = 0;
  results.forEach((result, position) => {
    if (result.outcome === "written") written++;
    else if (result.outcome === "failed") warn(rewrites[position]?.stored.id as string, result.error);
  });
  return written;
}

/** An indexed alert (or its summary) as the detection later firings fold into. */
function baseOf(document: AlertDocument, rule: CompiledRule): Detection {
  return {
    rule,
    windowStart: document.window.start,
    windowEnd: document.window.end,
    groupBy: { ...document.group },
    count: document.count,
    ...(document.value === undefined ? {} : { value: document.value }),
    events: [...(document.events ?? [])],
  };
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

/** (Rule, group) pairs per recent-alerts request: each pair is a few query clauses, under the 1,024-clause limit. */
const RECENT_GROUPS_PER_REQUEST = 200;

/**
 * The indexed alerts the firings may fold into: of their rules and groups (an alert of another group never takes
 * a firing), ending at or after `sinceMs`, all of them, a batch of groups per request, two requests at once.
 */
async function findRecentFor(
  store: AlertStore,
  firings: readonly Detection[],
  sinceMs: number,
  pageSize: number,
): Promise<StoredAlert[]> {
  const pairs = new Map<string, AlertGroup>();
  for (const firing of firings) {
    pairs.set(`${firing.rule.name}|${groupKey(firing.groupBy)}`, {
      rule: firing.rule.name,
      group: firing.groupBy,
    });
  }
  const batches = chunks([...pairs.values()], RECENT_GROUPS_PER_REQUEST);
  const answers: StoredAlert[][] = [];
  await forEachConcurrently(batches, SEARCHES_AT_ONCE, async (batch, position) => {
    const names = [...new Set(batch.map((pair) => pair.rule))];
    answers[position] = await store.findRecent(names, sinceMs, pageSize, batch);
  });
  // In the batches' order, whichever answered first.
  const found = new Map<string, StoredAlert>();
  for (const alert of answers.flat()) found.set(alert.id, alert);
  return [...found.values()];
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

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, member]) => member !== undefined)) as Partial<T>;
}
