/**
 * The pipeline after Fluent Bit, on real parts where this machine can have them: the Firehose API stand-in and its
 * delivery stream (configured from the synthesized template: processor parameters, index name and rotation, backup
 * mode, prefixes, compression), the transform bundle from the cloud assembly as its processor, the real OpenSearch
 * node (`scripts/opensearch-node.sh` through `test/integration/node.ts`) with the templates applied by the
 * bootstrap's own code and the template's bootstrap properties, and the detector bundle on a simulated schedule
 * publishing to the SNS stand-in, its watermark in the DynamoDB stand-in, reaching the node through the HTTPS
 * domain front (SigV4 required). Buffering intervals are the only settings shortened (`PipelineOptions`).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@opensearch-project/opensearch";
import { bootstrapDomain } from "../../../lambdas/core/opensearch/bootstrap.js";
import { parseBootstrapProperties } from "../../../lambdas/core/opensearch/settings.js";
import { startTestNode, type TestNode } from "../../integration/node.js";
import {
  DeliveryStream,
  type DeliveryStream as DeliveryStreamType,
  type ProcessorEvent,
  type ProcessorResult,
} from "../stand-ins/delivery-stream.js";
import { type DynamoDbStandIn, startDynamoDbStandIn } from "../stand-ins/dynamodb.js";
import { deliveryStreamArn, type FirehoseStandIn, startFirehoseStandIn } from "../stand-ins/firehose.js";
import { type OpenSearchFront, startOpenSearchFront } from "../stand-ins/opensearch-front.js";
import { compressionFormat, S3Folder } from "../stand-ins/s3-folder.js";
import { type SecretsManagerStandIn, startSecretsManagerStandIn } from "../stand-ins/secrets-manager.js";
import { type SnsStandIn, startSnsStandIn } from "../stand-ins/sns.js";
import { selfSignedCertificate, type TlsMaterial } from "../stand-ins/tls.js";
import { Assembly, type Resolution, synthesize } from "./assembly.js";
import { LambdaFunction } from "./lambda.js";

export const REGION = "eu-west-1";
export const ACCOUNT_ID = "123456789012";

export interface PipelineOptions {
  /** Logs, the staging folder, the certificate. */
  readonly workDir: string;
  /** @default "dev" */
  readonly env?: string;
  /** The processor's buffering (the template's are 60 s / 1 MiB). */
  readonly processorBuffer: { readonly intervalMs: number; readonly sizeBytes: number };
  /** An OpenSearch node to use instead of starting one (`OPENSEARCH_URL`). @default - one is started */
  readonly nodeUrl?: string;
  /**
   * Deletes the node's `audit-*` indices (documents and alerts) before the bootstrap: a node kept from an earlier run
   * holds that run's documents and alerts, and the detector rightly folds this run's incident into them (suppression)
   * instead of paging again. For `nodeUrl`, a scratch node only.
   * @default false
   */
  readonly resetNode?: boolean;
  readonly onStage?: (line: string) => void;
}

export interface DetectorResult {
  complete: boolean;
  failedRules: string[];
  firings: number;
  published: number;
  pending: number;
}

export interface Pipeline {
  readonly tls: TlsMaterial;
  readonly assembly: Assembly;
  readonly streamName: string;
  readonly firehose: FirehoseStandIn;
  readonly delivery: DeliveryStreamType;
  readonly staging: S3Folder;
  readonly sns: SnsStandIn;
  readonly secrets: SecretsManagerStandIn;
  readonly dynamodb: DynamoDbStandIn;
  readonly front: OpenSearchFront;
  readonly node: TestNode;
  readonly client: Client;
  readonly transform: LambdaFunction;
  readonly detector: LambdaFunction;
  /** SNS topic ARN → the alert topic it stands for (`critical`, …, `ops`). */
  readonly topics: Readonly<Record<string, string>>;
  /** One scheduled detector invocation (an EventBridge `Scheduled Event`). */
  runDetector(): Promise<DetectorResult>;
  /** Stops everything; the node too unless `keepNode`. */
  stop(options?: { keepNode?: boolean }): Promise<void>;
}

