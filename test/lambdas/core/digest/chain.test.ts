import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { extendChain, genesisState, type RecordedObject } from "../../../../lambdas/core/digest/chain.js";
import { isoUtc } from "../../../../lambdas/core/digest/period.js";
import { type ArchiveReader, verifyArchive } from "../../../../lambdas/core/digest/verify.js";
import { HOUR, keyPair } from "./local-archive-helpers.js";

const T0 = Date.parse("2026-11-20T00:00:00Z");
const { signer, verifier } = keyPair();

const objectArb = fc.record({
  key: fc.stringMatching(/^documents\/[a-z0-9]{1,8}$/),
  offsetMs: fc.integer({ min: 0, max: 6 * HOUR - 1 }),
  size: fc.nat({ max: 10_000 }),
  sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
});

function recorded(
  objects: readonly { key: string; offsetMs: number; size: number; sha256: string }[],
): RecordedObject[] {
  const unique = new Map(objects.map((o) => [o.key, o]));
  return [...unique.values()].map((o) => ({
    key: o.key,
    versionId: null,
    size: o.size,
    sha256: o.sha256,
    archivedAt: isoUtc(T0 + o.offsetMs),
    recordedAtMs: T0 + o.offsetMs,
  }));
}

/** An in-memory archive holding exactly the sealed digests and the recorded objects. */
function memoryReader(
  digests: readonly { key: string; bytes: Uint8Array }[],
  objects: readonly RecordedObject[],
): ArchiveReader {
  const digestBytes = new Map(digests.map((d) => [d.key, d.bytes]));
  const state = new Map(objects.map((o) => [o.key, o]));
  return {
    listVersions: async () => [
      ...digests.map((d) => ({ key: d.key, versionId: null, lastModifiedMs: T0, deleteMarker: false })),
      ...objects.map((o) => ({
        key: o.key,
        versionId: null,
        lastModifiedMs: o.recordedAtMs,
        deleteMarker: false,
      })),
    ],
    readDigest: async (key) => digestBytes.get(key),
    objectState: async (key) => {
      const o = state.get(key);
      return o === undefined ? undefined : { size: o.size, sha256: o.sha256 };
    },
  };
}

describe("extendChain", () => {
  it("accounts for every object exactly once, in contiguous periods, and verifies clean (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(objectArb, { maxLength: 12 }),
        fc.integer({ min: 1, max: 8 }),
        async (raw, hours) => {
          // Prepare
          const objects = recorded(raw);

          // Act
          const result = await extendChain({
            state: genesisState(T0, HOUR),
            objects,
            periodMs: HOUR,
            untilMs: T0 + hours * HOUR,
            signer,
          });

          // Assess
          expect(result.sealed).toHaveLength(hours);
          const sealedKeys = result.sealed.flatMap((s) => s.digest.objects.map((o) => o.key));
          const all = [...sealedKeys, ...result.pending.map((p) => p.key)].sort();
          expect(all).toEqual(objects.map((o) => o.key).sort());
          result.sealed.forEach((s, i) => {
            expect(s.digest.sequence).toBe(i + 1);
            expect(Date.parse(s.digest.periodStart)).toBe(T0 + i * HOUR);
          });
          const sealedObjects = objects.filter((o) => sealedKeys.includes(o.key));
          const report = await verifyArchive(memoryReader(result.sealed, sealedObjects), verifier, {
            pendingFrom: "last-period-end",
          });
          expect(report.findings).toEqual([]);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("reports exactly the object whose hash changed (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(objectArb, { minLength: 1, maxLength: 8 }), fc.nat(), async (raw, pick) => {
        // Prepare
        const objects = recorded(raw);
        const result = await extendChain({
          state: genesisState(T0, HOUR),
          objects,
          periodMs: HOUR,
          untilMs: T0 + 6 * HOUR,
          signer,
        });
        const victim = objects[pick % objects.length] as RecordedObject;
        const tampered = objects.map((o) =>
          o === victim
            ? { ...o, sha256: o.sha256.startsWith("0") ? `1${o.sha256.slice(1)}` : `0${o.sha256.slice(1)}` }
            : o,
        );

        // Act
        const report = await verifyArchive(memoryReader(result.sealed, tampered), verifier, {
          pendingFrom: "last-period-end",
        });

        // Assess
        expect(report.findings.map((f) => `${f.kind} ${f.key}`)).toEqual([`modified-object ${victim.key}`]);
      }),
      { numRuns: 25 },
    );
  });

  it("puts an object recorded before the chain's next period into that period, not an earlier one", async () => {
    // Prepare
    const late = recorded([
      { key: "documents/late", offsetMs: 10 * 60_000, size: 1, sha256: "a".repeat(64) },
    ]);

    // Act
    const result = await extendChain({
      state: {
        sequence: 3,
        nextPeriodStartMs: T0 + 2 * HOUR,
        previous: { key: "digests/x", sha256: "b".repeat(64) },
      },
      objects: late,
      periodMs: HOUR,
      untilMs: T0 + 3 * HOUR,
      signer,
    });

    // Assess
    expect(
      result.sealed.map((s) => [s.digest.periodStart, s.digest.sequence, s.digest.objects.length]),
    ).toEqual([["2026-11-20T02:00:00Z", 4, 1]]);
  });
});
