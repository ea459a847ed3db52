import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sealDigest } from "../../../../lambdas/core/digest/chain.js";
import {
  DigestFormatError,
  digestKey,
  parseDigest,
  periodStartFromDigestKey,
} from "../../../../lambdas/core/digest/format.js";
import { keyPair } from "./local-archive-helpers.js";

const { signer } = keyPair();

describe("digest format", () => {
  it("names a digest by its period start in ISO 8601 basic format under digests/YYYY/MM/DD/", () => {
    expect(digestKey(Date.parse("2026-11-23T09:00:00Z"))).toBe("digests/2026/11/23/20261123T090000Z.json");
  });

  it("reads the period back from every digest key and nothing from other keys (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799 }), (seconds) => {
        const ms = seconds * 1000;
        expect(periodStartFromDigestKey(digestKey(ms))).toBe(ms);
      }),
    );
    expect(periodStartFromDigestKey("digests/2026/11/24/20261123T090000Z.json")).toBeUndefined();
    expect(periodStartFromDigestKey("documents/2026/11/23/x.json")).toBeUndefined();
  });

  it("round-trips a sealed digest through its file bytes", async () => {
    // Prepare
    const sealed = await sealDigest(
      {
        sequence: 1,
        periodStartMs: Date.parse("2026-11-23T09:00:00Z"),
        periodEndMs: Date.parse("2026-11-23T10:00:00Z"),
        previousDigest: null,
        objects: [
          { key: "b", versionId: "2", size: 3, sha256: "a".repeat(64), archivedAt: "2026-11-23T09:01:00Z" },
          { key: "a", versionId: "1", size: 1, sha256: "b".repeat(64), archivedAt: "2026-11-23T09:02:00Z" },
        ],
      },
      signer,
    );

    // Act
    const parsed = parseDigest(sealed.bytes, sealed.key);

    // Assess
    expect(parsed).toEqual(sealed.digest);
    expect(parsed.objects.map((o) => o.key)).toEqual(["a", "b"]);
    expect(parsed.chainStart).toBe(true);
  });

  it("rejects a digest with a malformed field, naming the file and the field", async () => {
    // Prepare
    const sealed = await sealDigest(
      { sequence: 1, periodStartMs: 0, periodEndMs: 3_600_000, previousDigest: null, objects: [] },
      signer,
    );
    const broken = {
      ...sealed.digest,
      objects: [{ key: "k", versionId: null, size: -1, sha256: "x", archivedAt: "now" }],
    };

    // Act / Assess
    expect(() => parseDigest(new TextEncoder().encode(JSON.stringify(broken)), "digests/x.json")).toThrow(
      /^digests\/x\.json: field 'objects\.0\.size'/,
    );
    expect(() => parseDigest(new TextEncoder().encode("{"), "digests/y.json")).toThrow(DigestFormatError);
  });
});
