import { Duration, RemovalPolicy, Token, Validations } from "aws-cdk-lib";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { AuditTrailConfigError } from "./config/errors.js";
import { skipCheckov } from "./private/nag.js";

export interface ArchiveTransitions {
  /** Days after creation to move archived objects to S3 Standard-IA. */
  readonly infrequentAccessAfterDays: number;
  /** Days after creation to move them to S3 Glacier Flexible Retrieval. */
  readonly glacierAfterDays: number;
  /** Days after creation to move them to S3 Glacier Deep Archive. */
  readonly deepArchiveAfterDays: number;
}

export interface AuditArchiveProps {
  /** Key encrypting the archive and staging buckets. */
  readonly encryptionKey: kms.IKey;
  /** Object Lock (COMPLIANCE) default retention; objects expire after it. */
  readonly retention: Duration;
  /** Storage-class transitions; any at or after the retention is skipped. */
  readonly transitions: ArchiveTransitions;
  /** How long the Firehose backup stays in staging. @default Duration.days(14) */
  readonly stagingExpiration?: Duration;
  /** How long S3 server access logs are kept. @default - the archive retention */
  readonly accessLogsExpiration?: Duration;
}

/**
 * Where audit records rest: the Object Lock archive (COMPLIANCE mode, so not even the root user can shorten or
 * delete a version before its retention ends), the staging bucket Firehose backs up into (the archiver copies each
 * object into the archive with a SHA-256 checksum, see DESIGN.md), and an unlocked bucket for both buckets' server
 * access logs. All three are retained when the stack is deleted.
 */
export class AuditArchive extends Construct {
  /** The Object Lock bucket. */
  public readonly archiveBucket: s3.Bucket;
  /** Firehose's S3 backup (every document, processing and delivery failures), expiring after days. */
  public readonly stagingBucket: s3.Bucket;
  /** Server access logs of the archive and staging buckets (SSE-S3: the only encryption log delivery supports). */
  public readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AuditArchiveProps) {
    super(scope, id);
    const retentionDays = props.retention.toDays();
    if (!Token.isUnresolved(retentionDays) && retentionDays < 1) {
      throw new AuditTrailConfigError({
        configKey: "retention.archiveDays",
        value: retentionDays,
        minimum: "1 day",
        fix: "give the archive a retention of at least one day",
      });
    }

    this.accessLogsBucket = new s3.Bucket(this, "AccessLogsBucket", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: "ExpireAccessLogs",
          expiration: props.accessLogsExpiration ?? props.retention,
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
    });
    const reasons: Record<string, string> = {
      "AwsSolutions-S1":
        "This is the server-access-log target itself; logging it into itself would loop, and it holds no audit records.",
      "HIPAA.Security-S3BucketLoggingEnabled":
        "This is the server-access-log target itself; logging it into itself would loop, and it holds no audit records.",
      "PCI.DSS.321-S3BucketLoggingEnabled":
        "This is the server-access-log target itself; logging it into itself would loop, and it holds no audit records.",
      "NIST.800.53.R5-S3BucketLoggingEnabled":
        "This is the server-access-log target itself; logging it into itself would loop, and it holds no audit records.",
      "HIPAA.Security-S3DefaultEncryptionKMS":
        "S3 server access log delivery only supports SSE-S3 (AES-256) on the target bucket; SSE-KMS would drop the logs.",
      "PCI.DSS.321-S3DefaultEncryptionKMS":
        "S3 server access log delivery only supports SSE-S3 (AES-256) on the target bucket; SSE-KMS would drop the logs.",
      "NIST.800.53.R5-S3DefaultEncryptionKMS":
        "S3 server access log delivery only supports SSE-S3 (AES-256) on the target bucket; SSE-KMS would drop the logs.",
    };
    for (const [rule, reason] of Object.entries(reasons)) {
      Validations.of(this.accessLogsBucket).acknowledge({ id: rule, reason });
    }
    skipCheckov(this.accessLogsBucket, "CKV_AWS_18", reasons["AwsSolutions-S1"] ?? "");

    const transitions: s3.Transition[] = [
      { storageClass: s3.StorageClass.INFREQUENT_ACCESS, days: props.transitions.infrequentAccessAfterDays },
      { storageClass: s3.StorageClass.GLACIER, days: props.transitions.glacierAfterDays },
      { storageClass: s3.StorageClass.DEEP_ARCHIVE, days: props.transitions.deepArchiveAfterDays },
    ]
      .filter((transition) => Token.isUnresolved(retentionDays) || transition.days < retentionDays)
      .map((transition) => ({
        storageClass: transition.storageClass,
        transitionAfter: Duration.days(transition.days),
      }));

    /** The secure defaults every bucket holding audit data shares: CMK, TLS 1.2 only, no public access, versions. */
    const auditDataBucket = {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      removalPolicy: RemovalPolicy.RETAIN,
    } satisfies s3.BucketProps;

    this.archiveBucket = new s3.Bucket(this, "ArchiveBucket", {
      ...auditDataBucket,
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(props.retention),
      serverAccessLogsPrefix: "archive/",
      lifecycleRules: [
        {
          id: "TierThenExpireAfterRetention",
          transitions: transitions.length === 0 ? undefined : transitions,
          expiration: props.retention,
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });

    this.stagingBucket = new s3.Bucket(this, "StagingBucket", {
      ...auditDataBucket,
      serverAccessLogsPrefix: "staging/",
      lifecycleRules: [
        {
          id: "ExpireStagedBackups",
          expiration: props.stagingExpiration ?? Duration.days(14),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });

    for (const bucket of [this.accessLogsBucket, this.archiveBucket, this.stagingBucket]) {
      for (const rule of [
        "HIPAA.Security-S3BucketReplicationEnabled",
        "PCI.DSS.321-S3BucketReplicationEnabled",
        "NIST.800.53.R5-S3BucketReplicationEnabled",
      ]) {
        Validations.of(bucket).acknowledge({
          id: rule,
          reason:
            "Durability comes from S3's multi-AZ storage, versioning and (for the archive) Object Lock; cross-region replication is an account-level disaster-recovery decision with its own destination bucket and is left to the operator.",
        });
      }
    }
  }

  /**
   * Sends an S3 `ObjectCreated` notification for every object Firehose writes into staging to `queue`. Written as
   * the bucket's own NotificationConfiguration (no custom resource); the queue's policy must allow S3 first.
   */
  public notifyStagedObjects(queue: sqs.IQueue, queuePolicy: Construct): void {
    const cfnBucket = this.stagingBucket.node.defaultChild as s3.CfnBucket;
    cfnBucket.notificationConfiguration = {
      queueConfigurations: [{ event: "s3:ObjectCreated:*", queue: queue.queueArn }],
    };
    cfnBucket.node.addDependency(queuePolicy);
  }
}
