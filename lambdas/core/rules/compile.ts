/**
 * The rule compiler: validated rule YAML into `SingleEventRule`s, `CorrelationRule`s, silence and behaviour rules.
 * Everything that can be decided once (field mapping, modifiers, wildcards, placeholders, the condition tree) is
 * decided here; how a single detection item matches a document is `item-match.ts`.
 */
import { ConditionSyntaxError, compileCondition, parseCondition } from "./condition.js";
import { parseDuration } from "./duration.js";
import { RuleError } from "./errors.js";
import { type FieldMapping, mappingFor } from "./fields.js";
import {
  commonRequirements,
  compileItem,
  compileKeyword,
  type DocPredicate,
  type ItemContext,
  type Placeholders,
  requirementsOf,
  withRequirements,
} from "./item-match.js";
import type { CorrelationRuleYaml, DetectionRuleYaml, SilenceRuleYaml } from "./schema.js";
import { allOf, anyOfPredicates } from "./specialize.js";
import type {
  CorrelationCondition,
  CorrelationRule,
  CorrelationType,
  RuleCommon,
  RuleLevel,
  SilenceRule,
  SingleEventRule,
  Suppression,
} from "./types.js";

/** The metadata every compiled rule carries, from the YAML keys every rule kind shares. */
function commonOf(
  yaml: RuleYamlCommon,
  name: string,
  file: string,
  level: string | undefined,
  suppression: Suppression,
): Omit<RuleCommon, "fields"> {
  return {
    id: yaml.id,
    name,
    title: yaml.title,
    description: yaml.description ?? "",
    level: (level ?? yaml.level) as RuleLevel,
    tags: yaml.tags,
    falsepositives: yaml.falsepositives,
    runbook: runbookFor(name, yaml.runbook),
    topic: yaml.topic,
    generatesAlerts: true,
    suppression,
    source: file,
  };
}

/**
 * The suppression of a rule with a window (correlation, silence): the override's, else the rule's own timespan,
 * else one window; no group-by of its own (a detection is already one group of the rule's window).
 */
function windowSuppression(
  yaml: { suppression?: { timespan: string } },
  override: { suppression?: string },
  windowMs: number,
  location: (key: string) => { file: string; rule: string; key: string },
): { ms: number; groupBy: readonly string[] } {
  const text = override.suppression ?? yaml.suppression?.timespan;
  return {
    ms: text === undefined ? windowMs : durationMs(text, location("suppression.timespan")),
    groupBy: [],
  };
}

/** The keys `commonOf` reads. */
type RuleYamlCommon = Pick<
  DetectionRuleYaml,
  "id" | "title" | "description" | "level" | "tags" | "falsepositives" | "runbook" | "topic"
>;

/** A compiled single-event rule plus what the pack needs to evaluate it fast. */
export interface CompiledSingle {
  readonly rule: SingleEventRule;
  readonly mapping: FieldMapping;
  /** The condition without the logsource guard (the pack checks the guard once per logsource). */
  readonly condition: DocPredicate;
}

export function durationMs(text: string, location: { file: string; rule: string; key: string }): number {
  if (text.trim() === "0") return 0;
  return parseDuration(text, location);
}

export function runbookFor(name: string, explicit: string | undefined): string {
  return explicit ?? `docs/runbooks/${name}.md`;
}

