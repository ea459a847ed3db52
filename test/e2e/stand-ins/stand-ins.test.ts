import { mkdtempSync } from "node:fs";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { FirehoseClient, PutRecordBatchCommand, PutRecordCommand } from "@aws-sdk/client-firehose";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveryStream, type ProcessorEvent } from "./delivery-stream.js";
import { startDynamoDbStandIn } from "./dynamodb.js";
import {
  type AcceptedRecord,
  FIREHOSE_LIMITS,
  type FirehoseStandIn,
  startFirehoseStandIn,
} from "./firehose.js";
import { expandPrefix, S3Folder } from "./s3-folder.js";
import { startSecretsManagerStandIn } from "./secrets-manager.js";
import { startSnsStandIn } from "./sns.js";
import { selfSignedCertificate, type TlsMaterial } from "./tls.js";

const credentials = { accessKeyId: "AKIDSTANDIN", secretAccessKey: "stand-in-secret" };
let tls: TlsMaterial;
function clientConfig(endpoint: string) {
  return {
    region: "eu-west-1",
    endpoint,
    credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: tls.cert }) }),
  };
}

beforeAll(() => {
  tls = selfSignedCertificate();
});

describe("Firehose stand-in", () => {
  const received: AcceptedRecord[] = [];
  let firehose: FirehoseStandIn;
  let client: FirehoseClient;
  beforeAll(async () => {
    firehose = await startFirehoseStandIn({ tls, streams: { audit: { put: (r) => received.push(...r) } } });
    client = new FirehoseClient(clientConfig(firehose.url));
  });
  afterAll(() => firehose.close());

  it("accepts PutRecordBatch and PutRecord from the real SDK and answers in the service's shape", async () => {
    // Act
    const batch = await client.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: "audit",
        Records: [{ Data: Buffer.from("a") }, { Data: Buffer.from("b") }],
      }),
    );
    const single = await client.send(
      new PutRecordCommand({ DeliveryStreamName: "audit", Record: { Data: Buffer.from("c") } }),
    );
    // Assess
    expect(batch.FailedPutCount).toBe(0);
    expect(batch.RequestResponses?.map((r) => typeof r.RecordId)).toEqual(["string", "string"]);
    expect(typeof single.RecordId).toBe("string");
    expect(received.slice(-3).map((r) => r.data.toString())).toEqual(["a", "b", "c"]);
    expect(new Set(received.map((r) => r.recordId)).size).toBe(received.length);
  });

  it("enforces AWS's limits: 500 records, 1,000 KiB per record, 4 MiB per batch, an existing stream", async () => {
    const record = { Data: Buffer.from("x") };
    await expect(
      client.send(
        new PutRecordBatchCommand({ DeliveryStreamName: "audit", Records: Array(501).fill(record) }),
      ),
    ).rejects.toMatchObject({
      name: "ValidationException",
      message: expect.stringMatching(/less than or equal to 500/),
    });
    await expect(
      client.send(
        new PutRecordCommand({
          DeliveryStreamName: "audit",
          Record: { Data: Buffer.alloc(FIREHOSE_LIMITS.recordBytes + 1) },
        }),
      ),
    ).rejects.toMatchObject({ name: "ValidationException", message: expect.stringMatching(/1024000/) });
    const big = { Data: Buffer.alloc(FIREHOSE_LIMITS.recordBytes) };
    await expect(
      client.send(new PutRecordBatchCommand({ DeliveryStreamName: "audit", Records: Array(5).fill(big) })),
    ).rejects.toMatchObject({ name: "InvalidArgumentException", message: expect.stringMatching(/4 MiB/) });
    await expect(
      client.send(new PutRecordCommand({ DeliveryStreamName: "other", Record: record })),
    ).rejects.toMatchObject({ name: "ResourceNotFoundException" });
    // The largest legal batch goes through.
    const full = await client.send(
      new PutRecordBatchCommand({ DeliveryStreamName: "audit", Records: Array(4).fill(big) }),
    );
    expect(full.FailedPutCount).toBe(0);
  });

  it("fails chosen records of a batch on demand, and answers 500 to everything during an outage", async () => {
    firehose.failRecords((data) => data.toString() === "fail");
    const out = await client.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: "audit",
        Records: [{ Data: Buffer.from("keep") }, { Data: Buffer.from("fail") }],
      }),
    );
    firehose.failRecords(undefined);
    expect(out.FailedPutCount).toBe(1);
    expect(out.RequestResponses?.[1]).toEqual({
      ErrorCode: "ServiceUnavailableException",
      ErrorMessage: "Slow down.",
    });
    firehose.setOutage(true);
    const before = received.length;
    await expect(
      client.send(new PutRecordCommand({ DeliveryStreamName: "audit", Record: { Data: Buffer.from("x") } })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 500 } });
    firehose.setOutage(false);
    expect(received.length).toBe(before);
  });

  it("refuses an unsigned request and one signed for another service", async () => {
    const unsigned = await fetch(firehose.url, { method: "POST", body: "{}" }).catch((e: Error) => e);
    // fetch does not trust the certificate: the refusal is checked through the SDK instead.
    expect(unsigned).toBeInstanceOf(Error);
    const wrong = new FirehoseClient({ ...clientConfig(firehose.url), signingName: "sns" } as never);
    await expect(
      wrong.send(new PutRecordCommand({ DeliveryStreamName: "audit", Record: { Data: Buffer.from("x") } })),
    ).rejects.toMatchObject({ name: "InvalidSignatureException" });
  });
});

