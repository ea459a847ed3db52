/**
 * Copies one staging object into the Object-Lock archive and records it in the ledger.
 *
 * - The copy streams: the staging body flows through a SHA-256 tap straight into `PutObject`
 *   (`ChecksumAlgorithm: SHA256`, which Object Lock requires), never held in memory. S3's own checksum must
 *   equal the one computed here.
 * - `IfNoneMatch: "*"`: a redelivered message cannot write a second version. If the key already exists (an
 *   earlier attempt wrote it but failed before recording it), the existing object is adopted only when its
 *   S3 checksum equals the staging object's SHA-256.
 * - The ledger record is one transaction: the object's idempotency marker (`attribute_not_exists`), its
 *   period record, and a check that the period is still open on the chain head. A period closed meanwhile
 *   sends the record to the first open period; it is never lost and never written twice.
 * - A redelivered object that is already recorded is checked, not trusted: the archive's object at its key must
 *   hold the staged bytes, so a forgery written there first fails here, loudly.
 * - The archiver never writes the chain head (its role may not): the digest writer starts the chain. Until it
 *   has, objects fail and are retried from the queue.
 */
import { createHash } from "node:crypto";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type PutObjectCommandOutput,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { ARCHIVE_PREFIXES } from "../core/contracts.js";
import { HEAD_KEY, type LedgerObjectItem, objectMarkerKey, periodObjectKey } from "../core/digest/ledger.js";
import { isoUtc, periodStartFor } from "../core/digest/period.js";

export interface ArchiverDeps {
  readonly s3: S3Client;
  readonly dynamo: DynamoDBClient;
  readonly archiveBucketName: string;
  readonly ledgerTableName: string;
  readonly periodMs: number;
  readonly now: () => number;
}

export interface StagingObject {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
}

/** What the archiver records for an object: exactly the ledger's per-period object item. */
export type ArchivedRecord = LedgerObjectItem;

export type ArchiveOutcome =
  | { readonly outcome: "archived"; readonly record: ArchivedRecord }
  | { readonly outcome: "adopted"; readonly record: ArchivedRecord }
  | { readonly outcome: "already-recorded"; readonly key: string };

export class ArchiveError extends Error {
  override readonly name = "ArchiveError";
}

const MAX_RECORD_ATTEMPTS = 8;

function s(value: string): AttributeValue {
  return { S: value };
}
function n(value: number): AttributeValue {
  return { N: String(value) };
}
function keyOf(key: { pk: string; sk: string }): Record<string, AttributeValue> {
  return { pk: s(key.pk), sk: s(key.sk) };
}

function isPreconditionFailure(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === "PreconditionFailed" || error.$metadata.httpStatusCode === 412)
  );
}

/** Streams `body` through a SHA-256/size tap; the returned stream is what the consumer reads. */
function tap(body: Readable): {
  stream: Readable;
  result: () => { sha256: string; size: number };
  /** Settles when the body has been read through; resolves to the stream error, if any. */
  done: Promise<Error | undefined>;
} {
  const hash = createHash("sha256");
  let size = 0;
  const through = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  const done = pipeline(body, through).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  let digest: string | undefined;
  return {
    stream: through,
    done,
    result: () => {
      digest ??= hash.digest("hex");
      return { sha256: digest, size };
    },
  };
}

function hexFromBase64(value: string): string {
  return Buffer.from(value, "base64").toString("hex");
}

async function openStaging(deps: ArchiverDeps, source: StagingObject) {
  const object = await deps.s3.send(
    new GetObjectCommand({ Bucket: source.bucket, Key: source.key, VersionId: source.versionId }),
  );
  if (object.Body === undefined)
    throw new ArchiveError(`s3://${source.bucket}/${source.key}: empty response body`);
  return { object, body: object.Body as Readable };
}

/** Hashes the staging object without keeping it (used when adopting an existing archive object). */
async function hashStaging(
  deps: ArchiverDeps,
  source: StagingObject,
): Promise<{ sha256: string; size: number }> {
  const { body } = await openStaging(deps, source);
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of body) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    hash.update(bytes);
    size += bytes.length;
  }
  return { sha256: hash.digest("hex"), size };
}

async function copyToArchive(
  deps: ArchiverDeps,
  source: StagingObject,
): Promise<{ outcome: "archived" | "adopted"; versionId: string; sha256: string; size: number }> {
  const { object, body } = await openStaging(deps, source);
  const tapped = tap(body);
  let put: PutObjectCommandOutput;
  try {
    put = await deps.s3.send(
      new PutObjectCommand({
        Bucket: deps.archiveBucketName,
        Key: source.key,
        Body: tapped.stream,
        ContentLength: object.ContentLength,
        ContentType: object.ContentType,
        ContentEncoding: object.ContentEncoding,
        ChecksumAlgorithm: "SHA256",
        IfNoneMatch: "*",
      }),
    );
  } catch (error: unknown) {
    tapped.stream.destroy();
    body.destroy();
    if (!isPreconditionFailure(error)) throw error;
    return adoptExisting(deps, source);
  }
  const streamError = await tapped.done;
  if (streamError !== undefined)
    throw new ArchiveError(`${source.key}: reading staging failed: ${streamError.message}`);
  const { sha256, size } = tapped.result();
  if (object.ContentLength !== undefined && size !== object.ContentLength) {
    throw new ArchiveError(
      `${source.key}: read ${size} bytes from staging, expected ${object.ContentLength}`,
    );
  }
  if (put.ChecksumSHA256 !== undefined && hexFromBase64(put.ChecksumSHA256) !== sha256) {
    throw new ArchiveError(
      `${source.key}: S3 stored checksum ${hexFromBase64(put.ChecksumSHA256)}, the streamed bytes hash to ${sha256}`,
    );
  }
  if (put.VersionId === undefined) {
    throw new ArchiveError(
      `${source.key}: the archive returned no version id (is versioning enabled on ${deps.archiveBucketName}?)`,
    );
  }
  return { outcome: "archived", versionId: put.VersionId, sha256, size };
}

