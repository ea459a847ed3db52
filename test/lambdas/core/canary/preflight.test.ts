import { describe, expect, it } from "vitest";
import {
  buildCanaryRecords,
  canaryIdentity,
  canaryRunId,
  canaryTrustDomain,
  preflightCanary,
} from "../../../../lambdas/core/canary/index.js";
import { defaultRulesDir, loadRulePack } from "../../../../lambdas/core/rules/load.js";
import { ENVIRONMENTS, loadEnvironmentConfig } from "../../../../lib/config/index.js";

const NOW = Date.parse("2026-03-02T14:00:00.000Z");
const RUN_ID = canaryRunId(NOW, "3f9a1c");
const identity = canaryIdentity(RUN_ID);

describe("preflightCanary", () => {
  it.each(Object.keys(ENVIRONMENTS))("passes for the shipped environment %s", async (name) => {
    // Prepare: the environment's overrides, trust domain and pseudonymized fields, as the command takes them.
    const config = loadEnvironmentConfig(name, ENVIRONMENTS);
    const pack = await loadRulePack([defaultRulesDir()], config.detection.ruleOverrides);
    const placeholders = config.detection.ruleOverrides.placeholders as
      | { trust_domains?: string[] }
      | undefined;
    const records = buildCanaryRecords({
      runId: RUN_ID,
      nowMs: NOW,
      trustDomain: canaryTrustDomain(placeholders?.trust_domains),
    });

    // Act
    const problems = preflightCanary(pack, identity, records, {
      pseudonymizedFields: config.pseudonymization?.fields ?? [],
    });

    // Assess
    expect(problems).toEqual([]);
  });

  it("refuses records whose client identity is foreign to the environment: they would page on-call", async () => {
    // Prepare: the records speak for cluster.local, the environment trusts only prod.example.com.
    const pack = await loadRulePack([defaultRulesDir()], {
      placeholders: { trust_domains: ["prod.example.com"] },
    });
    const records = buildCanaryRecords({ runId: RUN_ID, nowMs: NOW, trustDomain: "cluster.local" });

    // Act
    const problems = preflightCanary(pack, identity, records);

    // Assess
    expect(problems).toEqual([
      "linkerd: its document would also fire mesh_unknown_identity, which pages on-call; the canary refuses to run (check the environment's placeholders, e.g. trust_domains)",
    ]);
  });

  it("refuses when the canary rule is disabled", async () => {
    const pack = await loadRulePack([defaultRulesDir()], { rules: { pipeline_canary: { enabled: false } } });
    const records = buildCanaryRecords({ runId: RUN_ID, nowMs: NOW });

    expect(preflightCanary(pack, identity, records)).toEqual([
      expect.stringMatching(/^rule pipeline_canary is not in the environment's rule pack/),
    ]);
  });

  it("refuses when the canary rule's level makes it informational (never published)", async () => {
    const pack = await loadRulePack([defaultRulesDir()], {
      rules: { pipeline_canary: { level: "informational" } },
    });
    const records = buildCanaryRecords({ runId: RUN_ID, nowMs: NOW });

    expect(preflightCanary(pack, identity, records)).toEqual([
      expect.stringMatching(/^rule pipeline_canary has level informational/),
    ]);
  });

  it("refuses when pseudonymization would hide the client the canary tells its alerts apart by", async () => {
    const pack = await loadRulePack([defaultRulesDir()]);
    const records = buildCanaryRecords({ runId: RUN_ID, nowMs: NOW });

    const problems = preflightCanary(pack, identity, records, {
      pseudonymizedFields: ["mesh.source.workload"],
    });

    expect(problems).toEqual([
      `hubble: its alert would not be grouped by the run's client (${identity.userAgent} or ${identity.clientPod}), by which the canary tells its alerts from other runs'; check pipeline_canary's suppression.group-by and pseudonymization.fields (mesh.source.workload)`,
    ]);
  });

  it("refuses when pseudonymization would remove the only marker a source has", async () => {
    const pack = await loadRulePack([defaultRulesDir()]);
    const records = buildCanaryRecords({ runId: RUN_ID, nowMs: NOW });

    const problems = preflightCanary(pack, identity, records, {
      pseudonymizedFields: ["user_agent.original"],
    });

    expect(problems).toContain(
      "k8s-audit: its document would not match pipeline_canary once pseudonymized (pseudonymization.fields: user_agent.original)",
    );
    expect(
      problems.filter((problem) => problem.includes("would not be grouped")).map((p) => p.split(":")[0]),
    ).toEqual(["istio", "linkerd", "consul", "k8s-audit"]);
  });
});
