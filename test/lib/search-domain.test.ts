import { App, Stack } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import { describe, expect, it } from "vitest";
import { AuditTrailConfigError, ENVIRONMENTS } from "../../lib/config/index.js";
import { SearchDomain } from "../../lib/search-domain.js";
import { hasRoleStatements, onlyResource, shippedStacks, synthesize, thrownBy, variant } from "./fixtures.js";

describe("search domain", () => {
  const shipped = shippedStacks("dev", "staging", "prod");

  it("runs by default the OpenSearch version the real-node integration tests run", () => {
    for (const { template } of [shipped.dev, shipped.staging, shipped.prod]) {
      template.hasResourceProperties("AWS::OpenSearchService::Domain", { EngineVersion: "OpenSearch_2.19" });
    }
  });

  it("encrypts at rest with the CMK, node to node, and only speaks HTTPS with TLS 1.2+", () => {
    for (const { template } of [shipped.dev, shipped.staging, shipped.prod]) {
      template.hasResourceProperties("AWS::OpenSearchService::Domain", {
        EncryptionAtRestOptions: { Enabled: true, KmsKeyId: { Ref: Match.stringLikeRegexp("^KeysDataKey") } },
        NodeToNodeEncryptionOptions: { Enabled: true },
        DomainEndpointOptions: { EnforceHTTPS: true, TLSSecurityPolicy: "Policy-Min-TLS-1-2-PFS-2023-10" },
      });
    }
  });

  it("enables fine-grained access control with the IAM master role and no internal users or passwords", () => {
    // Act
    const domain = onlyResource(shipped.prod.template, "AWS::OpenSearchService::Domain");

    // Assess
    expect(domain.Properties.AdvancedSecurityOptions).toEqual({
      Enabled: true,
      InternalUserDatabaseEnabled: false,
      MasterUserOptions: {
        MasterUserARN: { "Fn::GetAtt": [expect.stringMatching(/^SearchMasterRole/), "Arn"] },
      },
    });
    expect(JSON.stringify(shipped.prod.template.toJSON())).not.toMatch(/MasterUserPassword/);
  });

  it("sizes prod from its config: dedicated masters, zone awareness, UltraWarm, cold storage, gp3", () => {
    shipped.prod.template.hasResourceProperties("AWS::OpenSearchService::Domain", {
      DomainName: "audit-trail-prod",
      ClusterConfig: {
        InstanceType: "r7g.large.search",
        InstanceCount: 4,
        DedicatedMasterEnabled: true,
        DedicatedMasterType: "m7g.large.search",
        DedicatedMasterCount: 3,
        WarmEnabled: true,
        WarmType: "ultrawarm1.medium.search",
        WarmCount: 2,
        ColdStorageOptions: { Enabled: true },
        ZoneAwarenessEnabled: true,
        ZoneAwarenessConfig: { AvailabilityZoneCount: 2 },
      },
      EBSOptions: { EBSEnabled: true, VolumeType: "gp3", VolumeSize: 512, Iops: 3000, Throughput: 250 },
    });
  });

  it("keeps dev small: one node, no masters, no UltraWarm, no cold storage, single AZ", () => {
    // Act
    const domain = onlyResource(shipped.dev.template, "AWS::OpenSearchService::Domain");

    // Assess
    expect(domain.Properties.ClusterConfig).toMatchObject({
      InstanceType: "t3.medium.search",
      InstanceCount: 1,
      DedicatedMasterEnabled: false,
      ColdStorageOptions: { Enabled: false },
      ZoneAwarenessEnabled: false,
    });
    expect(domain.Properties.ClusterConfig).not.toHaveProperty("WarmEnabled");
    expect(domain.Properties.EBSOptions).toMatchObject({ VolumeType: "gp3", VolumeSize: 20 });
  });

  it("publishes application, slow search, slow index and audit logs to encrypted groups with retention", () => {
    // Act
    const domain = onlyResource(shipped.prod.template, "AWS::OpenSearchService::Domain");

    // Assess
    expect(Object.keys(domain.Properties.LogPublishingOptions as object).sort()).toEqual([
      "AUDIT_LOGS",
      "ES_APPLICATION_LOGS",
      "INDEX_SLOW_LOGS",
      "SEARCH_SLOW_LOGS",
    ]);
    for (const prefix of [
      "SearchApplicationLogs",
      "SearchSlowSearchLogs",
      "SearchSlowIndexLogs",
      "SearchAuditLogs",
    ]) {
      const groups = shipped.prod.template.findResources("AWS::Logs::LogGroup");
      const group = Object.entries(groups).find(([logicalId]) => logicalId.startsWith(prefix));
      expect(group?.[1]).toMatchObject({
        Properties: {
          RetentionInDays: 400,
          KmsKeyId: { "Fn::GetAtt": [expect.stringMatching(/^KeysLogsKey/), "Arn"] },
        },
      });
    }
    shipped.prod.template.hasResourceProperties("AWS::Logs::ResourcePolicy", {
      PolicyName: "audit-trail-prod-opensearch-logs",
    });
  });

  it("limits the access policy to this stack's roles on this domain", () => {
    // Act
    const domain = onlyResource(shipped.prod.template, "AWS::OpenSearchService::Domain");

    // Assess
    const policy = domain.Properties.AccessPolicies as { Statement: Record<string, unknown>[] };
    expect(policy.Statement).toHaveLength(1);
    expect(policy.Statement[0]).toMatchObject({
      Effect: "Allow",
      Action: "es:ESHttp*",
      Principal: {
        AWS: [
          { "Fn::GetAtt": [expect.stringMatching(/^SearchMasterRole/), "Arn"] },
          { "Fn::GetAtt": [expect.stringMatching(/^IngestionDeliveryRole/), "Arn"] },
          { "Fn::GetAtt": [expect.stringMatching(/^DetectorRole/), "Arn"] },
          { "Fn::GetAtt": [expect.stringMatching(/^ReviewerRole/), "Arn"] },
        ],
      },
    });
    expect(JSON.stringify(policy.Statement[0]?.Resource)).toContain(":domain/audit-trail-prod/*");
    expect(JSON.stringify(policy)).not.toContain('"*"');
  });

  it("places a VPC domain in private subnets behind its own HTTPS-only security group", () => {
    // Act
    const domain = onlyResource(shipped.prod.template, "AWS::OpenSearchService::Domain");

    // Assess
    expect(domain.Properties.VPCOptions).toEqual({
      SecurityGroupIds: [{ "Fn::GetAtt": [expect.stringMatching(/^NetworkDomainSecurityGroup/), "GroupId"] }],
      SubnetIds: [
        { Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet1/) },
        { Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet2/) },
      ],
    });
    shipped.prod.template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", {
      IpProtocol: "tcp",
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: {
        "Fn::GetAtt": [Match.stringLikeRegexp("^NetworkClientSecurityGroup"), "GroupId"],
      },
    });
  });

  it("gives a public domain no VPC options, and the analyst role the IP allow list", () => {
    // Prepare
    const input = variant("dev", { analystRoleArn: "arn:aws:iam::123456789012:role/security-analyst" });

    // Act
    const { template } = synthesize("dev", input);

    // Assess
    const domain = onlyResource(template, "AWS::OpenSearchService::Domain");
    expect(domain.Properties.VPCOptions).toBeUndefined();
    const statements = (domain.Properties.AccessPolicies as { Statement: Record<string, unknown>[] })
      .Statement;
    expect(statements[1]).toEqual({
      Sid: "AnalystRoles",
      Effect: "Allow",
      Principal: { AWS: "arn:aws:iam::123456789012:role/security-analyst" },
      Action: ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost"],
      Resource: expect.anything(),
      Condition: { IpAddress: { "aws:SourceIp": ENVIRONMENTS.dev.network.allowedCidrs } },
    });
  });

  it("takes the engine version from config when set", () => {
    // Prepare
    const input = variant("dev", { search: { ...ENVIRONMENTS.dev.search, engineVersion: "3.7" } });

    // Act
    const { template } = synthesize("dev", input);

    // Assess
    template.hasResourceProperties("AWS::OpenSearchService::Domain", { EngineVersion: "OpenSearch_3.7" });
  });

  it("rejects an engine version that is not MAJOR.MINOR, naming the key", () => {
    // Prepare
    const input = variant("dev", { search: { ...ENVIRONMENTS.dev.search, engineVersion: "latest" } });

    // Act and assess
    expect(() => synthesize("dev", input)).toThrow(/search\.engineVersion.*MAJOR\.MINOR/);
  });

  it("takes the domain name from config when set", () => {
    // Prepare
    const input = variant("dev", { search: { ...ENVIRONMENTS.dev.search, domainName: "team-audit" } });

    // Act
    const { template } = synthesize("dev", input);

    // Assess
    template.hasResourceProperties("AWS::OpenSearchService::Domain", { DomainName: "team-audit" });
  });

  it("retains the domain and its log groups on stack delete", () => {
    shipped.prod.template.hasResource("AWS::OpenSearchService::Domain", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
    for (const group of Object.values(shipped.prod.template.findResources("AWS::Logs::LogGroup"))) {
      expect(group).toMatchObject({ DeletionPolicy: "Retain" });
    }
  });
});

