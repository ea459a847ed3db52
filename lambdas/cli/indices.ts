/**
 * `posture -c env=NAME`, `review -c env=NAME` and `policy suggest|drift -c env=NAME`: the environment's indices, reached as `canary` reaches them: the
 * stack's outputs (CloudFormation `DescribeStacks`: `DomainEndpoint`, `Region`) and the SigV4-signed OpenSearch
 * client with the user's AWS credentials (the usual chain). The reports come from the same core as from files
 * (`lambdas/core/review/indices.ts`). Loaded only for these paths, so the files path does not pay for the SDK.
 */
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import { ENVIRONMENTS, loadEnvironmentConfig } from "../../lib/config/index.js";
import { STACK_OUTPUTS } from "../core/contracts.js";
import { verifyArchive } from "../core/digest/verify.js";
import { errorDescription } from "../core/errors.js";
import type { AuditedPolicies } from "../core/policy/drift.js";
import { auditedPoliciesFromSearch, callsFromSearch } from "../core/policy/indices.js";
import type { ObservedCall } from "../core/policy/traffic.js";
import type { PostureReport } from "../core/posture/index.js";
import type { ReviewReport } from "../core/review/index.js";
import {
  digestChainOfVerify,
  errorDayPrefixes,
  errorRecordsOf,
  type PipelineHealth,
} from "../core/review/index.js";
import { type IndexSearch, postureFromSearch, reviewFromSearch } from "../core/review/indices.js";
import { transportSearchClient } from "../detector/opensearch.js";
import { listKeys } from "../reviewer/archive.js";
import { signedOpenSearchClient } from "../shared/opensearch-client.js";
import { kmsVerifier, s3ArchiveReader } from "../shared/s3-archive.js";
import { CanarySearchError, CanaryStackError, explainedSearch, readStackOutputs } from "./commands/canary.js";
import type { PostureArgs } from "./commands/posture.js";
import type { ReviewArgs } from "./commands/review.js";
import { EnvironmentAccessError } from "./indices-errors.js";
import { awsSetupProblem } from "./usage.js";

/** What the from-indices path needs from the outside world; tests replace it. */
export interface IndicesDependencies {
  readonly cloudFormation?: (region: string | undefined) => CloudFormationClient;
  /** The archive's clients (the review's pipeline health), in the stack's region. */
  readonly archive?: (region: string) => { readonly s3: S3Client; readonly kms: KMSClient };
  readonly search?: (endpoint: string, region: string) => IndexSearch;
  /** The URL of the domain's endpoint. @default `https://${endpoint}` */
  readonly nodeUrl?: (endpoint: string) => string;
}

/** The SigV4-signed client (service `es`) with the credentials of the SDK's default chain. */
export function signedSearch(endpoint: string, region: string, node = `https://${endpoint}`): IndexSearch {
  return transportSearchClient(signedOpenSearchClient({ endpoint, region, node, requestTimeoutMs: 60_000 }));
}

async function environmentSearch(
  environment: string,
  region: string | undefined,
  deps: IndicesDependencies,
): Promise<{
  search: IndexSearch;
  rotationHours?: number;
  region: string;
  archive: () => Promise<ArchiveOutputs>;
}> {
  const config = loadEnvironmentConfig(environment, ENVIRONMENTS);
  const where = region ?? config.region;
  const cloudFormation = (
    deps.cloudFormation ?? ((r) => new CloudFormationClient(r === undefined ? {} : { region: r }))
  )(where);
  const stackName = `AuditTrail-${config.name}`;
  const outputs = await userFacing(() => readStackOutputs(cloudFormation, stackName, config, where));
  const search =
    deps.search?.(outputs.DomainEndpoint, outputs.Region) ??
    signedSearch(outputs.DomainEndpoint, outputs.Region, deps.nodeUrl?.(outputs.DomainEndpoint));
  const explained = explainedSearch(search, outputs.DomainEndpoint);
  return {
    search: { search: (request) => userFacing(() => explained.search(request)) },
    region: outputs.Region,
    archive: () => archiveOutputs(cloudFormation, stackName, config.name),
    ...(config.detection.certificateRotationHours === undefined
      ? {}
      : { rotationHours: config.detection.certificateRotationHours }),
  };
}

interface ArchiveOutputs {
  readonly bucket: string;
  readonly signingKeyArn: string;
}

