import { Duration, Stack, Token, Validations } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as opensearch from "aws-cdk-lib/aws-opensearchservice";
import type * as sns from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import {
  ALERT_TOPICS,
  ALERTS_INDEX,
  type AlertTopic,
  AUDIT_INDEX_PATTERN,
  DETECTOR_ENV,
  DETECTOR_METRICS,
  type DetectorMetricName,
} from "../lambdas/core/contracts.js";
import { AuditTrailConfigError } from "./config/errors.js";
import type { FunctionPlacement } from "./network.js";
import { BUNDLED_RULES_DIR, copyGeoIpDatabase, copyRulePack } from "./private/bundle.js";
import { auditFunction, functionSetup, LAMBDA_TASK_ROOT } from "./private/function.js";
import { powertoolsMetric } from "./private/metrics.js";
import { compliancePackIds, tokenFinding } from "./private/nag.js";
import { bookkeepingTable } from "./private/resources.js";

export interface AuditDetectionProps extends FunctionPlacement {
  /** The `-c env=NAME` value; alerts carry it and the watermark item is keyed by it. */
  readonly environmentName: string;
  /** The domain holding the tagged documents (`audit-*`) and the alerts index (`audit-alerts`). */
  readonly domain: opensearch.IDomain;
  /**
   * The alert topics (from `Alerting`): one per severity, where the detector publishes each alert of on-call's
   * rules, and `ops`, for the rules about the pipeline itself (`topic: ops`).
   */
  readonly topics: Readonly<Record<AlertTopic, sns.ITopic>>;
  /** Key of the state table and of the function's environment variables. */
  readonly encryptionKey: kms.IKey;
  /** Key of the function's log group. */
  readonly logsKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /**
   * Execution role, for a role that other resources (the domain's access policy, the bootstrap's role mapping)
   * must name before the function exists.
   * @default - a new role
   */
  readonly role?: iam.Role;
  /** Per-rule detection overrides, handed to the detector as JSON (the transform gets the same). @default {} */
  readonly ruleOverrides?: Readonly<Record<string, unknown>>;
  /** Base URL of the runbooks linked from alerts (https). @default - alerts carry no runbook link */
  readonly runbookBaseUrl?: string;
  /** OpenSearch Dashboards URL linked from alerts (https). @default - the domain's own `https://<endpoint>/_dashboards/` */
  readonly dashboardsUrl?: string;
  /**
   * How long after Firehose receives a record (`event.ingested`) it may first be searchable: its buffering interval,
   * retry duration and a margin. Set, the detector evaluates incrementally (what may be new since its last run,
   * `DetectionRunOptions.ingestLagMs`). @default - unset: every run evaluates the whole 15-minute lookback
   */
  readonly ingestLag?: Duration;
  /** How often the detector runs. @default events.Schedule.rate(Duration.minutes(1)) */
  readonly schedule?: events.Schedule;
  /** @default Duration.minutes(2) */
  readonly timeout?: Duration;
  /** @default 1024 */
  readonly memorySize?: number;
}

/**
 * The detector: a function run on a schedule (every minute) that turns tagged documents into alerts and evaluates
 * correlation windows as OpenSearch aggregations, writes each alert into `audit-alerts` with a deterministic id,
 * publishes it to its severity's SNS topic, and keeps its watermark in a DynamoDB table. One run at a time
 * (reserved concurrency 1): runs are idempotent, and a failed run leaves the watermark for the next one.
 */
