/**
 * The contracts between the infrastructure in `lib/` and the handlers in `lambdas/`: index names, and the
 * environment variables each handler reads at start-up. The stack sets exactly these; handlers fail loudly
 * when a required one is missing.
 */

import type { FailureCode } from "./parsers/types.js";

/** Daily audit indices are `audit-YYYY-MM-DD` (Firehose `OneDay` rotation appends `-YYYY-MM-DD`). */
export const AUDIT_INDEX_PREFIX = "audit";
export const AUDIT_INDEX_PATTERN = `${AUDIT_INDEX_PREFIX}-*`;
/**
 * When the node indexed a document (its clock, `_ingest.timestamp`): set on every audit document by the ingest
 * pipeline `INDEXED_AT_PIPELINE`, the audit indices' `index.final_pipeline`, which no write can skip or override.
 * Mapped and searchable but left out of `_source`: the indexed documents stay what Firehose delivered and the
 * archive holds. The detector reads what arrived since its last run by it (`queries.ts`, `ArrivalMark`).
 */
export const INDEXED_AT_FIELD = "audit_trail.indexed_at";
/** The ingest pipeline that stamps `INDEXED_AT_FIELD`. */
export const INDEXED_AT_PIPELINE = "audit-trail-indexed-at";
/** Alerts live in one index; the detector writes them with deterministic ids. */
export const ALERTS_INDEX = "audit-alerts";
/** The ISM policy id managing the audit indices. */
export const ISM_POLICY_ID = "audit-trail-lifecycle";

/**
 * The stack's CloudFormation outputs the command line reads (`canary`, and the verbs that read a deployed
 * environment): `lib/audit-trail-stack.ts` writes them under these names (each also the output's construct id, so
 * a rename replaces the output and breaks every reader: never rename one).
 */
export const STACK_OUTPUTS = {
  deliveryStreamName: "DeliveryStreamName",
  region: "Region",
  domainEndpoint: "DomainEndpoint",
  opsTopicArn: "OpsTopicArn",
  detectorFunctionName: "DetectorFunctionName",
  archiveBucketName: "ArchiveBucketName",
  digestSigningKeyArn: "DigestSigningKeyArn",
} as const;

/** Keys in the Firehose backup bucket (staging) and in the archive. */
export const ARCHIVE_PREFIXES = {
  /** Every document Firehose delivered (S3 backup mode `AllDocuments`). */
  documents: "documents/",
  /** Records the transform marked `ProcessingFailed` (raw, base64 as Firehose writes them). */
  processingFailed: "errors/processing-failed/",
  /**
   * Documents OpenSearch refused (mapping errors, throttling beyond the retry duration). Firehose names this folder
   * itself through `!{firehose:error-output-type}` in the error output prefix.
   */
  deliveryFailed: "errors/AmazonOpenSearchService-failed/",
  /** The signed hourly digest files. */
  digests: "digests/",
  /**
   * The scheduled weekly reviews and quarterly compliance reports (`reports/weekly/…`, `reports/quarterly/…`):
   * written create-only under the archive's Object Lock retention; not archived log data, so the digest chain does
   * not seal them and `verify` leaves them out.
   */
  reports: "reports/",
} as const;

/** The environment variables of the scheduled review function (`lambdas/reviewer`). */
export const REVIEWER_ENV = {
  environmentName: "AUDIT_TRAIL_ENVIRONMENT",
  domainEndpoint: "AUDIT_TRAIL_DOMAIN_ENDPOINT",
  archiveBucketName: "AUDIT_TRAIL_ARCHIVE_BUCKET",
  opsTopicArn: "AUDIT_TRAIL_OPS_TOPIC_ARN",
  digestPeriodMinutes: "AUDIT_TRAIL_DIGEST_PERIOD_MINUTES",
  /** ARN of the asymmetric KMS key that signs the digests: the review verifies the period's chain with its public key. */
  digestSigningKeyArn: "AUDIT_TRAIL_DIGEST_SIGNING_KEY_ARN",
  /** Hours a workload certificate may be in use (`detection.certificateRotationHours`); unset: 24. */
  certificateRotationHours: "AUDIT_TRAIL_CERTIFICATE_ROTATION_HOURS",
  /** The stack whose deployed template the quarterly compliance report assesses. */
  stackName: "AUDIT_TRAIL_STACK_NAME",
  /** JSON list of `FrameworkRequest` (the environment's frameworks and their minimums); `[]` for none. */
  complianceRequests: "AUDIT_TRAIL_COMPLIANCE_REQUESTS",
} as const;

