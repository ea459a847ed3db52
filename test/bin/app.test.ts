import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../lib/config/index.js";
import { REPO_ROOT } from "../lib/fixtures.js";

interface SynthRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly outDir: string;
}

/** The environment of a machine with no AWS credentials (and no CLI phoning home). */
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (
      /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE|DEFAULT_PROFILE|REGION|DEFAULT_REGION)$/.test(
        name,
      )
    ) {
      delete env[name];
    }
  }
  env.AWS_SHARED_CREDENTIALS_FILE = join(tmpdir(), "no-aws-credentials");
  env.AWS_CONFIG_FILE = join(tmpdir(), "no-aws-config");
  env.AWS_EC2_METADATA_DISABLED = "true";
  env.CDK_DISABLE_VERSION_CHECK = "1";
  env.CDK_DISABLE_CLI_TELEMETRY = "true";
  return env;
}

function synth(args: readonly string[]): Promise<SynthRun> {
  const outDir = mkdtempSync(join(tmpdir(), "audit-trail-synth-"));
  return new Promise((resolve, reject) => {
    const child = spawn("npx", ["cdk", "synth", ...args, "--quiet", "--no-notices", "-o", outDir], {
      cwd: REPO_ROOT,
      env: offlineEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, outDir }));
  });
}

const NAMES = Object.keys(ENVIRONMENTS) as (keyof typeof ENVIRONMENTS)[];

describe("cdk synth (offline, no credentials)", () => {
  const runs = new Map<string, SynthRun>();
  let unknown: SynthRun;
  let missing: SynthRun;

  beforeAll(async () => {
    const results = await Promise.all([
      ...NAMES.map(async (name) => [name, await synth(["-c", `env=${name}`])] as const),
      (async () => ["unknown", await synth(["-c", "env=qa"])] as const)(),
      (async () => ["missing", await synth([])] as const)(),
    ]);
    for (const [name, run] of results) runs.set(name, run);
    unknown = runs.get("unknown") as SynthRun;
    missing = runs.get("missing") as SynthRun;
  });

  afterAll(() => {
    for (const run of runs.values()) rmSync(run.outDir, { recursive: true, force: true });
  });

  for (const name of NAMES) {
    it(`synthesizes ${name} with the nag packs attached and clean`, () => {
      // Act
      const run = runs.get(name) as SynthRun;

      // Assess
      expect(run.code, run.stderr.slice(-3000)).toBe(0);
      const template = JSON.parse(
        readFileSync(join(run.outDir, `AuditTrail-${name}.template.json`), "utf8"),
      ) as {
        Resources: Record<string, { Type: string }>;
      };
      expect(Object.values(template.Resources).map((resource) => resource.Type)).toEqual(
        expect.arrayContaining([
          "AWS::OpenSearchService::Domain",
          "AWS::KinesisFirehose::DeliveryStream",
          "Custom::AuditTrailSearchBootstrap",
          "AWS::S3::Bucket",
          "AWS::SNS::Topic",
          "AWS::CloudWatch::Alarm",
        ]),
      );
      expect(run.stderr).not.toMatch(/\bERROR\b/);
    });

    it(`bundles ${name}'s handlers locally as minified ESM with source maps, the rule pack and the GeoIP database`, () => {
      // Prepare
      const run = runs.get(name) as SynthRun;
      const bundles = readdirSync(run.outDir)
        .filter((entry) => entry.startsWith("asset.") && statSync(join(run.outDir, entry)).isDirectory())
        .map((entry) => join(run.outDir, entry))
        .filter((dir) => existsSync(join(dir, "index.mjs")));

      // Act
      const withRules = bundles.filter((dir) => existsSync(join(dir, "rules")));
      const withGeoIp = bundles.filter((dir) => existsSync(join(dir, "geoip")));

      // Assess
      expect(bundles).toHaveLength(6);
      for (const dir of bundles) {
        const code = readFileSync(join(dir, "index.mjs"), "utf8");
        expect(existsSync(join(dir, "index.mjs.map"))).toBe(true);
        expect(code.startsWith("import { createRequire as __auditTrailCreateRequire }")).toBe(true);
        // Minified: esbuild keeps newlines only inside template literals, so lines average thousands of characters.
        expect(code.length / code.split("\n").length).toBeGreaterThan(1000);
      }
      // The detector loads the YAML pack; the transform the pack precompiled at synth (overrides included), without
      // a YAML parser. The detector alone resolves countries.
      expect(withRules).toHaveLength(2);
      const packs = withRules.map((dir) => readdirSync(join(dir, "rules"), { recursive: true }).map(String));
      expect(packs.filter((files) => files.some((file) => /\.ya?ml$/.test(file)))).toHaveLength(1);
      expect(packs.filter((files) => files.length === 1 && files[0] === "rule-pack.json")).toHaveLength(1);
      expect(withGeoIp).toHaveLength(1);
      expect(readdirSync(join(withGeoIp[0] as string, "geoip"))).toEqual(
        expect.arrayContaining(["dbip-country-ipv4-num.csv", "dbip-country-ipv6-num.csv"]),
      );
    });
  }

  it("protects prod (and only prod) from stack deletion, as configured", () => {
    // Act
    const protection = NAMES.map((name) => {
      const manifest = JSON.parse(
        readFileSync(join((runs.get(name) as SynthRun).outDir, "manifest.json"), "utf8"),
      ) as {
        artifacts: Record<string, { properties?: { terminationProtection?: boolean } }>;
      };
      return [
        name,
        manifest.artifacts[`AuditTrail-${name}`]?.properties?.terminationProtection ?? false,
      ] as const;
    });

    // Assess
    expect(Object.fromEntries(protection)).toEqual({ dev: false, staging: false, prod: true });
  });

  it("fails on an unknown environment and lists the valid ones", () => {
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain(
      'env (CDK context) is "qa"; unknown environment; valid environments: dev, prod, staging',
    );
  });

  it("fails without an environment and says how to pass one", () => {
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("no environment selected; valid environments: dev, prod, staging");
    expect(missing.stderr).toContain("-c env=NAME");
  });
});
