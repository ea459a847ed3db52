/**
 * `audit-trail canary -c env=NAME`: proves the deployed pipeline end to end. Sends one synthetic record per source
 * type (Istio, Linkerd, Hubble, Consul, Kubernetes audit) to the environment's Firehose stream, waits until each is
 * searchable in OpenSearch and the run's `pipeline_canary` alert is published to the ops topic, and reports the
 * latencies. The records, the checks, the polling and the report are `lambdas/core/canary`; this file reads the
 * environment and the stack's outputs and wires Firehose and the SigV4-signed OpenSearch client to them.
 */
import { randomBytes } from "node:crypto";
import { CloudFormationClient, DescribeStacksCommand, type Stack } from "@aws-sdk/client-cloudformation";
import { FirehoseClient, PutRecordBatchCommand } from "@aws-sdk/client-firehose";
import {
  AuditTrailConfigError,
  ENVIRONMENTS,
  type EnvironmentConfig,
  loadEnvironmentConfig,
} from "../../../lib/config/index.js";
import {
  buildCanaryRecords,
  buildCanaryReport,
  CANARY_NOT_PROVEN,
  CANARY_RULE_NAME,
  CANARY_RUNBOOK,
  CANARY_SOURCES,
  type CanaryClock,
  type CanaryProgress,
  type CanaryRecordSender,
  type CanarySearch,
  canaryIdentity,
  canaryRunId,
  canaryTrustDomain,
  preflightCanary,
  renderCanaryReport,
  runCanary,
  wrapParagraph,
} from "../../core/canary/index.js";
import { ALERTS_INDEX, ENVIRONMENTS_FILE, STACK_OUTPUTS } from "../../core/contracts.js";
import { AUDIT_EVENTS_INDICES } from "../../core/detection/run.js";
import { errorDescription } from "../../core/errors.js";
import { loadPack } from "../../core/rules/assemble.js";
import { parseDuration } from "../../core/rules/duration.js";
import { RuleError } from "../../core/rules/errors.js";
import { defaultRulesDir, ruleFiles } from "../../core/rules/load.js";
import { transportSearchClient } from "../../detector/opensearch.js";
import { signedOpenSearchClient } from "../../shared/opensearch-client.js";
import {
  ENVIRONMENT_OPTIONS,
  type OptionValues,
  optionValues,
  requiredEnvironment,
  runVerb,
  UsageError,
} from "../usage.js";
import type { VerbModule } from "./command.js";

/** Added to the environment's Firehose buffering interval for the default timeout: transform, indexing, the
 * detector's one-minute schedule and SNS. */
const PIPELINE_ALLOWANCE_SECONDS = 300;
const DEFAULT_INTERVAL_SECONDS = 10;

const USAGE = `usage: audit-trail canary (-c env=NAME | --env NAME) [--region REGION] [--timeout DURATION]
                          [--interval DURATION] [--json] [--dry-run]

Sends one synthetic record per source type (${CANARY_SOURCES.join(", ")}) to the environment's
Firehose stream, each wrapped as Fluent Bit ships it and marked with the run's id; waits until each is searchable in
OpenSearch and the run's ${CANARY_RULE_NAME} alert is published to the ops topic; reports when each record was sent,
when it became searchable and the latency, and when the alert was published (SNS message id) and the end-to-end
latency. Exit status 0 when everything arrived within the timeout, 1 otherwise (naming what did not arrive and the
stage it stopped at: ${CANARY_RUNBOOK}), 2 on a usage, configuration or stack error.

  -c env=NAME, --env NAME  the environment (an entry of ${ENVIRONMENTS_FILE}); its stack AuditTrail-NAME gives
                           the stream, the domain and the topics (CloudFormation outputs)
  --region REGION          where the stack is; default: the environment's region, else your AWS configuration's
  --timeout DURATION       how long to wait (90s, 20m, or seconds); default: the environment's
                           firehose.bufferingIntervalSeconds plus ${PIPELINE_ALLOWANCE_SECONDS / 60} minutes
  --interval DURATION      time between two searches; default ${DEFAULT_INTERVAL_SECONDS}s
  --json                   print the report as one JSON object
  --dry-run                check and print the records (one Firehose record per line) without sending anything;
                           with --json, one JSON object: the run id, the environment and each record

Checked before sending: each record, normalized and pseudonymized as the environment's transform does it, matches
${CANARY_RULE_NAME} under the environment's rule overrides and fires no other alerting rule (the canary never pages
on-call: its alert goes to the ops topic).

Credentials (the usual AWS chain): cloudformation:DescribeStacks on the stack; firehose:PutRecordBatch on the
stream; es:ESHttpPost on the domain, with an OpenSearch role that reads the audit indices and ${ALERTS_INDEX} (map
the environment's analystRoleArn). A VPC domain is reachable only from inside its VPC.

${wrapParagraph(CANARY_NOT_PROVEN, 116)}`;

