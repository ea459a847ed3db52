/**
 * In-memory stand-ins for the parts of S3 and DynamoDB the archiver and the digest writer use, wired in with
 * aws-sdk-client-mock. They enforce what the code relies on (versioning, `IfNoneMatch: "*"`, SHA-256
 * checksums, condition expressions, transaction cancellation reasons), so tests exercise real outcomes
 * rather than canned replies.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import {
  GetObjectAttributesCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";

type Item = Record<string, AttributeValue>;

export interface StoredObjectVersion {
  readonly versionId: string;
  readonly body: Uint8Array;
  readonly sha256Base64?: string;
  readonly lastModified: Date;
  readonly deleteMarker?: boolean;
}

export function body(bytes: Uint8Array) {
  return Object.assign(Readable.from([Buffer.from(bytes)]), {
    transformToByteArray: async () => bytes,
    transformToString: async () => Buffer.from(bytes).toString("utf8"),
  });
}

async function readBody(value: unknown): Promise<Uint8Array> {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return new TextEncoder().encode(value);
  if (value instanceof Readable) {
    const chunks: Buffer[] = [];
    for await (const chunk of value) chunks.push(Buffer.from(chunk as Buffer));
    return new Uint8Array(Buffer.concat(chunks));
  }
  throw new Error(`fake S3: unsupported body ${typeof value}`);
}

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: "client",
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

export class FakeS3 {
  readonly buckets = new Map<string, Map<string, StoredObjectVersion[]>>();
  readonly mock = mockClient(S3Client);
  private counter = 0;
  /** Simulated clock for LastModified. */
  now = () => new Date();

  constructor() {
    this.mock.on(PutObjectCommand).callsFake(async (input) => {
      const bytes = await readBody(input.Body);
      const versions = this.versions(input.Bucket, input.Key);
      const latest = versions.at(-1);
      if (input.IfNoneMatch === "*" && latest !== undefined && !latest.deleteMarker)
        throw s3Error("PreconditionFailed", 412);
      const sha256Base64 =
        input.ChecksumAlgorithm === "SHA256"
          ? createHash("sha256").update(bytes).digest("base64")
          : undefined;
      const version: StoredObjectVersion = {
        versionId: `v${++this.counter}`,
        body: bytes,
        lastModified: this.now(),
        ...(sha256Base64 ? { sha256Base64 } : {}),
      };
      versions.push(version);
      return { VersionId: version.versionId, ...(sha256Base64 ? { ChecksumSHA256: sha256Base64 } : {}) };
    });
    this.mock.on(GetObjectCommand).callsFake(async (input) => {
      const version = this.find(input.Bucket, input.Key, input.VersionId);
      return {
        Body: body(version.body),
        ContentLength: version.body.length,
        VersionId: version.versionId,
        ContentType: "application/json",
      };
    });
    this.mock.on(HeadObjectCommand).callsFake(async (input) => {
      const version = this.find(input.Bucket, input.Key, input.VersionId);
      return {
        ContentLength: version.body.length,
        VersionId: version.versionId,
        ChecksumSHA256: version.sha256Base64,
      };
    });
    this.mock.on(GetObjectAttributesCommand).callsFake(async (input) => {
      const version = this.find(input.Bucket, input.Key, input.VersionId);
      return {
        ObjectSize: version.body.length,
        VersionId: version.versionId,
        ...(version.sha256Base64 ? { Checksum: { ChecksumSHA256: version.sha256Base64 } } : {}),
      };
    });
    this.mock.on(ListObjectVersionsCommand).callsFake(async (input) => {
      // Pages of two entries, to exercise pagination.
      const all = [...(this.buckets.get(input.Bucket ?? "") ?? new Map<string, StoredObjectVersion[]>())]
        .filter(([key]) => key.startsWith(input.Prefix ?? ""))
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .flatMap(([key, list]) => list.map((v) => ({ key, v })));
      const start =
        input.KeyMarker === undefined
          ? 0
          : all.findIndex((e) => e.key === input.KeyMarker && e.v.versionId === input.VersionIdMarker) + 1;
      const page = all.slice(start, start + 2);
      const last = page.at(-1);
      const truncated = start + 2 < all.length;
      return {
        Versions: page
          .filter((e) => !e.v.deleteMarker)
          .map((e) => ({
            Key: e.key,
            VersionId: e.v.versionId,
            LastModified: e.v.lastModified,
            Size: e.v.body.length,
          })),
        DeleteMarkers: page
          .filter((e) => e.v.deleteMarker)
          .map((e) => ({ Key: e.key, VersionId: e.v.versionId, LastModified: e.v.lastModified })),
        IsTruncated: truncated,
        ...(truncated && last ? { NextKeyMarker: last.key, NextVersionIdMarker: last.v.versionId } : {}),
      };
    });
  }

  versions(bucket: string | undefined, key: string | undefined): StoredObjectVersion[] {
    const objects = this.buckets.get(bucket ?? "") ?? new Map<string, StoredObjectVersion[]>();
    this.buckets.set(bucket ?? "", objects);
    const list = objects.get(key ?? "") ?? [];
    objects.set(key ?? "", list);
    return list;
  }

  put(
    bucket: string,
    key: string,
    content: string | Uint8Array,
    options: { checksum?: boolean; lastModified?: Date } = {},
  ): StoredObjectVersion {
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
    const version: StoredObjectVersion = {
      versionId: `v${++this.counter}`,
      body: bytes,
      lastModified: options.lastModified ?? this.now(),
      ...(options.checksum ? { sha256Base64: createHash("sha256").update(bytes).digest("base64") } : {}),
    };
    this.versions(bucket, key).push(version);
    return version;
  }

  /** What `DeleteObject` without a version id does in a versioned bucket. */
  addDeleteMarker(bucket: string, key: string): void {
    this.versions(bucket, key).push({
      versionId: `v${++this.counter}`,
      body: new Uint8Array(),
      lastModified: this.now(),
      deleteMarker: true,
    });
  }

  keys(bucket: string, prefix = ""): string[] {
    return [...(this.buckets.get(bucket)?.keys() ?? [])]
      .filter((k) => k.startsWith(prefix) && (this.buckets.get(bucket)?.get(k)?.length ?? 0) > 0)
      .sort();
  }

  private find(
    bucket: string | undefined,
    key: string | undefined,
    versionId: string | undefined,
  ): StoredObjectVersion {
    const list = this.buckets.get(bucket ?? "")?.get(key ?? "") ?? [];
    const version = versionId === undefined ? list.at(-1) : list.find((v) => v.versionId === versionId);
    if (version === undefined || version.deleteMarker)
      throw s3Error(versionId ? "NoSuchVersion" : "NoSuchKey", 404);
    return version;
  }
}

