import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { ARCHIVER_ENV, DIGEST_WRITER_ENV } from "../../lambdas/core/contracts.js";
import {
  hasRoleStatements,
  PK_SK_KEYS,
  type Synthesized,
  sameAccountCondition,
  shippedStacks,
  synthesize,
  synthesizeShipped,
  variant,
} from "./fixtures.js";

function functionNamed(synthesized: Synthesized, description: RegExp): Record<string, unknown> {
  const found = Object.values(synthesized.template.findResources("AWS::Lambda::Function")) as {
    Properties: Record<string, unknown>;
  }[];
  const match = found.find((fn) => description.test(String(fn.Properties.Description)));
  if (match === undefined) throw new Error(`no function ${description}`);
  return match.Properties;
}

describe("tamper evidence", () => {
  const shipped = shippedStacks("prod");

  it("keeps the ledger in an on-demand, PITR, CMK-encrypted, retained DynamoDB table keyed pk/sk", () => {
    shipped.prod.template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      Properties: {
        ...PK_SK_KEYS,
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: {
          SSEEnabled: true,
          SSEType: "KMS",
          KMSMasterKeyId: { "Fn::GetAtt": [Match.stringLikeRegexp("^KeysDataKey"), "Arn"] },
        },
      },
    });
    shipped.prod.template.hasResourceProperties("AWS::Backup::BackupSelection", {
      BackupSelection: Match.objectLike({
        Resources: [{ "Fn::GetAtt": [Match.stringLikeRegexp("^TamperEvidenceLedger"), "Arn"] }],
      }),
    });
  });

  it("signs digests with an asymmetric ECC P-256 key that is retained", () => {
    shipped.prod.template.hasResource("AWS::KMS::Key", {
      DeletionPolicy: "Retain",
      Properties: { KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" },
    });
  });

  it("feeds staged objects through a KMS-encrypted, TLS-only queue with a dead-letter queue to the archiver", () => {
    shipped.prod.template.hasResourceProperties("AWS::SQS::Queue", {
      KmsMasterKeyId: { "Fn::GetAtt": [Match.stringLikeRegexp("^KeysDataKey"), "Arn"] },
      RedrivePolicy: {
        deadLetterTargetArn: {
          "Fn::GetAtt": [Match.stringLikeRegexp("^TamperEvidenceArchiveDeadLetterQueue"), "Arn"],
        },
        maxReceiveCount: 5,
      },
    });
    shipped.prod.template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      Queues: [{ Ref: Match.stringLikeRegexp("^TamperEvidenceArchiveQueue") }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          Match.objectLike({
            Effect: "Allow",
            Principal: { Service: "s3.amazonaws.com" },
            Action: "sqs:SendMessage",
            Condition: Match.objectLike({ StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } }),
          }),
        ]),
      },
    });
    shipped.prod.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^TamperEvidenceArchiveQueue"), "Arn"] },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("lets only the staging bucket, by its fixed name, send notifications to the archive queue", () => {
    // Act
    const staging = Object.entries(shipped.prod.template.findResources("AWS::S3::Bucket")).find(([id]) =>
      id.startsWith("ArchiveStagingBucket"),
    )?.[1] as { Properties: { BucketName: unknown } };
    const sendStatements = Object.entries(shipped.prod.template.findResources("AWS::SQS::QueuePolicy"))
      .filter(([id]) => id.startsWith("TamperEvidenceArchiveQueuePolicy"))
      .flatMap(([, policy]) =>
        (policy.Properties.PolicyDocument.Statement as { Action: string; Condition?: unknown }[]).filter(
          (statement) => statement.Action === "sqs:SendMessage",
        ),
      );

    // Assess
    expect(staging.Properties.BucketName).toEqual({
      "Fn::Join": ["", ["mat-prod-staging-", { Ref: "AWS::AccountId" }, "-", { Ref: "AWS::Region" }]],
    });
    expect(sendStatements).toEqual([
      expect.objectContaining({
        Condition: sameAccountCondition({
          "Fn::Join": [
            "",
            [
              "arn:",
              { Ref: "AWS::Partition" },
              ":s3:::mat-prod-staging-",
              { Ref: "AWS::AccountId" },
              "-",
              { Ref: "AWS::Region" },
            ],
          ],
        }),
      }),
    ]);
  });

  it("refuses an environment name too long to name the staging bucket, naming the key", () => {
    expect(() => synthesize("an-environment-name-far-too-long", variant("dev", {}))).toThrow(
      /name.*at most 20 characters/s,
    );
  });

  it("writes the staging bucket's notification only after the queue allows S3", () => {
    // Act
    const staging = Object.entries(shipped.prod.template.findResources("AWS::S3::Bucket")).find(([id]) =>
      id.startsWith("ArchiveStagingBucket"),
    )?.[1] as { DependsOn: string[] };

    // Assess
    expect(staging.DependsOn).toEqual(
      expect.arrayContaining([expect.stringMatching(/^TamperEvidenceArchiveQueuePolicy/)]),
    );
  });

  it("gives the archiver its environment, create-only writes under the staged prefixes and scoped ledger keys", () => {
    // Act
    const archiver = functionNamed(shipped.prod, /Object Lock archive with SHA-256/);

    // Assess
    expect((archiver.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      [ARCHIVER_ENV.archiveBucketName]: { Ref: expect.stringMatching(/^ArchiveArchiveBucket/) },
      [ARCHIVER_ENV.ledgerTableName]: { Ref: expect.stringMatching(/^TamperEvidenceLedger/) },
      [ARCHIVER_ENV.digestPeriodMinutes]: "60",
    });
    const archivePrefix = (prefix: string) => ({
      "Fn::Join": [
        "",
        [{ "Fn::GetAtt": [Match.stringLikeRegexp("^ArchiveArchiveBucket"), "Arn"] }, `/${prefix}*`],
      ],
    });
    hasRoleStatements(shipped.prod.template, "TamperEvidenceArchiverRole", [
      Match.objectLike({
        Sid: "CreateArchiveObjectsOnly",
        Action: "s3:PutObject",
        Resource: [archivePrefix("documents/"), archivePrefix("errors/")],
        Condition: { Null: { "s3:if-none-match": "false" } },
      }),
      Match.objectLike({
        Sid: "RecordArchivedObjects",
        Action: "dynamodb:PutItem",
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["OBJECT#*", "PERIOD#*"] } },
      }),
      Match.objectLike({
        Sid: "CheckThePeriodIsOpen",
        Action: "dynamodb:ConditionCheckItem",
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["CHAIN"] } },
      }),
    ]);
    const policies = JSON.stringify(shipped.prod.template.findResources("AWS::IAM::Policy"));
    expect(policies).not.toMatch(
      /s3:DeleteObject|s3:PutObjectRetention|s3:BypassGovernanceRetention|dynamodb:DeleteItem|dynamodb:BatchWriteItem|dynamodb:Scan/,
    );
  });

  it("denies every principal a PUT without If-None-Match, and digests/ to all but the digest writer, in the archive's policy", () => {
    // Assess
    shipped.prod.template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: Match.stringLikeRegexp("^ArchiveArchiveBucket") },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: "DenyWritesWithoutIfNoneMatch",
            Effect: "Deny",
            Principal: { AWS: "*" },
            Action: "s3:PutObject",
            Condition: { Null: { "s3:if-none-match": "true" } },
          }),
          Match.objectLike({
            Sid: "DigestsBelongToTheDigestWriter",
            Effect: "Deny",
            Principal: { AWS: "*" },
            Action: Match.arrayWith(["s3:DeleteObjectVersion", "s3:PutObject"]),
            Condition: {
              ArnNotEquals: {
                "aws:PrincipalArn": {
                  "Fn::GetAtt": [Match.stringLikeRegexp("^TamperEvidenceDigestWriterRole"), "Arn"],
                },
              },
            },
          }),
        ]),
      },
    });
  });

  it("runs the digest writer every 5 minutes with reserved concurrency 1, kms:Sign, create-only digests/ and the chain head", () => {
    // Act
    const writer = functionNamed(shipped.prod, /signed, chained archive digest/);

    // Assess
    expect(writer.ReservedConcurrentExecutions).toBe(1);
    expect((writer.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      [DIGEST_WRITER_ENV.archiveBucketName]: { Ref: expect.stringMatching(/^ArchiveArchiveBucket/) },
      [DIGEST_WRITER_ENV.stagingBucketName]: { Ref: expect.stringMatching(/^ArchiveStagingBucket/) },
      [DIGEST_WRITER_ENV.ledgerTableName]: { Ref: expect.stringMatching(/^TamperEvidenceLedger/) },
      [DIGEST_WRITER_ENV.signingKeyId]: {
        "Fn::GetAtt": [expect.stringMatching(/^TamperEvidenceDigestSigningKey/), "Arn"],
      },
      [DIGEST_WRITER_ENV.digestPeriodMinutes]: "60",
    });
    shipped.prod.template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(5 minutes)",
    });
    hasRoleStatements(shipped.prod.template, "TamperEvidenceDigestWriterRole", [
      Match.objectLike({
        Sid: "CreateDigestsOnly",
        Action: "s3:PutObject",
        Condition: { Null: { "s3:if-none-match": "false" } },
      }),
      Match.objectLike({
        Sid: "MaintainTheChainHead",
        Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["CHAIN"] } },
      }),
      Match.objectLike({
        Action: "kms:Sign",
        Resource: { "Fn::GetAtt": [Match.stringLikeRegexp("^TamperEvidenceDigestSigningKey"), "Arn"] },
      }),
    ]);
  });

  it("runs the digest writer every 5 minutes whatever the configured period, which it reads from its environment", () => {
    // Prepare
    const input = variant("prod", { tamperEvidence: { digestPeriodMinutes: 15 } });

    // Act
    const { template } = synthesize("prod", input);

    // Assess
    const rules = Object.entries(template.findResources("AWS::Events::Rule")).filter(([logicalId]) =>
      logicalId.startsWith("TamperEvidenceDigestSchedule"),
    );
    expect(rules).toHaveLength(1);
    const rule = rules[0]?.[1] as { Properties: Record<string, unknown> };
    expect(rule.Properties.ScheduleExpression).toBe("rate(5 minutes)");
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ [DIGEST_WRITER_ENV.digestPeriodMinutes]: "15" }) },
    });
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({
        DeadLetterConfig: {
          Arn: { "Fn::GetAtt": [expect.stringMatching(/^TamperEvidenceDigestDeadLetterQueue/), "Arn"] },
        },
      }),
    ]);
  });
});

describe("tamper evidence alarms", () => {
  it("alarms the ops topic when the digest writer leaves a ledger record out of a digest or the chain cannot advance", () => {
    // Prepare
    const { template } = synthesizeShipped("prod");

    // Assess
    for (const metricName of ["ObjectsRefused", "ChainConflicts"]) {
      template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        Namespace: "MeshAuditTrail",
        MetricName: metricName,
        Dimensions: [{ Name: "service", Value: "digest-writer" }],
        Statistic: "Sum",
        Threshold: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        AlarmActions: [{ Ref: Match.stringLikeRegexp("^AlertingOpsAlarms") }],
      });
    }
  });
});
