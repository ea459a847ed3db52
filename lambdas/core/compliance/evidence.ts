/**
 * Evidence read from a synthesized template: each function looks at one setting of one resource and says whether
 * it is there (`found`), absent (`missing`, the resource or the setting) or present but short of what the control
 * needs (`weak`), always with the logical id, the setting's path and the value as the template has it.
 */
import { ARCHIVE_PREFIXES, ARCHIVER_ENV, DETECTOR_ENV, REVIEWER_ENV, TRANSFORM_ENV } from "../contracts.js";
import {
  bucketPolicyOf,
  type CfnTemplate,
  describeValue,
  type Located,
  referencedId,
  referencedIds,
  resourceById,
  resourcesOfType,
  type StackParts,
  subscriptionsOf,
  valueAt,
} from "./template.js";

export type EvidenceStatus = "found" | "missing" | "weak";

export interface Evidence {
  readonly status: EvidenceStatus;
  /** What the setting shows, in an auditor's words. */
  readonly claim: string;
  /** The resource holding the setting; undefined when the resource itself is missing. */
  readonly resource?: { readonly logicalId: string; readonly type: string };
  /** Path of the setting under the resource's `Properties` (or a resource attribute such as `DeletionPolicy`). */
  readonly setting: string;
  /** The value in the template, as a reader sees it (`(not set)` when absent). */
  readonly value: string;
  /** What the control needs of it. */
  readonly expected: string;
}

/** What the frameworks being assessed require in numbers (from the environment's compliance presets). */
export interface Requirements {
  /** Minimum Object Lock retention and lifecycle expiration of the archive, in days. */
  readonly archiveRetentionDays: number;
  /** Minimum days an index stays searchable (ISM hot + warm). */
  readonly searchableDays: number;
  /** Fields the transform must pseudonymize (GDPR); empty when none is required. */
  readonly pseudonymizedFields: readonly string[];
  /** The longest declared GDPR processing purpose, in days, when GDPR purposes are configured. */
  readonly longestPurposeDays?: number;
}

export interface EvidenceContext {
  readonly template: CfnTemplate;
  readonly parts: StackParts;
  readonly requirements: Requirements;
}

interface SettingCheck {
  readonly claim: string;
  readonly setting: string;
  readonly expected: string;
  /** True when the value satisfies the control. */
  readonly accept: (value: unknown) => boolean;
  /** Read the value from somewhere other than `Properties.<setting>` (e.g. `DeletionPolicy`). */
  readonly read?: (resource: Located) => unknown;
  /** How to print the value. @default - `describeValue` */
  readonly show?: (value: unknown) => string;
}

/** One setting of one resource. `part` names the resource when it is missing (`the archive bucket`). */
export function checkSetting(resource: Located | undefined, part: string, check: SettingCheck): Evidence {
  if (resource === undefined) {
    return {
      status: "missing",
      claim: check.claim,
      setting: check.setting,
      value: `(not in the template: ${part})`,
      expected: check.expected,
    };
  }
  const value = check.read === undefined ? valueAt(resource.properties, check.setting) : check.read(resource);
  return {
    status: value === undefined ? "missing" : check.accept(value) ? "found" : "weak",
    claim: check.claim,
    resource: { logicalId: resource.logicalId, type: resource.type },
    setting: check.setting,
    value: value === undefined || check.show === undefined ? describeValue(value) : check.show(value),
    expected: check.expected,
  };
}

const isTrue = (value: unknown): boolean => value === true || value === "true";
const asNumber = (value: unknown): number => (typeof value === "number" ? value : Number(value));
const atLeast =
  (minimum: number) =>
  (value: unknown): boolean =>
    Number.isFinite(asNumber(value)) && asNumber(value) >= minimum;
const days = (minimum: number): string => (minimum > 0 ? `≥ ${minimum} days` : "set");
/** What a setting of at least `minimum` days is expected to be, and the test of its value. */
const atLeastDays = (minimum: number) => ({ expected: days(minimum), accept: atLeast(minimum) });

/** The shortest `ExpirationInDays` of a bucket's enabled lifecycle rules; undefined when none expires objects. */
function shortestExpiration(bucket: Located): number | undefined {
  const rules = valueAt(bucket.properties, "LifecycleConfiguration.Rules");
  const expirations = (Array.isArray(rules) ? rules : [])
    .filter((rule) => valueAt(rule, "Status") === "Enabled")
    .map((rule) => valueAt(rule, "ExpirationInDays"))
    .filter((value) => value !== undefined)
    .map(asNumber);
  return expirations.length === 0 ? undefined : Math.min(...expirations);
}