describe("search bootstrap", () => {
  const shipped = shippedStacks("dev", "prod");

  it("passes the lifecycle, features and role ARNs from config to the custom resource", () => {
    shipped.prod.template.hasResourceProperties("Custom::AuditTrailSearchBootstrap", {
      DomainEndpoint: { "Fn::GetAtt": [Match.stringLikeRegexp("^SearchDomain"), "DomainEndpoint"] },
      DomainName: { Ref: Match.stringLikeRegexp("^SearchDomain") },
      HotDays: 30,
      WarmDays: 60,
      ColdDays: 275,
      DeleteAfterDays: 365,
      UltraWarmEnabled: true,
      ColdStorageEnabled: true,
      IndexEventOriginal: false,
      IndexCodec: "best_compression",
      SourceExcludes: [],
      FirehoseRoleArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^IngestionDeliveryRole"), "Arn"] },
      DetectorRoleArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^DetectorRole"), "Arn"] },
      AnalystRoleArn: "",
      ReplicaCount: 1,
      ShardCount: 2,
      AuditReadHistory: true,
    });
    shipped.dev.template.hasResourceProperties("Custom::AuditTrailSearchBootstrap", {
      HotDays: 7,
      WarmDays: 7,
      ColdDays: 0,
      DeleteAfterDays: 14,
      UltraWarmEnabled: false,
      ColdStorageEnabled: false,
      IndexEventOriginal: true,
      ReplicaCount: 0,
      ShardCount: 1,
    });
  });

  it("runs the handler behind cr.Provider as the fine-grained-access master role", () => {
    // Act
    const functions = shipped.prod.template.findResources("AWS::Lambda::Function", {
      Properties: { Description: Match.stringLikeRegexp("OpenSearch bootstrap") },
    });

    // Assess
    const [bootstrap] = Object.values(functions) as { Properties: Record<string, unknown> }[];
    expect(bootstrap?.Properties.Role).toEqual({
      "Fn::GetAtt": [expect.stringMatching(/^SearchMasterRole/), "Arn"],
    });
    expect(bootstrap?.Properties.ReservedConcurrentExecutions).toBe(1);
    shipped.prod.template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: { USER_ON_EVENT_FUNCTION_ARN: { "Fn::GetAtt": [Match.anyValue(), "Arn"] } } },
    });
  });

  it("allows the bootstrap role the data-plane methods it sends (no PATCH) and DescribeDomain", () => {
    hasRoleStatements(shipped.prod.template, "SearchMasterRole", [
      {
        Effect: "Allow",
        Action: ["es:ESHttpDelete", "es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut"],
        Resource: {
          "Fn::Join": ["", [{ "Fn::GetAtt": [Match.stringLikeRegexp("^SearchDomain"), "Arn"] }, "/*"]],
        },
      },
      {
        Effect: "Allow",
        Action: "es:DescribeDomain",
        Resource: { "Fn::GetAtt": [Match.stringLikeRegexp("^SearchDomain"), "Arn"] },
      },
    ]);
  });

  it("gives the provider framework a role of its own: its logs, its environment key and the bootstrap invocation", () => {
    // Act
    const roles = shipped.prod.template.findResources("AWS::IAM::Role", {
      Properties: { Description: Match.stringLikeRegexp("provider framework of the OpenSearch bootstrap") },
    });
    const [roleId, role] = Object.entries(roles)[0] ?? [];
    const policy = Object.values(
      shipped.prod.template.findResources("AWS::IAM::Policy", { Properties: { Roles: [{ Ref: roleId }] } }),
    )[0] as { Properties: { PolicyDocument: { Statement: { Action: string | string[] }[] } } };

    // Assess: no AWS managed policy (CreateLogGroup on *), kms:Decrypt for its encrypted environment
    expect(JSON.stringify(role)).not.toContain("ManagedPolicyArns");
    expect(
      policy.Properties.PolicyDocument.Statement.flatMap((statement) => [statement.Action].flat()).sort(),
    ).toEqual([
      "ec2:AssignPrivateIpAddresses",
      "ec2:CreateNetworkInterface",
      "ec2:DeleteNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
      "ec2:UnassignPrivateIpAddresses",
      "kms:Decrypt",
      "lambda:GetFunction",
      "lambda:InvokeFunction",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]);
  });

  it("keeps the resource (and so the indices) when the stack is deleted", () => {
    shipped.prod.template.hasResource("Custom::AuditTrailSearchBootstrap", { DeletionPolicy: "Retain" });
  });

  it("maps an analyst role when one is configured", () => {
    // Prepare
    const input = variant("dev", { analystRoleArn: "arn:aws:iam::123456789012:role/security-analyst" });

    // Act
    const { template } = synthesize("dev", input);

    // Assess
    template.hasResourceProperties("Custom::AuditTrailSearchBootstrap", {
      AnalystRoleArn: "arn:aws:iam::123456789012:role/security-analyst",
    });
  });
});

describe("search domain validation", () => {
  it("refuses a public endpoint without an IP allow list", () => {
    // Prepare
    const stack = new Stack(new App(), "Probe");
    const key = new kms.Key(stack, "Key");
    const role = new iam.Role(stack, "Master", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
    });

    // Act
    const act = () =>
      new SearchDomain(stack, "Search", {
        domainName: "probe",
        dataNodeInstanceType: "t3.medium.search",
        dataNodes: 1,
        ebsVolumeSizeGiB: 10,
        encryptionKey: key,
        logsKey: key,
        logRetention: logs.RetentionDays.ONE_MONTH,
        masterRole: role,
        allowedCidrs: [],
      });

    // Assess
    const thrown = thrownBy(act);
    expect(thrown).toBeInstanceOf(AuditTrailConfigError);
    expect((thrown as Error).message).toMatch(
      /network\.allowedCidrs is \[\]; a public endpoint needs an IP allow list/,
    );
  });
});
