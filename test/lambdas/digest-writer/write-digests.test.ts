import type { UpdateItemCommandInput } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { digestKey, parseDigest, sha256Hex } from "../../../lambdas/core/digest/format.js";
import { HEAD_KEY } from "../../../lambdas/core/digest/ledger.js";
import {
  ChainConflictError,
  type DigestWriterDeps,
  writeDueDigests,
} from "../../../lambdas/digest-writer/write-digests.js";
import { FakeLedger, FakeS3 } from "../archiver/fake-aws.js";
import { HOUR, keyPair } from "../core/digest/local-archive-helpers.js";
import { digestWriterDeps, stageAndArchive, verifyBucket } from "./chain-on-fake-aws.js";

const T0 = Date.parse("2026-11-23T06:00:00Z");
const ARCHIVE = "archive";
const { signer, verifier } = keyPair();

let s3: FakeS3;
let ledger: FakeLedger;
let clock: number;

const deps = (overrides: Partial<DigestWriterDeps> = {}) =>
  digestWriterDeps(ARCHIVE, signer, () => clock, overrides);
const archiveAt = (key: string, content: string, atMs: number) =>
  stageAndArchive(s3, ARCHIVE, key, content, atMs);

async function readDigest(periodStartMs: number) {
  const [version] = s3.versions(ARCHIVE, digestKey(periodStartMs));
  if (version === undefined) throw new Error(`no digest for ${new Date(periodStartMs).toISOString()}`);
  return { digest: parseDigest(version.body, digestKey(periodStartMs)), sha256: sha256Hex(version.body) };
}

beforeEach(() => {
  s3 = new FakeS3();
  ledger = new FakeLedger();
  clock = T0;
});

afterEach(() => {
  s3.mock.restore();
  ledger.mock.restore();
});

