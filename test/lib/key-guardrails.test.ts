/**
 * The customer-managed keys' own guardrails, evaluated offline against every shipped environment's synthesized key
 * policies: an IAM administrator of the account cannot disable, schedule the deletion of or rewrite the policy of
 * the keys that make the archive readable and the digests verifiable; only the break-glass role named in config can
 * (and CloudFormation's execution role can still update key policies, so deploys keep working); only the digest
 * writer can sign digests; and every such call, allowed or not, is sent to the ops topic.
 */
import { Match } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../lib/config/index.js";
import { type Synthesized, synthesize, synthesizeShipped, variant } from "./fixtures.js";
import { ACCOUNT, decide, type PolicyView, policyView } from "./template-policies.js";

const ADMIN = {
  name: "AdministratorAccess",
  policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] },
};
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const CFN_EXEC_ROLE = role(`cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-eu-west-1`);
const KEYS = ["KeysDataKey", "KeysLogsKey", "TamperEvidenceDigestSigningKey"] as const;
const GUARDED = ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"] as const;

describe.each(Object.keys(ENVIRONMENTS) as (keyof typeof ENVIRONMENTS)[])("key guardrails (%s)", (env) => {
  let synthesized: Synthesized;
  let view: PolicyView;
  const breakGlass = () => role(synthesized.stack.breakGlassRoleName);

  beforeAll(() => {
    synthesized = synthesizeShipped(env);
    view = policyView(synthesized.template);
  });

  const asAdmin = (roleArn: string, key: (typeof KEYS)[number], action: string) =>
    decide({
      roleArn,
      identityPolicies: [ADMIN],
      action,
      resource: view.keyArn(key),
      resourcePolicy: view.keyPolicy(key),
    });

  it("denies an IAM administrator disabling, scheduling the deletion of or rewriting the policy of any key", async () => {
    for (const key of KEYS) {
      for (const action of GUARDED) {
        expect([key, action, await asAdmin(role("SomeAdmin"), key, action)]).toEqual([
          key,
          action,
          "ExplicitlyDenied",
        ]);
      }
    }
  });

  it("allows all three to the break-glass role named in config", async () => {
    for (const key of KEYS) {
      for (const action of GUARDED) {
        expect([key, action, await asAdmin(breakGlass(), key, action)]).toEqual([key, action, "Allowed"]);
      }
    }
  });

  it("lets CloudFormation's execution role update key policies (deploys keep working), but not delete or disable keys", async () => {
    for (const key of KEYS) {
      expect(await asAdmin(CFN_EXEC_ROLE, key, "kms:PutKeyPolicy")).toBe("Allowed");
      expect(await asAdmin(CFN_EXEC_ROLE, key, "kms:ScheduleKeyDeletion")).toBe("ExplicitlyDenied");
      expect(await asAdmin(CFN_EXEC_ROLE, key, "kms:DisableKey")).toBe("ExplicitlyDenied");
    }
  });

  it("lets only the digest writer sign with the digest signing key", async () => {
    const sign = (roleArn: string, identityPolicies: readonly { name: string; policy: unknown }[]) =>
      decide({
        roleArn,
        identityPolicies,
        action: "kms:Sign",
        resource: view.keyArn("TamperEvidenceDigestSigningKey"),
        resourcePolicy: view.keyPolicy("TamperEvidenceDigestSigningKey"),
      });
    expect(
      await sign(
        view.roleArn("TamperEvidenceDigestWriterRole"),
        view.identityPolicies("TamperEvidenceDigestWriterRole"),
      ),
    ).toBe("Allowed");
    expect(await sign(role("SomeAdmin"), [ADMIN])).toBe("ExplicitlyDenied");
    expect(await sign(breakGlass(), [ADMIN])).toBe("ExplicitlyDenied");
    expect(await sign(view.roleArn("TamperEvidenceArchiverRole"), [ADMIN])).toBe("ExplicitlyDenied");
  });

  it("sends every ScheduleKeyDeletion, DisableKey and PutKeyPolicy call on these keys, from CloudTrail, to the ops topic", () => {
    synthesized.template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        source: ["aws.kms"],
        "detail-type": ["AWS API Call via CloudTrail"],
        detail: {
          eventSource: ["kms.amazonaws.com"],
          eventName: ["ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy"],
          requestParameters: {
            keyId: Match.arrayWith([
              { "Fn::GetAtt": [Match.stringLikeRegexp("^KeysDataKey"), "Arn"] },
              { Ref: Match.stringLikeRegexp("^KeysDataKey") },
              { "Fn::GetAtt": [Match.stringLikeRegexp("^TamperEvidenceDigestSigningKey"), "Arn"] },
              { Ref: Match.stringLikeRegexp("^TamperEvidenceDigestSigningKey") },
            ]),
          },
        },
      },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp("^AlertingOpsAlarms") } })],
    });
  });
});

describe("the break-glass role", () => {
  it("is the one the environment names", () => {
    // Act
    const { template } = synthesize("dev", variant("dev", { keys: { breakGlassRoleName: "OpsBreakGlass" } }));

    // Assess
    const policy = JSON.stringify(policyView(template).keyPolicy("KeysDataKey"));
    expect(policy).toContain(`arn:aws:iam::${ACCOUNT}:role/OpsBreakGlass`);
  });
});
