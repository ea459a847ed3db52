import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sealDigest } from "../../../../lambdas/core/digest/chain.js";
import {
  digestKey,
  parseDigest,
  serializeDigest,
  signedBytes,
} from "../../../../lambdas/core/digest/format.js";
import {
  buildArchive,
  HOUR,
  keyPair,
  readObject,
  removeDir,
  tempDir,
  verifyDir,
  writeObject,
} from "./local-archive-helpers.js";

const T0 = Date.parse("2026-11-20T06:00:00Z");
const UNTIL = T0 + 4 * HOUR;
const FILES = {
  "documents/2026/11/20/06/stream-a": {
    content: '{"event":{"dataset":"istio.access"}}\n',
    atMs: T0 + 10 * 60_000,
  },
  "documents/2026/11/20/06/stream-b": {
    content: '{"event":{"dataset":"kubernetes.audit"}}\n',
    atMs: T0 + 20 * 60_000,
  },
  "documents/2026/11/20/07/stream-c": {
    content: '{"event":{"dataset":"linkerd.access"}}\n',
    atMs: T0 + HOUR + 5 * 60_000,
  },
  "errors/processing-failed/2026/11/20/09/failed-d": {
    content: "eyJub3QiOiJqc29uIn0=",
    atMs: T0 + 3 * HOUR + 60_000,
  },
};
const DIGESTS = [0, 1, 2, 3].map((i) => digestKey(T0 + i * HOUR));
const { signer, verifier } = keyPair();

let root: string;

beforeEach(async () => {
  root = await tempDir();
  await buildArchive(root, FILES, signer, UNTIL);
});

afterEach(async () => {
  await removeDir(root);
});

const kinds = (report: { findings: readonly { kind: string; key: string }[] }) =>
  report.findings.map((f) => `${f.kind} ${f.key}`);

