/**
 * Our Kubernetes pack next to SigmaHQ's 16 Kubernetes audit rules: both load together unchanged (as
 * `audit-trail replay --rules <sigma dir>` loads them), and the per-technique table in docs/coverage.md is exactly
 * what the two packs' ATT&CK tags say (`K8S_COVERAGE_TABLE=1` prints the table).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadRulePack } from "../../lambdas/core/rules/index.js";
import type { CompiledRule } from "../../lambdas/core/rules/types.js";
import { corpusPath } from "./corpus.js";

const SIGMA_DIR = corpusPath("k8s_audit", "rules_reference", "sigma");

/** ATT&CK technique ids (`T1609`, `T1552.007`) of rules, each with the rules that carry it. */
function techniques(rules: readonly CompiledRule[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const rule of rules) {
    for (const tag of rule.tags) {
      const match = /^attack\.(t\d{4}(?:\.\d{3})?)$/i.exec(tag);
      if (match === null) continue;
      const id = (match[1] as string).toUpperCase();
      out.set(id, [...(out.get(id) ?? []), rule.name]);
    }
  }
  return out;
}

describe("our Kubernetes pack beside SigmaHQ's", () => {
  it("loads with SigmaHQ's 16 rules unchanged, every name once", async () => {
    const both = await loadRulePack(["rules", SIGMA_DIR]);
    const sigma = both.rules.filter((rule) => rule.name.startsWith("kubernetes_audit_"));
    expect(sigma).toHaveLength(16);
  });

  it("docs/coverage.md's technique table matches the packs' tags", async () => {
    const ours = (await loadRulePack(["rules"])).rules.filter(
      (rule) => rule.name.startsWith("k8s_") && rule.generatesAlerts,
    );
    const sigma = (await loadRulePack([SIGMA_DIR])).rules;
    const mine = techniques(ours);
    const theirs = techniques(sigma);
    const ids = [...new Set([...mine.keys(), ...theirs.keys()])].sort();
    const rows = ids.map((id) => {
      const a = mine.get(id) ?? [];
      const b = theirs.get(id) ?? [];
      const who = a.length > 0 && b.length > 0 ? "both" : a.length > 0 ? "ours" : "SigmaHQ";
      const list = (names: string[]) => names.map((name) => `\`${name}\``).join(", ") || "—";
      return `| ${id} | ${who} | ${list(a)} | ${list(b.map((name) => name.replace(/^kubernetes_audit_/, "")))} |`;
    });
    const table = [
      "| technique | covered by | our rules | SigmaHQ rules |",
      "|---|---|---|---|",
      ...rows,
    ].join("\n");
    if (process.env.K8S_COVERAGE_TABLE === "1") console.log(table);
    expect(readFileSync("docs/coverage.md", "utf8")).toContain(table);
  });
});
