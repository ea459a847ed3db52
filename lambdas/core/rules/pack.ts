/**
 * Rule texts to a validated rule set: parse (YAML, several documents per file allowed) and validate (zod) here;
 * `loadPack` in `assemble.ts` then checks, applies per-environment overrides and compiles, as for every pack.
 */
import { basename } from "node:path";
import { parseAllDocuments } from "yaml";
import { errorMessage } from "../errors.js";
import { loadPack, OVERRIDES_KEY, type ParsedRule, type ValidatedRuleSet } from "./assemble.js";
import { RuleError } from "./errors.js";
import type { Placeholders } from "./item-match.js";
import {
  correlationRuleSchema,
  detectionRuleSchema,
  placeholdersSchema,
  ruleOverridesSchema,
  silenceRuleSchema,
  zodToRuleError,
} from "./schema.js";
import type { RuleOverrides, RulePack } from "./types.js";

export { OVERRIDES_KEY } from "./assemble.js";

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
      throw new RuleError(`not valid JSON: ${errorMessage(error)}`, {
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
    if ("silence" in record) {
      const parsed = silenceRuleSchema.safeParse(record);
      if (!parsed.success) throw zodToRuleError(parsed.error, { file: source.file, rule: label });
      return { name: nameOf(parsed.data.name), file: source.file, silence: parsed.data };
    }
    const parsed = detectionRuleSchema.safeParse(record);
    if (!parsed.success) throw zodToRuleError(parsed.error, { file: source.file, rule: label });
    return { name: nameOf(parsed.data.name), file: source.file, single: parsed.data };
  });
}

/**
 * Parses and validates rule and placeholder files with the per-environment `overrides` (object or JSON text), without
 * compiling anything: what a `loadPack` source reads, and what `precompiled.ts` bundles for the transform.
 */
export function validateRuleSources(
  ruleSources: readonly RuleSource[],
  placeholderSources: readonly RuleSource[] = [],
  overridesRaw?: unknown,
): ValidatedRuleSet {
  const overrides = parseRuleOverrides(overridesRaw);
  const placeholders: Placeholders = {
    ...parsePlaceholders(placeholderSources),
    ...(overrides.placeholders ?? {}),
  };
  return {
    rules: ruleSources.flatMap(parseRuleSource),
    placeholders,
    ruleOverrides: overrides.rules ?? {},
  };
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
  return loadPack({
    source: { read: (overrides) => validateRuleSources(ruleSources, placeholderSources, overrides) },
    overrides: overridesRaw,
  });
}