/** Object Lock is on for the archive bucket. */
export function objectLockEnabled({ parts }: EvidenceContext): Evidence {
  return checkSetting(parts.archiveBucket, "the archive bucket", {
    claim: "Object Lock is on for the archive",
    setting: "ObjectLockConfiguration.ObjectLockEnabled",
    expected: "Enabled",
    accept: (value) => value === "Enabled",
  });
}

/** The lock is in COMPLIANCE mode (governance mode can be bypassed). */
export function objectLockMode({ parts }: EvidenceContext): Evidence {
  return checkSetting(parts.archiveBucket, "the archive bucket", {
    claim: "no one, root included, can shorten the lock or delete a locked version",
    setting: "ObjectLockConfiguration.Rule.DefaultRetention.Mode",
    expected: "COMPLIANCE",
    accept: (value) => value === "COMPLIANCE",
  });
}

/** The default retention of the lock reaches the required days. */
export function objectLockDays({ parts, requirements }: EvidenceContext): Evidence {
  const minimum = requirements.archiveRetentionDays;
  return checkSetting(parts.archiveBucket, "the archive bucket", {
    claim: "every archived version is locked for the retention period",
    setting: "ObjectLockConfiguration.Rule.DefaultRetention.Days",
    ...atLeastDays(minimum),
    // A retention given in years counts leap days, as the presets do.
    read: (resource) => {
      const retention = valueAt(resource.properties, "ObjectLockConfiguration.Rule.DefaultRetention");
      const years = valueAt(retention, "Years");
      return years === undefined ? valueAt(retention, "Days") : Math.ceil(asNumber(years) * 365.25);
    },
  });
}

export const objectLock = (context: EvidenceContext): Evidence[] => [
  objectLockEnabled(context),
  objectLockMode(context),
  objectLockDays(context),
];

/** The archive's lifecycle must not expire objects before the retention period. */
export function archiveExpiration({ parts, requirements }: EvidenceContext): Evidence {
  const minimum = requirements.archiveRetentionDays;
  return checkSetting(parts.archiveBucket, "the archive bucket", {
    claim: "the lifecycle does not expire archived objects before the retention period",
    setting: "LifecycleConfiguration.Rules[].ExpirationInDays",
    expected: `≥ ${minimum} days, or no expiration`,
    accept: (value) => value === "none" || atLeast(minimum)(value),
    read: (resource) => shortestExpiration(resource) ?? "none",
  });
}

export function bucketVersioning(bucket: Located | undefined, part: string): Evidence {
  return checkSetting(bucket, part, {
    claim: `${part} keeps every version of every object`,
    setting: "VersioningConfiguration.Status",
    expected: "Enabled",
    accept: (value) => value === "Enabled",
  });
}

const PUBLIC_ACCESS_FLAGS = [
  "BlockPublicAcls",
  "BlockPublicPolicy",
  "IgnorePublicAcls",
  "RestrictPublicBuckets",
];

export function bucketPublicAccessBlock(bucket: Located | undefined, part: string): Evidence {
  return checkSetting(bucket, part, {
    claim: `${part} cannot be made public`,
    setting: "PublicAccessBlockConfiguration",
    expected: "all four settings true",
    accept: (value) => PUBLIC_ACCESS_FLAGS.every((flag) => isTrue(valueAt(value, flag))),
    show: (value) => {
      const off = PUBLIC_ACCESS_FLAGS.filter((flag) => !isTrue(valueAt(value, flag)));
      return off.length === 0 ? "all four true" : `not set: ${off.join(", ")}`;
    },
  });
}

