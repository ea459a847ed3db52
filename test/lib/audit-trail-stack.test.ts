import { Annotations, Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { STACK_OUTPUTS } from "../../lambdas/core/contracts.js";
import { ENVIRONMENTS } from "../../lib/config/index.js";
import { type Synthesized, shippedStacks, synthesize, variant } from "./fixtures.js";

describe("audit trail stack", () => {
  const shipped = shippedStacks("prod");

  it("writes every output the command line reads, under the name the contract gives it", () => {
    const outputs = shipped.prod.template.toJSON().Outputs as Record<string, unknown>;
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(Object.values(STACK_OUTPUTS)));
  });

  it("outputs what Fluent Bit and operators need", () => {
    // Act
    const outputs = shipped.prod.template.toJSON().Outputs as Record<string, { Value: unknown }>;

    // Assess
    expect(Object.keys(outputs).sort()).toEqual(
      [
        "DeliveryStreamName",
        "Region",
        "ProducerRoleArn",
        "DomainEndpoint",
        "DashboardsUrl",
        "CriticalAlertsTopicArn",
        "HighAlertsTopicArn",
        "MediumAlertsTopicArn",
        "LowAlertsTopicArn",
        "OpsTopicArn",
        "DetectorFunctionName",
        "DetectorStateTableName",
        "ArchiveBucketName",
        "StagingBucketName",
        "DigestSigningKeyArn",
      ].sort(),
    );
    expect(outputs.DeliveryStreamName?.Value).toEqual({
      Ref: expect.stringMatching(/^IngestionDeliveryStream/),
    });
    expect(outputs.Region?.Value).toEqual({ Ref: "AWS::Region" });
    expect(outputs.ProducerRoleArn?.Value).toEqual({
      "Fn::GetAtt": [expect.stringMatching(/^ProducerRole/), "Arn"],
    });
    expect(outputs.DashboardsUrl?.Value).toEqual({
      "Fn::Join": [
        "",
        [
          "https://",
          { "Fn::GetAtt": [expect.stringMatching(/^SearchDomain/), "DomainEndpoint"] },
          "/_dashboards/",
        ],
      ],
    });
    expect(outputs.OpsTopicArn?.Value).toEqual({ Ref: expect.stringMatching(/^AlertingOpsAlarms/) });
  });

  it("is environment-agnostic by default (no account or region baked in)", () => {
    // Act
    const json = JSON.stringify(shipped.prod.template.toJSON());

    // Assess
    expect(json).not.toMatch(/\b\d{12}\b/);
    expect(shipped.prod.stack.region).toMatch(/^\$\{Token/);
  });

  it("targets the configured account and region without lookups", () => {
    // Prepare
    const input = variant("prod", {
      account: "123456789012",
      region: "eu-west-1",
      network: {
        ...ENVIRONMENTS.prod.network,
        availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
      },
      search: { ...ENVIRONMENTS.prod.search, instanceCount: 3, zoneAwareness: { availabilityZoneCount: 3 } },
    });

    // Act
    const { app, stack, template } = synthesize("prod", input);

    // Assess
    expect(stack.account).toBe("123456789012");
    expect(stack.region).toBe("eu-west-1");
    template.hasOutput("Region", { Value: "eu-west-1" });
    expect(app.synth().manifest.missing ?? []).toEqual([]);
    template.hasResourceProperties("AWS::OpenSearchService::Domain", {
      ClusterConfig: Match.objectLike({
        ZoneAwarenessConfig: { AvailabilityZoneCount: 3 },
        InstanceCount: 3,
      }),
    });
    for (const zone of ["eu-west-1a", "eu-west-1b", "eu-west-1c"]) {
      template.hasResourceProperties("AWS::EC2::Subnet", { AvailabilityZone: zone });
    }
  });

  it("reserves the configured concurrency for the transform and the archiver, 1 for every other function", () => {
    // Prepare
    const reserved = (template: Synthesized["template"]) =>
      Object.values(template.findResources("AWS::Lambda::Function"))
        .map((fn) => (fn as { Properties: { ReservedConcurrentExecutions?: number } }).Properties)
        .map((properties) => properties.ReservedConcurrentExecutions)
        .sort((a, b) => (a ?? 0) - (b ?? 0));

    // Act
    const small = synthesize("dev", variant("dev", { concurrency: { transform: 3, archiver: 2 } }));

    // Assess
    expect(reserved(shipped.prod.template).filter((units) => units !== undefined && units > 1)).toEqual([
      5, 20,
    ]);
    expect(reserved(small.template).filter((units) => units !== undefined && units > 1)).toEqual([2, 3]);
  });

  it("tags every resource with the application, environment and configured tags", () => {
    // Prepare
    const input = variant("dev", { tags: { "cost-center": "security" } });

    // Act
    const { template } = synthesize("dev", input);

    // Assess
    template.hasResourceProperties("AWS::S3::Bucket", {
      Tags: Match.arrayWith([
        { Key: "application", Value: "mesh-audit-trail" },
        { Key: "cost-center", Value: "security" },
        { Key: "environment", Value: "dev" },
      ]),
    });
  });

  it("reports soft compliance findings as synth warnings", () => {
    // Prepare
    const input = variant("prod", {
      compliance: {
        ...ENVIRONMENTS.prod.compliance,
        gdpr: { purposes: [{ name: "security-monitoring", retentionDays: 400 }] },
      },
    });

    // Act
    const { stack } = synthesize("prod", input);

    // Assess
    Annotations.fromStack(stack).hasWarning(
      "/AuditTrail-prod",
      Match.stringLikeRegexp("GDPR storage limitation"),
    );
  });

  it("rejects a config that breaks an enabled framework before building anything", () => {
    // Prepare
    const input = variant("prod", { retention: { ...ENVIRONMENTS.prod.retention, archiveDays: 30 } });

    // Act
    const act = () => synthesize("prod", input);

    // Assess
    expect(act).toThrow(
      /Compliance framework pci-dss \(environment "prod"\).+retention\.archiveDays is 30; the minimum is 366 days/,
    );
  });
});
