import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { GetPublicKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runVerify } from "../../../lambdas/cli/commands/verify.js";
import { digestKey } from "../../../lambdas/core/digest/format.js";
import { writeDueDigests } from "../../../lambdas/digest-writer/write-digests.js";
import { FakeLedger, FakeS3 } from "../archiver/fake-aws.js";
import {
  buildArchive,
  HOUR,
  keyPair,
  removeDir,
  sealedTwoPeriodCopy,
  tempDir,
} from "../core/digest/local-archive-helpers.js";
import { digestWriterDeps, kmsPublicKey, stageAndArchive } from "../digest-writer/chain-on-fake-aws.js";
import { captureProcessOutput } from "./helpers.js";

const BUCKET = "audit-archive";
const keys = keyPair();
const kms = mockClient(KMSClient);
const clients = () => ({
  s3: new S3Client({ region: "eu-west-1" }),
  kms: new KMSClient({ region: "eu-west-1" }),
});

const { out, err } = captureProcessOutput();

describe("audit-trail verify --dir", () => {
  let dir: string;
  const T0 = Date.parse("2026-11-20T06:00:00Z");

  beforeEach(async () => {
    dir = await tempDir();
    await sealedTwoPeriodCopy(dir, keys, T0);
  });

  afterEach(async () => {
    await removeDir(dir);
  });

  it("exits 0 and prints no finding for an intact copy", async () => {
    // Act
    const status = await runVerify(["--dir", join(dir, "archive"), "--public-key", join(dir, "public.pem")]);

    // Assess
    expect(status).toBe(0);
    expect(out).toEqual([]);
    expect(err.join("")).toContain("OK: 2 digests");
  });

  it("exits 1 and prints one line per finding with its key", async () => {
    // Prepare
    await writeFile(join(dir, "archive", "documents/b"), "bravO");

    // Act
    const status = await runVerify(["--dir", join(dir, "archive"), "--public-key", join(dir, "public.pem")]);

    // Assess
    expect(status).toBe(1);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(
      /^modified-object documents\/b: digests\/2026\/11\/20\/20261120T070000Z\.json recorded 5 bytes/,
    );
  });

  it("seals a GZIP backup object as stored: one changed compressed byte is a modified object", async () => {
    // Prepare: an archive whose document object is gzip, as Firehose writes the backup
    const gzipDir = join(dir, "gzip");
    const compressed = gzipSync('{"event":{"original":"GET /charge"}}\n');
    await buildArchive(
      gzipDir,
      {
        "documents/2026/11/20/06/stream-1-2026-11-20-06-01-00-id.gz": {
          content: compressed,
          atMs: T0 + 60_000,
        },
      },
      keys.signer,
      T0 + HOUR,
    );
    const intact = await runVerify(["--dir", gzipDir, "--public-key", join(dir, "public.pem")]);
    const tampered = Buffer.from(compressed);
    tampered[tampered.length - 9] = (tampered[tampered.length - 9] ?? 0) ^ 1;
    await writeFile(join(gzipDir, "documents/2026/11/20/06/stream-1-2026-11-20-06-01-00-id.gz"), tampered);

    // Act
    const status = await runVerify(["--dir", gzipDir, "--public-key", join(dir, "public.pem")]);

    // Assess
    expect(intact).toBe(0);
    expect(status).toBe(1);
    expect(out.join("")).toMatch(
      /^modified-object documents\/2026\/11\/20\/06\/stream-1-2026-11-20-06-01-00-id\.gz: /m,
    );
  });

  it("exits 1 when the copy is checked with another public key", async () => {
    // Prepare
    await writeFile(join(dir, "other.pem"), keyPair().publicPem);

    // Act
    const status = await runVerify(["--dir", join(dir, "archive"), "--public-key", join(dir, "other.pem")]);

    // Assess
    expect(status).toBe(1);
    expect(out.filter((line) => line.startsWith("bad-signature "))).toHaveLength(2);
  });

  it.each([
    [[], "give exactly one of --bucket NAME or --dir PATH"],
    [["--dir", "x"], "--dir needs --public-key FILE"],
    [["--bucket", "b", "--public-key", "p", "--key-id", "k"], "give --public-key or --key-id, not both"],
    [["--dir", "x", "--public-key", "p", "--frm", "t"], "unknown option '--frm'"],
  ])("exits 2 on a usage error %j", async (argv, message) => {
    // Act
    const status = await runVerify(argv);

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toContain(message);
  });

  it("exits 2 naming a --from that is not a time", async () => {
    // Act
    const status = await runVerify([
      "--dir",
      join(dir, "archive"),
      "--public-key",
      join(dir, "public.pem"),
      "--from",
      "last week",
    ]);

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toContain("--from: expected an ISO 8601 time");
  });
});

