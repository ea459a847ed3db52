/**
 * Vitest global setup of the validators project: `npm test` installs what the validator tests need by running
 * `scripts/validators.sh` (pinned cfn-lint and checkov in `.venv`; a no-op when they are already there). Where they
 * cannot be installed (no Python, no network), the validator tests skip with one line saying why and what to run;
 * in CI (`CI=true`) that is an error instead, so CI never passes without the validators.
 */
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SCRIPT = "scripts/validators.sh";

declare module "vitest" {
  export interface ProvidedContext {
    /** Why the validator tests skip; empty when cfn-lint and checkov are installed. */
    validatorsUnavailableReason: string;
  }
}

export interface ValidatorsMachine {
  /** The virtualenv the tools go into (`AUDIT_TRAIL_VENV`, default `.venv`). */
  readonly venv: string;
  /** The Python the virtualenv is made with (`PYTHON`, default `python3`). */
  readonly python: string;
  /** In CI a missing validator fails the run. */
  readonly ci: boolean;
}

export type ValidatorsState = { ready: true; message: string } | { ready: false; message: string };

/** Installs the validators (or finds them installed); in CI throws when they cannot be had. */
export async function prepareValidators(machine: ValidatorsMachine): Promise<ValidatorsState> {
  try {
    const { stdout } = await promisify(execFile)("bash", [join(ROOT, SCRIPT)], {
      cwd: ROOT,
      env: { ...process.env, AUDIT_TRAIL_VENV: machine.venv, PYTHON: machine.python },
      timeout: 900_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { ready: true, message: stdout.trim().split("\n").at(-1) ?? "" };
  } catch (error: unknown) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim();
    const reason =
      stderr
        .split("\n")
        .filter((line) => line.trim() !== "")
        .at(-1)
        ?.replace(/^validators: /, "") ?? (error instanceof Error ? error.message : String(error));
    if (machine.ci) {
      throw new Error(`validators could not be installed by ${SCRIPT}: ${reason}`);
    }
    return {
      ready: false,
      message: `validators skipped: ${reason} (then: bash ${SCRIPT})`,
    };
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const state = await prepareValidators({
    venv: process.env.AUDIT_TRAIL_VENV ?? join(ROOT, ".venv"),
    python: process.env.PYTHON ?? "python3",
    ci: process.env.CI === "true" || process.env.CI === "1",
  });
  if (!state.ready) process.stderr.write(`${state.message}\n`);
  project.provide("validatorsUnavailableReason", state.ready ? "" : state.message);
}
