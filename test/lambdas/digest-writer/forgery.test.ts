/**
 * Forgery attempts against the chain, through the real archiver, digest writer and verify code. Each attempt is
 * one a function role could make with the AWS calls its role still allows (`test/lib/archive-forgery.test.ts`
 * proves which calls those are against the synthesized template): none may end up as a sealed object that verify
 * accepts, and none may stall the chain silently.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ArchiveError, archiveObject } from "../../../lambdas/archiver/archive.js";
import { digestKey, parseDigest, sha256Hex } from "../../../lambdas/core/digest/format.js";
import { HEAD_KEY, objectMarkerKey, periodObjectKey } from "../../../lambdas/core/digest/ledger.js";
import {
  ChainConflictError,
  startChain,
  writeDueDigests,
} from "../../../lambdas/digest-writer/write-digests.js";
import { FakeLedger, FakeS3 } from "../archiver/fake-aws.js";
import { HOUR, keyPair } from "../core/digest/local-archive-helpers.js";
import {
  archiverDeps,
  digestWriterDeps,
  fakeClients,
  LEDGER,
  STAGING,
  stageAndArchive,
  verifyBucket,
} from "./chain-on-fake-aws.js";

const T0 = Date.parse("2026-11-23T06:00:00Z");
const ARCHIVE = "archive";
const { signer, verifier } = keyPair();

let s3: FakeS3;
let ledger: FakeLedger;
let clock: number;

const writer = () => digestWriterDeps(ARCHIVE, signer, () => clock);
const archiveAt = (key: string, content: string, atMs: number) =>
  stageAndArchive(s3, ARCHIVE, key, content, atMs);

/** What a holder of the archiver role's credentials can write: an archive object and its two ledger items. */
function forgeWithArchiverRole(key: string, content: string, periodStartMs: number, atMs: number) {
  s3.now = () => new Date(atMs);
  const version = s3.put(ARCHIVE, key, content, { checksum: true });
  const marker = objectMarkerKey(key);
  const record = periodObjectKey(periodStartMs, key);
  ledger.items.set(`${marker.pk}|${marker.sk}`, {
    pk: { S: marker.pk },
    sk: { S: marker.sk },
    periodStartMs: { N: String(periodStartMs) },
    versionId: { S: version.versionId },
  });
  ledger.items.set(`${record.pk}|${record.sk}`, {
    pk: { S: record.pk },
    sk: { S: record.sk },
    key: { S: key },
    versionId: { S: version.versionId },
    size: { N: String(version.body.length) },
    sha256: { S: sha256Hex(version.body) },
    archivedAt: { S: new Date(atMs).toISOString().replace(/\.\d{3}Z$/, "Z") },
    periodStartMs: { N: String(periodStartMs) },
  });
}

const verifyNow = () => verifyBucket(ARCHIVE, verifier, clock);

beforeEach(async () => {
  s3 = new FakeS3();
  ledger = new FakeLedger();
  clock = T0;
  await startChain(fakeClients().dynamo, LEDGER, T0);
});

afterEach(() => {
  s3.mock.restore();
  ledger.mock.restore();
});