async function adoptExisting(
  deps: ArchiverDeps,
  source: StagingObject,
): Promise<{ outcome: "adopted"; versionId: string; sha256: string; size: number }> {
  const head = await deps.s3.send(
    new HeadObjectCommand({ Bucket: deps.archiveBucketName, Key: source.key, ChecksumMode: "ENABLED" }),
  );
  const staged = await hashStaging(deps, source);
  const existing = head.ChecksumSHA256 === undefined ? undefined : hexFromBase64(head.ChecksumSHA256);
  if (existing !== staged.sha256 || head.ContentLength !== staged.size || head.VersionId === undefined) {
    throw new ArchiveError(
      `${source.key}: the archive already holds this key with different content ` +
        `(archive sha256 ${existing ?? "none"}, ${head.ContentLength} bytes; staging sha256 ${staged.sha256}, ${staged.size} bytes)`,
    );
  }
  return { outcome: "adopted", versionId: head.VersionId, ...staged };
}

async function isRecorded(deps: ArchiverDeps, key: string): Promise<boolean> {
  const item = await deps.dynamo.send(
    new GetItemCommand({
      TableName: deps.ledgerTableName,
      Key: keyOf(objectMarkerKey(key)),
      ConsistentRead: true,
    }),
  );
  return item.Item !== undefined;
}

async function readNextPeriodStart(deps: ArchiverDeps): Promise<number | undefined> {
  const head = await deps.dynamo.send(
    new GetItemCommand({ TableName: deps.ledgerTableName, Key: keyOf(HEAD_KEY), ConsistentRead: true }),
  );
  const value = head.Item?.nextPeriodStartMs?.N;
  return value === undefined ? undefined : Number(value);
}

/**
 * Records the object in the first open period; `undefined` when it was already recorded. The chain head must
 * exist: the digest writer creates it on its first run.
 */
async function record(
  deps: ArchiverDeps,
  record: Omit<ArchivedRecord, "periodStartMs" | "archivedAt">,
): Promise<ArchivedRecord | undefined> {
  const nowMs = deps.now();
  let periodStartMs = periodStartFor(nowMs, deps.periodMs);
  for (let attempt = 1; attempt <= MAX_RECORD_ATTEMPTS; attempt++) {
    const archivedAt = isoUtc(deps.now());
    const item: ArchivedRecord = { ...record, archivedAt, periodStartMs };
    try {
      await deps.dynamo.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: deps.ledgerTableName,
                Item: {
                  ...keyOf(objectMarkerKey(record.key)),
                  periodStartMs: n(periodStartMs),
                  versionId: s(record.versionId),
                },
                ConditionExpression: "attribute_not_exists(pk)",
              },
            },
            {
              Put: {
                TableName: deps.ledgerTableName,
                Item: {
                  ...keyOf(periodObjectKey(periodStartMs, record.key)),
                  key: s(record.key),
                  versionId: s(record.versionId),
                  size: n(record.size),
                  sha256: s(record.sha256),
                  archivedAt: s(archivedAt),
                  periodStartMs: n(periodStartMs),
                },
              },
            },
            {
              ConditionCheck: {
                TableName: deps.ledgerTableName,
                Key: keyOf(HEAD_KEY),
                ConditionExpression: "nextPeriodStartMs <= :period",
                ExpressionAttributeValues: { ":period": n(periodStartMs) },
              },
            },
          ],
        }),
      );
      return item;
    } catch (error: unknown) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [marker, , head] = error.CancellationReasons ?? [];
      if (marker?.Code === "ConditionalCheckFailed") return undefined;
      if (head?.Code === "ConditionalCheckFailed") {
        const next = await readNextPeriodStart(deps);
        if (next === undefined) {
          throw new ArchiveError(
            `${record.key}: the digest chain has not started (no chain head in ${deps.ledgerTableName}); ` +
              "the digest writer starts it on its first run, and this object is retried from the queue",
          );
        }
        periodStartMs = Math.max(periodStartMs, next);
        continue;
      }
      if (attempt === MAX_RECORD_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2 ** attempt * 25));
    }
  }
  throw new ArchiveError(
    `${record.key}: could not record the object in the ledger after ${MAX_RECORD_ATTEMPTS} attempts`,
  );
}

export async function archiveObject(deps: ArchiverDeps, source: StagingObject): Promise<ArchiveOutcome> {
  if (source.key.startsWith(ARCHIVE_PREFIXES.digests)) {
    throw new ArchiveError(
      `${source.key}: staging objects under ${ARCHIVE_PREFIXES.digests} are refused; only the digest writer writes there`,
    );
  }
  if (await isRecorded(deps, source.key)) {
    // Only adopt what is there when it holds the staged bytes: a forgery written first is an error, not a success.
    await adoptExisting(deps, source);
    return { outcome: "already-recorded", key: source.key };
  }
  const copied = await copyToArchive(deps, source);
  const recorded = await record(deps, {
    key: source.key,
    versionId: copied.versionId,
    size: copied.size,
    sha256: copied.sha256,
  });
  if (recorded === undefined) return { outcome: "already-recorded", key: source.key };
  return { outcome: copied.outcome, record: recorded };
}
