import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as opensearch from "aws-cdk-lib/aws-opensearchservice";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import {
  ARCHIVE_PREFIXES,
  DETECTOR_METRICS,
  type DetectorMetricName,
  TRANSFORM_METRICS,
} from "../lambdas/core/contracts.js";
import type { AuditDetection } from "./detection.js";
import type { AuditIngestion } from "./ingestion.js";

export interface MonitoredFunction {
  /** Short PascalCase label used in alarm ids and names (`Transform`, `Detector`). */
  readonly label: string;
  readonly function: lambda.IFunction;
  /** The function's timeout; the duration alarm fires at 80 % of it. */
  readonly timeout: Duration;
}

export interface DetectionAlarmOptions {
  /** PascalCase prefix of the alarm ids and names. @default "Detector" */
  readonly label?: string;
  /** Alarm when the watermark stays further behind than this (or unreported for as long). @default Duration.minutes(10) */
  readonly maxWatermarkLag?: Duration;
}

export interface MonitoredQueue {
  readonly label: string;
  readonly queue: sqs.IQueue;
  /** Alarm when the oldest message is older than this. */
  readonly maxAge: Duration;
}

export interface PipelineMonitoringProps {
  /** Topic every alarm (and its recovery) is sent to. */
  readonly opsTopic: sns.ITopic;
  readonly ingestion: AuditIngestion;
  readonly domain: opensearch.Domain;
  /** Whether the domain has dedicated masters (adds the master JVM alarm). @default false */
  readonly dedicatedMasters?: boolean;
  /** The domain's per-node EBS size; the storage alarm fires below 25 % of it. */
  readonly ebsVolumeSizeGiB: number;
  /** Functions alarmed on for errors, throttles and duration. */
  readonly functions: readonly MonitoredFunction[];
  /** The detector, alarmed on as `addDetection` does. @default - none */
  readonly detection?: AuditDetection;
  /** Work queues alarmed on for backlog age. @default [] */
  readonly queues?: readonly MonitoredQueue[];
  /** Dead-letter queues alarmed on as soon as they hold a message. @default [] */
  readonly deadLetterQueues?: readonly { readonly label: string; readonly queue: sqs.IQueue }[];
  /** Alarm when the data Firehose holds is older than this. @default Duration.minutes(15) */
  readonly maxDataFreshness?: Duration;
  /**
   * Alarm when more than this share of records (in %) fails to parse, three five-minute periods running.
   * @default 5
   */
  readonly maxFailedRecordsPercent?: number;
}

/**
 * CloudWatch alarms on the pipeline itself, all to the ops topic: Firehose delivery to OpenSearch and S3 and data
 * freshness; records the transform could not parse or re-ingest (kept in S3, not indexed); errors, throttles and
 * duration of each function; the detector's failed alert deliveries and watermark lag; cluster red/yellow, free
 * storage, JVM memory pressure, blocked index writes and KMS key errors of the domain; archive backlog and dead
 * letters.
 */
export class PipelineMonitoring extends Construct {
  /** Every alarm, by id. */
  public readonly alarms: Record<string, cloudwatch.Alarm> = {};
  private readonly action: actions.SnsAction;

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    this.action = new actions.SnsAction(props.opsTopic);
    const fiveMinutes = Duration.minutes(5);
    const stream = props.ingestion;

