import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  AuditTrailConfigError,
  checkRuleOverrides,
  ENVIRONMENTS,
  loadEnvironmentConfig,
  parseEnvironmentConfig,
} from "../../../lib/config/index.js";
import { REPO_ROOT } from "../fixtures.js";

const RULES_DIR = join(REPO_ROOT, "rules");

describe("detection rule overrides", () => {
  for (const name of Object.keys(ENVIRONMENTS)) {
    it(`loads the shipped rule pack with ${name}'s overrides`, async () => {
      // Prepare
      const config = loadEnvironmentConfig(name, ENVIRONMENTS);

      // Act
      const checked = checkRuleOverrides(config, RULES_DIR);

      // Assess
      await expect(checked).resolves.toBeUndefined();
    });
  }

  it("fails synth when a source would look silent between two Firehose deliveries", async () => {
    // Prepare
    const config = parseEnvironmentConfig("test", {
      ...ENVIRONMENTS.dev,
      firehose: { bufferingIntervalSeconds: 600, bufferingSizeMiB: 5, retryDurationSeconds: 300 },
      detection: { ruleOverrides: { rules: { pipeline_source_silent: { timespan: "12m" } } } },
    });

    // Act
    const checked = checkRuleOverrides(config, RULES_DIR);

    // Assess
    await expect(checked).rejects.toThrow(
      /detection\.ruleOverrides\.rules\.pipeline_source_silent\.timespan[\s\S]*firehose\.bufferingIntervalSeconds \(600 s\) plus 5 minutes[\s\S]*at least 15m/,
    );
    const longer = parseEnvironmentConfig("test", {
      ...ENVIRONMENTS.dev,
      firehose: { bufferingIntervalSeconds: 600, bufferingSizeMiB: 5, retryDurationSeconds: 300 },
      detection: { ruleOverrides: { rules: { pipeline_source_silent: { timespan: "15m" } } } },
    });
    await expect(checkRuleOverrides(longer, RULES_DIR)).resolves.toBeUndefined();
  });

  it("fails synth on a rule the pack does not have, naming the config key and the rule", async () => {
    // Prepare
    const config = parseEnvironmentConfig("test", {
      ...ENVIRONMENTS.dev,
      detection: { ruleOverrides: { rules: { no_such_rule: { enabled: false } } } },
    });

    // Act
    const checked = checkRuleOverrides(config, RULES_DIR);

    // Assess
    await expect(checked).rejects.toThrow(AuditTrailConfigError);
    await expect(checked).rejects.toThrow(
      /detection\.ruleOverrides; the rule pack rejects it: .*no_such_rule/,
    );
  });

  it("fails synth on an override key that is not part of the format", async () => {
    // Prepare
    const config = parseEnvironmentConfig("test", {
      ...ENVIRONMENTS.dev,
      detection: { ruleOverrides: { thresholds: { anything: 3 } } },
    });

    // Act
    const checked = checkRuleOverrides(config, RULES_DIR);

    // Assess
    await expect(checked).rejects.toThrow(/detection\.ruleOverrides; the rule pack rejects it: .*thresholds/);
  });
});

