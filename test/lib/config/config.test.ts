import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FRAMEWORK_IDS } from "../../../lambdas/core/compliance/catalogue.js";
import { DEFAULTS } from "../../../lib/config/defaults.js";
import {
  AuditTrailConfigError,
  ENVIRONMENTS,
  type EnvironmentConfigInput,
  loadEnvironmentConfig,
  parseEnvironmentConfig,
  yearsInDays,
} from "../../../lib/config/index.js";

/** The smallest entry that validates: a public single-node domain with an explicit archive retention. */
const minimal = {
  retention: { hotDays: 7, archiveDays: 30 },
  search: { instanceType: "t3.medium.search", instanceCount: 1, ebsVolumeSizeGiB: 20 },
  network: { type: "public", allowedCidrs: ["203.0.113.0/24"] },
} satisfies EnvironmentConfigInput;

type Input = Record<string, unknown>;

function withPatch(patch: Input, base: Input = minimal): Input {
  return { ...base, ...patch };
}

/** Runs the parser and returns the config error it throws (fails the test when it does not throw one). */
function configError(input: unknown, name = "test"): AuditTrailConfigError {
  try {
    parseEnvironmentConfig(name, input);
  } catch (error) {
    if (error instanceof AuditTrailConfigError) return error;
    throw error;
  }
  throw new Error("expected an AuditTrailConfigError, but the config was accepted");
}

describe("defaults", () => {
  it("fills every optional key with its documented default", () => {
    // Act
    const config = parseEnvironmentConfig("test", minimal);

    // Assess
    expect(config.name).toBe("test");
    expect(config.account).toBeUndefined();
    expect(config.region).toBeUndefined();
    expect(config.terminationProtection).toBe(false);
    expect(config.compliance.frameworks).toEqual([]);
    expect(config.retention).toMatchObject({
      warmDays: 0,
      coldDays: 0,
      stagingExpirationDays: 14,
      logRetentionDays: 365,
      archiveTransitions: { infrequentAccessAfterDays: 30, glacierAfterDays: 90, deepArchiveAfterDays: 180 },
    });
    expect(config.search.coldStorage).toBe(false);
    expect(config.search.shardCount).toBe(1);
    expect(config.search.indexCodec).toBe("best_compression");
    expect(config.search.sourceExcludes).toEqual([]);
    expect(config.search.replicaCount).toBe(0);
    expect(config.firehose).toEqual({
      bufferingIntervalSeconds: 60,
      bufferingSizeMiB: 5,
      retryDurationSeconds: 300,
    });
    expect(config.alerts.critical).toEqual({ emails: [], httpsEndpoints: [] });
    expect(config.alerts.ops).toEqual({ emails: [], httpsEndpoints: [] });
    expect(config.eksClusters).toEqual([]);
    expect(config.producer).toEqual({ namespace: "logging", serviceAccountName: "fluent-bit" });
    expect(config.detection.ruleOverrides).toEqual({});
    expect(config.pseudonymization).toBeUndefined();
    expect(config.transform).toEqual({ keepEventOriginal: true, indexEventOriginal: false });
    expect(config.tamperEvidence.digestPeriodMinutes).toBe(60);
    expect(config.retention.archiveDays).toBe(30);
    expect(config.deleteAfterDays).toBe(7);
    expect(config.warnings).toEqual([]);
  });

  it("defaults to one replica when the domain is zone-aware", () => {
    // Prepare
    const input = withPatch({
      search: { ...minimal.search, instanceCount: 2, zoneAwareness: { availabilityZoneCount: 2 } },
    });

    // Act
    const config = parseEnvironmentConfig("test", input);

    // Assess
    expect(config.search.replicaCount).toBe(1);
  });

  it("deletes indices at hot + warm + cold days", () => {
    // Prepare
    const input = withPatch({
      retention: { hotDays: 10, warmDays: 20, coldDays: 30, archiveDays: 400 },
      search: {
        ...minimal.search,
        dedicatedMaster: { instanceType: "m7g.large.search", count: 3 },
        ultraWarm: { instanceType: "ultrawarm1.medium.search", count: 2 },
        coldStorage: true,
      },
    });

    // Act
    const config = parseEnvironmentConfig("test", input);

    // Assess
    expect(config.deleteAfterDays).toBe(60);
  });

  it("keeps per-rule detection overrides as opaque JSON", () => {
    // Prepare
    const ruleOverrides = {
      placeholders: { trust_domains: ["prod.example.com"], sensitive_paths: ["/api/*/payments*"] },
      rules: { mesh_auth_failure_burst: { condition: { gte: 5 }, timespan: "2m" } },
    };

    // Act
    const config = parseEnvironmentConfig("test", withPatch({ detection: { ruleOverrides } }));

    // Assess
    expect(config.detection.ruleOverrides).toEqual(ruleOverrides);
  });
});

