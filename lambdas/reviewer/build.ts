/**
 * The scheduled weekly review (EventBridge, weekly): builds the review of the week that just ended from the indices
 * (`lambdas/core/review/indices.ts`, the code `audit-trail review -c env=NAME` runs), with the pipeline's health
 * read from the archive (objects under the error prefixes; the period's digest chain verified as `audit-trail verify`
 * checks it, with the shared S3 reader and KMS verifier of `lambdas/shared/s3-archive.ts`), stores it create-only under
 * `reports/weekly/<date>/` of the archive (JSON, markdown, HTML; the archive's Object Lock retention applies), and
 * publishes a short summary with the links to the ops topic. A retried invocation reviews the same week and finds
 * the report already stored (412 on the create-only write): it publishes the summary again rather than failing.
 *
 * Quarterly (the schedule's input `QUARTERLY_COMPLIANCE_INPUT`): the compliance report of the deployed template
 * (CloudFormation `GetTemplate` of its own stack, assessed by the code of `audit-trail compliance` against the
 * environment's framework minimums), with the weekly reviews stored in the quarter listed as the evidence of weekly
 * review, stored create-only under `reports/quarterly/<date>/compliance.md`, and a summary to the ops topic.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import { CloudFormationClient, GetTemplateCommand } from "@aws-sdk/client-cloudformation";
import { KMSClient } from "@aws-sdk/client-kms";
import { PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import middy from "@middy/core";
import type { ScheduledEvent } from "aws-lambda";
import { assess, asTemplate, type FrameworkRequest, renderReport } from "../core/compliance/index.js";
import { ARCHIVE_PREFIXES, QUARTERLY_COMPLIANCE_INPUT, REVIEWER_ENV } from "../core/contracts.js";
import { verifyArchive } from "../core/digest/verify.js";
import {
  digestChainOfVerify,
  digestDayPrefixes,
  errorDayPrefixes,
  errorRecordsOf,
  quarterlyReportKey,
  renderReviewHtml,
  renderReviewMarkdown,
  reviewPeriod,
  reviewSummary,
  storedReviewsSection,
  weeklyReportKey,
} from "../core/review/index.js";
import { type IndexSearch, reviewFromSearch } from "../core/review/indices.js";
import { transportSearchClient } from "../detector/opensearch.js";
import { signedOpenSearchClient } from "../shared/opensearch-client.js";
import { kmsVerifier, s3ArchiveReader } from "../shared/s3-archive.js";
import { listKeys } from "./archive.js";

export interface ReviewerConfig {
  readonly environmentName: string;
  readonly domainEndpoint: string;
  readonly archiveBucketName: string;
  readonly opsTopicArn: string;
  readonly digestPeriodMinutes: number;
  /** The key whose public key verifies the digests' signatures. */
  readonly digestSigningKeyArn: string;
  readonly certificateRotationHours?: number;
  readonly region: string;
  readonly stackName: string;
  readonly complianceRequests: readonly FrameworkRequest[];
}

/** Reads `REVIEWER_ENV` once; a missing or malformed variable fails the cold start naming it. */
export function loadReviewerConfig(env: Readonly<Record<string, string | undefined>>): ReviewerConfig {
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === "") throw new Error(`environment variable ${name} is not set`);
    return value;
  };
  const digestPeriodMinutes = Number(required(REVIEWER_ENV.digestPeriodMinutes));
  if (!Number.isInteger(digestPeriodMinutes) || digestPeriodMinutes <= 0)
    throw new Error(`${REVIEWER_ENV.digestPeriodMinutes} must be a positive whole number of minutes`);
  const rotation = env[REVIEWER_ENV.certificateRotationHours];
  const rotationHours = rotation === undefined || rotation === "" ? undefined : Number(rotation);
  if (rotationHours !== undefined && !(rotationHours > 0))
    throw new Error(`${REVIEWER_ENV.certificateRotationHours} must be a positive number of hours`);
  return {
    environmentName: required(REVIEWER_ENV.environmentName),
    domainEndpoint: required(REVIEWER_ENV.domainEndpoint),
    archiveBucketName: required(REVIEWER_ENV.archiveBucketName),
    opsTopicArn: required(REVIEWER_ENV.opsTopicArn),
    digestPeriodMinutes,
    digestSigningKeyArn: required(REVIEWER_ENV.digestSigningKeyArn),
    ...(rotationHours === undefined ? {} : { certificateRotationHours: rotationHours }),
    region: required("AWS_REGION"),
    stackName: required(REVIEWER_ENV.stackName),
    complianceRequests: parseRequests(required(REVIEWER_ENV.complianceRequests)),
  };
}

