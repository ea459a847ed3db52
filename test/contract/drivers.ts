/**
 * Drives each function of a synthesized template through its real handler code with the environment the template
 * gives it (every ARN, name and endpoint resolved to the contract's account and region), against in-memory
 * stand-ins wired in with aws-sdk-client-mock (and a recording OpenSearch transport), and returns every AWS call it
 * made, mapped to IAM. The scenarios take each path that calls AWS: a new call in the code shows up here by
 * running the tests, with no list of expected calls to maintain.
 *
 * Any client left unmocked would fail against a closed loopback endpoint (`AWS_ENDPOINT_URL`), never reach AWS.
 */

import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { CloudFormationClient, GetTemplateCommand } from "@aws-sdk/client-cloudformation";
import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import {
  FirehoseClient,
  PutRecordBatchCommand,
  type PutRecordBatchCommandInput,
} from "@aws-sdk/client-firehose";
import { GetPublicKeyCommand, KMSClient, SignCommand } from "@aws-sdk/client-kms";
import { DescribeDomainCommand, OpenSearchClient } from "@aws-sdk/client-opensearch";
import {
  GetObjectAttributesCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { Context, FirehoseTransformationEvent, ScheduledEvent, SQSEvent } from "aws-lambda";
import { type AwsStub, mockClient } from "aws-sdk-client-mock";
import { vi } from "vitest";
import { ALERTS_INDEX } from "../../lambdas/core/contracts.js";
import { digestKey, serializeDigest, unsignedDigest } from "../../lambdas/core/digest/format.js";
import { HEAD_KEY } from "../../lambdas/core/digest/ledger.js";
import { defaultRulesDir } from "../../lambdas/core/rules/index.js";
import { precompileRulePack } from "../../lambdas/core/rules/load.js";
import { PRECOMPILED_RULE_PACK_FILE } from "../../lambdas/core/rules/precompiled.js";
import type { TransportRequest } from "../../lambdas/detector/opensearch.js";
import { FakeLedger, FakeS3 } from "../lambdas/archiver/fake-aws.js";
import { correlationRule, singleRule } from "../lambdas/core/alerts/factories.js";
import { FakeOpenSearch as FakeDetectionSearch } from "../lambdas/core/detection/fake-opensearch.js";
import { NOW, packOf, recordedAudit } from "../lambdas/core/detection/scenario.js";
import { freshDomain } from "../lambdas/core/opensearch/fake-transport.js";
import { type AwsCall, iamCallOfHttp, iamCallsOfCommand, type SentHttpRequest } from "./aws-calls.js";
import { REGION, type ResolvedTemplate } from "./template.js";

// biome-ignore lint/suspicious/noExplicitAny: the stubs of several client types are collected together
type AnyStub = AwsStub<any, any, any>;

/** Collects what every mocked client and the OpenSearch transport received. */
class Recorder {
  private readonly stubs: { service: string; stub: AnyStub }[] = [];
  readonly http: SentHttpRequest[] = [];

  track(service: string, stub: AnyStub): AnyStub {
    this.stubs.push({ service, stub });
    return stub;
  }

  calls(template: ResolvedTemplate): AwsCall[] {
    const calls: AwsCall[] = [];
    for (const { service, stub } of this.stubs) {
      for (const call of stub.calls()) {
        const command = call.args[0] as { constructor: { name: string }; input: Record<string, unknown> };
        calls.push(
          ...iamCallsOfCommand({ service, name: command.constructor.name, input: command.input }, template),
        );
      }
    }
    for (const request of this.http) calls.push(iamCallOfHttp(request));
    return calls;
  }

  restore(): void {
    for (const { stub } of this.stubs) stub.restore();
  }
}

const context = (name: string) =>
  ({
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${REGION}:111122223333:function:${name}`,
    memoryLimitInMB: "1024",
    awsRequestId: "contract-1",
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "stream",
    getRemainingTimeInMillis: () => 120_000,
  }) as unknown as Context;

/** The function's environment from the template, plus what the Lambda runtime sets; no AWS endpoint is reachable. */
function stubFunctionEnvironment(
  template: ResolvedTemplate,
  functionId: string,
  overrides: Record<string, string> = {},
) {
  vi.unstubAllEnvs();
  vi.resetModules();
  const variables =
    (template.properties(functionId).Environment as { Variables?: Record<string, string> } | undefined)
      ?.Variables ?? {};
  const env: Record<string, string> = {
    ...variables,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: "AKIACONTRACT",
    AWS_SECRET_ACCESS_KEY: "contract",
    AWS_ENDPOINT_URL: "http://127.0.0.1:9",
    POWERTOOLS_LOG_LEVEL: "SILENT",
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_TRACE_ENABLED: "false",
    ...overrides,
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  return env;
}

async function precompiledRulesDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "contract-rules-"));
  const rules = defaultRulesDir();
  await writeFile(join(dir, PRECOMPILED_RULE_PACK_FILE), precompileRulePack([rules], {}, dirname(rules)));
  return dir;
}

function auditEvent(id: string): string {
  return JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    auditID: id,
    stage: "ResponseComplete",
    verb: "get",
    requestURI: "/api/v1/namespaces/shop/pods",
    user: { username: "erin" },
    sourceIPs: ["198.51.100.23"],
    responseStatus: { code: 200 },
    requestReceivedTimestamp: "2026-12-06T21:00:00Z",
  });
}

/** The delivery stream of the template (the one the transform processes for). */
function streamId(template: ResolvedTemplate): string {
  const [id] = template.ofType("AWS::KinesisFirehose::DeliveryStream");
  if (id === undefined) throw new Error("the template has no delivery stream");
  return id;
}

/** The transform: a single-document record, and a CloudWatch Logs batch of EKS audit events (re-ingested); the key when pseudonymizing. */
async function driveTransform(template: ResolvedTemplate, functionId: string): Promise<AwsCall[]> {
  const recorder = new Recorder();
  stubFunctionEnvironment(template, functionId, { AUDIT_TRAIL_RULES_DIR: await precompiledRulesDir() });
  const firehose = recorder.track("firehose", mockClient(FirehoseClient));
  firehose.on(PutRecordBatchCommand).callsFake(async (input: PutRecordBatchCommandInput) => ({
    FailedPutCount: 0,
    RequestResponses: (input.Records ?? []).map((_r, i) => ({ RecordId: `re-${i}` })),
  }));
  recorder
    .track("secretsmanager", mockClient(SecretsManagerClient))
    .on(GetSecretValueCommand)
    .resolves({ SecretString: "s".repeat(32) });
  recorder
    .track("ssm", mockClient(SSMClient))
    .on(GetParameterCommand)
    .resolves({ Parameter: { Value: "p".repeat(32) } });
  try {
    const { handler } = await import("../../lambdas/transform/handler.js");
    const batch = gzipSync(
      JSON.stringify({
        messageType: "DATA_MESSAGE",
        owner: "111122223333",
        logGroup: "/aws/eks/contract/cluster",
        logStream: "kube-apiserver-audit-0",
        subscriptionFilters: ["contract"],
        logEvents: ["a-1", "a-2", "a-3"].map((id, i) => ({
          id,
          timestamp: 1_765_000_000_000 + i,
          message: auditEvent(id),
        })),
      }),
    );
    const event: FirehoseTransformationEvent = {
      invocationId: "contract",
      deliveryStreamArn: template.arn(streamId(template)),
      region: REGION,
      records: [
        {
          recordId: "single",
          approximateArrivalTimestamp: 1_765_000_000_000,
          data: Buffer.from(auditEvent("s-1")).toString("base64"),
        },
        { recordId: "batch", approximateArrivalTimestamp: 1_765_000_000_000, data: batch.toString("base64") },
      ],
    };
    const result = await handler(event, context("transform"));
    const results = result.records.map((r) => `${r.recordId}:${r.result}`);
    if (!results.includes("single:Ok"))
      throw new Error(`transform scenario did not succeed: ${results.join(", ")}`);
    if (firehose.commandCalls(PutRecordBatchCommand).length === 0) {
      throw new Error("transform scenario re-ingested nothing: the multi-document path was not exercised");
    }
    return recorder.calls(template);
  } finally {
    recorder.restore();
  }
}

function bucketNameOf(arn: string): string {
  return arn.split(":::")[1]?.split("/")[0] ?? "";
}

/** The staging bucket: where the stream backs up (the archiver's source). */
function stagingBucketName(template: ResolvedTemplate): string {
  const destination = template.properties(streamId(template))
    .AmazonopensearchserviceDestinationConfiguration as {
    S3Configuration: { BucketARN: string };
  };
  return bucketNameOf(destination.S3Configuration.BucketARN);
}

/** Archiver and digest writer share one in-memory S3 and ledger, so the digest writer seals what the archiver archived. */
interface ArchiveWorld {
  s3: FakeS3;
  ledger: FakeLedger;
}

async function driveArchiver(
  template: ResolvedTemplate,
  functionId: string,
  world: ArchiveWorld,
): Promise<AwsCall[]> {
  const recorder = new Recorder();
  stubFunctionEnvironment(template, functionId);
  recorder.track("s3", world.s3.mock);
  recorder.track("dynamodb", world.ledger.mock);
  const staging = stagingBucketName(template);
  // What Firehose stages: documents, and records it could not deliver under errors/.
  const keys = [
    "documents/2026/12/06/21/stream-1-2026-12-06-21-00-00-0001",
    "errors/processing-failed/2026/12/06/21/stream-1-2026-12-06-21-00-00-0002",
  ];
  for (const key of keys) world.s3.put(staging, key, '{"event":{"kind":"event"}}\n');
  // S3 notifications of a versioned bucket name the version that was written; a notification without one reads
  // the current version.
  const record = (key: string, versioned: boolean) => ({
    eventName: "ObjectCreated:Put",
    s3: {
      bucket: { name: staging },
      object: { key, ...(versioned ? { versionId: world.s3.versions(staging, key).at(-1)?.versionId } : {}) },
    },
  });
  const message = (id: string, records: ReturnType<typeof record>[]) =>
    ({ messageId: id, body: JSON.stringify({ Records: records }) }) as SQSEvent["Records"][number];
  // The digest writer seals completed periods: archive an hour and a half ago, so its run seals these objects.
  const periodMs = Number(process.env.AUDIT_TRAIL_DIGEST_PERIOD_MINUTES ?? "60") * 60_000;
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() - Math.round(1.5 * periodMs));
  try {
    // Only the digest writer starts the chain (the archiver retries until it has): seed the head it would write.
    world.ledger.items.set(`${HEAD_KEY.pk}|${HEAD_KEY.sk}`, {
      pk: { S: HEAD_KEY.pk },
      sk: { S: HEAD_KEY.sk },
      nextPeriodStartMs: { N: String(Math.floor(Date.now() / periodMs) * periodMs - periodMs) },
      sequence: { N: "0" },
    });
    const { handler } = await import("../../lambdas/archiver/handler.js");
    // A first delivery, a redelivery (already recorded; its notification without a version), and a delivery after
    // the ledger lost the record (adopts the archived copy instead of writing a second version).
    const runs: [string, ReturnType<typeof record>[]][] = [
      ["first", keys.map((key) => record(key, true))],
      ["redelivered", [record(keys[0] as string, false), record(keys[1] as string, true)]],
    ];
    for (const [run, records] of runs) {
      const result = await handler({ Records: [message(run, records)] }, context("archiver"));
      if (result.batchItemFailures.length > 0) throw new Error(`archiver scenario (${run}) failed`);
    }
    const ledgerBefore = new Map(world.ledger.items);
    for (const itemKey of [...world.ledger.items.keys()])
      if (!itemKey.startsWith(HEAD_KEY.pk)) world.ledger.items.delete(itemKey);
    const adopted = await handler(
      { Records: [message("adopt", [record(keys[0] as string, true)])] },
      context("archiver"),
    );
    if (adopted.batchItemFailures.length > 0) throw new Error("archiver scenario (adopt) failed");
    // The digest writer then finds the ledger as the first deliveries left it.
    for (const [itemKey, item] of ledgerBefore) world.ledger.items.set(itemKey, item);
  } finally {
    vi.useRealTimers();
  }
  return recorder.calls(template);
}

async function driveDigestWriter(
  template: ResolvedTemplate,
  functionId: string,
  world: ArchiveWorld,
): Promise<AwsCall[]> {
  const recorder = new Recorder();
  const env = stubFunctionEnvironment(template, functionId);
  recorder.track("s3", world.s3.mock);
  recorder.track("dynamodb", world.ledger.mock);
  const kms = recorder.track("kms", mockClient(KMSClient));
  kms.on(SignCommand).resolves({ Signature: new Uint8Array([48, 6, 2, 1, 1, 2, 1, 2]) });
  try {
    const periodMs = Number(env.AUDIT_TRAIL_DIGEST_PERIOD_MINUTES ?? "60") * 60_000;
    const head = `${HEAD_KEY.pk}|${HEAD_KEY.sk}`;
    const start = Math.floor(Date.now() / periodMs) * periodMs - 2 * periodMs;
    const rewind = () => {
      const item = world.ledger.items.get(head) ?? {
        pk: { S: HEAD_KEY.pk },
        sk: { S: HEAD_KEY.sk },
        sequence: { N: "0" },
      };
      world.ledger.items.set(head, {
        ...item,
        nextPeriodStartMs: { N: String(start) },
        sequence: { N: "0" },
      });
    };
    const { handler } = await import("../../lambdas/digest-writer/handler.js");
    // A first run on a ledger whose chain has not started: the digest writer starts it (only it writes the head).
    const archived = world.ledger.items.get(head);
    world.ledger.items.delete(head);
    await handler({} as ScheduledEvent, context("digest-writer"));
    if (!world.ledger.items.has(head)) throw new Error("digest writer scenario did not start the chain");
    if (archived !== undefined) world.ledger.items.set(head, archived);
    rewind();
    const first = await handler({} as ScheduledEvent, context("digest-writer"));
    if (first.written.length === 0) throw new Error("digest writer scenario wrote no digest");
    // A run that finds its digest already written (an earlier attempt's) reads it back instead of failing.
    rewind();
    await handler({} as ScheduledEvent, context("digest-writer")).catch(() => undefined);
    return recorder.calls(template);
  } finally {
    kms.restore();
  }
}

/** The detector's HTTP requests go through its real `transportSearchClient` into the in-memory search double. */
function recordingTransport(fake: FakeDetectionSearch, domainArn: string, http: SentHttpRequest[]) {
  // The first write marking an alert published answers 409 once, as when a suppression extension rewrote the
  // alert meanwhile: the detector then reads the alert again (GET _doc) before marking it.
  let conflicted = false;
  return {
    transport: {
      async request(params: TransportRequest): Promise<{ statusCode: number | null; body: unknown }> {
        http.push({ domainArn, method: params.method, path: params.path });
        const [, rawIndex = "", operation = "", id = ""] = params.path.split("/");
        const index = decodeURIComponent(rawIndex);
        if (params.method === "POST" && operation === "_search") {
          return { statusCode: 200, body: await fake.search({ index, body: params.body ?? {} }) };
        }
        if (params.method === "POST" && operation === "_refresh") {
          await fake.refresh();
          return { statusCode: 200, body: {} };
        }
        if (params.method === "GET" && operation === "_doc") {
          const found = await fake.get({ index, id: decodeURIComponent(id) });
          if (found === undefined) return { statusCode: 404, body: { found: false } };
          return {
            statusCode: 200,
            body: {
              found: true,
              _id: found.id,
              _source: found.source,
              _seq_no: found.seqNo,
              _primary_term: found.primaryTerm,
            },
          };
        }
        if (params.method === "PUT" && operation === "_doc") {
          const q = params.querystring ?? {};
          const outbox = (params.body as { outbox?: { status?: string } } | undefined)?.outbox;
          if (q.if_seq_no !== undefined && outbox?.status === "published" && !conflicted) {
            conflicted = true;
            return { statusCode: 409, body: {} };
          }
          const result = await fake.write({
            index,
            id: decodeURIComponent(id),
            document: params.body ?? {},
            ...(q.op_type === "create" ? { create: true } : {}),
            ...(q.if_seq_no === undefined
              ? {}
              : { ifSeqNo: Number(q.if_seq_no), ifPrimaryTerm: Number(q.if_primary_term) }),
          });
          if (result.outcome === "conflict") return { statusCode: 409, body: {} };
          return { statusCode: 201, body: { _seq_no: result.seqNo, _primary_term: result.primaryTerm } };
        }
        if (params.method === "POST" && operation === "_msearch") {
          const lines = params.bulkBody ?? [];
          const responses: unknown[] = [];
          for (let line = 1; line < lines.length; line += 2) {
            responses.push({
              ...((await fake.search({ index, body: lines[line] ?? {} })) as object),
              status: 200,
            });
          }
          return { statusCode: 200, body: { took: 1, responses } };
        }
        if (params.method === "POST" && operation === "_bulk") {
          const lines = params.bulkBody ?? [];
          const items: unknown[] = [];
          for (let line = 0; line < lines.length; line += 2) {
            const action = lines[line] as {
              create?: { _id: string };
              index?: { _id: string; if_seq_no?: number; if_primary_term?: number };
            };
            const document = lines[line + 1] ?? {};
            const kind = action.create === undefined ? "index" : "create";
            const target = action.create ?? action.index ?? { _id: "" };
            const guard = action.index;
            const outbox = (document as { outbox?: { status?: string } }).outbox;
            if (guard?.if_seq_no !== undefined && outbox?.status === "published" && !conflicted) {
              conflicted = true;
              items.push({
                [kind]: {
                  _id: target._id,
                  status: 409,
                  error: { type: "version_conflict_engine_exception" },
                },
              });
              continue;
            }
            const result = await fake.write({
              index,
              id: target._id,
              document,
              ...(kind === "create" ? { create: true } : {}),
              ...(guard?.if_seq_no === undefined
                ? {}
                : { ifSeqNo: guard.if_seq_no, ifPrimaryTerm: Number(guard.if_primary_term) }),
            });
            items.push({
              [kind]:
                result.outcome === "conflict"
                  ? { _id: target._id, status: 409, error: { type: "version_conflict_engine_exception" } }
                  : {
                      _id: target._id,
                      status: 201,
                      _seq_no: result.seqNo,
                      _primary_term: result.primaryTerm,
                    },
            });
          }
          return { statusCode: 200, body: { took: 1, errors: false, items } };
        }
        throw new Error(`contract transport: unexpected ${params.method} ${params.path}`);
      },
    },
  };
}

function domainArnFor(template: ResolvedTemplate, endpoint: string): string {
  const id = template
    .ofType("AWS::OpenSearchService::Domain")
    .find(
      (domainId) =>
        endpoint === `search-${template.physicalName(domainId)}-contract.${REGION}.es.amazonaws.com`,
    );
  if (id === undefined) throw new Error(`no domain of the template has endpoint ${endpoint}`);
  return template.arn(id);
}

/** The detector: one run that finds tagged documents and a correlation, writes and pages the alerts, and advances the watermark. */
async function driveDetector(template: ResolvedTemplate, functionId: string): Promise<AwsCall[]> {
  const recorder = new Recorder();
  const require = createRequire(import.meta.url);
  const env = stubFunctionEnvironment(template, functionId, {
    AUDIT_TRAIL_RULES_DIR: defaultRulesDir(),
    AUDIT_TRAIL_GEOIP_DIR: dirname(require.resolve("@ip-location-db/dbip-country/package.json")),
  });
  const sns = recorder.track("sns", mockClient(SNSClient));
  const dynamodb = recorder.track("dynamodb", mockClient(DynamoDBClient));
  dynamodb.on(GetItemCommand).resolves({ Item: { watermarkMs: { N: String(NOW - 60_000) } } });
  dynamodb.on(UpdateItemCommand).resolves({});
  try {
    const { loadDetectorConfig } = await import("../../lambdas/detector/config.js");
    const { buildHandler } = await import("../../lambdas/detector/build.js");
    const { transportSearchClient } = await import("../../lambdas/detector/opensearch.js");
    const config = loadDetectorConfig(env);
    const domainArn = domainArnFor(template, config.domainEndpoint);
    const run = async (fake: FakeDetectionSearch, rules: Parameters<typeof packOf>[0]) => {
      const handler = buildHandler({
        config,
        pack: packOf(rules),
        search: transportSearchClient(recordingTransport(fake, domainArn, recorder.http)),
        sns: new SNSClient({ region: REGION }),
        dynamodb: new DynamoDBClient({ region: REGION }),
        alertContext: { environment: config.environmentName },
        logger: new Logger({ serviceName: "detector" }),
        metrics: new Metrics({ namespace: "Contract", serviceName: "detector" }),
        tracer: new Tracer({ serviceName: "detector", enabled: false }),
        clock: () => NOW,
      });
      return handler({} as ScheduledEvent, context("detector"));
    };
    // A run whose pages fail stays pending; the next run retries them from the alerts index.
    const retried = new FakeDetectionSearch(ALERTS_INDEX, recordedAudit);
    sns
      .on(PublishCommand)
      .rejectsOnce(new Error("Throttling"))
      .rejectsOnce(new Error("Throttling"))
      .resolves({ MessageId: "m-1" });
    await run(retried, [singleRule(), correlationRule()]);
    const second = await run(retried, [singleRule(), correlationRule()]);
    if (!second.complete || second.published === 0)
      throw new Error("detector scenario published no retried alert");
    // Every topic an alert can go to: one rule per remaining severity, and one for the operators' topic.
    for (const rule of [
      singleRule({ level: "critical" }),
      singleRule({ level: "low" }),
      singleRule({ level: "high", topic: "ops" }),
    ]) {
      const result = await run(new FakeDetectionSearch(ALERTS_INDEX, recordedAudit), [rule]);
      if (!result.complete || result.published === 0)
        throw new Error(`detector scenario paged nothing for ${rule.level}/${rule.topic}`);
    }
    return recorder.calls(template);
  } finally {
    recorder.restore();
  }
}

/** The bootstrap custom resource: a Create and an Update with the properties the template gives it. */
async function driveBootstrap(template: ResolvedTemplate, functionId: string): Promise<AwsCall[]> {
  const recorder = new Recorder();
  stubFunctionEnvironment(template, functionId);
  const controlPlane = recorder.track("es", mockClient(OpenSearchClient));
  controlPlane.on(DescribeDomainCommand).resolves({
    DomainStatus: {
      DomainId: "d",
      DomainName: "d",
      ARN: "arn",
      ClusterConfig: {},
      Processing: false,
      Endpoint: "search-d.example",
    },
  });
  try {
    const [resourceId] = template.ofType("Custom::AuditTrailSearchBootstrap");
    if (resourceId === undefined) throw new Error("the template has no bootstrap custom resource");
    const properties = template.properties(resourceId) as Record<string, string>;
    const domainArn = domainArnFor(template, properties.DomainEndpoint ?? "");
    const { onEvent } = await import("../../lambdas/bootstrap/handler.js");
    for (const requestType of ["Create", "Update"] as const) {
      const fake = freshDomain().on("POST", "/_dashboards/api/saved_objects/_import", {
        statusCode: 200,
        body: { success: true, successCount: 1 },
      });
      const base = {
        ServiceToken: String(properties.ServiceToken),
        ResponseURL: "https://cloudformation-custom-resource-response.example/",
        StackId: "arn:aws:cloudformation:eu-west-1:111122223333:stack/contract/1",
        RequestId: "contract",
        LogicalResourceId: resourceId,
        ResourceType: "Custom::AuditTrailSearchBootstrap",
        ResourceProperties: { ...properties, ServiceToken: String(properties.ServiceToken) },
      };
      const event =
        requestType === "Create"
          ? { ...base, RequestType: "Create" as const }
          : {
              ...base,
              RequestType: "Update" as const,
              PhysicalResourceId: "p",
              OldResourceProperties: base.ResourceProperties,
            };
      await onEvent(
        event,
        { getRemainingTimeInMillis: () => 14 * 60_000 },
        {
          controlPlane: new OpenSearchClient({ region: REGION }),
          dataPlane: () => fake,
          wait: { intervalMs: 1, sleep: async () => undefined },
        },
      );
      for (const request of fake.requests)
        recorder.http.push({ domainArn, method: request.method, path: request.path });
    }
    return recorder.calls(template);
  } finally {
    recorder.restore();
  }
}

/**
 * The weekly review: one scheduled run that searches the indices and the alerts, lists the error prefixes and the
 * digests, stores the three reports and publishes the summary; and a retried run that finds them stored (412).
 */
async function driveReviewer(template: ResolvedTemplate, functionId: string): Promise<AwsCall[]> {
  const recorder = new Recorder();
  const env = stubFunctionEnvironment(template, functionId);
  const s3 = recorder.track("s3", mockClient(S3Client));
  const sns = recorder.track("sns", mockClient(SNSClient));
  const cloudFormation = recorder.track("cloudformation", mockClient(CloudFormationClient));
  cloudFormation.on(GetTemplateCommand).resolves({ TemplateBody: JSON.stringify({ Resources: {} }) });
  s3.on(ListObjectsV2Command).callsFake((input: { Prefix?: string }) => ({
    Contents: [{ Key: `${input.Prefix ?? ""}object-1`, LastModified: new Date(NOW - 3_600_000) }],
    IsTruncated: false,
  }));
  // The week's chain: one digest (in the listing of its day's prefix) naming an archived document and an error
  // record; the verification reads the digest, the two objects' attributes and the signing key's public key.
  const kms = recorder.track("kms", mockClient(KMSClient));
  const signing = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  kms.on(GetPublicKeyCommand).resolves({
    PublicKey: new Uint8Array(signing.publicKey.export({ format: "der", type: "spki" })),
    KeySpec: "ECC_NIST_P256",
    KeyUsage: "SIGN_VERIFY",
  });
  const periodStart = Math.floor(NOW / 3_600_000) * 3_600_000 - 2 * 3_600_000;
  const sealedKey = digestKey(periodStart);
  const unsigned = unsignedDigest({
    sequence: 1,
    periodStartMs: periodStart,
    periodEndMs: periodStart + 3_600_000,
    previousDigest: null,
    objects: ["documents/2026/01/01/00/firehose-1", "errors/processing-failed/2026/01/01/00/firehose-2"].map(
      (key) => ({
        key,
        versionId: "v-1",
        size: 5,
        sha256: "0".repeat(64),
        archivedAt: new Date(periodStart).toISOString().replace(/\.\d{3}Z$/, "Z"),
      }),
    ),
    signingKeyId: "contract-key",
  });
  s3.on(ListObjectVersionsCommand).callsFake((input: { Prefix?: string }) => ({
    Versions: sealedKey.startsWith(input.Prefix ?? "")
      ? [{ Key: sealedKey, VersionId: "d-1", LastModified: new Date(periodStart + 3_600_000) }]
      : [],
    IsTruncated: false,
  }));
  s3.on(GetObjectCommand).callsFake(() => ({
    Body: { transformToByteArray: async () => serializeDigest({ ...unsigned, signature: "c2ln" }) },
  }));
  s3.on(GetObjectAttributesCommand).resolves({ ObjectSize: 5 });
  s3.on(PutObjectCommand)
    .resolvesOnce({})
    .resolvesOnce({})
    .resolvesOnce({})
    .rejects(
      new S3ServiceException({
        name: "PreconditionFailed",
        $fault: "client",
        $metadata: { httpStatusCode: 412 },
        message: "At least one of the pre-conditions you specified did not hold",
      }),
    );
  sns.on(PublishCommand).resolves({ MessageId: "m-1" });
  try {
    const { buildHandler, loadReviewerConfig } = await import("../../lambdas/reviewer/build.js");
    const config = loadReviewerConfig(env);
    const domainArn = domainArnFor(template, config.domainEndpoint);
    const transport = {
      transport: {
        async request(params: TransportRequest): Promise<{ statusCode: number | null; body: unknown }> {
          recorder.http.push({ domainArn, method: params.method, path: params.path });
          if (params.method !== "POST" || !params.path.endsWith("/_search"))
            throw new Error(`contract transport: unexpected ${params.method} ${params.path}`);
          return { statusCode: 200, body: { hits: { hits: [] }, aggregations: { edges: { buckets: [] } } } };
        },
      },
    };
    const { transportSearchClient } = await import("../../lambdas/detector/opensearch.js");
    const handler = buildHandler({
      config,
      search: transportSearchClient(transport),
      s3: new S3Client({ region: REGION }),
      kms: new KMSClient({ region: REGION }),
      sns: new SNSClient({ region: REGION }),
      cloudFormation: new CloudFormationClient({ region: REGION }),
      logger: new Logger({ serviceName: "reviewer" }),
      tracer: new Tracer({ serviceName: "reviewer", enabled: false }),
    });
    const event = { time: new Date(NOW).toISOString() } as ScheduledEvent;
    const first = await handler(event, context("reviewer"));
    const retried = await handler(event, context("reviewer"));
    if (first.alreadyStored || !retried.alreadyStored)
      throw new Error("reviewer scenario did not store once and find the reports on the retry");
    const quarterly = await handler({ report: "quarterly-compliance" } as never, context("reviewer"));
    if (quarterly.keys.length !== 1) throw new Error("reviewer scenario stored no quarterly report");
    return recorder.calls(template);
  } finally {
    recorder.restore();
  }
}

export interface DrivenFunction {
  /** Readable name in messages (`transform`, `archiver`, …). */
  readonly label: string;
  readonly functionId: string;
  readonly roleArn: string;
  readonly calls: AwsCall[];
}

/** Which code a function of the template runs, recognized by the description its construct gives it. */
const DRIVERS: { label: string; description: RegExp }[] = [
  { label: "transform", description: /^mesh-audit-trail: Firehose transform/ },
  { label: "archiver", description: /^mesh-audit-trail: copies staged Firehose objects/ },
  { label: "digest writer", description: /^mesh-audit-trail: writes the signed, chained archive digest/ },
  { label: "detector", description: /^mesh-audit-trail: detector/ },
  { label: "reviewer", description: /^mesh-audit-trail: scheduled weekly audit review/ },
  { label: "bootstrap", description: /^mesh-audit-trail: OpenSearch bootstrap/ },
  { label: "bootstrap provider framework", description: /^AWS CDK resource provider framework - onEvent/ },
];

/** The label of each function of the template; a function no driver recognizes is an error naming it. */
export function functionLabels(template: ResolvedTemplate): Map<string, string> {
  const labels = new Map<string, string>();
  for (const id of template.ofType("AWS::Lambda::Function")) {
    const description = String(template.properties(id).Description ?? "");
    const driver = DRIVERS.find((d) => d.description.test(description));
    if (driver === undefined) {
      throw new Error(
        `function ${id} ("${description}") has no permission contract driver in test/contract/drivers.ts`,
      );
    }
    labels.set(id, driver.label);
  }
  return labels;
}

/** Runs every function's scenarios; the calls include what the Lambda service does with each execution role. */
export async function driveAll(
  template: ResolvedTemplate,
  serviceCalls: (functionId: string) => AwsCall[],
  providerCalls: (functionId: string) => AwsCall[],
): Promise<DrivenFunction[]> {
  const labels = [...functionLabels(template)];
  const idOf = (label: string) => labels.find(([, l]) => l === label)?.[0];
  const called = new Map<string, AwsCall[]>();
  const drive = async (label: string, run: (functionId: string) => Promise<AwsCall[]>) => {
    const functionId = idOf(label);
    if (functionId === undefined) return;
    try {
      called.set(functionId, await run(functionId));
    } catch (error) {
      throw new Error(`driving the ${label} function (${functionId}) failed: ${String(error)}`, {
        cause: error,
      });
    }
  };
  try {
    // The archiver and the digest writer share one in-memory S3 and ledger: the digest writer seals what the
    // archiver archived. Their mocks are restored before the other functions mock the same clients.
    const world: ArchiveWorld = { s3: new FakeS3(), ledger: new FakeLedger() };
    try {
      await drive("archiver", (id) => driveArchiver(template, id, world));
      world.s3.mock.resetHistory();
      world.ledger.mock.resetHistory();
      await drive("digest writer", (id) => driveDigestWriter(template, id, world));
    } finally {
      world.s3.mock.restore();
      world.ledger.mock.restore();
    }
    await drive("transform", (id) => driveTransform(template, id));
    await drive("detector", (id) => driveDetector(template, id));
    await drive("reviewer", (id) => driveReviewer(template, id));
    await drive("bootstrap", (id) => driveBootstrap(template, id));
    await drive("bootstrap provider framework", async (id) => providerCalls(id));
  } finally {
    vi.unstubAllEnvs();
  }
  return labels.map(([functionId, label]) => ({
    label,
    functionId,
    roleArn: String(template.properties(functionId).Role),
    calls: [...(called.get(functionId) ?? []), ...serviceCalls(functionId)],
  }));
}
