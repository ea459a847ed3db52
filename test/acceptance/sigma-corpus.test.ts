/**
 * SigmaHQ's 16 Kubernetes audit rules, loaded unchanged from the shared corpus, run on our ECS documents through
 * the field mapping: each fires on the Falco k8s-audit trace events that do what the rule describes, and on no
 * other. Rules without a matching Falco trace are checked on real trace events changed in the one field the rule
 * looks at.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../lambdas/core/normalize/index.js";
import { loadRulePack, type RulePack } from "../../lambdas/core/rules/index.js";
import { deepMerge } from "../../lambdas/core/rules/testing.js";
import { corpusPath } from "./corpus.js";

const SIGMA_DIR = corpusPath("k8s_audit", "rules_reference", "sigma");
const TRACES_DIR = corpusPath("k8s_audit", "falco_trace_files");

/** Trace file → the SigmaHQ rules that must fire on it (short names, without `kubernetes_audit_`). */
const EXPECTED: Readonly<Record<string, readonly string[]>> = {
  "exec_pod.json": ["exec_into_container"],
  "create_nginx_pod_privileged.json": ["privileged_pod_creation"],
  "create_nginx_pod_privileged_2nd_container.json": ["privileged_pod_creation"],
  "create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json": ["privileged_pod_creation"],
  "create_nginx_pod_sensitive_mount.json": ["hostpath_mount"],
  "create_nginx_pod_sensitive_mount_2nd_container.json": ["hostpath_mount"],
  "create_pod_kube_system_namespace.json": ["pod_in_system_namespace"],
  "create_secret.json": ["secrets_modified_or_deleted"],
  "delete_secret.json": ["secrets_modified_or_deleted"],
  "create_kube_system_secret.json": ["secrets_modified_or_deleted"],
  "create_service_account_token_secret.json": ["secrets_modified_or_deleted"],
  "create_serviceaccount.json": ["serviceaccount_creation"],
  "create_serviceaccount_kube_system_namespace.json": ["serviceaccount_creation"],
  "create_serviceaccount_kube_public_namespace.json": ["serviceaccount_creation"],
  "create_clusterrolebinding.json": ["rolebinding_modification"],
  "delete_clusterrolebinding.json": ["rolebinding_modification"],
  "attach_cluster_admin_role.json": ["rolebinding_modification"],
  "delete_deployment.json": ["deployment_deleted"],
};

function short(name: string): string {
  return name.replace(/^kubernetes_audit_/, "");
}

function normalize(line: string): EcsDocument[] {
  const result = normalizeRecord(line);
  return result.ok ? result.documents : [];
}

function traceLines(file: string): string[] {
  return readFileSync(`${TRACES_DIR}/${file}`, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "");
}

/** A real trace event with some audit fields replaced (deep-merged), normalized. */
function variant(file: string, change: Record<string, unknown>): EcsDocument {
  const event = JSON.parse(traceLines(file)[0] as string) as Record<string, unknown>;
  const docs = normalize(JSON.stringify(deepMerge(event, change)));
  expect(docs).toHaveLength(1);
  return docs[0] as EcsDocument;
}

describe("SigmaHQ Kubernetes audit rules on Falco trace events", () => {
  let pack: RulePack;
  beforeAll(async () => {
    pack = await loadRulePack([SIGMA_DIR]);
  });

  it("load unchanged: all 16, each under its file name", () => {
    const files = readdirSync(SIGMA_DIR).filter((file) => file.endsWith(".yml"));
    expect(files).toHaveLength(16);
    expect(pack.singleEventRules.map((rule) => `${rule.name}.yml`).sort()).toEqual(files.sort());
  });

  const traces = readdirSync(TRACES_DIR)
    .filter((file) => file.endsWith(".json") && !file.startsWith("labels_"))
    .sort();

  it("cover every labelled trace file of the corpus", () => {
    for (const file of Object.keys(EXPECTED)) expect(traces).toContain(file);
  });

  for (const file of traces) {
    const expected = EXPECTED[file] ?? [];
    it(`${basename(file, ".json")}: ${expected.length === 0 ? "no rule fires" : expected.join(", ")}`, () => {
      const matched = new Set(
        traceLines(file)
          .flatMap(normalize)
          .flatMap((doc) => pack.matchSingleEvent(doc).map(short)),
      );
      expect([...matched].sort()).toEqual([...expected].sort());
    });
  }

  const variants: [string, string, Record<string, unknown>][] = [
    ["unauthorized_unauthenticated_actions", "create_deployment.json", { responseStatus: { code: 403 } }],
    [
      "cronjob_modification",
      "create_deployment.json",
      { objectRef: { apiGroup: "batch", resource: "cronjobs" } },
    ],
    [
      "change_admission_controller",
      "create_deployment.json",
      {
        objectRef: { apiGroup: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations" },
      },
    ],
    ["events_deleted", "delete_deployment.json", { objectRef: { resource: "events" } }],
    ["sidecar_injection", "create_deployment.json", { verb: "patch", objectRef: { apiGroup: "apps" } }],
    ["secrets_enumeration", "create_secret.json", { verb: "list" }],
    [
      "rbac_permisions_listing",
      "create_deployment.json",
      { objectRef: { apiGroup: "authorization.k8s.io", resource: "selfsubjectrulesreviews" } },
    ],
  ];
  for (const [rule, file, change] of variants) {
    it(`${rule} fires on ${file} changed in the field it checks`, () => {
      expect(pack.matchSingleEvent(variant(file, change)).map(short)).toContain(rule);
    });
  }

  it("potential_enumeration_activity needs responseStatus.code ALLOW, which native audit events never carry", () => {
    const doc = variant("exec_pod.json", { userAgent: "access_matrix/0.1" });
    expect(pack.get("kubernetes_audit_potential_enumeration_activity")?.kind).toBe("single");
    expect(pack.matchSingleEvent(doc).map(short)).not.toContain("potential_enumeration_activity");
    // The rule's logic itself runs: on a document that does carry the value, it fires.
    const allowed = structuredClone(doc);
    (allowed.kubernetes?.audit?.responseStatus ?? {}).code = "ALLOW" as unknown as number;
    expect(pack.matchSingleEvent(allowed).map(short)).toContain("potential_enumeration_activity");
  });
});
