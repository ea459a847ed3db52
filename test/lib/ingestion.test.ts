import { App, Stack } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as opensearch from "aws-cdk-lib/aws-opensearchservice";
import * as s3 from "aws-cdk-lib/aws-s3";
import { describe, expect, it } from "vitest";
import { ARCHIVE_PREFIXES, AUDIT_INDEX_PREFIX, TRANSFORM_ENV } from "../../lambdas/core/contracts.js";
import { AuditTrailConfigError, ENVIRONMENTS } from "../../lib/config/index.js";
import { AuditIngestion } from "../../lib/ingestion.js";
import {
  hasRoleStatements,
  onlyResource,
  regionalArn,
  type Synthesized,
  sameAccountCondition,
  shippedStacks,
  synthesize,
  thrownBy,
  variant,
} from "./fixtures.js";

function transformOf(synthesized: Synthesized): Record<string, unknown> {
  const found = synthesized.template.findResources("AWS::Lambda::Function", {
    Properties: { Description: Match.stringLikeRegexp("Firehose transform") },
  });
  const [transform] = Object.values(found) as { Properties: Record<string, unknown> }[];
  if (transform === undefined) throw new Error("no transform function");
  return transform.Properties;
}

function destinationOf(synthesized: Synthesized): Record<string, unknown> {
  const stream = onlyResource(synthesized.template, "AWS::KinesisFirehose::DeliveryStream");
  return stream.Properties.AmazonopensearchserviceDestinationConfiguration as Record<string, unknown>;
}