function parseRequests(text: string): FrameworkRequest[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${REVIEWER_ENV.complianceRequests} is not JSON`);
  }
  if (!Array.isArray(value)) throw new Error(`${REVIEWER_ENV.complianceRequests} must be a JSON list`);
  return value as FrameworkRequest[];
}

export interface ReviewerDependencies {
  readonly config: ReviewerConfig;
  readonly search: IndexSearch;
  readonly s3: S3Client;
  /** Reads the digest signing key's public key (GetPublicKey). */
  readonly kms: KMSClient;
  readonly sns: SNSClient;
  readonly cloudFormation: CloudFormationClient;
  readonly logger: Logger;
  readonly tracer: Tracer;
  /** @default Date.now */
  readonly clock?: () => number;
}

export interface ReviewerResult {
  readonly since: string;
  readonly until: string;
  readonly keys: readonly string[];
  readonly alreadyStored: boolean;
  readonly messageId: string;
}

function preconditionFailed(error: unknown): boolean {
  return error instanceof S3ServiceException && error.$metadata.httpStatusCode === 412;
}

/** Stores a report create-only; `false` when it was already stored (a retried run). */
async function storeOnce(
  s3: S3Client,
  bucket: string,
  key: string,
  body: string,
  type: string,
): Promise<boolean> {
  try {
    // Create-only (the archive refuses any PUT without If-None-Match); Object Lock needs a checksum.
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: type,
        IfNoneMatch: "*",
        ChecksumAlgorithm: "SHA256",
      }),
    );
    return true;
  } catch (error: unknown) {
    if (!preconditionFailed(error)) throw error;
    return false;
  }
}

/** The quarterly compliance report of the deployed template, with the stored weekly reviews as evidence. */
async function quarterlyCompliance(deps: ReviewerDependencies): Promise<ReviewerResult> {
  const { config } = deps;
  const at = new Date((deps.clock ?? Date.now)()).toISOString();
  const deployed = await deps.cloudFormation.send(
    new GetTemplateCommand({ StackName: config.stackName, TemplateStage: "Processed" }),
  );
  const template = asTemplate(JSON.parse(deployed.TemplateBody ?? "{}"), `stack ${config.stackName}`);
  const assessment = assess(template, config.complianceRequests);
  const weekly = await listKeys(deps.s3, config.archiveBucketName, [`${ARCHIVE_PREFIXES.reports}weekly/`]);
  const body = `${renderReport(
    {
      subject: `environment "${config.environmentName}" (stack ${config.stackName}), quarterly`,
      templateSource: `the deployed template (CloudFormation GetTemplate), ${at}`,
    },
    assessment,
  )}${storedReviewsSection(
    weekly.map((o) => o.key),
    at,
  )}`;
  const key = quarterlyReportKey(at);
  const stored = await storeOnce(
    deps.s3,
    config.archiveBucketName,
    key,
    body,
    "text/markdown; charset=utf-8",
  );
  const met = assessment.frameworks.reduce((n, f) => n + f.controls.filter((c) => c.met).length, 0);
  const all = assessment.frameworks.reduce((n, f) => n + f.controls.length, 0);
  const published = await deps.sns.send(
    new PublishCommand({
      TopicArn: config.opsTopicArn,
      Subject: `[REVIEW] ${config.environmentName}: quarterly compliance report ${at.slice(0, 10)}`.slice(
        0,
        99,
      ),
      Message: [
        `Quarterly compliance report for ${config.environmentName}: ${met} of ${all} controls met (${assessment.failures.length} not met).`,
        `Report: s3://${config.archiveBucketName}/${key}`,
      ].join("\n"),
    }),
  );
  deps.logger.info("quarterly compliance report stored and announced", { key, met, all });
  return { since: at, until: at, keys: [key], alreadyStored: !stored, messageId: published.MessageId ?? "" };
}

/**
 * The period's digest chain, as `audit-trail verify --bucket --from since --to until` checks it, bounded to the
 * period: versions are listed under the digest day prefixes of the period (and of the digest period before it, the
 * link the first digest of the week continues), not the whole bucket; every digest's signature (the public key from
 * KMS GetPublicKey, checked locally), links, sequence and continuity; and every object those digests name, by
 * GetObjectAttributes (size and the SHA-256 S3 stored). Objects named by no digest are what `audit-trail verify
 * --bucket` finds with its listing of the whole bucket; the weekly review does not list the data prefixes.
 */