export function compileSingle(
  yaml: DetectionRuleYaml,
  name: string,
  file: string,
  placeholders: Placeholders,
): CompiledSingle {
  const logsource = {
    ...(yaml.logsource.product === undefined ? {} : { product: yaml.logsource.product }),
    ...(yaml.logsource.service === undefined ? {} : { service: yaml.logsource.service }),
    ...(yaml.logsource.category === undefined ? {} : { category: yaml.logsource.category }),
  };
  const mapping = mappingFor(logsource);
  const context: ItemContext = { file, rule: name, mapping, placeholders };
  const selections = new Map<string, DocPredicate>();
  for (const [selectionName, body] of Object.entries(yaml.detection)) {
    if (selectionName === "condition" || selectionName === "timeframe") continue;
    selections.set(selectionName, compileSelection(selectionName, body, context));
  }
  const conditions = Array.isArray(yaml.detection.condition)
    ? yaml.detection.condition
    : [yaml.detection.condition];
  const compiled: DocPredicate[] = conditions.map((condition, index) => {
    const key = conditions.length === 1 ? "detection.condition" : `detection.condition.${index}`;
    if (typeof condition !== "string" || condition.trim() === "") {
      throw new RuleError("the condition must be a non-empty string", { file, rule: name, key });
    }
    try {
      return compileCondition(parseCondition(condition), selections);
    } catch (error) {
      if (error instanceof ConditionSyntaxError)
        throw new RuleError(`${error.reason} at column ${error.position + 1} of '${condition}'`, {
          file,
          rule: name,
          key,
        });
      throw error;
    }
  });
  const condition = withRequirements(
    anyOfPredicates(compiled),
    commonRequirements(compiled.map(requirementsOf)),
  );
  const guard = mapping.guard;
  const fields = yaml.fields.map((field) => mapping.resolve(field).path);
  const suppressionGroupBy = (yaml.suppression?.["group-by"] ?? []).map(
    (field) => mapping.resolve(field).path,
  );
  const suppressionMs =
    yaml.suppression === undefined
      ? 0
      : durationMs(yaml.suppression.timespan, { file, rule: name, key: "suppression.timespan" });
  const rule: SingleEventRule = {
    kind: "single",
    ...commonOf(yaml, name, file, undefined, {
      ms: suppressionMs,
      groupBy: suppressionGroupBy,
      ...(yaml.suppression?.aligned === true ? { aligned: true } : {}),
    }),
    fields,
    logsource,
    matches: guard === undefined ? condition : allOf([guard, condition]),
  };
  return { rule, mapping, condition };
}

function compileSelection(name: string, body: unknown, context: ItemContext): DocPredicate {
  const key = `detection.${name}`;
  if (body === null || body === undefined) {
    throw new RuleError("a selection needs field: value pairs or a list", {
      file: context.file,
      rule: context.rule,
      key,
    });
  }
  if (Array.isArray(body)) {
    if (body.length === 0) {
      throw new RuleError("an empty selection matches nothing", {
        file: context.file,
        rule: context.rule,
        key,
      });
    }
    const maps = body.filter((item) => typeof item === "object" && item !== null && !Array.isArray(item));
    if (maps.length === body.length) {
      const alternatives = body.map((item, index) =>
        compileMap(item as Record<string, unknown>, context, `${key}.${index}`),
      );
      return withRequirements(
        anyOfPredicates(alternatives),
        commonRequirements(alternatives.map(requirementsOf)),
      );
    }
    if (maps.length > 0) {
      throw new RuleError("a selection list holds either maps or keywords, not both", {
        file: context.file,
        rule: context.rule,
        key,
      });
    }
    return compileKeyword(body, context, key);
  }
  if (typeof body === "object") return compileMap(body as Record<string, unknown>, context, key);
  return compileKeyword(body, context, key);
}

function compileMap(map: Record<string, unknown>, context: ItemContext, key: string): DocPredicate {
  const entries = Object.entries(map);
  if (entries.length === 0) {
    throw new RuleError("an empty selection matches nothing", {
      file: context.file,
      rule: context.rule,
      key,
    });
  }
  const items = entries.map(([field, value]) => {
    try {
      return compileItem(field, value, context);
    } catch (error) {
      if (error instanceof RuleError && error.location.key === field) {
        throw new RuleError(error.reason, { file: context.file, rule: context.rule, key: `${key}.${field}` });
      }
      throw error;
    }
  });
  return withRequirements(allOf(items), items.flatMap(requirementsOf));
}

/** A correlation before its references are resolved against the pack. */
export interface PendingCorrelation {
  readonly yaml: CorrelationRuleYaml;
  readonly name: string;
  readonly file: string;
}

/** What `AUDIT_TRAIL_RULE_OVERRIDES` may change in a correlation. */
interface CorrelationOverride {
  timespan?: string;
  condition?: CorrelationCondition;
  minCount?: number;
  suppression?: string;
  level?: string;
}

/** A correlation with its timespan and rules resolved, as the stateful kinds (behaviour, `mtls_mode`) take it. */
interface ResolvedCorrelation {
  readonly pending: PendingCorrelation;
  readonly rules: readonly string[];
  readonly timespanMs: number;
  readonly resolveRule: (reference: string, key: string) => string;
  readonly override: CorrelationOverride;
  readonly location: (key: string) => { file: string; rule: string; key: string };
}

