import { loadRulePack } from "../../lambdas/core/rules/load.js";
import { AuditTrailConfigError } from "./errors.js";
import type { EnvironmentConfig } from "./schema.js";

/**
 * How much longer than Firehose's buffering a source-silence timespan must be: the detector's schedule, the
 * transform, and OpenSearch's refresh. A shorter one would call every source silent between two deliveries.
 */
export const SILENCE_MARGIN_MS = 5 * 60_000;

/**
 * Loads the rule pack with the environment's `detection.ruleOverrides`, exactly as the transform does at start-up,
 * so an unknown rule, key or placeholder fails synth instead of the first cold start after a deploy; and checks
 * that every source-silence rule waits longer than documents can take to arrive.
 */
export async function checkRuleOverrides(config: EnvironmentConfig, rulesDir: string): Promise<void> {
  let pack: Awaited<ReturnType<typeof loadRulePack>>;
  try {
    pack = await loadRulePack([rulesDir], config.detection.ruleOverrides);
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    throw new AuditTrailConfigError({
      environment: config.name,
      configKey: "detection.ruleOverrides",
      problem: `the rule pack rejects it: ${message}`,
      fix: "use the rule names, keys and placeholders docs/rules.md lists (section: per-environment overrides) in lib/config/environments.ts",
    });
  }
  const bufferingMs = config.firehose.bufferingIntervalSeconds * 1000;
  for (const rule of pack.rules) {
    if (rule.kind !== "silence" || !rule.generatesAlerts) continue;
    const minimumMs = bufferingMs + SILENCE_MARGIN_MS;
    if (rule.timespanMs < minimumMs) {
      throw new AuditTrailConfigError({
        environment: config.name,
        configKey: `detection.ruleOverrides.rules.${rule.name}.timespan`,
        problem: `${rule.name} calls a source silent after ${rule.timespanMs / 60_000} minutes, but documents may take up to firehose.bufferingIntervalSeconds (${config.firehose.bufferingIntervalSeconds} s) plus ${SILENCE_MARGIN_MS / 60_000} minutes to arrive: every source would look silent between deliveries`,
        fix: `set the timespan to at least ${Math.ceil(minimumMs / 60_000)}m, or lower firehose.bufferingIntervalSeconds`,
      });
    }
  }
}
