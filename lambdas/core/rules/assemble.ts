/**
 * Assembles a `RulePack` from rules that are already parsed and validated: duplicate and reference checks, the
 * per-environment overrides, compilation (`compile.ts`), correlation references, and the logsource index that lets
 * a document pay for each logsource guard once.
 *
 * Nothing here parses YAML or runs zod. Every pack is loaded with `loadPack` from a `RulePackSource`: rule files
 * (`load.ts` `ruleFiles`, through `pack.ts`: YAML → `ValidatedRuleSet`) for the detector, the CLI and the synth-time
 * check, or the same set validated at synth and bundled as JSON (`precompiled.ts` `precompiledPack`) for the
 * transform. All of them end here, so the Lambdas and the CLI compile every rule with the same code.
 */
import type { EcsDocument } from "../ecs.js";
import {
  type CompiledSingle,
  compileCorrelation,
  compileSilence,
  compileSingle,
  durationMs,
  type PendingCorrelation,
} from "./compile.js";
import { RuleError } from "./errors.js";
import type { FieldAccessor } from "./fields.js";
import { type DocPredicate, type Placeholders, requirementsOf } from "./item-match.js";
import type { CorrelationRuleYaml, DetectionRuleYaml, SilenceRuleYaml } from "./schema.js";
import { specialize } from "./specialize.js";
import type {
  CompiledRule,
  CorrelationRule,
  RuleLevel,
  RuleOverride,
  RulePack,
  SilenceRule,
  SingleEventRule,
} from "./types.js";

/** The environment variable (and config key) overrides come from, for error messages. */
export const OVERRIDES_KEY = "AUDIT_TRAIL_RULE_OVERRIDES";

/** One rule document after parsing and schema validation (defaults applied), before compilation. */
export interface ParsedRule {
  readonly name: string;
  readonly file: string;
  readonly single?: DetectionRuleYaml;
  readonly correlation?: CorrelationRuleYaml;
  readonly silence?: SilenceRuleYaml;
}

/** Everything a pack is assembled from, every part already validated. */
export interface ValidatedRuleSet {
  /** Every rule of the pack, disabled ones included (a correlation may not reference a disabled rule). */
  readonly rules: readonly ParsedRule[];
  /** Placeholder values: the pack's defaults with the environment's overrides applied. */
  readonly placeholders: Placeholders;
  /** Per-rule overrides by rule name. */
  readonly ruleOverrides: Readonly<Record<string, RuleOverride>>;
}

/**
 * Where a pack's rules come from: the rule files below directories (`ruleFiles` in `load.ts`: YAML, parsed and
 * validated with the overrides) or a pack precompiled at synth (`precompiledPack` in `precompiled.ts`: JSON, the
 * overrides already in it). Kept apart from `loadPack` so that the transform's bundle holds no YAML parser.
 */
export interface RulePackSource {
  /** The validated rule set with `overrides` (an object, its JSON text, or undefined for none) applied. */
  readonly read: (overrides: unknown) => ValidatedRuleSet;
}

/** What `loadPack` loads. */
export interface LoadPackOptions {
  readonly source: RulePackSource;
  /**
   * The per-environment overrides (`RuleOverrides`): an object, or its JSON text as the detector's environment
   * variable holds it. @default none
   */
  readonly overrides?: unknown;
  /**
   * What errors in the overrides name as their origin, such as the file they were read from (`--overrides FILE`).
   * @default the environment variable `OVERRIDES_KEY`
   */
  readonly overridesFrom?: string;
}

/**
 * The one way to a `RulePack`, for the transform (a precompiled pack), the detector, the CLI and the synth-time
 * check (rule files with an environment's overrides): read the source, then check and compile it here. Every
 * problem is a `RuleError` naming the file (or the overrides' origin), the rule and the key.
 */
