/**
 * A local copy of the archive: a directory whose relative paths (with `/`) are the object keys, modification
 * times standing in for S3's LastModified (`aws s3 sync` keeps them). Read by `verify --dir`, extended by
 * `audit-trail digest --dir`. Files are hashed as streams.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { ARCHIVE_PREFIXES } from "../contracts.js";
import { errorMessage } from "../errors.js";
import {
  type ChainState,
  type ExtendResult,
  extendChain,
  genesisState,
  type RecordedObject,
} from "./chain.js";
import { parseDigest, periodStartFromDigestKey, sha256Hex } from "./format.js";
import { isoUtc } from "./period.js";
import type { Signer } from "./signer.js";
import type { ArchiveReader, ObjectState, StoredVersion } from "./verify.js";

export class LocalArchiveError extends Error {
  override readonly name = "LocalArchiveError";
}

/** The chain was signed by another key than the one given, and no rotation was asked for. */
export class SigningKeyMismatchError extends LocalArchiveError {}

export interface LocalDigestResult extends ExtendResult {
  /** Set when this run rotated the chain's signing key: the key the last digest before it named. */
  readonly rotatedFrom?: string;
}

async function walk(root: string, dir: string, out: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(root, path, out);
    else if (entry.isFile()) out.push(relative(root, path).split(sep).join("/"));
  }
}

export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}

export function localArchiveReader(root: string): ArchiveReader {
  return {
    async listVersions() {
      let keys: string[] = [];
      try {
        await walk(root, root, keys);
      } catch (error: unknown) {
        throw new LocalArchiveError(`${root}: cannot read the archive directory (${errorMessage(error)})`);
      }
      keys = keys.sort();
      return Promise.all(
        keys.map(
          async (key): Promise<StoredVersion> => ({
            key,
            versionId: null,
            lastModifiedMs: (await stat(join(root, key))).mtimeMs,
            deleteMarker: false,
          }),
        ),
      );
    },
    async readDigest(key) {
      try {
        return new Uint8Array(await readFile(join(root, key)));
      } catch {
        return undefined;
      }
    },
    async objectState(key): Promise<ObjectState | undefined> {
      try {
        return await hashFile(join(root, key));
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * Extends (or starts) the chain over a local directory: every file not yet named by a digest is recorded at
 * its modification time; every period ending at or before `untilMs` is sealed and written under `digests/`.
 */
export async function digestLocalArchive(options: {
  readonly root: string;
  readonly signer: Signer;
  readonly periodMs: number;
  readonly untilMs: number;
  /**
   * Allow the chain to continue under `signer` although its last digest names another key (a deliberate key
   * rotation: verify then needs both public keys). Without it, a chain signed by another key is refused.
   */
  readonly rotateKey?: boolean;
}): Promise<LocalDigestResult> {
  const { root } = options;
  const versions = await localArchiveReader(root).listVersions();
  const digestKeys = versions
    .map((v) => v.key)
    .filter((key) => key.startsWith(ARCHIVE_PREFIXES.digests))
    .sort((a, b) => (periodStartFromDigestKey(a) ?? 0) - (periodStartFromDigestKey(b) ?? 0));
  const named = new Set<string>();
  let state: ChainState | undefined;
  let lastSigner: { key: string; sequence: number; keyId: string } | undefined;
  for (const key of digestKeys) {
    if (periodStartFromDigestKey(key) === undefined) {
      throw new LocalArchiveError(
        `${key}: a file under ${ARCHIVE_PREFIXES.digests} that is not a digest; remove it or move it`,
      );
    }
    const bytes = new Uint8Array(await readFile(join(root, key)));
    const digest = parseDigest(bytes, key);
    lastSigner = { key, sequence: digest.sequence, keyId: digest.signingKeyId };
    for (const object of digest.objects) named.add(object.key);
    state = {
      sequence: digest.sequence,
      nextPeriodStartMs: Date.parse(digest.periodEnd),
      previous: { key, sha256: sha256Hex(bytes) },
    };
  }
  const rotatedFrom =
    lastSigner !== undefined && lastSigner.keyId !== options.signer.keyId ? lastSigner.keyId : undefined;
  if (lastSigner !== undefined && rotatedFrom !== undefined && options.rotateKey !== true) {
    throw new SigningKeyMismatchError(
      `${lastSigner.key} (sequence ${lastSigner.sequence}) was signed by key ${lastSigner.keyId}; ` +
        `the given private key is ${options.signer.keyId}. Extending the chain with it would make verify report ` +
        "bad-signature unless it is given both public keys. Sign with the chain's key, or pass --rotate-key to " +
        "rotate deliberately (keep the old public key: verify needs every key of the chain).",
    );
  }
  const objects: RecordedObject[] = [];
  for (const version of versions) {
    if (version.key.startsWith(ARCHIVE_PREFIXES.digests) || named.has(version.key)) continue;
    const { sha256, size } = await hashFile(join(root, version.key));
    objects.push({
      key: version.key,
      versionId: null,
      size,
      sha256,
      archivedAt: isoUtc(version.lastModifiedMs),
      recordedAtMs: version.lastModifiedMs,
    });
  }
  if (state === undefined) {
    const first = Math.min(...objects.map((o) => o.recordedAtMs));
    if (!Number.isFinite(first))
      return { sealed: [], state: genesisState(options.untilMs, options.periodMs), pending: [] };
    state = genesisState(first, options.periodMs);
  }
  const result = await extendChain({
    state,
    objects,
    periodMs: options.periodMs,
    untilMs: options.untilMs,
    signer: options.signer,
  });
  for (const sealed of result.sealed) {
    const path = join(root, sealed.key);
    await mkdir(dirname(path), { recursive: true });
    try {
      await writeFile(path, sealed.bytes, { flag: "wx" });
    } catch (error: unknown) {
      throw new LocalArchiveError(`${sealed.key}: cannot write the digest (${errorMessage(error)})`);
    }
  }
  return rotatedFrom === undefined || result.sealed.length === 0 ? result : { ...result, rotatedFrom };
}
