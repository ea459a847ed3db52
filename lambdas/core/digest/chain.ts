/**
 * Building the chain: sealing one period's digest, and extending a chain over a set of recorded objects up to
 * a point in time. The digest writer seals one period at a time from the ledger; `audit-trail digest` extends
 * a local chain with `extendChain`. Both go through `sealDigest`.
 */
import {
  type Digest,
  type DigestLink,
  type DigestObject,
  digestKey,
  serializeDigest,
  sha256Hex,
  signedBytes,
  type UnsignedDigestInput,
  unsignedDigest,
} from "./format.js";
import { periodEndFor, periodStartFor } from "./period.js";
import type { Signer } from "./signer.js";

export interface SealedDigest {
  readonly key: string;
  readonly digest: Digest;
  /** The exact bytes of the digest file. */
  readonly bytes: Uint8Array;
  /** SHA-256 (hex) of `bytes`: the next digest's `previousDigest.sha256`. */
  readonly sha256: string;
}

/** Where a chain stands: the last sealed digest and the first period not yet sealed. */
export interface ChainState {
  /** Sequence of the last sealed digest; 0 before the first. */
  readonly sequence: number;
  readonly nextPeriodStartMs: number;
  /** The last sealed digest; `null` before the first (the next digest starts the chain). */
  readonly previous: DigestLink | null;
}

export async function sealDigest(
  input: Omit<UnsignedDigestInput, "signingKeyId">,
  signer: Signer,
): Promise<SealedDigest> {
  const unsigned = unsignedDigest({ ...input, signingKeyId: signer.keyId });
  const signature = Buffer.from(await signer.sign(signedBytes(unsigned))).toString("base64");
  const digest: Digest = { ...unsigned, signature };
  const bytes = serializeDigest(digest);
  return { key: digestKey(input.periodStartMs), digest, bytes, sha256: sha256Hex(bytes) };
}

/** The state after sealing `sealed`. */
export function advance(state: ChainState, sealed: SealedDigest, periodEndMs: number): ChainState {
  return {
    sequence: state.sequence + 1,
    nextPeriodStartMs: periodEndMs,
    previous: { key: sealed.key, sha256: sealed.sha256 },
  };
}

/** A chain that has not started: its first period is the aligned one containing `firstMs`. */
export function genesisState(firstMs: number, periodMs: number): ChainState {
  return { sequence: 0, nextPeriodStartMs: periodStartFor(firstMs, periodMs), previous: null };
}

export interface RecordedObject extends DigestObject {
  /** When the object was recorded; it belongs to the first open period ending after this. */
  readonly recordedAtMs: number;
}

export interface ExtendResult {
  readonly sealed: readonly SealedDigest[];
  readonly state: ChainState;
  /** Objects recorded in periods that had not ended by `untilMs`. */
  readonly pending: readonly RecordedObject[];
}

/**
 * Seals every period from `state.nextPeriodStartMs` whose end is at or before `untilMs`, empty ones included.
 * An object recorded before the chain's next period (late) goes into that period: never lost, never earlier.
 */
export async function extendChain(options: {
  readonly state: ChainState;
  readonly objects: readonly RecordedObject[];
  readonly periodMs: number;
  readonly untilMs: number;
  readonly signer: Signer;
}): Promise<ExtendResult> {
  const queue = [...options.objects].sort((a, b) => a.recordedAtMs - b.recordedAtMs);
  const sealed: SealedDigest[] = [];
  let state = options.state;
  let start = state.nextPeriodStartMs;
  let end = periodEndFor(start, options.periodMs);
  while (end <= options.untilMs) {
    let count = 0;
    while (count < queue.length && (queue[count]?.recordedAtMs ?? end) < end) count++;
    const members = queue.splice(0, count).map(({ recordedAtMs: _t, ...object }) => object);
    const digest = await sealDigest(
      {
        sequence: state.sequence + 1,
        periodStartMs: start,
        periodEndMs: end,
        previousDigest: state.previous,
        objects: members,
      },
      options.signer,
    );
    sealed.push(digest);
    state = advance(state, digest, end);
    start = end;
    end = periodEndFor(start, options.periodMs);
  }
  return { sealed, state, pending: queue };
}