export function loadPack({ source, overrides, overridesFrom }: LoadPackOptions): RulePack {
  try {
    return assembleRulePack(source.read(overrides));
  } catch (error: unknown) {
    if (
      overridesFrom === undefined ||
      !(error instanceof RuleError) ||
      !error.message.includes(OVERRIDES_KEY)
    )
      throw error;
    const key = error.location.key?.startsWith(`${OVERRIDES_KEY}.`)
      ? error.location.key.slice(OVERRIDES_KEY.length + 1)
      : error.location.key;
    throw new RuleError(error.reason.replaceAll(OVERRIDES_KEY, overridesFrom), {
      ...error.location,
      file: error.location.file ?? overridesFrom,
      ...(key === undefined ? {} : { key }),
    });
  }
}

/**
 * Checks and compiles a validated rule set. Every problem is a `RuleError` naming the file (or the overrides key),
 * the rule and the key.
 */
export function assembleRulePack(set: ValidatedRuleSet): RulePack {
  const { rules: parsed, placeholders, ruleOverrides } = set;
  const seenNames = new Map<string, string>();
  const seenIds = new Map<string, string>();
  for (const rule of parsed) {
    const id = rule.single?.id ?? rule.correlation?.id ?? rule.silence?.id ?? "";
    const clash = seenNames.get(rule.name);
    if (clash !== undefined)
      throw new RuleError(`name already used by ${clash}`, { file: rule.file, rule: rule.name, key: "name" });
    const idClash = seenIds.get(id);
    if (idClash !== undefined)
      throw new RuleError(`id '${id}' already used by ${idClash}`, {
        file: rule.file,
        rule: rule.name,
        key: "id",
      });
    seenNames.set(rule.name, rule.file);
    seenIds.set(id, `rule '${rule.name}' (${rule.file})`);
  }
  for (const name of Object.keys(ruleOverrides)) {
    if (!seenNames.has(name)) {
      throw new RuleError(`no rule named '${name}' (known: ${[...seenNames.keys()].sort().join(", ")})`, {
        key: `${OVERRIDES_KEY}.rules.${name}`,
      });
    }
  }

  const enabled = parsed.filter((rule) => ruleOverrides[rule.name]?.enabled !== false);
  const singles: CompiledSingle[] = [];
  const pending: PendingCorrelation[] = [];
  const silences: SilenceRule[] = [];
  for (const rule of enabled) {
    const override = ruleOverrides[rule.name] ?? {};
    if (override.expected !== undefined && rule.silence === undefined) {
      throw new RuleError("'expected' applies to silence rules only", {
        key: `${OVERRIDES_KEY}.rules.${rule.name}.expected`,
      });
    }
    if (rule.silence !== undefined) {
      refuseCorrelationOnlyKeys(rule.name, override, ["condition", "minCount"]);
      silences.push(compileSilence(rule.silence, rule.name, rule.file, override));
    } else if (rule.single !== undefined) {
      refuseCorrelationOnlyKeys(rule.name, override, ["timespan", "condition", "minCount"]);
      const compiled = compileSingle(rule.single, rule.name, rule.file, placeholders);
      singles.push(applySingleOverride(compiled, override));
    } else if (rule.correlation !== undefined) {
      pending.push({ yaml: rule.correlation, name: rule.name, file: rule.file });
    }
  }

  const singleByKey = new Map<string, SingleEventRule>();
  for (const { rule } of singles) {
    singleByKey.set(rule.name, rule);
    singleByKey.set(rule.id, rule);
  }
  const correlationNames = new Set(pending.flatMap((item) => [item.name, item.yaml.id]));
  const disabled = new Set(parsed.filter((rule) => !enabled.includes(rule)).map((rule) => rule.name));
  const correlations: CorrelationRule[] = pending.map((item) =>
    compileCorrelation(
      item,
      (reference, key) => {
        const target = singleByKey.get(reference);
        if (target !== undefined) return target.name;
        const location = { file: item.file, rule: item.name, key };
        if (correlationNames.has(reference))
          throw new RuleError(
            `'${reference}' is a correlation: chaining correlations is not supported`,
            location,
          );
        if (disabled.has(reference))
          throw new RuleError(
            `'${reference}' is disabled by ${OVERRIDES_KEY}: disable this correlation too`,
            location,
          );
        throw new RuleError(`no single-event rule named '${reference}'`, location);
      },
      ruleOverrides[item.name] ?? {},
    ),
  );

  // Sigma `generate`: rules a correlation uses do not alert on their own unless one of them says so.
  const referenced = new Map<string, boolean>();
  for (const correlation of correlations) {
    for (const name of [
      ...correlation.rules,
      ...(correlation.failures === undefined ? [] : [correlation.failures]),
      ...(correlation.behaviour?.followUpRules ?? []),
      ...(correlation.behaviour?.mode?.namespaceRules ?? []),
      ...(correlation.behaviour?.mode?.meshRules ?? []),
      ...(correlation.behaviour?.mode?.plaintextRules ?? []),
    ]) {
      referenced.set(name, (referenced.get(name) ?? false) || correlation.generate);
    }
  }
  const finalSingles: CompiledSingle[] = singles.map((compiled) => {
    const generate = referenced.get(compiled.rule.name);
    if (generate === undefined || generate) return compiled;
    return { ...compiled, rule: { ...compiled.rule, generatesAlerts: false } };
  });
  for (const silence of silences) {
    silence.excludeRules.forEach((reference, index) => {
      if (!singleByKey.has(reference) && !disabled.has(reference)) {
        throw new RuleError(`no single-event rule named '${reference}'`, {
          file: silence.source,
          rule: silence.name,
          key: `silence.exclude-rules.${index}`,
        });
      }
    });
  }
  return new CompiledRulePack(finalSingles, correlations, silences);
}

