import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../../../lambdas/core/normalize/index.js";
import { defaultRulesDir, loadRulePack, RuleError } from "../../../../lambdas/core/rules/index.js";
import { precompileRulePack } from "../../../../lambdas/core/rules/load.js";
import { validateRuleSources } from "../../../../lambdas/core/rules/pack.js";
import {
  loadPrecompiledRulePack,
  PRECOMPILED_RULE_PACK_FORMAT,
  rulePackFromPrecompiled,
  serializeRuleSet,
} from "../../../../lambdas/core/rules/precompiled.js";
import { useTempDir } from "../../../fixtures/temp-dir.js";
import { meshDoc, ruleYaml } from "./helpers.js";

const RULES = defaultRulesDir();
const ROOT = dirname(RULES);
/** Overrides of the kind environments set: a threshold, a disabled rule, placeholder values. */
const OVERRIDES = {
  placeholders: { trust_domains: ["prod.example.com"] },
  rules: {
    mesh_auth_failure_burst: { condition: { gte: 5 }, timespan: "2m" },
    mesh_latency_p99_high: { enabled: false },
  },
};

/** Every record of the demo's incident logs, normalized as the transform does. */
async function incidentDocuments(): Promise<EcsDocument[]> {
  const dir = join(ROOT, "examples", "incident");
  const documents: EcsDocument[] = [];
  for (const file of (await readdir(dir)).sort()) {
    for (const line of (await readFile(join(dir, file), "utf8")).split("\n")) {
      const result = normalizeRecord(line);
      if (result.ok) documents.push(...result.documents);
    }
  }
  return documents;
}

describe("a precompiled rule pack", () => {
  it("matches every document exactly as the pack built from YAML does", async () => {
    // Prepare
    const fromYaml = await loadRulePack([RULES], OVERRIDES);
    const documents = await incidentDocuments();
    // Act
    const precompiled = rulePackFromPrecompiled(
      precompileRulePack([RULES], OVERRIDES, ROOT),
      "rule-pack.json",
    );
    // Assess
    expect(documents.length).toBeGreaterThan(1000);
    expect(JSON.stringify(precompiled.rules)).toBe(JSON.stringify(fromYaml.rules));
    const matches = documents.map((doc) => precompiled.matchSingleEvent(doc));
    expect(matches).toEqual(documents.map((doc) => fromYaml.matchSingleEvent(doc)));
    expect(matches.some((names) => names.length > 0)).toBe(true);
  });

  it("carries the environment's overrides: thresholds, disabled rules, placeholder values", () => {
    // Act
    const pack = rulePackFromPrecompiled(precompileRulePack([RULES], OVERRIDES, ROOT), "rule-pack.json");
    const defaults = rulePackFromPrecompiled(precompileRulePack([RULES], {}, ROOT), "rule-pack.json");
    // Assess
    const burst = pack.get("mesh_auth_failure_burst");
    expect(burst?.kind === "correlation" && [burst.condition, burst.timespanMs]).toEqual([
      { gte: 5 },
      120_000,
    ]);
    expect(pack.get("mesh_latency_p99_high")).toBeUndefined();
    const unknown = meshDoc({ mesh: { source: { trust_domain: "cluster.local" } } });
    expect(pack.matchSingleEvent(unknown)).toContain("mesh_unknown_identity");
    expect(defaults.matchSingleEvent(unknown)).not.toContain("mesh_unknown_identity");
    expect(defaults.get("mesh_latency_p99_high")).toBeDefined();
  });

  it("names rule files as the Lambda sees them, relative to the bundle root", () => {
    const pack = rulePackFromPrecompiled(precompileRulePack([RULES], {}, ROOT), "rule-pack.json");
    expect(pack.rules.every((rule) => rule.source.startsWith("rules/"))).toBe(true);
  });
});

describe("precompiling refuses", () => {
  const dir = useTempDir("precompiled-");

  it("an override the Lambda would refuse, naming the key", () => {
    expect(() =>
      precompileRulePack([RULES], { rules: { no_such_rule: { enabled: false } } }, ROOT),
    ).toThrowError(/key 'AUDIT_TRAIL_RULE_OVERRIDES\.rules\.no_such_rule': no rule named 'no_such_rule'/);
  });

  it("a value JSON cannot carry unchanged, naming the file, rule and key", () => {
    // Prepare: YAML's .inf is a number JSON has no word for
    const set = validateRuleSources([
      { file: "rules/inf.yml", text: ruleYaml("sel:\n  event.duration|gt: .inf\ncondition: sel", "", "inf") },
    ]);
    // Act / Assess
    expect(() => serializeRuleSet(set)).toThrowError(RuleError);
    expect(() => serializeRuleSet(set)).toThrowError(
      /rules\/inf\.yml, rule 'inf', key 'single\.detection\.sel\.event\.duration\|gt': the value is not representable in JSON \(Infinity becomes null\)/,
    );
  });

  it("a broken rule file, naming it", async () => {
    // Prepare
    const rules = join(dir(), "broken", "rules");
    await mkdir(rules, { recursive: true });
    await writeFile(join(rules, "bad.yml"), "title: [unclosed");
    // Act / Assess
    expect(() => precompileRulePack([rules], {}, dirname(rules))).toThrowError(
      /rules\/bad\.yml: invalid YAML/,
    );
  });
});

describe("loading a precompiled pack refuses", () => {
  const dir = useTempDir("precompiled-");

  it("a missing file, naming it", () => {
    const path = join(dir(), "absent.json");
    expect(() => loadPrecompiledRulePack(path)).toThrowError(`${path}: precompiled rule pack not found`);
  });

  it.each([
    ["text that is not JSON", "rules: []", /pack\.json: not a precompiled rule pack: /],
    ["another format", JSON.stringify({ format: "sigma/v9", rules: [] }), /key 'format'.*found "sigma\/v9"/],
    [
      "a pack without its rules",
      JSON.stringify({ format: PRECOMPILED_RULE_PACK_FORMAT, placeholders: {}, ruleOverrides: {} }),
      /pack\.json, key 'rules': missing or malformed/,
    ],
  ])("%s, naming the file and key", async (_label, text, message) => {
    const path = join(dir(), "pack.json");
    await writeFile(path, text);
    expect(() => loadPrecompiledRulePack(path)).toThrowError(message);
  });
});
