import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sealDigest } from "../../../../lambdas/core/digest/chain.js";
import { DigestFormatError, digestKey, parseDigest } from "../../../../lambdas/core/digest/format.js";
import { localArchiveReader } from "../../../../lambdas/core/digest/local-archive.js";
import {
  type ArchiveReader,
  formatFinding,
  type VerifyProgress,
  verifyArchive,
} from "../../../../lambdas/core/digest/verify.js";
import { buildArchive, HOUR, keyPair, removeDir, tempDir } from "./local-archive-helpers.js";

const T0 = Date.parse("2026-11-20T00:00:00Z");
const { signer, verifier } = keyPair();

function reader(files: ReadonlyMap<string, Uint8Array>): ArchiveReader {
  return {
    listVersions: async () =>
      [...files.keys()].map((key) => ({ key, versionId: null, lastModifiedMs: T0, deleteMarker: false })),
    readDigest: async (key) => files.get(key),
    objectState: async () => undefined,
  };
}

async function chain(count: number): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  let previous: { key: string; sha256: string } | null = null;
  for (let i = 0; i < count; i++) {
    const sealed = await sealDigest(
      {
        sequence: i + 1,
        periodStartMs: T0 + i * HOUR,
        periodEndMs: T0 + (i + 1) * HOUR,
        previousDigest: previous,
        objects: [],
      },
      signer,
    );
    files.set(sealed.key, sealed.bytes);
    previous = { key: sealed.key, sha256: sealed.sha256 };
  }
  return files;
}

describe("verifyArchive", () => {
  it("turns any bytes at a digest key into a finding, never an exception (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        // Prepare
        const files = await chain(1);
        files.set(digestKey(T0 + HOUR), bytes);

        // Act
        const report = await verifyArchive(reader(files), verifier, { pendingFrom: "last-period-end" });

        // Assess
        expect(report.findings.map((f) => `${f.kind} ${f.key}`)).toContain(
          `malformed-digest ${digestKey(T0 + HOUR)}`,
        );
      }),
      { numRuns: 50 },
    );
  });

  it("parses or rejects with a DigestFormatError, whatever the JSON (property)", () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        try {
          parseDigest(new TextEncoder().encode(text), "digests/x.json");
        } catch (error: unknown) {
          expect(error).toBeInstanceOf(DigestFormatError);
          expect((error as Error).message).toMatch(/^digests\/x\.json: /);
        }
      }),
    );
  });

  it("checks a window's first digest against the one before it, without requiring the chain start", async () => {
    // Prepare
    const files = await chain(4);

    // Act
    const report = await verifyArchive(reader(files), verifier, {
      fromMs: T0 + 2 * HOUR,
      toMs: T0 + 4 * HOUR,
      pendingFrom: "last-period-end",
    });

    // Assess
    expect(report.findings).toEqual([]);
    expect(report.digestsChecked).toBe(2);
    expect(report.firstPeriodStart).toBe("2026-11-20T02:00:00Z");
  });

  it("reports a window whose preceding digest was removed", async () => {
    // Prepare
    const files = await chain(4);
    files.delete(digestKey(T0 + HOUR));

    // Act
    const report = await verifyArchive(reader(files), verifier, {
      fromMs: T0 + 2 * HOUR,
      pendingFrom: "last-period-end",
    });

    // Assess
    expect(report.findings.map(formatFinding)).toEqual([
      `missing-digest ${digestKey(T0 + HOUR)}: ${digestKey(T0 + 2 * HOUR)} links to it but it is not in the archive`,
      `time-gap ${digestKey(T0 + 2 * HOUR)}: no digest covers 2026-11-20T01:00:00Z to 2026-11-20T02:00:00Z (between ${digestKey(T0)} and ${digestKey(T0 + 2 * HOUR)})`,
    ]);
  });

  it("reports an archive without any digest", async () => {
    // Act
    const report = await verifyArchive(reader(new Map()), verifier, { pendingFrom: "last-period-end" });

    // Assess
    expect(report.findings.map((f) => f.kind)).toEqual(["missing-digest"]);
  });

  it("reports a file under digests/ that is not named like a digest", async () => {
    // Prepare
    const files = await chain(1);
    files.set("digests/notes.txt", new TextEncoder().encode("hello"));

    // Act
    const report = await verifyArchive(reader(files), verifier, { pendingFrom: "last-period-end" });

    // Assess
    expect(report.findings.map((f) => `${f.kind} ${f.key}`)).toEqual(["unexpected-object digests/notes.txt"]);
  });

  it("tells onProgress of every digest, then of every object checked, up to the totals it reports", async () => {
    // Prepare: three objects over three sealed periods
    const dir = await tempDir();
    try {
      const files = Object.fromEntries(
        [0, 1, 2].map((i) => [`documents/${i}`, { content: `object ${i}`, atMs: T0 + i * HOUR + 60_000 }]),
      );
      await buildArchive(dir, files, signer, T0 + 3 * HOUR);
      const told: VerifyProgress[] = [];

      // Act
      const report = await verifyArchive(localArchiveReader(dir), verifier, {
        pendingFrom: "last-period-end",
        onProgress: (progress) => told.push(progress),
      });

      // Assess
      expect(report.findings).toEqual([]);
      expect(report.objectsChecked).toBe(3);
      const digests = told.filter((progress) => progress.stage === "digests");
      expect(digests.map((progress) => progress.done)).toEqual(
        Array.from({ length: report.digestsChecked }, (_, i) => i),
      );
      expect(digests.every((progress) => progress.total === report.digestsChecked)).toBe(true);
      expect(told.filter((progress) => progress.stage === "objects")).toEqual(
        [0, 1, 2, 3].map((done) => ({ stage: "objects", done, total: 3 })),
      );
      expect(told.findIndex((progress) => progress.stage === "objects")).toBe(digests.length);
    } finally {
      await removeDir(dir);
    }
  });

  it("reports the same findings with or without onProgress", async () => {
    const files = await chain(3);
    files.delete(digestKey(T0 + HOUR));

    const quiet = await verifyArchive(reader(files), verifier, { pendingFrom: "last-period-end" });
    const told = await verifyArchive(reader(files), verifier, {
      pendingFrom: "last-period-end",
      onProgress: () => {},
    });

    expect(quiet.findings.length).toBeGreaterThan(0);
    expect(told).toEqual(quiet);
  });
});
