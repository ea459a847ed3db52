/**
 * The digest file: what it holds, where it lives, and how its bytes are produced and read back.
 * See docs/digest-format.md.
 */
import { createHash } from "node:crypto";
import * as z from "zod";
import { ARCHIVE_PREFIXES } from "../contracts.js";
import { errorMessage } from "../errors.js";
import { type CanonicalValue, canonicalBytes } from "./canonical.js";
import { isoUtc } from "./period.js";

export const DIGEST_FORMAT = "mesh-audit-trail/digest@1";
export const SIGNATURE_ALGORITHM = "ECDSA_SHA_256";

/** One archived object as recorded when it was written. `sha256` is lower-case hex. */
export interface DigestObject {
  readonly key: string;
  /** S3 version id; `null` for a local archive without versions. */
  readonly versionId: string | null;
  readonly size: number;
  readonly sha256: string;
  /** When the object was recorded (ISO 8601 UTC). */
  readonly archivedAt: string;
}

export interface DigestLink {
  readonly key: string;
  /** SHA-256 (hex) of the previous digest file's exact bytes. */
  readonly sha256: string;
}

/** Everything the signature covers. */
export interface UnsignedDigest {
  readonly format: typeof DIGEST_FORMAT;
  readonly sequence: number;
  readonly chainStart: boolean;
  readonly periodStart: string;
  readonly periodEnd: string;
  readonly previousDigest: DigestLink | null;
  readonly objects: readonly DigestObject[];
  readonly signingKeyId: string;
  readonly signatureAlgorithm: typeof SIGNATURE_ALGORITHM;
}

export interface Digest extends UnsignedDigest {
  /** Base64 of the DER-encoded ECDSA P-256 signature over `canonicalBytes(unsigned digest)`. */
  readonly signature: string;
}

export class DigestFormatError extends Error {
  override readonly name = "DigestFormatError";
}

const HEX64 = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

const digestSchema = z.strictObject({
  format: z.literal(DIGEST_FORMAT),
  sequence: z.number().int().min(1),
  chainStart: z.boolean(),
  periodStart: z.string().regex(ISO),
  periodEnd: z.string().regex(ISO),
  previousDigest: z.strictObject({ key: z.string().min(1), sha256: z.string().regex(HEX64) }).nullable(),
  objects: z.array(
    z.strictObject({
      key: z.string().min(1),
      versionId: z.string().min(1).nullable(),
      size: z.number().int().min(0),
      sha256: z.string().regex(HEX64),
      archivedAt: z.string().regex(ISO),
    }),
  ),
  signingKeyId: z.string().min(1),
  signatureAlgorithm: z.literal(SIGNATURE_ALGORITHM),
  signature: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/),
});

/** `digests/YYYY/MM/DD/YYYYMMDDTHHMMSSZ.json` (ISO 8601 basic format: no colons, safe on every file system). */
export function digestKey(periodStartMs: number): string {
  const iso = isoUtc(periodStartMs);
  const [date = "", time = ""] = iso.split("T");
  const [year, month, day] = date.split("-");
  return `${ARCHIVE_PREFIXES.digests}${year}/${month}/${day}/${date.replaceAll("-", "")}T${time.replaceAll(":", "")}.json`;
}

const DIGEST_KEY = /^digests\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\.json$/;

/** The period start a digest key names, or `undefined` when the key is not a digest key. */
export function periodStartFromDigestKey(key: string): number | undefined {
  const m = DIGEST_KEY.exec(key);
  if (!m || m[1] !== m[4] || m[2] !== m[5] || m[3] !== m[6]) return undefined;
  const ms = Date.parse(`${m[4]}-${m[5]}-${m[6]}T${m[7]}:${m[8]}:${m[9]}Z`);
  return Number.isNaN(ms) || digestKey(ms) !== key ? undefined : ms;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Objects in digest order: by key, then version id. */
export function sortObjects(objects: readonly DigestObject[]): DigestObject[] {
  return [...objects].sort((a, b) =>
    a.key < b.key ? -1 : a.key > b.key ? 1 : (a.versionId ?? "") < (b.versionId ?? "") ? -1 : 1,
  );
}

export interface UnsignedDigestInput {
  readonly sequence: number;
  readonly periodStartMs: number;
  readonly periodEndMs: number;
  readonly previousDigest: DigestLink | null;
  readonly objects: readonly DigestObject[];
  readonly signingKeyId: string;
}

export function unsignedDigest(input: UnsignedDigestInput): UnsignedDigest {
  if (input.periodEndMs <= input.periodStartMs) {
    throw new DigestFormatError(
      `period end ${isoUtc(input.periodEndMs)} is not after its start ${isoUtc(input.periodStartMs)}`,
    );
  }
  return {
    format: DIGEST_FORMAT,
    sequence: input.sequence,
    chainStart: input.previousDigest === null,
    periodStart: isoUtc(input.periodStartMs),
    periodEnd: isoUtc(input.periodEndMs),
    previousDigest: input.previousDigest,
    objects: sortObjects(input.objects),
    signingKeyId: input.signingKeyId,
    signatureAlgorithm: SIGNATURE_ALGORITHM,
  };
}

/** The bytes the signature covers: canonical JSON of every field but `signature`. */
export function signedBytes(digest: UnsignedDigest): Uint8Array {
  const { signature: _ignored, ...unsigned } = digest as Digest;
  return canonicalBytes(unsigned as unknown as CanonicalValue);
}

/** The file's bytes: the canonical JSON of the whole digest, newline-terminated. */
export function serializeDigest(digest: Digest): Uint8Array {
  return new TextEncoder().encode(
    `${new TextDecoder().decode(canonicalBytes(digest as unknown as CanonicalValue))}\n`,
  );
}

/** Reads a digest file; throws a `DigestFormatError` naming the source and the offending field. */
export function parseDigest(bytes: Uint8Array, source: string): Digest {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error: unknown) {
    throw new DigestFormatError(`${source}: not a JSON document (${errorMessage(error)})`);
  }
  const result = digestSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join(".") || "(root)";
    throw new DigestFormatError(`${source}: field '${field}': ${issue?.message ?? "invalid"}`);
  }
  return result.data;
}
