import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as backup from "aws-cdk-lib/aws-backup";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sources from "aws-cdk-lib/aws-lambda-event-sources";
import type * as logs from "aws-cdk-lib/aws-logs";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { ARCHIVE_PREFIXES, ARCHIVER_ENV, DIGEST_WRITER_ENV } from "../lambdas/core/contracts.js";
import type { AuditArchive } from "./archive.js";
import { auditFunction } from "./private/function.js";
import { tokenFinding } from "./private/nag.js";

export interface TamperEvidenceProps {
  /** Buckets: Firehose writes into staging, the archiver copies into the Object Lock archive. */
  readonly archive: AuditArchive;
  readonly encryptionKey: kms.IKey;
  readonly logsKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Length of one signed digest period. @default Duration.minutes(60) */
  readonly digestPeriod?: Duration;
  /** Archiver reserved concurrency. @default 5 */
  readonly archiverConcurrency?: number;
  /** @default - not in a VPC */
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
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
    const digestPeriod = props.digestPeriod ?? Duration.minutes(60);
    const periodMinutes = String(digestPeriod.toMinutes());
    const { archiveBucket, stagingBucket } = props.archive;

    this.ledgerTable = new dynamodb.Table(this, "Ledger", {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
      sortKey: { name: "sk", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

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
          ArnLike: { "aws:SourceArn": "arn:*:s3:::*" },
        },
      }),
    );
    // The policy construct addToResourcePolicy created (id "Policy"); the bucket's notification must wait for it.
    // The condition names the account, not the bucket ARN: the bucket depends on this policy, so naming the bucket
    // here would be a dependency cycle. Only buckets of this account can send, and only this staging bucket has a
    // notification configured for the queue.
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
      logsKey: props.logsKey,
      environmentKey: props.encryptionKey,
      logRetention: props.logRetention,
      timeout: this.archiverTimeout,
      memorySize: 1024,
      reservedConcurrentExecutions: props.archiverConcurrency ?? 5,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      noDeadLetterQueueReason:
        "Invoked by an SQS event source mapping: failed messages go to the queue's own dead-letter queue (maxReceiveCount 5), which is alarmed on.",
    });
    archiver.addEventSource(
      new sources.SqsEventSource(this.archiveQueue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(5),
        reportBatchItemFailures: true,
      }),
    );
    stagingBucket.grantRead(archiver);
    // PutObject (conditional, IfNoneMatch) to archive; GetObject so HeadObject can adopt a copy an earlier,
    // interrupted attempt already wrote. No delete, no retention or legal-hold changes.
    archiver.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject", "s3:PutObject"],
        resources: [archiveBucket.arnForObjects("*")],
      }),
    );
    props.encryptionKey.grantEncryptDecrypt(archiver);
    this.ledgerTable.grantReadWriteData(archiver);
    this.archiverFunction = archiver;

    this.digestWriterTimeout = Duration.minutes(5);
    const digestWriter = auditFunction(this, "DigestWriter", {
      entry: "lambdas/digest-writer/handler.ts",
      description: "mesh-audit-trail: writes the signed, chained archive digest for each period",
      environment: {
        [DIGEST_WRITER_ENV.archiveBucketName]: archiveBucket.bucketName,
        [DIGEST_WRITER_ENV.ledgerTableName]: this.ledgerTable.tableName,
        [DIGEST_WRITER_ENV.signingKeyId]: this.signingKey.keyArn,
        [DIGEST_WRITER_ENV.digestPeriodMinutes]: periodMinutes,
      },
      logsKey: props.logsKey,
      environmentKey: props.encryptionKey,
      logRetention: props.logRetention,
      timeout: this.digestWriterTimeout,
      memorySize: 512,
      reservedConcurrentExecutions: 1,
      deadLetterQueue: this.digestDeadLetterQueue,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
    });
    digestWriter.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [archiveBucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${ARCHIVE_PREFIXES.digests}*`] } },
      }),
    );
    digestWriter.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject", "s3:PutObject"],
        resources: [archiveBucket.arnForObjects(`${ARCHIVE_PREFIXES.digests}*`)],
      }),
    );
    props.encryptionKey.grantEncryptDecrypt(digestWriter);
    this.ledgerTable.grantReadWriteData(digestWriter);
    this.signingKey.grant(digestWriter, "kms:Sign", "kms:GetPublicKey");
    this.digestWriterFunction = digestWriter;

    new events.Rule(this, "DigestSchedule", {
      description: "mesh-audit-trail: close and sign the archive digest of each period",
      schedule: events.Schedule.rate(digestPeriod),
      targets: [
        new targets.LambdaFunction(digestWriter, {
          deadLetterQueue: this.digestDeadLetterQueue,
          retryAttempts: 4,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });

    const kmsWildcards = {
      "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]":
        "aws-cdk-lib's grantEncryptDecrypt on the stack's own data key: S3, DynamoDB and SQS use both GenerateDataKey variants.",
      "AwsSolutions-IAM5[Action::kms:ReEncrypt*]":
        "aws-cdk-lib's grantEncryptDecrypt on the stack's own data key only.",
    };
    const archiverFindings: Record<string, string> = {
      ...kmsWildcards,
      [`AwsSolutions-IAM5[Resource::${tokenFinding(archiveBucket, "Arn", "/*")}]`]:
        "The archiver writes each staged object under its own key in the archive and reads it back to adopt an interrupted copy (GetObject/PutObject only: no delete, no retention change).",
      [`AwsSolutions-IAM5[Resource::${tokenFinding(stagingBucket, "Arn", "/*")}]`]:
        "The archiver reads whichever object S3 notified it about in the staging bucket (read-only).",
      "AwsSolutions-IAM5[Action::s3:GetBucket*]":
        "aws-cdk-lib's grantRead, scoped to the staging bucket: the archiver reads each object S3 notified it about and never writes or deletes there.",
      "AwsSolutions-IAM5[Action::s3:GetObject*]":
        "aws-cdk-lib's grantRead, scoped to the staging bucket: the archiver reads each object S3 notified it about and never writes or deletes there.",
      "AwsSolutions-IAM5[Action::s3:List*]":
        "aws-cdk-lib's grantRead, scoped to the staging bucket: the archiver reads each object S3 notified it about and never writes or deletes there.",
      [`AwsSolutions-IAM5[Resource::${tokenFinding(this.ledgerTable, "Arn", "/index/*")}]`]:
        "aws-cdk-lib's grantReadWriteData covers the ledger table's indexes (it has none today).",
    };
    for (const [findingId, reason] of Object.entries(archiverFindings)) {
      Validations.of(archiver.role ?? archiver).acknowledge({ id: findingId, reason });
    }
    const digestFindings: Record<string, string> = {
      ...kmsWildcards,
      [`AwsSolutions-IAM5[Resource::${tokenFinding(archiveBucket, "Arn", `/${ARCHIVE_PREFIXES.digests}*`)}]`]:
        "The digest writer reads and writes digest files under the digests/ prefix of the archive only.",
      [`AwsSolutions-IAM5[Resource::${tokenFinding(this.ledgerTable, "Arn", "/index/*")}]`]:
        "aws-cdk-lib's grantReadWriteData covers the ledger table's indexes (it has none today).",
    };
    for (const [findingId, reason] of Object.entries(digestFindings)) {
      Validations.of(digestWriter.role ?? digestWriter).acknowledge({ id: findingId, reason });
    }
  }
}
