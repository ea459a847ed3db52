#!/usr/bin/env node
/**
 * Prints one closing line, `tests: N passed, N failed` (with `, N skipped` when any were), summed over the vitest
 * JSON reports named on the command line. A missing report counts as a failure: the suite did not run.
 */
import { existsSync, readFileSync } from "node:fs";

let passed = 0;
let failed = 0;
let skipped = 0;
for (const path of process.argv.slice(2)) {
  if (!existsSync(path)) {
    process.stderr.write(`test-summary: ${path} was not written (the test run did not finish)\n`);
    failed += 1;
    continue;
  }
  const report = JSON.parse(readFileSync(path, "utf8"));
  passed += report.numPassedTests ?? 0;
  failed += (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  for (const suite of report.testResults ?? []) {
    if (suite.status === "failed" && (suite.assertionResults ?? []).length === 0) {
      process.stderr.write(`test-summary: ${suite.name} failed to load: ${suite.message ?? "no message"}\n`);
      failed += 1;
    }
  }
}
process.stdout.write(
  `tests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}\n`,
);