/** The bucket policy denies every request that is not over TLS. */
export function bucketTlsOnly(template: CfnTemplate, bucket: Located | undefined, part: string): Evidence {
  const policy = bucket === undefined ? undefined : bucketPolicyOf(template, bucket.logicalId);
  return checkSetting(bucket === undefined ? undefined : policy, `the bucket policy of ${part}`, {
    claim: `${part} refuses requests that are not over TLS`,
    setting: "PolicyDocument.Statement[Deny aws:SecureTransport=false]",
    expected: 'a Deny statement with Condition Bool aws:SecureTransport "false"',
    accept: (value) => value === "Deny",
    read: (resource) => {
      const statements = valueAt(resource.properties, "PolicyDocument.Statement");
      const deny = (Array.isArray(statements) ? statements : []).find(
        (statement) =>
          valueAt(statement, "Effect") === "Deny" &&
          String(valueAt(valueAt(statement, "Condition.Bool"), "aws:SecureTransport")) === "false",
      );
      return deny === undefined ? undefined : "Deny";
    },
  });
}

/** The KMS key a value references, and whether it rotates. */
export function keyRotation(template: CfnTemplate, keyReference: unknown, part: string): Evidence {
  const key = resourceById(template, referencedId(keyReference));
  return checkSetting(key?.type === "AWS::KMS::Key" ? key : undefined, `the KMS key of ${part}`, {
    claim: `the customer-managed key encrypting ${part} is rotated yearly`,
    setting: "EnableKeyRotation",
    expected: "true",
    accept: isTrue,
  });
}

/** SSE-KMS with a customer key on a bucket, and that key's rotation. */
export function bucketKmsEncryption(
  template: CfnTemplate,
  bucket: Located | undefined,
  part: string,
): Evidence[] {
  const path = "BucketEncryption.ServerSideEncryptionConfiguration";
  const byDefault = (resource: Located): unknown => {
    const rules = valueAt(resource.properties, path);
    return Array.isArray(rules) ? valueAt(rules[0], "ServerSideEncryptionByDefault") : undefined;
  };
  return [
    checkSetting(bucket, part, {
      claim: `${part} is encrypted with a customer-managed KMS key`,
      setting: `${path}[0].ServerSideEncryptionByDefault.SSEAlgorithm`,
      expected: "aws:kms (or aws:kms:dsse)",
      accept: (value) => value === "aws:kms" || value === "aws:kms:dsse",
      read: (resource) => valueAt(byDefault(resource), "SSEAlgorithm"),
    }),
    keyRotation(
      template,
      bucket === undefined ? undefined : valueAt(byDefault(bucket), "KMSMasterKeyID"),
      part,
    ),
  ];
}

export function retainedOnDelete(resource: Located | undefined, part: string): Evidence {
  return checkSetting(resource, part, {
    claim: `deleting the stack keeps ${part}`,
    setting: "DeletionPolicy",
    expected: "Retain",
    accept: (value) => value === "Retain",
    read: (located) => located.resource.DeletionPolicy,
  });
}

/** The archive as a whole: lock, retention, versions, no public access, TLS only, KMS, kept on delete. */
export function archiveProtection(context: EvidenceContext): Evidence[] {
  const { template, parts } = context;
  const bucket = parts.archiveBucket;
  const part = "the archive bucket";
  return [
    ...objectLock(context),
    bucketVersioning(bucket, part),
    bucketPublicAccessBlock(bucket, part),
    bucketTlsOnly(template, bucket, part),
    ...bucketKmsEncryption(template, bucket, part),
    retainedOnDelete(bucket, part),
  ];
}

/** The digest signing key and the schedule that seals each period. */
export function digestChain({ parts }: EvidenceContext): Evidence[] {
  return [
    checkSetting(parts.signingKey, "the digest signing key", {
      claim: "digests are signed with an asymmetric key whose private half never leaves KMS",
      setting: "KeySpec",
      expected: "ECC_NIST_P256",
      accept: (value) => value === "ECC_NIST_P256",
    }),
    checkSetting(parts.signingKey, "the digest signing key", {
      claim: "the key is usable only to sign and verify",
      setting: "KeyUsage",
      expected: "SIGN_VERIFY",
      accept: (value) => value === "SIGN_VERIFY",
    }),
    retainedOnDelete(parts.signingKey, "the digest signing key"),
    enabledDailySchedule(parts.digestSchedule, "the digest writer's schedule", {
      claim: "each period's objects are sealed into a signed digest chained to the previous one",
      expected: "a schedule of at most 1 day, rule ENABLED",
    }),
  ];
}

