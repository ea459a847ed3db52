/**
 * What a request costs in IAM: each AWS SDK command a handler sent (captured through aws-sdk-client-mock) and each
 * SigV4-signed OpenSearch HTTP request, mapped to the IAM action(s) AWS authorizes it against, the resource ARN and
 * the request context keys the policies of this stack can test. Encryption side effects are included: a `PutObject`
 * into an SSE-KMS bucket is also a `kms:GenerateDataKey` on the bucket's key by the caller (through S3), a `Publish`
 * to an encrypted topic a `kms:GenerateDataKey` and `kms:Decrypt`, a DynamoDB item operation on a table with a
 * customer key a `kms:Decrypt` of its table key.
 *
 * A command missing from this table fails the contract naming it: a new kind of call must say what it needs.
 */
import { ACCOUNT, PARTITION, REGION, type ResolvedTemplate } from "./template.js";

export interface AwsCall {
  /** What the code did, for messages (`PutRecordBatchCommand`, `PUT /audit-alerts/_doc/…`). */
  readonly via: string;
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string | string[]>>;
}

/** One command as the SDK client received it. */
export interface SentCommand {
  /** IAM service prefix of the client (`s3`, `dynamodb`, …). */
  readonly service: string;
  /** The command's class name (`PutObjectCommand`). */
  readonly name: string;
  readonly input: Record<string, unknown>;
}

/** One data-plane HTTP request to an OpenSearch domain. */
export interface SentHttpRequest {
  readonly domainArn: string;
  readonly method: string;
  readonly path: string;
}

const regional = (service: string, rest: string) =>
  `arn:${PARTITION}:${service}:${REGION}:${ACCOUNT}:${rest}`;

/** The KMS calls a service makes with the caller's credentials on its behalf (`kms:ViaService`). */
function viaService(
  service: string,
  keyArn: string | undefined,
  actions: readonly string[],
  via: string,
  encryptionContext: Record<string, string> = {},
): AwsCall[] {
  if (keyArn === undefined) return [];
  return actions.map((action) => ({
    via: `${via} (through ${service})`,
    action,
    resource: keyArn,
    context: {
      "kms:ViaService": `${service}.${REGION}.amazonaws.com`,
      "kms:CallerAccount": ACCOUNT,
      ...encryptionContext,
    },
  }));
}

function text(value: unknown, field: string, command: string): string {
  if (typeof value !== "string" || value === "") {
    throw new Error(`${command}: ${field} is ${JSON.stringify(value)}, not a string the contract can map`);
  }
  return value;
}

type AttributeMap = Record<string, { S?: string; N?: string }>;

/** The partition key value of a DynamoDB key or item (`dynamodb:LeadingKeys`). */
function leadingKey(template: ResolvedTemplate, table: string, key: AttributeMap | undefined): string[] {
  const tableId = template.ofType("AWS::DynamoDB::Table").find((id) => template.physicalName(id) === table);
  if (tableId === undefined) return [];
  const schema = template.properties(tableId).KeySchema as { AttributeName: string; KeyType: string }[];
  const hash = schema.find((k) => k.KeyType === "HASH")?.AttributeName;
  const value = hash === undefined ? undefined : key?.[hash];
  const raw = value?.S ?? value?.N;
  return raw === undefined ? [] : [raw];
}

function dynamoItemCall(
  template: ResolvedTemplate,
  via: string,
  action: string,
  table: string,
  key: AttributeMap | undefined,
): AwsCall[] {
  const leading = leadingKey(template, table, key);
  return [
    {
      via,
      action,
      resource: regional("dynamodb", `table/${table}`),
      context: leading.length === 0 ? {} : { "dynamodb:LeadingKeys": leading },
    },
    ...viaService("dynamodb", template.encryptionKeyOf("dynamodb", table), ["kms:Decrypt"], via),
  ];
}

function s3ObjectArn(bucket: string, key: string): string {
  return `arn:${PARTITION}:s3:::${bucket}/${key}`;
}

