/**
 * The compiled rule model: the seam between the rule engine (`lambdas/core/rules/*`), the transform (which tags
 * `rule.name` with `RulePack.matchSingleEvent`), the detector (which turns tags and OpenSearch aggregations into
 * `Detection`s) and the CLI (which evaluates everything in memory with the same rules).
 *
 * Stable: fields are only ever added, never renamed or removed.
 */
import type { EventTally, MatchedSummary } from "../alerts/matched.js";
import type { EcsDocument } from "../ecs.js";

/** Sigma levels. `informational` detections are indexed but never paged. */
export type RuleLevel = "informational" | "low" | "medium" | "high" | "critical";
export const RULE_LEVELS: readonly RuleLevel[] = ["informational", "low", "medium", "high", "critical"];

/** Sigma `logsource`, as written in the rule. */
export interface LogSource {
  readonly product?: string;
  readonly service?: string;
  readonly category?: string;
}

/**
 * How repeated firings of a rule for the same group are folded into one alert (extension `suppression:` in the
 * rule YAML, overridable per environment). A firing whose window starts before the latest merged firing's window
 * start + `ms` is merged into that alert (see `suppression.ts`: `isSuppressed`, `mergeDetections`).
 */
export interface Suppression {
  /** Milliseconds; 0 disables suppression. Default: the correlation's timespan, 0 for single-event rules. */
  readonly ms: number;
  /**
   * ECS field paths that identify "the same incident" for single-event rules (e.g. user + pod). Correlation
   * rules always use their own `groupBy`, so this is empty for them.
   */
  readonly groupBy: readonly string[];
  /**
   * Fold only firings of the same span of `ms` aligned to the Unix epoch (with 24 hours: the same UTC calendar day),
   * instead of firings within `ms` of the alert's latest one: one alert per group per span (extension key
   * `suppression.aligned`). Absent: false.
   */
  readonly aligned?: boolean;
}

/** What every compiled rule carries. */
export interface RuleCommon {
  /** Sigma `id` (UUID). */
  readonly id: string;
  /** Sigma `name`: the stable identifier tests, tags (`rule.name`) and alert routing use. */
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly level: RuleLevel;
  /** Sigma tags as written, e.g. `attack.t1609`, `attack.execution`. */
  readonly tags: readonly string[];
  /** ECS field paths responders need in the alert (after field mapping). */
  readonly fields: readonly string[];
  readonly falsepositives: readonly string[];
  /** Repository-relative runbook path, `docs/runbooks/<name>.md` by default (extension key `runbook:`). */
  readonly runbook: string;
  /**
   * Where its alerts are published (extension key `topic:`): `severity`, the topic of the alert's level (on-call);
   * `ops`, the operators' topic (the pipeline's own health: silent sources, the canary).
   */
  readonly topic: RuleTopic;
  /** Whether a firing becomes an alert (false for the building blocks of correlations, see Sigma `generate`). */
  readonly generatesAlerts: boolean;
  readonly suppression: Suppression;
  /** The file the rule came from (for error messages and the CLI). */
  readonly source: string;
}

export type RuleTopic = "severity" | "ops";

/** A compiled single-event (Sigma detection) rule. */
export interface SingleEventRule extends RuleCommon {
  readonly kind: "single";
  readonly logsource: LogSource;
  /** Precompiled matcher: pure, never throws, allocates nothing it can avoid. */
  matches(doc: EcsDocument): boolean;
}

/** Correlation types: Sigma's three plus our documented extensions (`docs/rules.md`). */
export type CorrelationType =
  | "event_count"
  | "value_count"
  | "temporal"
  | "failure_ratio"
  | "percentile"
  | BehaviourType;
/**
 * The behavioural kinds (`rules/behaviour.ts`): judged against a learned baseline, not over hopping windows.
 * `mtls_mode` (`rules/mode.ts`): traffic judged against the effective mTLS mode the audit events declare.
 */
export type BehaviourType = "new_value" | "geo" | "mtls_mode";
export const BEHAVIOUR_TYPES: readonly BehaviourType[] = ["new_value", "geo", "mtls_mode"];
export const CORRELATION_TYPES: readonly CorrelationType[] = [
  "event_count",
  "value_count",
  "temporal",
  "failure_ratio",
  "percentile",
  ...BEHAVIOUR_TYPES,
];

/** What a `geo` rule looks for. */
export type GeoCheck = "new_country" | "impossible_travel";