describe("shipped environments", () => {
  it("ships dev, staging and prod, each valid", () => {
    // Act
    const names = Object.keys(ENVIRONMENTS).sort();
    const parsed = names.map((name) => loadEnvironmentConfig(name, ENVIRONMENTS));

    // Assess
    expect(names).toEqual(["dev", "prod", "staging"]);
    expect(parsed.map((config) => config.name)).toEqual(names);
  });

  it("gives prod the longest retention any enabled framework requires (HIPAA, 6 years)", () => {
    // Act
    const prod = loadEnvironmentConfig("prod", ENVIRONMENTS);

    // Assess
    expect(prod.compliance.frameworks).toEqual(["pci-dss", "hipaa", "soc2", "iso27001", "gdpr"]);
    expect(prod.retention.archiveDays).toBe(yearsInDays(6));
    expect(prod.retention.hotDays + prod.retention.warmDays).toBeGreaterThanOrEqual(90);
    expect(prod.pseudonymization?.fields.length).toBeGreaterThan(0);
    expect(prod.transform.keepEventOriginal).toBe(false);
    expect(prod.terminationProtection).toBe(true);
  });

  it("gives staging the ISO 27001 policy period, longer than SOC 2's year", () => {
    // Act
    const staging = loadEnvironmentConfig("staging", ENVIRONMENTS);

    // Assess
    expect(staging.retention.archiveDays).toBe(400);
  });

  it("keeps dev free of frameworks with an explicit short archive", () => {
    // Act
    const dev = loadEnvironmentConfig("dev", ENVIRONMENTS);

    // Assess
    expect(dev.compliance.frameworks).toEqual([]);
    expect(dev.retention.archiveDays).toBe(30);
    expect(dev.network.type).toBe("public");
  });
});

describe("environment selection", () => {
  it("fails without a name and lists the valid names", () => {
    // Act
    const act = () => loadEnvironmentConfig(undefined, ENVIRONMENTS);

    // Assess
    expect(act).toThrow(AuditTrailConfigError);
    expect(act).toThrow(/no environment selected; valid environments: dev, prod, staging/);
    expect(act).toThrow(/-c env=NAME/);
  });

  it("fails on an unknown name, naming it and the valid names", () => {
    // Act
    const act = () => loadEnvironmentConfig("qa", ENVIRONMENTS);

    // Assess
    expect(act).toThrow(
      /env \(CDK context\) is "qa"; unknown environment; valid environments: dev, prod, staging/,
    );
    expect(act).toThrow(/add an entry named "qa" to lib\/config\/environments.ts/);
  });

  it("does not mistake inherited object keys for environments", () => {
    // Act
    const act = () => loadEnvironmentConfig("toString", ENVIRONMENTS);

    // Assess
    expect(act).toThrow(/unknown environment/);
  });

  it("adding an environment is adding one entry", () => {
    // Prepare
    const environments = { ...ENVIRONMENTS, qa: minimal };

    // Act
    const qa = loadEnvironmentConfig("qa", environments);

    // Assess
    expect(qa.name).toBe("qa");
  });
});

