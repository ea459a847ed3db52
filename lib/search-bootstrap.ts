import { CustomResource, Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as opensearch from "aws-cdk-lib/aws-opensearchservice";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";
import type { BootstrapProperties } from "../lambdas/core/contracts.js";
import { auditFunction } from "./private/function.js";
import { acknowledgeLambdaRuntime, skipCheckov, tokenFinding } from "./private/nag.js";

export interface SearchBootstrapProps {
  readonly domain: opensearch.IDomain;
  /**
   * Role the bootstrap function runs as; it must be the domain's fine-grained-access master role (it creates the
   * role mappings).
   */
  readonly masterRole: iam.Role;
  /** Days in each ISM state; indices are deleted at hot + warm + cold. */
  readonly hotDays: number;
  readonly warmDays: number;
  readonly coldDays: number;
  readonly ultraWarmEnabled: boolean;
  readonly coldStorageEnabled: boolean;
  readonly indexEventOriginal: boolean;
  readonly shardCount: number;
  readonly replicaCount: number;
  /** Roles mapped to OpenSearch roles: Firehose writes, the detector reads and writes alerts. */
  readonly firehoseRole: iam.IRole;
  readonly detectorRole: iam.IRole;
  /** Existing role mapped read-only for analysts. @default - none */
  readonly analystRoleArn?: string;
  readonly logsKey: kms.IKey;
  /** Encrypts the functions' environment variables. */
  readonly environmentKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** @default - not in a VPC */
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/**
 * Configures the domain's data plane once it exists and on every update: the audit index template, the ISM policy
 * (hot → warm → cold → delete with the configured ages), the alerts index template and the fine-grained-access
 * role mappings. The handler (`lambdas/bootstrap/handler.ts`) is idempotent and deletes nothing on stack delete.
 */
export class SearchBootstrap extends Construct {
  public readonly function: lambda.IFunction;
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: SearchBootstrapProps) {
    super(scope, id);

    const fn = auditFunction(this, "Function", {
      entry: "lambdas/bootstrap/handler.ts",
      description:
        "mesh-audit-trail: OpenSearch bootstrap (index templates, ISM policy, role mappings, audit read history, Dashboards objects)",
      environment: {},
      role: props.masterRole,
      environmentKey: props.environmentKey,
      noDeadLetterQueueReason:
        "The custom-resource provider invokes the bootstrap synchronously and reports its failure to CloudFormation, which rolls the deployment back; a DLQ would never receive anything.",
      logsKey: props.logsKey,
      logRetention: props.logRetention,
      timeout: Duration.minutes(14),
      memorySize: 256,
      reservedConcurrentExecutions: 1,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
    });
    props.domain.grantReadWrite(fn);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["es:DescribeDomain", "es:DescribeDomains", "es:DescribeDomainConfig"],
        resources: [props.domain.domainArn],
      }),
    );
    Validations.of(props.masterRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${tokenFinding(props.domain, "Arn", "/*")}]`,
      reason:
        "The bootstrap creates index templates, ISM policies and role mappings under any path of this one domain.",
    });
    this.function = fn;

    const providerLogs = new logs.LogGroup(this, "ProviderLogs", {
      retention: props.logRetention,
      encryptionKey: props.logsKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const provider = new cr.Provider(this, "Provider", {
      onEventHandler: fn,
      logGroup: providerLogs,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      providerFunctionEnvEncryption: props.environmentKey,
    });
    acknowledgeProviderFramework(provider, fn, props.vpc !== undefined);

    const properties = {
      DomainEndpoint: props.domain.domainEndpoint,
      DomainName: props.domain.domainName,
      HotDays: props.hotDays,
      WarmDays: props.warmDays,
      ColdDays: props.coldDays,
      DeleteAfterDays: props.hotDays + props.warmDays + props.coldDays,
      UltraWarmEnabled: props.ultraWarmEnabled,
      ColdStorageEnabled: props.coldStorageEnabled,
      IndexEventOriginal: props.indexEventOriginal,
      FirehoseRoleArn: props.firehoseRole.roleArn,
      DetectorRoleArn: props.detectorRole.roleArn,
      AnalystRoleArn: props.analystRoleArn ?? "",
      ReplicaCount: props.replicaCount,
      ShardCount: props.shardCount,
      AuditReadHistory: true,
    } satisfies BootstrapProperties;

    this.resource = new CustomResource(this, "Resource", {
      serviceToken: provider.serviceToken,
      resourceType: "Custom::AuditTrailSearchBootstrap",
      properties,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}

function acknowledgeProviderFramework(provider: cr.Provider, fn: lambda.IFunction, inVpc: boolean): void {
  const framework = provider.node.findChild("framework-onEvent");
  const reasons: Record<string, string> = {
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]":
      "The custom-resource provider framework function is created by aws-cdk-lib's cr.Provider, which attaches the AWS managed basic execution policy to its role.",
    [`AwsSolutions-IAM5[Resource::${tokenFinding(fn, "Arn", ":*")}]`]:
      "cr.Provider grants its framework function lambda:InvokeFunction on the bootstrap handler and its versions; the wildcard is the version qualifier of that one function.",
    "HIPAA.Security-LambdaConcurrency":
      "The provider framework function only relays CloudFormation custom-resource events for this stack (a handful per deployment); aws-cdk-lib exposes no reserved-concurrency setting for it.",
    "PCI.DSS.321-LambdaConcurrency":
      "The provider framework function only relays CloudFormation custom-resource events for this stack (a handful per deployment); aws-cdk-lib exposes no reserved-concurrency setting for it.",
    "NIST.800.53.R5-LambdaConcurrency":
      "The provider framework function only relays CloudFormation custom-resource events for this stack (a handful per deployment); aws-cdk-lib exposes no reserved-concurrency setting for it.",
    "HIPAA.Security-LambdaDLQ":
      "CloudFormation invokes the provider framework synchronously and receives failures as FAILED responses; a DLQ would never receive anything.",
    "PCI.DSS.321-LambdaDLQ":
      "CloudFormation invokes the provider framework synchronously and receives failures as FAILED responses; a DLQ would never receive anything.",
    "NIST.800.53.R5-LambdaDLQ":
      "CloudFormation invokes the provider framework synchronously and receives failures as FAILED responses; a DLQ would never receive anything.",
  };
  if (inVpc) {
    reasons[
      "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]"
    ] =
      "cr.Provider attaches the AWS managed VPC execution policy to its framework function's role when the provider runs in the VPC.";
  } else {
    for (const rule of [
      "HIPAA.Security-LambdaInsideVPC",
      "PCI.DSS.321-LambdaInsideVPC",
      "NIST.800.53.R5-LambdaInsideVPC",
    ]) {
      reasons[rule] =
        "This environment has no VPC (public OpenSearch endpoint); the framework function only calls Lambda and CloudFormation's response URL over TLS.";
    }
  }
  for (const [id, reason] of Object.entries(reasons)) {
    Validations.of(framework).acknowledge({ id, reason });
  }
  const checkov: Record<string, string> = {
    CKV_AWS_115: reasons["NIST.800.53.R5-LambdaConcurrency"] ?? "",
    CKV_AWS_116: reasons["NIST.800.53.R5-LambdaDLQ"] ?? "",
  };
  if (!inVpc) checkov.CKV_AWS_117 = reasons["NIST.800.53.R5-LambdaInsideVPC"] ?? "";
  for (const [id, comment] of Object.entries(checkov)) skipCheckov(framework, id, comment);
  acknowledgeLambdaRuntime(framework);
}