function itemKey(key: Item | undefined): string {
  return `${key?.pk?.S}|${key?.sk?.S}`;
}

function compare(a: AttributeValue | undefined, b: AttributeValue | undefined): number | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (a.N !== undefined && b.N !== undefined) return Number(a.N) - Number(b.N);
  if (a.S !== undefined && b.S !== undefined) return a.S < b.S ? -1 : a.S > b.S ? 1 : 0;
  return undefined;
}

interface Expression {
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, AttributeValue>;
}

/** Evaluates the `AND`-joined conditions the code uses: attribute_(not_)exists, =, <=. */
export function conditionHolds(item: Item | undefined, expression: Expression): boolean {
  if (!expression.ConditionExpression) return true;
  const name = (token: string) => expression.ExpressionAttributeNames?.[token] ?? token;
  return expression.ConditionExpression.split(/\s+AND\s+/).every((clause) => {
    const exists = /^attribute_(not_)?exists\((\S+)\)$/.exec(clause.trim());
    if (exists) {
      const present = item?.[name(exists[2] ?? "")] !== undefined;
      return exists[1] ? !present : present;
    }
    const binary = /^(\S+)\s*(=|<=)\s*(:\S+)$/.exec(clause.trim());
    if (!binary) throw new Error(`fake DynamoDB: unsupported condition '${clause}'`);
    const result = compare(
      item?.[name(binary[1] ?? "")],
      expression.ExpressionAttributeValues?.[binary[3] ?? ""],
    );
    if (result === undefined) return false;
    return binary[2] === "=" ? result === 0 : result <= 0;
  });
}

function conditionFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({ $metadata: {}, message: "The conditional request failed" });
}

