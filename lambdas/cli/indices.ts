/**
 * `posture -c env=NAME`, `review -c env=NAME` and `policy suggest|drift -c env=NAME`: the environment's indices, reached as `canary` reaches them: the
 * stack's outputs (CloudFormation `DescribeStacks`: `DomainEndpoint`, `Region`) and the SigV4-signed OpenSearch
 * client with the user's AWS credentials (the usual chain). The reports come from the same core as from files
 * (`lambdas/core/review/indices.ts`). Loaded only for these paths, so the files path does not pay for the SDK.
 */
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { Client } from "@opensearch-project/opensearch";
import { AwsSigv4Signer } from "@opensearch-project/opensearch/aws-v3";
import { ENVIRONMENTS, loadEnvironmentConfig } from "../../lib/config/index.js";
import type { AuditedPolicies } from "../core/policy/drift.js";
import { auditedPoliciesFromSearch, callsFromSearch } from "../core/policy/indices.js";
import type { ObservedCall } from "../core/policy/traffic.js";
import type { PostureReport } from "../core/posture/index.js";
import type { ReviewReport } from "../core/review/index.js";
import { type IndexSearch, postureFromSearch, reviewFromSearch } from "../core/review/indices.js";
import { transportSearchClient } from "../detector/opensearch.js";
import { explainedSearch, readStackOutputs } from "./commands/canary.js";
import type { PostureArgs } from "./commands/posture.js";
import type { ReviewArgs } from "./commands/review.js";

/** What the from-indices path needs from the outside world; tests replace it. */
export interface IndicesDependencies {
  readonly cloudFormation?: (region: string | undefined) => CloudFormationClient;
  readonly search?: (endpoint: string, region: string) => IndexSearch;
}

function signedSearch(endpoint: string, region: string): IndexSearch {
  const client = new Client({
    ...AwsSigv4Signer({ region, service: "es", getCredentials: defaultProvider() }),
    node: `https://${endpoint}`,
    requestTimeout: 60_000,
    maxRetries: 2,
  });
  return transportSearchClient(client);
}

async function environmentSearch(
  environment: string,
  region: string | undefined,
  deps: IndicesDependencies,
): Promise<{ search: IndexSearch; rotationHours?: number }> {
  const config = loadEnvironmentConfig(environment, ENVIRONMENTS);
  const where = region ?? config.region;
  const outputs = await readStackOutputs(
    (deps.cloudFormation ?? ((r) => new CloudFormationClient(r === undefined ? {} : { region: r })))(where),
    `AuditTrail-${config.name}`,
    config,
    where,
  );
  const search = (deps.search ?? signedSearch)(outputs.DomainEndpoint, outputs.Region);
  return {
    search: explainedSearch(search, outputs.DomainEndpoint),
    ...(config.detection.certificateRotationHours === undefined
      ? {}
      : { rotationHours: config.detection.certificateRotationHours }),
  };
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
  const { search, rotationHours } = await environmentSearch(args.environment as string, args.region, deps);
  const until = args.until ?? new Date().toISOString();
  return reviewFromSearch(
    search,
    {
      since: new Date(Date.parse(until) - args.sinceMs).toISOString(),
      until,
      environment: args.label,
      source: `indices of environment ${args.label}`,
      ...(rotationHours === undefined ? {} : { rotationPeriodMs: rotationHours * 3_600_000 }),
    },
    {
      errorRecords: {
        count: 0,
        basis:
          "not counted from the command line: the scheduled review counts the objects under the error prefix (see the stored weekly reports)",
      },
      digestChain: {
        status: "not checked",
        detail:
          "run 'audit-trail verify --bucket <archive>' for the period; the scheduled review reports the chain",
      },
    },
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
