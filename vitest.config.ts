import { defineConfig } from "vitest/config";

/**
 * `npm test`: the unit project (fast, no services); the integration project, which talks to one real OpenSearch
 * node started once by its global setup (`scripts/opensearch-node.sh`, or the node at `OPENSEARCH_URL`); and the
 * validators project (cfn-lint and checkov on every synthesized environment; its global setup installs them
 * with `scripts/validators.sh`, and where that cannot work skips them with one line, except in CI); and the e2e
 * project (`test/e2e/`): the real Fluent Bit binary through the Firehose stand-in, the bundles from the cloud
 * assembly and a real OpenSearch node to the SNS stand-in, skipped with one line when Fluent Bit or Java is missing,
 * except in CI.
 * `npm run test:unit` runs the unit project alone (no node, no synthesis). Acceptance checks against the shared
 * corpus have their own config (`vitest.acceptance.config.ts`).
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: [
            "test/integration/**",
            "test/e2e/**/*.e2e.test.ts",
            "test/validators/**",
            "test/acceptance/**",
            "test/package/**",
            "**/node_modules/**",
          ],
          testTimeout: 60_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/integration/global-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.e2e.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "validators",
          include: ["test/validators/**/*.test.ts"],
          globalSetup: ["test/validators/setup.ts"],
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
