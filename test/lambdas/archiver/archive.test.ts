import { createHash } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ArchiveError, type ArchiverDeps, archiveObject } from "../../../lambdas/archiver/archive.js";
import { HEAD_KEY, periodPartition } from "../../../lambdas/core/digest/ledger.js";
import { startChain } from "../../../lambdas/digest-writer/write-digests.js";
import { FakeLedger, FakeS3 } from "./fake-aws.js";

const HOUR = 3_600_000;
const NOW = Date.parse("2026-11-23T10:17:00Z");
const PERIOD = Date.parse("2026-11-23T10:00:00Z");
const STAGING = "staging-bucket";
const ARCHIVE = "archive-bucket";
const KEY = "documents/2026/11/23/10/audit-stream-1-2026-11-23-10-15-00-abc";
const CONTENT = '{"@timestamp":"2026-11-23T10:15:00Z","event":{"dataset":"istio.access"}}\n'.repeat(50);

let s3: FakeS3;
let ledger: FakeLedger;
let deps: ArchiverDeps;

beforeEach(async () => {
  s3 = new FakeS3();
  ledger = new FakeLedger();
  // The digest writer has started the chain at the current period (the archiver never writes the head).
  await startChain(new DynamoDBClient({ region: "eu-west-1" }), "ledger", PERIOD);
  deps = {
    s3: new S3Client({ region: "eu-west-1" }),
    dynamo: new DynamoDBClient({ region: "eu-west-1" }),
    archiveBucketName: ARCHIVE,
    ledgerTableName: "ledger",
    periodMs: HOUR,
    now: () => NOW,
  };
});

