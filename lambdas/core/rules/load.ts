/**
 * Loading rule packs from directories: every `*.yml`/`*.yaml` below each directory is a rule file, except
 * `*.tests.yml` (a rule's test events) and `placeholders.yml` (default placeholder values).
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { RuleError } from "./errors.js";
import { buildRulePack, type RuleSource } from "./pack.js";
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
  let entries: string[];
  try {
    entries = (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name));
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new RuleError(
      code === "ENOENT"
        ? "rule directory not found"
        : `cannot read rule directory (${code ?? String(error)})`,
      {
        file: dir,
      },
    );
  }
  return entries.sort();
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
 * Loads and compiles the rules of `dirs` (in order; a rule name may appear once across all of them) with the
 * per-environment `overrides` (object or JSON text, see `RuleOverrides`).
 */
export async function loadRulePack(dirs: readonly string[], overrides?: unknown): Promise<RulePack> {
  const { rules, placeholders } = await readRuleSources(dirs);
  return buildRulePack(rules, placeholders, overrides);
}
