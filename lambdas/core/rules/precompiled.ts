/**
 * The precompiled rule pack: a `ValidatedRuleSet` (rule YAML parsed and validated, defaults applied, an
 * environment's overrides checked) written as JSON when the transform is bundled, so the Lambda loads its pack at
 * cold start without a YAML parser or zod. It is loaded with `loadPack` (`precompiledPack` is its source), the same
 * checks and rule compiler the CLI runs on YAML files, so the Lambda and the laptop agree on every match.
 *
 * This module reads no YAML and validates no schema: the set was validated when it was written (`precompileRulePack`
 * in `load.ts`), and a file of another format or version is refused.
 */
import { readFileSync } from "node:fs";
import { errorMessage } from "../errors.js";
import {
  loadPack,
  OVERRIDES_KEY,
  type ParsedRule,
  type RulePackSource,
  type ValidatedRuleSet,
} from "./assemble.js";
import { RuleError } from "./errors.js";
import type { Placeholders } from "./item-match.js";
import type { RuleOverride, RulePack } from "./types.js";

/** The file name of a precompiled pack inside a bundle's rules directory. */
export const PRECOMPILED_RULE_PACK_FILE = "rule-pack.json";

/** Written into every precompiled pack; a loader refuses any other value. */
export const PRECOMPILED_RULE_PACK_FORMAT = "mesh-audit-trail/rule-pack/v1";

/** The JSON document of a precompiled pack. */
export interface PrecompiledRulePack {
  readonly format: typeof PRECOMPILED_RULE_PACK_FORMAT;
  readonly rules: readonly ParsedRule[];
  readonly placeholders: Placeholders;
  readonly ruleOverrides: Readonly<Record<string, RuleOverride>>;
}

/**
 * The JSON text of a validated set. Refuses a set that JSON cannot carry unchanged (a YAML `.inf` or `.nan`, say),
 * naming the file, the rule and the key, so the Lambda never compiles something other than what was validated.
 */
export function serializeRuleSet(set: ValidatedRuleSet): string {
  const document: PrecompiledRulePack = {
    format: PRECOMPILED_RULE_PACK_FORMAT,
    rules: set.rules,
    placeholders: set.placeholders,
    ruleOverrides: set.ruleOverrides,
  };
  const text = JSON.stringify(document);
  const back = JSON.parse(text) as PrecompiledRulePack;
  set.rules.forEach((rule, index) => {
    const difference = firstDifference(rule, back.rules[index]);
    if (difference !== undefined) {
      throw new RuleError(`the value is not representable in JSON (${difference.reason})`, {
        file: rule.file,
        rule: rule.name,
        key: difference.path,
      });
    }
  });
  const placeholders = firstDifference(set.placeholders, back.placeholders);
  if (placeholders !== undefined) {
    throw new RuleError(`the value is not representable in JSON (${placeholders.reason})`, {
      key: `placeholders.${placeholders.path}`,
    });
  }
  return text;
}

/** The validated set a precompiled JSON text holds; `file` names it in errors. */
function readPrecompiled(text: string, file: string): ValidatedRuleSet {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new RuleError(`not a precompiled rule pack: ${errorMessage(error)}`, { file });
  }
  const pack = document as Partial<PrecompiledRulePack> | null;
  if (typeof pack !== "object" || pack === null || pack.format !== PRECOMPILED_RULE_PACK_FORMAT) {
    const found = typeof pack === "object" && pack !== null ? JSON.stringify(pack.format) : typeof pack;
    throw new RuleError(
      `not a precompiled rule pack of format "${PRECOMPILED_RULE_PACK_FORMAT}" (found ${found}): bundle the code and the pack together`,
      { file, key: "format" },
    );
  }
  for (const key of ["rules", "placeholders", "ruleOverrides"] as const) {
    const value = pack[key];
    const wanted = key === "rules" ? Array.isArray(value) : typeof value === "object" && value !== null;
    if (!wanted) throw new RuleError(`missing or malformed`, { file, key });
  }
  return pack as PrecompiledRulePack;
}

/**
 * A precompiled pack as a `loadPack` source: `text` when given (`file` then only names it), else the file read
 * (the transform's cold start). It carries the overrides it was compiled with, so it refuses any others.
 */
export function precompiledPack(file: string, text?: string): RulePackSource {
  return {
    read(overrides) {
      if (overrides !== undefined && overrides !== null && overrides !== "") {
        throw new RuleError(
          "a precompiled pack carries the overrides it was compiled with; change them where it is compiled (detection.ruleOverrides) instead",
          { file, key: OVERRIDES_KEY },
        );
      }
      return readPrecompiled(text ?? readPackFile(file), file);
    },
  };
}

/** Assembles the pack of a precompiled JSON text; `file` names it in errors. */
export function rulePackFromPrecompiled(text: string, file: string): RulePack {
  return loadPack({ source: precompiledPack(file, text) });
}

/** Reads and assembles a precompiled pack file. */
export function loadPrecompiledRulePack(path: string): RulePack {
  return loadPack({ source: precompiledPack(path) });
}

function readPackFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new RuleError(
      code === "ENOENT"
        ? "precompiled rule pack not found: the stack writes it into the bundle when it bundles the transform"
        : `cannot read the precompiled rule pack (${code ?? String(error)})`,
      { file: path },
    );
  }
}

/** Where two JSON-like values first differ (`undefined`-valued keys count as absent, as JSON has them). */
function firstDifference(
  expected: unknown,
  actual: unknown,
  path = "",
): { path: string; reason: string } | undefined {
  if (typeof expected === "number" && !Number.isFinite(expected))
    return { path, reason: `${expected} becomes null` };
  if (Object.is(expected, -0)) return { path, reason: "-0 becomes 0" };
  if (expected === null || typeof expected !== "object") {
    return Object.is(expected, actual)
      ? undefined
      : { path, reason: `${String(expected)} becomes ${JSON.stringify(actual) ?? "absent"}` };
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length)
      return { path, reason: "the list changes" };
    for (let i = 0; i < expected.length; i++) {
      const found = firstDifference(expected[i], actual[i], join(path, String(i)));
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Object.getPrototypeOf(expected) !== Object.prototype && Object.getPrototypeOf(expected) !== null)
    return { path, reason: `a ${expected.constructor.name} becomes a plain object` };
  if (typeof actual !== "object" || actual === null || Array.isArray(actual))
    return { path, reason: "the mapping changes" };
  const record = actual as Record<string, unknown>;
  for (const [key, value] of Object.entries(expected)) {
    if (value === undefined) continue;
    const found = firstDifference(value, record[key], join(path, key));
    if (found !== undefined) return found;
  }
  return undefined;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}
