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
 * Findings the archive work (issue 13 item 4, branch h13-archive) removes: it scopes the archiver's and the digest
 * writer's S3 and ledger permissions and the signing key's grants, in files outside this work's area
 * (lib/tamper-evidence.ts, lib/archive.ts, lib/encryption.ts). Each entry must still occur in some environment;
 * once the archive work is merged, the coordinator deletes the entries its changes made obsolete (the last test
 * says which).
 */
const SCOPED_BY_ARCHIVE_WORK: readonly { subject: string; finding: RegExp }[] = [
  // Archiver: aws-cdk-lib grantRead on staging, grantReadWriteData on the ledger, grantEncryptDecrypt, and
  // SqsEventSource's grantConsumeMessages give it more than it calls.
  {
    subject: "archiver",
    finding: /^s3:GetObject\w* \(from s3:GetObject\*\) on arn:aws:s3:::archivestagingbucket/,
  },
  { subject: "archiver", finding: /^s3:GetBucket\w+ \(from s3:GetBucket\*\)/ },
  { subject: "archiver", finding: /^s3:List\w+ \(from s3:List\*\)/ },
  {
    subject: "archiver",
    finding:
      /^dynamodb:(BatchGetItem|BatchWriteItem|ConditionCheckItem|DeleteItem|DescribeTable|GetRecords|GetShardIterator|Query|Scan|UpdateItem) on /,
  },
  {
    subject: "archiver",
    finding: /^kms:(Encrypt|DescribeKey|ReEncrypt\w*|GenerateDataKey\w+)( \(from kms:\w+\*\))? on /,
  },
  { subject: "archiver", finding: /^sqs:(ChangeMessageVisibility|GetQueueUrl) on / },
  // Digest writer: grantEncryptDecrypt and grantReadWriteData on the ledger, GetPublicKey that only the CLI calls.
  {
    subject: "digest writer",
    finding:
      /^dynamodb:(BatchGetItem|BatchWriteItem|ConditionCheckItem|DeleteItem|DescribeTable|GetRecords|GetShardIterator|PutItem|Scan) on /,
  },
  {
    subject: "digest writer",
    finding: /^kms:(Encrypt|DescribeKey|ReEncrypt\w*|GenerateDataKey\w+)( \(from kms:\w+\*\))? on /,
  },
  { subject: "digest writer", finding: /^kms:GetPublicKey on / },
  {
    subject: "digest writer",
    finding: /^s3:ListBucket on arn:aws:s3:::archivearchivebucket\w+ when .*digests/,
  },
];

/**
 * Grants aws-cdk-lib makes on its own that this stack cannot narrow without editing its generated policies: the
 * custom-resource provider framework may invoke any version of the bootstrap function (`<function ARN>:*`), and it
 * only ever invokes the unqualified ARN.
 */
const ACCEPTED: readonly { subject: string; finding: RegExp; reason: string }[] = [
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

/** What `finding` is left once the archive work's and aws-cdk-lib's known findings are set aside. */
function unexpected(subject: string, findings: readonly string[], seen: Set<number>): string[] {
  return findings.filter((finding) => {
    const archive = SCOPED_BY_ARCHIVE_WORK.findIndex((e) => e.subject === subject && e.finding.test(finding));
    if (archive !== -1) {
      seen.add(archive);
      return false;
    }
    return !ACCEPTED.some((e) => e.subject === subject && e.finding.test(finding));
  });
}

const archiveEntriesSeen = new Set<number>();

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
          unexpected(label, unused, archiveEntriesSeen),
          `${label} in ${env}: permissions of its role that no call uses`,
        ).toEqual([]);
      });
    }
  },
);

describe("permission contract bookkeeping", () => {
  it("each finding set aside for the archive work still occurs (delete the entries its merge made obsolete)", () => {
    const obsolete = SCOPED_BY_ARCHIVE_WORK.filter((_entry, index) => !archiveEntriesSeen.has(index)).map(
      (entry) => `${entry.subject}: ${entry.finding}`,
    );
    expect(obsolete).toEqual([]);
  });
});