/**
 * The baseline options of a behavioural rule (`new_value`, `geo`), see docs/rules.md "Behaviour".
 */
export interface BehaviourOptions {
  /**
   * `new_value`: the fields whose combination must be new for the group (besides the group-by values); empty when
   * the group itself is what must be new (a new identity).
   */
  readonly valueFields: readonly string[];
  /** How long a value stays known after it was last seen; also how long after the trail's start the rule stays quiet. */
  readonly learningMs: number;
  /** Only fire for groups known (seen without a gap longer than `learningMs`) for at least this long. 0 when unset. */
  readonly knownForMs: number;
  /**
   * Rules whose events count in the follow-up window `[first, first + timespan)` against `condition`; empty when
   * the rule fires on the first sighting itself.
   */
  readonly followUpRules: readonly string[];
  /** `geo`: what is judged. */
  readonly geo?: GeoCheck;
  /** `geo`: the field holding the address to locate. */
  readonly ipField?: string;
  /** `geo` `impossible_travel`: the fastest plausible travel, km/h. */
  readonly maxSpeedKmh?: number;
  /** `mtls_mode`: the rules whose events declare the mode, and those that prove plaintext. */
  readonly mode?: ModeRoles;
}

/**
 * The roles of an `mtls_mode` rule's building blocks (docs/rules.md "Effective mTLS mode"). The rule's `rules` are
 * the traffic judged, grouped by `group-by` (cluster, destination namespace).
 */
export interface ModeRoles {
  /** PeerAuthentication changes in a namespace (create, update, patch, delete; completed, not refused). */
  readonly namespaceRules: readonly string[];
  /** PeerAuthentication changes in the mesh's root namespace: the mesh-wide default. */
  readonly meshRules: readonly string[];
  /** Traffic that proves plaintext whatever the declared mode (positive evidence). */
  readonly plaintextRules: readonly string[];
}

/** Sigma correlation `condition`: every present bound must hold (a range is `{gte: 1, lt: 5}`). */
export interface CorrelationCondition {
  readonly gt?: number;
  readonly gte?: number;
  readonly lt?: number;
  readonly lte?: number;
  readonly eq?: number;
  readonly neq?: number;
}

/** A compiled Sigma correlation rule. */
export interface CorrelationRule extends RuleCommon {
  readonly kind: "correlation";
  readonly type: CorrelationType;
  /** Names of the single-event rules whose matches feed the correlation (documents tagged with any of them). */
  readonly rules: readonly string[];
  /** ECS field paths; one detection per distinct combination. A document missing one of them is not counted. */
  readonly groupBy: readonly string[];
  readonly timespanMs: number;
  /**
   * Condition on the correlation's value: the event count (`event_count`), the distinct count of `field`
   * (`value_count`), the number of distinct referenced rules seen (`temporal`, default `gte: rules.length`), the
   * failure share in [0, 1] (`failure_ratio`), the percentile of `field` (`percentile`).
   */
  readonly condition: CorrelationCondition;
  /** `value_count`: the field whose distinct values are counted. `percentile`: the numeric field. */
  readonly field?: string;
  /** `failure_ratio`: name of the single-event rule whose matches are the failures (a subset of `rules`). */
  readonly failures?: string;
  /** `percentile`: which percentile, in (0, 100]. */
  readonly percentile?: number;
  /**
   * `failure_ratio`, `percentile` (and optional elsewhere): minimum number of events in the window and group
   * before the condition is evaluated. 0 when unset.
   */
  readonly minCount: number;
  /** Sigma `generate`: whether the referenced rules also alert on their own. */
  readonly generate: boolean;
  /** `new_value` and `geo` only: the baseline options. */
  readonly behaviour?: BehaviourOptions;
}

/** A `new_value` or `geo` rule: a correlation judged against a learned baseline rather than over windows. */
export interface BehaviourRule extends CorrelationRule {
  readonly type: BehaviourType;
  readonly behaviour: BehaviourOptions;
}

export function isBehaviourRule(rule: CompiledRule): rule is BehaviourRule {
  return rule.kind === "correlation" && rule.behaviour !== undefined;
}

/**
 * A source-silence rule (extension `silence:`, `docs/rules.md`): a source (a combination of `groupBy` values, such
 * as a cluster and a dataset) that sent documents within `lookbackMs` but none for `timespanMs` fires, as does an
 * `expected` source that sent nothing at all. Its detections run from the source's last document to the moment it
 * became silent: `[last, last + timespan]`.
 */
