import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import {
  loadPrecompiledRulePack,
  PRECOMPILED_RULE_PACK_FILE,
} from "../../../lambdas/core/rules/precompiled.js";
import {
  BUNDLED_RULES_DIR,
  externalModules,
  precompiledRulePackCommands,
  TRANSFORM_BUNDLE,
} from "../../../lib/private/bundle.js";
import { useTempDir } from "../../fixtures/temp-dir.js";
import { REPO_ROOT } from "../fixtures.js";

const run = promisify(execFile);

/** Runs an `afterBundling` command the way local bundling does: `bash -c`, from the repository root. */
async function runHook(command: string): Promise<{ code: number; stderr: string }> {
  try {
    await run("bash", ["-c", command], { cwd: REPO_ROOT });
    return { code: 0, stderr: "" };
  } catch (error) {
    const failure = error as { code?: number; stderr?: string };
    return { code: failure.code ?? 1, stderr: failure.stderr ?? "" };
  }
}

describe("the transform's bundle", () => {
  const outputDir = useTempDir("transform-bundle-");

  it("gets the rule pack precompiled with the environment's overrides, ready for the Lambda to load", async () => {
    // Prepare
    const [command] = precompiledRulePackCommands({ rules: { mesh_latency_p99_high: { enabled: false } } })(
      REPO_ROOT,
      outputDir(),
    );
    // Act
    const result = await runHook(command as string);
    // Assess
    expect(result).toEqual({ code: 0, stderr: "" });
    const pack = loadPrecompiledRulePack(join(outputDir(), BUNDLED_RULES_DIR, PRECOMPILED_RULE_PACK_FILE));
    expect(pack.get("k8s_pod_exec")).toBeDefined();
    expect(pack.get("mesh_latency_p99_high")).toBeUndefined();
  }, 30_000);

  it("fails the bundling on an override the Lambda would refuse, naming the key", async () => {
    // Prepare
    const target = join(outputDir(), "refused");
    const [command] = precompiledRulePackCommands({ rules: { no_such_rule: { enabled: false } } })(
      REPO_ROOT,
      target,
    );
    // Act
    const result = await runHook(command as string);
    // Assess
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("key 'AUDIT_TRAIL_RULE_OVERRIDES.rules.no_such_rule': no rule named");
    expect(existsSync(join(target, BUNDLED_RULES_DIR, PRECOMPILED_RULE_PACK_FILE))).toBe(false);
  }, 30_000);

  it("leaves the AWS SDK to the Node.js runtime, and only the transform's", () => {
    expect(TRANSFORM_BUNDLE.useRuntimeAwsSdk).toBe(true);
    expect(externalModules(true)).toEqual(["@aws-sdk/*"]);
    expect(externalModules(false)).toEqual([]);
  });
});