describe("delivery stream", () => {
  function stream(
    processor: (
      event: ProcessorEvent,
    ) => Promise<{ records: { recordId: string; result: string; data?: string }[] }>,
  ) {
    const folder = new S3Folder(mkdtempSync(join(tmpdir(), "audit-trail-s3-")), "GZIP", "audit");
    return {
      folder,
      stream: new DeliveryStream({
        name: "audit",
        arn: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/audit",
        region: "eu-west-1",
        processor,
        lambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:transform",
        buffer: { intervalMs: 50, sizeBytes: 1024 * 1024 },
        processorRetries: 1,
        // No document is Ok in these tests, so the node is never called.
        opensearch: { nodeUrl: "http://127.0.0.1:9", indexName: "audit", rotation: "OneDay" },
        backup: {
          folder,
          mode: "AllDocuments",
          prefix: "documents/!{timestamp:yyyy/MM/dd/HH}/",
          errorOutputPrefix: "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/",
        },
      }),
    };
  }
  const record = (id: string, text: string): AcceptedRecord => ({
    recordId: id,
    data: Buffer.from(text),
    arrivalMs: Date.UTC(2026, 10, 7, 1),
  });

  it("writes ProcessingFailed records, with their original data, to the gzip error output in Firehose's format", async () => {
    const { folder, stream: s } = stream(async (event) => ({
      records: event.records.map((r) => ({
        recordId: r.recordId,
        result: r.recordId === "2" ? "Dropped" : "ProcessingFailed",
        data: r.data,
      })),
    }));
    s.put([record("1", "bad line"), record("2", "control")]);
    await s.drain();
    s.stop();
    expect(folder.keys("errors/processing-failed/2026/11/07/01/")).toHaveLength(1);
    expect(folder.keys()[0]).toMatch(/audit-1-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f-]{36}\.gz$/);
    const [line] = folder.lines("errors/");
    expect(JSON.parse(line as string)).toMatchObject({
      attemptsMade: 1,
      arrivalTimestamp: Date.UTC(2026, 10, 7, 1),
      errorCode: "Lambda.ProcessingFailed",
      rawData: Buffer.from("bad line").toString("base64"),
    });
    expect(s.counters).toMatchObject({ received: 2, ok: 0, dropped: 1, processingFailed: 1 });
  });

  it("retries an invocation whose answer breaks the contract, then fails the whole batch", async () => {
    const { folder, stream: s } = stream(async (event) => ({
      records: event.records.slice(1).map((r) => ({ recordId: r.recordId, result: "Ok", data: r.data })),
    }));
    s.put([record("1", "a"), record("2", "b")]);
    await s.drain();
    s.stop();
    expect(s.counters).toMatchObject({ invocations: 2, invocationErrors: 2, processingFailed: 2 });
    expect(folder.lines("errors/processing-failed/").map((l) => JSON.parse(l).errorCode)).toEqual([
      "Lambda.MissingRecordId",
      "Lambda.MissingRecordId",
    ]);
  });

  it("expands Firehose's prefix expressions and names one it cannot", () => {
    const at = Date.UTC(2026, 0, 2, 3);
    expect(
      expandPrefix(
        "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/",
        at,
        "processing-failed",
      ),
    ).toBe("errors/processing-failed/2026/01/02/03/");
    expect(() => expandPrefix("x/!{partitionKeyFromQuery:a}/", at)).toThrow(/not expanded/);
  });
});

