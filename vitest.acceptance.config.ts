import { defineConfig } from "vitest/config";

/**
 * Acceptance checks against the shared real-log corpus (`../shared/corpus`, or `AUDIT_TRAIL_CORPUS`). The corpus
 * is not part of this repository, so these checks are kept out of `npm test`; `.ci/run` runs them.
 */
export default defineConfig({
  test: {
    include: ["test/acceptance/**/*.test.ts"],
    testTimeout: 120_000,
  },
});