/** The archive bucket and the digest signing key, from the stack's outputs. */
async function archiveOutputs(
  cloudFormation: CloudFormationClient,
  stackName: string,
  environment: string,
): Promise<ArchiveOutputs> {
  const stack = (await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  const outputs = new Map((stack?.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
  const bucket = outputs.get(STACK_OUTPUTS.archiveBucketName);
  const signingKeyArn = outputs.get(STACK_OUTPUTS.digestSigningKeyArn);
  if (!bucket || !signingKeyArn) {
    const missing = [
      bucket ? [] : [STACK_OUTPUTS.archiveBucketName],
      signingKeyArn ? [] : [STACK_OUTPUTS.digestSigningKeyArn],
    ].flat();
    throw new EnvironmentAccessError(
      `stack ${stackName} has no output ${missing.join(", ")}: the review reads the archive's error records and digest chain from it; deploy this version (npx cdk deploy -c env=${environment})`,
    );
  }
  return { bucket, signingKeyArn };
}

/**
 * The pipeline's health from the archive, with the user's credentials: the objects under the error prefixes written
 * in the period, per reason (`ListObjectsV2`), and the digest chain of the period as `audit-trail verify --bucket`
 * checks it (its reader and KMS verifier, the core's `verifyArchive`).
 */
async function archivePipeline(
  archive: ArchiveOutputs,
  clients: { readonly s3: S3Client; readonly kms: KMSClient },
  since: string,
  until: string,
): Promise<Omit<PipelineHealth, "silentSources">> {
  try {
    const errors = await listKeys(clients.s3, archive.bucket, errorDayPrefixes(since, until));
    const reader = s3ArchiveReader(clients.s3, archive.bucket);
    const verifier = await kmsVerifier(clients.kms, reader, archive.signingKeyArn);
    const report = await verifyArchive(reader, verifier, {
      fromMs: Date.parse(since),
      toMs: Date.parse(until),
      pendingFrom: "last-period-start",
    });
    return {
      errorRecords: errorRecordsOf(errors, since, until),
      digestChain: digestChainOfVerify(report, since, until),
    };
  } catch (error: unknown) {
    if (awsSetupProblem(error) !== undefined) throw error;
    if (error instanceof Error && /AccessDenied|Forbidden|NoSuchBucket/.test(error.name))
      throw new EnvironmentAccessError(
        `cannot read archive ${archive.bucket} (${errorDescription(error)}): the review needs s3:ListBucket, s3:ListBucketVersions, s3:GetObject and s3:GetObjectAttributes on it, and kms:GetPublicKey on ${archive.signingKeyArn} (what audit-trail verify needs)`,
      );
    throw error;
  }
}

/** The stack's and the domain's errors the user can act on, as `EnvironmentAccessError`. */
async function userFacing<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error: unknown) {
    if (error instanceof CanaryStackError || error instanceof CanarySearchError)
      throw new EnvironmentAccessError(error.message);
    throw error;
  }
}

export async function postureFromEnvironment(
  args: PostureArgs,
  _err: { write(text: string): boolean },
  deps: IndicesDependencies = {},
): Promise<PostureReport> {
  const { search } = await environmentSearch(args.environment as string, undefined, deps);
  const until = args.until ?? new Date().toISOString();
  return postureFromSearch(search, {
    since: new Date(Date.parse(until) - args.sinceMs).toISOString(),
    until,
    rootNamespace: args.rootNamespace,
    rotationPeriodMs: args.rotationMs,
  });
}

export async function reviewFromEnvironment(
  args: ReviewArgs,
  _err: { write(text: string): boolean },
  deps: IndicesDependencies = {},
): Promise<ReviewReport> {
  const environment = await environmentSearch(args.environment as string, args.region, deps);
  const { search, rotationHours } = environment;
  const until = args.until ?? new Date().toISOString();
  const since = new Date(Date.parse(until) - args.sinceMs).toISOString();
  const archive = await environment.archive();
  const clients = (
    deps.archive ?? ((region) => ({ s3: new S3Client({ region }), kms: new KMSClient({ region }) }))
  )(environment.region);
  const pipeline = await archivePipeline(archive, clients, since, until);
  return reviewFromSearch(
    search,
    {
      since,
      until,
      environment: args.label,
      source: `indices of environment ${args.label}`,
      ...(rotationHours === undefined ? {} : { rotationPeriodMs: rotationHours * 3_600_000 }),
    },
    pipeline,
  );
}

/** `policy suggest|drift -c env=NAME`: the period's calls (and, for drift, the policies the audit events left). */
export async function policyFromEnvironment(
  args: {
    readonly environment: string;
    readonly region: string | undefined;
    readonly since: string;
    readonly until: string;
    readonly drift: boolean;
  },
  deps: IndicesDependencies = {},
): Promise<{ calls: ObservedCall[]; audited: AuditedPolicies | undefined; requests: number }> {
  const { search } = await environmentSearch(args.environment, args.region, deps);
  const { calls, requests } = await callsFromSearch(search, {
    since: args.since,
    until: args.until,
    withDenied: args.drift,
  });
  const audited = args.drift ? await auditedPoliciesFromSearch(search, args.until) : undefined;
  return { calls, audited, requests };
}