function parameter(
  processor: { Parameters?: { ParameterName: string; ParameterValue: unknown }[] },
  name: string,
): string | undefined {
  const found = processor.Parameters?.find((p) => p.ParameterName === name)?.ParameterValue;
  return found === undefined ? undefined : String(found);
}

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const stage = options.onStage ?? (() => undefined);
  const env = options.env ?? "dev";
  const stackName = `AuditTrail-${env}`;
  mkdirSync(options.workDir, { recursive: true });
  const cleanup: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  };
  try {
    const [dir, node] = await Promise.all([
      synthesize(env, stage),
      (async () => {
        const started = Date.now();
        const n =
          options.nodeUrl === undefined
            ? await startTestNode()
            : await withUrl(options.nodeUrl, startTestNode);
        stage(`OpenSearch node up at ${n.url} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        return n;
      })(),
    ]);
    cleanup.push(() => node.stop());
    const assembly = new Assembly(dir, stackName);
    const tls = selfSignedCertificate(options.workDir);

    // What the template's Refs and GetAtts stand for here.
    const front = await startOpenSearchFront({ tls, nodeUrl: node.url });
    cleanup.push(() => front.close());
    const domain = assembly.resource("AWS::OpenSearchService::Domain", "Search");
    const resolution: Resolution = {
      region: REGION,
      accountId: ACCOUNT_ID,
      ref(id, type) {
        switch (type) {
          case "AWS::SNS::Topic":
            return `arn:aws:sns:${REGION}:${ACCOUNT_ID}:${stackName}-${id}`;
          case "AWS::SecretsManager::Secret":
            return `arn:aws:secretsmanager:${REGION}:${ACCOUNT_ID}:secret:${id}-AbCdEf`;
          case "AWS::DynamoDB::Table":
            return `${stackName}-${id}`;
          case "AWS::OpenSearchService::Domain":
            return "audit-trail-e2e";
          default:
            throw new Error(`Ref ${id} (${type}) has no stand-in`);
        }
      },
      getAtt(id, attribute, type) {
        if (id === domain.logicalId && attribute === "DomainEndpoint") return front.endpoint;
        if (attribute === "Arn" && type === "AWS::IAM::Role")
          return `arn:aws:iam::${ACCOUNT_ID}:role/${stackName}-${id}`;
        if (attribute === "Arn")
          return `arn:aws:${type.split("::")[1]?.toLowerCase()}:${REGION}:${ACCOUNT_ID}:${id}`;
        throw new Error(`Fn::GetAtt ${id}.${attribute} has no stand-in`);
      },
    };
    const topicIds = assembly.logicalIds("AWS::SNS::Topic");
    const topicArns = topicIds.map((id) => resolution.ref(id, "AWS::SNS::Topic"));
    const sns = await startSnsStandIn({ tls, topicArns });
    cleanup.push(() => sns.close());
    const reingestSecret = assembly.resource("AWS::SecretsManager::Secret", "IngestionReingestKey");
    const secrets = await startSecretsManagerStandIn({
      tls,
      secrets: {
        [resolution.ref(reingestSecret.logicalId, "AWS::SecretsManager::Secret")]:
          randomBytes(32).toString("hex"),
      },
    });
    cleanup.push(() => secrets.close());
    const stateTable = assembly.resource("AWS::DynamoDB::Table", "DetectionState");
    const dynamodb = await startDynamoDbStandIn({
      tls,
      tables: [resolution.ref(stateTable.logicalId, "AWS::DynamoDB::Table")],
    });
    cleanup.push(() => dynamodb.close());
    const endpoints = {
      AWS_ENDPOINT_URL_FIREHOSE: "",
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
      AWS_ENDPOINT_URL_SNS: sns.url,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.url,
    };

    // The index templates, as the bootstrap custom resource applies them, with the template's properties.
    const client = new Client({ node: node.url, requestTimeout: 60_000 });
    if (options.resetNode) {
      await client.indices.delete({ index: "audit-*", ignore_unavailable: true, expand_wildcards: "all" });
    }
    const bootstrap = assembly.resource("Custom::AuditTrailSearchBootstrap", "SearchBootstrap");
    const { ServiceToken: _token, ...properties } = assembly.resolve(
      bootstrap.properties,
      resolution,
    ) as Record<string, unknown>;
    // The bootstrap's client is given the node directly; its settings want a bare host name (a domain's has no port).
    properties.DomainEndpoint = "localhost";
    const steps = await bootstrapDomain(client, parseBootstrapProperties(properties), {
      ismFlavor: "plain",
      allowMissingPlugins: ["security", "ism"],
    });
    stage(`bootstrap applied to the node: ${steps.map((s) => `${s.step} ${s.outcome}`).join("; ")}`);

    // The delivery stream, from the template.
    const streamResource = assembly.resource(
      "AWS::KinesisFirehose::DeliveryStream",
      "IngestionDeliveryStream",
    );
    const streamName = `${stackName}-${streamResource.logicalId}`;
    const destination = streamResource.properties.AmazonopensearchserviceDestinationConfiguration as Record<
      string,
      unknown
    >;
    const s3 = destination.S3Configuration as Record<string, unknown>;
    const processor = (
      (destination.ProcessingConfiguration as { Processors: Record<string, unknown>[] }).Processors ?? []
    ).find((p) => p.Type === "Lambda") as {
      Parameters?: { ParameterName: string; ParameterValue: unknown }[];
    };
    const staging = new S3Folder(
      join(options.workDir, "staging-bucket"),
      compressionFormat(
        s3.CompressionFormat,
        `${streamResource.logicalId} S3Configuration.CompressionFormat`,
      ),
      streamName,
    );

    const transformAsset = assembly.function("IngestionTransform");
    const detectorAsset = assembly.function("DetectionDetector");
    const delivery = new DeliveryStream({
      name: streamName,
      arn: deliveryStreamArn(streamName, REGION, ACCOUNT_ID),
      region: REGION,
      lambdaArn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${stackName}-transform`,
      processor: (event: ProcessorEvent) => transform.invoke<ProcessorResult>(event),
      buffer: options.processorBuffer,
      processorRetries: Number(parameter(processor, "NumberOfRetries") ?? 3),
      opensearch: {
        nodeUrl: node.url,
        indexName: String(destination.IndexName),
        rotation: destination.IndexRotationPeriod === "NoRotation" ? "NoRotation" : "OneDay",
      },
      backup: {
        folder: staging,
        mode: destination.S3BackupMode === "AllDocuments" ? "AllDocuments" : "FailedDocumentsOnly",
        prefix: String(s3.Prefix ?? ""),
        errorOutputPrefix: String(s3.ErrorOutputPrefix ?? ""),
      },
    });
    cleanup.push(async () => delivery.stop());
    const firehose = await startFirehoseStandIn({
      tls,
      streams: { [streamName]: delivery },
      accountId: ACCOUNT_ID,
    });
    cleanup.push(() => firehose.close());
    endpoints.AWS_ENDPOINT_URL_FIREHOSE = firehose.url;

    const transform = new LambdaFunction({
      assembly,
      asset: transformAsset,
      resolution,
      functionName: `${stackName}-transform`,
      endpoints,
      caFile: tls.certFile,
      logFile: join(options.workDir, "transform.log"),
    });
    const detector = new LambdaFunction({
      assembly,
      asset: detectorAsset,
      resolution,
      functionName: `${stackName}-detector`,
      endpoints,
      caFile: tls.certFile,
      logFile: join(options.workDir, "detector.log"),
    });
    cleanup.push(() => transform.stop());
    cleanup.push(() => detector.stop());
    const [transformCold, detectorCold] = await Promise.all([transform.start(), detector.start()]);
    stage(
      `transform (${transformAsset.runtime}, bundle ${relativeAsset(transformAsset.dir)}) and detector (bundle ${relativeAsset(detectorAsset.dir)}) started from the assembly: cold starts ${transformCold} ms and ${detectorCold} ms`,
    );

    const topicNames = assembly.resolve(detectorAsset.environment.AUDIT_TRAIL_TOPIC_ARNS, resolution);
    const topics = Object.fromEntries(
      Object.entries(JSON.parse(String(topicNames)) as Record<string, string>).map(([topic, arn]) => [
        arn,
        topic,
      ]),
    );
    const scheduleRule = assembly.resource("AWS::Events::Rule", "DetectionSchedule");
    return {
      tls,
      assembly,
      streamName,
      firehose,
      delivery,
      staging,
      sns,
      secrets,
      dynamodb,
      front,
      node,
      client,
      transform,
      detector,
      topics,
      runDetector: () =>
        detector.invoke<DetectorResult>({
          version: "0",
          id: crypto.randomUUID(),
          "detail-type": "Scheduled Event",
          source: "aws.events",
          account: ACCOUNT_ID,
          time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
          region: REGION,
          resources: [`arn:aws:events:${REGION}:${ACCOUNT_ID}:rule/${stackName}-${scheduleRule.logicalId}`],
          detail: {},
        }),
      async stop(stopOptions) {
        if (stopOptions?.keepNode) cleanup.splice(cleanup.indexOf(cleanup[0] as () => Promise<void>), 1);
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function relativeAsset(dir: string): string {
  return dir.slice(dir.lastIndexOf("asset.")).slice(0, 18);
}

async function withUrl<T>(url: string, start: () => Promise<T>): Promise<T> {
  const before = process.env.OPENSEARCH_URL;
  process.env.OPENSEARCH_URL = url;
  try {
    return await start();
  } finally {
    if (before === undefined) delete process.env.OPENSEARCH_URL;
    else process.env.OPENSEARCH_URL = before;
  }
}
