/**
 * The detector's middy chain and its production dependencies (`handler.ts` is the entry point that builds them
 * at cold start).
 *
 * Detector: runs every minute (EventBridge schedule). Reads the watermark and the rules that lag behind it, runs
 * the detection (outbox retries, single-event matches, correlation windows, suppression, create-only alerts
 * published to SNS by severity) until shortly before the invocation's timeout (evaluation stops
 * `DETECTOR_WRAP_UP_MS` before it, alert writes `DETECTOR_STATE_SAVE_MS` before it: alerts not written by then carry
 * over with their rules' resume points), and advances the watermark to the
 * run's `now` with the rules that failed or ran out of time recorded with their own resume point: one failing rule
 * never holds the others back, and its own range is evaluated again on every run until it succeeds.
 *
 * A failed rule is counted (`RulesFailed`, alarmed to the ops topic) and announced once on the ops topic by the
 * run; the invocation fails only when the state cannot be saved, and a retried invocation never pages twice
 * (deterministic alert ids, create-only writes, outbox claims).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import middy from "@middy/core";
import type { Context, ScheduledEvent } from "aws-lambda";
import type { AlertContext } from "../core/alerts/model.js";
import { DETECTOR_METRICS } from "../core/contracts.js";
import type { SearchClient } from "../core/detection/ports.js";
import { DETECTION_DEFAULTS, type DetectionReport, runDetection } from "../core/detection/run.js";
import { GeoIpDatabase } from "../core/geo/index.js";
import { loadPack } from "../core/rules/assemble.js";
import { ruleFiles } from "../core/rules/load.js";
import type { RulePack } from "../core/rules/types.js";
import { signedOpenSearchClient } from "../shared/opensearch-client.js";
import { snsPublisher, WatermarkStore } from "./aws.js";
import { type DetectorConfig, loadDetectorConfig } from "./config.js";
import { transportSearchClient } from "./opensearch.js";

export interface DetectorDependencies {
  readonly config: DetectorConfig;
  readonly pack: RulePack;
  readonly search: SearchClient;
  readonly sns: SNSClient;
  readonly dynamodb: DynamoDBClient;
  readonly alertContext: AlertContext;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly tracer: Tracer;
  /** @default Date.now */
  readonly clock?: () => number;
}

export interface DetectorResult {
  readonly complete: boolean;
  /** Rules whose evaluation failed this run (each resumes from its own point). */
  readonly failedRules: readonly string[];
  readonly from: string;
  readonly to: string;
  readonly firings: number;
  readonly published: number;
  readonly pending: number;
}

/** Time kept back from the invocation's timeout to write the run's alerts and state after evaluation stops. */
export const DETECTOR_WRAP_UP_MS = 20_000;
/** Time kept back from the invocation's timeout to save the watermark after alert writes stop. */
export const DETECTOR_STATE_SAVE_MS = 5_000;

export function buildHandler(deps: DetectorDependencies) {
  const { config, logger, metrics, tracer } = deps;
  const clock = deps.clock ?? Date.now;
  const watermarks = new WatermarkStore(deps.dynamodb, config.stateTableName, config.environmentName);
  const publisher = snsPublisher(deps.sns, config.topicArns);

  return middy<ScheduledEvent, DetectorResult>()
    .use(captureLambdaHandler(tracer))
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (_event: ScheduledEvent, context: Context) => {
      const nowMs = clock();
      const { watermarkMs, resumeFromMs, indexedThroughMs } = await watermarks.read();
      const deadlineMs = deadlineFor(context, clock);
      const writeDeadlineMs = deadlineFor(context, clock, DETECTOR_STATE_SAVE_MS);
      const report = await runDetection(
        { search: deps.search, publisher, logger, pack: deps.pack, alertContext: deps.alertContext },
        {
          nowMs,
          watermarkMs,
          resumeFromMs,
          runId: context.awsRequestId,
          clock,
          leaseMs: leaseFor(context),
          ...(config.ingestLagMs === undefined ? {} : { ingestLagMs: config.ingestLagMs }),
          ...(indexedThroughMs === undefined ? {} : { indexedWatermarkMs: indexedThroughMs }),
          ...(deadlineMs === undefined ? {} : { deadlineMs }),
          ...(writeDeadlineMs === undefined ? {} : { writeDeadlineMs }),
        },
      );
      recordMetrics(metrics, report, nowMs, watermarkMs);
      const result: DetectorResult = {
        complete: report.complete,
        failedRules: report.failedRules,
        from: new Date(report.range.fromMs).toISOString(),
        to: new Date(report.range.toMs).toISOString(),
        firings: report.firings,
        published: report.delivered.published + report.retried.published,
        pending: report.delivered.publish_failed + report.retried.publish_failed,
      };
      logger.info("detection run", { ...result, report: { ...report, range: undefined } });
      if (!report.complete) {
        logger.error(
          "detection run incomplete; the other rules advanced, these resume from their own point",
          {
            failures: report.failures,
            partialRules: report.partialRules,
            resumeFrom: Object.fromEntries(
              Object.entries(report.resumeFromMs).map(([rule, ms]) => [rule, new Date(ms).toISOString()]),
            ),
            skipped: report.skipped,
          },
        );
      }
      await watermarks.advance(nowMs, context.awsRequestId, report.resumeFromMs, report.indexedThroughMs);
      return result;
    });
}

