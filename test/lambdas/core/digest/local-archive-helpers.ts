/** Test helpers: a local archive in a temporary directory, with a real ECDSA P-256 key pair. */
import { generateKeyPairSync } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { digestLocalArchive, localArchiveReader } from "../../../../lambdas/core/digest/local-archive.js";
import { nodeSigner, nodeVerifier } from "../../../../lambdas/core/digest/signer.js";
import { type VerifyReport, verifyArchive } from "../../../../lambdas/core/digest/verify.js";

export const HOUR = 3_600_000;

export function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const privatePem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const publicPem = publicKey.export({ format: "pem", type: "spki" }).toString();
  return { privatePem, publicPem, signer: nodeSigner(privatePem), verifier: nodeVerifier(publicPem) };
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "audit-trail-digest-"));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export async function writeObject(
  root: string,
  key: string,
  content: string | Uint8Array,
  mtimeMs: number,
): Promise<void> {
  const path = join(root, key);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  await utimes(path, mtimeMs / 1000, mtimeMs / 1000);
}

export async function readObject(root: string, key: string): Promise<Buffer> {
  return readFile(join(root, key));
}

/** Writes `files` with their modification times and seals every period up to `untilMs`. */
export async function buildArchive(
  root: string,
  files: Readonly<Record<string, { content: string | Uint8Array; atMs: number }>>,
  signer: ReturnType<typeof keyPair>["signer"],
  untilMs: number,
) {
  for (const [key, { content, atMs }] of Object.entries(files)) await writeObject(root, key, content, atMs);
  return digestLocalArchive({ root, signer, periodMs: HOUR, untilMs });
}

export function verifyDir(
  root: string,
  verifier: ReturnType<typeof keyPair>["verifier"],
  toMs?: number,
): Promise<VerifyReport> {
  return verifyArchive(localArchiveReader(root), verifier, {
    pendingFrom: "last-period-end",
    ...(toMs === undefined ? {} : { toMs }),
  });
}

/**
 * A sealed local copy as `audit-trail verify --dir` reads it: in `dir`, `archive/` holding `documents/a` (a minute
 * into the period starting at `startMs`) and `documents/b` (a minute into the next), both periods sealed by `keys`,
 * and their public key in `public.pem`. Returns verify's arguments for it.
 */
export async function sealedTwoPeriodCopy(
  dir: string,
  keys: ReturnType<typeof keyPair>,
  startMs: number,
): Promise<string[]> {
  await buildArchive(
    join(dir, "archive"),
    {
      "documents/a": { content: "alpha", atMs: startMs + 60_000 },
      "documents/b": { content: "bravo", atMs: startMs + HOUR + 60_000 },
    },
    keys.signer,
    startMs + 2 * HOUR,
  );
  await writeFile(join(dir, "public.pem"), keys.publicPem);
  return ["--dir", join(dir, "archive"), "--public-key", join(dir, "public.pem")];
}