/** The fields a stateful correlation (behaviour, `mtls_mode`) starts with, up to its condition. */
function statefulHead(
  resolved: ResolvedCorrelation,
  type: "new_value" | "geo" | "mtls_mode",
  groupBy: readonly string[],
  condition: CorrelationCondition,
  suppression: { aligned?: true } = {},
) {
  const { pending, rules, timespanMs, override, location } = resolved;
  const { yaml, name, file } = pending;
  return {
    kind: "correlation" as const,
    ...commonOf(yaml, name, file, override.level, {
      ...windowSuppression(yaml, override, timespanMs, location),
      ...suppression,
    }),
    fields: yaml.fields,
    type,
    rules,
    groupBy,
    timespanMs,
    condition,
  };
}

export function compileCorrelation(
  pending: PendingCorrelation,
  resolveRule: (reference: string, key: string) => string,
  override: CorrelationOverride,
): CorrelationRule {
  const { yaml, name, file } = pending;
  const spec = yaml.correlation;
  const type = spec.type as CorrelationType;
  const location = (key: string) => ({ file, rule: name, key });
  const timespanMs = durationMs(override.timespan ?? spec.timespan, location("correlation.timespan"));
  if (timespanMs <= 0) throw new RuleError("the timespan must be positive", location("correlation.timespan"));
  const rules = spec.rules.map((reference, index) => resolveRule(reference, `correlation.rules.${index}`));
  const resolved: ResolvedCorrelation = { pending, rules, timespanMs, resolveRule, override, location };
  if (type === "new_value" || type === "geo") return compileBehaviour(resolved, type);
  if (type === "mtls_mode") return compileMode(resolved);
  for (const key of ["fields", "learning", "known-for", "follow-up", "check", "max-speed-kmh"] as const) {
    if (spec[key] !== undefined)
      throw new RuleError(`'${key}' applies to new_value and geo rules only`, location(`correlation.${key}`));
  }
  if (spec.mode !== undefined)
    throw new RuleError("'mode' applies to mtls_mode rules only", location("correlation.mode"));
  const { field: conditionField, ...bounds } = spec.condition ?? {};
  let condition: CorrelationCondition = override.condition ?? stripUndefined(bounds);
  const field = spec.field ?? conditionField;
  if (Object.keys(condition).length === 0) {
    if (type !== "temporal")
      throw new RuleError(`a ${type} correlation needs a condition`, location("correlation.condition"));
    condition = { gte: rules.length };
  }
  if ((type === "value_count" || type === "percentile") && field === undefined) {
    throw new RuleError(
      type === "value_count" ? "value_count needs condition.field" : "percentile needs 'field'",
      location("correlation.field"),
    );
  }
  let failures: string | undefined;
  if (type === "failure_ratio") {
    if (spec.failures === undefined)
      throw new RuleError("failure_ratio needs 'failures' (a rule name)", location("correlation.failures"));
    failures = resolveRule(spec.failures, "correlation.failures");
  }
  if (type === "percentile" && spec.percentile === undefined) {
    throw new RuleError("percentile needs 'percentile' (e.g. 99)", location("correlation.percentile"));
  }
  return {
    kind: "correlation",
    ...commonOf(yaml, name, file, override.level, windowSuppression(yaml, override, timespanMs, location)),
    fields: yaml.fields,
    type,
    rules,
    groupBy: spec["group-by"],
    timespanMs,
    condition,
    ...(field === undefined ? {} : { field }),
    ...(failures === undefined ? {} : { failures }),
    ...(spec.percentile === undefined ? {} : { percentile: spec.percentile }),
    minCount: override.minCount ?? spec["min-count"] ?? 0,
    generate: spec.generate,
  };
}

/** Default fastest plausible travel for `geo` `impossible_travel`: a commercial airliner with margin. */
export const DEFAULT_MAX_SPEED_KMH = 1000;

/**
 * A `new_value` or `geo` rule (docs/rules.md "Behaviour"). Its key is the group-by values plus the value fields
 * (`new_value`) or the country of `field` (`geo`); `learning` is required; `known-for` may not exceed it (the
 * detector's periodic rebuild reads `learning + known-for` back, which then decides every group exactly).
 */