describe("compliance presets", () => {
  const cases: {
    readonly title: string;
    readonly input: Input;
    readonly framework: string;
    readonly configKey: string;
    readonly value: number;
    readonly minimum: string;
  }[] = [
    {
      title: "PCI-DSS rejects an archive shorter than a year",
      input: withPatch({
        compliance: { frameworks: ["pci-dss"] },
        retention: { hotDays: 90, archiveDays: 30 },
      }),
      framework: "pci-dss",
      configKey: "retention.archiveDays",
      value: 30,
      minimum: "366 days",
    },
    {
      title: "PCI-DSS rejects fewer than 90 days searchable in hot + warm",
      input: withPatch({ compliance: { frameworks: ["pci-dss"] }, retention: { hotDays: 30, warmDays: 20 } }),
      framework: "pci-dss",
      configKey: "retention.hotDays + retention.warmDays",
      value: 50,
      minimum: "90 days",
    },
    {
      title: "HIPAA rejects an archive shorter than 6 years",
      input: withPatch({
        compliance: { frameworks: ["hipaa"] },
        retention: { hotDays: 7, archiveDays: 400 },
      }),
      framework: "hipaa",
      configKey: "retention.archiveDays",
      value: 400,
      minimum: "2192 days",
    },
    {
      title: "SOC 2 rejects an archive shorter than a year",
      input: withPatch({ compliance: { frameworks: ["soc2"] }, retention: { hotDays: 7, archiveDays: 100 } }),
      framework: "soc2",
      configKey: "retention.archiveDays",
      value: 100,
      minimum: "366 days",
    },
    {
      title: "ISO 27001 rejects an archive shorter than the policy's period",
      input: withPatch({
        compliance: { frameworks: ["iso27001"], iso27001: { archiveRetentionDays: 730 } },
        retention: { hotDays: 7, archiveDays: 365 },
      }),
      framework: "iso27001",
      configKey: "retention.archiveDays",
      value: 365,
      minimum: "730 days",
    },
    {
      title: "ISO 27001 rejects a searchable window shorter than the policy's",
      input: withPatch({
        compliance: { frameworks: ["iso27001"], iso27001: { archiveRetentionDays: 365, searchableDays: 60 } },
        retention: { hotDays: 14, warmDays: 16 },
      }),
      framework: "iso27001",
      configKey: "retention.hotDays + retention.warmDays",
      value: 30,
      minimum: "60 days",
    },
    {
      title: "GDPR rejects an archive shorter than the longest purpose",
      input: withPatch({
        compliance: {
          frameworks: ["gdpr"],
          gdpr: { purposes: [{ name: "security-monitoring", retentionDays: 400 }] },
        },
        retention: { hotDays: 7, archiveDays: 200 },
        pseudonymization: { fields: ["user.name"], key: { source: "secret", secretName: "audit/key" } },
        transform: { keepEventOriginal: false },
      }),
      framework: "gdpr",
      configKey: "retention.archiveDays",
      value: 200,
      minimum: "400 days",
    },
  ];

  for (const testCase of cases) {
    it(testCase.title, () => {
      // Act
      const error = configError(testCase.input);

      // Assess
      expect(error.details).toMatchObject({
        environment: "test",
        framework: testCase.framework,
        configKey: testCase.configKey,
        value: testCase.value,
        minimum: testCase.minimum,
      });
      expect(error.message).toContain(
        `Compliance framework ${testCase.framework} (environment "test") rule "`,
      );
      expect(error.message).toContain(
        `${testCase.configKey} is ${testCase.value}; the minimum is ${testCase.minimum}`,
      );
      expect(error.message).toMatch(/Fix: .+lib\/config\/environments\.ts/);
    });
  }

  it("ISO 27001 requires the policy's period to be configured", () => {
    // Act
    const error = configError(withPatch({ compliance: { frameworks: ["iso27001"] } }));

    // Assess
    expect(error.message).toContain("Compliance framework iso27001 rule");
    expect(error.message).toContain("compliance.iso27001.archiveRetentionDays");
    expect(error.message).toContain("the policy's period must be configured");
    expect(error.message).toContain("Fix: add compliance: { iso27001: { archiveRetentionDays:");
  });

  it("GDPR requires at least one purpose", () => {
    // Act
    const error = configError(withPatch({ compliance: { frameworks: ["gdpr"] } }));

    // Assess
    expect(error.message).toContain("Compliance framework gdpr rule");
    expect(error.message).toContain("compliance.gdpr.purposes");
    expect(error.message).toContain("at least one purpose");
  });

  it("GDPR requires pseudonymization of personal fields to be on", () => {
    // Prepare
    const input = withPatch({
      compliance: {
        frameworks: ["gdpr"],
        gdpr: { purposes: [{ name: "security-monitoring", retentionDays: 30 }] },
      },
    });

    // Act
    const error = configError(input);

    // Assess
    expect(error.details).toMatchObject({
      framework: "gdpr",
      configKey: "pseudonymization.fields",
      minimum: "1 field",
    });
    expect(error.message).toContain("personal data fields are pseudonymized");
    expect(error.message).toContain("pseudonymization.fields is not set");
    expect(error.message).toContain('Fix: add pseudonymization: { fields: ["user.name"');
  });

  it("GDPR rejects keeping the raw line next to pseudonymized fields", () => {
    // Prepare
    const input = withPatch({
      compliance: {
        frameworks: ["gdpr"],
        gdpr: { purposes: [{ name: "security-monitoring", retentionDays: 30 }] },
      },
      pseudonymization: { fields: ["user.name"], key: { source: "secret", secretName: "audit/key" } },
    });

    // Act
    const error = configError(input);

    // Assess
    expect(error.details).toMatchObject({
      framework: "gdpr",
      configKey: "transform.keepEventOriginal",
      value: true,
    });
    expect(error.message).toContain("transform.keepEventOriginal is true");
  });

  it("GDPR warns when another framework keeps data longer than any declared purpose", () => {
    // Prepare
    const input = withPatch({
      compliance: {
        frameworks: ["gdpr", "soc2"],
        gdpr: { purposes: [{ name: "security-monitoring", retentionDays: 90 }] },
      },
      retention: { hotDays: 7 },
      pseudonymization: { fields: ["user.name"], key: { source: "secret", secretName: "audit/key" } },
      transform: { keepEventOriginal: false },
    });

    // Act
    const config = parseEnvironmentConfig("test", input);

    // Assess
    expect(config.retention.archiveDays).toBe(366);
    expect(config.warnings).toEqual([
      expect.stringContaining("GDPR storage limitation: the archive keeps data 366 days"),
    ]);
  });

  it("uses the longest minimum of the enabled frameworks when archiveDays is unset", () => {
    // Prepare
    const input = withPatch({ compliance: { frameworks: ["soc2", "hipaa"] }, retention: { hotDays: 7 } });

    // Act
    const config = parseEnvironmentConfig("test", input);

    // Assess
    expect(config.retention.archiveDays).toBe(2192);
  });

  it("lets the archive retention be raised above the presets", () => {
    // Prepare
    const input = withPatch({
      compliance: { frameworks: ["hipaa"] },
      retention: { hotDays: 7, archiveDays: 3653 },
    });

    // Act
    const config = parseEnvironmentConfig("test", input);

    // Assess
    expect(config.retention.archiveDays).toBe(3653);
  });

  it("requires archiveDays when no framework sets a minimum", () => {
    // Act
    const error = configError(withPatch({ retention: { hotDays: 7 } }));

    // Assess
    expect(error.message).toContain("retention.archiveDays; no enabled compliance framework sets a minimum");
    expect(error.message).toContain("Fix: set retention.archiveDays");
  });

  it("accepts an archive exactly at the minimum and rejects one day less (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4000 }), (archiveDays) => {
        // Prepare
        const input = withPatch({
          compliance: { frameworks: ["pci-dss", "soc2"] },
          retention: { hotDays: 90, archiveDays },
        });

        // Act
        let accepted: number | undefined;
        let message = "";
        try {
          accepted = parseEnvironmentConfig("test", input).retention.archiveDays;
        } catch (error) {
          if (!(error instanceof AuditTrailConfigError)) throw error;
          message = error.message;
        }

        // Assess
        if (archiveDays >= 366) return accepted === archiveDays;
        return (
          accepted === undefined && message.includes(`is ${archiveDays};`) && message.includes("366 days")
        );
      }),
    );
  });

  it("derives the archive retention as the maximum over any set of frameworks (property)", () => {
    const minimumOf: Record<string, number> = {
      "pci-dss": 366,
      hipaa: 2192,
      soc2: 366,
      iso27001: 500,
      gdpr: 700,
    };
    fc.assert(
      fc.property(fc.subarray([...FRAMEWORK_IDS], { minLength: 1 }), (frameworks) => {
        // Prepare
        const input = withPatch({
          compliance: {
            frameworks,
            iso27001: { archiveRetentionDays: 500 },
            gdpr: { purposes: [{ name: "security-monitoring", retentionDays: 700 }] },
          },
          retention: { hotDays: 90 },
          pseudonymization: { fields: ["user.name"], key: { source: "secret", secretName: "audit/key" } },
          transform: { keepEventOriginal: false },
        });

        // Act
        const config = parseEnvironmentConfig("test", input);

        // Assess
        return (
          config.retention.archiveDays ===
          Math.max(...frameworks.map((framework) => minimumOf[framework] ?? 0))
        );
      }),
    );
  });
});

