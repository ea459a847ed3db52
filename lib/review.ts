import { Duration, Stack, Validations } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as opensearch from "aws-cdk-lib/aws-opensearchservice";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import type { FrameworkRequest } from "../lambdas/core/compliance/index.js";
import {
  ARCHIVE_PREFIXES,
  AUDIT_INDEX_PATTERN,
  QUARTERLY_COMPLIANCE_INPUT,
  REVIEWER_ENV,
} from "../lambdas/core/contracts.js";
import type { FunctionPlacement } from "./network.js";
import { auditFunction, functionSetup } from "./private/function.js";
import { tokenFinding } from "./private/nag.js";

/** The prefixes the archiver writes and the digests seal (lib/tamper-evidence.ts): the objects a digest names. */
const SEALED_PREFIXES = [ARCHIVE_PREFIXES.documents, "errors/"] as const;

/** The description the function carries (the permission contract recognizes the function by it). */
export const REVIEWER_DESCRIPTION =
  "mesh-audit-trail: scheduled weekly audit review (report stored under Object Lock, summary to the ops topic)";

export interface AuditReviewProps extends FunctionPlacement {
  /** The `-c env=NAME` value, named in the report. */
  readonly environmentName: string;
  /** The domain holding the audit indices and the alerts index, searched read-only. */
  readonly domain: opensearch.IDomain;
  /**
   * The Object Lock archive: the reports are written create-only under `reports/` (its default retention applies),
   * and the error prefixes are listed and the week's digest chain verified for the pipeline's health.
   */
  readonly archiveBucket: s3.IBucket;
  /** The archive's key (S3 encrypts the reports with it, and decrypts the digests the review reads). */
  readonly archiveKey: kms.IKey;
  /**
   * The asymmetric key that signs the digests: the review reads its public key (`kms:GetPublicKey`, nothing else) and
   * verifies the week's digest chain with it, as `audit-trail verify` does.
   */
  readonly digestSigningKey: kms.IKey;
  /** The period of the digest chain, to tell a missing digest. */
  readonly digestPeriod: Duration;
  /** Where the summary with the link goes. */
  readonly opsTopic: sns.ITopic;
  /** The ops topic's key. */
  readonly opsTopicKey: kms.IKey;
  /** The environment's data key: encrypts the function's environment variables. */
  readonly encryptionKey: kms.IKey;
  /** Key of the function's log group. */
  readonly logsKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /**
   * Execution role, for a role the domain's access policy and the bootstrap's role mapping must name first.
   * @default - a new role
   */
  readonly role?: iam.Role;
  /** Hours a workload certificate may be in use before the posture counts it overdue. @default 24 (the core's) */
  readonly certificateRotationHours?: number;
  /** When the review runs. @default Monday 06:00 UTC (events.Schedule.cron) */
  readonly schedule?: events.Schedule;
  /**
   * The environment's compliance frameworks and their minimums, for the quarterly compliance report of the deployed
   * template. @default [] (the report then lists the stored weekly reviews only)
   */
  readonly complianceRequests?: readonly FrameworkRequest[];
  /** When the quarterly compliance report is made. @default 07:00 UTC on 1 January, April, July and October */
  readonly quarterlySchedule?: events.Schedule;
  /** @default Duration.minutes(10) */
  readonly timeout?: Duration;
  /** @default 2048 (a week of traffic documents, projected, in memory) */
  readonly memorySize?: number;
}

/**
 * The weekly review, in AWS: a function scheduled weekly that builds the review of the week from the indices (the
 * code of `audit-trail review -c env=NAME`), stores it under `reports/weekly/<date>/` of the archive (create-only,
 * under the archive's Object Lock retention) and publishes a short summary with the links to the ops topic. Its role
 * reads the indices and the alerts (POST _search), lists the error prefixes and the digest files, verifies the week's
 * digest chain (the versions under the week's digest day prefixes, each digest, the size and SHA-256 of each object
 * a digest names, the signing key's public key), writes under `reports/` and publishes to the ops topic: nothing
 * else.
 */
export class AuditReview extends Construct {
  public readonly reviewFunction: lambda.IFunction;
  public readonly schedule: events.Rule;
  public readonly quarterlySchedule: events.Rule;

