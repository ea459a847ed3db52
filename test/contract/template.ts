/**
 * A synthesized template with every intrinsic resolved to concrete values, as CloudFormation would in one fixed
 * account and region: `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split` and the pseudo
 * parameters. Resources without an explicit name get a deterministic one derived from their logical id, so every
 * ARN a policy, an environment variable or a call names is a plain string the IAM evaluator can compare.
 *
 * Also answers the questions the permission contract asks of a template: a role's identity policies, the resource
 * policy that governs an ARN (bucket, key, queue, topic, domain access policy), and which KMS key encrypts a bucket,
 * queue, topic or table.
 */

export const ACCOUNT = "111122223333";
export const REGION = "eu-west-1";
export const PARTITION = "aws";

export type PolicyDocument = { Version?: string; Statement: PolicyStatement[] | PolicyStatement };
export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

interface RawResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export interface TemplateJson {
  Resources: Record<string, RawResource>;
}

/**
 * The AWS managed policies aws-cdk-lib attaches to roles of this stack, as AWS publishes them (the evaluator has no
 * access to IAM). A managed policy not listed here fails the contract, naming it.
 */
const AWS_MANAGED_POLICIES: Record<string, PolicyDocument> = {
  "service-role/AWSLambdaBasicExecutionRole": {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: "*",
      },
    ],
  },
  "service-role/AWSLambdaVPCAccessExecutionRole": {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: [
          "logs:CreateLogGroup",
          "logs:CreateLogStream",
          "logs:PutLogEvents",
          "ec2:CreateNetworkInterface",
          "ec2:DescribeNetworkInterfaces",
          "ec2:DescribeSubnets",
          "ec2:DeleteNetworkInterface",
          "ec2:AssignPrivateIpAddresses",
          "ec2:UnassignPrivateIpAddresses",
        ],
        Resource: "*",
      },
    ],
  },
};