describe("verifying a local archive against its digest chain", () => {
  it("finds nothing wrong with an untouched archive, empty periods included", async () => {
    // Act
    const report = await verifyDir(root, verifier, UNTIL);

    // Assess
    expect(report.findings).toEqual([]);
    expect(report.digestsChecked).toBe(4);
    expect(report.objectsChecked).toBe(4);
    expect(parseDigest(await readObject(root, DIGESTS[2] as string), "third").objects).toEqual([]);
  });

  it("detects one byte changed in an object", async () => {
    // Prepare
    const key = "documents/2026/11/20/07/stream-c";
    const bytes = await readObject(root, key);
    bytes[3] = (bytes[3] ?? 0) ^ 1;
    await writeObject(root, key, bytes, FILES[key].atMs);

    // Act
    const report = await verifyDir(root, verifier, UNTIL);

    // Assess
    expect(kinds(report)).toEqual([`modified-object ${key}`]);
    expect(report.findings[0]?.detail).toContain(DIGESTS[1]);
  });

  it("detects an object deleted", async () => {
    // Prepare
    const key = "documents/2026/11/20/06/stream-a";
    await rm(join(root, key));

    // Act
    const report = await verifyDir(root, verifier, UNTIL);

    // Assess
    expect(kinds(report)).toEqual([`missing-object ${key}`]);
  });

  it("detects an object added among sealed periods", async () => {
    // Prepare
    const key = "documents/2026/11/20/07/stream-injected";
    await writeObject(root, key, '{"event":{"action":"nothing to see"}}', T0 + HOUR + 30 * 60_000);

    // Act
    const report = await verifyDir(root, verifier, UNTIL);

    // Assess
    expect(kinds(report)).toEqual([`unexpected-object ${key}`]);
  });

  it("leaves the stored weekly reviews under reports/ out: Object Lock holds them, the chain does not seal them", async () => {
    // Prepare
    await writeObject(
      root,
      "reports/weekly/2026-11-20/review.md",
      "# Weekly audit review",
      T0 + HOUR + 30 * 60_000,
    );

    // Act
    const report = await verifyDir(root, verifier, UNTIL);

    // Assess
    expect(kinds(report)).toEqual([]);
  });

  it("reports an object newer than the last sealed period as pending, not as a finding", async () => {
    // Prepare
    await writeObject(root, "documents/2026/11/20/10/stream-e", "{}", UNTIL + 60_000);

    // Act
    const report = await verifyDir(root, verifier);

    // Assess
    expect(report.findings).toEqual([]);
    expect(report.pending.map((p) => p.key)).toEqual(["documents/2026/11/20/10/stream-e"]);
  });

  it("detects a digest deleted from the middle of the chain", async () => {
    // Prepare
    await rm(join(root, DIGESTS[1] as string));

    // Act
    const report = await verifyDir(root, verifier, UNTIL);

    // Assess
    expect(kinds(report)).toContain(`missing-digest ${DIGESTS[1]}`);
    expect(kinds(report)).toContain(`time-gap ${DIGESTS[2]}`);
    expect(kinds(report)).toContain("unexpected-object documents/2026/11/20/07/stream-c");
  });

  it("detects the first digest deleted", async () => {
    // Prepare
    await rm(join(root, DIGESTS[0] as string));

    // Act
    const report = await verifyDir(root, verifier, UNTIL);

    // Assess
    expect(kinds(report)).toContain(`missing-chain-start ${DIGESTS[0]}`);
  });

  it("detects the last digest deleted when asked to verify up to a time", async () => {
    // Prepare
    await rm(join(root, DIGESTS[3] as string));

    // Act
    const report = await verifyDir(root, verifier, UNTIL + 2 * HOUR);

    // Assess
    expect(kinds(report)).toContain(`time-gap ${DIGESTS[2]}`);
  });

  it("detects digests reordered (two digest files swapped)", async () => {
    // Prepare
    const [second, third] = [join(root, DIGESTS[1] as string), join(root, DIGESTS[2] as string)];
    const [a, b] = [await readFile(second), await readFile(third)];
    await writeFile(second, b);
    await writeFile(third, a);

    // Act
    const report = await verifyDir(root, verifier, UNTIL);

    // Assess
    expect(kinds(report)).toEqual(
      expect.arrayContaining([
        `misplaced-digest ${DIGESTS[1]}`,
        `misplaced-digest ${DIGESTS[2]}`,
        `reordered ${DIGESTS[2]}`,
      ]),
    );
  });

  it("detects a digest re-signed with another key", async () => {
    // Prepare
    const path = join(root, DIGESTS[1] as string);
    const original = parseDigest(await readFile(path), "second");
    const other = keyPair().signer;
    const forged = Buffer.from(
      await other.sign(signedBytes({ ...original, signingKeyId: signer.keyId })),
    ).toString("base64");
    await writeFile(path, serializeDigest({ ...original, signature: forged }));

    // Act
    const report = await verifyDir(root, verifier, UNTIL);

    // Assess
    expect(kinds(report)).toContain(`bad-signature ${DIGESTS[1]}`);
    expect(kinds(report)).toContain(`broken-link ${DIGESTS[1]}`);
  });

  it("detects a time gap in a chain whose links and signatures are valid", async () => {
    // Prepare
    const gapRoot = await tempDir();
    try {
      const first = await sealDigest(
        { sequence: 1, periodStartMs: T0, periodEndMs: T0 + HOUR, previousDigest: null, objects: [] },
        signer,
      );
      const second = await sealDigest(
        {
          sequence: 2,
          periodStartMs: T0 + 2 * HOUR,
          periodEndMs: T0 + 3 * HOUR,
          previousDigest: { key: first.key, sha256: first.sha256 },
          objects: [],
        },
        signer,
      );
      await writeObject(gapRoot, first.key, first.bytes, T0 + HOUR);
      await writeObject(gapRoot, second.key, second.bytes, T0 + 3 * HOUR);

      // Act
      const report = await verifyDir(gapRoot, verifier, T0 + 3 * HOUR);

      // Assess
      expect(kinds(report)).toEqual([`time-gap ${second.key}`]);
      expect(report.findings[0]?.detail).toContain(
        "no digest covers 2026-11-20T07:00:00Z to 2026-11-20T08:00:00Z",
      );
    } finally {
      await removeDir(gapRoot);
    }
  });

  it("detects a digest whose content was edited without re-signing", async () => {
    // Prepare
    const path = join(root, DIGESTS[0] as string);
    const original = parseDigest(await readFile(path), "first");
    await writeFile(path, serializeDigest({ ...original, objects: original.objects.slice(1) }));

    // Act
    const report = await verifyDir(root, verifier, UNTIL);

    // Assess
    expect(kinds(report)).toEqual(
      expect.arrayContaining([
        `bad-signature ${DIGESTS[0]}`,
        `broken-link ${DIGESTS[0]}`,
        "unexpected-object documents/2026/11/20/06/stream-a",
      ]),
    );
  });

  it("continues an existing chain instead of starting a new one", async () => {
    // Prepare
    await writeObject(root, "documents/2026/11/20/10/stream-e", "{}", UNTIL + 60_000);

    // Act
    const result = await buildArchive(root, {}, signer, UNTIL + HOUR);
    const report = await verifyDir(root, verifier, UNTIL + HOUR);

    // Assess
    expect(result.sealed.map((s) => [s.key, s.digest.sequence, s.digest.chainStart])).toEqual([
      [digestKey(UNTIL), 5, false],
    ]);
    expect(report.findings).toEqual([]);
    expect(report.objectsChecked).toBe(5);
  });
});
