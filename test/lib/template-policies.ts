/**
 * Offline IAM evaluation against a synthesized template: a role's identity policies, a bucket's or key's resource
 * policy, with CloudFormation intrinsics resolved to concrete ARNs in a fixed test account, evaluated by
 * `@cloud-copilot/iam-simulate`. A mocked AWS client always says yes; this says what the deployed policies say.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import type { Template } from "aws-cdk-lib/assertions";

export const ACCOUNT = "111122223333";
export const REGION = "eu-west-1";

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** Resolves the intrinsics the stack's policies use (Ref, GetAtt .Arn, Join, Sub, pseudo parameters). */
export function resolver(resources: Resources) {
  const pseudo: Record<string, string> = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "AuditTrail-test",
  };
  const nameOf = (logicalId: string) => logicalId.toLowerCase();
  const ref = (logicalId: string): string => {
    if (pseudo[logicalId] !== undefined) return pseudo[logicalId];
    const type = resources[logicalId]?.Type;
    switch (type) {
      case "AWS::S3::Bucket":
      case "AWS::DynamoDB::Table":
      case "AWS::IAM::Role":
        return nameOf(logicalId);
      case "AWS::SNS::Topic":
        return `arn:aws:sns:${REGION}:${ACCOUNT}:${logicalId}`;
      case "AWS::KMS::Key":
        return `${logicalId}-key-id`;
      default:
        return logicalId;
    }
  };
  const arn = (logicalId: string): string => {
    const type = resources[logicalId]?.Type;
    switch (type) {
      case "AWS::S3::Bucket":
        return `arn:aws:s3:::${nameOf(logicalId)}`;
      case "AWS::IAM::Role":
        return `arn:aws:iam::${ACCOUNT}:role/${nameOf(logicalId)}`;
      case "AWS::DynamoDB::Table":
        return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${nameOf(logicalId)}`;
      case "AWS::KMS::Key":
        return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${logicalId}-key-id`;
      case "AWS::SQS::Queue":
        return `arn:aws:sqs:${REGION}:${ACCOUNT}:${logicalId}`;
      case "AWS::Lambda::Function":
        return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${logicalId}`;
      case "AWS::Logs::LogGroup":
        return `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${logicalId}:*`;
      default:
        return `arn:aws:${(type ?? "unknown::x").split("::")[1]?.toLowerCase()}:${REGION}:${ACCOUNT}:${logicalId}`;
    }
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== "object") return value;
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object);
    if (keys.length === 1) {
      const [key] = keys as [string];
      const arg = object[key];
      if (key === "Ref") return ref(arg as string);
      if (key === "Fn::GetAtt") {
        const [logicalId, attribute] = arg as [string, string];
        if (attribute === "Arn") return arn(logicalId);
        return `${logicalId}.${attribute}`;
      }
      if (key === "Fn::Join") {
        const [separator, parts] = arg as [string, unknown[]];
        return parts.map((part) => String(resolve(part))).join(separator);
      }
      if (key === "Fn::Sub") {
        const [text, vars] = (typeof arg === "string" ? [arg, {}] : arg) as [string, Record<string, unknown>];
        return text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
          if (vars[name] !== undefined) return String(resolve(vars[name]));
          if (name.endsWith(".Arn")) return arn(name.slice(0, -4));
          return ref(name);
        });
      }
    }
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, resolve(v)]));
  };
  return { resolve, arn, ref };
}

export interface PolicyView {
  readonly resources: Resources;
  readonly resolve: (value: unknown) => unknown;
  /** ARN of the single role whose logical id starts with `prefix`. */
  roleArn(prefix: string): string;
  /** Identity policies (inline and `AWS::IAM::Policy`) of the role whose logical id starts with `prefix`. */
  identityPolicies(prefix: string): { name: string; policy: unknown }[];
  /** The resolved policy of the bucket whose logical id starts with `prefix`. */
  bucketPolicy(prefix: string): unknown;
  /** The resolved key policy of the key whose logical id starts with `prefix`. */
  keyPolicy(prefix: string): unknown;
  bucketName(prefix: string): string;
  tableArn(prefix: string): string;
  keyArn(prefix: string): string;
}

export function policyView(template: Template): PolicyView {
  const resources = template.toJSON().Resources as Resources;
  const { resolve, arn, ref } = resolver(resources);
  const only = (type: string, prefix: string): string => {
    const ids = Object.keys(resources).filter((id) => resources[id]?.Type === type && id.startsWith(prefix));
    if (ids.length !== 1)
      throw new Error(`expected one ${type} starting with ${prefix}, found ${ids.join(", ")}`);
    return ids[0] as string;
  };
  return {
    resources,
    resolve,
    roleArn: (prefix) => arn(only("AWS::IAM::Role", prefix)),
    identityPolicies(prefix) {
      const roleId = only("AWS::IAM::Role", prefix);
      const role = resources[roleId]?.Properties ?? {};
      const inline = (
        (role.Policies as { PolicyName: string; PolicyDocument: unknown }[] | undefined) ?? []
      ).map((p) => ({ name: p.PolicyName, policy: resolve(p.PolicyDocument) }));
      const attached = Object.entries(resources)
        .filter(
          ([, r]) =>
            r.Type === "AWS::IAM::Policy" &&
            ((r.Properties?.Roles as { Ref?: string }[] | undefined) ?? []).some((x) => x.Ref === roleId),
        )
        .map(([id, r]) => ({ name: id, policy: resolve(r.Properties?.PolicyDocument) }));
      return [...inline, ...attached];
    },
    bucketPolicy(prefix) {
      const bucketId = only("AWS::S3::Bucket", prefix);
      const policy = Object.values(resources).find(
        (r) =>
          r.Type === "AWS::S3::BucketPolicy" &&
          (r.Properties?.Bucket as { Ref?: string } | undefined)?.Ref === bucketId,
      );
      return resolve(policy?.Properties?.PolicyDocument);
    },
    keyPolicy(prefix) {
      return resolve(resources[only("AWS::KMS::Key", prefix)]?.Properties?.KeyPolicy);
    },
    bucketName: (prefix) => ref(only("AWS::S3::Bucket", prefix)),
    tableArn: (prefix) => arn(only("AWS::DynamoDB::Table", prefix)),
    keyArn: (prefix) => arn(only("AWS::KMS::Key", prefix)),
  };
}

export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

/**
 * What AWS would decide for `roleArn` (a Lambda's execution role, as an assumed-role session) calling `action` on
 * `resource`, given its identity policies and the resource's policy. Throws on a request the simulator rejects
 * (unknown action, a resource the action does not take), so a typo cannot pass as a denial.
 */
export async function decide(request: {
  readonly roleArn: string;
  readonly identityPolicies: readonly { name: string; policy: unknown }[];
  readonly action: string;
  readonly resource: string;
  readonly resourcePolicy?: unknown;
  readonly context?: Record<string, string | string[]>;
}): Promise<Decision> {
  const roleName = request.roleArn.split("/").at(-1);
  const result = await runSimulation(
    {
      request: {
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/session`,
        action: request.action,
        resource: { resource: request.resource, accountId: ACCOUNT },
        contextVariables: {
          "aws:PrincipalArn": request.roleArn,
          "aws:PrincipalAccount": ACCOUNT,
          "aws:SecureTransport": "true",
          ...request.context,
        },
      },
      identityPolicies: request.identityPolicies.map((p) => ({ name: p.name, policy: p.policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(request.resourcePolicy === undefined ? {} : { resourcePolicy: request.resourcePolicy }),
    },
    {},
  );
  if (result.resultType === "error") {
    throw new Error(
      `iam-simulate rejected ${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`,
    );
  }
  return result.overallResult as Decision;
}
