import { ENVIRONMENTS_FILE } from "../../lambdas/core/contracts.js";
import { errorMessage } from "../../lambdas/core/errors.js";
import { loadPack } from "../../lambdas/core/rules/assemble.js";
import { ruleFiles } from "../../lambdas/core/rules/load.js";
import type { RulePack } from "../../lambdas/core/rules/types.js";
import { AuditTrailConfigError } from "./errors.js";
import type { EnvironmentConfig } from "./schema.js";

/** The rule-pack placeholders `detection.k8sApprovedNetworks` fills. */
export const APPROVED_NETWORK_PLACEHOLDERS = [
  "k8s_approved_networks",
  "k8s_network_controlled_clusters",
] as const;

/**
 * `detection.ruleOverrides` with `detection.k8sApprovedNetworks` compiled into its placeholders: the keyed list
 * `k8s_approved_networks` (cluster name → CIDRs, `"*"` for every cluster) and `k8s_network_controlled_clusters`
 * (every listed cluster but `"*"`). Unchanged when no network is listed. Setting the same placeholders in
 * `ruleOverrides` as well is an error, since one of the two would silently win.
 */
export function withApprovedNetworks(
  environment: string,
  ruleOverrides: Readonly<Record<string, unknown>>,
  approvedNetworks: Readonly<Record<string, readonly string[]>>,
): Record<string, unknown> {
  const clusters = Object.keys(approvedNetworks);
  if (clusters.length === 0) return { ...ruleOverrides };
  const raw = ruleOverrides.placeholders;
  const placeholders =
    typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  for (const name of APPROVED_NETWORK_PLACEHOLDERS) {
    if (Object.hasOwn(placeholders, name)) {
      throw new AuditTrailConfigError({
        environment,
        configKey: `detection.ruleOverrides.placeholders.${name}`,
        problem:
          "is set while detection.k8sApprovedNetworks lists approved networks, which fill this placeholder",
        fix: "list the approved networks in detection.k8sApprovedNetworks only",
      });
    }
  }
  return {
    ...ruleOverrides,
    placeholders: {
      ...placeholders,
      k8s_approved_networks: { "*": [], ...approvedNetworks },
      k8s_network_controlled_clusters: clusters.filter((cluster) => cluster !== "*"),
    },
  };
}

/** The rule-pack placeholder `detection.certificateRotationHours` fills. */
export const CERTIFICATE_ROTATION_PLACEHOLDER = "cert_rotation_period_seconds";

/**
 * `ruleOverrides` with `detection.certificateRotationHours` compiled into the placeholder
 * `cert_rotation_period_seconds` (whole seconds, as a string: Sigma values are strings). Unchanged when the hours
 * are not set; setting the placeholder in `ruleOverrides` as well is an error.
 */
export function withCertificateRotation(
  environment: string,
  ruleOverrides: Readonly<Record<string, unknown>>,
  hours: number | undefined,
): Record<string, unknown> {
  if (hours === undefined) return { ...ruleOverrides };
  const raw = ruleOverrides.placeholders;
  const placeholders =
    typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  if (Object.hasOwn(placeholders, CERTIFICATE_ROTATION_PLACEHOLDER)) {
    throw new AuditTrailConfigError({
      environment,
      configKey: `detection.ruleOverrides.placeholders.${CERTIFICATE_ROTATION_PLACEHOLDER}`,
      problem: "is set while detection.certificateRotationHours sets the rotation period, which fills it",
      fix: "set the rotation period in detection.certificateRotationHours only",
    });
  }
  return {
    ...ruleOverrides,
    placeholders: { ...placeholders, [CERTIFICATE_ROTATION_PLACEHOLDER]: [String(Math.round(hours * 3600))] },
  };
}

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
  let pack: RulePack;
  try {
    pack = loadPack({ source: ruleFiles([rulesDir]), overrides: config.detection.ruleOverrides });
  } catch (error: unknown) {
    const message = errorMessage(error);
    throw new AuditTrailConfigError({
      environment: config.name,
      configKey: "detection.ruleOverrides",
      problem: `the rule pack rejects it: ${message}`,
      fix: `use the rule names, keys and placeholders docs/rules.md lists (section: per-environment overrides) in ${ENVIRONMENTS_FILE}`,
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
