/**
 * Builds a `RulePack` from rule texts: parse (YAML, several documents per file allowed), validate (zod),
 * apply per-environment overrides, compile, resolve correlation references, and index rules by logsource so a
 * document pays for each logsource guard once.
 */
import { basename } from "node:path";
import { parseAllDocuments } from "yaml";
import type { EcsDocument } from "../ecs.js";
import {
  type CompiledSingle,
  compileCorrelation,
  compileSingle,
  durationMs,
  type PendingCorrelation,
} from "./compile.js";
import { RuleError } from "./errors.js";
import type { DocPredicate, Placeholders } from "./matchers.js";
import {
  type CorrelationRuleYaml,
  correlationRuleSchema,
  type DetectionRuleYaml,
  detectionRuleSchema,
  placeholdersSchema,
  ruleOverridesSchema,
  zodToRuleError,
} from "./schema.js";
import type {
  CompiledRule,
  CorrelationRule,
  RuleLevel,
  RuleOverride,
  RuleOverrides,
  RulePack,
  SingleEventRule,
} from "./types.js";

/** The environment variable (and config key) overrides come from, for error messages. */
export const OVERRIDES_KEY = "AUDIT_TRAIL_RULE_OVERRIDES";

/** A file's text and the path to name in errors. */
export interface RuleSource {
  readonly file: string;
  readonly text: string;
}

/** Validates overrides (an object, or its JSON text). Undefined, null and "" mean none. */
export function parseRuleOverrides(raw: unknown): RuleOverrides {
  if (raw === undefined || raw === null || raw === "") return {};
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new RuleError(`not valid JSON: ${error instanceof Error ? error.message : String(error)}`, {
        key: OVERRIDES_KEY,
      });
    }
  }
  const parsed = ruleOverridesSchema.safeParse(value);
  if (!parsed.success) throw zodToRuleError(parsed.error, { prefix: OVERRIDES_KEY });
  return parsed.data as RuleOverrides;
}

/** Parses placeholder files (`placeholders.yml`: name → list, or name → record of lists). */
export function parsePlaceholders(sources: readonly RuleSource[]): Record<string, Placeholders[string]> {
  const merged: Record<string, Placeholders[string]> = {};
  for (const source of sources) {
    const documents = parseYaml(source);
    for (const document of documents) {
      const parsed = placeholdersSchema.safeParse(document ?? {});
      if (!parsed.success) throw zodToRuleError(parsed.error, { file: source.file });
      Object.assign(merged, parsed.data);
    }
  }
  return merged;
}

function parseYaml(source: RuleSource): unknown[] {
  const documents = parseAllDocuments(source.text, { prettyErrors: true });
  const list = Array.isArray(documents) ? documents : [documents];
  const result: unknown[] = [];
  for (const document of list) {
    const error = document.errors[0];
    if (error !== undefined) {
      const line = error.linePos?.[0]?.line;
      throw new RuleError(
        `invalid YAML${line === undefined ? "" : ` at line ${line}`}: ${error.message.split("\n")[0]}`,
        {
          file: source.file,
        },
      );
    }
    const value: unknown = document.toJS();
    if (value !== null && value !== undefined) result.push(value);
  }
  return result;
}

interface ParsedRule {
  readonly name: string;
  readonly file: string;
  readonly single?: DetectionRuleYaml;
  readonly correlation?: CorrelationRuleYaml;
}

