import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { command } from "../../../lambdas/cli/commands/digest.js";
import { runVerify } from "../../../lambdas/cli/commands/verify.js";
import {
  HOUR,
  keyPair,
  removeDir,
  tempDir,
  verifyDir,
  writeObject,
} from "../core/digest/local-archive-helpers.js";
import { captureProcessOutput } from "./helpers.js";

const T0 = Date.parse("2026-11-20T06:00:00Z");

let dir: string;
let root: string;
const { out, err } = captureProcessOutput();

/** `audit-trail digest --dir ARCHIVE --private-key KEY_FILE OPTIONS`, the key file in the test's folder. */
const digestWith = (keyFile: string, ...options: string[]) =>
  command.run(["--dir", root, "--private-key", join(dir, keyFile), ...options]);

beforeEach(async () => {
  dir = await tempDir();
  root = join(dir, "archive");
});

afterEach(async () => {
  await removeDir(dir);
});

describe("audit-trail digest", () => {
  it("builds a signed chain over a local directory that verify accepts", async () => {
    // Prepare
    const { privatePem, verifier } = keyPair();
    await writeFile(join(dir, "key.pem"), privatePem);
    await writeObject(root, "documents/a", "alpha", T0 + 60_000);
    await writeObject(root, "documents/b", "bravo", T0 + 2 * HOUR + 60_000);

    // Act
    const status = await digestWith("key.pem", "--period", "1h", "--until", "2026-11-20T09:00:00Z");

    // Assess
    expect(status).toBe(0);
    expect(out.join("")).toContain("wrote digests/2026/11/20/20261120T060000Z.json (sequence 1");
    expect(await readdir(join(root, "digests/2026/11/20"))).toEqual([
      "20261120T060000Z.json",
      "20261120T070000Z.json",
      "20261120T080000Z.json",
    ]);
    expect((await verifyDir(root, verifier)).findings).toEqual([]);
  });

  it("refuses to run without a private key, explaining the usage", async () => {
    // Act
    const status = await command.run(["--dir", root]);

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toContain("--dir and --private-key are required");
  });

  it("rejects a period that does not divide a day, naming the option", async () => {
    // Prepare
    await writeFile(join(dir, "key.pem"), keyPair().privatePem);

    // Act
    const status = await digestWith("key.pem", "--period", "7m");

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toMatch(/--period '7m'.*divide a day/);
  });

  it("rejects a private key file that does not hold a key, naming the file", async () => {
    // Prepare
    await writeFile(join(dir, "key.pem"), "hello");
    await writeObject(root, "documents/a", "alpha", T0);

    // Act
    const status = await digestWith("key.pem");

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toContain(`--private-key ${join(dir, "key.pem")}: not a PEM private key`);
  });
});

describe("audit-trail digest: the signing key of an existing chain", () => {
  async function chainSignedWithFirstKey() {
    const first = keyPair();
    const second = keyPair();
    await writeFile(join(dir, "first.pem"), first.privatePem);
    await writeFile(join(dir, "second.pem"), second.privatePem);
    await writeFile(join(dir, "first.pub.pem"), first.publicPem);
    await writeFile(join(dir, "second.pub.pem"), second.publicPem);
    await writeObject(root, "documents/a", "alpha", T0 + 60_000);
    const status = await digestWith("first.pem", "--until", "2026-11-20T07:00:00Z");
    expect(status).toBe(0);
    await writeObject(root, "documents/b", "bravo", T0 + HOUR + 60_000);
    out.length = 0;
    err.length = 0;
    return { first, second };
  }

  it("refuses to extend a chain signed by another key, naming both keys and --rotate-key", async () => {
    // Prepare
    const { first, second } = await chainSignedWithFirstKey();

    // Act
    const status = await digestWith("second.pem", "--until", "2026-11-20T08:00:00Z");

    // Assess
    expect(status).toBe(2);
    const message = err.join("");
    expect(message).toContain("digests/2026/11/20/20261120T060000Z.json");
    expect(message).toContain(first.signer.keyId);
    expect(message).toContain(second.signer.keyId);
    expect(message).toContain("--rotate-key");
    expect(await readdir(join(root, "digests/2026/11/20"))).toEqual(["20261120T060000Z.json"]);
  });

  it("extends the chain with the new key under --rotate-key, and verify follows it given both public keys", async () => {
    // Prepare
    const { first, second } = await chainSignedWithFirstKey();

    // Act
    const status = await digestWith("second.pem", "--rotate-key", "--until", "2026-11-20T08:00:00Z");

    // Assess
    expect(status).toBe(0);
    expect(err.join("")).toContain(
      `rotated the signing key from ${first.signer.keyId} to ${second.signer.keyId}`,
    );
    const verifyStatus = await runVerify([
      "--dir",
      root,
      "--public-key",
      join(dir, "first.pub.pem"),
      "--public-key",
      join(dir, "second.pub.pem"),
    ]);
    expect(verifyStatus).toBe(0);
  });

  it("keeps extending with the chain's own key without --rotate-key", async () => {
    // Prepare
    await chainSignedWithFirstKey();

    // Act
    const status = await digestWith("first.pem", "--until", "2026-11-20T08:00:00Z");

    // Assess
    expect(status).toBe(0);
    expect(await readdir(join(root, "digests/2026/11/20"))).toHaveLength(2);
  });
});
