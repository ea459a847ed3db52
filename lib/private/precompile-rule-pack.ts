/**
 * `node --import tsx lib/private/precompile-rule-pack.ts ROOT OUT_FILE OVERRIDES_BASE64`
 *
 * Run by the transform's `afterBundling` hook (`precompiledRulePackCommands` in `bundle.ts`): validates the rule
 * pack under `ROOT/rules` with the environment's overrides (base64 of their JSON, so the shell passes them
 * untouched) and writes the precompiled pack to `OUT_FILE`. A rule or override the Lambda would refuse fails the
 * bundling with its file, rule and key.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { errorMessage } from "../../lambdas/core/errors.js";
import { precompileRulePack } from "../../lambdas/core/rules/load.js";

const [root, outFile, overridesBase64] = process.argv.slice(2);
if (root === undefined || outFile === undefined || overridesBase64 === undefined) {
  process.stderr.write("usage: precompile-rule-pack.ts ROOT OUT_FILE OVERRIDES_BASE64\n");
  process.exit(2);
}
try {
  const overrides: unknown = JSON.parse(Buffer.from(overridesBase64, "base64").toString("utf8"));
  const text = precompileRulePack([join(root, "rules")], overrides, root);
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, text);
} catch (error) {
  process.stderr.write(`precompiling the transform's rule pack: ${errorMessage(error)}\n`);
  process.exit(1);
}