/** Minutes between runs of `rate(N unit)`; a cron expression counts as daily at most; anything else: Infinity. */
export function scheduleMinutes(expression: unknown): number {
  if (typeof expression !== "string") return Number.POSITIVE_INFINITY;
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate === null) return expression.startsWith("cron(") ? 1440 : Number.POSITIVE_INFINITY;
  const unit = rate[2] ?? "";
  const factor = unit.startsWith("minute") ? 1 : unit.startsWith("hour") ? 60 : 1440;
  return Number(rate[1]) * factor;
}

const DESTINATION = "AmazonopensearchserviceDestinationConfiguration";

/** Firehose: every record collected, processed, and kept in S3 even when it cannot be parsed. */
export function ingestion({ parts }: EvidenceContext): Evidence[] {
  const stream = parts.deliveryStream;
  const destination = DESTINATION;
  return [
    checkSetting(stream, "the Firehose delivery stream", {
      claim: "clusters ship every audit record to one ingestion stream",
      setting: "DeliveryStreamType",
      expected: "DirectPut",
      accept: (value) => value === "DirectPut",
    }),
    checkSetting(stream, "the Firehose delivery stream", {
      claim: "every record, including those that cannot be parsed, is backed up to S3 for the archive",
      setting: `${destination}.S3BackupMode`,
      expected: "AllDocuments",
      accept: (value) => value === "AllDocuments",
    }),
    checkSetting(stream, "the Firehose delivery stream", {
      claim: "each record is parsed, normalized (ECS) and matched against the rules on the way in",
      setting: `${destination}.ProcessingConfiguration.Enabled`,
      expected: "true",
      accept: isTrue,
    }),
  ];
}

/** Firehose encrypts records at rest (the stream and its S3 backup). */
export function ingestionEncryption({ template, parts }: EvidenceContext): Evidence[] {
  const stream = parts.deliveryStream;
  const destination = DESTINATION;
  return [
    checkSetting(stream, "the Firehose delivery stream", {
      claim: "the stream encrypts records at rest with a customer-managed key",
      setting: "DeliveryStreamEncryptionConfigurationInput.KeyType",
      expected: "CUSTOMER_MANAGED_CMK",
      accept: (value) => value === "CUSTOMER_MANAGED_CMK",
    }),
    keyRotation(
      template,
      valueAt(stream?.properties, "DeliveryStreamEncryptionConfigurationInput.KeyARN"),
      "the delivery stream",
    ),
    checkSetting(stream, "the Firehose delivery stream", {
      claim: "the S3 backup is written with a KMS key",
      setting: `${destination}.S3Configuration.EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN`,
      expected: "a KMS key",
      accept: (value) => value !== undefined,
    }),
  ];
}

const DOMAIN = "the OpenSearch domain";

/** OpenSearch encrypts indices at rest with a rotated key. */
export function searchAtRest({ template, parts }: EvidenceContext): Evidence[] {
  const domain = parts.domain;
  const part = DOMAIN;
  return [
    checkSetting(domain, part, {
      claim: "indices are encrypted at rest",
      setting: "EncryptionAtRestOptions.Enabled",
      expected: "true",
      accept: isTrue,
    }),
    keyRotation(template, valueAt(domain?.properties, "EncryptionAtRestOptions.KmsKeyId"), part),
  ];
}

/** OpenSearch encrypts traffic between nodes and with clients (HTTPS, TLS 1.2+). */
export function searchInTransit({ parts }: EvidenceContext): Evidence[] {
  const domain = parts.domain;
  const part = DOMAIN;
  return [
    checkSetting(domain, part, {
      claim: "traffic between nodes is encrypted",
      setting: "NodeToNodeEncryptionOptions.Enabled",
      expected: "true",
      accept: isTrue,
    }),
    checkSetting(domain, part, {
      claim: "clients must use HTTPS",
      setting: "DomainEndpointOptions.EnforceHTTPS",
      expected: "true",
      accept: isTrue,
    }),
    checkSetting(domain, part, {
      claim: "clients must use TLS 1.2 or later",
      setting: "DomainEndpointOptions.TLSSecurityPolicy",
      expected: "Policy-Min-TLS-1-2-*",
      accept: (value) => typeof value === "string" && value.startsWith("Policy-Min-TLS-1-2"),
    }),
  ];
}

/** OpenSearch fine-grained access control. */
export function searchAccessControl({ parts }: EvidenceContext): Evidence {
  return checkSetting(parts.domain, DOMAIN, {
    claim: "read and write access to indices is limited per role (fine-grained access control)",
    setting: "AdvancedSecurityOptions.Enabled",
    expected: "true",
    accept: isTrue,
  });
}

