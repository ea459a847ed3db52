import { KMSClient, SignCommand } from "@aws-sdk/client-kms";
import type { Context, ScheduledEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DIGEST_WRITER_ENV } from "../../../lambdas/core/contracts.js";
import { digestKey, parseDigest } from "../../../lambdas/core/digest/format.js";
import { startChain } from "../../../lambdas/digest-writer/write-digests.js";
import { FakeLedger, FakeS3 } from "../archiver/fake-aws.js";
import { stubHandlerEnvironment } from "../handler-environment.js";
import { fakeClients, LEDGER } from "./chain-on-fake-aws.js";

const HOUR = 3_600_000;
const KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const context = {
  functionName: "digest-writer",
  awsRequestId: "req-1",
  getRemainingTimeInMillis: () => 300_000,
} as unknown as Context;
const event = { "detail-type": "Scheduled Event", source: "aws.events" } as ScheduledEvent;

let s3: FakeS3;
let ledger: FakeLedger;
const kms = mockClient(KMSClient);

beforeEach(() => {
  vi.resetModules();
  stubHandlerEnvironment({
    [DIGEST_WRITER_ENV.archiveBucketName]: "archive",
    [DIGEST_WRITER_ENV.stagingBucketName]: "staging",
    [DIGEST_WRITER_ENV.ledgerTableName]: "ledger",
    [DIGEST_WRITER_ENV.signingKeyId]: KEY_ARN,
    [DIGEST_WRITER_ENV.digestPeriodMinutes]: "60",
  });
  s3 = new FakeS3();
  ledger = new FakeLedger();
  kms.reset();
  kms.on(SignCommand).resolves({ Signature: new Uint8Array([48, 6, 2, 1, 1, 2, 1, 2]) });
});

afterEach(() => {
  vi.unstubAllEnvs();
  s3.mock.restore();
  ledger.mock.restore();
});

/** The chain started two hours ago: two closed periods to seal. Returns the first one's start. */
async function chainStartedTwoPeriodsAgo(): Promise<number> {
  const start = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
  await startChain(fakeClients().dynamo, LEDGER, start);
  return start;
}

describe("digest writer handler", () => {
  it("signs each closed period's digest with the configured KMS key", async () => {
    // Prepare
    const start = await chainStartedTwoPeriodsAgo();
    const { handler } = await import("../../../lambdas/digest-writer/handler.js");

    // Act
    const result = await handler(event, context);

    // Assess
    expect(result.written.map((w) => w.key)).toEqual([digestKey(start), digestKey(start + HOUR)]);
    expect(kms.commandCalls(SignCommand).map((c) => c.args[0].input.KeyId)).toEqual([KEY_ARN, KEY_ARN]);
    const body = s3.versions("archive", digestKey(start))[0]?.body ?? new Uint8Array();
    expect(parseDigest(body, "first")).toMatchObject({ signingKeyId: KEY_ARN, signature: "MAYCAQECAQI=" });
  });

  it("fails the invocation with an error naming the digest key when it holds something else", async () => {
    // Prepare
    const start = await chainStartedTwoPeriodsAgo();
    s3.put("archive", digestKey(start), "junk");
    const { handler } = await import("../../../lambdas/digest-writer/handler.js");

    // Act
    const attempt = handler(event, context);

    // Assess
    await expect(attempt).rejects.toThrow(
      new RegExp(
        `${digestKey(start).replaceAll("/", "\\/")}: the key of the digest of period .* holds an object that is not a digest`,
      ),
    );
    expect(s3.versions("archive", digestKey(start))).toHaveLength(1);
  });

  it("fails at start-up naming a malformed period", async () => {
    // Prepare
    vi.stubEnv(DIGEST_WRITER_ENV.digestPeriodMinutes, "7");

    // Act / Assess
    await expect(import("../../../lambdas/digest-writer/handler.js")).rejects.toThrow(
      new RegExp(`${DIGEST_WRITER_ENV.digestPeriodMinutes}.*must divide a day evenly`),
    );
  });
});
