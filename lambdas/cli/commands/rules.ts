/**
 * `audit-trail rules test [DIR…]`: runs every rule's own test events (`<name>.tests.yml`) against the pack built
 * from the directories (default: the repository's `rules/`), prints pass/fail per rule, exits 1 on any failure, on
 * a rule without tests, and when the directories hold no rule (a test run that tested nothing did not pass).
 */
import { defaultRulesDir, RuleError } from "../../core/rules/index.js";
import { type RuleTestResult, runRuleTests } from "../../core/rules/testing.js";
import { parseVerbArgs, runVerb, subVerb } from "../usage.js";
import type { VerbModule } from "./command.js";

const USAGE = `usage: audit-trail rules test [DIR…]

Runs every rule's test events (<name>.tests.yml next to the rule) against the pack built from DIR
(default: the bundled rules/ directory). Pass several directories to test an extra pack together with
the default one. Every rule must have tests. Exit status: 0 all passed, 1 a test failed, a rule has no tests or
there is no rule at all, 2 usage or rule errors.`;

export interface RulesTestOutput {
  write(text: string): void;
}

/** Runs the tests of `dirs` and writes the report; resolves to the exit status. */
export async function rulesTest(
  dirs: readonly string[],
  out: RulesTestOutput,
  err: RulesTestOutput,
): Promise<number> {
  let report: Awaited<ReturnType<typeof runRuleTests>>;
  try {
    report = await runRuleTests(dirs);
  } catch (error) {
    if (error instanceof RuleError) {
      err.write(`audit-trail rules: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const byRule = new Map<string, RuleTestResult[]>();
  for (const result of report.results) {
    const list = byRule.get(result.rule) ?? [];
    list.push(result);
    byRule.set(result.rule, list);
  }
  let failedRules = 0;
  let failedCases = 0;
  for (const [rule, results] of [...byRule.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const failures = results.filter((result) => !result.passed);
    if (failures.length === 0) {
      out.write(`PASS  ${rule} (${results.length} cases)\n`);
      continue;
    }
    failedRules++;
    failedCases += failures.length;
    out.write(`FAIL  ${rule} (${failures.length} of ${results.length} cases failed)\n`);
    for (const failure of failures) {
      out.write(
        `        ${failure.expectation}: ${failure.description}: ${failure.message} [${failure.file}]\n`,
      );
    }
  }
  for (const rule of report.untested)
    out.write(`FAIL  ${rule} has no tests (add ${rule}.tests.yml next to it)\n`);
  const total = report.results.length;
  const rules = byRule.size + report.untested.length;
  const untested = report.untested.length;
  const problems = [
    ...(failedRules === 0 ? [] : [`${failedCases} failed in ${failedRules} rules`]),
    ...(untested === 0 ? [] : [`${untested} rule${untested === 1 ? "" : "s"} without tests`]),
  ];
  const verdict = rules === 0 ? "nothing tested" : problems.length === 0 ? "all passed" : problems.join("; ");
  out.write(`\n${rules} rules, ${total} cases: ${verdict}\n`);
  return rules > 0 && problems.length === 0 ? 0 : 1;
}

function parseDirs(argv: readonly string[]): string[] | "help" {
  const args = parseVerbArgs(argv, {}, { positionals: true });
  if (args === "help") return "help";
  return args.positionals.length === 0 ? [defaultRulesDir()] : args.positionals;
}

export const command: VerbModule = {
  run: (argv) =>
    runVerb(
      {
        name: "rules",
        usage: USAGE,
        parse: (args) => subVerb(args, ["test"] as const),
        run: ({ rest }) =>
          runVerb(
            {
              name: "rules test",
              usage: USAGE,
              parse: parseDirs,
              run: (dirs) => rulesTest(dirs, process.stdout, process.stderr),
            },
            rest,
          ),
      },
      argv,
    ),
};