export interface SilenceRule extends RuleCommon {
  readonly kind: "silence";
  /** ECS field paths naming a source. A document without one of them counts for the source without that value. */
  readonly groupBy: readonly string[];
  /** How long a source may send nothing before it is silent. */
  readonly timespanMs: number;
  /** Sources seen within this long are expected to keep sending. */
  readonly lookbackMs: number;
  /** Sources expected even when never seen (group-by path → value). */
  readonly expected: readonly Readonly<Record<string, string>>[];
  /** Documents tagged (`rule.name`) with any of these rules belong to no source: the canary's, say. */
  readonly excludeRules: readonly string[];
}

export type CompiledRule = SingleEventRule | CorrelationRule | SilenceRule;

/**
 * What a rule firing produces; the in-memory evaluator and the detector's OpenSearch queries both produce these,
 * and the alert builder renders them.
 */
export interface Detection {
  readonly rule: CompiledRule;
  /**
   * ISO 8601. Correlation: the hopping window `[windowStart, windowEnd)`. Single event: the event's time (twice).
   * Silence: the source's last document, and that time plus the rule's timespan (`silenceWindow`).
   */
  readonly windowStart: string;
  readonly windowEnd: string;
  /** Group-by field path → value (stringified). Single-event rules: their suppression `groupBy` fields. */
  readonly groupBy: Record<string, string>;
  /** Number of events in the window and group that fed the rule (1 for a single event). */
  readonly count: number;
  /** The correlation's value when it is not the count: distinct count, failure share, percentile, rules seen. */
  readonly value?: number;
  /** The matched events, in event-time order, at most `DETECTION_EVENT_CAP`. */
  readonly events: EcsDocument[];
  /**
   * Every matched event of the alert's span and group, summarized (first and last time, distinct values): the
   * detector reads it from the index once the alert's span is final. Absent on a firing still to be folded.
   */
  readonly matched?: MatchedSummary;
  /** Replay's tallies of what the detection folds (hop slots, single events): `matched` once summarized. */
  readonly tallies?: readonly EventTally[];
}

/** How many matched events a detection keeps. */
export const DETECTION_EVENT_CAP = 20;

/** All rules of a pack, compiled once. */
export interface RulePack {
  readonly rules: readonly CompiledRule[];
  readonly singleEventRules: readonly SingleEventRule[];
  readonly correlationRules: readonly CorrelationRule[];
  /** By `name` (also accepts a rule `id`). */
  get(nameOrId: string): CompiledRule | undefined;
  /**
   * Names of every single-event rule the document matches, in pack order, including correlation building blocks
   * that do not alert on their own (the transform stores them in `rule.name` so correlations can aggregate).
   */
  matchSingleEvent(doc: EcsDocument): string[];
}

/**
 * Per-environment overrides (`AUDIT_TRAIL_RULE_OVERRIDES`, JSON). Validated by `parseRuleOverrides`; an unknown
 * rule name or key is an error naming it.
 *
 * ```json
 * { "placeholders": { "trust_domains": ["prod.example.com"],
 *                     "admin_allowed_identities": { "payments": ["spiffe://prod.example.com/ns/ops/sa/admin"] } },
 *   "rules": { "mesh_auth_failure_burst": { "condition": { "gte": 5 }, "timespan": "2m", "suppression": "15m" },
 *              "mesh_latency_p99_high": { "enabled": false } } }
 * ```
 */
export interface RuleOverrides {
  /** Values for `%name%` placeholders: a list, or (keyed placeholders `%name[field.path]%`) a record of lists. */
  readonly placeholders?: Readonly<
    Record<string, readonly string[] | Readonly<Record<string, readonly string[]>>>
  >;
  readonly rules?: Readonly<Record<string, RuleOverride>>;
}

export interface RuleOverride {
  readonly enabled?: boolean;
  readonly level?: RuleLevel;
  /** Sigma duration (`30s`, `5m`, `1h`, `1d`). Correlations and silence rules. */
  readonly timespan?: string;
  /** Replaces the condition entirely. Correlations only. */
  readonly condition?: CorrelationCondition;
  /** Correlations only. */
  readonly minCount?: number;
  /** Sigma duration, `0` to disable. */
  readonly suppression?: string;
  /** Silence rules only: sources expected in this environment even when never seen. */
  readonly expected?: readonly Readonly<Record<string, string>>[];
}