/** Parses and validates the rule documents of one file (no compilation). */
export function parseRuleSource(source: RuleSource): ParsedRule[] {
  const documents = parseYaml(source);
  const fallbackName = basename(source.file).replace(/\.ya?ml$/i, "");
  return documents.map((document, index) => {
    if (typeof document !== "object" || document === null || Array.isArray(document)) {
      throw new RuleError("a rule must be a YAML mapping", { file: source.file });
    }
    const record = document as Record<string, unknown>;
    const declared = typeof record.name === "string" ? record.name : undefined;
    const title = typeof record.title === "string" ? record.title : undefined;
    const label = declared ?? title ?? `document ${index + 1}`;
    /** The rule's `name`, or the file's name when the file holds this one rule only. */
    const nameOf = (name: string | undefined): string => {
      const resolved = name ?? (documents.length === 1 ? fallbackName : undefined);
      if (resolved === undefined) {
        throw new RuleError("every rule of a multi-document file needs a 'name'", {
          file: source.file,
          rule: label,
          key: "name",
        });
      }
      return resolved;
    };
    if ("correlation" in record) {
      const parsed = correlationRuleSchema.safeParse(record);
      if (!parsed.success) throw zodToRuleError(parsed.error, { file: source.file, rule: label });
      return { name: nameOf(parsed.data.name), file: source.file, correlation: parsed.data };
    }
    const parsed = detectionRuleSchema.safeParse(record);
    if (!parsed.success) throw zodToRuleError(parsed.error, { file: source.file, rule: label });
    return { name: nameOf(parsed.data.name), file: source.file, single: parsed.data };
  });
}

/**
 * Builds the pack. `placeholderSources` are `placeholders.yml` files (defaults); `overrides` replace placeholders
 * by name and adjust rules. Every problem is a `RuleError` naming the file (or the overrides key), rule and key.
 */
export function buildRulePack(
  ruleSources: readonly RuleSource[],
  placeholderSources: readonly RuleSource[] = [],
  overridesRaw?: unknown,
): RulePack {
  const overrides = parseRuleOverrides(overridesRaw);
  const placeholders: Placeholders = {
    ...parsePlaceholders(placeholderSources),
    ...(overrides.placeholders ?? {}),
  };
  const ruleOverrides: Readonly<Record<string, RuleOverride>> = overrides.rules ?? {};

  const parsed = ruleSources.flatMap(parseRuleSource);
  const seenNames = new Map<string, string>();
  const seenIds = new Map<string, string>();
  for (const rule of parsed) {
    const id = rule.single?.id ?? rule.correlation?.id ?? "";
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
  for (const rule of enabled) {
    const override = ruleOverrides[rule.name] ?? {};
    if (rule.single !== undefined) {
      for (const key of ["timespan", "condition", "minCount"] as const) {
        if (override[key] !== undefined) {
          throw new RuleError(`'${key}' applies to correlation rules only`, {
            key: `${OVERRIDES_KEY}.rules.${rule.name}.${key}`,
          });
        }
      }
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
    ]) {
      referenced.set(name, (referenced.get(name) ?? false) || correlation.generate);
    }
  }
  const finalSingles: CompiledSingle[] = singles.map((compiled) => {
    const generate = referenced.get(compiled.rule.name);
    if (generate === undefined || generate) return compiled;
    return { ...compiled, rule: { ...compiled.rule, generatesAlerts: false } };
  });
  return new CompiledRulePack(finalSingles, correlations);
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
    suppression: { ms: suppressionMs, groupBy: compiled.rule.suppression.groupBy },
  };
  return { ...compiled, rule };
}

interface LogsourceGroup {
  readonly guard: ((doc: EcsDocument) => boolean) | undefined;
  readonly names: string[];
  readonly conditions: DocPredicate[];
}

class CompiledRulePack implements RulePack {
  readonly rules: readonly CompiledRule[];
  readonly singleEventRules: readonly SingleEventRule[];
  readonly correlationRules: readonly CorrelationRule[];
  readonly #byKey = new Map<string, CompiledRule>();
  readonly #groups: readonly LogsourceGroup[];

  constructor(singles: readonly CompiledSingle[], correlations: readonly CorrelationRule[]) {
    this.singleEventRules = singles.map((compiled) => compiled.rule);
    this.correlationRules = correlations;
    this.rules = [...this.singleEventRules, ...correlations];
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
  }

  get(nameOrId: string): CompiledRule | undefined {
    return this.#byKey.get(nameOrId);
  }

  matchSingleEvent(doc: EcsDocument): string[] {
    try {
      const matched: string[] = [];
      for (const group of this.#groups) {
        if (group.guard !== undefined && !group.guard(doc)) continue;
        const { conditions, names } = group;
        for (let i = 0; i < conditions.length; i++) {
          if ((conditions[i] as DocPredicate)(doc)) matched.push(names[i] as string);
        }
      }
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
