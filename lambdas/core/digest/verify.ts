/**
 * Verifying an archive against its digest chain. Works over any `ArchiveReader` (S3 through the CLI, a local
 * directory through `local-archive.ts`), so both paths run the same checks:
 * - every digest parses, sits at the key its period names, and carries a valid signature;
 * - each digest links to the previous one by key and SHA-256, sequence numbers step by one, periods abut
 *   (no time gap, no overlap), the first digest starts the chain;
 * - every object a digest names exists with the recorded size and SHA-256;
 * - every object version in the archive is named by a digest (or is newer than the last sealed period),
 *   no delete marker hides anything, no digest was overwritten.
 */
import { ARCHIVE_PREFIXES } from "../contracts.js";
import {
  type Digest,
  DigestFormatError,
  parseDigest,
  periodStartFromDigestKey,
  sha256Hex,
  signedBytes,
} from "./format.js";
import { isoUtc } from "./period.js";
import type { Verifier } from "./signer.js";

export type FindingKind =
  | "malformed-digest"
  | "misplaced-digest"
  | "bad-signature"
  | "broken-link"
  | "missing-digest"
  | "reordered"
  | "time-gap"
  | "missing-chain-start"
  | "unexpected-chain-start"
  | "digest-overwritten"
  | "missing-object"
  | "modified-object"
  | "duplicate-object"
  | "unexpected-object"
  | "delete-marker";

export interface Finding {
  readonly kind: FindingKind;
  /** The object or digest key the finding is about. */
  readonly key: string;
  readonly versionId?: string | null;
  readonly detail: string;
}

/** `kind key[ version V]: detail`: one line per finding. */
export function formatFinding(finding: Finding): string {
  const version = finding.versionId ? ` (version ${finding.versionId})` : "";
  return `${finding.kind} ${finding.key}${version}: ${finding.detail}`;
}

export interface StoredVersion {
  readonly key: string;
  /** `null` in a store without versions (a local directory). */
  readonly versionId: string | null;
  readonly lastModifiedMs: number;
  readonly deleteMarker: boolean;
}

export interface ObjectState {
  readonly size: number;
  /** Lower-case hex; `undefined` when the store holds no SHA-256 for the object. */
  readonly sha256: string | undefined;
}

export interface ArchiveReader {
  /** Every version of every object, digests included. */
  listVersions(): Promise<readonly StoredVersion[]>;
  /** The bytes of one digest version; `undefined` when it does not exist. */
  readDigest(key: string, versionId: string | null): Promise<Uint8Array | undefined>;
  /** Size and SHA-256 of one object version; `undefined` when it does not exist. */
  objectState(key: string, versionId: string | null): Promise<ObjectState | undefined>;
}

export interface VerifyOptions {
  /** Only digests whose period starts at or after this, and objects modified at or after it. */
  readonly fromMs?: number;
  /** Only digests whose period starts before this, and objects modified before it. Also: the chain must reach it. */
  readonly toMs?: number;
  /**
   * How long after the end of the last sealed period the chain may stop before `toMs` counts as a time gap
   * (the digest writer runs once a period). Default: two of the last digest's periods.
   */
  readonly toleranceMs?: number;
  /**
   * Unreferenced objects modified at or after this point are pending (not yet sealed), not unexpected:
   * `last-period-start` for S3 (a record can land in the period after the object's write),
   * `last-period-end` for a local chain built from modification times.
   */
  readonly pendingFrom: "last-period-start" | "last-period-end";
  /** Parallel object checks. Default 16. */
  readonly concurrency?: number;
  /**
   * Told how far the check is, before each digest is read and after each object is checked (for a progress
   * line); must not throw. @default - nobody is told
   */
  readonly onProgress?: (progress: VerifyProgress) => void;
}

/** How far `verifyArchive` is: digests are read first, then the objects they name are checked. */
export interface VerifyProgress {
  readonly stage: "digests" | "objects";
  /** Digests read, or objects checked, so far. */
  readonly done: number;
  /** Digests, or objects, this stage has in all. */
  readonly total: number;
}

