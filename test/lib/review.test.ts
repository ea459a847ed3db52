import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { REVIEWER_DESCRIPTION } from "../../lib/review.js";
import { build, synthesizeShipped, variant } from "./fixtures.js";

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };

function reviewerPolicy(template: Template): Statement[] {
  const fn = template.findResources("AWS::Lambda::Function", {
    Properties: { Description: REVIEWER_DESCRIPTION },
  });
  const [props] = Object.values(fn).map((r) => r.Properties as { Role: { "Fn::GetAtt": [string, string] } });
  const roleId = props?.Role["Fn::GetAtt"][0];
  const policies = template.findResources("AWS::IAM::Policy", {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  });
  return Object.values(policies).flatMap(
    (p) => (p.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement,
  );
}

describe("the scheduled weekly review (AuditReview)", () => {
  const { template } = synthesizeShipped("prod");

  it("runs every Monday at 06:00 UTC", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      Description: "mesh-audit-trail: build, store and announce the weekly audit review",
      ScheduleExpression: "cron(0 6 ? * MON *)",
    });
  });

  it("may search the indices, list the error and digest prefixes, verify the digest chain, write reports/ and publish to ops; nothing else", () => {
    const actions = reviewerPolicy(template)
      .flatMap((s) => [s.Action].flat())
      .filter((a) => !a.startsWith("logs:") && !a.startsWith("xray:") && !a.startsWith("ec2:"))
      .sort();
    expect(actions).toEqual(
      [
        "cloudformation:GetTemplate",
        "es:ESHttpPost",
        "kms:Decrypt",
        "kms:Decrypt",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKey",
        "kms:GetPublicKey",
        "s3:GetObjectVersion",
        "s3:GetObjectVersionAttributes",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:PutObject",
        "sns:Publish",
      ].sort(),
    );
    const put = reviewerPolicy(template).find((s) => s.Action === "s3:PutObject");
    expect(JSON.stringify(put?.Resource)).toContain("/reports/*");
    const list = reviewerPolicy(template).find((s) => s.Action === "s3:ListBucket");
    expect(list?.Condition).toEqual({
      StringLike: { "s3:prefix": ["errors/*", "digests/*", "reports/weekly/*"] },
    });
  });

  it("verifies the chain with versioned reads of the digests and the objects they name, and the signing key's public key only", () => {
    const policy = reviewerPolicy(template);
    const versions = policy.find((s) => s.Action === "s3:ListBucketVersions");
    expect(versions?.Condition).toEqual({ StringLike: { "s3:prefix": ["digests/*"] } });
    const objectPaths = (action: string) =>
      [JSON.stringify(policy.find((s) => s.Action === action)?.Resource).match(/"\/[a-z]+\/\*"/g)]
        .flat()
        .sort();
    expect(objectPaths("s3:GetObjectVersion")).toEqual(['"/digests/*"', '"/documents/*"', '"/errors/*"']);
    expect(objectPaths("s3:GetObjectVersionAttributes")).toEqual(['"/documents/*"', '"/errors/*"']);
    const publicKey = policy.find((s) => s.Action === "kms:GetPublicKey");
    const signingKeys = template.findResources("AWS::KMS::Key", { Properties: { KeySpec: "ECC_NIST_P256" } });
    expect(Object.keys(signingKeys)).toHaveLength(1);
    expect(publicKey?.Resource).toEqual({ "Fn::GetAtt": [Object.keys(signingKeys)[0], "Arn"] });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Description: REVIEWER_DESCRIPTION,
      Environment: {
        Variables: Match.objectLike({
          AUDIT_TRAIL_DIGEST_SIGNING_KEY_ARN: { "Fn::GetAtt": [Object.keys(signingKeys)[0], "Arn"] },
        }),
      },
    });
    const archiveKeyViaS3 = policy.find(
      (s) => JSON.stringify(s.Condition ?? {}).includes("s3.") && [s.Action].flat().includes("kms:Decrypt"),
    );
    expect([archiveKeyViaS3?.Action].flat().sort()).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);
  });

  it("makes the quarterly compliance report on the first day of each quarter, with the environment's frameworks", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "cron(0 7 1 1,4,7,10 ? *)",
      Targets: [Match.objectLike({ Input: JSON.stringify({ report: "quarterly-compliance" }) })],
    });
    const fn = Object.values(
      template.findResources("AWS::Lambda::Function", { Properties: { Description: REVIEWER_DESCRIPTION } }),
    )[0] as { Properties: { Environment: { Variables: Record<string, string> } } };
    const requests = JSON.parse(
      fn.Properties.Environment.Variables.AUDIT_TRAIL_COMPLIANCE_REQUESTS ?? "[]",
    ) as {
      framework: string;
    }[];
    expect(requests.length).toBeGreaterThan(0);
  });

  it("hands the function the certificate rotation period when the environment sets one", () => {
    const { stack } = build("test", variant("dev", { detection: { certificateRotationHours: 12 } } as never));
    Template.fromStack(stack).hasResourceProperties("AWS::Lambda::Function", {
      Description: REVIEWER_DESCRIPTION,
      Environment: { Variables: Match.objectLike({ AUDIT_TRAIL_CERTIFICATE_ROTATION_HOURS: "12" }) },
    });
  });
});