/** The input of the quarterly schedule's event (the weekly one is EventBridge's scheduled event). */
export const QUARTERLY_COMPLIANCE_INPUT = { report: "quarterly-compliance" } as const;

/** Where each environment's configuration is declared (`-c env=NAME` picks one); messages point users there. */
export const ENVIRONMENTS_FILE = "lib/config/environments.ts";

/** The CloudWatch namespace of every function's Powertools metrics; the function is the `service` dimension. */
export const METRICS_NAMESPACE = "MeshAuditTrail";

/**
 * A function's metrics contract: where its Powertools metrics land, and the name of each metric it emits. The
 * handler emits by these names and the stack's alarms read them, so a rename reaches both (an alarm on a metric
 * nobody emits would sit on missing data for ever).
 */
export interface MetricsContract<Names extends Readonly<Record<string, string>>> {
  readonly namespace: typeof METRICS_NAMESPACE;
  /** The `service` dimension (Powertools' `serviceName`). */
  readonly service: string;
  readonly names: Names;
}

/** The name of one metric of a contract. */
export type MetricName<C extends MetricsContract<Readonly<Record<string, string>>>> =
  C["names"][keyof C["names"]];

function metricsContract<const Names extends Readonly<Record<string, string>>>(
  service: string,
  names: Names,
): MetricsContract<Names> {
  return { namespace: METRICS_NAMESPACE, service, names };
}

/**
 * The transform's metrics, per invocation; besides these, `Records.<dataset>` for the datasets the parsers produce
 * (`transformDatasetMetric`) and `Failures.<code>` (`transformFailureMetric`). The stack alarms on the failed
 * and re-ingest-failed counts.
 */
export const TRANSFORM_METRICS = metricsContract("transform", {
  records: "Records",
  recordsOk: "RecordsOk",
  recordsFailed: "RecordsFailed",
  recordsDropped: "RecordsDropped",
  recordsOversize: "RecordsOversize",
  documents: "Documents",
  documentsReingested: "DocumentsReingested",
  /** Records whose re-ingestion failed after retries (emitted only when there are some). */
  reingestFailedRecords: "ReingestFailedRecords",
  /** Documents the rule tagger threw on (emitted only when there are some). */
  taggerErrors: "TaggerErrors",
});

export type TransformMetricName = MetricName<typeof TRANSFORM_METRICS>;

/** The transform's per-dataset record count. */
export function transformDatasetMetric(dataset: string): string {
  return `Records.${dataset}`;
}

/** The transform's count of records failed for one reason (a `FAILURE_CODES` code: add codes, never rename one). */
export function transformFailureMetric(code: FailureCode): string {
  return `Failures.${code}`;
}

export const TRANSFORM_ENV = {
  /** Directory (inside the bundle) holding the rule pack precompiled at synth (`rule-pack.json`, overrides in). */
  rulesDir: "AUDIT_TRAIL_RULES_DIR",
  /**
   * Not set by the stack: the environment's overrides are compiled into the pack at synth, and the transform
   * refuses to start when this is set (so a pack and its overrides cannot drift apart).
   */
  ruleOverrides: "AUDIT_TRAIL_RULE_OVERRIDES",
  /** `true` (default) keeps `event.original` on each document. */
  keepEventOriginal: "AUDIT_TRAIL_KEEP_EVENT_ORIGINAL",
  /** Comma-separated dotted ECS field paths to pseudonymize (GDPR). Empty or unset: off. */
  pseudonymizeFields: "AUDIT_TRAIL_PSEUDONYMIZE_FIELDS",
  /** ARN of a Secrets Manager secret holding the HMAC key (one of this or the parameter name). */
  pseudonymizationKeySecretArn: "AUDIT_TRAIL_PSEUDONYMIZATION_KEY_SECRET_ARN",
  /** Name of an SSM SecureString parameter holding the HMAC key. */
  pseudonymizationKeyParameterName: "AUDIT_TRAIL_PSEUDONYMIZATION_KEY_PARAMETER",
  /**
   * ARN of the Secrets Manager secret the stack generates to seal re-ingested documents (required: the transform
   * refuses to start without it).
   */
  reingestKeySecretArn: "AUDIT_TRAIL_REINGEST_KEY_SECRET_ARN",
} as const;

