import { defineConfig } from "vitest/config";

/**
 * What `.ci/run` checks after `npm test`, kept out of `npm test` because it needs what a clone does not have:
 * - acceptance checks against the shared real-log corpus (`../shared/corpus`, or `AUDIT_TRAIL_CORPUS`), which is
 *   not part of this repository;
 * - the published package (`test/package/`): `npm pack`, installed from the npm registry into a temporary folder,
 *   each verb run from there (about a minute, and the registry must be reachable). `npm run test:package` runs it
 *   alone.
 */
export default defineConfig({
  test: {
    include: ["test/acceptance/**/*.test.ts", "test/package/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 900_000,
  },
});
