import { RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { DEFAULTS } from "./config/defaults.js";
import { acknowledgeAll, compliancePackIds } from "./private/nag.js";
import { accountServicePrincipal } from "./private/resources.js";

/**
 * Where a construct's functions run: every construct that creates a Lambda function takes these props (the stack
 * passes the network's private subnets and client security group), and passes them on with `placementOf`.
 */
export interface FunctionPlacement {
  /** Run inside these private subnets. @default - not in a VPC */
  readonly vpc?: ec2.IVpc;
  /** @default - private subnets with egress (when `vpc` is set) */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default - none */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/** Just the placement of `props` (to pass on to a function without the rest of the props). */
export function placementOf(props: FunctionPlacement): FunctionPlacement {
  return { vpc: props.vpc, vpcSubnets: props.vpcSubnets, securityGroups: props.securityGroups };
}

export interface AuditNetworkProps {
  /** CIDR of the VPC to create. @default - `DEFAULTS.network.cidr` ("10.40.0.0/16") */
  readonly cidr?: string;
  /** AZs of the VPC to create. @default - `DEFAULTS.network.maxAzs` (2) */
  readonly maxAzs?: number;
  /** AZ names of the VPC to create (no lookup); overrides maxAzs. @default - maxAzs of the stack's AZs */
  readonly availabilityZones?: readonly string[];
  /** NAT gateways of the VPC to create (egress for Lambda calls to AWS APIs). @default - `DEFAULTS.network.natGateways` (1) */
  readonly natGateways?: number;
  /** Import this VPC (by attributes: no lookup) instead of creating one. @default - a new VPC */
  readonly existingVpc?: {
    readonly vpcId: string;
    readonly availabilityZones: readonly string[];
    readonly privateSubnetIds: readonly string[];
  };
  /** Key of the flow-log group. */
  readonly logsKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The private network of a VPC environment: the domain, the functions and Firehose's ENIs sit in private subnets;
 * NAT gives the functions a way to AWS APIs that have no gateway endpoint. A created VPC logs all flows to a
 * KMS-encrypted log group and its public subnets never hand out public IPs.
 */
export class AuditNetwork extends Construct {
  public readonly vpc: ec2.IVpc;
  /** Private subnets, one per AZ. */
  public readonly privateSubnets: ec2.SubnetSelection;
  /** Security group of the stack's functions and of Firehose's ENIs (clients of the domain). */
  public readonly clientSecurityGroup: ec2.SecurityGroup;
  /** Security group of the OpenSearch domain: HTTPS from the clients only. */
  public readonly domainSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: AuditNetworkProps) {
    super(scope, id);
    if (props.existingVpc !== undefined) {
      this.vpc = ec2.Vpc.fromVpcAttributes(this, "Vpc", {
        vpcId: props.existingVpc.vpcId,
        availabilityZones: [...props.existingVpc.availabilityZones],
        privateSubnetIds: [...props.existingVpc.privateSubnetIds],
      });
    } else {
      const vpc = new ec2.Vpc(this, "Vpc", {
        ipAddresses: ec2.IpAddresses.cidr(props.cidr ?? DEFAULTS.network.cidr),
        ...(props.availabilityZones === undefined
          ? { maxAzs: props.maxAzs ?? DEFAULTS.network.maxAzs }
          : { availabilityZones: [...props.availabilityZones] }),
        natGateways: props.natGateways ?? DEFAULTS.network.natGateways,
        restrictDefaultSecurityGroup: false,
        subnetConfiguration: [
          { name: "Public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
          { name: "Private", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        ],
        gatewayEndpoints: {
          S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
          DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        },
      });
      const flowLogs = new logs.LogGroup(this, "FlowLogs", {
        retention: props.logRetention,
        encryptionKey: props.logsKey,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // The flow-log service may assume the role only for flow logs of this account (confused-deputy guard).
      const flowLogRole = new iam.Role(this, "FlowLogRole", {
        assumedBy: accountServicePrincipal(this, "vpc-flow-logs.amazonaws.com", {
          service: "ec2",
          resource: "vpc-flow-log",
        }),
        description: "mesh-audit-trail: VPC flow logs into the flow-log group",
      });
      vpc.addFlowLog("FlowLog", {
        destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs, flowLogRole),
        trafficType: ec2.FlowLogTrafficType.ALL,
      });
      // The default security group is never used: every resource here gets its own group with explicit rules.
      // Closing it with aws-cdk-lib's custom resource would add an unmanaged Lambda; the rule is acknowledged instead.
      acknowledgeAll(
        vpc,
        compliancePackIds("VPCDefaultSecurityGroupClosed"),
        "No resource of this stack uses the VPC's default security group; every ENI gets a dedicated group with explicit HTTPS-only rules.",
      );
      acknowledgeAll(
        vpc,
        compliancePackIds("VPCNoUnrestrictedRouteToIGW"),
        "The only route to the internet gateway is in the public subnets that host the NAT gateways (which have no public IP auto-assignment); the domain, functions and Firehose ENIs are in private subnets.",
      );
      this.vpc = vpc;
    }
    this.privateSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, onePerAz: true };

    this.clientSecurityGroup = new ec2.SecurityGroup(this, "ClientSecurityGroup", {
      vpc: this.vpc,
      description: "mesh-audit-trail functions and Firehose: clients of the OpenSearch domain",
      allowAllOutbound: false,
    });
    this.clientSecurityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      "HTTPS to AWS APIs and the domain",
    );
    this.domainSecurityGroup = new ec2.SecurityGroup(this, "DomainSecurityGroup", {
      vpc: this.vpc,
      description: "mesh-audit-trail OpenSearch domain: HTTPS from the stack clients only",
      allowAllOutbound: false,
    });
    this.domainSecurityGroup.addIngressRule(
      this.clientSecurityGroup,
      ec2.Port.tcp(443),
      "HTTPS from clients",
    );
  }
}