export const ARCHIVER_ENV = {
  archiveBucketName: "AUDIT_TRAIL_ARCHIVE_BUCKET",
  ledgerTableName: "AUDIT_TRAIL_LEDGER_TABLE",
  digestPeriodMinutes: "AUDIT_TRAIL_DIGEST_PERIOD_MINUTES",
} as const;

/** The digest writer's metrics; the stack alarms on refused objects and chain conflicts. */
export const DIGEST_WRITER_METRICS = metricsContract("digest-writer", {
  digestsWritten: "DigestsWritten",
  objectsDigested: "ObjectsDigested",
  /** Ledger records left out of a digest (not staged by Firehose, or not matching the stored object). */
  objectsRefused: "ObjectsRefused",
  /** A run that could not advance the chain: a digest key holds something other than the digest it would write. */
  chainConflicts: "ChainConflicts",
});

/** The archiver's metrics, per object. */
export const ARCHIVER_METRICS = metricsContract("archiver", {
  objectsArchived: "ObjectsArchived",
  objectsAlreadyRecorded: "ObjectsAlreadyRecorded",
  bytesArchived: "BytesArchived",
  archiveFailures: "ArchiveFailures",
});

/** The search bootstrap's metrics, per applied configuration. */
export const BOOTSTRAP_METRICS = metricsContract("bootstrap", {
  bootstrapApplied: "BootstrapApplied",
});

export const DIGEST_WRITER_ENV = {
  archiveBucketName: "AUDIT_TRAIL_ARCHIVE_BUCKET",
  /** Firehose's staging bucket: the digest writer seals only objects staged there. */
  stagingBucketName: "AUDIT_TRAIL_STAGING_BUCKET",
  ledgerTableName: "AUDIT_TRAIL_LEDGER_TABLE",
  signingKeyId: "AUDIT_TRAIL_DIGEST_SIGNING_KEY_ID",
  digestPeriodMinutes: "AUDIT_TRAIL_DIGEST_PERIOD_MINUTES",
} as const;

export const DETECTOR_ENV = {
  environmentName: "AUDIT_TRAIL_ENVIRONMENT",
  domainEndpoint: "AUDIT_TRAIL_DOMAIN_ENDPOINT",
  rulesDir: "AUDIT_TRAIL_RULES_DIR",
  ruleOverrides: "AUDIT_TRAIL_RULE_OVERRIDES",
  /** JSON object `{ "critical": topicArn, "high": …, "medium": …, "low": …, "ops": … }` (`ALERT_TOPICS`). */
  topicArns: "AUDIT_TRAIL_TOPIC_ARNS",
  dashboardsUrl: "AUDIT_TRAIL_DASHBOARDS_URL",
  runbookBaseUrl: "AUDIT_TRAIL_RUNBOOK_BASE_URL",
  /** DynamoDB table holding the detector's watermark. */
  stateTableName: "AUDIT_TRAIL_DETECTOR_STATE_TABLE",
  /** Directory (inside the bundle) holding the DB-IP country CSVs. @default - `$LAMBDA_TASK_ROOT/geoip` */
  geoIpDir: "AUDIT_TRAIL_GEOIP_DIR",
  /**
   * Milliseconds after `event.ingested` a document may first become searchable (`DetectionRunOptions.ingestLagMs`):
   * incremental evaluation. @default - unset: every run evaluates the whole lookback
   */
  ingestLagMs: "AUDIT_TRAIL_INGEST_LAG_MS",
} as const;