describe("ingestion", () => {
  const shipped = shippedStacks("dev", "prod");

  it("is a Direct PUT stream encrypted with the customer-managed key", () => {
    shipped.prod.template.hasResourceProperties("AWS::KinesisFirehose::DeliveryStream", {
      DeliveryStreamType: "DirectPut",
      DeliveryStreamEncryptionConfigurationInput: {
        KeyType: "CUSTOMER_MANAGED_CMK",
        KeyARN: { "Fn::GetAtt": [Match.stringLikeRegexp("^KeysDataKey"), "Arn"] },
      },
    });
  });

  it("delivers into daily audit-YYYY-MM-DD indices on the domain", () => {
    // Act
    const destination = destinationOf(shipped.prod);

    // Assess
    expect(destination).toMatchObject({
      DomainARN: { "Fn::GetAtt": [expect.stringMatching(/^SearchDomain/), "Arn"] },
      IndexName: AUDIT_INDEX_PREFIX,
      IndexRotationPeriod: "OneDay",
    });
  });

  it("backs every document up into the staging bucket, failures under the error prefix", () => {
    // Act
    const destination = destinationOf(shipped.prod);

    // Assess
    expect(destination.S3BackupMode).toBe("AllDocuments");
    expect(destination.S3Configuration).toMatchObject({
      BucketARN: { "Fn::GetAtt": [expect.stringMatching(/^ArchiveStagingBucket/), "Arn"] },
      Prefix: `${ARCHIVE_PREFIXES.documents}!{timestamp:yyyy/MM/dd/HH}/`,
      ErrorOutputPrefix: "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/",
      EncryptionConfiguration: {
        KMSEncryptionConfig: {
          AWSKMSKeyARN: { "Fn::GetAtt": [expect.stringMatching(/^KeysDataKey/), "Arn"] },
        },
      },
      CloudWatchLoggingOptions: { Enabled: true },
    });
    expect(ARCHIVE_PREFIXES.processingFailed).toBe("errors/processing-failed/");
  });

  it("writes the backup GZIP-compressed, so staging and the archive hold about an eighth of the documents' bytes", () => {
    for (const stack of [shipped.prod, shipped.dev]) {
      // Act
      const destination = destinationOf(stack);

      // Assess
      expect(destination.S3Configuration).toMatchObject({ CompressionFormat: "GZIP" });
    }
  });

  it("takes buffering and retry duration from the config", () => {
    expect(destinationOf(shipped.prod)).toMatchObject({
      BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 5 },
      RetryOptions: { DurationInSeconds: 900 },
    });
    expect(destinationOf(shipped.dev)).toMatchObject({
      BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 1 },
      RetryOptions: { DurationInSeconds: 60 },
    });
  });

  it("logs delivery errors to CloudWatch", () => {
    // Act
    const destination = destinationOf(shipped.prod);

    // Assess
    expect(destination.CloudWatchLoggingOptions).toEqual({
      Enabled: true,
      LogGroupName: { Ref: expect.stringMatching(/^IngestionDeliveryLogs/) },
      LogStreamName: { Ref: expect.stringMatching(/^IngestionDeliveryLogsOpenSearchDelivery/) },
    });
  });

  it("runs the transform Lambda as the record processor", () => {
    // Act
    const destination = destinationOf(shipped.prod);

    // Assess
    expect(destination.ProcessingConfiguration).toEqual({
      Enabled: true,
      Processors: [
        {
          Type: "Lambda",
          Parameters: [
            {
              ParameterName: "LambdaArn",
              ParameterValue: { "Fn::GetAtt": [expect.stringMatching(/^IngestionTransform/), "Arn"] },
            },
            { ParameterName: "BufferSizeInMBs", ParameterValue: "1" },
            { ParameterName: "BufferIntervalInSeconds", ParameterValue: "60" },
            { ParameterName: "NumberOfRetries", ParameterValue: "3" },
          ],
        },
      ],
    });
  });

  it("reaches a VPC domain through the private subnets and the client security group", () => {
    expect(destinationOf(shipped.prod).VpcConfiguration).toEqual({
      RoleARN: { "Fn::GetAtt": [expect.stringMatching(/^IngestionDeliveryRole/), "Arn"] },
      SubnetIds: [
        { Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet1/) },
        { Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet2/) },
      ],
      SecurityGroupIds: [{ "Fn::GetAtt": [expect.stringMatching(/^NetworkClientSecurityGroup/), "GroupId"] }],
    });
    expect(destinationOf(shipped.dev).VpcConfiguration).toBeUndefined();
  });

  it("creates the stream only after the bootstrap has installed templates and ISM", () => {
    // Act
    const stream = Object.values(
      shipped.prod.template.findResources("AWS::KinesisFirehose::DeliveryStream"),
    )[0] as {
      DependsOn: string[];
    };

    // Assess
    expect(stream.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^SearchBootstrap/)]));
  });

  it("hands the transform its environment: name, rules directory, event.original (overrides are in its pack)", () => {
    // Act
    const variables = (transformOf(shipped.dev).Environment as { Variables: Record<string, string> })
      .Variables;

    // Assess
    expect(variables).toMatchObject({
      [TRANSFORM_ENV.rulesDir]: "/var/task/rules",
      [TRANSFORM_ENV.keepEventOriginal]: "true",
      [TRANSFORM_ENV.pseudonymizeFields]: "",
    });
    expect(variables[TRANSFORM_ENV.ruleOverrides]).toBeUndefined();
    expect(variables[TRANSFORM_ENV.pseudonymizationKeyParameterName]).toBeUndefined();
    expect(variables[TRANSFORM_ENV.pseudonymizationKeySecretArn]).toBeUndefined();
  });

  it("generates the re-ingest key as a KMS-encrypted secret, named to the transform, readable by its role only", () => {
    for (const synthesized of [shipped.dev, shipped.prod]) {
      // Act
      const secrets = synthesized.template.findResources("AWS::SecretsManager::Secret", {
        Properties: { Description: Match.stringLikeRegexp("re-ingested documents") },
      });
      const variables = (transformOf(synthesized).Environment as { Variables: Record<string, unknown> })
        .Variables;

      // Assess
      const [id, secret] = Object.entries(secrets)[0] ?? [];
      expect(Object.keys(secrets)).toHaveLength(1);
      expect(secret).toMatchObject({
        Properties: {
          GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
          KmsKeyId: { "Fn::GetAtt": [expect.stringMatching(/^KeysDataKey/), "Arn"] },
        },
      });
      expect(variables[TRANSFORM_ENV.reingestKeySecretArn]).toEqual({ Ref: id });
      const readers = Object.values(synthesized.template.findResources("AWS::IAM::Policy")).filter((policy) =>
        JSON.stringify(policy).includes(`{"Ref":"${id}"}`),
      );
      expect(
        readers.map((policy) => (policy as { Properties: { Roles: unknown } }).Properties.Roles),
      ).toEqual([[{ Ref: expect.stringMatching(/^IngestionTransformRole/) }]]);
    }
  });

  it("pseudonymizes prod's fields with the key from SSM, readable by the transform only", () => {
    // Act
    const variables = (transformOf(shipped.prod).Environment as { Variables: Record<string, string> })
      .Variables;

    // Assess
    expect(variables).toMatchObject({
      [TRANSFORM_ENV.keepEventOriginal]: "false",
      [TRANSFORM_ENV.pseudonymizeFields]: ENVIRONMENTS.prod.pseudonymization.fields.join(","),
      [TRANSFORM_ENV.pseudonymizationKeyParameterName]: "/audit-trail/prod/pseudonymization-key",
    });
    hasRoleStatements(shipped.prod.template, "IngestionTransformRole", [
      Match.objectLike({
        Action: "ssm:GetParameter",
        Resource: Match.objectLike({
          "Fn::Join": ["", Match.arrayWith([":parameter/audit-trail/prod/pseudonymization-key"])],
        }),
      }),
    ]);
  });

  it("gives the transform only the parameter read it makes (no GetParameterHistory, DescribeParameters or GetParameters)", () => {
    // Act
    const policies = JSON.stringify(shipped.prod.template.findResources("AWS::IAM::Policy"));

    // Assess
    expect(policies).toContain('"ssm:GetParameter"');
    for (const action of ["ssm:GetParameterHistory", "ssm:DescribeParameters", "ssm:GetParameters"]) {
      expect(policies).not.toContain(action);
    }
  });

  it("lets the transform re-ingest into its own stream only (PutRecordBatch, nothing else)", () => {
    // Act
    const policies = Object.values(
      shipped.prod.template.findResources("AWS::IAM::Policy", {
        Properties: { Roles: [{ Ref: Match.stringLikeRegexp("^IngestionTransformRole") }] },
      }),
    ) as { Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } } }[];
    const firehose = policies
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement) => JSON.stringify(statement.Action).includes("firehose:"));

    // Assess
    expect(firehose).toEqual([
      {
        Effect: "Allow",
        Action: "firehose:PutRecordBatch",
        Resource: { "Fn::GetAtt": [expect.stringMatching(/^IngestionDeliveryStream/), "Arn"] },
      },
    ]);
  });

  it("reads the key from Secrets Manager when configured so, with kms:Decrypt on a CMK-encrypted parameter otherwise", () => {
    // Prepare
    const fromSecret = variant("prod", {
      pseudonymization: {
        fields: ["user.name"],
        key: { source: "secret", secretName: "audit-trail/prod/hmac" },
      },
    });
    const fromCmkParameter = variant("prod", {
      pseudonymization: {
        fields: ["user.name"],
        key: {
          source: "ssm-parameter",
          parameterName: "/audit/hmac",
          kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        },
      },
    });

    // Act
    const secret = synthesize("prod", fromSecret);
    const parameter = synthesize("prod", fromCmkParameter);

    // Assess
    const variables = (transformOf(secret).Environment as { Variables: Record<string, unknown> }).Variables;
    expect(JSON.stringify(variables[TRANSFORM_ENV.pseudonymizationKeySecretArn])).toContain(
      ":secret:audit-trail/prod/hmac",
    );
    hasRoleStatements(secret.template, "IngestionTransformRole", [
      Match.objectLike({
        Action: "secretsmanager:GetSecretValue",
        Resource: Match.objectLike({
          "Fn::Join": ["", Match.arrayWith([":secret:audit-trail/prod/hmac-??????"])],
        }),
      }),
    ]);
    hasRoleStatements(parameter.template, "IngestionTransformRole", [
      Match.objectLike({
        Action: "kms:Decrypt",
        Resource: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        Condition: {
          StringEquals: {
            "kms:ViaService": { "Fn::Join": ["", ["ssm.", { Ref: "AWS::Region" }, ".amazonaws.com"]] },
          },
        },
      }),
    ]);
  });

  it("lets Firehose invoke only the transform, write only staging and only write documents into this domain", () => {
    // Act
    const policy = Object.values(
      shipped.prod.template.findResources("AWS::IAM::Policy", {
        Properties: { Roles: [{ Ref: Match.stringLikeRegexp("^IngestionDeliveryRole") }] },
      }),
    )[0] as {
      Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } };
    };
    const statements = policy.Properties.PolicyDocument.Statement;
    const actions = statements.flatMap((statement) => [statement.Action].flat());

    // Assess
    const domainPaths = {
      "Fn::Join": ["", [{ "Fn::GetAtt": [expect.stringMatching(/^SearchDomain/), "Arn"] }, "/*"]],
    };
    expect(statements).toContainEqual({
      Effect: "Allow",
      Action: ["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"],
      Resource: domainPaths,
    });
    expect(actions).not.toContain("es:ESHttpDelete");
    expect(actions).not.toContain("es:ESHttpPatch");
    expect(actions).not.toContain("es:ESHttpHead");
    expect(statements).toContainEqual({
      Effect: "Allow",
      Action: ["lambda:GetFunctionConfiguration", "lambda:InvokeFunction"],
      Resource: { "Fn::GetAtt": [expect.stringMatching(/^IngestionTransform/), "Arn"] },
    });
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(["s3:PutObject"]),
        Resource: expect.arrayContaining([
          { "Fn::GetAtt": [expect.stringMatching(/^ArchiveStagingBucket/), "Arn"] },
        ]),
      }),
    );
  });

  it("trusts Firehose only for delivery streams of this account", () => {
    shipped.prod.template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: "firehose.amazonaws.com" },
            Condition: sameAccountCondition(regionalArn("firehose", ":deliverystream/*")),
          }),
        ],
      },
    });
  });

  it("trusts CloudWatch Logs only for the subscribed EKS log groups of this account", () => {
    shipped.prod.template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: "logs.amazonaws.com" },
            Condition: sameAccountCondition([regionalArn("logs", ":log-group:/aws/eks/prod-mesh/cluster:*")]),
          }),
        ],
      },
    });
  });

  it("subscribes each configured EKS cluster's audit log group into the stream", () => {
    // Act
    const filters = Object.values(shipped.prod.template.findResources("AWS::Logs::SubscriptionFilter"));

    // Assess
    expect(filters).toEqual([
      expect.objectContaining({
        Properties: {
          LogGroupName: "/aws/eks/prod-mesh/cluster",
          FilterPattern: '{ $.kind = "Event" }',
          DestinationArn: { "Fn::GetAtt": [expect.stringMatching(/^IngestionDeliveryStream/), "Arn"] },
          RoleArn: { "Fn::GetAtt": [expect.stringMatching(/^IngestionSubscriptionRole/), "Arn"] },
        },
      }),
    ]);
    shipped.dev.template.resourceCountIs("AWS::Logs::SubscriptionFilter", 0);
  });

  it("uses a cluster's own log group name when configured", () => {
    // Prepare
    const input = variant("dev", {
      eksClusters: [
        { name: "edge", auditLogGroupName: "/custom/edge-audit", producerIdentity: { type: "pod-identity" } },
        { name: "core", producerIdentity: { type: "pod-identity" } },
      ],
    });

    // Act
    const { template } = synthesize("dev", input);

    // Assess
    template.resourceCountIs("AWS::Logs::SubscriptionFilter", 2);
    template.hasResourceProperties("AWS::Logs::SubscriptionFilter", { LogGroupName: "/custom/edge-audit" });
    template.hasResourceProperties("AWS::Logs::SubscriptionFilter", {
      LogGroupName: "/aws/eks/core/cluster",
    });
  });

  it("runs the transform on Node.js 22, ARM64, from the bundled ESM handler", () => {
    // Act
    const transform = transformOf(shipped.prod);

    // Assess
    expect(transform).toMatchObject({
      Handler: "index.handler",
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
    });
  });

  it("gives the transform a 32 MiB semi-space, not the few MiB V8 would derive from 1024 MB", () => {
    // Act
    const transform = transformOf(shipped.prod);

    // Assess
    expect(transform).toMatchObject({
      MemorySize: 1024,
      Environment: { Variables: { NODE_OPTIONS: "--enable-source-maps --max-semi-space-size=32" } },
    });
  });
});

describe("ingestion validation", () => {
  it("refuses pseudonymized fields without a key source", () => {
    // Prepare
    const stack = new Stack(new App({ context: { "aws:cdk:bundling-stacks": [] } }), "Probe");
    const key = new kms.Key(stack, "Key");

    // Act
    const act = () =>
      new AuditIngestion(stack, "Ingestion", {
        domain: opensearch.Domain.fromDomainEndpoint(
          stack,
          "Domain",
          "https://search-probe-abc.eu-west-1.es.amazonaws.com",
        ),
        stagingBucket: s3.Bucket.fromBucketName(stack, "Staging", "probe-staging"),
        encryptionKey: key,
        logsKey: key,
        logRetention: logs.RetentionDays.ONE_MONTH,
        pseudonymizeFields: ["user.name"],
      });

    // Assess
    const thrown = thrownBy(act);
    expect(thrown).toBeInstanceOf(AuditTrailConfigError);
    expect((thrown as Error).message).toMatch(
      /pseudonymization\.key; fields \["user\.name"\] are to be pseudonymized but no HMAC key source is given/,
    );
  });
});
