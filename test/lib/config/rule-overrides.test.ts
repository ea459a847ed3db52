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