function hashOf(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** Statements of a policy document as an array. */
export function statementsOf(document: PolicyDocument | undefined): PolicyStatement[] {
  if (document === undefined) return [];
  return Array.isArray(document.Statement) ? document.Statement : [document.Statement];
}

export function asList<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export class ResolvedTemplate {
  readonly resources: Readonly<Record<string, RawResource>>;

  constructor(
    readonly json: TemplateJson,
    readonly stackName: string,
  ) {
    this.resources = json.Resources;
  }

  private resource(logicalId: string): RawResource {
    const resource = this.resources[logicalId];
    if (resource === undefined) throw new Error(`template has no resource ${logicalId}`);
    return resource;
  }

  private prop(logicalId: string, name: string): string | undefined {
    const value = this.resource(logicalId).Properties?.[name];
    return value === undefined ? undefined : String(this.resolve(value));
  }

  /** The physical name CloudFormation would give the resource (its own name property, or one from its id). */
  physicalName(logicalId: string): string {
    const { Type } = this.resource(logicalId);
    const named = (prop: string, fallback: string) => this.prop(logicalId, prop) ?? fallback;
    switch (Type) {
      case "AWS::S3::Bucket":
        return named("BucketName", logicalId.toLowerCase());
      case "AWS::IAM::Role":
        return named("RoleName", logicalId);
      case "AWS::SQS::Queue":
        return named("QueueName", logicalId);
      case "AWS::SNS::Topic":
        return named("TopicName", logicalId);
      case "AWS::DynamoDB::Table":
        return named("TableName", logicalId);
      case "AWS::Lambda::Function":
        return named("FunctionName", logicalId);
      case "AWS::Logs::LogGroup":
        return named("LogGroupName", logicalId);
      case "AWS::Logs::LogStream":
        return named("LogStreamName", logicalId);
      case "AWS::KinesisFirehose::DeliveryStream":
        return named("DeliveryStreamName", logicalId);
      case "AWS::OpenSearchService::Domain":
        return named("DomainName", logicalId.toLowerCase());
      case "AWS::Events::Rule":
        return named("Name", logicalId);
      case "AWS::KMS::Key": {
        const h = hashOf(logicalId);
        return `${h}-0000-4000-8000-${h}${h.slice(0, 4)}`;
      }
      case "AWS::Backup::BackupVault":
        return named("BackupVaultName", logicalId);
      default:
        return logicalId;
    }
  }

  private ref(logicalId: string): string {
    switch (logicalId) {
      case "AWS::AccountId":
        return ACCOUNT;
      case "AWS::Region":
        return REGION;
      case "AWS::Partition":
        return PARTITION;
      case "AWS::URLSuffix":
        return "amazonaws.com";
      case "AWS::StackName":
        return this.stackName;
      case "AWS::StackId":
        return `arn:${PARTITION}:cloudformation:${REGION}:${ACCOUNT}:stack/${this.stackName}/0`;
    }
    const { Type } = this.resource(logicalId);
    const name = this.physicalName(logicalId);
    switch (Type) {
      case "AWS::SQS::Queue":
        return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
      case "AWS::SNS::Topic":
        return this.arn(logicalId);
      case "AWS::EC2::SecurityGroup":
        return `sg-${hashOf(logicalId)}`;
      case "AWS::EC2::Subnet":
        return `subnet-${hashOf(logicalId)}`;
      case "AWS::EC2::VPC":
        return `vpc-${hashOf(logicalId)}`;
      default:
        return name;
    }
  }

  /** The ARN of a resource of the template. */
  arn(logicalId: string): string {
    const { Type } = this.resource(logicalId);
    const name = this.physicalName(logicalId);
    const regional = (service: string, rest: string) =>
      `arn:${PARTITION}:${service}:${REGION}:${ACCOUNT}:${rest}`;
    switch (Type) {
      case "AWS::S3::Bucket":
        return `arn:${PARTITION}:s3:::${name}`;
      case "AWS::IAM::Role":
        return `arn:${PARTITION}:iam::${ACCOUNT}:role/${name}`;
      case "AWS::KMS::Key":
        return regional("kms", `key/${name}`);
      case "AWS::SQS::Queue":
        return regional("sqs", name);
      case "AWS::SNS::Topic":
        return regional("sns", name);
      case "AWS::DynamoDB::Table":
        return regional("dynamodb", `table/${name}`);
      case "AWS::Lambda::Function":
        return regional("lambda", `function:${name}`);
      case "AWS::Logs::LogGroup":
        return regional("logs", `log-group:${name}:*`);
      case "AWS::KinesisFirehose::DeliveryStream":
        return regional("firehose", `deliverystream/${name}`);
      case "AWS::OpenSearchService::Domain":
        return regional("es", `domain/${name}`);
      case "AWS::Events::Rule":
        return regional("events", `rule/${name}`);
      case "AWS::Backup::BackupVault":
        return regional("backup", `backup-vault:${name}`);
      default:
        throw new Error(`no ARN format for ${Type} (${logicalId}): add it to test/contract/template.ts`);
    }
  }

  private getAtt(logicalId: string, attribute: string): string {
    const { Type } = this.resource(logicalId);
    const name = this.physicalName(logicalId);
    switch (attribute) {
      case "Arn":
      case "DomainArn":
      case "TopicArn":
      case "BackupVaultArn":
        return this.arn(logicalId);
      case "QueueName":
      case "TopicName":
      case "BackupVaultName":
        return name;
      case "QueueUrl":
        return this.ref(logicalId);
      case "KeyId":
        return name;
      case "DomainEndpoint":
        return `search-${name}-contract.${REGION}.es.amazonaws.com`;
      case "GroupId":
        return this.ref(logicalId);
      case "RoleId":
        return `AROA${hashOf(logicalId).toUpperCase()}`;
      case "BackupPlanId":
      case "SelectionId":
        return hashOf(logicalId);
    }
    throw new Error(
      `no value for Fn::GetAtt ${logicalId}.${attribute} (${Type}): add it to test/contract/template.ts`,
    );
  }

  /** `value` with every intrinsic function resolved. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    if (value === null || typeof value !== "object") return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, arg] = entries[0] as [string, unknown];
      switch (key) {
        case "Ref":
          return this.ref(String(arg));
        case "Fn::GetAtt": {
          const [id, attribute] = Array.isArray(arg) ? arg : String(arg).split(".");
          return this.getAtt(String(id), String(attribute));
        }
        case "Fn::Join": {
          const [separator, parts] = arg as [string, unknown[]];
          return (this.resolve(parts) as unknown[]).map(String).join(separator);
        }
        case "Fn::Select": {
          const [index, list] = arg as [unknown, unknown];
          return (this.resolve(list) as unknown[])[Number(this.resolve(index))];
        }
        case "Fn::Split": {
          const [separator, text] = arg as [string, unknown];
          return String(this.resolve(text)).split(separator);
        }
        case "Fn::GetAZs":
          return [`${REGION}a`, `${REGION}b`, `${REGION}c`];
        case "Fn::Sub": {
          const [text, vars] = Array.isArray(arg)
            ? (arg as [string, Record<string, unknown>])
            : [String(arg), {}];
          return text.replace(/\$\{([^}]+)\}/g, (_match, name: string) => {
            if (name in vars) return String(this.resolve(vars[name]));
            if (name.includes(".")) {
              const [id, attribute] = name.split(".");
              return this.getAtt(String(id), String(attribute));
            }
            return this.ref(name);
          });
        }
        case "Fn::If":
        case "Fn::ImportValue":
        case "Fn::FindInMap":
          throw new Error(`${key} is not supported by the contract's template resolver`);
      }
    }
    return Object.fromEntries(entries.map(([key, item]) => [key, this.resolve(item)]));
  }

  /** Logical ids of the resources of one type. */
  ofType(type: string): string[] {
    return Object.entries(this.resources)
      .filter(([, resource]) => resource.Type === type)
      .map(([id]) => id);
  }

  /** The resolved properties of a resource. */
  properties(logicalId: string): Record<string, unknown> {
    return (this.resolve(this.resource(logicalId).Properties ?? {}) as Record<string, unknown>) ?? {};
  }

  typeOf(logicalId: string): string {
    return this.resource(logicalId).Type;
  }

  /** The logical id of the role with this ARN. */
  roleIdByArn(arn: string): string {
    const id = this.ofType("AWS::IAM::Role").find((roleId) => this.arn(roleId) === arn);
    if (id === undefined) throw new Error(`no role of the template has ARN ${arn}`);
    return id;
  }

  /** Every identity policy attached to the role: its inline policies, the AWS::IAM::Policy resources naming it, its managed policies. */
  identityPolicies(roleId: string): { name: string; policy: PolicyDocument }[] {
    const roleName = this.physicalName(roleId);
    const role = this.properties(roleId);
    const policies: { name: string; policy: PolicyDocument }[] = [];
    for (const inline of asList(role.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[])) {
      policies.push({ name: inline.PolicyName, policy: inline.PolicyDocument });
    }
    for (const policyId of this.ofType("AWS::IAM::Policy")) {
      const props = this.properties(policyId);
      if (asList(props.Roles as string[]).includes(roleName)) {
        policies.push({ name: policyId, policy: props.PolicyDocument as PolicyDocument });
      }
    }
    for (const arn of asList(role.ManagedPolicyArns as string[])) {
      const name = arn.replace(/^arn:aws:iam::aws:policy\//, "");
      const document = AWS_MANAGED_POLICIES[name];
      if (document === undefined) {
        throw new Error(`role ${roleId} has managed policy ${arn}, unknown to test/contract/template.ts`);
      }
      policies.push({ name, policy: document });
    }
    return policies;
  }

  /** The resource policy governing a request on `arn`, if the template defines one. */
  resourcePolicyFor(arn: string): { name: string; policy: PolicyDocument } | undefined {
    const [, , service, , , rest = ""] = arn.split(":");
    if (service === "s3") {
      const bucket = rest.split("/")[0];
      for (const id of this.ofType("AWS::S3::BucketPolicy")) {
        const props = this.properties(id);
        if (props.Bucket === bucket) return { name: id, policy: props.PolicyDocument as PolicyDocument };
      }
      return undefined;
    }
    if (service === "kms") {
      const id = this.ofType("AWS::KMS::Key").find((keyId) => this.arn(keyId) === arn);
      if (id === undefined) return undefined;
      return { name: id, policy: this.properties(id).KeyPolicy as PolicyDocument };
    }
    if (service === "sqs") {
      const queueId = this.ofType("AWS::SQS::Queue").find((id) => this.arn(id) === arn);
      if (queueId === undefined) return undefined;
      const url = this.ref(queueId);
      for (const id of this.ofType("AWS::SQS::QueuePolicy")) {
        const props = this.properties(id);
        if (asList(props.Queues as string[]).includes(url))
          return { name: id, policy: props.PolicyDocument as PolicyDocument };
      }
      return undefined;
    }
    if (service === "sns") {
      for (const id of this.ofType("AWS::SNS::TopicPolicy")) {
        const props = this.properties(id);
        if (asList(props.Topics as string[]).includes(arn))
          return { name: id, policy: props.PolicyDocument as PolicyDocument };
      }
      return undefined;
    }
    if (service === "es") {
      const domainId = this.ofType("AWS::OpenSearchService::Domain").find((id) =>
        `${arn}/`.startsWith(`${this.arn(id)}/`),
      );
      if (domainId === undefined) return undefined;
      const policy = this.properties(domainId).AccessPolicies as PolicyDocument | undefined;
      return policy === undefined ? undefined : { name: `${domainId} AccessPolicies`, policy };
    }
    return undefined;
  }

  /** The KMS key ARN encrypting a bucket (by name), queue or topic (by ARN) or table (by name), if a customer key does. */
  encryptionKeyOf(service: "s3" | "sqs" | "sns" | "dynamodb", nameOrArn: string): string | undefined {
    const keyArn = (value: unknown) => {
      if (value === undefined) return undefined;
      const text = String(value);
      if (text.startsWith("arn:")) return text;
      const id = this.ofType("AWS::KMS::Key").find((keyId) => this.physicalName(keyId) === text);
      return id === undefined ? text : this.arn(id);
    };
    if (service === "s3") {
      const id = this.ofType("AWS::S3::Bucket").find((bucketId) => this.physicalName(bucketId) === nameOrArn);
      if (id === undefined) return undefined;
      const encryption = this.properties(id).BucketEncryption as
        | { ServerSideEncryptionConfiguration: { ServerSideEncryptionByDefault?: Record<string, string> }[] }
        | undefined;
      const rule = encryption?.ServerSideEncryptionConfiguration[0]?.ServerSideEncryptionByDefault;
      return rule?.SSEAlgorithm === "aws:kms" ? keyArn(rule.KMSMasterKeyID) : undefined;
    }
    if (service === "sqs") {
      const id = this.ofType("AWS::SQS::Queue").find((queueId) => this.arn(queueId) === nameOrArn);
      return id === undefined ? undefined : keyArn(this.properties(id).KmsMasterKeyId);
    }
    if (service === "sns") {
      const id = this.ofType("AWS::SNS::Topic").find((topicId) => this.arn(topicId) === nameOrArn);
      return id === undefined ? undefined : keyArn(this.properties(id).KmsMasterKeyId);
    }
    const id = this.ofType("AWS::DynamoDB::Table").find(
      (tableId) => this.physicalName(tableId) === nameOrArn,
    );
    if (id === undefined) return undefined;
    const sse = this.properties(id).SSESpecification as
      | { SSEEnabled?: boolean; KMSMasterKeyId?: string }
      | undefined;
    return sse?.SSEEnabled === true ? keyArn(sse.KMSMasterKeyId) : undefined;
  }
}
