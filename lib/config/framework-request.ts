/**
 * The minimums each compliance framework sets for an environment, read from its presets (`rulesFor`, what synth
 * enforces): what `audit-trail compliance` assesses the template against, and what the scheduled review function
 * is handed for its quarterly compliance report.
 */
import type { FrameworkId, FrameworkRequest } from "../../lambdas/core/compliance/index.js";
import { rulesFor } from "./compliance.js";
import type { EnvironmentConfig } from "./index.js";

/** The framework's minimums, from the environment's compliance presets (`rulesFor`, what synth enforces). */
export function frameworkRequest(framework: FrameworkId, config: EnvironmentConfig): FrameworkRequest {
  // rulesFor only reads the config; its parameter is typed as the (mutable) parsed config.
  const rules = rulesFor(framework, config as unknown as Parameters<typeof rulesFor>[1]);
  const minimum = (configKey: string): number =>
    Math.max(0, ...rules.filter((rule) => rule.configKey === configKey).map((rule) => rule.minimumDays));
  const purposes = framework === "gdpr" ? (config.compliance.gdpr?.purposes ?? []) : [];
  return {
    framework,
    requirements: {
      archiveRetentionDays: minimum("retention.archiveDays"),
      searchableDays: minimum("retention.hotDays + retention.warmDays"),
      pseudonymizedFields: framework === "gdpr" ? [...(config.pseudonymization?.fields ?? [])] : [],
      ...(purposes.length === 0
        ? {}
        : { longestPurposeDays: Math.max(...purposes.map((purpose) => purpose.retentionDays)) }),
    },
    requirementsSource: `${framework} preset of lib/config/compliance.ts for environment "${config.name}"`,
  };
}
