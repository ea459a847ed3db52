/**
 * The transform Lambda's configuration, read once from its environment (names in `TRANSFORM_ENV`). A missing
 * or malformed variable fails the cold start with a message naming the variable, its value and the fix.
 */
import { TRANSFORM_ENV } from "../core/contracts.js";

/** Where the pseudonymization key lives: the deployed form of the config's `pseudonymization.key` (same `source` names). */
export type KeySource =
  | { source: "secret"; secretArn: string }
  | { source: "ssm-parameter"; parameterName: string };

export interface TransformConfig {
  /**
   * The bundle's rule directory, holding the precompiled pack (`rule-pack.json`: the Sigma rules with the
   * environment's overrides, validated at synth); every single-event rule in it tags the documents it matches.
   */
  readonly rulesDir: string;
  readonly keepEventOriginal: boolean;
  /** Dotted ECS paths to pseudonymize; empty: pseudonymization off. */
  readonly pseudonymizeFields: readonly string[];
  /** Where the HMAC key lives; set exactly when `pseudonymizeFields` is not empty. */
  readonly keySource?: KeySource;
  /** The Secrets Manager secret holding the key that seals re-ingested documents (`core/normalize/reingest.ts`). */
  readonly reingestKeySecretArn: string;
}

export class TransformConfigError extends Error {
  override readonly name = "TransformConfigError";
}

export function loadTransformConfig(env: Readonly<Record<string, string | undefined>>): TransformConfig {
  const rulesDir = env[TRANSFORM_ENV.rulesDir]?.trim();
  if (!rulesDir) {
    throw new TransformConfigError(
      `${TRANSFORM_ENV.rulesDir} is not set: the stack sets it to the rule pack directory inside the bundle`,
    );
  }
  const ruleOverrides = env[TRANSFORM_ENV.ruleOverrides]?.trim();
  if (ruleOverrides) {
    throw new TransformConfigError(
      `${TRANSFORM_ENV.ruleOverrides} is set, but the transform takes no overrides at run time: they are compiled into its rule pack when the stack is synthesized. Change detection.ruleOverrides in the environment config and deploy`,
    );
  }
  const keepRaw = env[TRANSFORM_ENV.keepEventOriginal]?.trim().toLowerCase();
  if (keepRaw !== undefined && keepRaw !== "" && keepRaw !== "true" && keepRaw !== "false") {
    throw new TransformConfigError(
      `${TRANSFORM_ENV.keepEventOriginal} is "${env[TRANSFORM_ENV.keepEventOriginal]}": use "true" or "false"`,
    );
  }
  const keepEventOriginal = keepRaw !== "false";
  const pseudonymizeFields = (env[TRANSFORM_ENV.pseudonymizeFields] ?? "")
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f !== "");
  const secretArn = env[TRANSFORM_ENV.pseudonymizationKeySecretArn]?.trim() || undefined;
  const parameterName = env[TRANSFORM_ENV.pseudonymizationKeyParameterName]?.trim() || undefined;
  const reingestKeySecretArn = env[TRANSFORM_ENV.reingestKeySecretArn]?.trim();
  if (!reingestKeySecretArn) {
    throw new TransformConfigError(
      `${TRANSFORM_ENV.reingestKeySecretArn} is not set: the stack sets it to the ARN of the secret it generates to seal re-ingested documents; without it no multi-document record could be indexed`,
    );
  }
  const base = { rulesDir, keepEventOriginal, pseudonymizeFields, reingestKeySecretArn };
  if (pseudonymizeFields.length === 0) return base;
  if (secretArn !== undefined && parameterName !== undefined) {
    throw new TransformConfigError(
      `both ${TRANSFORM_ENV.pseudonymizationKeySecretArn} and ${TRANSFORM_ENV.pseudonymizationKeyParameterName} are set: set exactly one`,
    );
  }
  if (secretArn !== undefined) return { ...base, keySource: { source: "secret", secretArn } };
  if (parameterName !== undefined) return { ...base, keySource: { source: "ssm-parameter", parameterName } };
  throw new TransformConfigError(
    `${TRANSFORM_ENV.pseudonymizeFields} is "${env[TRANSFORM_ENV.pseudonymizeFields]}" but no key is configured: set ${TRANSFORM_ENV.pseudonymizationKeySecretArn} (Secrets Manager) or ${TRANSFORM_ENV.pseudonymizationKeyParameterName} (SSM SecureString)`,
  );
}
