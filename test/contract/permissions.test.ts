/**
 * Permission contract, for every shipped environment: every AWS call each function makes when its real handler
 * runs (and every call AWS services make with a role of this stack: Lambda with each execution role, Firehose with
 * its delivery role, producers, SNS delivery status) is evaluated against that role in the synthesized template by
 * an offline IAM policy evaluator, identity policies and resource policies (bucket, key, queue, topic, domain access
 * policy) both. A call the role would be denied fails; so does a permission the role has that no call uses.
 *
 * Mocked SDK clients always say yes; this is what says whether AWS would.
 */
import type { CfnElement } from "aws-cdk-lib";
import { beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../lib/config/environments.js";
import { synthesizeShipped } from "../lib/fixtures.js";
import type { AwsCall } from "./aws-calls.js";
import { type DrivenFunction, driveAll } from "./drivers.js";
import { deniedCalls, unusedPermissions } from "./evaluate.js";
import {
  firehoseServiceCalls,
  lambdaServiceCalls,
  producerCalls,
  providerFrameworkCalls,
  snsDeliveryStatusCalls,
} from "./service-calls.js";
import { type PolicyDocument, ResolvedTemplate, statementsOf } from "./template.js";

/**
 * Grants aws-cdk-lib makes on its own that this stack cannot narrow without editing its generated policies: the
 * custom-resource provider framework may invoke any version of the bootstrap function (`<function ARN>:*`), and it
 * only ever invokes the unqualified ARN.
 */
const ACCEPTED: readonly { subject: string; finding: RegExp; reason: string }[] = [
  ...(["archiver", "digest writer"] as const).map((subject) => ({
    subject,
    finding: /^kms:DescribeKey on arn:aws:kms:[^ ]+:key\/[^ ]+: no call uses it/,
    reason:
      "DynamoDB checks the caller's use of the customer-managed key of the ledger table (what aws-cdk-lib's table grants add for item access); no SDK call shows it.",
  })),
  {
    subject: "bootstrap provider framework",
    finding: /^lambda:InvokeFunction on arn:aws:lambda:[^ ]+:\*: no call uses it/,
    reason:
      "aws-cdk-lib's cr.Provider grants lambda:InvokeFunction on the onEvent function and its versions; the version wildcard stays within that one function.",
  },
];

/** Roles the contract does not drive, each with why. */
const OUTSIDE_THE_CONTRACT: readonly { trust: string; reason: string }[] = [
  {
    trust: "backup.amazonaws.com",
    reason:
      "AWS Backup's service role carries only AWS's own managed backup policy for the ledger selection.",
  },
  {
    trust: "vpc-flow-logs.amazonaws.com",
    reason: "aws-cdk-lib's flow-log role writes the VPC flow log group it is created for, nothing else.",
  },
];

interface Subject {
  readonly label: string;
  readonly roleArn: string;
  readonly calls: readonly AwsCall[];
}

const SUBJECTS = [
  "transform",
  "archiver",
  "digest writer",
  "detector",
  "reviewer",
  "bootstrap",
  "bootstrap provider framework",
  "Firehose delivery role",
  "producer role",
  "SNS delivery-status role",
  "CloudWatch Logs subscription role",
] as const;

function trustedServices(template: ResolvedTemplate, roleId: string): string[] {
  const document = template.properties(roleId).AssumeRolePolicyDocument as PolicyDocument;
  return statementsOf(document).flatMap((statement) => {
    const principal = statement.Principal as { Service?: string | string[] } | undefined;
    return principal?.Service === undefined ? [] : [principal.Service].flat();
  });
}

async function contractOf(env: keyof typeof ENVIRONMENTS) {
  const { stack, template: synthesized } = synthesizeShipped(env);
  const template = new ResolvedTemplate(synthesized.toJSON() as never, stack.stackName);
  const functions: DrivenFunction[] = await driveAll(
    template,
    (id) => lambdaServiceCalls(template, id),
    (id) => providerFrameworkCalls(template, id),
  );
  const subjects = new Map<string, Subject>();
  for (const fn of functions) subjects.set(fn.label, fn);
  const [streamId] = template.ofType("AWS::KinesisFirehose::DeliveryStream");
  if (streamId === undefined) throw new Error("no delivery stream");
  for (const { roleArn, calls } of firehoseServiceCalls(template, streamId)) {
    subjects.set("Firehose delivery role", { label: "Firehose delivery role", roleArn, calls });
  }
  const producerId = stack.getLogicalId(stack.producer.role.node.defaultChild as CfnElement);
  subjects.set("producer role", {
    label: "producer role",
    roleArn: template.arn(producerId),
    calls: producerCalls(template, streamId),
  });
  for (const roleId of template.ofType("AWS::IAM::Role")) {
    const services = trustedServices(template, roleId);
    if (services.includes("sns.amazonaws.com")) {
      subjects.set("SNS delivery-status role", {
        label: "SNS delivery-status role",
        roleArn: template.arn(roleId),
        calls: snsDeliveryStatusCalls(template, template.arn(roleId)),
      });
    }
    if (services.includes("logs.amazonaws.com")) {
      subjects.set("CloudWatch Logs subscription role", {
        label: "CloudWatch Logs subscription role",
        roleArn: template.arn(roleId),
        calls: producerCalls(template, streamId),
      });
    }
  }
  return { template, subjects };
}

/** What `finding` is left once aws-cdk-lib's and the ledger key's accepted findings are set aside. */
function unexpected(subject: string, findings: readonly string[]): string[] {
  return findings.filter((finding) => {
    const accepted = ACCEPTED.findIndex((e) => e.subject === subject && e.finding.test(finding));
    if (accepted === -1) return true;
    acceptedSeen.add(accepted);
    return false;
  });
}

const acceptedSeen = new Set<number>();

describe.each(Object.keys(ENVIRONMENTS) as (keyof typeof ENVIRONMENTS)[])(
  "permission contract (%s)",
  (env) => {
    let template: ResolvedTemplate;
    let subjects: Map<string, Subject>;

    beforeAll(async () => {
      ({ template, subjects } = await contractOf(env));
    }, 300_000);

    it("covers every function and every role of the stack", () => {
      const covered = new Set([...subjects.values()].map((s) => s.roleArn));
      const uncovered = template.ofType("AWS::IAM::Role").filter((roleId) => {
        if (covered.has(template.arn(roleId))) return false;
        const services = trustedServices(template, roleId);
        return !OUTSIDE_THE_CONTRACT.some((outside) => services.includes(outside.trust));
      });
      expect(uncovered, `roles of ${env} that no contract covers`).toEqual([]);
    });

    for (const label of SUBJECTS) {
      it(`${label}: every call it makes is allowed by its role and the target's resource policy`, async () => {
        const subject = subjects.get(label);
        if (subject === undefined) {
          // Only the subscription role is optional (environments without EKS control-plane logs have none).
          expect(label).toBe("CloudWatch Logs subscription role");
          return;
        }
        expect(subject.calls.length, `${label} made no call in ${env}`).toBeGreaterThan(0);
        const denied = await deniedCalls(template, subject.roleArn, subject.calls);
        expect(denied, `${label} in ${env}: calls its role would be denied`).toEqual([]);
      });

      it(`${label}: its role holds no permission that no call uses`, async () => {
        const subject = subjects.get(label);
        if (subject === undefined) {
          expect(label).toBe("CloudWatch Logs subscription role");
          return;
        }
        const unused = await unusedPermissions(template, subject.roleArn, subject.calls);
        expect(
          unexpected(label, unused),
          `${label} in ${env}: permissions of its role that no call uses`,
        ).toEqual([]);
      });
    }
  },
);

describe("permission contract bookkeeping", () => {
  it("each accepted finding still occurs (delete an entry the code no longer needs)", () => {
    const obsolete = ACCEPTED.filter((_entry, index) => !acceptedSeen.has(index)).map(
      (entry) => `${entry.subject}: ${entry.finding}`,
    );
    expect(obsolete).toEqual([]);
  });
});
