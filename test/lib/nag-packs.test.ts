import { Stack, Validations } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../lib/config/index.js";
import { nagPacks } from "../../lib/nag-packs.js";
import { build, type Synthesized, synthesize } from "./fixtures.js";

const NAMES = Object.keys(ENVIRONMENTS) as (keyof typeof ENVIRONMENTS)[];

function violations(scope: IConstruct): string[] {
  return nagPacks(scope).flatMap((pack) =>
    pack
      .validateScope(scope)
      .violations.flatMap((violation) =>
        violation.violatingResources.map((resource) => `${violation.ruleName} at ${resource.constructPath}`),
      ),
  );
}

/** Every acknowledgement recorded in the tree: rule id → reasons. */
function acknowledgements(scope: IConstruct): { id: string; reason: string; path: string }[] {
  return scope.node.findAll().flatMap((node) =>
    node.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          id: id.replace(/^annotation::/i, ""),
          reason,
          path: node.node.path,
        })),
      ),
  );
}

describe("cdk-nag packs", () => {
  const shipped = new Map<string, Synthesized>();

  beforeAll(() => {
    for (const name of NAMES) shipped.set(name, synthesize(name, ENVIRONMENTS[name]));
  });

  for (const name of NAMES) {
    it(`finds no unacknowledged violation in ${name} (AwsSolutions, HIPAA, PCI DSS 3.2.1, NIST 800-53 r5)`, () => {
      // Act
      const found = violations(shipped.get(name)?.stack as Stack);

      // Assess
      expect(found).toEqual([]);
    });
  }

  it("runs the four packs", () => {
    expect(nagPacks(new Stack()).map((pack) => pack.readPackName)).toEqual([
      "AwsSolutions",
      "HIPAA.Security",
      "PCI.DSS.321",
      "NIST.800.53.R5",
    ]);
  });

  it("reports a violation the stack does not acknowledge (the check can fail)", () => {
    // Prepare
    const { stack } = build("dev", ENVIRONMENTS.dev);
    new s3.Bucket(stack, "Careless");

    // Act
    const found = violations(stack);

    // Assess
    expect(found).toEqual(
      expect.arrayContaining([expect.stringMatching(/^AwsSolutions-S1 at AuditTrail-dev\/Careless/)]),
    );
  });

  it("gives every acknowledgement a specific reason", () => {
    for (const { stack } of shipped.values()) {
      // Act
      const all = acknowledgements(stack);

      // Assess
      expect(all.length).toBeGreaterThan(20);
      for (const acknowledgement of all) {
        expect(
          acknowledgement.reason.length,
          `${acknowledgement.id} at ${acknowledgement.path}`,
        ).toBeGreaterThanOrEqual(60);
        expect(acknowledgement.reason).not.toMatch(/\b(TODO|FIXME|ignore|not needed|n\/a)\b/i);
      }
    }
  });

  it("records a reason with every checkov skip in the template metadata", () => {
    for (const { template } of shipped.values()) {
      // Act
      const skips = Object.entries(
        template.toJSON().Resources as Record<string, { Metadata?: Record<string, unknown> }>,
      ).flatMap(([logicalId, resource]) =>
        (
          (resource.Metadata?.checkov as { skip?: { id: string; comment: string }[] } | undefined)?.skip ?? []
        ).map((skip) => ({ logicalId, ...skip })),
      );

      // Assess
      expect(skips.length).toBeGreaterThan(5);
      for (const skip of skips) {
        expect(skip.id, skip.logicalId).toMatch(/^CKV_AWS_\d+$/);
        expect(skip.comment.length, `${skip.id} on ${skip.logicalId}`).toBeGreaterThanOrEqual(60);
      }
    }
  });

  it("acknowledges the public endpoint only where the environment has no VPC", () => {
    // Act
    const devIds = acknowledgements(shipped.get("dev")?.stack as Stack).map((entry) => entry.id);
    const prodIds = acknowledgements(shipped.get("prod")?.stack as Stack).map((entry) => entry.id);

    // Assess
    expect(devIds).toContain("AwsSolutions-OS1");
    expect(devIds).toContain("HIPAA.Security-LambdaInsideVPC");
    expect(prodIds).not.toContain("AwsSolutions-OS1");
    expect(prodIds).not.toContain("HIPAA.Security-LambdaInsideVPC");
    expect(prodIds).not.toContain("AwsSolutions-OS4");
    expect(prodIds).not.toContain("AwsSolutions-OS7");
  });
});