function compileBehaviour(resolved: ResolvedCorrelation, type: "new_value" | "geo"): CorrelationRule {
  const { pending, rules, resolveRule, override, location } = resolved;
  const { yaml, name } = pending;
  const spec = yaml.correlation;
  /** Refuses the keys of the other behaviour kind, which a `kind` rule does not take. */
  const refuseOthers = (keys: readonly (keyof typeof spec)[], kind: string): void => {
    for (const key of keys) {
      if (spec[key] !== undefined)
        throw new RuleError(`'${key}' applies to ${kind} rules only`, location(`correlation.${key}`));
    }
  };
  if (override.minCount !== undefined)
    throw new RuleError("'minCount' does not apply to new_value and geo rules", {
      rule: name,
      key: `AUDIT_TRAIL_RULE_OVERRIDES.rules.${name}.minCount`,
    });
  if (spec.learning === undefined)
    throw new RuleError(`a ${type} rule needs 'learning' (e.g. 14d)`, location("correlation.learning"));
  const learningMs = durationMs(spec.learning, location("correlation.learning"));
  if (learningMs < 60_000)
    throw new RuleError("learning must be at least 1m", location("correlation.learning"));
  const knownForMs =
    spec["known-for"] === undefined ? 0 : durationMs(spec["known-for"], location("correlation.known-for"));
  if (knownForMs > learningMs)
    throw new RuleError(
      `known-for (${spec["known-for"]}) may not exceed learning (${spec.learning})`,
      location("correlation.known-for"),
    );
  const groupBy = spec["group-by"];
  const valueFields = spec.fields ?? [];
  const { field: conditionField, ...bounds } = spec.condition ?? {};
  if (conditionField !== undefined)
    throw new RuleError(`a ${type} rule takes no condition.field`, location("correlation.condition.field"));
  const given = override.condition ?? stripUndefined(bounds);
  const hasCondition = Object.keys(given).length > 0;
  let followUpRules: string[] = [];
  if (spec["follow-up"] !== undefined) {
    if (!hasCondition)
      throw new RuleError("'follow-up' needs a condition on their count", location("correlation.condition"));
    followUpRules = spec["follow-up"].map((reference, index) =>
      resolveRule(reference, `correlation.follow-up.${index}`),
    );
  } else if (hasCondition) followUpRules = [...rules];
  if (type === "new_value") {
    if (groupBy.length + valueFields.length === 0)
      throw new RuleError(
        "new_value needs 'group-by' or 'fields': what must be new",
        location("correlation"),
      );
    refuseOthers(["check", "max-speed-kmh", "field"], "geo");
  } else {
    if (groupBy.length === 0)
      throw new RuleError(
        "geo needs 'group-by': whose locations are learned",
        location("correlation.group-by"),
      );
    if (spec.check === undefined)
      throw new RuleError(
        "geo needs 'check': new_country or impossible_travel",
        location("correlation.check"),
      );
    refuseOthers(["fields", "known-for", "follow-up"], "new_value");
    if (hasCondition) throw new RuleError("a geo rule takes no condition", location("correlation.condition"));
    if (spec["max-speed-kmh"] !== undefined && spec.check !== "impossible_travel")
      throw new RuleError(
        "'max-speed-kmh' applies to impossible_travel",
        location("correlation.max-speed-kmh"),
      );
  }
  return {
    ...statefulHead(resolved, type, groupBy, hasCondition ? given : { gte: 1 }),
    ...(type === "geo" ? { field: spec.field ?? "source.ip" } : {}),
    minCount: 0,
    generate: spec.generate,
    behaviour: {
      valueFields,
      learningMs,
      knownForMs,
      followUpRules,
      ...(type === "geo"
        ? {
            geo: spec.check,
            ipField: spec.field ?? "source.ip",
            ...(spec.check === "impossible_travel"
              ? { maxSpeedKmh: spec["max-speed-kmh"] ?? DEFAULT_MAX_SPEED_KMH }
              : {}),
          }
        : {}),
    },
  };
}

/** One alert per group per UTC day: the day is the `mtls_mode` rule's window. */
export const MODE_DAY_MS = 86_400_000;

/**
 * An `mtls_mode` rule (docs/rules.md "Effective mTLS mode"): its `rules` are the traffic judged, grouped by
 * `group-by` (the cluster and the destination namespace, in that order); `mode` names the building blocks that
 * declare the namespace's and the mesh's mode and those that prove plaintext. One detection per group and UTC day,
 * so the timespan is a day; no condition (every request judged not STRICT counts).
 */