/** Access to the trail is itself logged: OpenSearch audit logs and S3 server access logs of the archive. */
export function accessToTrailLogged({ parts }: EvidenceContext): Evidence[] {
  return [
    checkSetting(parts.domain, DOMAIN, {
      claim:
        "the domain publishes its security audit log (failed logins, denied requests) to CloudWatch Logs",
      setting: "LogPublishingOptions.AUDIT_LOGS.Enabled",
      expected: "true",
      accept: isTrue,
    }),
    checkSetting(parts.searchBootstrap, "the OpenSearch bootstrap (security audit configuration)", {
      claim:
        "successful reads of audit-* and audit-alerts are recorded in the OpenSearch audit log (compliance read history, metadata only)",
      setting: "AuditReadHistory",
      expected: "true",
      accept: isTrue,
    }),
    checkSetting(parts.archiveBucket, "the archive bucket", {
      claim: "every request to the archive is recorded (S3 server access logs)",
      setting: "LoggingConfiguration.DestinationBucketName",
      expected: "a log bucket",
      accept: (value) => value !== undefined,
    }),
  ];
}

/** The OpenSearch audit log group's retention. */
export function searchAuditLogRetention(
  { template, parts }: EvidenceContext,
  auditLogRetentionDays: number,
): Evidence {
  const logGroupArn = valueAt(
    parts.domain?.properties,
    "LogPublishingOptions.AUDIT_LOGS.CloudWatchLogsLogGroupArn",
  );
  const logGroup = resourceById(template, referencedId(logGroupArn));
  return checkSetting(logGroup, "the OpenSearch audit log group", {
    claim: "the OpenSearch audit log is kept",
    setting: "RetentionInDays",
    ...atLeastDays(auditLogRetentionDays),
    // No RetentionInDays means CloudWatch keeps the events forever.
    read: (resource) => resource.properties.RetentionInDays ?? "never expires",
  });
}

/** Indices stay searchable (ISM hot + warm) for the required days: the bootstrap's ISM ages. */
export function searchableWindow({ parts, requirements }: EvidenceContext): Evidence {
  const minimum = requirements.searchableDays;
  return checkSetting(parts.searchBootstrap, "the OpenSearch bootstrap (ISM policy)", {
    claim: "indices stay immediately searchable (hot + warm) for the required window",
    setting: "HotDays + WarmDays",
    ...atLeastDays(minimum),
    read: (resource) => {
      const hot = resource.properties.HotDays;
      const warm = resource.properties.WarmDays ?? 0;
      return hot === undefined ? undefined : asNumber(hot) + asNumber(warm);
    },
  });
}

/** The detector runs on a schedule of at most a day. */
export function detectorSchedule({ parts }: EvidenceContext): Evidence {
  return enabledDailySchedule(parts.detectorSchedule, "the detector's schedule", {
    claim: "the trail is reviewed automatically (rules and correlations) at least daily",
    expected: "at most 1 day between runs, rule ENABLED",
  });
}

/** An EventBridge rule that is not DISABLED and runs at least once a day (`scheduleMinutes` ≤ 1440). */
function enabledDailySchedule(
  rule: Located | undefined,
  part: string,
  check: Pick<SettingCheck, "claim" | "expected">,
): Evidence {
  return checkSetting(rule, part, {
    ...check,
    setting: "ScheduleExpression",
    accept: (value) => valueAt(rule?.properties, "State") !== "DISABLED" && scheduleMinutes(value) <= 1440,
  });
}

/**
 * Minutes between runs of a weekly-or-more-often schedule: `rate(...)` as `scheduleMinutes`; a cron expression with
 * a day of the week (`cron(0 6 ? * MON *)`) runs weekly, one with every day daily; anything else: Infinity.
 */
export function reviewScheduleMinutes(expression: unknown): number {
  if (typeof expression !== "string") return Number.POSITIVE_INFINITY;
  const cron = /^cron\((\S+) (\S+) (\S+) (\S+) (\S+)(?: (\S+))?\)$/.exec(expression);
  if (cron === null) return scheduleMinutes(expression);
  const [, , , dayOfMonth = "", month = "", dayOfWeek = ""] = cron;
  if (month !== "*") return Number.POSITIVE_INFINITY;
  if (dayOfMonth === "*" || (dayOfMonth === "?" && dayOfWeek === "*")) return 1440;
  if (dayOfMonth === "?" && /^[A-Z]{3}(,[A-Z]{3})*$|^[1-7](,[1-7])*$/.test(dayOfWeek)) return 10_080;
  return Number.POSITIVE_INFINITY;
}