describe("feasibility", () => {
  const dedicatedMaster = { instanceType: "m7g.large.search", count: 3 };
  const ultraWarm = { instanceType: "ultrawarm1.medium.search", count: 2 };
  const cases: { readonly title: string; readonly input: Input; readonly expected: RegExp }[] = [
    {
      title: "cold storage without UltraWarm",
      input: withPatch({ search: { ...minimal.search, dedicatedMaster, coldStorage: true } }),
      expected:
        /search\.coldStorage is true; OpenSearch cold storage requires UltraWarm nodes\. Fix: add search\.ultraWarm/,
    },
    {
      title: "UltraWarm without dedicated masters",
      input: withPatch({ search: { ...minimal.search, ultraWarm } }),
      expected:
        /search\.ultraWarm is .+; OpenSearch UltraWarm requires dedicated master nodes\. Fix: add search\.dedicatedMaster/,
    },
    {
      title: "cold days without cold storage",
      input: withPatch({ retention: { hotDays: 7, coldDays: 30, archiveDays: 60 } }),
      expected: /retention\.coldDays is 30; .+cold storage is enabled\. Fix: set retention\.coldDays to 0/,
    },
    {
      title: "a data node count that does not divide over the AZs",
      input: withPatch({
        search: { ...minimal.search, instanceCount: 3, zoneAwareness: { availabilityZoneCount: 2 } },
      }),
      expected:
        /search\.instanceCount is 3; with zone awareness over 2 AZs the data node count must be a multiple of 2/,
    },
    {
      title: "three AZs in an environment-agnostic stack",
      input: withPatch({
        network: { type: "vpc", maxAzs: 3 },
        search: { ...minimal.search, instanceCount: 3, zoneAwareness: { availabilityZoneCount: 3 } },
      }),
      expected:
        /search\.zoneAwareness\.availabilityZoneCount is 3; an environment-agnostic stack can spread a new VPC over 2 AZs only, not 3/,
    },
    {
      title: "zone awareness over more AZs than listed",
      input: withPatch({
        account: "123456789012",
        region: "eu-west-1",
        network: { type: "vpc", availabilityZones: ["eu-west-1a", "eu-west-1b"] },
        search: { ...minimal.search, instanceCount: 3, zoneAwareness: { availabilityZoneCount: 3 } },
      }),
      expected:
        /network\.availabilityZones is \["eu-west-1a","eu-west-1b"\]; zone awareness over 3 AZs needs 3 availability zones/,
    },
    {
      title: "a pinned account and region without listed AZs (synth would need a lookup)",
      input: withPatch({ account: "123456789012", region: "eu-west-1", network: { type: "vpc" } }),
      expected:
        /network\.availabilityZones; with account and region set, the new VPC's availability zones must be listed so synth needs no AWS lookup\. Fix: add network\.availabilityZones, e\.g\. \["eu-west-1a", "eu-west-1b"\]/,
    },
    {
      title: "AZ names without a region",
      input: withPatch({ network: { type: "vpc", availabilityZones: ["eu-west-1a", "eu-west-1b"] } }),
      expected:
        /network\.availabilityZones is \["eu-west-1a","eu-west-1b"\]; availability zone names belong to a region/,
    },
    {
      title: "an AZ of another region",
      input: withPatch({
        account: "123456789012",
        region: "eu-west-1",
        network: { type: "vpc", availabilityZones: ["eu-west-1a", "us-east-1a"] },
      }),
      expected: /us-east-1a is not in region eu-west-1/,
    },
    {
      title: "an existing VPC with fewer private subnets than zone-aware AZs",
      input: withPatch({
        network: {
          type: "vpc",
          existingVpc: {
            vpcId: "vpc-0123456789abcdef0",
            availabilityZones: ["eu-west-1a", "eu-west-1b"],
            privateSubnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
          },
        },
        search: { ...minimal.search, instanceCount: 3, zoneAwareness: { availabilityZoneCount: 3 } },
      }),
      expected:
        /network\.existingVpc\.privateSubnetIds is 2; zone awareness over 3 AZs needs a private subnet in 3 AZs/,
    },
    {
      title: "zone awareness without replicas",
      input: withPatch({
        search: {
          ...minimal.search,
          instanceCount: 2,
          zoneAwareness: { availabilityZoneCount: 2 },
          replicaCount: 0,
        },
      }),
      expected: /search\.replicaCount is 0; zone awareness only protects data that has a replica/,
    },
    {
      title: "Glacier before Standard-IA",
      input: withPatch({
        retention: {
          hotDays: 7,
          archiveDays: 30,
          archiveTransitions: {
            infrequentAccessAfterDays: 90,
            glacierAfterDays: 60,
            deepArchiveAfterDays: 400,
          },
        },
      }),
      expected:
        /retention\.archiveTransitions\.glacierAfterDays is 60; must come after infrequentAccessAfterDays \(90\)/,
    },
    {
      title: "Deep Archive within Glacier's minimum storage duration",
      input: withPatch({
        retention: {
          hotDays: 7,
          archiveDays: 30,
          archiveTransitions: {
            infrequentAccessAfterDays: 30,
            glacierAfterDays: 90,
            deepArchiveAfterDays: 120,
          },
        },
      }),
      expected:
        /retention\.archiveTransitions\.deepArchiveAfterDays is 120; must be at least 90 days after glacierAfterDays \(90\)/,
    },
    {
      title: "a zstd codec on an engine older than 2.9",
      input: withPatch({ search: { ...minimal.search, engineVersion: "2.7", indexCodec: "zstd" } }),
      expected:
        /search\.indexCodec is "zstd"; needs OpenSearch 2\.9 or later, and search\.engineVersion is "2\.7"\. Fix: use "best_compression", or raise search\.engineVersion/,
    },
    {
      title: "an engine without the copy processor the index stamp needs",
      input: withPatch({ search: { ...minimal.search, engineVersion: "2.11" } }),
      expected:
        /search\.engineVersion is "2\.11"; the audit indices' ingest pipeline stamps when each document was indexed with the copy processor, which needs OpenSearch 2\.12 or later.*Fix: raise search\.engineVersion to "2\.12" or later/,
    },
    {
      title: "a cluster listed twice",
      input: withPatch({
        eksClusters: [
          { name: "mesh", producerIdentity: { type: "pod-identity" } },
          { name: "mesh", producerIdentity: { type: "pod-identity" } },
        ],
      }),
      expected: /eksClusters\[\]\.name is "mesh"; each cluster may appear once/,
    },
  ];

  for (const testCase of cases) {
    it(`rejects ${testCase.title}`, () => {
      // Act
      const error = configError(testCase.input);

      // Assess
      expect(error.message).toMatch(/^Invalid audit-trail config \(environment "test"\): /);
      expect(error.message).toMatch(testCase.expected);
      expect(error.message).toContain("in lib/config/environments.ts");
    });
  }
});

