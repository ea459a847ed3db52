/**
 * The two posture rules on the planted traffic and audit events, through replay (the same evaluation the transform
 * and detector make of single-event rules): each fires exactly on the planted cases.
 */
import { describe, expect, it } from "vitest";
import { normalizeRecord } from "../../../../lambdas/core/normalize/index.js";
import { type Detection, defaultRulesDir, loadRulePack } from "../../../../lambdas/core/rules/index.js";
import { type ReplayRecord, replay } from "../../../../lambdas/core/rules/replay.js";
import { plantedDocuments } from "./planted.js";

async function* stream(texts: readonly string[]): AsyncGenerator<ReplayRecord> {
  for (const [index, text] of texts.entries()) yield { file: "planted", line: index + 1, text };
}

async function planted(overrides?: unknown): Promise<Detection[]> {
  const pack = await loadRulePack([defaultRulesDir()], overrides);
  const docs = plantedDocuments().sort((a, b) => a["@timestamp"].localeCompare(b["@timestamp"]));
  const detections: Detection[] = [];
  await replay(
    [stream(docs.map((doc) => JSON.stringify(doc)))],
    pack,
    (text) => normalizeRecord(text, { trustDocuments: true }),
    (detection) => detections.push(detection),
  );
  return detections;
}

function groups(detections: readonly Detection[], rule: string): Record<string, string>[] {
  return detections.filter((d) => d.rule.name === rule).map((d) => ({ ...d.groupBy }));
}

describe("the posture rules on the planted cases", () => {
  it("mesh_cert_rotation_overdue fires once, for the workload with the 30-hour-old certificate", async () => {
    const detections = await planted();
    const overdue = detections.filter((d) => d.rule.name === "mesh_cert_rotation_overdue");
    expect(overdue.map((d) => [d.groupBy["mesh.source.principal"], d.count])).toEqual([
      ["spiffe://cluster.local/ns/permissive-ns/sa/legacy", 5],
    ]);
  });

  it("mesh_namespace_not_strict fires for permissive-ns only, once per day it carries traffic after bob's PERMISSIVE patch", async () => {
    const found = (await planted())
      .filter((d) => d.rule.name === "mesh_namespace_not_strict")
      .map((d) => [d.groupBy, d.windowStart, d.count]);
    // strict-ns inherits the mesh-wide STRICT, ingress is on the allow list, undeclared-ns (edge) has no declaration.
    expect(found).toEqual([
      [
        { "orchestrator.cluster.name": "prod", "mesh.destination.namespace": "permissive-ns" },
        "2026-03-04T08:00:00.000Z",
        20,
      ],
      [
        { "orchestrator.cluster.name": "prod", "mesh.destination.namespace": "permissive-ns" },
        "2026-03-05T09:00:00.000Z",
        8,
      ],
    ]);
  });

  it("with ingress off the allow list, ingress's PERMISSIVE namespace carrying plaintext fires too", async () => {
    const found = groups(
      await planted({ placeholders: { mesh_permissive_namespaces: [] } }),
      "mesh_namespace_not_strict",
    );
    expect(found).toContainEqual({
      "orchestrator.cluster.name": "prod",
      "mesh.destination.namespace": "ingress",
    });
    expect(found).toHaveLength(3);
  });
});