/**
 * The weekly audit review: a function scheduled at least weekly builds it from the trail and stores each report under
 * `reports/weekly/` of the Object Lock archive (the reports an auditor asks for as evidence of weekly review).
 */
export function weeklyReview({ parts }: EvidenceContext): Evidence[] {
  const variables = valueAt(parts.reviewer?.properties, "Environment.Variables");
  const archiveId = parts.archiveBucket?.logicalId;
  return [
    checkSetting(parts.reviewSchedule, "the weekly review's schedule", {
      claim:
        "the audit logs are reviewed weekly: a report of alerts, exec sessions, security and RBAC changes, denials, new service edges, posture and pipeline health is built for sign-off",
      setting: "ScheduleExpression",
      expected: "at most 7 days between runs, rule ENABLED",
      accept: (value) =>
        valueAt(parts.reviewSchedule?.properties, "State") !== "DISABLED" &&
        reviewScheduleMinutes(value) <= 10_080,
    }),
    checkSetting(parts.reviewer, "the weekly review function", {
      claim: `each weekly review is stored create-only under ${ARCHIVE_PREFIXES.reports}weekly/<date>/ of the Object Lock archive, under its retention: the stored reviews are the evidence`,
      setting: `Environment.Variables.${REVIEWER_ENV.archiveBucketName}`,
      expected: "the Object Lock archive bucket",
      accept: () =>
        archiveId !== undefined &&
        referencedId(valueAt(variables, REVIEWER_ENV.archiveBucketName)) === archiveId,
      read: () => valueAt(variables, REVIEWER_ENV.archiveBucketName),
    }),
  ];
}

/** Alerts page people (the critical topic has a subscriber) through KMS-encrypted topics. */
export function alerting({ template, parts }: EvidenceContext): Evidence[] {
  const evidence: Evidence[] = [
    checkSetting(criticalTopic(parts), "the critical alerts topic", {
      claim: "critical alerts reach a person",
      setting: "(AWS::SNS::Subscription on this topic)",
      expected: "at least 1 subscription",
      accept: (value) => asNumber(value) >= 1,
      read: (topic) => subscriptionsOf(template, topic.logicalId).length,
    }),
  ];
  for (const topic of parts.alertTopics) {
    evidence.push(
      checkSetting(topic, "an alert topic", {
        claim: "alerts are encrypted at rest in SNS",
        setting: "KmsMasterKeyId",
        expected: "a KMS key",
        accept: (value) => value !== undefined,
      }),
    );
  }
  return evidence;
}

/** The topic the detector's `AUDIT_TRAIL_TOPIC_ARNS` maps `critical` to. */
function criticalTopic(parts: StackParts): Located | undefined {
  const variables = valueAt(parts.detector?.properties, "Environment.Variables");
  const mapping = (variables as Record<string, unknown> | undefined)?.[DETECTOR_ENV.topicArns];
  const joined = (mapping as Record<string, unknown> | undefined)?.["Fn::Join"];
  const pieces = Array.isArray(joined) && Array.isArray(joined[1]) ? (joined[1] as unknown[]) : [];
  const index = pieces.findIndex((piece) => typeof piece === "string" && piece.endsWith('"critical":"'));
  const id = index < 0 ? undefined : referencedId(pieces[index + 1]);
  return parts.alertTopics.find((topic) => topic.logicalId === id);
}

interface AlarmSpec {
  readonly claim: string;
  readonly namespace: string;
  readonly metric: string;
  /** The resource the alarm's dimensions must reference, when it watches one. */
  readonly watches?: Located;
  readonly part: string;
}

