/**
 * Closes every period whose end has passed, in order, and writes its signed digest into the archive.
 *
 * Why concurrency cannot fork the chain:
 * 1. Closing period P is one conditional update of the chain head: `nextPeriodStartMs = P` and `sequence = n`
 *    and no period being sealed → `nextPeriodStartMs = end(P)`, `sealingPeriodStartMs = P`. Only one writer
 *    wins; from then on the archiver's transaction (which checks `nextPeriodStartMs <= period`) can no longer
 *    add records to P, so P's records are final.
 * 2. The digest of P has one key, written with `IfNoneMatch: "*"`: a second writer resuming the same state
 *    finds it and adopts it only if it holds the same period, sequence, link and objects.
 * 3. The head moves to sequence n + 1 with the digest's hash only under `sealingPeriodStartMs = P` and
 *    `sequence = n`; the next digest links to the hash stored there. There is never a second digest for a
 *    sequence number or a period.
 * A writer that crashes between steps leaves `sealingPeriodStartMs` set; the next run resumes there.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { canonicalJson } from "../core/digest/canonical.js";
import { type SealedDigest, sealDigest } from "../core/digest/chain.js";
import { DigestFormatError, type DigestObject, parseDigest, sha256Hex } from "../core/digest/format.js";
import { HEAD_KEY, type HeadItem, PERIOD_OBJECT_PREFIX, periodPartition } from "../core/digest/ledger.js";
import { isoUtc, periodEndFor, periodStartFor } from "../core/digest/period.js";
import type { Signer } from "../core/digest/signer.js";

export interface DigestWriterDeps {
  readonly s3: S3Client;
  readonly dynamo: DynamoDBClient;
  readonly signer: Signer;
  readonly archiveBucketName: string;
  /**
   * Firehose's staging bucket: an object is sealed only if staging holds an object of the same size at its key
   * (what the archiver copied), so an archive object and ledger item written by anything else stay unsealed.
   */
  readonly stagingBucketName: string;
  readonly ledgerTableName: string;
  readonly periodMs: number;
  readonly now: () => number;
  /** Stop starting new periods when this returns false (the invocation is running out of time). */
  readonly hasTimeLeft: () => boolean;
}

export interface WrittenDigest {
  readonly key: string;
  readonly sequence: number;
  readonly periodStart: string;
  readonly objectCount: number;
  readonly adopted: boolean;
  /** Ledger records of the period left out of the digest, each with the reason (verify reports their objects). */
  readonly refused: readonly RefusedObject[];
}

export interface RefusedObject {
  readonly key: string;
  readonly reason: string;
}

export class ChainConflictError extends Error {
  override readonly name = "ChainConflictError";
}

const headKey: Record<string, AttributeValue> = { pk: { S: HEAD_KEY.pk }, sk: { S: HEAD_KEY.sk } };

/** Starts the chain at `periodStartMs` unless it has started already. Only the digest writer writes the head. */
export async function startChain(
  dynamo: DynamoDBClient,
  tableName: string,
  periodStartMs: number,
): Promise<void> {
  try {
    await dynamo.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { ...headKey, nextPeriodStartMs: { N: String(periodStartMs) }, sequence: { N: "0" } },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  } catch (error: unknown) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === "NotFound" || error.name === "NoSuchKey" || error.$metadata.httpStatusCode === 404)
  );
}

/**
 * Splits a period's records into those Firehose staged (staging holds an object of the recorded size at the key)
 * and the rest, which are left out of the digest with a reason.
 */
async function stagedOnly(
  deps: DigestWriterDeps,
  objects: readonly DigestObject[],
): Promise<{ sealed: DigestObject[]; refused: RefusedObject[] }> {
  const sealed: DigestObject[] = [];
  const refused: RefusedObject[] = [];
  for (const object of objects) {
    let size: number | undefined;
    try {
      const head = await deps.s3.send(
        new HeadObjectCommand({ Bucket: deps.stagingBucketName, Key: object.key }),
      );
      size = head.ContentLength;
    } catch (error: unknown) {
      if (!isNotFound(error)) throw error;
      refused.push({ key: object.key, reason: "the staging bucket holds no object at this key" });
      continue;
    }
    if (size !== object.size) {
      refused.push({
        key: object.key,
        reason: `the staged object has ${size ?? "an unknown number of"} bytes, the ledger records ${object.size}`,
      });
      continue;
    }
    sealed.push(object);
  }
  return { sealed, refused };
}

