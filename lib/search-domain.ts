import { Lazy, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as opensearch from "aws-cdk-lib/aws-opensearchservice";
import { Construct } from "constructs";
import { DEFAULTS } from "./config/defaults.js";
import { AuditTrailConfigError } from "./config/errors.js";
import { compliancePackIds } from "./private/nag.js";

export interface SearchDomainProps {
  /** Domain name, fixed so that the access policy can name the domain without referring to itself. */
  readonly domainName: string;
  /** OpenSearch engine version, `MAJOR.MINOR`. @default - `DEFAULTS.engineVersion` ("2.19"), the version the real-node integration tests run */
  readonly engineVersion?: string;
  readonly dataNodeInstanceType: string;
  readonly dataNodes: number;
  /** Dedicated master nodes. @default - none */
  readonly dedicatedMaster?: { readonly instanceType: string; readonly count: number };
  /** UltraWarm nodes. @default - none */
  readonly ultraWarm?: { readonly instanceType: string; readonly count: number };
  /** Cold storage (needs UltraWarm). @default - `DEFAULTS.coldStorage` (false) */
  readonly coldStorage?: boolean;
  readonly ebsVolumeSizeGiB: number;
  /** gp3 IOPS. @default - gp3 baseline (3000) */
  readonly ebsIops?: number;
  /** gp3 throughput (MiB/s). @default - gp3 baseline (125) */
  readonly ebsThroughputMiBps?: number;
  /** Spread over this many AZs. @default - a single AZ */
  readonly availabilityZoneCount?: 2 | 3;
  /** Key for encryption at rest. */
  readonly encryptionKey: kms.IKey;
  /** Key of the application, slow and audit log groups. */
  readonly logsKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Fine-grained access control master: an IAM role (no password anywhere). */
  readonly masterRole: iam.IRole;
  /** Place the domain in these private subnets. @default - a public endpoint (then `allowedCidrs` is required) */
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
  /** Source CIDRs allowed to the public endpoint for `allowedCidrPrincipals`. @default - none */
  readonly allowedCidrs?: readonly string[];
}

/**
 * The OpenSearch domain: newest engine aws-cdk-lib offers, CMK encryption at rest, node-to-node encryption, HTTPS
 * only with TLS 1.2+ (PFS suites), fine-grained access control with an IAM master role, gp3 storage, logs to
 * CloudWatch, and a resource policy naming only the roles registered with `allowAccess`.
 */
export class SearchDomain extends Construct {
  public readonly domain: opensearch.Domain;
  /** ARN pattern of everything in the domain (`…:domain/<name>/*`). */
  public readonly domainResourcesArn: string;
  private readonly iamPrincipals: iam.IRole[] = [];
  private readonly allowListedPrincipals: string[] = [];

  constructor(scope: Construct, id: string, props: SearchDomainProps) {
    super(scope, id);
    if (props.vpc === undefined && (props.allowedCidrs ?? []).length === 0) {
      throw new AuditTrailConfigError({
        configKey: "network.allowedCidrs",
        value: props.allowedCidrs ?? [],
        problem: "a public endpoint needs an IP allow list for human access",
        fix: 'list the analysts\' source CIDRs in network.allowedCidrs, or use network: { type: "vpc" }',
      });
    }
    const stack = Stack.of(this);
    const logGroup = (name: string) =>
      new logs.LogGroup(this, name, {
        retention: props.logRetention,
        encryptionKey: props.logsKey,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    const appLogGroup = logGroup("ApplicationLogs");
    const slowSearchLogGroup = logGroup("SlowSearchLogs");
    const slowIndexLogGroup = logGroup("SlowIndexLogs");
    const auditLogGroup = logGroup("AuditLogs");

    // The resource policy OpenSearch needs to publish into the groups, as a plain CloudFormation resource
    // (the L2's own version is a custom resource).
    const logsPolicy = new logs.CfnResourcePolicy(this, "LogsResourcePolicy", {
      policyName: `${props.domainName}-opensearch-logs`,
      policyDocument: stack.toJsonString({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "es.amazonaws.com" },
            Action: ["logs:PutLogEvents", "logs:CreateLogStream"],
            Resource: [appLogGroup, slowSearchLogGroup, slowIndexLogGroup, auditLogGroup].map(
              (group) => group.logGroupArn,
            ),
            Condition: { StringEquals: { "aws:SourceAccount": stack.account } },
          },
        ],
      }),
    });

    const zoneAware = props.availabilityZoneCount !== undefined;
    this.domain = new opensearch.Domain(this, "Domain", {
      domainName: props.domainName,
      version: opensearch.EngineVersion.openSearch(props.engineVersion ?? DEFAULTS.engineVersion),
      capacity: {
        dataNodes: props.dataNodes,
        dataNodeInstanceType: props.dataNodeInstanceType,
        masterNodes: props.dedicatedMaster?.count,
        masterNodeInstanceType: props.dedicatedMaster?.instanceType,
        warmNodes: props.ultraWarm?.count,
        warmInstanceType: props.ultraWarm?.instanceType,
        multiAzWithStandbyEnabled: false,
      },
      coldStorageEnabled: props.coldStorage ?? DEFAULTS.coldStorage,
      ebs: {
        enabled: true,
        volumeType: ec2.EbsDeviceVolumeType.GP3,
        volumeSize: props.ebsVolumeSizeGiB,
        iops: props.ebsIops,
        throughput: props.ebsThroughputMiBps,
      },
      zoneAwareness: zoneAware
        ? { enabled: true, availabilityZoneCount: props.availabilityZoneCount }
        : undefined,
      encryptionAtRest: { enabled: true, kmsKey: props.encryptionKey },
      nodeToNodeEncryption: true,
      enforceHttps: true,
      tlsSecurityPolicy: opensearch.TLSSecurityPolicy.TLS_1_2_PFS,
      fineGrainedAccessControl: { masterUserArn: props.masterRole.roleArn },
      logging: {
        appLogEnabled: true,
        appLogGroup,
        slowSearchLogEnabled: true,
        slowSearchLogGroup,
        slowIndexLogEnabled: true,
        slowIndexLogGroup,
        auditLogEnabled: true,
        auditLogGroup,
      },
      suppressLogsResourcePolicy: true,
      vpc: props.vpc,
      vpcSubnets:
        props.vpc === undefined
          ? undefined
          : [props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
      securityGroups: props.securityGroups,
      enableVersionUpgrade: true,
      offPeakWindowEnabled: true,
      enableAutoSoftwareUpdate: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const cfnDomain = this.domain.node.defaultChild as opensearch.CfnDomain;
    this.domain.node.addDependency(logsPolicy);

    this.domainResourcesArn = stack.formatArn({
      service: "es",
      resource: "domain",
      resourceName: `${props.domainName}/*`,
    });
    // Written as the domain's own AccessPolicies property (the L2 uses a custom resource for this); rendered
    // lazily so constructs created later can register their roles.
    cfnDomain.accessPolicies = Lazy.any({ produce: () => this.renderAccessPolicy(props.allowedCidrs ?? []) });

    if (props.vpc === undefined) {
      Validations.of(this.domain).acknowledge({
        id: "AwsSolutions-OS1",
        reason:
          "This environment chose the public endpoint (network.type = public): requests must be SigV4-signed by a role the access policy names, fine-grained access control maps each role, and human access is limited to the IP allow list.",
      });
      for (const rule of compliancePackIds("OpenSearchInVPCOnly")) {
        Validations.of(this.domain).acknowledge({
          id: rule,
          reason:
            "This environment chose the public endpoint (network.type = public): requests must be SigV4-signed by a role the access policy names, fine-grained access control maps each role, and human access is limited to the IP allow list. Use network.type = vpc for regulated data.",
        });
      }
    }
    Validations.of(this.domain).acknowledge({
      id: "AwsSolutions-OS3",
      reason:
        "Access is granted to named IAM roles (SigV4) rather than to source IPs: Firehose and Lambda call from AWS-owned addresses that cannot be allow-listed. The analyst role is additionally limited to the IP allow list on a public endpoint.",
    });
    if (props.dedicatedMaster === undefined) {
      Validations.of(this.domain).acknowledge({
        id: "AwsSolutions-OS4",
        reason:
          "This environment's config sizes a small domain without dedicated masters (search.dedicatedMaster unset); staging and prod use them.",
      });
    }
    if (!zoneAware) {
      Validations.of(this.domain).acknowledge({
        id: "AwsSolutions-OS7",
        reason:
          "This environment's config runs a single-AZ domain (search.zoneAwareness unset); staging and prod are zone-aware. The S3 archive keeps every document regardless.",
      });
    }
  }

  /** Names `role` in the domain's access policy (fine-grained access control then maps it to an OpenSearch role). */
  public allowAccess(role: iam.IRole): void {
    this.iamPrincipals.push(role);
  }

  /** Names an existing role (by ARN) that may reach the domain only from the IP allow list (public endpoint). */
  public allowAccessFromAllowList(roleArn: string): void {
    this.allowListedPrincipals.push(roleArn);
  }

  private renderAccessPolicy(allowedCidrs: readonly string[]): unknown {
    const statements: iam.PolicyStatement[] = [];
    if (this.iamPrincipals.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          sid: "StackRoles",
          principals: this.iamPrincipals.map((role) => new iam.ArnPrincipal(role.roleArn)),
          actions: ["es:ESHttp*"],
          resources: [this.domainResourcesArn],
        }),
      );
    }
    if (this.allowListedPrincipals.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          sid: "AnalystRoles",
          principals: this.allowListedPrincipals.map((arn) => new iam.ArnPrincipal(arn)),
          actions: ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost"],
          resources: [this.domainResourcesArn],
          conditions:
            allowedCidrs.length === 0 ? undefined : { IpAddress: { "aws:SourceIp": [...allowedCidrs] } },
        }),
      );
    }
    return new iam.PolicyDocument({ statements }).toJSON();
  }
}
