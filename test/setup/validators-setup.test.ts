/**
 * The validators project's set-up (`test/validators/setup.ts`): `npm test` installs cfn-lint and checkov itself
 * (`scripts/validators.sh`); where they cannot be installed it skips the validator tests with one line, except in
 * CI, where a missing validator fails the run before any test.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { prepareValidators } from "../validators/setup.js";

function unusableMachine(): { venv: string; python: string } {
  const dir = mkdtempSync(join(tmpdir(), "validators-setup-"));
  return { venv: join(dir, ".venv"), python: join(dir, "no-python3") };
}

describe("validators set-up", () => {
  it("skips with one line naming the reason and the command when the tools cannot be installed", async () => {
    // Prepare
    const machine = unusableMachine();

    // Act
    const result = await prepareValidators({ ...machine, ci: false });

    // Assess
    expect(result.ready).toBe(false);
    expect(result.message.split("\n")).toHaveLength(1);
    expect(result.message).toMatch(
      /^validators skipped: .*no-python3 not found.*bash scripts\/validators\.sh/,
    );
  });

  it("fails in CI rather than skip, naming the script", async () => {
    // Prepare
    const machine = unusableMachine();

    // Act
    const prepared = prepareValidators({ ...machine, ci: true });

    // Assess
    await expect(prepared).rejects.toThrow(/validators could not be installed.*scripts\/validators\.sh/);
  });
});