describe("audit-trail verify --bucket", () => {
  let s3: FakeS3;
  let ledger: FakeLedger;
  const start = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
  const archiveAt = (key: string, content: string, atMs: number) =>
    stageAndArchive(s3, BUCKET, key, content, atMs);

  beforeEach(async () => {
    s3 = new FakeS3();
    ledger = new FakeLedger();
    kms.reset();
    kms.on(GetPublicKeyCommand).resolves(kmsPublicKey(keys.publicPem));
    await archiveAt("documents/a", "alpha", start + 60_000);
    await archiveAt("documents/b", "bravo", start + HOUR + 60_000);
    await writeDueDigests(digestWriterDeps(BUCKET, keys.signer, () => Date.now()));
    s3.now = () => new Date();
  });

  afterEach(() => {
    s3.mock.restore();
    ledger.mock.restore();
  });

  it("verifies the chain with the public key of the KMS key the first digest names", async () => {
    // Act
    const status = await runVerify(["--bucket", BUCKET], clients);

    // Assess
    expect(err.join("")).toContain("OK: 3 digests");
    expect(status).toBe(0);
    expect(kms.commandCalls(GetPublicKeyCommand)[0]?.args[0].input.KeyId).toBe(keys.signer.keyId);
  });

  it("reports an object version written over an archived object as unexpected, naming key and version", async () => {
    // Prepare
    const replacement = s3.put(BUCKET, "documents/a", "tampered", {
      checksum: true,
      lastModified: new Date(start + 70 * 60_000),
    });

    // Act
    const status = await runVerify(["--bucket", BUCKET, "--key-id", "alias/audit-trail-digests"], clients);

    // Assess
    expect(status).toBe(1);
    expect(out).toEqual([
      expect.stringMatching(
        new RegExp(`^unexpected-object documents/a \\(version ${replacement.versionId}\\): `),
      ),
    ]);
    expect(kms.commandCalls(GetPublicKeyCommand)[0]?.args[0].input.KeyId).toBe("alias/audit-trail-digests");
  });

  it("reports a delete marker hiding an archived object", async () => {
    // Prepare
    s3.now = () => new Date(start + 2 * HOUR + 1);
    s3.addDeleteMarker(BUCKET, "documents/b");

    // Act
    const status = await runVerify(["--bucket", BUCKET], clients);

    // Assess
    expect(status).toBe(1);
    expect(out.join("")).toMatch(
      /^delete-marker documents\/b \(version v\d+\): a delete marker hides this object/,
    );
  });

  it("reports a digest overwritten by a second version, and still verifies the original", async () => {
    // Prepare
    s3.put(BUCKET, digestKey(start), "{}", { lastModified: new Date(start + 2 * HOUR) });

    // Act
    const status = await runVerify(["--bucket", BUCKET], clients);

    // Assess
    expect(status).toBe(1);
    expect(out).toEqual([
      expect.stringMatching(new RegExp(`^digest-overwritten ${digestKey(start)}: 2 versions`)),
    ]);
  });

  it("reports that the chain stops when the digest writer has not run for several periods", async () => {
    // Act
    const status = await runVerify(
      ["--bucket", BUCKET, "--to", new Date(Date.now() + 5 * HOUR).toISOString()],
      clients,
    );

    // Assess
    expect(status).toBe(1);
    expect(out.join("")).toMatch(/^time-gap digests\/.*: the chain ends at/);
  });

  it("verifies only the requested window, checking its first digest's link to the one before", async () => {
    // Act
    const status = await runVerify(
      ["--bucket", BUCKET, "--from", new Date(start + HOUR).toISOString()],
      clients,
    );

    // Assess
    expect(status).toBe(0);
    expect(err.join("")).toContain("OK: 2 digests");
  });

  it("uses a given public key file instead of KMS", async () => {
    // Prepare
    const dir = await tempDir();
    await writeFile(join(dir, "public.pem"), keys.publicPem);

    // Act
    const status = await runVerify(["--bucket", BUCKET, "--public-key", join(dir, "public.pem")], clients);

    // Assess
    expect(status).toBe(0);
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(0);
    await removeDir(dir);
  });

  it("takes --key-id more than once after a key rotation: valid when one of the keys verifies each digest", async () => {
    // Prepare
    const retired = keyPair();
    kms.on(GetPublicKeyCommand, { KeyId: "alias/retired" }).resolves(kmsPublicKey(retired.publicPem));

    // Act
    const onlyRetired = await runVerify(["--bucket", BUCKET, "--key-id", "alias/retired"], clients);
    const both = await runVerify(
      ["--bucket", BUCKET, "--key-id", "alias/retired", "--key-id", "alias/current"],
      clients,
    );

    // Assess
    expect(onlyRetired).toBe(1);
    expect(both).toBe(0);
    expect(err.join("")).toContain("KMS key alias/retired (given with --key-id), KMS key alias/current");
  });

  it("exits 2 when the KMS key is not an ECC P-256 signing key", async () => {
    // Prepare
    kms.on(GetPublicKeyCommand).resolves({ ...kmsPublicKey(keys.publicPem), KeySpec: "RSA_2048" });

    // Act
    const status = await runVerify(["--bucket", BUCKET], clients);

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toContain("expected an ECC_NIST_P256 SIGN_VERIFY key, got RSA_2048 SIGN_VERIFY");
  });
});
