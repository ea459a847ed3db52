/**
 * False-positive budget of the default pack on normal Kubernetes operation: the bundled incident raises its six
 * intended alerts and nothing else, and the audit2rbac and Elastic audit samples of the corpus (discovery, lists,
 * impersonation of ordinary users, GKE and AKS control-plane traffic from public addresses) raise no Kubernetes
 * alert. Each file is replayed as `audit-trail replay FILE` would.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadRulePack, type RulePack } from "../../lambdas/core/rules/index.js";
import { INCIDENT_DIR, INCIDENT_RULES } from "../fixtures/incident.js";
import { corpusPath } from "./corpus.js";
import { replayFiles } from "./k8s-replay.js";

function names(alerts: readonly { rule: { name: string } }[]): string[] {
  return alerts.map((alert) => alert.rule.name).sort();
}

describe("default pack false-positive budget", () => {
  let pack: RulePack;
  beforeAll(async () => {
    pack = await loadRulePack(["rules"]);
  });

  it("examples/incident raises exactly its six intended alerts", async () => {
    const files = readdirSync(INCIDENT_DIR).map((file) => join(INCIDENT_DIR, file));
    expect(names(await replayFiles(pack, files))).toEqual(INCIDENT_RULES);
  });

  it("audit2rbac's demo log (impersonation of bob and a service account, 403s, lists) raises nothing", async () => {
    expect(names(await replayFiles(pack, [corpusPath("k8s_audit", "audit2rbac", "demo.log")]))).toEqual([]);
  });

  it("Elastic's audit samples (native, GKE and AKS records) raise no Kubernetes alert", async () => {
    const dir = corpusPath("k8s_audit", "elastic_integrations_kubernetes_audit_logs");
    const byFile = new Map<string, string[]>();
    for (const file of readdirSync(dir)) byFile.set(file, names(await replayFiles(pack, [join(dir, file)])));
    // test-audit.log's five records are months apart, so its sources go silent between them: that is the
    // pipeline's silence rule doing its job, not a Kubernetes detection.
    expect(byFile.get("test-audit.log")).toEqual(["pipeline_source_silent"]);
    expect(byFile.get("test-kube-audit.log")).toEqual([]);
  });
});