export class FakeLedger {
  readonly items = new Map<string, Item>();
  readonly mock = mockClient(DynamoDBClient);
  /** Called before each transaction is applied (to interleave another writer). */
  beforeTransaction: (() => Promise<void> | void) | undefined;
  /** Called before each update is applied; throw from it to simulate a crash. */
  beforeUpdate: ((input: UpdateItemCommandInput) => void) | undefined;

  constructor() {
    this.mock.on(GetItemCommand).callsFake(async (input) => {
      const item = this.items.get(itemKey(input.Key));
      return item === undefined ? {} : { Item: structuredClone(item) };
    });
    this.mock.on(PutItemCommand).callsFake(async (input) => {
      const key = itemKey(input.Item);
      if (!conditionHolds(this.items.get(key), input)) throw conditionFailed();
      this.items.set(key, structuredClone(input.Item ?? {}));
      return {};
    });
    this.mock.on(UpdateItemCommand).callsFake(async (input: UpdateItemCommandInput) => {
      this.beforeUpdate?.(input);
      const key = itemKey(input.Key);
      const current = this.items.get(key);
      if (!conditionHolds(current, input)) throw conditionFailed();
      const next: Item = structuredClone(current ?? { ...input.Key });
      const name = (token: string) => input.ExpressionAttributeNames?.[token] ?? token;
      const [setPart = "", removePart = ""] = (input.UpdateExpression ?? "")
        .replace(/^SET\s+/, "")
        .split(/\s+REMOVE\s+/);
      for (const assignment of setPart.split(",")) {
        const [attribute = "", value = ""] = assignment.split("=").map((t) => t.trim());
        const v = input.ExpressionAttributeValues?.[value];
        if (v === undefined) throw new Error(`fake DynamoDB: unsupported update '${assignment}'`);
        next[name(attribute)] = v;
      }
      for (const attribute of removePart
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean))
        delete next[name(attribute)];
      this.items.set(key, next);
      return {};
    });
    this.mock.on(TransactWriteItemsCommand).callsFake(async (input: TransactWriteItemsCommandInput) => {
      await this.beforeTransaction?.();
      const actions = input.TransactItems ?? [];
      const reasons = actions.map((action) => {
        const operation = action.Put ?? action.ConditionCheck;
        if (operation === undefined)
          throw new Error("fake DynamoDB: only Put and ConditionCheck are supported");
        const key = itemKey(action.Put ? action.Put.Item : action.ConditionCheck?.Key);
        return conditionHolds(this.items.get(key), operation)
          ? { Code: "None" }
          : { Code: "ConditionalCheckFailed" };
      });
      if (reasons.some((r) => r.Code !== "None")) {
        throw new TransactionCanceledException({
          $metadata: {},
          message: "Transaction cancelled",
          CancellationReasons: reasons,
        });
      }
      for (const action of actions)
        if (action.Put?.Item) this.items.set(itemKey(action.Put.Item), structuredClone(action.Put.Item));
      return {};
    });
    this.mock.on(QueryCommand).callsFake(async (input) => {
      const pk = input.ExpressionAttributeValues?.[":pk"]?.S;
      const prefix = input.ExpressionAttributeValues?.[":prefix"]?.S ?? "";
      const matching = [...this.items.values()]
        .filter((item) => item.pk?.S === pk && (item.sk?.S ?? "").startsWith(prefix))
        .sort((a, b) => ((a.sk?.S ?? "") < (b.sk?.S ?? "") ? -1 : 1));
      const start = input.ExclusiveStartKey
        ? matching.findIndex((i) => itemKey(i) === itemKey(input.ExclusiveStartKey)) + 1
        : 0;
      // Pages of two items, to exercise pagination.
      const page = matching.slice(start, start + 2);
      const last = page.at(-1);
      return {
        Items: structuredClone(page),
        ...(start + 2 < matching.length && last
          ? { LastEvaluatedKey: { pk: last.pk as AttributeValue, sk: last.sk as AttributeValue } }
          : {}),
      };
    });
  }

  get(pk: string, sk: string): Item | undefined {
    return this.items.get(`${pk}|${sk}`);
  }

  partition(pk: string): Item[] {
    return [...this.items.values()].filter((i) => i.pk?.S === pk);
  }
}
