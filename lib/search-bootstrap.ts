import { CustomResource, Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as opensearch from "aws-cdk-lib/aws-opensearchservice";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";
import type { BootstrapProperties } from "../lambdas/core/contracts.js";
import type { IndexCodec, SourceExcludableField } from "../lambdas/core/opensearch/audit-template.js";
import { DEFAULTS } from "./config/defaults.js";
import { type FunctionPlacement, placementOf } from "./network.js";
import { auditFunction, grantVpcNetworkInterfaces } from "./private/function.js";
import {
  acknowledgeAll,
  acknowledgeLambdaRuntime,
  compliancePackIds,
  skipCheckov,
  tokenFinding,
} from "./private/nag.js";

export interface SearchBootstrapProps extends FunctionPlacement {
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
  /** Stored-fields codec of the audit indices. @default DEFAULTS.indexCodec ("best_compression", as `search.indexCodec`) */
  readonly indexCodec?: IndexCodec;
  /** Fields left out of the audit indices' `_source`. @default [] - none */
  readonly sourceExcludes?: readonly SourceExcludableField[];
  readonly shardCount: number;
  readonly replicaCount: number;
  /** Roles mapped to OpenSearch roles: Firehose writes, the detector reads and writes alerts. */
  readonly firehoseRole: iam.IRole;
  readonly detectorRole: iam.IRole;
  /** Existing role mapped read-only for analysts. @default - none */
  readonly analystRoleArn?: string;
  /** The scheduled review function's role, mapped read-only. @default - none */
  readonly reviewerRole?: iam.IRole;
  readonly logsKey: kms.IKey;
  /** The environment's data key: encrypts the functions' environment variables. */
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
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
      encryptionKey: props.encryptionKey,
      noDeadLetterQueueReason:
        "The custom-resource provider invokes the bootstrap synchronously and reports its failure to CloudFormation, which rolls the deployment back; a DLQ would never receive anything.",
      logsKey: props.logsKey,
      logRetention: props.logRetention,
      timeout: Duration.minutes(14),
      memorySize: 256,
      reservedConcurrentExecutions: 1,
      ...placementOf(props),
    });
    // The data-plane requests the bootstrap sends (templates, ISM, security plugin API, Dashboards import), under
    // the domain's paths; no PATCH. The control plane: DescribeDomain, to wait until the domain is ready.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["es:ESHttpDelete", "es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut"],
        resources: [`${props.domain.domainArn}/*`],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["es:DescribeDomain"], resources: [props.domain.domainArn] }),
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
    // The framework function's own role, holding what it uses: its log group, its encrypted environment and (in a
    // VPC) its network interfaces. cr.Provider adds the invocation of the handler.
    const providerRole = new iam.Role(this, "ProviderRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "mesh-audit-trail: custom-resource provider framework of the OpenSearch bootstrap",
    });
    providerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [providerLogs.logGroupArn],
      }),
    );
    providerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ["kms:Decrypt"], resources: [props.encryptionKey.keyArn] }),
    );
    if (props.vpc !== undefined) grantVpcNetworkInterfaces(providerRole);
    const provider = new cr.Provider(this, "Provider", {
      onEventHandler: fn,
      frameworkOnEventRole: providerRole,
      logGroup: providerLogs,
      ...placementOf(props),
      providerFunctionEnvEncryption: props.encryptionKey,
    });
    acknowledgeProviderFramework(provider, providerRole, fn, props.vpc !== undefined);
    if (props.vpc !== undefined) {
      const reason =
        "The provider framework function runs in the VPC: EC2 network-interface actions do not support resource-level permissions.";
      Validations.of(providerRole).acknowledge({ id: "AwsSolutions-IAM5[Resource::*]", reason });
      skipCheckov(providerRole.node.findChild("DefaultPolicy"), "CKV_AWS_111", reason);
    }

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
      IndexCodec: props.indexCodec ?? DEFAULTS.indexCodec,
      SourceExcludes: [...(props.sourceExcludes ?? [])],
      FirehoseRoleArn: props.firehoseRole.roleArn,
      DetectorRoleArn: props.detectorRole.roleArn,
      AnalystRoleArn: props.analystRoleArn ?? "",
      ...(props.reviewerRole === undefined ? {} : { ReviewerRoleArn: props.reviewerRole.roleArn }),
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

function acknowledgeProviderFramework(
  provider: cr.Provider,
  role: iam.IRole,
  fn: lambda.IFunction,
  inVpc: boolean,
): void {
  const framework = provider.node.findChild("framework-onEvent");
  Validations.of(role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${tokenFinding(fn, "Arn", ":*")}]`,
    reason:
      "cr.Provider grants its framework function lambda:InvokeFunction on the bootstrap handler and its versions; the wildcard is the version qualifier of that one function.",
  });
  const concurrency =
    "The provider framework function only relays CloudFormation custom-resource events for this stack (a handful per deployment); aws-cdk-lib exposes no reserved-concurrency setting for it.";
  const dlq =
    "CloudFormation invokes the provider framework synchronously and receives failures as FAILED responses; a DLQ would never receive anything.";
  const outsideVpc =
    "This environment has no VPC (public OpenSearch endpoint); the framework function only calls Lambda and CloudFormation's response URL over TLS.";
  acknowledgeAll(framework, compliancePackIds("LambdaConcurrency"), concurrency);
  acknowledgeAll(framework, compliancePackIds("LambdaDLQ"), dlq);
  if (!inVpc) acknowledgeAll(framework, compliancePackIds("LambdaInsideVPC"), outsideVpc);
  skipCheckov(framework, "CKV_AWS_115", concurrency);
  skipCheckov(framework, "CKV_AWS_116", dlq);
  if (!inVpc) skipCheckov(framework, "CKV_AWS_117", outsideVpc);
  acknowledgeLambdaRuntime(framework);
}