/** The stack outputs the canary reads (`lib/audit-trail-stack.ts`). */
const REQUIRED_OUTPUTS = [
  STACK_OUTPUTS.deliveryStreamName,
  STACK_OUTPUTS.region,
  STACK_OUTPUTS.domainEndpoint,
  STACK_OUTPUTS.opsTopicArn,
  STACK_OUTPUTS.detectorFunctionName,
] as const;
type StackOutputs = Record<(typeof REQUIRED_OUTPUTS)[number], string>;

/** A stack that is missing, unreadable or lacks an output the canary needs. */
export class CanaryStackError extends Error {
  override readonly name = "CanaryStackError";
}

/** An OpenSearch search the canary could not make, with what to check. */
export class CanarySearchError extends Error {
  override readonly name = "CanarySearchError";
}

/** The outside world of the command; tests replace every part. */
export interface CanaryCommandDependencies {
  /** @default a CloudFormation client for the region (or the AWS configuration's when undefined) */
  readonly cloudFormation?: (region: string | undefined) => CloudFormationClient;
  /** @default a Firehose client for the stack's region */
  readonly firehose?: (region: string) => FirehoseClient;
  /** `_search` on the domain. @default the SigV4-signed OpenSearch client (service `es`, default credentials) */
  readonly search?: (endpoint: string, region: string) => CanarySearch;
  /** @default the wall clock and a real sleep */
  readonly clock?: CanaryClock;
  /** Six lower-case hex characters of the run id. @default random */
  readonly randomHex?: () => string;
}

const OPTIONS = {
  ...ENVIRONMENT_OPTIONS,
  region: { type: "string" },
  timeout: { type: "string" },
  interval: { type: "string" },
  json: { type: "boolean" },
  "dry-run": { type: "boolean" },
} as const;

type Options = OptionValues<typeof OPTIONS>;

/** Runs the verb; resolves to the exit status (0 everything arrived, 1 something did not, 2 usage or setup). */
export async function runCanaryCommand(
  argv: readonly string[],
  deps: CanaryCommandDependencies = {},
): Promise<number> {
  return runVerb(
    {
      name: "canary",
      usage: USAGE,
      parse: optionValues(OPTIONS),
      run: (values: Options) => canary(values, deps),
      userErrors: [AuditTrailConfigError, CanaryStackError, RuleError],
    },
    argv,
  );
}