describe("SNS, Secrets Manager and DynamoDB stand-ins", () => {
  it("publishes with the real SNS client and refuses what SNS refuses", async () => {
    const topic = "arn:aws:sns:eu-west-1:123456789012:high";
    const sns = await startSnsStandIn({ tls, topicArns: [topic] });
    try {
      const client = new SNSClient(clientConfig(sns.url));
      const out = await client.send(
        new PublishCommand({
          TopicArn: topic,
          Subject: "Exec into a pod",
          Message: JSON.stringify({ default: "d", email: "e" }),
          MessageStructure: "json",
          MessageAttributes: { severity: { DataType: "String", StringValue: "high" } },
        }),
      );
      expect(out.MessageId).toBe(sns.published[0]?.messageId);
      expect(sns.published[0]).toMatchObject({
        topicArn: topic,
        subject: "Exec into a pod",
        attributes: { severity: "high" },
      });
      await expect(
        client.send(new PublishCommand({ TopicArn: `${topic}x`, Message: "m" })),
      ).rejects.toMatchObject({ name: "NotFoundException" });
      await expect(
        client.send(new PublishCommand({ TopicArn: topic, Message: "m", Subject: "a\nb" })),
      ).rejects.toMatchObject({ name: "InvalidParameterException" });
      await expect(
        client.send(
          new PublishCommand({
            TopicArn: topic,
            Message: JSON.stringify({ email: "e" }),
            MessageStructure: "json",
          }),
        ),
      ).rejects.toMatchObject({
        name: "InvalidParameterException",
        message: expect.stringMatching(/No default entry/),
      });
      await expect(
        client.send(new PublishCommand({ TopicArn: topic, Message: "x".repeat(256 * 1024 + 1) })),
      ).rejects.toMatchObject({
        name: "InvalidParameterException",
      });
      expect(sns.published).toHaveLength(1);
    } finally {
      await sns.close();
    }
  });

  it("answers GetSecretValue for its secrets only", async () => {
    const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:reingest-AbCdEf";
    const sm = await startSecretsManagerStandIn({ tls, secrets: { [arn]: "k".repeat(64) } });
    try {
      const client = new SecretsManagerClient(clientConfig(sm.url));
      expect((await client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe(
        "k".repeat(64),
      );
      await expect(client.send(new GetSecretValueCommand({ SecretId: `${arn}x` }))).rejects.toMatchObject({
        name: "ResourceNotFoundException",
      });
    } finally {
      await sm.close();
    }
  });

  it("moves the detector's watermark forward only, under its condition, and refuses expressions it cannot evaluate", async () => {
    const db = await startDynamoDbStandIn({ tls, tables: ["state"] });
    try {
      const client = new DynamoDBClient(clientConfig(db.url));
      const Key = { pk: { S: "detector" }, sk: { S: "watermark#dev" } };
      const advance = (ms: number) =>
        client.send(
          new UpdateItemCommand({
            TableName: "state",
            Key,
            UpdateExpression: "SET watermarkMs = :ms",
            ConditionExpression: "attribute_not_exists(watermarkMs) OR watermarkMs < :ms",
            ExpressionAttributeValues: { ":ms": { N: String(ms) } },
          }),
        );
      await advance(200);
      await expect(advance(100)).rejects.toBeInstanceOf(ConditionalCheckFailedException);
      const item = await client.send(new GetItemCommand({ TableName: "state", Key, ConsistentRead: true }));
      expect(item.Item?.watermarkMs).toEqual({ N: "200" });
      await expect(
        client.send(
          new UpdateItemCommand({
            TableName: "state",
            Key,
            UpdateExpression: "ADD n :one",
            ExpressionAttributeValues: { ":one": { N: "1" } },
          }),
        ),
      ).rejects.toMatchObject({
        name: "ValidationException",
        message: expect.stringMatching(/SET updates only/),
      });
    } finally {
      await db.close();
    }
  });
});

describe("delivery stream: OpenSearch refusing a whole bulk request", () => {
  it("retries it, then writes every document of it to the AmazonOpenSearchService-failed error output", async () => {
    // Prepare: a node that answers every bulk request 400
    const { createServer } = await import("node:http");
    let requests = 0;
    const node = createServer((_req, res) => {
      requests++;
      res.writeHead(400, { "content-type": "application/json" });
      res.end('{"error":"illegal_argument_exception"}');
    });
    await new Promise<void>((resolve) => node.listen(0, "127.0.0.1", () => resolve()));
    const port = (node.address() as { port: number }).port;
    const folder = new S3Folder(mkdtempSync(join(tmpdir(), "audit-trail-s3-")), "UNCOMPRESSED", "audit");
    const s = new DeliveryStream({
      name: "audit",
      arn: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/audit",
      region: "eu-west-1",
      processor: async (event) => ({
        records: event.records.map((r) => ({ recordId: r.recordId, result: "Ok", data: r.data })),
      }),
      lambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:transform",
      buffer: { intervalMs: 50, sizeBytes: 1024 * 1024 },
      processorRetries: 0,
      opensearch: { nodeUrl: `http://127.0.0.1:${port}`, indexName: "audit", rotation: "OneDay" },
      backup: {
        folder,
        mode: "FailedDocumentsOnly",
        prefix: "documents/",
        errorOutputPrefix: "errors/!{firehose:error-output-type}/",
      },
    });
    try {
      // Act
      s.put([
        { recordId: "1", data: Buffer.from('{"a":1}'), arrivalMs: Date.UTC(2026, 10, 7) },
        { recordId: "2", data: Buffer.from('{"a":2}'), arrivalMs: Date.UTC(2026, 10, 7) },
      ]);
      await s.drain();
      // Assess
      expect(requests).toBe(4);
      const lines = folder.lines("errors/AmazonOpenSearchService-failed/").map((line) => JSON.parse(line));
      expect(lines.map((l) => [l.errorCode, Buffer.from(l.rawData, "base64").toString()])).toEqual([
        ["400", '{"a":1}'],
        ["400", '{"a":2}'],
      ]);
      expect(lines[0].errorMessage).toContain("illegal_argument_exception");
      expect(s.counters.indexFailed).toBe(2);
    } finally {
      s.stop();
      node.close();
    }
  });
});
