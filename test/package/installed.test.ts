/**
 * The published package, as a user gets it: `npm pack` (which builds `dist/cli.mjs`), the tarball installed into an
 * empty folder from the npm registry, and every verb's happy path run through the installed `audit-trail` binary
 * from that folder, far from this clone. What this catches that the unit tests cannot: files missing from the
 * package, paths resolved from the bundle's location, dependencies that are only devDependencies here.
 *
 * Not part of `npm test`: it needs the npm registry and takes about a minute; `.ci/run` runs it with the acceptance
 * checks (`npm run acceptance`), and `npm run test:package` runs it alone.
 */
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const run = promisify(execFile);

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

let folder: string;

/** Runs the installed binary in the temporary folder; resolves whatever the status. */
async function auditTrail(...args: string[]): Promise<Result> {
  const bin = join(folder, "node_modules", ".bin", "audit-trail");
  try {
    const { stdout, stderr } = await run(bin, args, {
      cwd: folder,
      env: withoutAwsCredentials(),
      maxBuffer: 64 * 1024 * 1024,
      timeout: 180_000,
    });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== "number") throw error;
    return { status: failed.code, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

function withoutAwsCredentials(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("AWS_")) delete env[key];
  return env;
}

/** A file shipped in the installed package. */
function shipped(...parts: string[]): string {
  return join(folder, "node_modules", "mesh-audit-trail", ...parts);
}

describe("the installed npm package", () => {
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), "audit-trail-installed-"));
    await writeFile(join(folder, "package.json"), `${JSON.stringify({ name: "user", private: true })}\n`);
    const packed = join(folder, "packed");
    await mkdir(packed);
    await run("npm", ["pack", "--silent", "--pack-destination", packed], { cwd: ROOT, timeout: 300_000 });
    const [tarball] = await readdir(packed);
    if (tarball === undefined) throw new Error("npm pack wrote no tarball");
    await run("npm", ["install", "--no-audit", "--no-fund", "--silent", join(packed, tarball)], {
      cwd: folder,
      timeout: 600_000,
    });
  }, 900_000);

  afterAll(async () => {
    if (folder !== undefined) await rm(folder, { recursive: true, force: true });
  });

  it("normalize: one ECS document per record", async () => {
    // Act
    const result = await auditTrail(
      "normalize",
      shipped("examples", "incident", "linkerd-booksapp-json.log"),
    );

    // Assess
    expect(result.stderr).toMatch(/ document\(s\), 0 failed record\(s\)/);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout.split("\n")[0] as string).event.dataset).toBe("linkerd.access");
  });

  it("replay: the bundled incident's six alerts", async () => {
    // Act
    const result = await auditTrail("replay", shipped("examples", "incident"));

    // Assess
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/alerts: 6 \(/);
  });

  it("rules test: the bundled pack's tests pass", async () => {
    // Act
    const result = await auditTrail("rules", "test");

    // Assess
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/\d+ rules, \d+ cases: all passed/);
  });

  it("compliance -c env=prod: synthesizes the stack in-process and meets every control", async () => {
    // Act
    const result = await auditTrail("compliance", "-c", "env=prod");

    // Assess
    expect(result.stderr).toMatch(/^compliance: OK: environment "prod"/m);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/PCI/);
  });

  it("size: a recommendation for a daily volume", async () => {
    // Act
    const result = await auditTrail("size", "--gb-per-day", "100", "--framework", "pci-dss", "--json");

    // Assess
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toHaveProperty("search");
  });

  it("digest and verify: a local archive copy signed and verified", async () => {
    // Prepare: an archive copy with one object, and a P-256 key pair
    const archive = join(folder, "archive");
    await mkdir(join(archive, "data", "2026", "01", "01"), { recursive: true });
    await writeFile(join(archive, "data", "2026", "01", "01", "object.gz"), "contents\n");
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    await writeFile(join(folder, "private.pem"), privateKey.export({ type: "sec1", format: "pem" }));
    await writeFile(join(folder, "public.pem"), publicKey.export({ type: "spki", format: "pem" }));
    const until = new Date(Date.now() + 2 * 3_600_000).toISOString();

    // Act
    const digest = await auditTrail(
      "digest",
      "--dir",
      archive,
      "--private-key",
      "private.pem",
      "--until",
      until,
    );
    const verify = await auditTrail("verify", "--dir", archive, "--public-key", "public.pem");

    // Assess
    expect(digest.status).toBe(0);
    expect(digest.stdout).toMatch(/^wrote digests\//m);
    expect(verify.stderr).toMatch(/^OK: /m);
    expect(verify.status).toBe(0);
  });

  it("canary --dry-run: the records checked against the environment, nothing sent", async () => {
    // Act
    const result = await auditTrail("canary", "--dry-run", "-c", "env=dev");

    // Assess
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/dry run .*: 5 records checked against environment "dev", nothing sent/);
  });
});
