/**
 * The CloudFormation validators on every shipped environment: each is synthesized as a user would
 * (`cdk synth -c env=NAME`, no AWS credentials), then checked by cfn-lint (no error) and checkov (no failed check
 * except those skipped in the template's metadata with a reason). The tools live in `.venv`, installed by
 * `scripts/validators.sh`, which the project's global setup (`setup.ts`) runs; where it cannot, these tests skip
 * with the one line the setup prints (never in CI, where the setup fails instead).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ENVIRONMENTS } from "../../lib/config/environments.js";

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const VENV_BIN = join(process.env.AUDIT_TRAIL_VENV ?? join(ROOT, ".venv"), "bin");
const CFN_LINT = join(VENV_BIN, "cfn-lint");
const CHECKOV = join(VENV_BIN, "checkov");
const CDK = join(ROOT, "node_modules", ".bin", "cdk");
const environments = Object.keys(ENVIRONMENTS);

/** The environment of a machine without AWS credentials, and no telemetry or update checks from the tools. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CI: "true",
    BC_SKIP_MAPPING: "TRUE",
    CHECKOV_RUN_SCA_PACKAGE_SCAN_V2: "false",
  };
  for (const key of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"])
    delete env[key];
  return env;
}

interface CfnLintMatch {
  Level: string;
  Message: string;
  Rule: { Id: string };
  Filename: string;
  Location: { Path?: (string | number)[] };
}

interface CheckovCheck {
  check_id: string;
  check_name: string;
  resource: string;
  file_path: string;
  /** checkov puts a skip's reason (the template's `Metadata.checkov.skip[].comment`) under `check_result`. */
  check_result?: { result?: string; suppress_comment?: string };
}

interface CheckovReport {
  results: { failed_checks?: CheckovCheck[]; skipped_checks?: CheckovCheck[] };
}

/** cfn-lint and checkov exit non-zero when they find something; their JSON report is what we judge. */
async function runReporting(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, {
      env: offlineEnv(),
      maxBuffer: 64 * 1024 * 1024,
      timeout: 300_000,
    });
    return stdout;
  } catch (error) {
    const stdout = (error as { stdout?: string }).stdout;
    if (stdout !== undefined && stdout.trim() !== "") return stdout;
    throw new Error(
      `${command} ${args.join(" ")} failed: ${(error as { stderr?: string }).stderr ?? String(error)}`,
    );
  }
}

const unavailable = inject("validatorsUnavailableReason") !== "";

describe.skipIf(unavailable)("synthesized templates pass cfn-lint and checkov", () => {
  const outDirs = new Map<string, string>();
  const templates = new Map<string, string[]>();

  beforeAll(async () => {
    const missing = [CFN_LINT, CHECKOV].filter((tool) => !existsSync(tool));
    if (missing.length > 0) throw new Error(`scripts/validators.sh left no ${missing.join(", ")}`);
    await Promise.all(
      environments.map(async (name) => {
        const out = await mkdtemp(join(tmpdir(), `audit-trail-synth-${name}-`));
        outDirs.set(name, out);
        try {
          await run(CDK, ["synth", "-c", `env=${name}`, "-o", out, "--quiet", "--no-notices"], {
            cwd: ROOT,
            env: offlineEnv(),
            maxBuffer: 64 * 1024 * 1024,
            timeout: 600_000,
          });
        } catch (error) {
          throw new Error(
            `cdk synth -c env=${name} failed: ${(error as { stderr?: string }).stderr ?? String(error)}`,
          );
        }
        const files = (await readdir(out)).filter((file) => file.endsWith(".template.json"));
        if (files.length === 0) throw new Error(`cdk synth -c env=${name} wrote no template into ${out}`);
        templates.set(
          name,
          files.map((file) => join(out, file)),
        );
      }),
    );
  }, 900_000);

  afterAll(async () => {
    await Promise.all([...outDirs.values()].map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it.each(environments)("env=%s has no cfn-lint error", async (name) => {
    // Act
    const report = JSON.parse(
      await runReporting(CFN_LINT, ["--format", "json", ...(templates.get(name) ?? [])]),
    ) as CfnLintMatch[];

    // Assess
    const errors = report
      .filter((match) => match.Level === "Error")
      .map(
        (match) => `${match.Rule.Id} ${match.Location.Path?.slice(0, 3).join("/") ?? ""}: ${match.Message}`,
      );
    expect(errors).toEqual([]);
  });

  it.each(environments)("env=%s fails no checkov check except those skipped with a reason", async (name) => {
    // Act
    const reports: CheckovReport[] = [];
    for (const template of templates.get(name) ?? []) {
      const output = await runReporting(CHECKOV, [
        "-f",
        template,
        "--framework",
        "cloudformation",
        "--output",
        "json",
        "--compact",
        "--skip-download",
      ]);
      const parsed = JSON.parse(output) as CheckovReport | CheckovReport[];
      reports.push(...(Array.isArray(parsed) ? parsed : [parsed]));
    }

    // Assess
    const failed = reports
      .flatMap((report) => report.results.failed_checks ?? [])
      .map((check) => `${check.check_id} ${check.resource}: ${check.check_name}`);
    const skippedWithoutReason = reports
      .flatMap((report) => report.results.skipped_checks ?? [])
      .filter((check) => (check.check_result?.suppress_comment ?? "").trim() === "")
      .map((check) => `${check.check_id} ${check.resource}`);
    expect(failed).toEqual([]);
    expect(skippedWithoutReason).toEqual([]);
  });
});