async function canary(values: Options, deps: CanaryCommandDependencies): Promise<number> {
  const clock = deps.clock ?? wallClock;
  const config = loadEnvironmentConfig(requiredEnvironment(values, Object.keys(ENVIRONMENTS)), ENVIRONMENTS);
  const timeoutMs =
    values.timeout === undefined
      ? (config.firehose.bufferingIntervalSeconds + PIPELINE_ALLOWANCE_SECONDS) * 1000
      : durationFlag("--timeout", values.timeout);
  const intervalMs =
    values.interval === undefined
      ? DEFAULT_INTERVAL_SECONDS * 1000
      : durationFlag("--interval", values.interval);
  if (intervalMs > timeoutMs) {
    throw new UsageError(`--interval ${values.interval} is longer than the timeout (${timeoutMs / 1000} s)`);
  }
  if (values.region !== undefined && config.region !== undefined && values.region !== config.region) {
    throw new UsageError(
      `--region ${values.region}: environment "${config.name}" is deployed to ${config.region} (region in ${ENVIRONMENTS_FILE}); drop --region or pass --region ${config.region}`,
    );
  }

  const pack = loadPack({
    source: ruleFiles([defaultRulesDir()]),
    overrides: config.detection.ruleOverrides,
  });
  const eventTimeMs = clock.now();
  const identity = canaryIdentity(canaryRunId(eventTimeMs, (deps.randomHex ?? randomHex)()));
  const records = buildCanaryRecords({
    runId: identity.runId,
    nowMs: eventTimeMs,
    trustDomain: canaryTrustDomain(trustDomainsOf(config)),
  });
  const problems = preflightCanary(pack, identity, records, {
    pseudonymizedFields: config.pseudonymization?.fields ?? [],
  });
  if (problems.length > 0) {
    throw new UsageError(
      `the canary cannot run in environment "${config.name}":\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  if (values["dry-run"]) {
    if (values.json) {
      const dryRun = {
        dryRun: true,
        runId: identity.runId,
        environment: config.name,
        records: records.map(({ source, dataset, eventId, description, data }) => ({
          source,
          dataset,
          eventId,
          description,
          data,
        })),
      };
      process.stdout.write(`${JSON.stringify(dryRun, null, 2)}\n`);
    } else for (const record of records) process.stdout.write(record.data);
    process.stderr.write(
      `canary: dry run ${identity.runId}: ${records.length} records checked against environment "${config.name}", nothing sent\n`,
    );
    return 0;
  }

  const stackName = `AuditTrail-${config.name}`;
  const region = values.region ?? config.region;
  const outputs = await readStackOutputs(
    (deps.cloudFormation ?? ((r) => new CloudFormationClient(r === undefined ? {} : { region: r })))(region),
    stackName,
    config,
    region,
  );
  const sender = firehoseSender(
    (deps.firehose ?? ((r) => new FirehoseClient({ region: r })))(outputs.Region),
    outputs.DeliveryStreamName,
  );
  const search = explainedSearch(
    (deps.search ?? signedSearch)(outputs.DomainEndpoint, outputs.Region),
    outputs.DomainEndpoint,
  );

  process.stderr.write(
    `canary ${identity.runId}: sending ${records.length} records to ${outputs.DeliveryStreamName} (${outputs.Region}); ` +
      `waiting up to ${Math.round(timeoutMs / 1000)} s\n`,
  );
  const observations = await runCanary(
    { sender, search, clock, onProgress: (event) => process.stderr.write(progressLine(event)) },
    { identity, records, eventTimeMs, timeoutMs, pollIntervalMs: intervalMs },
  );
  const report = buildCanaryReport(
    {
      environment: config.name,
      stack: stackName,
      region: outputs.Region,
      deliveryStream: outputs.DeliveryStreamName,
      domainEndpoint: outputs.DomainEndpoint,
      opsTopicArn: outputs.OpsTopicArn,
      detectorFunctionName: outputs.DetectorFunctionName,
    },
    identity,
    records,
    observations,
  );
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderCanaryReport(report));
  return report.ok ? 0 : 1;
}

/** `90s`, `20m`, `1h`, or a whole number of seconds. */
function durationFlag(flag: string, text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : tryDuration(text);
  if (ms === undefined || ms <= 0) {
    throw new UsageError(
      `${flag} ${text}: not a duration; write seconds (600) or a number and s, m or h (10m)`,
    );
  }
  return ms;
}

function tryDuration(text: string): number | undefined {
  try {
    return parseDuration(text);
  } catch {
    return undefined;
  }
}

/** The environment's `trust_domains` placeholder override, when it sets one. */
function trustDomainsOf(config: EnvironmentConfig): readonly string[] | undefined {
  const placeholders = config.detection.ruleOverrides.placeholders;
  if (typeof placeholders !== "object" || placeholders === null || Array.isArray(placeholders))
    return undefined;
  const domains = (placeholders as Record<string, unknown>).trust_domains;
  return Array.isArray(domains) ? domains.filter((d): d is string => typeof d === "string") : undefined;
}

/** The outputs of the environment's stack; errors say which stack, where, and what to do. */
export async function readStackOutputs(
  cloudFormation: CloudFormationClient,
  stackName: string,
  config: EnvironmentConfig,
  region: string | undefined,
): Promise<StackOutputs> {
  const where = region ?? "the region of your AWS configuration";
  let stack: Stack | undefined;
  try {
    stack = (await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  } catch (error: unknown) {
    if (error instanceof Error && error.name === "ValidationError" && /does not exist/.test(error.message)) {
      throw new CanaryStackError(
        `stack ${stackName} not found in ${where}: deploy it (npx cdk deploy -c env=${config.name})` +
          (config.region === undefined ? ", or pass --region where it is deployed" : ""),
      );
    }
    throw new CanaryStackError(
      `cannot read stack ${stackName} in ${where}: ${errorDescription(error)}` +
        (region === undefined ? `; environment "${config.name}" names no region, pass --region REGION` : ""),
    );
  }
  if (stack === undefined) throw new CanaryStackError(`stack ${stackName} not found in ${where}`);
  const outputs = new Map((stack.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
  const missing = REQUIRED_OUTPUTS.filter((key) => !outputs.get(key));
  if (missing.length > 0) {
    throw new CanaryStackError(
      `stack ${stackName} (${stack.StackStatus ?? "status unknown"}) has no output ${missing.join(", ")}: ` +
        `the canary needs ${REQUIRED_OUTPUTS.join(", ")}; deploy this version (npx cdk deploy -c env=${config.name})`,
    );
  }
  return Object.fromEntries(REQUIRED_OUTPUTS.map((key) => [key, outputs.get(key) as string])) as StackOutputs;
}

/** `PutRecordBatch` on the stream, one result per record. */
export function firehoseSender(firehose: FirehoseClient, streamName: string): CanaryRecordSender {
  const encoder = new TextEncoder();
  return {
    async putRecordBatch(records) {
      const response = await firehose.send(
        new PutRecordBatchCommand({
          DeliveryStreamName: streamName,
          Records: records.map((data) => ({ Data: encoder.encode(data) })),
        }),
      );
      const entries = response.RequestResponses ?? [];
      return records.map((_, index) => {
        const entry = entries[index];
        if (entry === undefined) {
          return {
            errorCode: "NoResponse",
            errorMessage: "Firehose returned no response entry for this record",
          };
        }
        return entry.ErrorCode === undefined
          ? undefined
          : { errorCode: entry.ErrorCode, errorMessage: entry.ErrorMessage ?? "" };
      });
    },
  };
}

function signedSearch(endpoint: string, region: string): CanarySearch {
  return transportSearchClient(signedOpenSearchClient({ endpoint, region, requestTimeoutMs: 30_000 }));
}

/** Turns the OpenSearch client's errors into what to check: access (401/403) or reachability. */
export function explainedSearch(search: CanarySearch, endpoint: string): CanarySearch {
  return {
    async search(request) {
      try {
        return await search.search(request);
      } catch (error: unknown) {
        const status = (error as { meta?: { statusCode?: unknown } }).meta?.statusCode;
        const name = error instanceof Error ? error.name : "";
        if (status === 401 || status === 403) {
          throw new CanarySearchError(
            `OpenSearch at ${endpoint} refused the search of ${request.index} (HTTP ${status}): your credentials need ` +
              `es:ESHttpPost on the domain and an OpenSearch role that reads ${AUDIT_EVENTS_INDICES} and ${ALERTS_INDEX} ` +
              "(map them to the environment's analystRoleArn)",
          );
        }
        if (name === "ConnectionError" || name === "TimeoutError" || name === "NoLivingConnectionsError") {
          throw new CanarySearchError(
            `cannot reach https://${endpoint} (${errorDescription(error)}): a VPC domain is reachable only from inside its VPC (VPN, bastion)`,
          );
        }
        throw error;
      }
    },
  };
}

function progressLine(event: CanaryProgress): string {
  switch (event.kind) {
    case "sent": {
      const sent = event.outcomes.filter((outcome) => outcome.sent).map((outcome) => outcome.source);
      const failed = event.outcomes.flatMap((outcome) =>
        outcome.sent ? [] : [`${outcome.source} (${outcome.error})`],
      );
      return `canary: sent ${sent.join(", ") || "nothing"}${failed.length === 0 ? "" : `; not sent: ${failed.join(", ")}`}\n`;
    }
    case "searchable":
      return `canary: ${event.source} searchable after ${(event.latencyMs / 1000).toFixed(1)} s\n`;
    case "alert":
      return `canary: alert ${event.alert.id} ${event.alert.status}\n`;
  }
}

const wallClock: CanaryClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

function randomHex(): string {
  return randomBytes(3).toString("hex");
}

export const command: VerbModule = {
  run: (argv) => runCanaryCommand(argv),
};