async function readHead(deps: DigestWriterDeps): Promise<HeadItem | undefined> {
  const result = await deps.dynamo.send(
    new GetItemCommand({ TableName: deps.ledgerTableName, Key: headKey, ConsistentRead: true }),
  );
  const item = result.Item;
  if (item === undefined) return undefined;
  const num = (name: string): number | undefined =>
    item[name]?.N === undefined ? undefined : Number(item[name]?.N);
  const nextPeriodStartMs = num("nextPeriodStartMs");
  const sequence = num("sequence");
  if (nextPeriodStartMs === undefined || sequence === undefined) {
    throw new ChainConflictError(
      `ledger ${deps.ledgerTableName}: chain head lacks nextPeriodStartMs or sequence`,
    );
  }
  const sealing = num("sealingPeriodStartMs");
  return {
    nextPeriodStartMs,
    sequence,
    ...(item.lastDigestKey?.S ? { lastDigestKey: item.lastDigestKey.S } : {}),
    ...(item.lastDigestSha256?.S ? { lastDigestSha256: item.lastDigestSha256.S } : {}),
    ...(sealing === undefined ? {} : { sealingPeriodStartMs: sealing }),
  };
}

async function conditional(update: () => Promise<unknown>): Promise<boolean> {
  try {
    await update();
    return true;
  } catch (error: unknown) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

async function periodObjects(deps: DigestWriterDeps, periodStartMs: number): Promise<DigestObject[]> {
  const objects: DigestObject[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await deps.dynamo.send(
      new QueryCommand({
        TableName: deps.ledgerTableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: {
          ":pk": { S: periodPartition(periodStartMs) },
          ":prefix": { S: PERIOD_OBJECT_PREFIX },
        },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const key = item.key?.S;
      const versionId = item.versionId?.S;
      const size = item.size?.N;
      const sha256 = item.sha256?.S;
      const archivedAt = item.archivedAt?.S;
      if (!key || !versionId || size === undefined || !sha256 || !archivedAt) {
        throw new ChainConflictError(
          `ledger ${deps.ledgerTableName}: item ${item.pk?.S}/${item.sk?.S} lacks key, versionId, size, sha256 or archivedAt`,
        );
      }
      objects.push({ key, versionId, size: Number(size), sha256, archivedAt });
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return objects;
}

function sameContent(a: SealedDigest["digest"], b: SealedDigest["digest"]): boolean {
  const strip = ({ signature: _s, signingKeyId: _k, ...rest }: SealedDigest["digest"]) => rest;
  return canonicalJson(strip(a) as never) === canonicalJson(strip(b) as never);
}

/** Writes the digest once; if it exists already, adopts it when it says the same thing. */
async function putDigest(
  deps: DigestWriterDeps,
  sealed: SealedDigest,
): Promise<{ sha256: string; adopted: boolean }> {
  try {
    await deps.s3.send(
      new PutObjectCommand({
        Bucket: deps.archiveBucketName,
        Key: sealed.key,
        Body: sealed.bytes,
        ContentType: "application/json",
        ChecksumAlgorithm: "SHA256",
        IfNoneMatch: "*",
      }),
    );
    return { sha256: sealed.sha256, adopted: false };
  } catch (error: unknown) {
    const precondition =
      error instanceof S3ServiceException &&
      (error.name === "PreconditionFailed" || error.$metadata.httpStatusCode === 412);
    if (!precondition) throw error;
  }
  const existing = await deps.s3.send(
    new GetObjectCommand({ Bucket: deps.archiveBucketName, Key: sealed.key }),
  );
  const bytes = await existing.Body?.transformToByteArray();
  if (bytes === undefined) throw new ChainConflictError(`${sealed.key}: exists but has no body`);
  let digest: SealedDigest["digest"];
  try {
    digest = parseDigest(bytes, `s3://${deps.archiveBucketName}/${sealed.key}`);
  } catch (error: unknown) {
    if (!(error instanceof DigestFormatError)) throw error;
    throw new ChainConflictError(
      `${sealed.key}: the key of the digest of period ${sealed.digest.periodStart} holds an object that is not a ` +
        `digest (${bytes.length} bytes: ${error.message}); the chain cannot continue past this period until an ` +
        "operator resolves it (see docs/digest-format.md, 'A digest key holds something else')",
    );
  }
  if (!sameContent(digest, sealed.digest)) {
    throw new ChainConflictError(
      `${sealed.key}: a different digest already exists for period ${sealed.digest.periodStart} ` +
        `(sequence ${digest.sequence}, ${digest.objects.length} objects; expected sequence ${sealed.digest.sequence}, ` +
        `${sealed.digest.objects.length} objects)`,
    );
  }
  return { sha256: sha256Hex(bytes), adopted: true };
}

async function sealPeriod(
  deps: DigestWriterDeps,
  head: HeadItem,
  periodStartMs: number,
): Promise<WrittenDigest | undefined> {
  const { sealed: objects, refused } = await stagedOnly(deps, await periodObjects(deps, periodStartMs));
  const previousDigest =
    head.lastDigestKey && head.lastDigestSha256
      ? { key: head.lastDigestKey, sha256: head.lastDigestSha256 }
      : null;
  const sealed = await sealDigest(
    {
      sequence: head.sequence + 1,
      periodStartMs,
      periodEndMs: head.nextPeriodStartMs,
      previousDigest,
      objects,
    },
    deps.signer,
  );
  const written = await putDigest(deps, sealed);
  const recorded = await conditional(() =>
    deps.dynamo.send(
      new UpdateItemCommand({
        TableName: deps.ledgerTableName,
        Key: headKey,
        UpdateExpression:
          "SET #seq = :next, lastDigestKey = :key, lastDigestSha256 = :sha REMOVE sealingPeriodStartMs",
        ConditionExpression: "sealingPeriodStartMs = :period AND #seq = :seq",
        ExpressionAttributeNames: { "#seq": "sequence" },
        ExpressionAttributeValues: {
          ":next": { N: String(head.sequence + 1) },
          ":key": { S: sealed.key },
          ":sha": { S: written.sha256 },
          ":period": { N: String(periodStartMs) },
          ":seq": { N: String(head.sequence) },
        },
      }),
    ),
  );
  if (!recorded) return undefined;
  return {
    key: sealed.key,
    sequence: head.sequence + 1,
    periodStart: isoUtc(periodStartMs),
    objectCount: objects.length,
    adopted: written.adopted,
    refused,
  };
}

/** Closes and seals every period whose end is at or before now, oldest first. */
export async function writeDueDigests(deps: DigestWriterDeps): Promise<WrittenDigest[]> {
  const written: WrittenDigest[] = [];
  let head = await readHead(deps);
  if (head === undefined) {
    await startChain(deps.dynamo, deps.ledgerTableName, periodStartFor(deps.now(), deps.periodMs));
    head = await readHead(deps);
  }
  while (head !== undefined && deps.hasTimeLeft()) {
    if (head.sealingPeriodStartMs !== undefined) {
      const digest = await sealPeriod(deps, head, head.sealingPeriodStartMs);
      if (digest !== undefined) written.push(digest);
      head = await readHead(deps);
      continue;
    }
    const start = head.nextPeriodStartMs;
    const end = periodEndFor(start, deps.periodMs);
    if (end > deps.now()) break;
    const current = head;
    await conditional(() =>
      deps.dynamo.send(
        new UpdateItemCommand({
          TableName: deps.ledgerTableName,
          Key: headKey,
          UpdateExpression: "SET nextPeriodStartMs = :end, sealingPeriodStartMs = :start",
          ConditionExpression:
            "nextPeriodStartMs = :start AND #seq = :seq AND attribute_not_exists(sealingPeriodStartMs)",
          ExpressionAttributeNames: { "#seq": "sequence" },
          ExpressionAttributeValues: {
            ":end": { N: String(end) },
            ":start": { N: String(start) },
            ":seq": { N: String(current.sequence) },
          },
        }),
      ),
    );
    head = await readHead(deps);
  }
  return written;
}
