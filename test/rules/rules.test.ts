/**
 * Every rule of the default pack (`rules/`) runs its own test events here, so `npm test` fails when a rule stops
 * firing on its positive events or starts firing on its negative ones.
 */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadRulePack } from "../../lambdas/core/rules/index.js";
import { runRuleTests } from "../../lambdas/core/rules/testing.js";

/**
 * The default pack's rule names, which must stay stable: alert ids, routing, runbook file names (docs/runbooks/)
 * and per-environment overrides name rules by them.
 */
const DEFAULT_PACK = [
  "mesh_auth_failure_burst",
  "mesh_plaintext_traffic",
  "mesh_plaintext_suspected",
  "mesh_admin_path_unexpected_identity",
  "mesh_bulk_data_access",
  "mesh_config_change",
  "mesh_service_discovery_scan",
  "mesh_unknown_identity",
  "mesh_error_rate_high",
  "mesh_latency_p99_high",
  "mesh_namespace_not_strict",
  "mesh_cert_rotation_overdue",
  "k8s_pod_exec",
  "k8s_api_public_access_failures",
  // Kubernetes audit coverage (docs/coverage.md): workload risk, RBAC and identity, credential access, exposure and
  // persistence, access, and the approved-network seed policy.
  "k8s_privileged_container",
  "k8s_dangerous_capabilities",
  "k8s_sensitive_hostpath_mount",
  "k8s_host_namespace",
  "k8s_container_runs_as_root",
  "k8s_ephemeral_container",
  "k8s_workload_in_system_namespace",
  "k8s_admin_role_binding",
  "k8s_wildcard_role",
  "k8s_sensitive_role",
  "k8s_system_role_modified",
  "k8s_service_account_in_system_namespace",
  "k8s_token_request",
  "k8s_csr_unusual_identity",
  "k8s_privileged_impersonation",
  "k8s_secrets_cluster_wide_read",
  "k8s_secrets_read_many_namespaces",
  "k8s_secret_access_denied_burst",
  "k8s_configmap_credential_keys",
  "k8s_service_exposed",
  "k8s_ingress_without_tls",
  "k8s_admission_webhook_change",
  "k8s_cronjob_outside_deploy",
  "k8s_daemonset_outside_deploy",
  "k8s_port_forward",
  "k8s_node_proxy_access",
  "k8s_anonymous_request_allowed",
  "k8s_system_principal_public_source",
  "k8s_change_from_unapproved_network",
  "k8s_manual_change",
  "k8s_events_deleted",
  "k8s_service_account_permission_enumeration",
  // Behaviour (docs/rules.md, rule kinds new_value and geo): first-seen and location rules.
  "mesh_new_service_edge",
  "k8s_new_identity_bulk_create",
  "k8s_user_new_country",
  "k8s_user_impossible_travel",
  // The pipeline's own health, published to the ops topic.
  "pipeline_canary",
  "pipeline_source_silent",
];

const report = await runRuleTests(["rules"]);

describe("the default rule pack", () => {
  it("holds exactly the alerting rules of the table", async () => {
    const pack = await loadRulePack(["rules"]);
    expect(
      pack.rules
        .filter((rule) => rule.generatesAlerts)
        .map((rule) => rule.name)
        .sort(),
    ).toEqual([...DEFAULT_PACK].sort());
  });

  it("gives every alerting rule a level, ATT&CK tags, fields and an existing runbook", async () => {
    const pack = await loadRulePack(["rules"]);
    for (const rule of pack.rules.filter((r) => r.generatesAlerts)) {
      expect(
        rule.tags.some((tag) => /^attack\.t\d{4}/.test(tag)),
        `${rule.name} technique tag`,
      ).toBe(true);
      expect(
        rule.tags.some((tag) => /^attack\.[a-z_]+$/.test(tag)),
        `${rule.name} tactic tag`,
      ).toBe(true);
      expect(rule.fields.length, `${rule.name} fields`).toBeGreaterThan(0);
      expect(rule.runbook).toBe(`docs/runbooks/${rule.name}.md`);
      expect(existsSync(rule.runbook), `${rule.runbook} exists`).toBe(true);
    }
  });

  it("has tests for every alerting rule", () => {
    expect(report.untested).toEqual([]);
    const tested = new Set(report.results.map((result) => result.rule));
    for (const name of DEFAULT_PACK) expect(tested.has(name), name).toBe(true);
  });

  for (const result of report.results) {
    it(`${result.rule}: ${result.expectation === "fires" ? "fires on" : "does not fire on"} ${result.description}`, () => {
      expect(result.message).toBe("");
      expect(result.passed).toBe(true);
    });
  }
});