export class AuditDetection extends Construct {
  public readonly detectorFunction: lambda.IFunction;
  /** The detector's timeout, for duration alarms. */
  public readonly detectorTimeout: Duration;
  /** The detector's watermark (`pk`/`sk` strings; one item per environment). */
  public readonly stateTable: dynamodb.Table;
  public readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: AuditDetectionProps) {
    super(scope, id);
    requireHttps("alerts.runbookBaseUrl", props.runbookBaseUrl);
    requireHttps("dashboardsUrl (AuditDetection prop)", props.dashboardsUrl);

    this.stateTable = bookkeepingTable(this, "State", props.encryptionKey);
    // HIPAA and NIST ask for DynamoDB tables in an AWS Backup plan (PCI DSS 3.2.1 has no such rule).
    for (const ruleId of compliancePackIds("DynamoDBInBackupPlan", ["HIPAA.Security", "NIST.800.53.R5"])) {
      Validations.of(this.stateTable).acknowledge({
        id: ruleId,
        reason:
          "The table holds one item per environment, the detector's watermark (time of its last complete run), not audit data. PITR, deletion protection and RETAIN cover operator error; were it lost, the detector restarts 15 minutes back and `audit-trail replay` over the archive backfills any gap.",
      });
    }

    const topicArns = {} as Record<AlertTopic, string>;
    for (const topic of ALERT_TOPICS) topicArns[topic] = props.topics[topic].topicArn;
    const environment: Record<string, string> = {
      [DETECTOR_ENV.environmentName]: props.environmentName,
      [DETECTOR_ENV.domainEndpoint]: props.domain.domainEndpoint,
      [DETECTOR_ENV.rulesDir]: `${LAMBDA_TASK_ROOT}/${BUNDLED_RULES_DIR}`,
      [DETECTOR_ENV.ruleOverrides]: JSON.stringify(props.ruleOverrides ?? {}),
      [DETECTOR_ENV.topicArns]: Stack.of(this).toJsonString(topicArns),
      [DETECTOR_ENV.stateTableName]: this.stateTable.tableName,
      [DETECTOR_ENV.dashboardsUrl]:
        props.dashboardsUrl ?? `https://${props.domain.domainEndpoint}/_dashboards/`,
    };
    if (props.runbookBaseUrl !== undefined) environment[DETECTOR_ENV.runbookBaseUrl] = props.runbookBaseUrl;
    if (props.ingestLag !== undefined)
      environment[DETECTOR_ENV.ingestLagMs] = String(props.ingestLag.toMilliseconds());

    this.detectorTimeout = props.timeout ?? Duration.minutes(2);
    const detector = auditFunction(this, "Detector", {
      entry: "lambdas/detector/handler.ts",
      description:
        "mesh-audit-trail: detector (tagged documents and correlation windows to alerts, published by severity)",
      environment,
      timeout: this.detectorTimeout,
      memorySize: props.memorySize ?? 1024,
      // Runs must not overlap: one run at a time keeps alert writes and the watermark simple to reason about.
      reservedConcurrentExecutions: 1,
      role: props.role,
      ...functionSetup(props),
      noDeadLetterQueueReason:
        "The scheduled event carries no data: a failed run leaves the watermark where it was and the next run (a minute later) evaluates the same window again, so a dead-lettered event would have nothing to replay. Failures surface through the detector's error and watermark-lag alarms.",
      afterBundling: (inputDir, outputDir) => [
        ...copyRulePack(inputDir, outputDir),
        ...copyGeoIpDatabase(outputDir),
      ],
    });
    // A failed or throttled run is not retried: the next scheduled run covers the same window.
    detector.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(2) });
    this.detectorFunction = detector;

    // Searches tagged documents and alerts and refreshes the alerts index (POST _search, _msearch, _refresh); writes
    // alert documents in batches (POST audit-alerts/_bulk, create-only or conditionally), and reads and writes single
    // ones (GET/PUT audit-alerts/_doc/<id>). No DELETE, no HEAD; the detector's code writes only the alerts index
    // (the POST grant on audit-* is wider than that: IAM cannot tell a search from a write by the method).
    iam.Grant.addToPrincipal({
      grantee: detector,
      actions: ["es:ESHttpPost"],
      resourceArns: [`${props.domain.domainArn}/${AUDIT_INDEX_PATTERN}`],
    });
    iam.Grant.addToPrincipal({
      grantee: detector,
      actions: ["es:ESHttpGet", "es:ESHttpPut"],
      resourceArns: [`${props.domain.domainArn}/${ALERTS_INDEX}/*`],
    });
    // Publish only; the topics' data key is granted below (grantPublish would add every GenerateDataKey* variant).
    iam.Grant.addToPrincipal({
      grantee: detector,
      actions: ["sns:Publish"],
      resourceArns: ALERT_TOPICS.map((topic) => props.topics[topic].topicArn),
    });
    this.stateTable.grant(detector, "dynamodb:GetItem", "dynamodb:UpdateItem");
    // Data keys of the encrypted topics (publish) and the state table (read), through those services only.
    detector.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["kms:Decrypt", "kms:GenerateDataKey"],
        resources: [props.encryptionKey.keyArn],
        conditions: {
          StringEquals: {
            "kms:ViaService": [
              `sns.${Stack.of(this).region}.amazonaws.com`,
              `dynamodb.${Stack.of(this).region}.amazonaws.com`,
            ],
          },
        },
      }),
    );

    const findings: Record<string, string> = {
      [`AwsSolutions-IAM5[Resource::${tokenFinding(props.domain, "Arn", `/${AUDIT_INDEX_PATTERN}`)}]`]:
        "The detector searches (POST _search) the daily audit-YYYY-MM-DD indices, whose names are known only at run time, and searches and refreshes the alerts index; POST only, on this one domain's audit indices.",
      [`AwsSolutions-IAM5[Resource::${tokenFinding(props.domain, "Arn", `/${ALERTS_INDEX}/*`)}]`]:
        "The detector reads and writes alert documents (GET/PUT audit-alerts/_doc/<deterministic id>); no delete.",
    };
    const role = detector.role ?? detector;
    for (const [findingId, reason] of Object.entries(findings)) {
      Validations.of(role).acknowledge({ id: findingId, reason });
    }

    this.schedule = new events.Rule(this, "Schedule", {
      description: "mesh-audit-trail: run the detector",
      schedule: props.schedule ?? events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(detector)],
    });
  }

  /** One of the detector's Powertools metrics (`DETECTOR_METRICS`: namespace, `service` dimension, names). */
  public metric(metricName: DetectorMetricName, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return powertoolsMetric(DETECTOR_METRICS, metricName, props);
  }
}

function requireHttps(configKey: string, value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  let protocol: string | undefined;
  try {
    protocol = new URL(value).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== "https:") {
    throw new AuditTrailConfigError({
      configKey,
      value,
      problem: "the detector links alerts to it and accepts only absolute https URLs",
      fix: "give an https:// URL, or leave it unset",
    });
  }
}