describe("approved networks per cluster (detection.k8sApprovedNetworks)", () => {
  const networks = {
    "*": ["192.0.2.0/28"],
    "prod-eu-1": ["10.20.0.0/16", "2001:db8:20::/48"],
    "prod-us-1": ["10.30.0.0/16"],
  };

  it("compiles the lists into the rule pack's placeholders, keeping the other overrides", () => {
    // Act
    const config = parseEnvironmentConfig("test", {
      ...ENVIRONMENTS.dev,
      detection: {
        ruleOverrides: { placeholders: { trust_domains: ["cluster.local"] } },
        k8sApprovedNetworks: networks,
      },
    });

    // Assess
    expect(config.detection.ruleOverrides).toEqual({
      placeholders: {
        trust_domains: ["cluster.local"],
        k8s_approved_networks: networks,
        k8s_network_controlled_clusters: ["prod-eu-1", "prod-us-1"],
      },
    });
  });

  it("leaves the overrides alone when no network is listed", () => {
    const config = parseEnvironmentConfig("test", ENVIRONMENTS.dev);
    expect(config.detection.k8sApprovedNetworks).toEqual({});
    expect(config.detection.ruleOverrides).toEqual(ENVIRONMENTS.dev.detection.ruleOverrides);
  });

  it("is accepted by the rule pack at synth", async () => {
    const config = parseEnvironmentConfig("test", {
      ...ENVIRONMENTS.dev,
      detection: { k8sApprovedNetworks: networks },
    });
    await expect(checkRuleOverrides(config, RULES_DIR)).resolves.toBeUndefined();
  });

  it("rejects a value that is not a CIDR block, naming the key", () => {
    expect(() =>
      parseEnvironmentConfig("test", {
        ...ENVIRONMENTS.dev,
        detection: { k8sApprovedNetworks: { "prod-eu-1": ["10.20.0.0/33"] } },
      }),
    ).toThrow(/detection\.k8sApprovedNetworks\.prod-eu-1\[0\] is "10\.20\.0\.0\/33"; must be a CIDR block/);
  });

  it("rejects an empty list and a cluster name with spaces", () => {
    expect(() =>
      parseEnvironmentConfig("test", { ...ENVIRONMENTS.dev, detection: { k8sApprovedNetworks: { a: [] } } }),
    ).toThrow(AuditTrailConfigError);
    expect(() =>
      parseEnvironmentConfig("test", {
        ...ENVIRONMENTS.dev,
        detection: { k8sApprovedNetworks: { "prod eu": ["10.0.0.0/8"] } },
      }),
    ).toThrow(/detection\.k8sApprovedNetworks\.prod eu is/);
  });

  it("refuses the same placeholders set in ruleOverrides as well", () => {
    expect(() =>
      parseEnvironmentConfig("test", {
        ...ENVIRONMENTS.dev,
        detection: {
          ruleOverrides: { placeholders: { k8s_network_controlled_clusters: ["prod-eu-1"] } },
          k8sApprovedNetworks: networks,
        },
      }),
    ).toThrow(
      /detection\.ruleOverrides\.placeholders\.k8s_network_controlled_clusters[\s\S]*k8sApprovedNetworks/,
    );
  });
});

describe("the certificate rotation period (detection.certificateRotationHours)", () => {
  it("compiles the hours into the rule pack's placeholder, in seconds, keeping the other overrides", async () => {
    // Act
    const config = parseEnvironmentConfig("test", {
      ...ENVIRONMENTS.dev,
      detection: {
        ruleOverrides: { placeholders: { trust_domains: ["cluster.local"] } },
        certificateRotationHours: 12,
      },
    });

    // Assess
    expect(config.detection.ruleOverrides).toEqual({
      placeholders: { trust_domains: ["cluster.local"], cert_rotation_period_seconds: ["43200"] },
    });
    await expect(checkRuleOverrides(config, RULES_DIR)).resolves.toBeUndefined();
  });

  it("the rule fires past the environment's period and not before it", async () => {
    // Prepare
    const { loadRulePack } = await import("../../../lambdas/core/rules/index.js");
    const config = parseEnvironmentConfig("test", {
      ...ENVIRONMENTS.dev,
      detection: { certificateRotationHours: 1 },
    });
    const pack = await loadRulePack([RULES_DIR], config.detection.ruleOverrides);
    const request = (notBefore: string) => ({
      "@timestamp": "2026-03-02T10:00:00Z",
      ecs: { version: "8.17.0" },
      event: { kind: "event", dataset: "istio.access" },
      mesh: { name: "istio", mtls: true, source: { principal: "spiffe://cluster.local/ns/a/sa/b" } },
      tls: { client: { not_before: notBefore } },
    });

    // Assess
    expect(pack.matchSingleEvent(request("2026-03-02T08:30:00Z") as never)).toContain(
      "mesh_cert_rotation_overdue",
    );
    expect(pack.matchSingleEvent(request("2026-03-02T09:30:00Z") as never)).not.toContain(
      "mesh_cert_rotation_overdue",
    );
  });

  it("leaves the pack's 24-hour default when not set", () => {
    const config = parseEnvironmentConfig("test", ENVIRONMENTS.dev);
    expect(config.detection.ruleOverrides).toEqual(ENVIRONMENTS.dev.detection.ruleOverrides);
  });

  it("refuses the placeholder set in ruleOverrides as well, naming the key", () => {
    expect(() =>
      parseEnvironmentConfig("test", {
        ...ENVIRONMENTS.dev,
        detection: {
          ruleOverrides: { placeholders: { cert_rotation_period_seconds: ["60"] } },
          certificateRotationHours: 2,
        },
      }),
    ).toThrow(/detection\.ruleOverrides\.placeholders\.cert_rotation_period_seconds/);
  });

  it("refuses a period that is not positive, naming the key", () => {
    expect(() =>
      parseEnvironmentConfig("test", { ...ENVIRONMENTS.dev, detection: { certificateRotationHours: 0 } }),
    ).toThrow(/detection\.certificateRotationHours/);
  });
});
