/**
 * `loadPack`: the one way every caller gets a rule pack (the transform from its precompiled pack; the detector, the
 * CLI and the synth-time check from rule files with an environment's overrides).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  defaultRulesDir,
  loadPack,
  RuleError,
  readOverridesFile,
  ruleFiles,
} from "../../../../lambdas/core/rules/index.js";
import { precompileRulePack } from "../../../../lambdas/core/rules/load.js";
import { precompiledPack } from "../../../../lambdas/core/rules/precompiled.js";

const RULES = defaultRulesDir();
const OVERRIDES = { rules: { mesh_latency_p99_high: { enabled: false } } };

describe("loadPack", () => {
  it("gives the same rules from the rule files with overrides and from the pack precompiled with them", () => {
    // Prepare
    const text = precompileRulePack([RULES], OVERRIDES, dirname(RULES));
    // Act
    const fromFiles = loadPack({ source: ruleFiles([RULES]), overrides: JSON.stringify(OVERRIDES) });
    const precompiled = loadPack({ source: precompiledPack("rule-pack.json", text) });
    // Assess
    const summary = (pack: typeof fromFiles) =>
      pack.rules.map((rule) => [rule.name, rule.kind, rule.generatesAlerts]);
    expect(summary(precompiled)).toEqual(summary(fromFiles));
    expect(fromFiles.rules.find((rule) => rule.name === "mesh_latency_p99_high")).toBeUndefined();
  });

  it("refuses overrides for a precompiled pack, which carries the ones it was compiled with", () => {
    // Prepare
    const source = precompiledPack("rule-pack.json", precompileRulePack([RULES], {}, dirname(RULES)));
    // Act / Assess
    expect(() => loadPack({ source, overrides: OVERRIDES })).toThrowError(
      /rule-pack\.json, key 'AUDIT_TRAIL_RULE_OVERRIDES': a precompiled pack carries the overrides it was compiled with/,
    );
    expect(loadPack({ source, overrides: "" }).rules.length).toBeGreaterThan(0);
  });

  it("names the environment variable for bad overrides, or the origin it is given", () => {
    // Prepare
    const overrides = { rules: { no_such_rule: { enabled: false } } };
    // Act / Assess
    expect(() => loadPack({ source: ruleFiles([RULES]), overrides })).toThrowError(
      /key 'AUDIT_TRAIL_RULE_OVERRIDES\.rules\.no_such_rule': no rule named 'no_such_rule'/,
    );
    expect(() =>
      loadPack({ source: ruleFiles([RULES]), overrides, overridesFrom: "--overrides o.json" }),
    ).toThrowError(/^--overrides o\.json, key 'rules\.no_such_rule': no rule named 'no_such_rule'/);
  });

  it("reads an overrides file, naming it when it is missing or not JSON", async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), "load-pack-"));
    const good = join(dir, "good.json");
    const bad = join(dir, "bad.json");
    await writeFile(good, JSON.stringify(OVERRIDES));
    await writeFile(bad, "{ rules:");
    try {
      // Act / Assess
      expect(readOverridesFile(good, "--overrides good.json")).toEqual(OVERRIDES);
      expect(() => readOverridesFile(bad, "--overrides bad.json")).toThrowError(
        /^--overrides bad\.json: not valid JSON \(/,
      );
      expect(() => readOverridesFile(join(dir, "none.json"), "--overrides none.json")).toThrowError(
        new RuleError("no such file", { file: "--overrides none.json" }),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
