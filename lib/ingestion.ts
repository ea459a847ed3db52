import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as iam from "aws-cdk-lib/aws-iam";
import * as firehose from "aws-cdk-lib/aws-kinesisfirehose";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as opensearch from "aws-cdk-lib/aws-opensearchservice";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as ssm from "aws-cdk-lib/aws-ssm";
import { Construct } from "constructs";
import {
  ARCHIVE_PREFIXES,
  AUDIT_INDEX_PREFIX,
  TRANSFORM_ENV,
  TRANSFORM_METRICS,
  type TransformMetricName,
} from "../lambdas/core/contracts.js";
import { DEFAULTS } from "./config/defaults.js";
import { AuditTrailConfigError } from "./config/errors.js";
import type { FunctionPlacement } from "./network.js";
import { BUNDLED_RULES_DIR, precompiledRulePackCommands, TRANSFORM_BUNDLE } from "./private/bundle.js";
import { auditFunction, functionSetup, LAMBDA_TASK_ROOT } from "./private/function.js";
import { powertoolsMetric } from "./private/metrics.js";
import {
  acknowledgeAll,
  compliancePackIds,
  defaultPolicyOf,
  skipCheckov,
  tokenFinding,
} from "./private/nag.js";
import { accountServicePrincipal } from "./private/resources.js";

/** Where the HMAC key for pseudonymization lives. */
export type PseudonymizationKeySource =
  | { readonly source: "secret"; readonly secretName: string }
  | { readonly source: "ssm-parameter"; readonly parameterName: string; readonly kmsKeyArn?: string };

export interface EksAuditLogSource {
  /** Cluster name (for the construct id). */
  readonly clusterName: string;
  /** The CloudWatch Logs group holding the control-plane logs. */
  readonly logGroupName: string;
}

export interface AuditIngestionProps extends FunctionPlacement {
  readonly domain: opensearch.IDomain;
  /** Firehose's S3 backup (every document plus failures). */
  readonly stagingBucket: s3.IBucket;
  /** Key for Firehose SSE and the staging objects. */
  readonly encryptionKey: kms.IKey;
  readonly logsKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** @default - `DEFAULTS.firehose.bufferingIntervalSeconds` (60 s) */
  readonly bufferingInterval?: Duration;
  /** Buffer size in MiB. @default - `DEFAULTS.firehose.bufferingSizeMiB` (5) */
  readonly bufferingSizeMiB?: number;
  /** How long Firehose retries OpenSearch before writing the batch to the failure prefix. @default - `DEFAULTS.firehose.retryDurationSeconds` (300 s) */
  readonly retryDuration?: Duration;
  /** Per-rule detection overrides, compiled into the transform's rule pack when it is bundled. @default {} */
  readonly ruleOverrides?: Readonly<Record<string, unknown>>;
  /** Keep `event.original`. @default - `DEFAULTS.keepEventOriginal` (true) */
  readonly keepEventOriginal?: boolean;
  /** ECS fields to pseudonymize. @default - pseudonymization off */
  readonly pseudonymizeFields?: readonly string[];
  /** Required when `pseudonymizeFields` is set. */
  readonly pseudonymizationKey?: PseudonymizationKeySource;
  /** Transform reserved concurrency. @default - `DEFAULTS.concurrency.transform` (20) */
  readonly transformConcurrency?: number;
  /** EKS control-plane log groups subscribed into the stream. @default [] */
  readonly eksAuditLogs?: readonly EksAuditLogSource[];
}

/**
 * The way in: a Direct PUT Firehose stream (SSE with the CMK) whose transform Lambda parses, normalizes and tags
 * each record, delivering into daily `audit-YYYY-MM-DD` indices and backing every document up into staging; plus
 * CloudWatch Logs subscriptions from the EKS control-plane audit logs into the stream.
 */