describe("schema", () => {
  const cases: { readonly title: string; readonly input: Input; readonly expected: RegExp }[] = [
    {
      title: "a misspelt key",
      input: withPatch({ retention: { hotdays: 7, hotDays: 7, archiveDays: 30 } }),
      expected: /retention\.hotdays; unknown config key \(a typo\?\)\. Fix: remove or rename it/,
    },
    {
      title: "a missing required key",
      input: { retention: minimal.retention, network: minimal.network },
      expected: /search; Invalid input: expected object, received undefined/,
    },
    {
      title: "a value of the wrong type",
      input: withPatch({ search: { ...minimal.search, instanceCount: "two" } }),
      expected:
        /search\.instanceCount is "two"; Invalid input: expected number, received string\. Fix: correct search\.instanceCount/,
    },
    {
      title: "an index codec OpenSearch does not have",
      input: withPatch({ search: { ...minimal.search, indexCodec: "lz5" } }),
      expected:
        /search\.indexCodec is "lz5"; must be one of default, best_compression, zstd, zstd_no_dict\. Fix: correct search\.indexCodec/,
    },
    {
      title: "a _source exclusion of a field the index must return",
      input: withPatch({ search: { ...minimal.search, sourceExcludes: ["source.ip"] } }),
      expected:
        /search\.sourceExcludes\[0\] is "source\.ip"; must be one of event\.original, kubernetes\.audit\.requestObject, kubernetes\.audit\.responseObject/,
    },
    {
      title: "a CIDR that is not one",
      input: withPatch({ network: { type: "public", allowedCidrs: ["10.0.0.0/33"] } }),
      expected: /network\.allowedCidrs\[0\] is "10\.0\.0\.0\/33"; must be an IPv4 CIDR/,
    },
    {
      title: "an unknown network type",
      input: withPatch({ network: { type: "private-link" } }),
      expected: /network\.type is "private-link"/,
    },
    {
      title: "an alert e-mail that is not an address",
      input: withPatch({ alerts: { critical: { emails: ["oncall"] } } }),
      expected: /alerts\.critical\.emails\[0\] is "oncall"; must be an e-mail address/,
    },
    {
      title: "an alert endpoint that is not HTTPS",
      input: withPatch({ alerts: { ops: { httpsEndpoints: ["http://pager.example.com/hook"] } } }),
      expected:
        /alerts\.ops\.httpsEndpoints\[0\] is "http:\/\/pager\.example\.com\/hook"; must be an https:\/\/ URL/,
    },
    {
      title: "a log retention CloudWatch does not offer",
      input: withPatch({ retention: { hotDays: 7, archiveDays: 30, logRetentionDays: 100 } }),
      expected: /retention\.logRetentionDays is 100; must be one of CloudWatch's retention values/,
    },
    {
      title: "a staging expiration in hours rather than days",
      input: withPatch({ retention: { hotDays: 7, archiveDays: 30, stagingExpirationDays: 1 } }),
      expected: /retention\.stagingExpirationDays is 1; Too small: expected number to be >=3/,
    },
    {
      title: "a digest period that does not divide a day",
      input: withPatch({ tamperEvidence: { digestPeriodMinutes: 7 } }),
      expected: /tamperEvidence\.digestPeriodMinutes is 7; must divide 1440/,
    },
    {
      title: "an OIDC issuer with a scheme",
      input: withPatch({
        eksClusters: [
          {
            name: "mesh",
            producerIdentity: { type: "irsa", oidcIssuer: "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC" },
          },
        ],
      }),
      expected:
        /eksClusters\[0\]\.producerIdentity\.oidcIssuer is "https:.+"; must be the cluster's OIDC issuer/,
    },
    {
      title: "an analyst role that is not a role ARN",
      input: withPatch({ analystRoleArn: "arn:aws:iam::123456789012:user/alice" }),
      expected: /analystRoleArn is "arn:aws:iam::123456789012:user\/alice"; must be an IAM role ARN/,
    },
    {
      title: "a break-glass role given as an ARN instead of a role name",
      input: withPatch({ keys: { breakGlassRoleName: "arn:aws:iam::123456789012:role/BreakGlass" } }),
      expected:
        /keys\.breakGlassRoleName is "arn:aws:iam::123456789012:role\/BreakGlass"; must be an IAM role name \(not an ARN, no path\)/,
    },
    {
      title: "an account id of the wrong length",
      input: withPatch({ account: "12345" }),
      expected: /account is "12345"; must be a 12-digit AWS account id/,
    },
    {
      title: "a pseudonymization key from an unknown source",
      input: withPatch({ pseudonymization: { fields: ["user.name"], key: { source: "env", name: "KEY" } } }),
      expected: /pseudonymization\.key\.source is "env"/,
    },
    {
      title: "an unknown framework",
      input: withPatch({ compliance: { frameworks: ["fedramp"] } }),
      expected:
        /compliance\.frameworks\[0\] is "fedramp"; Invalid option: expected one of "pci-dss"\|"hipaa"\|"soc2"\|"iso27001"\|"gdpr"/,
    },
  ];

  for (const testCase of cases) {
    it(`rejects ${testCase.title}`, () => {
      // Act
      const error = configError(testCase.input);

      // Assess
      expect(error.message).toMatch(/^Invalid audit-trail config \(environment "test"\): /);
      expect(error.message).toMatch(testCase.expected);
      expect(error.message).toContain("Fix: ");
    });
  }
});

describe("defaults shared with the constructs", () => {
  it("fills omitted keys with DEFAULTS, the values the constructs fall back to on their own", () => {
    // Act
    const config = parseEnvironmentConfig("test", {
      ...minimal,
      network: { type: "vpc" },
      search: { ...minimal.search, instanceCount: 2, zoneAwareness: { availabilityZoneCount: 2 } },
    });
    // Assess
    expect(config.network).toMatchObject(DEFAULTS.network);
    expect(config.firehose).toEqual(DEFAULTS.firehose);
    expect(config.retention.stagingExpirationDays).toBe(DEFAULTS.stagingExpirationDays);
    expect(config.concurrency).toEqual(DEFAULTS.concurrency);
    expect(config.tamperEvidence.digestPeriodMinutes).toBe(DEFAULTS.digestPeriodMinutes);
    expect(config.transform.keepEventOriginal).toBe(DEFAULTS.keepEventOriginal);
    expect(config.search).toMatchObject({
      engineVersion: DEFAULTS.engineVersion,
      coldStorage: DEFAULTS.coldStorage,
      indexCodec: DEFAULTS.indexCodec,
    });
    expect(config.producer).toEqual(DEFAULTS.producer);
  });
});
