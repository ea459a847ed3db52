import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as backup from "aws-cdk-lib/aws-backup";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import {
  ARCHIVE_PREFIXES,
  ARCHIVER_ENV,
  DIGEST_WRITER_ENV,
  DIGEST_WRITER_METRICS,
} from "../lambdas/core/contracts.js";
import type { AuditArchive } from "./archive.js";
import { DEFAULTS } from "./config/defaults.js";
import type { FunctionPlacement } from "./network.js";
import { auditFunction, functionSetup } from "./private/function.js";
import { powertoolsMetric } from "./private/metrics.js";
import { tokenFinding } from "./private/nag.js";
import { bookkeepingTable } from "./private/resources.js";

/** The staging prefixes Firehose writes, which the archiver copies: documents and both error outputs. */
const ARCHIVED_PREFIXES = [ARCHIVE_PREFIXES.documents, "errors/"] as const;

/** Partition-key patterns of the ledger's items (lambdas/core/digest/ledger.ts). */
const LEDGER_KEYS = { chain: "CHAIN", objectMarkers: "OBJECT#*", periods: "PERIOD#*" } as const;

/** `actions` on the ledger, only for items whose partition key matches one of `leadingKeys`. */
function ledgerStatement(
  sid: string,
  actions: string[],
  table: dynamodb.ITable,
  leadingKeys: string[],
): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    actions,
    resources: [table.tableArn],
    conditions: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": leadingKeys } },
  });
}

export interface TamperEvidenceProps extends FunctionPlacement {
  /** Buckets: Firehose writes into staging, the archiver copies into the Object Lock archive. */
  readonly archive: AuditArchive;
  readonly encryptionKey: kms.IKey;
  readonly logsKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Length of one signed digest period. @default - `DEFAULTS.digestPeriodMinutes` (60 minutes) */
  readonly digestPeriod?: Duration;
  /** Archiver reserved concurrency. @default - `DEFAULTS.concurrency.archiver` (5) */
  readonly archiverConcurrency?: number;
}

/**
 * Makes the archive provable: every staged object is copied into the Object Lock archive with a SHA-256 checksum
 * by the archiver (S3 event → queue → Lambda), which records it in the ledger; every digest period the digest
 * writer chains the period's hashes into a digest signed with an asymmetric KMS key (ECC NIST P-256) and stores it
 * under `digests/` in the archive.
 */
export class TamperEvidence extends Construct {
  public readonly ledgerTable: dynamodb.Table;
  public readonly signingKey: kms.Key;
  public readonly archiveQueue: sqs.Queue;
  public readonly archiveDeadLetterQueue: sqs.Queue;
  public readonly digestDeadLetterQueue: sqs.Queue;
  public readonly archiverFunction: lambda.IFunction;
  public readonly archiverTimeout: Duration;
  public readonly digestWriterFunction: lambda.IFunction;
  public readonly digestWriterTimeout: Duration;