export class AuditIngestion extends Construct {
  public readonly deliveryStream: firehose.CfnDeliveryStream;
  public readonly deliveryStreamName: string;
  public readonly deliveryStreamArn: string;
  /** The role Firehose assumes (mapped to an OpenSearch write role by the bootstrap). */
  public readonly firehoseRole: iam.Role;
  public readonly transformFunction: lambda.IFunction;
  /** The transform's timeout, for duration alarms. */
  public readonly transformTimeout: Duration;
  /** Firehose's delivery error log group. */
  public readonly errorLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AuditIngestionProps) {
    super(scope, id);
    const stack = Stack.of(this);
    if ((props.pseudonymizeFields?.length ?? 0) > 0 && props.pseudonymizationKey === undefined) {
      throw new AuditTrailConfigError({
        configKey: "pseudonymization.key",
        problem: `fields ${JSON.stringify(props.pseudonymizeFields)} are to be pseudonymized but no HMAC key source is given`,
        fix: 'add pseudonymization.key: { source: "secret", secretName } or { source: "ssm-parameter", parameterName }',
      });
    }

    const pseudonymizing = (props.pseudonymizeFields?.length ?? 0) > 0;
    const environment: Record<string, string> = {
      [TRANSFORM_ENV.rulesDir]: `${LAMBDA_TASK_ROOT}/${BUNDLED_RULES_DIR}`,
      [TRANSFORM_ENV.keepEventOriginal]: String(props.keepEventOriginal ?? DEFAULTS.keepEventOriginal),
      [TRANSFORM_ENV.pseudonymizeFields]: pseudonymizing ? (props.pseudonymizeFields ?? []).join(",") : "",
    };

    let grantKeyRead: ((grantee: iam.IGrantable) => void) | undefined;
    const key = pseudonymizing ? props.pseudonymizationKey : undefined;
    if (key?.source === "secret") {
      const secret = secretsmanager.Secret.fromSecretNameV2(
        this,
        "PseudonymizationKeySecret",
        key.secretName,
      );
      environment[TRANSFORM_ENV.pseudonymizationKeySecretArn] = secret.secretArn;
      // GetSecretValue only (grantRead would add DescribeSecret, which the transform never calls).
      grantKeyRead = (grantee) =>
        grantee.grantPrincipal.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ["secretsmanager:GetSecretValue"],
            // A secret imported by name: its full ARN ends in six characters Secrets Manager chose.
            resources: [`${secret.secretArn}-??????`],
          }),
        );
    } else if (key?.source === "ssm-parameter") {
      const parameter = ssm.StringParameter.fromSecureStringParameterAttributes(
        this,
        "PseudonymizationKeyParameter",
        { parameterName: key.parameterName },
      );
      environment[TRANSFORM_ENV.pseudonymizationKeyParameterName] = key.parameterName;
      // GetParameter (with decryption) only: grantRead would add GetParameters, GetParameterHistory and
      // DescribeParameters, none of which the transform calls.
      grantKeyRead = (grantee) => {
        grantee.grantPrincipal.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ["ssm:GetParameter"], resources: [parameter.parameterArn] }),
        );
        if (key.kmsKeyArn !== undefined) {
          grantee.grantPrincipal.addToPrincipalPolicy(
            new iam.PolicyStatement({
              actions: ["kms:Decrypt"],
              resources: [key.kmsKeyArn],
              conditions: { StringEquals: { "kms:ViaService": `ssm.${stack.region}.amazonaws.com` } },
            }),
          );
        }
      };
    }

    this.transformTimeout = Duration.minutes(3);
    const transform = auditFunction(this, "Transform", {
      entry: TRANSFORM_BUNDLE.entry,
      useRuntimeAwsSdk: TRANSFORM_BUNDLE.useRuntimeAwsSdk,
      description: "mesh-audit-trail: Firehose transform (parse, normalize to ECS, tag rule matches)",
      environment,
      timeout: this.transformTimeout,
      memorySize: 1024,
      semiSpaceMiB: TRANSFORM_BUNDLE.semiSpaceMiB,
      reservedConcurrentExecutions: props.transformConcurrency ?? DEFAULTS.concurrency.transform,
      ...functionSetup(props),
      noDeadLetterQueueReason:
        "Firehose invokes the transform synchronously; a failed batch is retried and then written to the staging bucket's processing-failed prefix, so no record is lost and no DLQ would ever receive one.",
      afterBundling: precompiledRulePackCommands(props.ruleOverrides ?? {}),
    });
    grantKeyRead?.(transform);
    this.sealReingestedDocuments(transform, props.encryptionKey);
    this.transformFunction = transform;

    this.errorLogGroup = new logs.LogGroup(this, "DeliveryLogs", {
      retention: props.logRetention,
      encryptionKey: props.logsKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const openSearchLogStream = this.errorLogGroup.addStream("OpenSearchDelivery", {
      logStreamName: "OpenSearchDelivery",
    });
    const backupLogStream = this.errorLogGroup.addStream("S3Backup", { logStreamName: "S3Backup" });

    this.firehoseRole = new iam.Role(this, "DeliveryRole", {
      // The stream names this role, so the trust names the account's streams rather than this one (a cycle).
      assumedBy: accountServicePrincipal(this, "firehose.amazonaws.com", {
        service: "firehose",
        resource: "deliverystream",
      }),
      description:
        "mesh-audit-trail Firehose: invoke the transform, index into OpenSearch, back up to staging",
    });
    const role = this.firehoseRole;
    // What the Amazon Data Firehose developer guide lists for an OpenSearch destination: describe the domain,
    // write documents (`_bulk`, which creates the daily index) and read the cluster and index state it checks.
    // No DELETE, PATCH or HEAD: Firehose never deletes or updates.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["es:DescribeDomain", "es:DescribeDomains", "es:DescribeDomainConfig"],
        resources: [props.domain.domainArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"],
        resources: [`${props.domain.domainArn}/*`],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          "s3:AbortMultipartUpload",
          "s3:GetBucketLocation",
          "s3:GetObject",
          "s3:ListBucket",
          "s3:ListBucketMultipartUploads",
          "s3:PutObject",
        ],
        resources: [props.stagingBucket.bucketArn, props.stagingBucket.arnForObjects("*")],
      }),
    );
    // Data keys for the staged objects, through S3 only.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["kms:GenerateDataKey", "kms:Decrypt"],
        resources: [props.encryptionKey.keyArn],
        conditions: { StringEquals: { "kms:ViaService": `s3.${stack.region}.amazonaws.com` } },
      }),
    );
    // The unqualified transform only: the processor names no version.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
        resources: [transform.functionArn],
      }),
    );
    // Its own streams of the delivery log group exist already: it only writes events.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["logs:PutLogEvents"],
        resources: [this.errorLogGroup.logGroupArn],
      }),
    );
    if (props.vpc !== undefined) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [
            "ec2:DescribeVpcs",
            "ec2:DescribeVpcAttribute",
            "ec2:DescribeSubnets",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeNetworkInterfaces",
            "ec2:CreateNetworkInterface",
            "ec2:CreateNetworkInterfacePermission",
            "ec2:DeleteNetworkInterface",
          ],
          resources: ["*"],
        }),
      );
    }
    const findings: Record<string, string> = {
      [`AwsSolutions-IAM5[Resource::${tokenFinding(props.domain, "Arn", "/*")}]`]:
        "Firehose writes (_bulk) into daily audit-YYYY-MM-DD indices whose names are only known at delivery time and reads the cluster and index state it checks; GET/POST/PUT only (no DELETE or PATCH), on this one domain.",
      [`AwsSolutions-IAM5[Resource::${tokenFinding(props.stagingBucket, "Arn", "/*")}]`]:
        "Firehose writes objects under time-based prefixes of the staging bucket only.",
    };
    if (props.vpc !== undefined) {
      const reason =
        "Firehose's VPC delivery needs the EC2 describe and network-interface actions (including CreateNetworkInterfacePermission), which do not support resource-level permissions.";
      findings["AwsSolutions-IAM5[Resource::*]"] = reason;
      skipCheckov(defaultPolicyOf(role), "CKV_AWS_111", reason);
      skipCheckov(defaultPolicyOf(role), "CKV_AWS_109", reason);
    }
    for (const [findingId, reason] of Object.entries(findings)) {
      Validations.of(role).acknowledge({ id: findingId, reason });
    }

    const vpcConfiguration =
      props.vpc === undefined
        ? undefined
        : {
            roleArn: role.roleArn,
            subnetIds: props.vpc.selectSubnets(props.vpcSubnets).subnetIds,
            securityGroupIds: (props.securityGroups ?? []).map((group) => group.securityGroupId),
          };

    this.deliveryStream = new firehose.CfnDeliveryStream(this, "DeliveryStream", {
      deliveryStreamType: "DirectPut",
      deliveryStreamEncryptionConfigurationInput: {
        keyType: "CUSTOMER_MANAGED_CMK",
        keyArn: props.encryptionKey.keyArn,
      },
      amazonopensearchserviceDestinationConfiguration: {
        domainArn: props.domain.domainArn,
        indexName: AUDIT_INDEX_PREFIX,
        indexRotationPeriod: "OneDay",
        roleArn: role.roleArn,
        bufferingHints: {
          intervalInSeconds: (
            props.bufferingInterval ?? Duration.seconds(DEFAULTS.firehose.bufferingIntervalSeconds)
          ).toSeconds(),
          sizeInMBs: props.bufferingSizeMiB ?? DEFAULTS.firehose.bufferingSizeMiB,
        },
        retryOptions: {
          durationInSeconds: (
            props.retryDuration ?? Duration.seconds(DEFAULTS.firehose.retryDurationSeconds)
          ).toSeconds(),
        },
        documentIdOptions: { defaultDocumentIdFormat: "FIREHOSE_DEFAULT" },
        s3BackupMode: "AllDocuments",
        s3Configuration: {
          bucketArn: props.stagingBucket.bucketArn,
          roleArn: role.roleArn,
          prefix: `${ARCHIVE_PREFIXES.documents}!{timestamp:yyyy/MM/dd/HH}/`,
          errorOutputPrefix: "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/",
          bufferingHints: { intervalInSeconds: 300, sizeInMBs: 64 },
          // One gzip stream per object, under both prefixes (documents/ and errors/): the archiver copies it byte for
          // byte, so the digest chain seals the compressed bytes, and the CLI's readers detect gzip by its magic
          // bytes (docs/digest-format.md, "The archived objects").
          compressionFormat: "GZIP",
          encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: props.encryptionKey.keyArn } },
          cloudWatchLoggingOptions: {
            enabled: true,
            logGroupName: this.errorLogGroup.logGroupName,
            logStreamName: backupLogStream.logStreamName,
          },
        },
        processingConfiguration: {
          enabled: true,
          processors: [
            {
              type: "Lambda",
              parameters: [
                { parameterName: "LambdaArn", parameterValue: transform.functionArn },
                { parameterName: "BufferSizeInMBs", parameterValue: "1" },
                { parameterName: "BufferIntervalInSeconds", parameterValue: "60" },
                { parameterName: "NumberOfRetries", parameterValue: "3" },
              ],
            },
          ],
        },
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: this.errorLogGroup.logGroupName,
          logStreamName: openSearchLogStream.logStreamName,
        },
        vpcConfiguration,
      },
    });
    // Firehose validates its role's permissions when the stream is created.
    this.deliveryStream.node.addDependency(defaultPolicyOf(role));
    this.deliveryStreamName = this.deliveryStream.ref;
    this.deliveryStreamArn = this.deliveryStream.attrArn;

    // The transform re-ingests the documents beyond the first of a record into this stream (PutRecordBatch).
    // A policy of its own: the stream names the function, so the function's default policy cannot name the
    // stream (the function waits for that policy), but this one is attached once both exist.
    new iam.Policy(this, "TransformReingestPolicy", {
      roles: [transform.role as iam.IRole],
      statements: [
        new iam.PolicyStatement({
          actions: ["firehose:PutRecordBatch"],
          resources: [this.deliveryStreamArn],
        }),
      ],
    });

    const sources = props.eksAuditLogs ?? [];
    if (sources.length > 0) {
      const logsRole = new iam.Role(this, "SubscriptionRole", {
        // Only the subscribed control-plane log groups of this account may deliver through it.
        assumedBy: new iam.ServicePrincipal("logs.amazonaws.com", {
          conditions: {
            StringEquals: { "aws:SourceAccount": stack.account },
            ArnLike: {
              "aws:SourceArn": sources.map((source) =>
                stack.formatArn({
                  service: "logs",
                  resource: "log-group",
                  resourceName: `${source.logGroupName}:*`,
                  arnFormat: ArnFormat.COLON_RESOURCE_NAME,
                }),
              ),
            },
          },
        }),
        description:
          "mesh-audit-trail: CloudWatch Logs subscription delivery of EKS audit logs into Firehose",
      });
      const grant = this.grantPutRecords(logsRole);
      for (const source of sources) {
        const filter = new logs.CfnSubscriptionFilter(this, `EksAudit${pascal(source.clusterName)}`, {
          logGroupName: source.logGroupName,
          destinationArn: this.deliveryStreamArn,
          roleArn: logsRole.roleArn,
          // Control-plane groups hold several log types; only API server audit events are `kind: Event`.
          filterPattern: '{ $.kind = "Event" }',
        });
        grant.applyBefore(filter);
      }
    }
  }

  /** Allows `grantee` to put records into the stream, nothing else. */
  public grantPutRecords(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ["firehose:PutRecord", "firehose:PutRecordBatch"],
      resourceArns: [this.deliveryStreamArn],
    });
  }

  /**
   * The key that seals the documents the transform re-ingests into its own stream (so that a producer, who can put
   * records into the same stream, cannot pass a forged document off as one): 64 random characters generated by
   * Secrets Manager at deploy, encrypted with the data key, readable by the transform's role alone, its ARN in
   * `TRANSFORM_ENV.reingestKeySecretArn` (the transform refuses to start without it).
   */
  private sealReingestedDocuments(transform: NodejsFunction, encryptionKey: kms.IKey): void {
    const secret = new secretsmanager.Secret(this, "ReingestKey", {
      description: "mesh-audit-trail: HMAC key the transform seals its re-ingested documents with",
      encryptionKey,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    secret.grantRead(transform);
    transform.addEnvironment(TRANSFORM_ENV.reingestKeySecretArn, secret.secretArn);
    const reason =
      "The key authenticates records between two passes of the same transform, minutes apart; it protects no data at rest and nothing outside the stack holds it. It is replaced by replacing the secret (a deploy), and automatic rotation would only fail the records in flight at that moment (kept in S3).";
    acknowledgeAll(
      secret,
      ["AwsSolutions-SMG4", ...compliancePackIds("SecretsManagerRotationEnabled")],
      reason,
    );
  }

  /** One of the transform's Powertools metrics (`TRANSFORM_METRICS`: namespace, `service` dimension, names). */
  public transformMetric(
    metricName: TransformMetricName | `${"Records" | "Failures"}.${string}`,
    props: cloudwatch.MetricOptions = {},
  ): cloudwatch.Metric {
    return powertoolsMetric(TRANSFORM_METRICS, metricName, props);
  }

  /** A metric of the stream (namespace `AWS/Firehose`). */
  public metric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: "AWS/Firehose",
      metricName,
      dimensionsMap: { DeliveryStreamName: this.deliveryStreamName },
      period: Duration.minutes(5),
      ...props,
    });
  }
}

function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part.length > 0)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join("");
}