describe("writeDueDigests", () => {
  it("closes every past period in order after an outage, empty periods included, as one signed chain", async () => {
    // Prepare
    await archiveAt("documents/a", "alpha", T0 + 10 * 60_000);
    await archiveAt("documents/b", "bravo", T0 + 50 * 60_000);
    await archiveAt("errors/processing-failed/c", "charlie", T0 + 2 * HOUR + 5 * 60_000);
    clock = T0 + 3 * HOUR + 5 * 60_000;

    // Act
    const written = await writeDueDigests(deps());

    // Assess
    expect(written.map((w) => [w.sequence, w.periodStart, w.objectCount])).toEqual([
      [1, "2026-11-23T06:00:00Z", 2],
      [2, "2026-11-23T07:00:00Z", 0],
      [3, "2026-11-23T08:00:00Z", 1],
    ]);
    const first = await readDigest(T0);
    const second = await readDigest(T0 + HOUR);
    const third = await readDigest(T0 + 2 * HOUR);
    expect(first.digest).toMatchObject({
      chainStart: true,
      previousDigest: null,
      signingKeyId: signer.keyId,
    });
    expect(first.digest.objects.map((o) => o.key)).toEqual(["documents/a", "documents/b"]);
    expect(second.digest.previousDigest).toEqual({ key: digestKey(T0), sha256: first.sha256 });
    expect(third.digest.previousDigest).toEqual({ key: digestKey(T0 + HOUR), sha256: second.sha256 });
    expect(ledger.get(HEAD_KEY.pk, HEAD_KEY.sk)).toMatchObject({
      sequence: { N: "3" },
      nextPeriodStartMs: { N: String(T0 + 3 * HOUR) },
      lastDigestSha256: { S: third.sha256 },
    });
    const report = await verifyBucket(ARCHIVE, verifier, clock);
    expect(report.findings).toEqual([]);
    expect(report.objectsChecked).toBe(3);
  });

  it("writes every digest with IfNoneMatch and a SHA-256 checksum", async () => {
    // Prepare
    clock = T0 + 30 * 60_000;
    await writeDueDigests(deps());
    clock = T0 + HOUR + 1;

    // Act
    await writeDueDigests(deps());

    // Assess
    const puts = s3.mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts).toEqual([
      expect.objectContaining({
        Key: digestKey(T0),
        IfNoneMatch: "*",
        ChecksumAlgorithm: "SHA256",
        ContentType: "application/json",
      }),
    ]);
  });

  it("writes nothing before the first period has ended, but starts the chain at the current period", async () => {
    // Prepare
    clock = T0 + 59 * 60_000;

    // Act
    const written = await writeDueDigests(deps());

    // Assess
    expect(written).toEqual([]);
    expect(s3.keys(ARCHIVE)).toEqual([]);
    expect(ledger.get(HEAD_KEY.pk, HEAD_KEY.sk)).toMatchObject({
      nextPeriodStartMs: { N: String(T0) },
      sequence: { N: "0" },
    });
  });

  it("keeps one linear chain when two writers run at the same time", async () => {
    // Prepare
    await archiveAt("documents/a", "alpha", T0 + 60_000);
    await archiveAt("documents/b", "bravo", T0 + HOUR + 60_000);
    clock = T0 + 4 * HOUR;

    // Act
    const [one, two] = await Promise.all([writeDueDigests(deps()), writeDueDigests(deps())]);

    // Assess
    const sequences = [...one, ...two].map((w) => w.sequence).sort();
    expect(sequences).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < 4; i++) expect(s3.versions(ARCHIVE, digestKey(T0 + i * HOUR))).toHaveLength(1);
    const report = await verifyBucket(ARCHIVE, verifier, clock);
    expect(report.findings).toEqual([]);
  });

  it("resumes after a crash between writing a digest and recording it, adopting the digest already written", async () => {
    // Prepare
    await archiveAt("documents/a", "alpha", T0 + 60_000);
    clock = T0 + 2 * HOUR + 1;
    let crashed = false;
    ledger.beforeUpdate = (input: UpdateItemCommandInput) => {
      if (!crashed && input.UpdateExpression?.includes("lastDigestKey")) {
        crashed = true;
        throw new Error("Lambda timed out");
      }
    };
    await expect(writeDueDigests(deps())).rejects.toThrow("Lambda timed out");
    const before = s3.versions(ARCHIVE, digestKey(T0))[0];

    // Act
    const written = await writeDueDigests(deps());

    // Assess
    expect(written.map((w) => [w.sequence, w.adopted])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(s3.versions(ARCHIVE, digestKey(T0))).toEqual([before]);
    const second = await readDigest(T0 + HOUR);
    expect(second.digest.previousDigest?.sha256).toBe(sha256Hex(before?.body ?? new Uint8Array()));
  });

  it("refuses to adopt a different digest found at the period's key and leaves the period to be sealed", async () => {
    // Prepare
    await archiveAt("documents/a", "alpha", T0 + 60_000);
    clock = T0 + HOUR + 1;
    const foreign = await (async () => {
      const { sealDigest } = await import("../../../lambdas/core/digest/chain.js");
      return sealDigest(
        { sequence: 1, periodStartMs: T0, periodEndMs: T0 + HOUR, previousDigest: null, objects: [] },
        signer,
      );
    })();
    s3.put(ARCHIVE, foreign.key, foreign.bytes);

    // Act
    const attempt = writeDueDigests(deps());

    // Assess
    await expect(attempt).rejects.toThrow(ChainConflictError);
    await expect(writeDueDigests(deps())).rejects.toThrow(
      /a different digest already exists for period 2026-11-23T06:00:00Z/,
    );
    expect(ledger.get(HEAD_KEY.pk, HEAD_KEY.sk)).toMatchObject({
      sequence: { N: "0" },
      sealingPeriodStartMs: { N: String(T0) },
    });
  });

  it("puts a record that arrives after its period was closed into the next digest", async () => {
    // Prepare
    await archiveAt("documents/a", "alpha", T0 + 60_000);
    clock = T0 + HOUR + 1;
    await writeDueDigests(deps());

    // Act: an archiver whose clock still says 06:59 records after 06:00 was sealed.
    await archiveAt("documents/late", "late", T0 + 59 * 60_000);
    clock = T0 + 2 * HOUR + 1;
    await writeDueDigests(deps());

    // Assess
    expect((await readDigest(T0)).digest.objects.map((o) => o.key)).toEqual(["documents/a"]);
    expect((await readDigest(T0 + HOUR)).digest.objects.map((o) => o.key)).toEqual(["documents/late"]);
  });

  it("stops starting periods when the invocation runs out of time and continues on the next run", async () => {
    // Prepare
    await writeDueDigests(deps());
    clock = T0 + 5 * HOUR;
    let budget = 2;

    // Act
    const first = await writeDueDigests(deps({ hasTimeLeft: () => budget-- > 0 }));
    const rest = await writeDueDigests(deps());

    // Assess
    expect(first.length).toBeLessThan(5);
    expect([...first, ...rest].map((w) => w.sequence)).toEqual([1, 2, 3, 4, 5]);
  });
});
