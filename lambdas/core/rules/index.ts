/**
 * The Sigma rule engine: pure TypeScript, no AWS. Lambdas and the CLI load a pack with `loadPack` (from
 * `ruleFiles(dirs)`, or `precompiledPack(file)` in the transform; `loadRulePack(dirs, overrides)` for short); the
 * transform tags documents with `pack.matchSingleEvent`; the CLI evaluates correlations with `StreamEvaluator`;
 * the detector builds the same windows (`windows.ts`) with OpenSearch aggregations. Suppression (one alert per burst)
 * is `suppression.ts`, source silence `silence.ts`, for replay and the detector alike.
 */

export type { LoadPackOptions, RulePackSource } from "./assemble.js";
export { loadPack } from "./assemble.js";
export { formatDuration, parseDuration } from "./duration.js";
export { RuleError } from "./errors.js";
export type { EvaluatorOptions, EvaluatorStats } from "./evaluator.js";
export {
  correlationValue,
  percentile,
  StreamEvaluator,
  singleDetection,
} from "./evaluator.js";
export { firstValue, kubernetesAuditMapping, mappingFor, pathAccessor } from "./fields.js";
export { ipInBlocks, isPublicIp, NON_PUBLIC_CIDRS, parseCidr } from "./ip.js";
export type { K8sOperator, PodExecDetails } from "./k8s.js";
export {
  AUTHORIZATION_REASON_ANNOTATION,
  parseAuthorizationReason,
  podExecDetails,
  resolveK8sOperator,
} from "./k8s.js";
export { defaultRulesDir, loadRulePack, readOverridesFile, readRuleSources, ruleFiles } from "./load.js";
export type { RuleSource } from "./pack.js";
export { buildRulePack, OVERRIDES_KEY, parseRuleOverrides } from "./pack.js";
export type { Normalizer, ReplayOptions, ReplayRecord, ReplaySummary } from "./replay.js";
export { replay } from "./replay.js";
export * from "./silence.js";
export * from "./suppression.js";
export * from "./types.js";
export * from "./windows.js";
