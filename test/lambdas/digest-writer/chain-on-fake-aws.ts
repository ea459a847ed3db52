/**
 * A digest chain on the fake AWS (`../archiver/fake-aws.ts`, which must be installed first): objects staged and
 * archived through the real archiver, periods sealed through the real digest writer, with hour-long periods, the
 * staging bucket `staging` and the ledger table `ledger`. The verify paths (the CLI, the scheduled review) and the
 * forgery tests read what these write.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { type ArchiveOutcome, type ArchiverDeps, archiveObject } from "../../../lambdas/archiver/archive.js";
import type { Signer, Verifier } from "../../../lambdas/core/digest/signer.js";
import { type VerifyReport, verifyArchive } from "../../../lambdas/core/digest/verify.js";
import { type DigestWriterDeps, startChain } from "../../../lambdas/digest-writer/write-digests.js";
import { s3ArchiveReader } from "../../../lambdas/shared/s3-archive.js";
import type { FakeS3 } from "../archiver/fake-aws.js";
import { HOUR } from "../core/digest/local-archive-helpers.js";

export const STAGING = "staging";
export const LEDGER = "ledger";

/** Clients the fakes answer (they never reach AWS). */
export const fakeClients = () => ({
  s3: new S3Client({ region: "eu-west-1" }),
  dynamo: new DynamoDBClient({ region: "eu-west-1" }),
});

/** The archiver's dependencies for archiving into `bucket` at `atMs`. */
export function archiverDeps(bucket: string, atMs: number): ArchiverDeps {
  return {
    ...fakeClients(),
    archiveBucketName: bucket,
    ledgerTableName: LEDGER,
    periodMs: HOUR,
    now: () => atMs,
  };
}

/** The digest writer's dependencies for sealing `bucket` with `signer`, by the clock `now`, never out of time. */
export function digestWriterDeps(
  bucket: string,
  signer: Signer,
  now: () => number,
  overrides: Partial<DigestWriterDeps> = {},
): DigestWriterDeps {
  return {
    ...fakeClients(),
    signer,
    archiveBucketName: bucket,
    stagingBucketName: STAGING,
    ledgerTableName: LEDGER,
    periodMs: HOUR,
    now,
    hasTimeLeft: () => true,
    ...overrides,
  };
}

/**
 * Stages `content` at `key` and archives it into `bucket` at `atMs` through the real archiver. The chain is started
 * at that period first unless it has started already: the digest writer starts it on its first run, and the
 * archiver never writes the head.
 */
export async function stageAndArchive(
  s3: FakeS3,
  bucket: string,
  key: string,
  content: string,
  atMs: number,
): Promise<ArchiveOutcome> {
  s3.now = () => new Date(atMs);
  s3.put(STAGING, key, content);
  await startChain(fakeClients().dynamo, LEDGER, Math.floor(atMs / HOUR) * HOUR);
  return archiveObject(archiverDeps(bucket, atMs), { bucket: STAGING, key });
}

/** `verifyArchive` over the fake `bucket` up to `toMs`, the period holding `toMs` counted as still open. */
export function verifyBucket(bucket: string, verifier: Verifier, toMs: number): Promise<VerifyReport> {
  return verifyArchive(s3ArchiveReader(fakeClients().s3, bucket), verifier, {
    toMs,
    pendingFrom: "last-period-start",
  });
}

/** KMS GetPublicKey's answer for the ECC P-256 signing key whose public half is `publicPem`. */
export function kmsPublicKey(publicPem: string) {
  return {
    // The DER SubjectPublicKeyInfo, as KMS returns it.
    PublicKey: new Uint8Array(
      Buffer.from(publicPem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64"),
    ),
    KeySpec: "ECC_NIST_P256",
    KeyUsage: "SIGN_VERIFY",
  } as const;
}
