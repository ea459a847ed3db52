/**
 * Coverage of the default pack on Falco's labelled Kubernetes audit trace files: for every test of Falco's
 * `falco_k8s_audit_tests.yaml` that runs with Falco's default rules only (no overlay rules file), a trace file where
 * Falco expects a detection must raise at least one of our alerts, and one where Falco expects none must raise
 * nothing. Each file is replayed on its own, as `audit-trail replay FILE` would. The table in docs/coverage.md is
 * this test's output (`K8S_COVERAGE_TABLE=1` prints it).
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadRulePack, type RulePack } from "../../lambdas/core/rules/index.js";
import { corpusPath } from "./corpus.js";
import { replayFiles } from "./k8s-replay.js";

interface FalcoLabel {
  readonly test: string;
  readonly trace_file: string;
  readonly detect: boolean;
  readonly detect_counts: readonly Record<string, number>[] | null;
  readonly rules_files: readonly string[];
}

const TRACES = corpusPath("k8s_audit", "falco_trace_files");
const DEFAULT_RULES_FILES = new Set(["falco_rules.yaml", "k8s_audit_rules.yaml"]);

const labels = (
  JSON.parse(readFileSync(`${TRACES}/labels_from_falco_k8s_audit_tests.json`, "utf8")) as FalcoLabel[]
).filter((label) => label.rules_files.every((file) => DEFAULT_RULES_FILES.has(file)));

describe("default pack on Falco's labelled k8s audit traces (Falco default rules only)", () => {
  let pack: RulePack;
  const fired = new Map<string, string[]>();
  beforeAll(async () => {
    pack = await loadRulePack(["rules"]);
    for (const label of labels) {
      const alerts = await replayFiles(pack, [`${TRACES}/${label.trace_file}`]);
      fired.set(label.test, [...new Set(alerts.map((alert) => alert.rule.name))].sort());
    }
  });

  it("selects the 41 default-rules tests: 35 expected detections and 6 negatives", () => {
    expect(labels).toHaveLength(41);
    expect(labels.filter((label) => label.detect)).toHaveLength(35);
  });

  for (const label of labels) {
    const falco = label.detect_counts?.flatMap((counts) => Object.keys(counts)).join(", ") ?? "nothing";
    if (label.detect) {
      it(`${label.trace_file} (Falco: ${falco}) raises at least one alert`, () => {
        expect(fired.get(label.test)).not.toEqual([]);
      });
    } else {
      it(`${label.trace_file} (Falco: nothing) raises nothing`, () => {
        expect(fired.get(label.test)).toEqual([]);
      });
    }
  }

  it("meets the target: at least 33 of 35 detections, 0 of 6 negatives", () => {
    const detected = labels.filter((label) => label.detect && (fired.get(label.test) ?? []).length > 0);
    const falsePositives = labels.filter(
      (label) => !label.detect && (fired.get(label.test) ?? []).length > 0,
    );
    if (process.env.K8S_COVERAGE_TABLE === "1") {
      const rows = labels.map((label) => {
        const falco = label.detect_counts?.flatMap((counts) => Object.keys(counts)).join(", ") ?? "—";
        const ours = (fired.get(label.test) ?? []).map((name) => `\`${name}\``).join(", ") || "—";
        const ok = label.detect === (fired.get(label.test) ?? []).length > 0 ? "yes" : "**no**";
        return `| \`${label.trace_file}\` | ${falco} | ${ours} | ${ok} |`;
      });
      console.log(
        [
          "| trace file | Falco expects | our alerts | agrees |",
          "|---|---|---|---|",
          ...rows,
          `\n${detected.length} of 35 detections, ${falsePositives.length} of 6 negatives fire`,
        ].join("\n"),
      );
    }
    expect(detected.length).toBeGreaterThanOrEqual(33);
    expect(falsePositives).toEqual([]);
  });
});
