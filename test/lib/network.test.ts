import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { onlyResource, shippedStacks, synthesize, variant } from "./fixtures.js";

describe("network", () => {
  const shipped = shippedStacks("dev", "prod");

  it("creates no VPC for a public-endpoint environment", () => {
    shipped.dev.template.resourceCountIs("AWS::EC2::VPC", 0);
    shipped.dev.template.resourceCountIs("AWS::EC2::SecurityGroup", 0);
  });

  it("creates a VPC with private subnets, NAT per config, S3/DynamoDB gateway endpoints and flow logs", () => {
    shipped.prod.template.hasResourceProperties("AWS::EC2::VPC", { CidrBlock: "10.42.0.0/16" });
    shipped.prod.template.resourceCountIs("AWS::EC2::NatGateway", 2);
    shipped.prod.template.resourceCountIs("AWS::EC2::VPCEndpoint", 2);
    shipped.prod.template.hasResourceProperties("AWS::EC2::FlowLog", {
      TrafficType: "ALL",
      LogDestinationType: "cloud-watch-logs",
    });
    for (const subnet of Object.values(shipped.prod.template.findResources("AWS::EC2::Subnet"))) {
      expect(subnet).toMatchObject({ Properties: { MapPublicIpOnLaunch: false } });
    }
  });

  it("lets the clients out on HTTPS only and the domain in from the clients only", () => {
    shipped.prod.template.hasResourceProperties("AWS::EC2::SecurityGroup", {
      GroupDescription: Match.stringLikeRegexp("clients of the OpenSearch domain"),
      SecurityGroupEgress: [
        { CidrIp: "0.0.0.0/0", FromPort: 443, ToPort: 443, IpProtocol: "tcp", Description: Match.anyValue() },
      ],
    });
    shipped.prod.template.hasResourceProperties("AWS::EC2::SecurityGroup", {
      GroupDescription: Match.stringLikeRegexp("HTTPS from the stack clients only"),
      SecurityGroupIngress: Match.absent(),
    });
  });

  it("imports an existing VPC by attributes, without lookups", () => {
    // Prepare
    const input = variant("prod", {
      network: {
        type: "vpc",
        existingVpc: {
          vpcId: "vpc-0123456789abcdef0",
          availabilityZones: ["eu-west-1a", "eu-west-1b"],
          privateSubnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
        },
      },
    });

    // Act
    const { template } = synthesize("prod", input);

    // Assess
    template.resourceCountIs("AWS::EC2::VPC", 0);
    const domain = onlyResource(template, "AWS::OpenSearchService::Domain");
    expect(domain.Properties.VPCOptions).toMatchObject({
      SubnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
    });
    template.hasResourceProperties("AWS::EC2::SecurityGroup", { VpcId: "vpc-0123456789abcdef0" });
  });

  it("places every stack function in the private subnets in a VPC environment", () => {
    // Act
    const functions = Object.values(shipped.prod.template.findResources("AWS::Lambda::Function")) as {
      Properties: { VpcConfig?: { SubnetIds: unknown[] } };
    }[];

    // Assess
    expect(functions.length).toBeGreaterThanOrEqual(5);
    for (const fn of functions) {
      expect(fn.Properties.VpcConfig?.SubnetIds).toEqual([
        { Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet1/) },
        { Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet2/) },
      ]);
    }
  });
});