  constructor(scope: Construct, id: string, props: AuditReviewProps) {
    super(scope, id);
    const environment: Record<string, string> = {
      [REVIEWER_ENV.environmentName]: props.environmentName,
      [REVIEWER_ENV.domainEndpoint]: props.domain.domainEndpoint,
      [REVIEWER_ENV.archiveBucketName]: props.archiveBucket.bucketName,
      [REVIEWER_ENV.opsTopicArn]: props.opsTopic.topicArn,
      [REVIEWER_ENV.digestPeriodMinutes]: String(props.digestPeriod.toMinutes()),
      [REVIEWER_ENV.digestSigningKeyArn]: props.digestSigningKey.keyArn,
      [REVIEWER_ENV.stackName]: Stack.of(this).stackName,
      [REVIEWER_ENV.complianceRequests]: JSON.stringify(props.complianceRequests ?? []),
    };
    if (props.certificateRotationHours !== undefined)
      environment[REVIEWER_ENV.certificateRotationHours] = String(props.certificateRotationHours);

    const reviewer = auditFunction(this, "Reviewer", {
      entry: "lambdas/reviewer/handler.ts",
      description: REVIEWER_DESCRIPTION,
      environment,
      timeout: props.timeout ?? Duration.minutes(10),
      memorySize: props.memorySize ?? 2048,
      reservedConcurrentExecutions: 1,
      role: props.role,
      ...functionSetup(props),
      noDeadLetterQueueReason:
        "The scheduled event carries no data but its time: a failed review is retried by EventBridge (two attempts), and the week can be reviewed again at any time with `audit-trail review -c env=NAME --until <time>`; failures surface through the function's error alarm.",
    });
    reviewer.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6) });
    this.reviewFunction = reviewer;

    // Searches only (POST _search on the audit indices and the alerts index, both under audit-*).
    iam.Grant.addToPrincipal({
      grantee: reviewer,
      actions: ["es:ESHttpPost"],
      resourceArns: [`${props.domain.domainArn}/${AUDIT_INDEX_PATTERN}`],
    });
    // Lists the error prefixes and the digest files (pipeline health); writes the reports, create-only.
    iam.Grant.addToPrincipal({
      grantee: reviewer,
      actions: ["s3:ListBucket"],
      resourceArns: [props.archiveBucket.bucketArn],
      conditions: {
        StringLike: {
          "s3:prefix": ["errors/*", `${ARCHIVE_PREFIXES.digests}*`, `${ARCHIVE_PREFIXES.reports}weekly/*`],
        },
      },
    });
    // Verifies the week's digest chain (lambdas/shared/s3-archive.ts): ListObjectVersions under the week's digest day
    // prefixes, GetObject of each digest version, GetObjectAttributes of each object version a digest names (the
    // archiver's prefixes), the signing key's public key. Versioned reads only: every listed or named object has a
    // version id.
    iam.Grant.addToPrincipal({
      grantee: reviewer,
      actions: ["s3:ListBucketVersions"],
      resourceArns: [props.archiveBucket.bucketArn],
      conditions: { StringLike: { "s3:prefix": [`${ARCHIVE_PREFIXES.digests}*`] } },
    });
    const digestFiles = props.archiveBucket.arnForObjects(`${ARCHIVE_PREFIXES.digests}*`);
    const sealed = SEALED_PREFIXES.map((prefix) => props.archiveBucket.arnForObjects(`${prefix}*`));
    iam.Grant.addToPrincipal({
      grantee: reviewer,
      actions: ["s3:GetObjectVersion"],
      resourceArns: [digestFiles, ...sealed],
    });
    iam.Grant.addToPrincipal({
      grantee: reviewer,
      actions: ["s3:GetObjectVersionAttributes"],
      resourceArns: sealed,
    });
    iam.Grant.addToPrincipal({
      grantee: reviewer,
      actions: ["kms:GetPublicKey"],
      resourceArns: [props.digestSigningKey.keyArn],
    });
    const reports = props.archiveBucket.arnForObjects(`${ARCHIVE_PREFIXES.reports}*`);
    iam.Grant.addToPrincipal({ grantee: reviewer, actions: ["s3:PutObject"], resourceArns: [reports] });
    iam.Grant.addToPrincipal({
      grantee: reviewer,
      actions: ["sns:Publish"],
      resourceArns: [props.opsTopic.topicArn],
    });
    // The quarterly compliance report reads its own stack's deployed template.
    iam.Grant.addToPrincipal({
      grantee: reviewer,
      actions: ["cloudformation:GetTemplate"],
      resourceArns: [
        Stack.of(this).formatArn({
          service: "cloudformation",
          resource: "stack",
          resourceName: `${Stack.of(this).stackName}/*`,
        }),
      ],
    });
    const region = Stack.of(this).region;
    reviewer.addToRolePolicy(
      new iam.PolicyStatement({
        // Decrypt: the digests it reads; GenerateDataKey: the reports it writes.
        actions: ["kms:Decrypt", "kms:GenerateDataKey"],
        resources: [props.archiveKey.keyArn],
        conditions: { StringEquals: { "kms:ViaService": `s3.${region}.amazonaws.com` } },
      }),
    );
    reviewer.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["kms:Decrypt", "kms:GenerateDataKey"],
        resources: [props.opsTopicKey.keyArn],
        conditions: { StringEquals: { "kms:ViaService": `sns.${region}.amazonaws.com` } },
      }),
    );

    const findings: Record<string, string> = {
      [`AwsSolutions-IAM5[Resource::${tokenFinding(props.domain, "Arn", `/${AUDIT_INDEX_PATTERN}`)}]`]:
        "The review searches (POST _search) the daily audit-YYYY-MM-DD indices, whose names are known only at run time, and the alerts index; POST only, on this one domain; its OpenSearch role is read-only.",
      [`AwsSolutions-IAM5[Resource::${tokenFinding(props.archiveBucket, "Arn", `/${ARCHIVE_PREFIXES.reports}*`)}]`]:
        "The review creates (If-None-Match only, so never overwrites) its weekly reports under reports/weekly/<date>/ of the archive; no read, no delete, no retention change.",
      [`AwsSolutions-IAM5[Resource::${tokenFinding(props.archiveBucket, "Arn", `/${ARCHIVE_PREFIXES.digests}*`)}]`]:
        "The review reads (GetObjectVersion only) the digest files of the week it verifies; their keys name periods known only at run time, under digests/.",
      ...Object.fromEntries(
        SEALED_PREFIXES.map((prefix) => [
          `AwsSolutions-IAM5[Resource::${tokenFinding(props.archiveBucket, "Arn", `/${prefix}*`)}]`,
          `The review checks the size and SHA-256 (GetObjectVersion, GetObjectVersionAttributes of the version a digest names) of the archived objects the week's digests name; their keys are known only from the digests, under ${prefix}.`,
        ]),
      ),
      [`AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/${Stack.of(this).stackName}/*]`]:
        "The quarterly compliance report reads (GetTemplate only) this stack's own deployed template; a stack's ARN ends in an id CloudFormation generates, so the stack's name followed by /* is the narrowest ARN that names it.",
    };
    const role = reviewer.role ?? reviewer;
    for (const [findingId, reason] of Object.entries(findings)) {
      Validations.of(role).acknowledge({ id: findingId, reason });
    }

    this.schedule = new events.Rule(this, "Schedule", {
      description: "mesh-audit-trail: build, store and announce the weekly audit review",
      schedule: props.schedule ?? events.Schedule.cron({ weekDay: "MON", hour: "6", minute: "0" }),
      targets: [new targets.LambdaFunction(reviewer)],
    });
    this.quarterlySchedule = new events.Rule(this, "QuarterlySchedule", {
      description:
        "mesh-audit-trail: store and announce the quarterly compliance report of the deployed template",
      schedule:
        props.quarterlySchedule ??
        events.Schedule.cron({ day: "1", month: "1,4,7,10", hour: "7", minute: "0" }),
      targets: [
        new targets.LambdaFunction(reviewer, {
          event: events.RuleTargetInput.fromObject(QUARTERLY_COMPLIANCE_INPUT),
        }),
      ],
    });
  }
}