export interface VerifyReport {
  readonly findings: readonly Finding[];
  readonly digestsChecked: number;
  readonly objectsChecked: number;
  /** Objects newer than the last sealed period: not yet in a digest. */
  readonly pending: readonly StoredVersion[];
  readonly firstPeriodStart?: string;
  readonly lastPeriodEnd?: string;
}

interface LoadedDigest {
  readonly key: string;
  readonly versionId: string | null;
  readonly keyPeriodStartMs: number;
  readonly digest: Digest;
  readonly sha256: string;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  });
  await Promise.all(workers);
  return results;
}

const versionTag = (versionId: string | null) => versionId ?? "";

export async function verifyArchive(
  reader: ArchiveReader,
  verifier: Verifier,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const findings: Finding[] = [];
  const fromMs = options.fromMs ?? Number.NEGATIVE_INFINITY;
  const toMs = options.toMs ?? Number.POSITIVE_INFINITY;
  const versions = await reader.listVersions();

  // Digest files: one version each, at a key naming its period.
  const digestVersions = new Map<string, StoredVersion[]>();
  const objectVersions: StoredVersion[] = [];
  for (const version of versions) {
    if (!version.key.startsWith(ARCHIVE_PREFIXES.digests)) {
      objectVersions.push(version);
      continue;
    }
    if (version.deleteMarker) {
      findings.push({
        kind: "delete-marker",
        key: version.key,
        versionId: version.versionId,
        detail: "a delete marker hides this digest",
      });
      continue;
    }
    if (periodStartFromDigestKey(version.key) === undefined) {
      findings.push({
        kind: "unexpected-object",
        key: version.key,
        versionId: version.versionId,
        detail: "not a digest file name",
      });
      continue;
    }
    digestVersions.set(version.key, [...(digestVersions.get(version.key) ?? []), version]);
  }
  const candidates: { key: string; version: StoredVersion; startMs: number }[] = [];
  for (const [key, list] of digestVersions) {
    const ordered = [...list].sort((a, b) => a.lastModifiedMs - b.lastModifiedMs);
    if (ordered.length > 1) {
      findings.push({
        kind: "digest-overwritten",
        key,
        detail: `${ordered.length} versions (${ordered.map((v) => v.versionId).join(", ")}); the first is verified`,
      });
    }
    candidates.push({
      key,
      version: ordered[0] as StoredVersion,
      startMs: periodStartFromDigestKey(key) as number,
    });
  }
  candidates.sort((a, b) => a.startMs - b.startMs);
  const firstInWindow = candidates.findIndex((c) => c.startMs >= fromMs);
  const selected =
    firstInWindow < 0 ? [] : candidates.slice(Math.max(0, firstInWindow - 1)).filter((c) => c.startMs < toMs);
  const hasContext = firstInWindow > 0 && selected.length > 0;

  const loaded: LoadedDigest[] = [];
  let digestsRead = 0;
  for (const candidate of selected) {
    options.onProgress?.({ stage: "digests", done: digestsRead++, total: selected.length });
    const bytes = await reader.readDigest(candidate.key, candidate.version.versionId);
    if (bytes === undefined) {
      findings.push({ kind: "missing-digest", key: candidate.key, detail: "listed but could not be read" });
      continue;
    }
    let digest: Digest;
    try {
      digest = parseDigest(bytes, candidate.key);
    } catch (error: unknown) {
      if (!(error instanceof DigestFormatError)) throw error;
      findings.push({ kind: "malformed-digest", key: candidate.key, detail: error.message });
      continue;
    }
    if (!(await verifier.verify(signedBytes(digest), Buffer.from(digest.signature, "base64")))) {
      findings.push({
        kind: "bad-signature",
        key: candidate.key,
        detail: `signature does not verify with the given public key(s) (digest names key ${digest.signingKeyId})`,
      });
    }
    if (Date.parse(digest.periodStart) !== candidate.startMs) {
      findings.push({
        kind: "misplaced-digest",
        key: candidate.key,
        detail: `holds the digest of period ${digest.periodStart} (sequence ${digest.sequence})`,
      });
    }
    loaded.push({
      key: candidate.key,
      versionId: candidate.version.versionId,
      keyPeriodStartMs: candidate.startMs,
      digest,
      sha256: sha256Hex(bytes),
    });
  }

  // The chain, in the order of the periods the keys name.
  const allDigestKeys = new Set(digestVersions.keys());
  loaded.forEach((current, index) => {
    const previous = index > 0 ? loaded[index - 1] : undefined;
    const d = current.digest;
    if (d.chainStart !== (d.previousDigest === null)) {
      findings.push({
        kind: "malformed-digest",
        key: current.key,
        detail: "chainStart must be true exactly when previousDigest is null",
      });
    }
    if (previous === undefined) {
      if (hasContext) return;
      if (!d.chainStart || d.sequence !== 1) {
        const link = d.previousDigest
          ? ` (links to ${d.previousDigest.key}, which is ${allDigestKeys.has(d.previousDigest.key) ? "outside the window" : "missing"})`
          : "";
        if (options.fromMs === undefined || (d.previousDigest && !allDigestKeys.has(d.previousDigest.key))) {
          findings.push({
            kind: options.fromMs === undefined ? "missing-chain-start" : "missing-digest",
            key: d.previousDigest?.key ?? current.key,
            detail: `the first digest found, ${current.key} (sequence ${d.sequence}), does not start the chain${link}`,
          });
        }
      }
      return;
    }
    const p = previous.digest;
    if (d.chainStart) {
      findings.push({
        kind: "unexpected-chain-start",
        key: current.key,
        detail: `starts a new chain after ${previous.key} (sequence ${p.sequence})`,
      });
    } else if (d.previousDigest) {
      if (d.previousDigest.key !== previous.key) {
        findings.push(
          allDigestKeys.has(d.previousDigest.key)
            ? {
                kind: "reordered",
                key: current.key,
                detail: `links to ${d.previousDigest.key} but follows ${previous.key}`,
              }
            : {
                kind: "missing-digest",
                key: d.previousDigest.key,
                detail: `${current.key} links to it but it is not in the archive`,
              },
        );
      } else if (d.previousDigest.sha256 !== previous.sha256) {
        findings.push({
          kind: "broken-link",
          key: previous.key,
          detail: `${current.key} recorded its SHA-256 as ${d.previousDigest.sha256}, the file hashes to ${previous.sha256}`,
        });
      }
    }
    if (d.sequence <= p.sequence) {
      findings.push({
        kind: "reordered",
        key: current.key,
        detail: `sequence ${d.sequence} follows sequence ${p.sequence} (${previous.key})`,
      });
    } else if (d.sequence !== p.sequence + 1 && d.previousDigest?.key === previous.key) {
      findings.push({
        kind: "missing-digest",
        key: current.key,
        detail: `sequence jumps from ${p.sequence} to ${d.sequence}`,
      });
    }
    const start = Date.parse(d.periodStart);
    const previousEnd = Date.parse(p.periodEnd);
    if (start > previousEnd) {
      findings.push({
        kind: "time-gap",
        key: current.key,
        detail: `no digest covers ${p.periodEnd} to ${d.periodStart} (between ${previous.key} and ${current.key})`,
      });
    } else if (start < previousEnd) {
      findings.push({
        kind: "reordered",
        key: current.key,
        detail: `period starts at ${d.periodStart}, before ${previous.key} ends (${p.periodEnd})`,
      });
    }
  });

  const last = loaded.at(-1);
  const inWindow = hasContext ? loaded.slice(1) : loaded;
  if (last === undefined || inWindow.length === 0) {
    findings.push({
      kind: "missing-digest",
      key: ARCHIVE_PREFIXES.digests,
      detail: "no digest found in the requested range",
    });
  } else if (Number.isFinite(toMs)) {
    const lastEnd = Date.parse(last.digest.periodEnd);
    const tolerance = options.toleranceMs ?? 2 * (lastEnd - Date.parse(last.digest.periodStart));
    if (lastEnd + tolerance < toMs) {
      findings.push({
        kind: "time-gap",
        key: last.key,
        detail: `the chain ends at ${last.digest.periodEnd}; no digest covers it up to ${isoUtc(toMs)}`,
      });
    }
  }

  // Objects named by the digests.
  const referenced = new Map<string, Set<string>>();
  const toCheck: {
    digestKey: string;
    key: string;
    versionId: string | null;
    size: number;
    sha256: string;
  }[] = [];
  for (const entry of loaded) {
    for (const object of entry.digest.objects) {
      const versionsOfKey = referenced.get(object.key) ?? new Set<string>();
      if (versionsOfKey.has(versionTag(object.versionId))) {
        findings.push({
          kind: "duplicate-object",
          key: object.key,
          versionId: object.versionId,
          detail: `named again by ${entry.key}`,
        });
      }
      versionsOfKey.add(versionTag(object.versionId));
      referenced.set(object.key, versionsOfKey);
      if (entry !== loaded[0] || !hasContext) toCheck.push({ digestKey: entry.key, ...object });
    }
  }
  let objectsChecked = 0;
  options.onProgress?.({ stage: "objects", done: 0, total: toCheck.length });
  await mapLimit(toCheck, options.concurrency ?? 16, async (object) => {
    const state = await reader.objectState(object.key, object.versionId);
    options.onProgress?.({ stage: "objects", done: ++objectsChecked, total: toCheck.length });
    if (state === undefined) {
      findings.push({
        kind: "missing-object",
        key: object.key,
        versionId: object.versionId,
        detail: `named by ${object.digestKey}, not in the archive`,
      });
    } else if (state.size !== object.size || state.sha256 !== object.sha256) {
      findings.push({
        kind: "modified-object",
        key: object.key,
        versionId: object.versionId,
        detail:
          `${object.digestKey} recorded ${object.size} bytes, sha256 ${object.sha256}; ` +
          `the archive holds ${state.size} bytes, sha256 ${state.sha256 ?? "(no checksum stored)"}`,
      });
    }
  });

  // Objects no digest names.
  const pendingFromMs =
    last === undefined
      ? Number.NEGATIVE_INFINITY
      : Date.parse(
          options.pendingFrom === "last-period-start" ? last.digest.periodStart : last.digest.periodEnd,
        );
  const pending: StoredVersion[] = [];
  for (const version of objectVersions) {
    if (version.lastModifiedMs < fromMs || version.lastModifiedMs >= toMs) continue;
    // The scheduled reviews and compliance reports: written under Object Lock, not sealed by the chain.
    if (version.key.startsWith(ARCHIVE_PREFIXES.reports)) continue;
    if (version.deleteMarker) {
      findings.push({
        kind: "delete-marker",
        key: version.key,
        versionId: version.versionId,
        detail: "a delete marker hides this object",
      });
      continue;
    }
    const versionsOfKey = referenced.get(version.key);
    const named =
      versionsOfKey !== undefined &&
      (version.versionId === null || versionsOfKey.has(version.versionId) || versionsOfKey.has(""));
    if (named) continue;
    if (version.lastModifiedMs >= pendingFromMs) {
      pending.push(version);
    } else {
      findings.push({
        kind: "unexpected-object",
        key: version.key,
        versionId: version.versionId,
        detail: `written ${isoUtc(version.lastModifiedMs)}, named by no digest`,
      });
    }
  }

  findings.sort((a, b) =>
    a.key < b.key ? -1 : a.key > b.key ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0,
  );
  return {
    findings,
    digestsChecked: inWindow.length,
    objectsChecked: toCheck.length,
    pending,
    ...(inWindow[0] ? { firstPeriodStart: inWindow[0].digest.periodStart } : {}),
    ...(last ? { lastPeriodEnd: last.digest.periodEnd } : {}),
  };
}
