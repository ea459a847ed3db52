/**
 * Node.js 20 or newer runs the CLI (README, `engines`), without the AWS SDK's notice that its releases after
 * January 2027 need Node.js 22: the SDK the lock file pins supports the Node the package declares, and this test
 * fails the day a dependency bump pulls in one that does not, so that `engines` and the README move with it.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const require = createRequire(import.meta.url);

/** The lowest major version a `>=N` engines range admits. */
function lowestMajor(range: string): number {
  const match = /^>=\s*(\d+)/.exec(range.trim());
  if (match?.[1] === undefined) throw new Error(`engines range '${range}' is not of the form >=N`);
  return Number(match[1]);
}

function withoutVariable(name: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env[name];
  return env;
}

describe("the Node.js the CLI runs on", () => {
  it("declares no older Node.js than the pinned AWS SDK supports", () => {
    // Prepare
    const own = JSON.parse(readFileSync("package.json", "utf8")) as { engines: { node: string } };
    const sdkPackages = [
      "@aws-sdk/client-s3",
      "@aws-sdk/client-kms",
      "@aws-sdk/client-firehose",
      "@aws-sdk/core",
    ];

    // Act
    const sdkMinimum = Math.max(
      ...sdkPackages.map((name) =>
        lowestMajor((require(`${name}/package.json`) as { engines: { node: string } }).engines.node),
      ),
    );

    // Assess
    expect(lowestMajor(own.engines.node)).toBeGreaterThanOrEqual(sdkMinimum);
  });

  it("prints no AWS SDK Node.js version notice from an AWS-touching command", async () => {
    // Act: verify builds its S3 and KMS clients, then stops at the unreadable key
    const result = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        "lambdas/cli/main.ts",
        "verify",
        "--bucket",
        "b",
        "--region",
        "eu-west-1",
        "--public-key",
        "/dev/null",
      ],
      { env: withoutVariable("AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED") },
    ).catch((error: { stderr: string; code: number }) => error);

    // Assess
    expect(result.stderr).toMatch(/--public-key \/dev\/null: not a public key/);
    expect(result.stderr).not.toMatch(/NodeVersionSupportWarning|require node/);
  });
});