/** A CloudWatch alarm on a metric (of a given resource) that notifies a subscribed topic. */
function alarmOn(template: CfnTemplate, alarms: readonly Located[], spec: AlarmSpec): Evidence {
  const alarm = alarms.find(
    (candidate) =>
      candidate.properties.Namespace === spec.namespace &&
      candidate.properties.MetricName === spec.metric &&
      (spec.watches === undefined ||
        referencedIds(candidate.properties.Dimensions).has(spec.watches.logicalId)),
  );
  return checkSetting(alarm, `an alarm on ${spec.namespace} ${spec.metric} of ${spec.part}`, {
    claim: spec.claim,
    setting: "AlarmActions",
    expected: "an SNS topic with at least 1 subscription",
    accept: (value) => [...referencedIds(value)].some((id) => subscriptionsOf(template, id).length > 0),
    show: (value) =>
      [...referencedIds(value)]
        .map((id) => `${id} (${subscriptionsOf(template, id).length} subscriptions)`)
        .join(", ") || describeValue(value),
  });
}

/** Failures of the logging pipeline itself raise alarms that reach someone. */
export function pipelineFailureAlarms({ template, parts }: EvidenceContext): Evidence[] {
  const alarms = parts.alarms;
  const archiver = resourcesOfType(template, "AWS::Lambda::Function").find(
    (fn) =>
      valueAt(fn.properties, `Environment.Variables.${ARCHIVER_ENV.archiveBucketName}`) !== undefined &&
      fn.logicalId !== parts.digestWriter?.logicalId,
  );
  const specs: AlarmSpec[] = [
    {
      claim: "records failing to reach OpenSearch raise an alarm",
      namespace: "AWS/Firehose",
      metric: "DeliveryToAmazonOpenSearchService.Success",
      watches: parts.deliveryStream,
      part: "the delivery stream",
    },
    {
      claim: "records failing to reach the S3 backup raise an alarm",
      namespace: "AWS/Firehose",
      metric: "DeliveryToS3.Success",
      watches: parts.deliveryStream,
      part: "the delivery stream",
    },
    {
      claim: "transform errors raise an alarm",
      namespace: "AWS/Lambda",
      metric: "Errors",
      watches: parts.transform,
      part: "the transform",
    },
    {
      claim: "archiver errors (records not reaching the locked archive) raise an alarm",
      namespace: "AWS/Lambda",
      metric: "Errors",
      watches: archiver,
      part: "the archiver",
    },
    {
      claim: "digest writer errors (a gap in the signed chain) raise an alarm",
      namespace: "AWS/Lambda",
      metric: "Errors",
      watches: parts.digestWriter,
      part: "the digest writer",
    },
    {
      claim: "a red OpenSearch cluster raises an alarm",
      namespace: "AWS/ES",
      metric: "ClusterStatus.red",
      part: "the OpenSearch domain",
    },
    {
      claim: "OpenSearch losing access to its KMS key raises an alarm",
      namespace: "AWS/ES",
      metric: "KMSKeyInaccessible",
      part: "the OpenSearch domain",
    },
  ];
  if (parts.detector !== undefined) {
    specs.push({
      claim: "detector errors (reviews not running) raise an alarm",
      namespace: "AWS/Lambda",
      metric: "Errors",
      watches: parts.detector,
      part: "the detector",
    });
  }
  return specs.map((spec) =>
    spec.watches === undefined && spec.namespace === "AWS/Lambda"
      ? checkSetting(undefined, spec.part, {
          claim: spec.claim,
          setting: "AlarmActions",
          expected: "an SNS topic with at least 1 subscription",
          accept: () => false,
        })
      : alarmOn(template, alarms, spec),
  );
}

/**
 * Every log group of the stack is KMS-encrypted and expires. Cited by the group with the shortest retention (one
 * line per group would drown the report); an unencrypted group is cited instead when there is one.
 */
export function logGroups({ parts }: EvidenceContext): Evidence {
  const groups = parts.logGroups;
  const unencrypted = groups.find((group) => group.properties.KmsKeyId === undefined);
  const byRetention = [...groups].sort(
    (a, b) =>
      asNumber(a.properties.RetentionInDays ?? Number.POSITIVE_INFINITY) -
      asNumber(b.properties.RetentionInDays ?? Number.POSITIVE_INFINITY),
  );
  const cited = unencrypted ?? byRetention[0];
  return checkSetting(cited, "a log group", {
    claim: `the pipeline's own logs (${groups.length} log groups: functions, Firehose, OpenSearch) are encrypted with a KMS key; shortest retention shown`,
    setting: "KmsKeyId, RetentionInDays",
    expected: "a KMS key on every group",
    accept: () => unencrypted === undefined,
    read: (group) =>
      `${group.properties.KmsKeyId === undefined ? "no KMS key" : describeValue(group.properties.KmsKeyId)}, ${
        group.properties.RetentionInDays === undefined
          ? "never expires"
          : `${group.properties.RetentionInDays} days`
      }`,
  });
}