function compileMode(resolved: ResolvedCorrelation): CorrelationRule {
  const { pending, timespanMs, resolveRule, override, location } = resolved;
  const { yaml, name, file } = pending;
  const spec = yaml.correlation;
  for (const key of [
    "fields",
    "learning",
    "known-for",
    "follow-up",
    "check",
    "max-speed-kmh",
    "field",
  ] as const) {
    if (spec[key] !== undefined)
      throw new RuleError(`'${key}' does not apply to mtls_mode rules`, location(`correlation.${key}`));
  }
  if (spec.condition !== undefined || override.condition !== undefined || override.minCount !== undefined)
    throw new RuleError("an mtls_mode rule takes no condition: every request judged not STRICT counts", {
      file,
      rule: name,
      key:
        spec.condition !== undefined ? "correlation.condition" : `AUDIT_TRAIL_RULE_OVERRIDES.rules.${name}`,
    });
  if (timespanMs !== MODE_DAY_MS)
    throw new RuleError(
      "an mtls_mode rule alerts once per UTC day: its timespan is 1d",
      location("correlation.timespan"),
    );
  if (spec["group-by"].length !== 2)
    throw new RuleError(
      "mtls_mode needs 'group-by': the cluster field, then the destination namespace field",
      location("correlation.group-by"),
    );
  if (spec.mode === undefined)
    throw new RuleError(
      "mtls_mode needs 'mode': {namespace: [rules], mesh: [rules], plaintext: [rules]}",
      location("correlation.mode"),
    );
  const resolveAll = (list: readonly string[], key: string) =>
    list.map((reference, index) => resolveRule(reference, `correlation.mode.${key}.${index}`));
  return {
    ...statefulHead(resolved, "mtls_mode", spec["group-by"], { gte: 1 }, { aligned: true }),
    minCount: 0,
    generate: spec.generate,
    behaviour: {
      valueFields: [],
      learningMs: 0,
      knownForMs: 0,
      followUpRules: [],
      mode: {
        namespaceRules: resolveAll(spec.mode.namespace, "namespace"),
        meshRules: resolveAll(spec.mode.mesh, "mesh"),
        plaintextRules: resolveAll(spec.mode.plaintext, "plaintext"),
      },
    },
  };
}

function stripUndefined(condition: Record<string, number | undefined>): CorrelationCondition {
  const result: Record<string, number> = {};
  for (const [key, value] of Object.entries(condition)) if (value !== undefined) result[key] = value;
  return result;
}

/**
 * Compiles a source-silence rule. Every `expected` source must give a value for exactly the `group-by` fields it
 * names, all of them among the rule's `group-by`.
 */
export function compileSilence(
  yaml: SilenceRuleYaml,
  name: string,
  file: string,
  override: {
    timespan?: string;
    suppression?: string;
    level?: string;
    expected?: readonly Readonly<Record<string, string>>[];
  },
): SilenceRule {
  const spec = yaml.silence;
  const location = (key: string) => ({ file, rule: name, key });
  const timespanMs = durationMs(override.timespan ?? spec.timespan, location("silence.timespan"));
  if (timespanMs <= 0) throw new RuleError("the timespan must be positive", location("silence.timespan"));
  const lookbackMs = durationMs(spec.lookback, location("silence.lookback"));
  if (lookbackMs <= timespanMs) {
    throw new RuleError(
      `the lookback (${spec.lookback}) must be longer than the timespan, or no source could be seen and then be silent`,
      location("silence.lookback"),
    );
  }
  const expected = override.expected ?? spec.expected;
  expected.forEach((source, index) => {
    const unknown = Object.keys(source).filter((path) => !spec["group-by"].includes(path));
    if (unknown.length > 0 || Object.keys(source).length === 0) {
      throw new RuleError(
        `an expected source names ${unknown.length > 0 ? unknown.join(", ") : "no field"}: give values for the group-by fields (${spec["group-by"].join(", ")})`,
        location(`silence.expected.${index}`),
      );
    }
  });
  return {
    kind: "silence",
    ...commonOf(yaml, name, file, override.level, windowSuppression(yaml, override, timespanMs, location)),
    fields: yaml.fields,
    groupBy: spec["group-by"],
    timespanMs,
    lookbackMs,
    expected,
    excludeRules: spec["exclude-rules"],
  };
}
