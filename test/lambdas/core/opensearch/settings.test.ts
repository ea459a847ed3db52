import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BootstrapPropertiesError,
  parseBootstrapProperties,
} from "../../../../lambdas/core/opensearch/settings.js";

/** `ResourceProperties` exactly as CloudFormation delivers them: every value a string. */
function cloudFormationProperties(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ServiceToken: "arn:aws:lambda:eu-west-1:123456789012:function:provider",
    DomainEndpoint: "vpc-audit-trail-prod-abc.eu-west-1.es.amazonaws.com",
    DomainName: "audit-trail-prod",
    HotDays: "7",
    WarmDays: "30",
    ColdDays: "60",
    DeleteAfterDays: "97",
    UltraWarmEnabled: "true",
    ColdStorageEnabled: "true",
    IndexEventOriginal: "false",
    FirehoseRoleArn: "arn:aws:iam::123456789012:role/firehose",
    DetectorRoleArn: "arn:aws:iam::123456789012:role/detector",
    AnalystRoleArn: "",
    ReplicaCount: "1",
    ShardCount: "2",
    ...overrides,
  };
}

function issuesOf(input: unknown): string {
  try {
    parseBootstrapProperties(input);
  } catch (error) {
    if (error instanceof BootstrapPropertiesError) return error.message;
    throw error;
  }
  throw new Error("expected a BootstrapPropertiesError");
}

describe("parseBootstrapProperties", () => {
  it("coerces CloudFormation's string numbers and booleans", () => {
    // Act
    const settings = parseBootstrapProperties(cloudFormationProperties());

    // Assess
    expect(settings).toEqual({
      DomainEndpoint: "vpc-audit-trail-prod-abc.eu-west-1.es.amazonaws.com",
      DomainName: "audit-trail-prod",
      HotDays: 7,
      WarmDays: 30,
      ColdDays: 60,
      DeleteAfterDays: 97,
      UltraWarmEnabled: true,
      ColdStorageEnabled: true,
      IndexEventOriginal: false,
      FirehoseRoleArn: "arn:aws:iam::123456789012:role/firehose",
      DetectorRoleArn: "arn:aws:iam::123456789012:role/detector",
      AnalystRoleArn: "",
      ReplicaCount: 1,
      ShardCount: 2,
    });
  });

  it("reads the string false as false, not as a truthy string", () => {
    // Act
    const settings = parseBootstrapProperties(
      cloudFormationProperties({ UltraWarmEnabled: "false", ColdStorageEnabled: "false", ColdDays: "0" }),
    );

    // Assess
    expect(settings.UltraWarmEnabled).toBe(false);
    expect(settings.ColdStorageEnabled).toBe(false);
  });

  it.each([
    [{ HotDays: "seven" }, "HotDays: must be a whole number"],
    [{ HotDays: "" }, "HotDays: must be a whole number"],
    [{ ShardCount: "0" }, "ShardCount"],
    [{ IndexEventOriginal: "yes" }, "IndexEventOriginal"],
    [{ IndexCodec: "lz5" }, "IndexCodec: must be one of default, best_compression, zstd, zstd_no_dict"],
    [{ DomainEndpoint: "https://search-x.es.amazonaws.com" }, "DomainEndpoint: must be a host name"],
    [{ FirehoseRoleArn: "firehose" }, "FirehoseRoleArn: must be an IAM role ARN"],
    [{ AnalystRoleArn: "arn:aws:iam::123456789012:user/bob" }, "AnalystRoleArn"],
    [{ UltraWarmEnabled: "false" }, "ColdStorageEnabled: cold storage needs UltraWarm"],
    [
      { ColdStorageEnabled: "false", UltraWarmEnabled: "true" },
      "ColdDays: ColdDays is 60 but ColdStorageEnabled is false",
    ],
    [
      { DeleteAfterDays: "90" },
      "DeleteAfterDays: DeleteAfterDays is 90, below HotDays + WarmDays + ColdDays = 97",
    ],
  ])("rejects %o naming the property", (override, message) => {
    // Act
    const issues = issuesOf(cloudFormationProperties(override as Record<string, string>));

    // Assess
    expect(issues).toContain(message);
  });

  it("rejects a missing property by name", () => {
    // Prepare
    const { DetectorRoleArn: _dropped, ...withoutDetector } = cloudFormationProperties();

    // Act and assess
    expect(issuesOf(withoutDetector)).toContain("DetectorRoleArn");
  });

  it("parses any consistent set of ages given as strings to the same numbers", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 0, max: 4000 }),
        (hot, warm, cold, extra) => {
          const deleteAfter = hot + warm + cold + extra;
          const settings = parseBootstrapProperties(
            cloudFormationProperties({
              HotDays: String(hot),
              WarmDays: String(warm),
              ColdDays: String(cold),
              DeleteAfterDays: String(deleteAfter),
            }),
          );
          return (
            settings.HotDays === hot &&
            settings.WarmDays === warm &&
            settings.ColdDays === cold &&
            settings.DeleteAfterDays === deleteAfter
          );
        },
      ),
    );
  });
});
