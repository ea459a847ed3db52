import { generateKeyPairSync } from "node:crypto";
import { CloudFormationClient, GetTemplateCommand } from "@aws-sdk/client-cloudformation";
import { GetPublicKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { Context, ScheduledEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { errorDayPrefixes, reviewPeriod, weeklyReportKey } from "../../../lambdas/core/review/index.js";
import { loadReviewerConfig } from "../../../lambdas/reviewer/build.js";
import { reviewerWith } from "./fixtures.js";

const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const kms = mockClient(KMSClient);
afterEach(() => {
  s3.reset();
  sns.reset();
  kms.reset();
});

const ENV = {
  AUDIT_TRAIL_STACK_NAME: "AuditTrail-prod",
  AUDIT_TRAIL_COMPLIANCE_REQUESTS: "[]",
  AUDIT_TRAIL_ENVIRONMENT: "prod",
  AUDIT_TRAIL_DOMAIN_ENDPOINT: "search-prod.eu-west-1.es.amazonaws.com",
  AUDIT_TRAIL_ARCHIVE_BUCKET: "archive",
  AUDIT_TRAIL_OPS_TOPIC_ARN: "arn:aws:sns:eu-west-1:111122223333:ops",
  AUDIT_TRAIL_DIGEST_PERIOD_MINUTES: "60",
  AUDIT_TRAIL_DIGEST_SIGNING_KEY_ARN: "arn:aws:kms:eu-west-1:111122223333:key/digests",
  AWS_REGION: "eu-west-1",
};

describe("the scheduled weekly review", () => {
  it("reviews the week that ended at the scheduled time, stores three reports create-only and announces them", async () => {
    // Prepare
    const searched: string[] = [];
    s3.on(ListObjectsV2Command).callsFake((input: { Prefix?: string }) => ({
      Contents: input.Prefix?.startsWith("errors/processing-failed/2026/03/08/")
        ? [{ Key: `${input.Prefix}12/x.gz`, LastModified: new Date("2026-03-08T12:00:00Z") }]
        : [],
    }));
    s3.on(ListObjectVersionsCommand).resolves({ IsTruncated: false });
    s3.on(PutObjectCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    kms.on(GetPublicKeyCommand).resolves({
      PublicKey: new Uint8Array(
        generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({
          format: "der",
          type: "spki",
        }),
      ),
      KeySpec: "ECC_NIST_P256",
      KeyUsage: "SIGN_VERIFY",
    });
    const handler = reviewerWith({
      config: loadReviewerConfig(ENV),
      search: {
        async search({ index }) {
          searched.push(index);
          return { hits: { hits: [] }, aggregations: { edges: { buckets: [] } } };
        },
      },
    });

    // Act
    const result = await handler({ time: "2026-03-09T06:00:00Z" } as ScheduledEvent, {} as Context);

    // Assess
    expect(result).toMatchObject({ since: "2026-03-02T06:00:00.000Z", until: "2026-03-09T06:00:00.000Z" });
    const puts = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    expect(puts.map((input) => [input.Key, input.IfNoneMatch, input.ChecksumAlgorithm])).toEqual([
      ["reports/weekly/2026-03-09/review.json", "*", "SHA256"],
      ["reports/weekly/2026-03-09/review.md", "*", "SHA256"],
      ["reports/weekly/2026-03-09/review.html", "*", "SHA256"],
    ]);
    const stored = JSON.parse(String(puts[0]?.Body)) as {
      pipeline: { errorRecords: { count: number }; digestChain: { status: string; detail: string } };
    };
    expect(stored.pipeline.errorRecords.count).toBe(1);
    // No digest in the (empty) listing: the week's chain cannot be verified.
    expect(stored.pipeline.digestChain).toMatchObject({ status: "failed" });
    expect(stored.pipeline.digestChain.detail).toContain("no digest found in the requested range");
    const message = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(message?.TopicArn).toBe(ENV.AUDIT_TRAIL_OPS_TOPIC_ARN);
    expect(message?.Subject).toBe("[REVIEW] prod: weekly audit review 2026-03-09");
    expect(message?.Message).toContain("s3://archive/reports/weekly/2026-03-09/review.html");
    expect(searched).toContain("audit-alerts");
  });

  it("quarterly: assesses the deployed template and lists the weekly reviews stored in the quarter as evidence", async () => {
    // Prepare
    const cloudFormation = mockClient(CloudFormationClient);
    cloudFormation.on(GetTemplateCommand).resolves({ TemplateBody: JSON.stringify({ Resources: {} }) });
    s3.on(ListObjectsV2Command).resolves({
      Contents: ["2026-03-09", "2026-03-16", "2025-11-03"].map((day) => ({
        Key: `reports/weekly/${day}/review.html`,
      })),
    });
    s3.on(PutObjectCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: "m-2" });
    const requests = [
      {
        framework: "hipaa",
        requirements: { archiveRetentionDays: 2192, searchableDays: 0, pseudonymizedFields: [] },
        requirementsSource: "test",
      },
    ];
    const handler = reviewerWith({
      config: loadReviewerConfig({ ...ENV, AUDIT_TRAIL_COMPLIANCE_REQUESTS: JSON.stringify(requests) }),
      search: { search: async () => ({}) },
      clock: () => Date.parse("2026-04-01T07:00:00Z"),
    });

    // Act
    const result = await handler({ report: "quarterly-compliance" } as never, {} as Context);

    // Assess
    expect(result.keys).toEqual(["reports/quarterly/2026-04-01/compliance.md"]);
    expect(cloudFormation.commandCalls(GetTemplateCommand)[0]?.args[0].input.StackName).toBe(
      "AuditTrail-prod",
    );
    const body = String(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Body);
    expect(body).toContain("HIPAA");
    expect(body).toContain("## Evidence: audit logs reviewed weekly");
    expect(body).toContain("reports/weekly/2026-03-09/review.html");
    expect(body).toContain("reports/weekly/2026-03-16/review.html");
    expect(body).not.toContain("2025-11-03");
    expect(sns.commandCalls(PublishCommand)[0]?.args[0].input.Subject).toBe(
      "[REVIEW] prod: quarterly compliance report 2026-04-01",
    );
    cloudFormation.restore();
  });

  it("refuses to start without a variable it needs, naming it", () => {
    const { AUDIT_TRAIL_ARCHIVE_BUCKET: _missing, ...rest } = ENV;
    expect(() => loadReviewerConfig(rest)).toThrow(
      "environment variable AUDIT_TRAIL_ARCHIVE_BUCKET is not set",
    );
  });
});

describe("pipeline health from the archive listing", () => {
  it("lists the error prefixes of each day of the period", () => {
    expect(errorDayPrefixes("2026-03-08T06:00:00Z", "2026-03-09T06:00:00Z")).toEqual([
      "errors/processing-failed/2026/03/08/",
      "errors/AmazonOpenSearchService-failed/2026/03/08/",
      "errors/processing-failed/2026/03/09/",
      "errors/AmazonOpenSearchService-failed/2026/03/09/",
    ]);
  });

  it("reviews to the minute of the schedule, so a retry reviews the same week", () => {
    expect(reviewPeriod("2026-03-09T06:00:41Z").until).toBe("2026-03-09T06:00:00.000Z");
    expect(weeklyReportKey("2026-03-09T06:00:00.000Z", "md")).toBe("reports/weekly/2026-03-09/review.md");
  });
});