/** The IAM calls one SDK command makes. */
export function iamCallsOfCommand(sent: SentCommand, template: ResolvedTemplate): AwsCall[] {
  const { service, name, input } = sent;
  const via = name;
  switch (`${service}:${name}`) {
    case "firehose:PutRecordBatchCommand":
    case "firehose:PutRecordCommand": {
      const stream = text(input.DeliveryStreamName, "DeliveryStreamName", name);
      return [
        {
          via,
          action: `firehose:${name.replace(/Command$/, "")}`,
          resource: regional("firehose", `deliverystream/${stream}`),
        },
      ];
    }
    case "secretsmanager:GetSecretValueCommand": {
      const id = text(input.SecretId, "SecretId", name);
      // A name, or a partial ARN (one without the six random characters Secrets Manager appends), resolves to
      // the secret's full ARN, which is what IAM authorizes.
      const full = id.startsWith("arn:") ? id : regional("secretsmanager", `secret:${id}`);
      const arn = /-[A-Za-z0-9]{6}$/.test(full) ? full : `${full}-Ab12Cd`;
      return [{ via, action: "secretsmanager:GetSecretValue", resource: arn }];
    }
    case "ssm:GetParameterCommand": {
      const parameter = text(input.Name, "Name", name);
      const arn = parameter.startsWith("arn:")
        ? parameter
        : regional("ssm", `parameter/${parameter.replace(/^\//, "")}`);
      return [{ via, action: "ssm:GetParameter", resource: arn }];
    }
    case "s3:GetObjectCommand":
    case "s3:HeadObjectCommand": {
      const bucket = text(input.Bucket, "Bucket", name);
      const key = text(input.Key, "Key", name);
      const versioned = typeof input.VersionId === "string";
      const calls: AwsCall[] = [
        {
          via,
          action: versioned ? "s3:GetObjectVersion" : "s3:GetObject",
          resource: s3ObjectArn(bucket, key),
          context: { "aws:SecureTransport": "true" },
        },
      ];
      if (name === "GetObjectCommand") {
        calls.push(
          ...viaService("s3", template.encryptionKeyOf("s3", bucket), ["kms:Decrypt"], via, {
            "kms:EncryptionContext:aws:s3:arn": `arn:${PARTITION}:s3:::${bucket}`,
          }),
        );
      }
      return calls;
    }
    case "s3:PutObjectCommand": {
      const bucket = text(input.Bucket, "Bucket", name);
      const key = text(input.Key, "Key", name);
      const context: Record<string, string> = { "aws:SecureTransport": "true" };
      if (typeof input.IfNoneMatch === "string") context["s3:if-none-match"] = input.IfNoneMatch;
      return [
        { via, action: "s3:PutObject", resource: s3ObjectArn(bucket, key), context },
        ...viaService("s3", template.encryptionKeyOf("s3", bucket), ["kms:GenerateDataKey"], via, {
          "kms:EncryptionContext:aws:s3:arn": `arn:${PARTITION}:s3:::${bucket}`,
        }),
      ];
    }
    case "s3:GetObjectAttributesCommand": {
      // Metadata only (no KMS call); a version id needs the Version actions, both of them.
      const bucket = text(input.Bucket, "Bucket", name);
      const key = text(input.Key, "Key", name);
      const versioned = typeof input.VersionId === "string";
      const context = { "aws:SecureTransport": "true" };
      const resource = s3ObjectArn(bucket, key);
      return versioned
        ? [
            { via, action: "s3:GetObjectVersion", resource, context },
            { via, action: "s3:GetObjectVersionAttributes", resource, context },
          ]
        : [
            { via, action: "s3:GetObject", resource, context },
            { via, action: "s3:GetObjectAttributes", resource, context },
          ];
    }
    case "s3:ListObjectVersionsCommand": {
      const bucket = text(input.Bucket, "Bucket", name);
      return [
        {
          via,
          action: "s3:ListBucketVersions",
          resource: `arn:${PARTITION}:s3:::${bucket}`,
          context: { "aws:SecureTransport": "true", "s3:prefix": String(input.Prefix ?? "") },
        },
      ];
    }
    case "s3:ListObjectsV2Command": {
      const bucket = text(input.Bucket, "Bucket", name);
      return [
        {
          via,
          action: "s3:ListBucket",
          resource: `arn:${PARTITION}:s3:::${bucket}`,
          context: { "aws:SecureTransport": "true", "s3:prefix": String(input.Prefix ?? "") },
        },
      ];
    }
    case "dynamodb:GetItemCommand":
    case "dynamodb:PutItemCommand":
    case "dynamodb:UpdateItemCommand":
    case "dynamodb:DeleteItemCommand": {
      const table = text(input.TableName, "TableName", name);
      const key = (input.Key ?? input.Item) as AttributeMap | undefined;
      return dynamoItemCall(template, via, `dynamodb:${name.replace(/Command$/, "")}`, table, key);
    }
    case "dynamodb:QueryCommand": {
      const table = text(input.TableName, "TableName", name);
      const condition = String(input.KeyConditionExpression ?? "");
      const values = (input.ExpressionAttributeValues ?? {}) as AttributeMap;
      const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
      const tableId = template
        .ofType("AWS::DynamoDB::Table")
        .find((id) => template.physicalName(id) === table);
      const hash = tableId
        ? (template.properties(tableId).KeySchema as { AttributeName: string; KeyType: string }[]).find(
            (k) => k.KeyType === "HASH",
          )?.AttributeName
        : undefined;
      const match = /([#\w]+)\s*=\s*(:\w+)/g;
      let key: AttributeMap | undefined;
      for (const [, attribute = "", placeholder = ""] of condition.matchAll(match)) {
        const resolved = attribute.startsWith("#") ? names[attribute] : attribute;
        if (resolved === hash && hash !== undefined) key = { [hash]: values[placeholder] ?? {} };
      }
      return dynamoItemCall(template, via, "dynamodb:Query", table, key);
    }
    case "dynamodb:TransactWriteItemsCommand": {
      const items = (input.TransactItems ?? []) as Record<
        string,
        { TableName: string; Key?: AttributeMap; Item?: AttributeMap }
      >[];
      const operations: Record<string, string> = {
        Put: "dynamodb:PutItem",
        Update: "dynamodb:UpdateItem",
        Delete: "dynamodb:DeleteItem",
        ConditionCheck: "dynamodb:ConditionCheckItem",
      };
      return items.flatMap((item) =>
        Object.entries(item).flatMap(([operation, request]) => {
          const action = operations[operation];
          if (action === undefined) throw new Error(`${name}: unknown transaction operation ${operation}`);
          return dynamoItemCall(
            template,
            `${via} ${operation}`,
            action,
            request.TableName,
            request.Key ?? request.Item,
          );
        }),
      );
    }
    case "kms:SignCommand":
    case "kms:GetPublicKeyCommand": {
      const key = text(input.KeyId, "KeyId", name);
      return [{ via, action: `kms:${name.replace(/Command$/, "")}`, resource: key }];
    }
    case "sns:PublishCommand": {
      const topic = text(input.TopicArn, "TopicArn", name);
      return [
        { via, action: "sns:Publish", resource: topic, context: { "aws:SecureTransport": "true" } },
        ...viaService(
          "sns",
          template.encryptionKeyOf("sns", topic),
          ["kms:GenerateDataKey", "kms:Decrypt"],
          via,
        ),
      ];
    }
    case "cloudformation:GetTemplateCommand": {
      const stack = text(input.StackName, "StackName", name);
      return [
        {
          via,
          action: "cloudformation:GetTemplate",
          resource: regional("cloudformation", `stack/${stack}/*`),
        },
      ];
    }
    case "es:DescribeDomainCommand": {
      const domain = text(input.DomainName, "DomainName", name);
      return [{ via, action: "es:DescribeDomain", resource: regional("es", `domain/${domain}`) }];
    }
  }
  throw new Error(
    `no IAM mapping for ${service} ${name}: add what it needs (action, resource, encryption side effects) to test/contract/aws-calls.ts`,
  );
}

/** The IAM call of one SigV4-signed data-plane request (`es:ESHttp<Method>` on the domain ARN plus the path). */
export function iamCallOfHttp(request: SentHttpRequest): AwsCall {
  const method = request.method.toUpperCase();
  const action = `es:ESHttp${method[0]}${method.slice(1).toLowerCase()}`;
  const path = decodeURIComponent(request.path.split("?")[0] ?? "").replace(/^\/+/, "");
  return { via: `${method} ${request.path}`, action, resource: `${request.domainArn}/${path}` };
}