  constructor(scope: Construct, id: string, props: TamperEvidenceProps) {
    super(scope, id);
    const digestPeriod = props.digestPeriod ?? Duration.minutes(DEFAULTS.digestPeriodMinutes);
    const periodMinutes = String(digestPeriod.toMinutes());
    const { archiveBucket, stagingBucket } = props.archive;

    this.ledgerTable = bookkeepingTable(this, "Ledger", props.encryptionKey);

    // PITR covers 35 days of operator error; AWS Backup keeps daily copies for a year in a vault of its own.
    const vault = new backup.BackupVault(this, "LedgerBackupVault", {
      encryptionKey: props.encryptionKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const plan = new backup.BackupPlan(this, "LedgerBackupPlan", { backupVault: vault });
    plan.addRule(
      new backup.BackupPlanRule({
        ruleName: "DailyForAYear",
        scheduleExpression: events.Schedule.cron({ hour: "3", minute: "0" }),
        deleteAfter: Duration.days(366),
      }),
    );
    const selection = plan.addSelection("Ledger", {
      resources: [backup.BackupResource.fromDynamoDbTable(this.ledgerTable)],
    });
    Validations.of(selection).acknowledge({
      id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]",
      reason:
        "AWS Backup's own service-role policy, maintained by AWS for the backup service; attached to the role AWS Backup assumes for this one selection.",
    });

    this.signingKey = new kms.Key(this, "DigestSigningKey", {
      description: "mesh-audit-trail: signs the chained archive digests (verify with the public key)",
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const queue = (name: string, overrides: Partial<sqs.QueueProps> = {}) =>
      new sqs.Queue(this, name, {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: props.encryptionKey,
        dataKeyReuse: Duration.hours(1),
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
        removalPolicy: RemovalPolicy.RETAIN,
        ...overrides,
      });
    this.archiveDeadLetterQueue = queue("ArchiveDeadLetterQueue");
    this.digestDeadLetterQueue = queue("DigestDeadLetterQueue");
    this.archiverTimeout = Duration.minutes(2);
    this.archiveQueue = queue("ArchiveQueue", {
      visibilityTimeout: Duration.minutes(12),
      deadLetterQueue: { queue: this.archiveDeadLetterQueue, maxReceiveCount: 5 },
    });
    for (const dlq of [this.archiveDeadLetterQueue, this.digestDeadLetterQueue]) {
      Validations.of(dlq).acknowledge({
        id: "AwsSolutions-SQS3",
        reason: "This queue is itself a dead-letter queue; its depth is alarmed on.",
      });
    }

    // S3 → queue: the queue policy must exist before the bucket's notification configuration is written.
    this.archiveQueue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "StagingBucketNotifications",
        principals: [new iam.ServicePrincipal("s3.amazonaws.com")],
        actions: ["sqs:SendMessage"],
        resources: [this.archiveQueue.queueArn],
        conditions: {
          StringEquals: { "aws:SourceAccount": archiveBucket.env.account },
          ArnLike: { "aws:SourceArn": props.archive.stagingBucketSourceArn ?? "arn:*:s3:::*" },
        },
      }),
    );
    // The policy construct addToResourcePolicy created (id "Policy"); the bucket's notification must wait for it.
    // The condition names the staging bucket by its fixed name (its ARN attribute would be a dependency cycle: the
    // bucket depends on this policy); with a generated name it can only name the account.
    const queuePolicy = this.archiveQueue.node.findChild("Policy");
    props.archive.notifyStagedObjects(this.archiveQueue, queuePolicy);

    const archiver = auditFunction(this, "Archiver", {
      entry: "lambdas/archiver/handler.ts",
      description:
        "mesh-audit-trail: copies staged Firehose objects into the Object Lock archive with SHA-256",
      environment: {
        [ARCHIVER_ENV.archiveBucketName]: archiveBucket.bucketName,
        [ARCHIVER_ENV.ledgerTableName]: this.ledgerTable.tableName,
        [ARCHIVER_ENV.digestPeriodMinutes]: periodMinutes,
      },
      timeout: this.archiverTimeout,
      memorySize: 1024,
      reservedConcurrentExecutions: props.archiverConcurrency ?? DEFAULTS.concurrency.archiver,
      ...functionSetup(props),
      noDeadLetterQueueReason:
        "Invoked by an SQS event source mapping: failed messages go to the queue's own dead-letter queue (maxReceiveCount 5), which is alarmed on.",
    });
    // The mapping without SqsEventSource's grantConsumeMessages (which adds ChangeMessageVisibility and
    // GetQueueUrl): Lambda's poller receives, deletes and reads the queue's attributes with the function's role.
    new lambda.EventSourceMapping(this, "ArchiverQueueMapping", {
      target: archiver,
      eventSourceArn: this.archiveQueue.queueArn,
      batchSize: 10,
      maxBatchingWindow: Duration.seconds(5),
      reportBatchItemFailures: true,
    });
    archiver.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "PollTheArchiveQueue",
        actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
        resources: [this.archiveQueue.queueArn],
      }),
    );
    // Least privilege, per call the archiver makes (lambdas/archiver/archive.ts):
    // GetObject (with the notified version) on staging; PutObject (create-only, If-None-Match) and HeadObject
    // (s3:GetObject) under the prefixes Firehose writes; never digests/, never a delete or a retention change.
    archiver.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "ReadStagedObjects",
        actions: ["s3:GetObject", "s3:GetObjectVersion"],
        resources: [stagingBucket.arnForObjects("*")],
      }),
    );
    const archivedObjects = ARCHIVED_PREFIXES.map((prefix) => archiveBucket.arnForObjects(`${prefix}*`));
    archiver.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "CreateArchiveObjectsOnly",
        actions: ["s3:PutObject"],
        resources: archivedObjects,
        conditions: { Null: { "s3:if-none-match": "false" } },
      }),
    );
    archiver.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "ReadArchivedObjects",
        actions: ["s3:GetObject"],
        resources: archivedObjects,
      }),
    );
    // The data key encrypts the queue, both buckets and the ledger: Decrypt to read them, GenerateDataKey to write
    // S3 objects and items; DescribeKey is what aws-cdk-lib's table grants add for items of a customer-key table.
    props.encryptionKey.grant(archiver, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey");
    // Ledger: reads object markers and the chain head, writes object markers and period records, checks (never
    // writes) the head. Only the digest writer writes CHAIN/HEAD; no function deletes or batch-writes items.
    archiver.addToRolePolicy(
      ledgerStatement("ReadObjectMarkersAndChainHead", ["dynamodb:GetItem"], this.ledgerTable, [
        LEDGER_KEYS.objectMarkers,
        LEDGER_KEYS.chain,
      ]),
    );
    archiver.addToRolePolicy(
      ledgerStatement("RecordArchivedObjects", ["dynamodb:PutItem"], this.ledgerTable, [
        LEDGER_KEYS.objectMarkers,
        LEDGER_KEYS.periods,
      ]),
    );
    archiver.addToRolePolicy(
      ledgerStatement("CheckThePeriodIsOpen", ["dynamodb:ConditionCheckItem"], this.ledgerTable, [
        LEDGER_KEYS.chain,
      ]),
    );
    this.archiverFunction = archiver;

    this.digestWriterTimeout = Duration.minutes(5);
    const digestWriter = auditFunction(this, "DigestWriter", {
      entry: "lambdas/digest-writer/handler.ts",
      description: "mesh-audit-trail: writes the signed, chained archive digest for each period",
      environment: {
        [DIGEST_WRITER_ENV.archiveBucketName]: archiveBucket.bucketName,
        [DIGEST_WRITER_ENV.stagingBucketName]: stagingBucket.bucketName,
        [DIGEST_WRITER_ENV.ledgerTableName]: this.ledgerTable.tableName,
        [DIGEST_WRITER_ENV.signingKeyId]: this.signingKey.keyArn,
        [DIGEST_WRITER_ENV.digestPeriodMinutes]: periodMinutes,
      },
      timeout: this.digestWriterTimeout,
      memorySize: 512,
      reservedConcurrentExecutions: 1,
      deadLetterQueue: this.digestDeadLetterQueue,
      ...functionSetup(props),
    });
    // Per call the digest writer makes (lambdas/digest-writer/write-digests.ts): PutObject (create-only) and GetObject
    // (to adopt its own earlier write) under digests/; HeadObject on staging (an object is sealed only if Firehose
    // staged it); the chain head and the period records in the ledger; kms:Sign with the signing key.
    const digestObjects = archiveBucket.arnForObjects(`${ARCHIVE_PREFIXES.digests}*`);
    digestWriter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "CreateDigestsOnly",
        actions: ["s3:PutObject"],
        resources: [digestObjects],
        conditions: { Null: { "s3:if-none-match": "false" } },
      }),
    );
    digestWriter.addToRolePolicy(
      new iam.PolicyStatement({ sid: "ReadDigests", actions: ["s3:GetObject"], resources: [digestObjects] }),
    );
    digestWriter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "CheckObjectsWereStaged",
        actions: ["s3:GetObject"],
        resources: [stagingBucket.arnForObjects("*")],
      }),
    );
    props.encryptionKey.grant(digestWriter, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey");
    digestWriter.addToRolePolicy(
      ledgerStatement(
        "MaintainTheChainHead",
        ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        this.ledgerTable,
        [LEDGER_KEYS.chain],
      ),
    );
    digestWriter.addToRolePolicy(
      ledgerStatement("ReadPeriodRecords", ["dynamodb:Query"], this.ledgerTable, [LEDGER_KEYS.periods]),
    );
    this.signingKey.grant(digestWriter, "kms:Sign");
    // In the key policy too, against any IAM policy (an administrator's included): only the digest writer signs.
    this.signingKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "OnlyTheDigestWriterSigns",
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ["kms:Sign"],
        resources: ["*"],
        conditions: { ArnNotEquals: { "aws:PrincipalArn": digestWriter.role?.roleArn ?? "" } },
      }),
    );
    this.digestWriterFunction = digestWriter;

    // The archive's own policy, for every principal (admins included): no PUT without If-None-Match (nothing is
    // ever overwritten, multipart uploads included), and digests/ belongs to the digest writer alone.
    archiveBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "DenyWritesWithoutIfNoneMatch",
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ["s3:PutObject"],
        resources: [archiveBucket.arnForObjects("*")],
        conditions: { Null: { "s3:if-none-match": "true" } },
      }),
    );
    archiveBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "DigestsBelongToTheDigestWriter",
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [
          "s3:PutObject",
          "s3:DeleteObject",
          "s3:DeleteObjectVersion",
          "s3:PutObjectRetention",
          "s3:PutObjectLegalHold",
          "s3:BypassGovernanceRetention",
        ],
        resources: [digestObjects],
        conditions: { ArnNotEquals: { "aws:PrincipalArn": digestWriter.role?.roleArn ?? "" } },
      }),
    );

    // Every period, but at least every 5 minutes: the first run starts the chain (the archiver retries objects
    // until it has), and a closed period is sealed within minutes of its end rather than up to a period later.
    const scheduleEvery = Duration.minutes(Math.min(digestPeriod.toMinutes(), 5));
    new events.Rule(this, "DigestSchedule", {
      description: "mesh-audit-trail: close and sign the archive digest of each period",
      schedule: events.Schedule.rate(scheduleEvery),
      targets: [
        new targets.LambdaFunction(digestWriter, {
          deadLetterQueue: this.digestDeadLetterQueue,
          retryAttempts: 4,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });

    const archiverFindings: Record<string, string> = {
      [`AwsSolutions-IAM5[Resource::${tokenFinding(archiveBucket, "Arn", `/${ARCHIVE_PREFIXES.documents}*`)}]`]:
        "The archiver creates (If-None-Match only: never overwrites) each staged document object under its own key in the archive, and reads it back to adopt an interrupted copy; no delete, no retention change, never digests/.",
      [`AwsSolutions-IAM5[Resource::${tokenFinding(archiveBucket, "Arn", "/errors/*")}]`]:
        "The archiver creates (If-None-Match only) each staged error-output object under its own key in the archive, and reads it back to adopt an interrupted copy; no delete, no retention change, never digests/.",
      [`AwsSolutions-IAM5[Resource::${tokenFinding(stagingBucket, "Arn", "/*")}]`]:
        "The archiver reads whichever object (and version) S3 notified it about in the staging bucket (read-only).",
    };
    for (const [findingId, reason] of Object.entries(archiverFindings)) {
      Validations.of(archiver.role ?? archiver).acknowledge({ id: findingId, reason });
    }
    const digestFindings: Record<string, string> = {
      [`AwsSolutions-IAM5[Resource::${tokenFinding(archiveBucket, "Arn", `/${ARCHIVE_PREFIXES.digests}*`)}]`]:
        "The digest writer creates (If-None-Match only) and reads digest files under the digests/ prefix of the archive only.",
      [`AwsSolutions-IAM5[Resource::${tokenFinding(stagingBucket, "Arn", "/*")}]`]:
        "The digest writer reads the metadata (HeadObject) of each staged object a ledger record names, to seal only what Firehose staged (read-only).",
    };
    for (const [findingId, reason] of Object.entries(digestFindings)) {
      Validations.of(digestWriter.role ?? digestWriter).acknowledge({ id: findingId, reason });
    }
  }

  /**
   * Alarms `topic` when the digest writer leaves a ledger record out of a digest (an object Firehose never staged,
   * or of another size: a forgery or a staging object expired before its period was sealed; verify reports the
   * object as unexpected) or when a run cannot advance the chain (something other than its digest at a digest key).
   */
  public alarmOnChainIntegrity(topic: sns.ITopic): void {
    const alarms = {
      DigestObjectsRefusedAlarm: {
        metricName: DIGEST_WRITER_METRICS.names.objectsRefused,
        description:
          "The digest writer left ledger records out of a digest (not staged by Firehose, or of another size); its log names each key. See docs/digest-format.md.",
      },
      DigestChainConflictAlarm: {
        metricName: DIGEST_WRITER_METRICS.names.chainConflicts,
        description:
          "The digest writer cannot advance the chain: a digest key holds something other than the digest it would write. Its log names the key. See docs/digest-format.md.",
      },
    };
    const action = new actions.SnsAction(topic);
    for (const [id, { metricName, description }] of Object.entries(alarms)) {
      const alarm = new cloudwatch.Alarm(this, id, {
        metric: powertoolsMetric(DIGEST_WRITER_METRICS, metricName, { statistic: "Sum" }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }
}
