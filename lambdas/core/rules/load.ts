/**
 * Rule packs from directories (`ruleFiles`: the `loadPack` source of the detector, the CLI and the synth-time
 * check): every `*.yml`/`*.yaml` below each directory is a rule file, except `*.tests.yml` (a rule's test events)
 * and `placeholders.yml` (default placeholder values).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { errorMessage } from "../errors.js";
import { loadPack, type RulePackSource } from "./assemble.js";
import { RuleError } from "./errors.js";
import { type RuleSource, validateRuleSources } from "./pack.js";
import { PRECOMPILED_RULE_PACK_FILE, precompiledPack, serializeRuleSet } from "./precompiled.js";
import type { RulePack } from "./types.js";

/**
 * The default pack (`rules/` at the package root), for the CLI and tests: found from the source tree
 * (`lambdas/core/rules/load.ts`) and from the published CLI bundle (`dist/cli.mjs`) alike.
 */
export function defaultRulesDir(): string {
  const candidates = ["../../../rules", "../rules"].map((path) =>
    fileURLToPath(new URL(path, import.meta.url)),
  );
  return candidates.find((dir) => existsSync(join(dir, PLACEHOLDERS_FILE))) ?? (candidates[0] as string);
}

export const TESTS_SUFFIX = ".tests.yml";
export const PLACEHOLDERS_FILE = "placeholders.yml";

/** All files below `dir`, sorted, as paths joined onto `dir`. */
export function listFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .sort();
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new RuleError(
      code === "ENOENT"
        ? "rule directory not found"
        : `cannot read rule directory (${code ?? String(error)})`,
      { file: dir },
    );
  }
}

export function isRuleFile(path: string): boolean {
  return (
    /\.ya?ml$/i.test(path) &&
    !path.endsWith(TESTS_SUFFIX) &&
    !path.endsWith(`/${PLACEHOLDERS_FILE}`) &&
    path !== PLACEHOLDERS_FILE
  );
}

/**
 * Reads the rule and placeholder files of the given directories (a rule pack is small: read synchronously, which
 * bundling needs). Paths in errors are relative to `relativeTo`: the cwd on a laptop, the bundle root when bundling
 * (so they read as they would inside the Lambda: `rules/mesh/….yml`).
 */
export function readRuleSources(
  dirs: readonly string[],
  relativeTo = process.cwd(),
): { rules: RuleSource[]; placeholders: RuleSource[] } {
  const rules: RuleSource[] = [];
  const placeholders: RuleSource[] = [];
  for (const dir of dirs) {
    for (const path of listFiles(dir)) {
      const file = relative(relativeTo, path) || path;
      if (path.endsWith(`/${PLACEHOLDERS_FILE}`))
        placeholders.push({ file, text: readFileSync(path, "utf8") });
      else if (isRuleFile(path)) rules.push({ file, text: readFileSync(path, "utf8") });
    }
  }
  return { rules, placeholders };
}

/**
 * The rule files of `dirs` (in order; a rule name may appear once across all of them) as a `loadPack` source, read
 * when the pack is loaded. Paths in errors are relative to `relativeTo` (see `readRuleSources`).
 */
export function ruleFiles(dirs: readonly string[], relativeTo?: string): RulePackSource {
  return {
    read(overrides) {
      const { rules, placeholders } = readRuleSources(dirs, relativeTo);
      return validateRuleSources(rules, placeholders, overrides);
    },
  };
}

/**
 * The rules of `dirs` with `overrides`, parsed and validated, as the JSON text of a precompiled pack
 * (`precompiled.ts`); the stack writes it into the transform's bundle. The text is loaded once here, exactly as
 * the Lambda will load it, so a rule or override the Lambda would refuse fails the build instead.
 */
export function precompileRulePack(dirs: readonly string[], overrides: unknown, relativeTo: string): string {
  const text = serializeRuleSet(ruleFiles(dirs, relativeTo).read(overrides));
  loadPack({ source: precompiledPack(PRECOMPILED_RULE_PACK_FILE, text) });
  return text;
}

/** `loadPack` of the rule files of `dirs` with the per-environment `overrides` (object or JSON text). */
export async function loadRulePack(dirs: readonly string[], overrides?: unknown): Promise<RulePack> {
  return loadPack({ source: ruleFiles(dirs), overrides });
}

/**
 * The overrides of a JSON file (`--overrides FILE`), for `loadPack` with `overridesFrom: flag`; a missing file or
 * text that is not JSON is a `RuleError` naming `flag`.
 */
export function readOverridesFile(file: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new RuleError(code === "ENOENT" ? "no such file" : String(error), { file: flag });
  }
  try {
    return JSON.parse(text);
  } catch (error: unknown) {
    throw new RuleError(`not valid JSON (${errorMessage(error)})`, { file: flag });
  }
}
