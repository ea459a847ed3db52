import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ARCHIVER_ENV } from "../../../lambdas/core/contracts.js";
import { startChain } from "../../../lambdas/digest-writer/write-digests.js";
import { stubHandlerEnvironment } from "../handler-environment.js";
import { FakeLedger, FakeS3 } from "./fake-aws.js";

const context = {
  functionName: "archiver",
  functionVersion: "1",
  invokedFunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:archiver",
  memoryLimitInMB: "512",
  awsRequestId: "req-1",
  logGroupName: "/aws/lambda/archiver",
  logStreamName: "stream",
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

function message(messageId: string, key: string): SQSRecord {
  return {
    messageId,
    body: JSON.stringify({
      Records: [{ eventName: "ObjectCreated:Put", s3: { bucket: { name: "staging" }, object: { key } } }],
    }),
  } as SQSRecord;
}

let s3: FakeS3;
let ledger: FakeLedger;

beforeEach(async () => {
  vi.resetModules();
  stubHandlerEnvironment({
    [ARCHIVER_ENV.archiveBucketName]: "archive",
    [ARCHIVER_ENV.ledgerTableName]: "ledger",
    [ARCHIVER_ENV.digestPeriodMinutes]: "60",
  });
  s3 = new FakeS3();
  ledger = new FakeLedger();
  // The digest writer has started the chain (the archiver never writes the head).
  await startChain(new DynamoDBClient({ region: "eu-west-1" }), "ledger", 0);
});

afterEach(() => {
  vi.unstubAllEnvs();
  s3.mock.restore();
  ledger.mock.restore();
});

describe("archiver handler", () => {
  it("reports only the messages whose objects failed as batch item failures", async () => {
    // Prepare
    s3.put("staging", "documents/ok-1", "one");
    s3.put("staging", "documents/ok-2", "two");
    const { handler } = await import("../../../lambdas/archiver/handler.js");
    const event: SQSEvent = {
      Records: [
        message("m1", "documents/ok-1"),
        message("m2", "documents/gone"),
        message("m3", "documents/ok-2"),
      ],
    };

    // Act
    const result = await handler(event, context);

    // Assess
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: "m2" }] });
    expect(s3.keys("archive")).toEqual(["documents/ok-1", "documents/ok-2"]);
  });

  it("treats a redelivered batch as done without writing new versions", async () => {
    // Prepare
    s3.put("staging", "documents/ok-1", "one");
    const { handler } = await import("../../../lambdas/archiver/handler.js");
    const event: SQSEvent = { Records: [message("m1", "documents/ok-1")] };
    await handler(event, context);

    // Act
    const result = await handler(event, context);

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(s3.versions("archive", "documents/ok-1")).toHaveLength(1);
  });

  it("returns every message for retry while the digest writer has not started the chain, writing no head", async () => {
    // Prepare
    ledger.items.clear();
    s3.put("staging", "documents/ok-1", "one");
    const { handler } = await import("../../../lambdas/archiver/handler.js");

    // Act
    const result = await handler({ Records: [message("m1", "documents/ok-1")] }, context);

    // Assess
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: "m1" }] });
    expect(ledger.items.size).toBe(0);
  });

  it("fails at start-up naming the missing environment variable", async () => {
    // Prepare
    vi.stubEnv(ARCHIVER_ENV.ledgerTableName, "");

    // Act / Assess
    await expect(import("../../../lambdas/archiver/handler.js")).rejects.toThrow(
      `environment variable ${ARCHIVER_ENV.ledgerTableName} is required but not set`,
    );
  });
});