/** An override of a single-event or silence rule may not set the correlation keys its rule has no use for. */
function refuseCorrelationOnlyKeys(
  name: string,
  override: RuleOverride,
  keys: readonly ("timespan" | "condition" | "minCount")[],
): void {
  for (const key of keys) {
    if (override[key] !== undefined) {
      throw new RuleError(`'${key}' applies to correlation rules only`, {
        key: `${OVERRIDES_KEY}.rules.${name}.${key}`,
      });
    }
  }
}

function applySingleOverride(compiled: CompiledSingle, override: RuleOverride): CompiledSingle {
  if (override.level === undefined && override.suppression === undefined) return compiled;
  const suppressionMs =
    override.suppression === undefined
      ? compiled.rule.suppression.ms
      : durationMs(override.suppression, {
          file: OVERRIDES_KEY,
          rule: compiled.rule.name,
          key: `${OVERRIDES_KEY}.rules.${compiled.rule.name}.suppression`,
        });
  const rule: SingleEventRule = {
    ...compiled.rule,
    level: (override.level ?? compiled.rule.level) as RuleLevel,
    suppression: { ...compiled.rule.suppression, ms: suppressionMs },
  };
  return { ...compiled, rule };
}

interface LogsourceGroup {
  readonly guard: ((doc: EcsDocument) => boolean) | undefined;
  readonly names: string[];
  readonly conditions: DocPredicate[];
}

/** Appends the names of a group's rules that match `doc` to `matched`. */
type GroupMatcher = (doc: EcsDocument, matched: string[]) => void;

/**
 * One logsource group as one specialized function: the guard once, then each rule's condition at a call site of
 * its own (see `specialize.ts`), instead of a loop whose one call site sees every rule.
 *
 * Rules that require a field to equal one of some strings (`verb: create`, `objectRef.resource: [pods, secrets]`,
 * see `FieldRequirement`) are gated: each such field is read once per document, and a rule whose required values
 * do not include it is skipped without evaluating its condition. Most Kubernetes rules name a verb or resource,
 * so a document pays for the few rules about what it is.
 */