describe("forgeries with the archiver role, tried against the chain", () => {
  it("leaves out of the digest an object and ledger item that Firehose never staged, and verify reports it", async () => {
    // Prepare
    await archiveAt("documents/genuine", "alpha", T0 + 60_000);
    forgeWithArchiverRole("documents/forged", '{"event":{"kind":"alert"}}\n', T0, T0 + 2 * 60_000);
    // Two periods sealed: verify counts an unnamed object as pending while it could still be in the next digest.
    clock = T0 + 2 * HOUR + 60_000;

    // Act
    const written = await writeDueDigests(writer());
    const report = await verifyNow();

    // Assess
    const [version] = s3.versions(ARCHIVE, digestKey(T0));
    const sealed = parseDigest(version?.body ?? new Uint8Array(), digestKey(T0));
    expect(sealed.objects.map((o) => o.key)).toEqual(["documents/genuine"]);
    expect(written[0]?.refused).toEqual([
      { key: "documents/forged", reason: "the staging bucket holds no object at this key" },
    ]);
    expect(report.findings).toContainEqual(
      expect.objectContaining({ kind: "unexpected-object", key: "documents/forged" }),
    );
  });

  it("leaves out an object whose size differs from the staged one at the same key", async () => {
    // Prepare
    s3.put(STAGING, "documents/staged", "the staged bytes");
    forgeWithArchiverRole("documents/staged", "other bytes", T0, T0 + 60_000);
    clock = T0 + 2 * HOUR + 60_000;

    // Act
    const written = await writeDueDigests(writer());

    // Assess
    expect(written[0]?.objectCount).toBe(0);
    expect(written[0]?.refused).toEqual([
      { key: "documents/staged", reason: "the staged object has 16 bytes, the ledger records 11" },
    ]);
    expect((await verifyNow()).findings).toContainEqual(
      expect.objectContaining({ kind: "unexpected-object", key: "documents/staged" }),
    );
  });

  it("makes the archiver fail loudly when a forgery raced in ahead of it at a staged key, instead of reporting it recorded", async () => {
    // Prepare
    const key = "documents/2026/11/23/06/part-1";
    forgeWithArchiverRole(key, "forged content!", T0, T0 + 30_000);
    s3.put(STAGING, key, "genuine content");

    // Act
    const attempt = archiveObject(archiverDeps(ARCHIVE, T0 + HOUR), { bucket: STAGING, key });

    // Assess
    await expect(attempt).rejects.toThrow(ArchiveError);
    await expect(attempt).rejects.toThrow(/already holds this key with different content/);
  });

  it("never writes the chain head: with no chain started, the archiver fails the object so it is retried", async () => {
    // Prepare
    ledger.items.clear();
    s3.put(STAGING, "documents/a", "alpha");

    // Act
    const attempt = archiveObject(archiverDeps(ARCHIVE, T0), { bucket: STAGING, key: "documents/a" });

    // Assess
    await expect(attempt).rejects.toThrow(/the digest chain has not started/);
    expect(ledger.get(HEAD_KEY.pk, HEAD_KEY.sk)).toBeUndefined();
  });
});

describe("junk at the next digest key", () => {
  it("stops the writer with an error naming the key and what is there, on every run, and verify reports it", async () => {
    // Prepare
    await archiveAt("documents/a", "alpha", T0 + 60_000);
    s3.put(ARCHIVE, digestKey(T0), "not a digest");
    clock = T0 + HOUR + 60_000;

    // Act
    const first = writeDueDigests(writer());
    const second = writeDueDigests(writer());

    // Assess
    await expect(first).rejects.toThrow(ChainConflictError);
    await expect(second).rejects.toThrow(
      /digests\/2026\/11\/23\/20261123T060000Z\.json: the key of the digest of period 2026-11-23T06:00:00Z holds an object that is not a digest/,
    );
    expect(ledger.get(HEAD_KEY.pk, HEAD_KEY.sk)).toMatchObject({ sealingPeriodStartMs: { N: String(T0) } });
    expect((await verifyNow()).findings).toContainEqual(
      expect.objectContaining({ kind: "malformed-digest", key: digestKey(T0) }),
    );
  });
});

describe("an overwritten chain head", () => {
  it("cannot make the writer rewrite a sealed period: the reset chain shows up in verify", async () => {
    // Prepare
    await archiveAt("documents/a", "alpha", T0 + 60_000);
    clock = T0 + HOUR + 60_000;
    await writeDueDigests(writer());
    ledger.items.set(`${HEAD_KEY.pk}|${HEAD_KEY.sk}`, {
      pk: { S: HEAD_KEY.pk },
      sk: { S: HEAD_KEY.sk },
      nextPeriodStartMs: { N: String(T0 + HOUR) },
      sequence: { N: "0" },
    });
    clock = T0 + 2 * HOUR + 60_000;

    // Act
    await writeDueDigests(writer());
    const report = await verifyNow();

    // Assess
    expect(report.findings).toContainEqual(
      expect.objectContaining({ kind: "unexpected-chain-start", key: digestKey(T0 + HOUR) }),
    );
  });
});
