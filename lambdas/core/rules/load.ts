/**
 * Loading rule packs from directories: every `*.yml`/`*.yaml` below each directory is a rule file, except
 * `*.tests.yml` (a rule's test events) and `placeholders.yml` (default placeholder values).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { RuleError } from "./errors.js";
import { buildRulePack, type RuleSource, validateRuleSources } from "./pack.js";
import { PRECOMPILED_RULE_PACK_FILE, rulePackFromPrecompiled, serializeRuleSet } from "./precompiled.js";
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
export async function listFiles(dir: string): Promise<string[]> {
  try {
    return filePaths(await readdir(dir, { recursive: true, withFileTypes: true }));
  } catch (error) {
    throw directoryError(dir, error);
  }
}

/** `listFiles`, synchronously (for bundling, where the caller cannot wait). */
export function listFilesSync(dir: string): string[] {
  try {
    return filePaths(readdirSync(dir, { recursive: true, withFileTypes: true }));
  } catch (error) {
    throw directoryError(dir, error);
  }
}

function filePaths(entries: readonly { isFile(): boolean; parentPath: string; name: string }[]): string[] {
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

function directoryError(dir: string, error: unknown): RuleError {
  const code = (error as { code?: string }).code;
  return new RuleError(
    code === "ENOENT" ? "rule directory not found" : `cannot read rule directory (${code ?? String(error)})`,
    { file: dir },
  );
}

export function isRuleFile(path: string): boolean {
  return (
    /\.ya?ml$/i.test(path) &&
    !path.endsWith(TESTS_SUFFIX) &&
    !path.endsWith(`/${PLACEHOLDERS_FILE}`) &&
    path !== PLACEHOLDERS_FILE
  );
}

/** Reads the rule and placeholder files of the given directories. Paths in errors are relative to the cwd. */
export async function readRuleSources(
  dirs: readonly string[],
): Promise<{ rules: RuleSource[]; placeholders: RuleSource[] }> {
  const rules: RuleSource[] = [];
  const placeholders: RuleSource[] = [];
  for (const dir of dirs) {
    for (const path of await listFiles(dir)) {
      const file = relative(process.cwd(), path) || path;
      if (path.endsWith(`/${PLACEHOLDERS_FILE}`))
        placeholders.push({ file, text: await readFile(path, "utf8") });
      else if (isRuleFile(path)) rules.push({ file, text: await readFile(path, "utf8") });
    }
  }
  return { rules, placeholders };
}

/**
 * `readRuleSources`, synchronously; paths in errors are relative to `relativeTo` (the bundle root, so they read as
 * they would inside the Lambda: `rules/mesh/….yml`).
 */
export function readRuleSourcesSync(
  dirs: readonly string[],
  relativeTo: string,
): { rules: RuleSource[]; placeholders: RuleSource[] } {
  const rules: RuleSource[] = [];
  const placeholders: RuleSource[] = [];
  for (const dir of dirs) {
    for (const path of listFilesSync(dir)) {
      const file = relative(relativeTo, path) || path;
      if (path.endsWith(`/${PLACEHOLDERS_FILE}`))
        placeholders.push({ file, text: readFileSync(path, "utf8") });
      else if (isRuleFile(path)) rules.push({ file, text: readFileSync(path, "utf8") });
    }
  }
  return { rules, placeholders };
}

/**
 * The rules of `dirs` with `overrides`, parsed and validated, as the JSON text of a precompiled pack
 * (`precompiled.ts`); the stack writes it into the transform's bundle. The text is assembled once here, exactly as
 * the Lambda will assemble it, so a rule or override the Lambda would refuse fails the build instead.
 */
export function precompileRulePack(dirs: readonly string[], overrides: unknown, relativeTo: string): string {
  const { rules, placeholders } = readRuleSourcesSync(dirs, relativeTo);
  const text = serializeRuleSet(validateRuleSources(rules, placeholders, overrides));
  rulePackFromPrecompiled(text, PRECOMPILED_RULE_PACK_FILE);
  return text;
}

/**
 * Loads and compiles the rules of `dirs` (in order; a rule name may appear once across all of them) with the
 * per-environment `overrides` (object or JSON text, see `RuleOverrides`).
 */
export async function loadRulePack(dirs: readonly string[], overrides?: unknown): Promise<RulePack> {
  const { rules, placeholders } = await readRuleSources(dirs);
  return buildRulePack(rules, placeholders, overrides);
}
