import { loadRulePack } from "../../lambdas/core/rules/load.js";
import { AuditTrailConfigError } from "./errors.js";
import type { EnvironmentConfig } from "./schema.js";

/**
 * Loads the rule pack with the environment's `detection.ruleOverrides`, exactly as the transform does at start-up,
 * so an unknown rule, key or placeholder fails synth instead of the first cold start after a deploy.
 */
export async function checkRuleOverrides(config: EnvironmentConfig, rulesDir: string): Promise<void> {
  try {
    await loadRulePack([rulesDir], config.detection.ruleOverrides);
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    throw new AuditTrailConfigError({
      environment: config.name,
      configKey: "detection.ruleOverrides",
      problem: `the rule pack rejects it: ${message}`,
      fix: "use the rule names, keys and placeholders docs/rules.md lists (section: per-environment overrides) in lib/config/environments.ts",
    });
  }
}