/**
 * When evaluation stops: `keepMs` (`DETECTOR_WRAP_UP_MS`) before the invocation's timeout; with
 * `DETECTOR_STATE_SAVE_MS`, when alert writes stop (what is left carries over to the next run).
 */
export function deadlineFor(
  context: Pick<Context, "getRemainingTimeInMillis">,
  clock: () => number,
  keepMs = DETECTOR_WRAP_UP_MS,
): number | undefined {
  if (typeof context.getRemainingTimeInMillis !== "function") return undefined;
  return clock() + Math.max(0, context.getRemainingTimeInMillis() - keepMs);
}

/** A claim outlives this invocation (its remaining time plus a minute), so a live run never loses it. */
export function leaseFor(context: Pick<Context, "getRemainingTimeInMillis">): number {
  const remaining =
    typeof context.getRemainingTimeInMillis === "function" ? context.getRemainingTimeInMillis() : 0;
  return Math.max(remaining + 60_000, DETECTION_DEFAULTS.leaseMs);
}

function recordMetrics(
  metrics: Metrics,
  report: DetectionReport,
  nowMs: number,
  watermarkMs: number | undefined,
) {
  const names = DETECTOR_METRICS.names;
  const both = (outcome: keyof DetectionReport["delivered"]) =>
    report.delivered[outcome] + report.retried[outcome];
  metrics.addMetric(names.firings, MetricUnit.Count, report.firings);
  metrics.addMetric(names.firingsSuppressed, MetricUnit.Count, report.suppressed);
  metrics.addMetric(names.alertsExtended, MetricUnit.Count, report.extended);
  metrics.addMetric(names.alertsPublished, MetricUnit.Count, both("published"));
  metrics.addMetric(names.alertsDuplicate, MetricUnit.Count, report.delivered.duplicate);
  metrics.addMetric(names.alertsNotPaged, MetricUnit.Count, report.delivered.not_paged);
  metrics.addMetric(names.alertsPublishFailed, MetricUnit.Count, both("publish_failed"));
  metrics.addMetric(names.alertsPersistFailed, MetricUnit.Count, both("persist_failed"));
  metrics.addMetric(names.alertsMarkFailed, MetricUnit.Count, both("mark_failed"));
  metrics.addMetric(
    names.alertsRetried,
    MetricUnit.Count,
    Object.values(report.retried).reduce((a, b) => a + b, 0),
  );
  metrics.addMetric(names.rulesFailed, MetricUnit.Count, report.failedRules.length);
  metrics.addMetric(names.rulesPartial, MetricUnit.Count, report.partialRules.length);
  metrics.addMetric(names.rangesSkipped, MetricUnit.Count, report.skipped.length);
  if (watermarkMs !== undefined) {
    metrics.addMetric(names.watermarkLag, MetricUnit.Seconds, Math.max(0, (nowMs - watermarkMs) / 1000));
  }
}

/** The production dependencies, built once per cold start; a bad environment or rule pack fails it loudly. */
export async function defaultDependencies(
  env: Readonly<Record<string, string | undefined>>,
): Promise<DetectorDependencies> {
  const config = loadDetectorConfig(env);
  const tracer = new Tracer({ serviceName: "detector" });
  const client = signedOpenSearchClient({
    endpoint: config.domainEndpoint,
    region: config.region,
    requestTimeoutMs: 20_000,
  });
  const geo = GeoIpDatabase.load(config.geoIpDir);
  return {
    config,
    pack: loadPack({ source: ruleFiles([config.rulesDir]), overrides: config.ruleOverrides }),
    search: transportSearchClient(client),
    sns: tracer.captureAWSv3Client(new SNSClient({})),
    dynamodb: tracer.captureAWSv3Client(new DynamoDBClient({})),
    alertContext: {
      environment: config.environmentName,
      geo,
      ...(config.dashboardsUrl === undefined ? {} : { dashboardsUrl: config.dashboardsUrl }),
      ...(config.runbookBaseUrl === undefined ? {} : { runbookBaseUrl: config.runbookBaseUrl }),
    },
    logger: new Logger({ serviceName: "detector" }),
    metrics: new Metrics({ namespace: DETECTOR_METRICS.namespace, serviceName: DETECTOR_METRICS.service }),
    tracer,
  };
}
