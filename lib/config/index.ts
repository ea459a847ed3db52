export { applyCompliance, rulesFor, yearsInDays } from "./compliance.js";
export { ENVIRONMENTS, type EnvironmentName } from "./environments.js";
export { AuditTrailConfigError, type ConfigErrorDetails } from "./errors.js";
export { loadEnvironmentConfig, parseEnvironmentConfig } from "./load.js";
export { checkRuleOverrides } from "./rule-overrides.js";
export {
  type EnvironmentConfig,
  type EnvironmentConfigInput,
  environmentConfigSchema,
} from "./schema.js";