    this.add("FirehoseOpenSearchDelivery", {
      metric: stream.metric("DeliveryToAmazonOpenSearchService.Success", {
        statistic: "Average",
        period: fiveMinutes,
      }),
      threshold: 0.99,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        "Firehose failed to deliver some records to OpenSearch (they are in staging under errors/).",
    });
    this.add("FirehoseS3Delivery", {
      metric: stream.metric("DeliveryToS3.Success", { statistic: "Average", period: fiveMinutes }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: "Firehose failed to back records up into the staging bucket.",
    });
    const freshness = (props.maxDataFreshness ?? Duration.minutes(15)).toSeconds();
    this.add("FirehoseOpenSearchFreshness", {
      metric: stream.metric("DeliveryToAmazonOpenSearchService.DataFreshness", {
        statistic: "Maximum",
        period: fiveMinutes,
      }),
      threshold: freshness,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `The oldest record in Firehose is older than ${freshness} s: delivery to OpenSearch is falling behind.`,
    });
    this.add("FirehoseS3Freshness", {
      metric: stream.metric("DeliveryToS3.DataFreshness", { statistic: "Maximum", period: fiveMinutes }),
      threshold: freshness,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `The oldest record waiting for S3 backup is older than ${freshness} s.`,
    });

    // What the transform could not index goes to the S3 error prefix, where nothing pages by itself.
    const maxFailedPercent = props.maxFailedRecordsPercent ?? 5;
    this.add("TransformFailedRecords", {
      metric: new cloudwatch.MathExpression({
        expression: "IF(records > 0, 100 * failed / records, 0)",
        usingMetrics: {
          failed: stream.transformMetric(TRANSFORM_METRICS.names.recordsFailed, {
            statistic: "Sum",
            period: fiveMinutes,
          }),
          records: stream.transformMetric(TRANSFORM_METRICS.names.records, {
            statistic: "Sum",
            period: fiveMinutes,
          }),
        },
        label: "records the transform could not parse (%)",
        period: fiveMinutes,
      }),
      threshold: maxFailedPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `Transform: more than ${maxFailedPercent}% of records could not be parsed for 15 minutes. They are kept in S3 under ${ARCHIVE_PREFIXES.processingFailed} and not indexed or detected on; the Failures.<reason> metrics say why (a changed mesh or shipper log format?). docs/shipping.md says how to read them back once fixed.`,
    });
    this.add("TransformReingestFailed", {
      metric: stream.transformMetric(TRANSFORM_METRICS.names.reingestFailedRecords, {
        statistic: "Sum",
        period: fiveMinutes,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `Transform: records whose documents could not be re-ingested into the stream (PutRecordBatch failed or throttled) went back ProcessingFailed. They are kept in S3 under ${ARCHIVE_PREFIXES.processingFailed} and not indexed; docs/shipping.md says how to read them back.`,
    });

    for (const monitored of props.functions) this.addFunction(monitored);
    if (props.detection !== undefined) this.addDetection(props.detection);

    const domain = props.domain;
    const oneMinute = Duration.minutes(1);
    this.add("ClusterRed", {
      metric: domain.metricClusterStatusRed({ period: oneMinute }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      alarmDescription: "At least one primary shard is unassigned: some audit data is not searchable.",
    });
    this.add("ClusterYellow", {
      metric: domain.metricClusterStatusYellow({ period: oneMinute }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 15,
      alarmDescription: "Replica shards have been unassigned for 15 minutes.",
    });
    const minFreeMiB = Math.floor(props.ebsVolumeSizeGiB * 1024 * 0.25);
    this.add("LowFreeStorage", {
      metric: domain.metricFreeStorageSpace({ period: oneMinute }),
      threshold: minFreeMiB,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      alarmDescription: `A data node has less than 25 % (${minFreeMiB} MiB) of its storage free.`,
    });
    this.add("JvmMemoryPressure", {
      metric: domain.metricJVMMemoryPressure({ period: fiveMinutes }),
      threshold: 80,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      alarmDescription: "Data-node JVM memory pressure has stayed at or above 80 % for 15 minutes.",
    });
    if (props.dedicatedMasters) {
      this.add("MasterJvmMemoryPressure", {
        metric: domain.metricMasterJVMMemoryPressure({ period: fiveMinutes }),
        threshold: 80,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 3,
        alarmDescription: "Master-node JVM memory pressure has stayed at or above 80 % for 15 minutes.",
      });
    }
    this.add("IndexWritesBlocked", {
      metric: domain.metricClusterIndexWritesBlocked({ period: fiveMinutes }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      alarmDescription:
        "The cluster is blocking writes: Firehose deliveries will fail into the error prefix.",
    });
    this.add("KmsKeyError", {
      metric: domain.metricKMSKeyError({ period: oneMinute }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      alarmDescription: "The domain's encryption key is disabled.",
    });
    this.add("KmsKeyInaccessible", {
      metric: domain.metricKMSKeyInaccessible({ period: oneMinute }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      alarmDescription: "The domain's encryption key was deleted or its grants revoked.",
    });

    for (const monitored of props.queues ?? []) {
      this.add(`${monitored.label}Backlog`, {
        metric: monitored.queue.metricApproximateAgeOfOldestMessage({
          period: fiveMinutes,
          statistic: "Maximum",
        }),
        threshold: monitored.maxAge.toSeconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${monitored.label}: the oldest queued message is older than ${monitored.maxAge.toHumanString()}.`,
      });
    }
    for (const dlq of props.deadLetterQueues ?? []) {
      this.add(`${dlq.label}DeadLetters`, {
        metric: dlq.queue.metricApproximateNumberOfMessagesVisible({
          period: fiveMinutes,
          statistic: "Maximum",
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${dlq.label}: messages reached the dead-letter queue and need attention.`,
      });
    }
  }

  /** Adds errors, throttles and duration alarms for one function. */
  public addFunction(monitored: MonitoredFunction): void {
    const fiveMinutes = Duration.minutes(5);
    this.add(`${monitored.label}Errors`, {
      metric: monitored.function.metricErrors({ period: fiveMinutes, statistic: "Sum" }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${monitored.label} function invocations failed.`,
    });
    this.add(`${monitored.label}Throttles`, {
      metric: monitored.function.metricThrottles({ period: fiveMinutes, statistic: "Sum" }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${monitored.label} function is being throttled (reserved concurrency reached).`,
    });
    const limitMs = monitored.timeout.toMilliseconds() * 0.8;
    this.add(`${monitored.label}Duration`, {
      metric: monitored.function.metricDuration({ period: fiveMinutes, statistic: "p99" }),
      threshold: limitMs,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${monitored.label} function p99 duration is at or above 80 % of its ${monitored.timeout.toHumanString()} timeout.`,
    });
  }

  /**
   * The detector's function alarms (as `addFunction`) and alarms on its Powertools metrics: alerts that could not
   * be published, written or marked as published (the next run retries each, but a lasting failure means paging is
   * broken), and a watermark that falls behind.
   */
  public addDetection(detection: AuditDetection, options: DetectionAlarmOptions = {}): void {
    const label = options.label ?? "Detector";
    const maxLag = options.maxWatermarkLag ?? Duration.minutes(10);
    this.addFunction({ label, function: detection.detectorFunction, timeout: detection.detectorTimeout });
    const fiveMinutes = Duration.minutes(5);
    const names = DETECTOR_METRICS.names;
    const failures = {
      [names.alertsPublishFailed]: "alerts were written but not published to SNS (the next run retries them)",
      [names.alertsPersistFailed]:
        "alerts could not be written to the alerts index (the run is incomplete and repeats)",
      [names.alertsMarkFailed]:
        "published alerts could not be marked as published (they may be published again)",
      [names.rulesFailed]:
        "a rule's evaluation failed (the ops topic names the rule and the error; the other rules went on, this one resumes from its own point every run until it succeeds)",
      [names.rangesSkipped]:
        "a rule was further behind than the catch-up limit and part of its range was not evaluated (the log names the rule and the range)",
    };
    for (const [metricName, what] of Object.entries(failures) as [DetectorMetricName, string][]) {
      this.add(`${label}${metricName}`, {
        metric: detection.metric(metricName, { statistic: "Sum", period: fiveMinutes }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${label}: ${what}.`,
      });
    }
    // A rule out of the run's time or event budget resumes where it stopped while the watermark advances: once is
    // catching up, every run for a quarter of an hour is a rule that no longer keeps up (its alerts come later and
    // later, and past the catch-up limit its range is skipped).
    this.add(`${label}${names.rulesPartial}`, {
      metric: detection.metric(names.rulesPartial, { statistic: "Minimum", period: fiveMinutes }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${label}: every run for 15 minutes left a rule unfinished (out of its time or event budget; the log names the rule and where it resumes): the rule is not keeping up and its alerts are late. See the detector's runbook (docs/rules.md, how the detector bounds its queries).`,
    });
    // Every run that reads a watermark reports the lag, so no report for as long as `maxLag` means the watermark is
    // at least that far behind too (the detector is failing before it reports, or not running): missing data
    // breaches, over the number of five-minute periods that make up `maxLag`.
    const periods = Math.max(1, Math.ceil(maxLag.toSeconds() / fiveMinutes.toSeconds()));
    this.add(`${label}${names.watermarkLag}`, {
      metric: detection.metric(names.watermarkLag, { statistic: "Maximum", period: fiveMinutes }),
      threshold: maxLag.toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: periods,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      alarmDescription: `${label}: the watermark has been more than ${maxLag.toHumanString()} behind (or not reported) for ${maxLag.toHumanString()}: alerts are late or not being raised.`,
    });
  }

  private add(alarmId: string, props: cloudwatch.AlarmProps): void {
    const alarm = new cloudwatch.Alarm(this, alarmId, {
      treatMissingData: cloudwatch.TreatMissingData.MISSING,
      ...props,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms[alarmId] = alarm;
  }
}