/**
 * The detector's metrics, per run. About rules: rules whose evaluation failed (the others went on; each failed
 * rule resumes from its own point and was announced on the ops topic), rules that ran out of the run's time or
 * event budget (they resume where they stopped), and ranges not evaluated because a rule was further behind than
 * the catch-up limit. The stack alarms on failed rules, skipped ranges, publish failures and the watermark's lag.
 */
export const DETECTOR_METRICS = metricsContract("detector", {
  firings: "Firings",
  firingsSuppressed: "FiringsSuppressed",
  alertsExtended: "AlertsExtended",
  alertsPublished: "AlertsPublished",
  alertsDuplicate: "AlertsDuplicate",
  alertsNotPaged: "AlertsNotPaged",
  /** Alerts written but not published to SNS (the next run retries them). */
  alertsPublishFailed: "AlertsPublishFailed",
  alertsPersistFailed: "AlertsPersistFailed",
  alertsMarkFailed: "AlertsMarkFailed",
  /** Alerts of earlier runs retried in this one. */
  alertsRetried: "AlertsRetried",
  rulesFailed: "RulesFailed",
  rulesPartial: "RulesPartial",
  rangesSkipped: "RangesSkipped",
  /** Seconds from the watermark to now, after the run. */
  watermarkLag: "WatermarkLag",
});

export type DetectorMetricName = MetricName<typeof DETECTOR_METRICS>;

/** Alert severities, one SNS topic each. Sigma `informational` alerts are indexed but not paged. */
export const ALERT_SEVERITIES = ["critical", "high", "medium", "low"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/**
 * The topics alerts are published to: one per severity (on-call), and `ops`, the operators' topic, for rules about
 * the pipeline itself (`topic: ops`: a silent source, the canary).
 */
export const ALERT_TOPICS = [...ALERT_SEVERITIES, "ops"] as const;
export type AlertTopic = (typeof ALERT_TOPICS)[number];

/**
 * What the stack passes to the bootstrap custom resource (`ResourceProperties`, all strings/numbers/booleans
 * as CloudFormation delivers them: numbers and booleans arrive as strings and must be coerced).
 */
export interface BootstrapProperties {
  /** Domain endpoint host name, without scheme. */
  DomainEndpoint: string;
  /** Domain ARN, for the control-plane wait (`DescribeDomain` until processing is done). */
  DomainName: string;
  HotDays: number;
  WarmDays: number;
  ColdDays: number;
  /** Age at which an index is deleted from OpenSearch (the S3 archive keeps it far longer). */
  DeleteAfterDays: number;
  UltraWarmEnabled: boolean;
  ColdStorageEnabled: boolean;
  /** Whether `event.original` is indexed (searchable); it is always stored in `_source` when kept. */
  IndexEventOriginal: boolean;
  /** Stored-fields codec of the audit indices (`index.codec`). Absent means OpenSearch's `default`. */
  IndexCodec?: "default" | "best_compression" | "zstd" | "zstd_no_dict";
  /** Fields left out of the audit indices' `_source`. Absent means none. */
  SourceExcludes?: (
    | "event.original"
    | "kubernetes.audit.requestObject"
    | "kubernetes.audit.responseObject"
  )[];
  /** IAM role ARNs mapped to OpenSearch fine-grained-access roles. */
  FirehoseRoleArn: string;
  DetectorRoleArn: string;
  /** Optional read-only analyst role; empty string when not configured. */
  AnalystRoleArn: string;
  /** The scheduled review function's role, mapped read-only; empty or absent when the stack has none. */
  ReviewerRoleArn?: string;
  ReplicaCount: number;
  ShardCount: number;
  /**
   * Whether the bootstrap makes the security plugin record successful reads of the audit indices (compliance read
   * history, PCI DSS 10.2.1.3). Absent means true; the stack always sets it, so the template shows it.
   */
  AuditReadHistory?: boolean;
}
