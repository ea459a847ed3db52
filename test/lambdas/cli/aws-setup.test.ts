/**
 * What an AWS-touching verb says when the machine has no AWS region or no credentials: the flag to pass and where
 * credentials are looked for, not the SDK's "Region is missing". The SDK's own default chains run (no mock), on a
 * machine made to have neither: no AWS_* variables, config and credentials files that do not exist, and instance
 * metadata switched off, so nothing is sent anywhere.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runVerify } from "../../../lambdas/cli/commands/verify.js";

let err: string[];
const saved = { ...process.env };

beforeEach(() => {
  const nowhere = mkdtempSync(join(tmpdir(), "no-aws-"));
  for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
  process.env.AWS_CONFIG_FILE = join(nowhere, "config");
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(nowhere, "credentials");
  process.env.AWS_EC2_METADATA_DISABLED = "true";
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"; // as main.ts sets it
  err = [];
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => err.push(String(chunk)) > 0);
});

afterEach(() => {
  vi.restoreAllMocks();
  process.env = { ...saved };
});

describe("verify --bucket on a machine without AWS set up", () => {
  it("without a region, says to pass --region", async () => {
    // Act
    const status = await runVerify(["--bucket", "audit-archive", "--key-id", "alias/digests"]);

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toMatch(
      /^audit-trail verify: no AWS region: pass --region REGION \(or set AWS_REGION, or a region in your AWS profile\)\n$/,
    );
  });

  it("without credentials, names where credentials are looked for", async () => {
    // Act
    const status = await runVerify(["--bucket", "audit-archive", "--region", "eu-west-1", "--key-id", "k"]);

    // Assess
    expect(status).toBe(2);
    const message = err.join("");
    expect(message).toMatch(/^audit-trail verify: no AWS credentials found; looked in /);
    for (const source of [
      "AWS_ACCESS_KEY_ID",
      "AWS_PROFILE",
      "~/.aws/credentials",
      "~/.aws/config",
      "AWS_WEB_IDENTITY_TOKEN_FILE",
      "container",
      "EC2 instance",
    ]) {
      expect(message).toContain(source);
    }
  });
});