function groupMatcher(group: LogsourceGroup): GroupMatcher {
  const requirements = group.conditions.map(requirementsOf);
  const frequency = new Map<string, number>();
  for (const list of requirements) {
    for (const requirement of list) frequency.set(requirement.key, (frequency.get(requirement.key) ?? 0) + 1);
  }
  const bindings: Record<string, unknown> = { guard: group.guard, MANY };
  const readers = new Map<string, string>();
  const lines = group.conditions.map((condition, i) => {
    bindings[`c${i}`] = condition;
    bindings[`n${i}`] = group.names[i];
    const gate = [...(requirements[i] ?? [])].sort(
      (a, b) => (frequency.get(b.key) ?? 0) - (frequency.get(a.key) ?? 0) || a.values.size - b.values.size,
    )[0];
    if (gate === undefined) return `if (c${i}(doc)) matched.push(n${i});`;
    let reader = readers.get(gate.key);
    if (reader === undefined) {
      reader = `k${readers.size}`;
      readers.set(gate.key, reader);
      bindings[`read_${reader}`] = leafReader(gate.accessor);
    }
    bindings[`s${i}`] = gate.values;
    return `if ((${reader} === MANY || (${reader} !== undefined && s${i}.has(${reader}))) && c${i}(doc)) matched.push(n${i});`;
  });
  const guardLine = group.guard === undefined ? "" : "if (!guard(doc)) return;";
  const readLines = [...readers.values()].map((reader) => `const ${reader} = read_${reader}(doc);`);
  return specialize<GroupMatcher>(
    `(doc, matched) => {\n${guardLine}\n${readLines.join("\n")}\n${lines.join("\n")}\n}`,
    bindings,
  );
}

/** A field read by a gate has more than one leaf: gates let every rule through (the rules decide). */
const MANY = Symbol("many leaves");

/** Reads a field's only leaf as lower-case text: undefined for none, `MANY` for several. */
function leafReader(accessor: FieldAccessor): (doc: EcsDocument) => string | typeof MANY | undefined {
  let count = 0;
  let first: string | undefined;
  const sink = (leaf: unknown): boolean => {
    const text = typeof leaf === "string" ? leaf : String(leaf);
    count++;
    if (count === 1) first = text.toLowerCase();
    return count > 1;
  };
  return (doc) => {
    count = 0;
    first = undefined;
    accessor(doc, sink);
    return count === 0 ? undefined : count === 1 ? first : MANY;
  };
}

class CompiledRulePack implements RulePack {
  readonly rules: readonly CompiledRule[];
  readonly singleEventRules: readonly SingleEventRule[];
  readonly correlationRules: readonly CorrelationRule[];
  readonly #byKey = new Map<string, CompiledRule>();
  readonly #groups: readonly LogsourceGroup[];
  readonly #groupMatchers: readonly GroupMatcher[];

  constructor(
    singles: readonly CompiledSingle[],
    correlations: readonly CorrelationRule[],
    silences: readonly SilenceRule[],
  ) {
    this.singleEventRules = singles.map((compiled) => compiled.rule);
    this.correlationRules = correlations;
    this.rules = [...this.singleEventRules, ...correlations, ...silences];
    for (const rule of this.rules) {
      this.#byKey.set(rule.name, rule);
      this.#byKey.set(rule.id, rule);
    }
    const groups = new Map<string, LogsourceGroup>();
    for (const compiled of singles) {
      let group = groups.get(compiled.mapping.key);
      if (group === undefined) {
        group = { guard: compiled.mapping.guard, names: [], conditions: [] };
        groups.set(compiled.mapping.key, group);
      }
      group.names.push(compiled.rule.name);
      group.conditions.push(compiled.condition);
    }
    this.#groups = [...groups.values()];
    this.#groupMatchers = this.#groups.map(groupMatcher);
  }

  get(nameOrId: string): CompiledRule | undefined {
    return this.#byKey.get(nameOrId);
  }

  matchSingleEvent(doc: EcsDocument): string[] {
    try {
      const matched: string[] = [];
      for (const match of this.#groupMatchers) match(doc, matched);
      return matched;
    } catch {
      return this.#matchSafely(doc);
    }
  }

  /** The same loop, one rule at a time, for the document that made a matcher throw. */
  #matchSafely(doc: EcsDocument): string[] {
    const check = safe;
    const matched: string[] = [];
    for (const group of this.#groups) {
      if (group.guard !== undefined && !check(group.guard, doc)) continue;
      const { conditions, names } = group;
      for (let i = 0; i < conditions.length; i++) {
        if (check(conditions[i] as DocPredicate, doc)) matched.push(names[i] as string);
      }
    }
    return matched;
  }
}

/** Matchers are written not to throw; this keeps one odd document from stopping a batch if one ever does. */
function safe(predicate: DocPredicate, doc: EcsDocument): boolean {
  try {
    return predicate(doc);
  } catch {
    return false;
  }
}
