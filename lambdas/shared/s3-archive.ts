/**
 * The archive in S3 as `verifyArchive` (`lambdas/core/digest/verify.ts`) reads it, and the digest signing key's
 * public key from KMS: shared by `audit-trail verify --bucket`, `audit-trail review -c env=NAME` and the scheduled
 * review (`lambdas/reviewer`). AWS SDK only; nothing of the CLI.
 *
 * Object hashes come from `GetObjectAttributes` (the SHA-256 checksum S3 stored when the archiver wrote the object),
 * digests from `GetObject`, versions and delete markers from `ListObjectVersions`: the whole bucket, or only the
 * given prefixes (the scheduled review lists the digest day prefixes of its period, not the bucket).
 */
import { GetPublicKeyCommand, type KMSClient } from "@aws-sdk/client-kms";
import {
  GetObjectAttributesCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  NoSuchKey,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { ARCHIVE_PREFIXES } from "../core/contracts.js";
import { parseDigest } from "../core/digest/format.js";
import { nodeVerifier, SigningKeyError, type Verifier } from "../core/digest/signer.js";
import type { ArchiveReader, ObjectState, StoredVersion } from "../core/digest/verify.js";

/** An entry of `ListObjectVersions` (a version or a delete marker) as a stored version; one without a key is skipped. */
function pushVersion(
  versions: StoredVersion[],
  entry: { readonly Key?: string; readonly VersionId?: string; readonly LastModified?: Date },
  deleteMarker: boolean,
): void {
  if (entry.Key === undefined) return;
  versions.push({
    key: entry.Key,
    versionId: entry.VersionId ?? "null",
    lastModifiedMs: entry.LastModified?.getTime() ?? 0,
    deleteMarker,
  });
}

function notFound(error: unknown): boolean {
  return (
    error instanceof NoSuchKey ||
    (error instanceof S3ServiceException &&
      (error.name === "NoSuchKey" ||
        error.name === "NoSuchVersion" ||
        error.$metadata.httpStatusCode === 404))
  );
}

export interface S3ArchiveReaderOptions {
  /**
   * List only the versions under these prefixes (one `ListObjectVersions` listing each). Objects outside them are
   * then neither listed nor checked for being named by a digest; the objects the listed digests name are still
   * checked one by one. @default - the whole bucket
   */
  readonly prefixes?: readonly string[];
}

/** The S3 side of `verifyArchive`. Listing is done once and cached. */
export function s3ArchiveReader(
  s3: S3Client,
  bucket: string,
  options: S3ArchiveReaderOptions = {},
): ArchiveReader {
  let listing: Promise<StoredVersion[]> | undefined;
  const listPrefix = async (prefix: string | undefined, versions: StoredVersion[]): Promise<void> => {
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
      const page = await s3.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          ...(prefix === undefined ? {} : { Prefix: prefix }),
          KeyMarker: keyMarker,
          VersionIdMarker: versionIdMarker,
        }),
      );
      for (const v of page.Versions ?? []) pushVersion(versions, v, false);
      for (const m of page.DeleteMarkers ?? []) pushVersion(versions, m, true);
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
  };
  const list = async (): Promise<StoredVersion[]> => {
    const versions: StoredVersion[] = [];
    if (options.prefixes === undefined) await listPrefix(undefined, versions);
    else for (const prefix of options.prefixes) await listPrefix(prefix, versions);
    return versions;
  };
  return {
    listVersions: () => {
      listing ??= list();
      return listing;
    },
    async readDigest(key, versionId) {
      try {
        const object = await s3.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId ?? undefined }),
        );
        return await object.Body?.transformToByteArray();
      } catch (error: unknown) {
        if (notFound(error)) return undefined;
        throw error;
      }
    },
    async objectState(key, versionId): Promise<ObjectState | undefined> {
      try {
        const attributes = await s3.send(
          new GetObjectAttributesCommand({
            Bucket: bucket,
            Key: key,
            VersionId: versionId ?? undefined,
            ObjectAttributes: ["ObjectSize", "Checksum"],
          }),
        );
        const checksum = attributes.Checksum?.ChecksumSHA256;
        const fullObject = checksum !== undefined && !checksum.includes("-");
        return {
          size: attributes.ObjectSize ?? -1,
          sha256: fullObject ? Buffer.from(checksum, "base64").toString("hex") : undefined,
        };
      } catch (error: unknown) {
        if (notFound(error)) return undefined;
        throw error;
      }
    },
  };
}

/**
 * The public key of the KMS key that signed the chain: `keyId`, or the one the earliest digest names. Throws
 * `SigningKeyError` when no digest names a key (and none is given), or the key is not an ECC_NIST_P256 signing key.
 */
export async function kmsVerifier(
  kms: KMSClient,
  reader: ArchiveReader,
  keyId: string | undefined,
): Promise<Verifier & { keyId: string; source: string }> {
  let id = keyId;
  let source = "given with --key-id";
  if (id === undefined) {
    const digests = (await reader.listVersions())
      .filter((v) => v.key.startsWith(ARCHIVE_PREFIXES.digests) && !v.deleteMarker)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.lastModifiedMs - b.lastModifiedMs));
    const first = digests[0];
    const bytes = first === undefined ? undefined : await reader.readDigest(first.key, first.versionId);
    if (first === undefined || bytes === undefined) {
      throw new SigningKeyError("no digest in the bucket names a signing key; pass --public-key or --key-id");
    }
    id = parseDigest(bytes, first.key).signingKeyId;
    source = `named by ${first.key}; pass --key-id or --public-key to pin it`;
  }
  const key = await kms.send(new GetPublicKeyCommand({ KeyId: id }));
  if (key.PublicKey === undefined) throw new SigningKeyError(`KMS key ${id}: GetPublicKey returned no key`);
  if (key.KeySpec !== "ECC_NIST_P256" || key.KeyUsage !== "SIGN_VERIFY") {
    throw new SigningKeyError(
      `KMS key ${id}: expected an ECC_NIST_P256 SIGN_VERIFY key, got ${key.KeySpec} ${key.KeyUsage}`,
    );
  }
  return { ...nodeVerifier(key.PublicKey, `KMS key ${id}`), keyId: id, source };
}