afterEach(() => {
  s3.mock.restore();
  ledger.mock.restore();
});

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("archiveObject", () => {
  it("streams a staging object into the archive with a SHA-256 checksum and records it in the open period", async () => {
    // Prepare
    s3.put(STAGING, KEY, CONTENT);

    // Act
    const result = await archiveObject(deps, { bucket: STAGING, key: KEY });

    // Assess
    expect(result.outcome).toBe("archived");
    const put = s3.mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put).toMatchObject({ Bucket: ARCHIVE, Key: KEY, ChecksumAlgorithm: "SHA256", IfNoneMatch: "*" });
    expect(put?.ContentLength).toBe(CONTENT.length);
    const [stored] = s3.versions(ARCHIVE, KEY);
    expect(Buffer.from(stored?.body ?? []).toString()).toBe(CONTENT);
    const records = ledger.partition(periodPartition(PERIOD));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      key: { S: KEY },
      versionId: { S: stored?.versionId },
      size: { N: String(CONTENT.length) },
      sha256: { S: sha256(CONTENT) },
      archivedAt: { S: "2026-11-23T10:17:00Z" },
    });
    expect(ledger.get(HEAD_KEY.pk, HEAD_KEY.sk)).toMatchObject({
      nextPeriodStartMs: { N: String(PERIOD) },
      sequence: { N: "0" },
    });
  });

  it("does not copy or record again when the same staging object is delivered twice", async () => {
    // Prepare
    s3.put(STAGING, KEY, CONTENT);
    await archiveObject(deps, { bucket: STAGING, key: KEY });

    // Act
    const second = await archiveObject(deps, { bucket: STAGING, key: KEY });

    // Assess
    expect(second).toEqual({ outcome: "already-recorded", key: KEY });
    expect(s3.versions(ARCHIVE, KEY)).toHaveLength(1);
    expect(s3.mock.commandCalls(PutObjectCommand)).toHaveLength(1);
    expect(ledger.partition(periodPartition(PERIOD))).toHaveLength(1);
  });

  it("records the same object once when two deliveries run concurrently", async () => {
    // Prepare
    s3.put(STAGING, KEY, CONTENT);

    // Act
    const outcomes = await Promise.all([
      archiveObject(deps, { bucket: STAGING, key: KEY }),
      archiveObject(deps, { bucket: STAGING, key: KEY }),
    ]);

    // Assess
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(["already-recorded", "archived"]);
    expect(s3.versions(ARCHIVE, KEY)).toHaveLength(1);
    expect(ledger.partition(periodPartition(PERIOD))).toHaveLength(1);
  });

  it("adopts an archive object an earlier attempt wrote but did not record, without writing a second version", async () => {
    // Prepare
    s3.put(STAGING, KEY, CONTENT);
    const earlier = s3.put(ARCHIVE, KEY, CONTENT, { checksum: true });

    // Act
    const result = await archiveObject(deps, { bucket: STAGING, key: KEY });

    // Assess
    expect(result.outcome).toBe("adopted");
    expect(s3.versions(ARCHIVE, KEY)).toHaveLength(1);
    expect(ledger.partition(periodPartition(PERIOD))[0]).toMatchObject({
      versionId: { S: earlier.versionId },
      sha256: { S: sha256(CONTENT) },
    });
  });

  it("refuses to adopt an archive object whose content differs from the staging object", async () => {
    // Prepare
    s3.put(STAGING, KEY, CONTENT);
    s3.put(ARCHIVE, KEY, "something else", { checksum: true });

    // Act
    const attempt = archiveObject(deps, { bucket: STAGING, key: KEY });

    // Assess
    await expect(attempt).rejects.toThrow(ArchiveError);
    await expect(attempt).rejects.toThrow(/already holds this key with different content/);
    expect(ledger.partition(periodPartition(PERIOD))).toHaveLength(0);
  });

  it("fails when the checksum S3 stored differs from the hash of the streamed bytes", async () => {
    // Prepare
    s3.put(STAGING, KEY, CONTENT);
    s3.mock.on(PutObjectCommand).callsFake(async (input) => {
      for await (const _chunk of input.Body as AsyncIterable<unknown>) {
        // drain the stream, as S3 would
      }
      return { VersionId: "v99", ChecksumSHA256: createHash("sha256").update("other").digest("base64") };
    });

    // Act
    const attempt = archiveObject(deps, { bucket: STAGING, key: KEY });

    // Assess
    await expect(attempt).rejects.toThrow(/S3 stored checksum .* the streamed bytes hash to/);
    expect(ledger.partition(periodPartition(PERIOD))).toHaveLength(0);
  });

  it("records into the first open period when the digest writer has already closed the current one", async () => {
    // Prepare
    s3.put(STAGING, KEY, CONTENT);
    const open = PERIOD + HOUR;
    ledger.items.set(`${HEAD_KEY.pk}|${HEAD_KEY.sk}`, {
      pk: { S: HEAD_KEY.pk },
      sk: { S: HEAD_KEY.sk },
      nextPeriodStartMs: { N: String(open) },
      sequence: { N: "7" },
    });

    // Act
    const result = await archiveObject(deps, { bucket: STAGING, key: KEY });

    // Assess
    expect(result.outcome === "archived" && result.record.periodStartMs).toBe(open);
    expect(ledger.partition(periodPartition(PERIOD))).toHaveLength(0);
    expect(ledger.partition(periodPartition(open))).toHaveLength(1);
  });

  it("moves a record whose period closes while it is being recorded into the next open period", async () => {
    // Prepare
    s3.put(STAGING, KEY, CONTENT);
    ledger.items.set(`${HEAD_KEY.pk}|${HEAD_KEY.sk}`, {
      pk: { S: HEAD_KEY.pk },
      sk: { S: HEAD_KEY.sk },
      nextPeriodStartMs: { N: String(PERIOD) },
      sequence: { N: "3" },
    });
    let closed = false;
    ledger.beforeTransaction = () => {
      if (closed) return;
      closed = true;
      const head = ledger.get(HEAD_KEY.pk, HEAD_KEY.sk);
      if (head) head.nextPeriodStartMs = { N: String(PERIOD + HOUR) };
    };

    // Act
    const result = await archiveObject(deps, { bucket: STAGING, key: KEY });

    // Assess
    expect(result.outcome === "archived" && result.record.periodStartMs).toBe(PERIOD + HOUR);
    expect(ledger.partition(periodPartition(PERIOD))).toHaveLength(0);
    expect(ledger.partition(periodPartition(PERIOD + HOUR))).toHaveLength(1);
  });

  it("refuses a staging object under the digests prefix, so nothing but the digest writer can write a digest", async () => {
    // Prepare
    s3.put(STAGING, "digests/2026/11/23/20261123T090000Z.json", "{}");

    // Act
    const attempt = archiveObject(deps, { bucket: STAGING, key: "digests/2026/11/23/20261123T090000Z.json" });

    // Assess
    await expect(attempt).rejects.toThrow(/staging objects under digests\/ are refused/);
    expect(s3.keys(ARCHIVE)).toEqual([]);
  });

  it("fails naming the key when the staging object does not exist", async () => {
    // Act
    const attempt = archiveObject(deps, { bucket: STAGING, key: "documents/missing" });

    // Assess
    await expect(attempt).rejects.toThrow(/NoSuchKey/);
    expect(s3.keys(ARCHIVE)).toEqual([]);
  });
});
