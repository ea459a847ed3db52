/**
 * Confused-deputy guard on every role an AWS service assumes: in every shipped environment, each trust statement of
 * a service principal names the account (`aws:SourceAccount`) and the resources (`aws:SourceArn`) it may act for,
 * except the principals listed here with the reason.
 */
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../lib/config/environments.js";
import { synthesizeShipped } from "./fixtures.js";

const EXEMPT: Readonly<Record<string, string>> = {
  "lambda.amazonaws.com":
    "Lambda assumes an execution role only for a function of this account that names it (creating or updating one takes iam:PassRole here); Lambda documents no source keys for that assume-role call.",
  "backup.amazonaws.com":
    "AWS Backup's role for the ledger selection is created in lib/tamper-evidence.ts (the archive work's file); AWS Backup assumes it only for plans of this account that name it (iam:PassRole).",
};

interface TrustStatement {
  Principal?: { Service?: string | string[] };
  Condition?: Record<string, Record<string, unknown>>;
}

function conditionKeys(statement: TrustStatement): string[] {
  return Object.values(statement.Condition ?? {}).flatMap((operator) => Object.keys(operator));
}

describe.each(Object.keys(ENVIRONMENTS) as (keyof typeof ENVIRONMENTS)[])(
  "service trust policies (%s)",
  (env) => {
    it("name the source account and the source resources for every service that assumes a role", () => {
      // Act
      const { template } = synthesizeShipped(env);
      const missing: string[] = [];
      for (const [roleId, role] of Object.entries(template.findResources("AWS::IAM::Role"))) {
        const document = (
          role as { Properties: { AssumeRolePolicyDocument: { Statement: TrustStatement[] } } }
        ).Properties.AssumeRolePolicyDocument;
        for (const statement of document.Statement) {
          for (const service of [statement.Principal?.Service ?? []].flat()) {
            if (EXEMPT[service] !== undefined) continue;
            const keys = conditionKeys(statement);
            for (const key of ["aws:SourceAccount", "aws:SourceArn"]) {
              if (!keys.includes(key)) missing.push(`${roleId} (${service}) lacks ${key}`);
            }
          }
        }
      }

      // Assess
      expect(missing).toEqual([]);
    });
  },
);