/** GDPR: the transform pseudonymizes the personal fields with a keyed HMAC and drops the raw line. */
export function pseudonymization({ parts, requirements }: EvidenceContext): Evidence[] {
  const transform = parts.transform;
  const variable = (name: string) => (resource: Located) =>
    valueAt(resource.properties, `Environment.Variables.${name}`);
  const required = requirements.pseudonymizedFields;
  const keyVariables = [
    TRANSFORM_ENV.pseudonymizationKeyParameterName,
    TRANSFORM_ENV.pseudonymizationKeySecretArn,
  ];
  return [
    checkSetting(transform, "the transform function", {
      claim: "personal fields are replaced by a keyed HMAC before indexing and archiving",
      setting: `Environment.Variables.${TRANSFORM_ENV.pseudonymizeFields}`,
      expected: required.length === 0 ? "at least one field" : `includes ${required.join(", ")}`,
      accept: (value) => {
        const fields = String(value)
          .split(",")
          .map((field) => field.trim())
          .filter((field) => field !== "");
        return fields.length > 0 && required.every((field) => fields.includes(field));
      },
      read: variable(TRANSFORM_ENV.pseudonymizeFields),
    }),
    checkSetting(transform, "the transform function", {
      claim: "the HMAC key is held outside the code (SSM SecureString or Secrets Manager)",
      setting: `Environment.Variables.${keyVariables.join(" | ")}`,
      expected: "a parameter name or secret ARN",
      accept: (value) => value !== "",
      read: (resource) =>
        keyVariables.map((name) => variable(name)(resource)).find((value) => value !== undefined),
    }),
    checkSetting(transform, "the transform function", {
      claim: "the raw line (which still holds the personal data) is not kept in event.original",
      setting: `Environment.Variables.${TRANSFORM_ENV.keepEventOriginal}`,
      expected: "false",
      accept: (value) => value === "false",
      // The transform keeps event.original unless told not to.
      read: (resource) => variable(TRANSFORM_ENV.keepEventOriginal)(resource) ?? "true (default)",
    }),
  ];
}

/** GDPR Art. 30(1)(f) and 5(1)(e): archived records are erased after a fixed time, no sooner than the purposes need. */
export function archiveErasure({ parts, requirements }: EvidenceContext): Evidence {
  const longest = requirements.longestPurposeDays;
  return checkSetting(parts.archiveBucket, "the archive bucket", {
    claim: "archived records are erased after a fixed time (lifecycle expiration)",
    setting: "LifecycleConfiguration.Rules[].ExpirationInDays",
    expected: longest === undefined ? "set" : `set, ≥ ${longest} days (longest declared purpose)`,
    accept: (value) => longest === undefined || atLeast(longest)(value),
    read: shortestExpiration,
  });
}

/** GDPR Art. 30(1)(f): every store of the records has a time limit for erasure. */
export function erasureLimits(context: EvidenceContext): Evidence[] {
  const { parts } = context;
  return [
    archiveErasure(context),
    checkSetting(parts.stagingBucket, "the staging bucket", {
      claim: "the staging copy Firehose writes is erased after a few days",
      setting: "LifecycleConfiguration.Rules[].ExpirationInDays",
      expected: "set",
      accept: (value) => Number.isFinite(asNumber(value)),
      read: (resource) => {
        const rules = valueAt(resource.properties, "LifecycleConfiguration.Rules");
        const expirations = (Array.isArray(rules) ? rules : [])
          .map((rule) => valueAt(rule, "ExpirationInDays"))
          .filter((value) => value !== undefined);
        return expirations[0];
      },
    }),
    checkSetting(parts.searchBootstrap, "the OpenSearch bootstrap (ISM policy)", {
      claim: "indices are deleted from OpenSearch after a fixed age (the archive keeps the records)",
      setting: "DeleteAfterDays",
      expected: "set",
      accept: (value) => Number.isFinite(asNumber(value)) && asNumber(value) > 0,
    }),
  ];
}