async function verifyChain(deps: ReviewerDependencies, since: string, until: string) {
  const { config } = deps;
  const periodMs = config.digestPeriodMinutes * 60_000;
  const reader = s3ArchiveReader(deps.s3, config.archiveBucketName, {
    prefixes: digestDayPrefixes(new Date(Date.parse(since) - periodMs).toISOString(), until),
  });
  const verifier = await kmsVerifier(deps.kms, reader, config.digestSigningKeyArn);
  const report = await verifyArchive(reader, verifier, {
    fromMs: Date.parse(since),
    toMs: Date.parse(until),
    pendingFrom: "last-period-start",
  });
  deps.logger.info("digest chain verified", {
    digests: report.digestsChecked,
    objects: report.objectsChecked,
    findings: report.findings.length,
  });
  return report;
}

function isQuarterly(event: unknown): boolean {
  return (event as { report?: unknown } | null)?.report === QUARTERLY_COMPLIANCE_INPUT.report;
}

export function buildHandler(deps: ReviewerDependencies) {
  const { config, logger, tracer } = deps;
  return middy<ScheduledEvent, ReviewerResult>()
    .use(captureLambdaHandler(tracer))
    .use(injectLambdaContext(logger))
    .handler(async (event) => {
      if (isQuarterly(event)) return quarterlyCompliance(deps);
      const { since, until } = reviewPeriod(event.time);
      const bucket = config.archiveBucketName;
      const errors = await listKeys(deps.s3, bucket, errorDayPrefixes(since, until));
      const verified = await verifyChain(deps, since, until);
      const report = await reviewFromSearch(
        deps.search,
        {
          since,
          until,
          environment: config.environmentName,
          source: `indices of environment ${config.environmentName} (scheduled review)`,
          ...(config.certificateRotationHours === undefined
            ? {}
            : { rotationPeriodMs: config.certificateRotationHours * 3_600_000 }),
        },
        {
          errorRecords: errorRecordsOf(errors, since, until),
          digestChain: digestChainOfVerify(verified, since, until),
        },
      );
      const bodies = {
        json: { body: `${JSON.stringify(report, null, 2)}\n`, type: "application/json" },
        md: { body: renderReviewMarkdown(report), type: "text/markdown; charset=utf-8" },
        html: { body: renderReviewHtml(report), type: "text/html; charset=utf-8" },
      } as const;
      const keys: string[] = [];
      let alreadyStored = false;
      for (const [extension, { body, type }] of Object.entries(bodies) as [
        "json" | "md" | "html",
        { body: string; type: string },
      ][]) {
        const key = weeklyReportKey(until, extension);
        keys.push(key);
        if (!(await storeOnce(deps.s3, bucket, key, body, type))) alreadyStored = true;
      }
      const console = `https://${config.region}.console.aws.amazon.com/s3/object/${bucket}?prefix=${encodeURIComponent(weeklyReportKey(until, "html"))}`;
      const summary = reviewSummary(report, {
        html: `s3://${bucket}/${weeklyReportKey(until, "html")}`,
        markdown: `s3://${bucket}/${weeklyReportKey(until, "md")}`,
        console,
      });
      const published = await deps.sns.send(
        new PublishCommand({
          TopicArn: config.opsTopicArn,
          Subject: summary.subject,
          Message: summary.message,
        }),
      );
      const result: ReviewerResult = {
        since,
        until,
        keys,
        alreadyStored,
        messageId: published.MessageId ?? "",
      };
      logger.info("weekly review stored and announced", { ...result, alerts: report.alerts.length });
      return result;
    });
}

export function defaultDependencies(env: Readonly<Record<string, string | undefined>>): ReviewerDependencies {
  const config = loadReviewerConfig(env);
  const tracer = new Tracer({ serviceName: "reviewer" });
  const client = signedOpenSearchClient({
    endpoint: config.domainEndpoint,
    region: config.region,
    requestTimeoutMs: 60_000,
  });
  return {
    config,
    search: transportSearchClient(client),
    s3: tracer.captureAWSv3Client(new S3Client({ region: config.region })),
    kms: tracer.captureAWSv3Client(new KMSClient({ region: config.region })),
    sns: tracer.captureAWSv3Client(new SNSClient({ region: config.region })),
    cloudFormation: tracer.captureAWSv3Client(new CloudFormationClient({ region: config.region })),
    logger: new Logger({ serviceName: "reviewer" }),
    tracer,
  };
}
