/**
 * The example audit policy (examples/mesh/kubernetes/audit-policy.yaml), evaluated the way the API server does
 * (first matching rule sets the level; users, groups, verbs, resources and non-resource URLs as in
 * k8s.io/apiserver's policy checker): secrets are never recorded with their contents; exec and attach carry their
 * request; RBAC and mesh security changes are recorded in full; and every request the rule pack's Kubernetes rules
 * select is recorded.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { defaultRulesDir } from "../../lambdas/core/rules/index.js";
import { asMap } from "./fluent-bit-pipeline.js";
import { exampleOfKind } from "./mesh-examples.js";

const LEVELS = ["None", "Metadata", "Request", "RequestResponse"] as const;
type Level = (typeof LEVELS)[number];
const WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection"];
const ALL_VERBS = ["get", "list", "watch", ...WRITE_VERBS];

interface GroupResources {
  group?: string;
  resources?: string[];
  resourceNames?: string[];
}
interface PolicyRule {
  level: Level;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: GroupResources[];
  namespaces?: string[];
  nonResourceURLs?: string[];
  omitStages?: string[];
}
interface AuditRequest {
  user: string;
  groups: string[];
  verb: string;
  /** A resource request; absent for a non-resource URL. */
  resource?: { group: string; resource: string; subresource?: string; namespace?: string; name?: string };
  path?: string;
}

const policy = exampleOfKind("mesh/kubernetes/audit-policy.yaml", "Policy");
const rules = policy.rules as PolicyRule[];

/** k8s.io/apiserver/pkg/audit/policy `ruleMatches`. */
function ruleMatches(rule: PolicyRule, request: AuditRequest): boolean {
  if (rule.users && !rule.users.includes(request.user)) return false;
  if (rule.userGroups && !request.groups.some((g) => rule.userGroups?.includes(g))) return false;
  if (rule.verbs && !rule.verbs.includes(request.verb)) return false;
  if (rule.namespaces !== undefined || rule.resources !== undefined) {
    const r = request.resource;
    if (r === undefined) return false;
    if (rule.namespaces && !rule.namespaces.includes(r.namespace ?? "")) return false;
    if (rule.resources === undefined) return true;
    const combined = r.subresource === undefined ? r.resource : `${r.resource}/${r.subresource}`;
    return rule.resources.some((gr) => {
      if ((gr.group ?? "") !== r.group) return false;
      if (gr.resources === undefined || gr.resources.length === 0) return true;
      if (gr.resourceNames && !gr.resourceNames.includes(r.name ?? "")) return false;
      return gr.resources.some(
        (res) =>
          res === combined ||
          res === "*" ||
          (r.subresource !== undefined && res.startsWith("*/") && res.slice(2) === r.subresource) ||
          (res.endsWith("/*") && res.slice(0, -2) === r.resource),
      );
    });
  }
  if (rule.nonResourceURLs !== undefined) {
    if (request.path === undefined) return false;
    return rule.nonResourceURLs.some((u) =>
      u.endsWith("*") ? request.path?.startsWith(u.slice(0, -1)) : u === request.path,
    );
  }
  return true;
}

/** The level and the stages left out for a request: the first rule that matches decides. */
function evaluate(request: AuditRequest): { level: Level; omitStages: string[]; rule: number } {
  const index = rules.findIndex((rule) => ruleMatches(rule, request));
  if (index === -1) return { level: "None", omitStages: [], rule: -1 };
  const rule = rules[index] as PolicyRule;
  return {
    level: rule.level,
    omitStages: [...((policy.omitStages as string[]) ?? []), ...(rule.omitStages ?? [])],
    rule: index,
  };
}

const atLeast = (level: Level, minimum: Level) => LEVELS.indexOf(level) >= LEVELS.indexOf(minimum);

const HUMAN = { user: "alice@example.com", groups: ["system:authenticated", "platform-admins"] };
const IDENTITIES = [
  HUMAN,
  { user: "system:anonymous", groups: ["system:unauthenticated"] },
  { user: "system:node:ip-10-0-1-20", groups: ["system:nodes", "system:authenticated"] },
  {
    user: "system:serviceaccount:kube-system:replicaset-controller",
    groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
  },
  {
    user: "system:serviceaccount:kube-system:cilium",
    groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
  },
  {
    user: "system:serviceaccount:argocd:argocd-application-controller",
    groups: ["system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"],
  },
];
const resourceRequest = (
  identity: { user: string; groups: string[] },
  verb: string,
  group: string,
  resource: string,
  subresource?: string,
): AuditRequest => ({
  ...identity,
  verb,
  resource: { group, resource, namespace: "payments", name: "x", ...(subresource ? { subresource } : {}) },
});

describe("the audit policy is well formed", () => {
  it("is an audit.k8s.io/v1 Policy that records each request once, when its response is known", () => {
    expect(policy.apiVersion).toBe("audit.k8s.io/v1");
    expect(policy.omitStages).toEqual(["RequestReceived"]);
  });

  it("uses only the rule fields and levels the API server knows, and ends with a catch-all", () => {
    const known = [
      "level",
      "users",
      "userGroups",
      "verbs",
      "resources",
      "namespaces",
      "nonResourceURLs",
      "omitStages",
    ];
    for (const [i, rule] of rules.entries()) {
      expect(
        Object.keys(rule).filter((k) => !known.includes(k)),
        `rule ${i}`,
      ).toEqual([]);
      expect(LEVELS, `rule ${i}`).toContain(rule.level);
      for (const verb of rule.verbs ?? []) expect(ALL_VERBS, `rule ${i}`).toContain(verb);
      for (const gr of rule.resources ?? []) {
        expect(
          Object.keys(gr).filter((k) => !["group", "resources", "resourceNames"].includes(k)),
          `rule ${i}`,
        ).toEqual([]);
      }
      // The API server refuses a rule that mixes resources and non-resource URLs.
      expect(rule.nonResourceURLs !== undefined && rule.resources !== undefined, `rule ${i}`).toBe(false);
    }
    expect(rules.at(-1)).toEqual({ level: "Metadata" });
  });
});

describe("secrets and tokens: who touched them, never what they hold", () => {
  it.each([
    ["core", "secrets"],
    ["core", "configmaps"],
    ["core", "serviceaccounts/token"],
    ["authentication.k8s.io", "tokenreviews"],
  ])("%s %s is Metadata for every identity and verb", (group, resourcePath) => {
    const [resource, subresource] = resourcePath.split("/") as [string, string | undefined];
    for (const identity of IDENTITIES) {
      for (const verb of ALL_VERBS) {
        const apiGroup = group === "core" ? "" : group;
        const { level } = evaluate(resourceRequest(identity, verb, apiGroup, resource, subresource));
        expect(level, `${identity.user} ${verb}`).toBe("Metadata");
      }
    }
  });
});

describe("interactive access to containers", () => {
  it.each(["exec", "attach", "portforward", "ephemeralcontainers"])(
    "pods/%s is recorded with its request for every identity",
    (subresource) => {
      for (const identity of IDENTITIES) {
        // kubectl exec is a POST (create), or a GET when it streams over WebSockets.
        for (const verb of ["create", "get"]) {
          const { level } = evaluate(resourceRequest(identity, verb, "", "pods", subresource));
          expect(atLeast(level, "Request"), `${identity.user} ${verb} → ${level}`).toBe(true);
        }
      }
    },
  );
});

describe("changes to who may do what, and to mesh security, are recorded", () => {
  it("RBAC and admission webhooks: every change in full, whoever makes it", () => {
    const cases = [
      ["rbac.authorization.k8s.io", "clusterrolebindings"],
      ["rbac.authorization.k8s.io", "roles"],
      ["admissionregistration.k8s.io", "mutatingwebhookconfigurations"],
    ];
    for (const identity of IDENTITIES) {
      for (const verb of WRITE_VERBS) {
        for (const [group, resource] of cases) {
          const { level } = evaluate(resourceRequest(identity, verb, group as string, resource as string));
          expect(level, `${identity.user} ${verb} ${resource}`).toBe("RequestResponse");
        }
      }
    }
  });

  it.each([
    ["security.istio.io", "peerauthentications"],
    ["networking.istio.io", "destinationrules"],
    ["telemetry.istio.io", "telemetries"],
    ["policy.linkerd.io", "authorizationpolicies"],
    ["cilium.io", "ciliumnetworkpolicies"],
    ["consul.hashicorp.com", "serviceintentions"],
  ])("%s %s: every change in full, whoever makes it", (group, resource) => {
    for (const identity of IDENTITIES) {
      for (const verb of WRITE_VERBS) {
        expect(
          evaluate(resourceRequest(identity, verb, group, resource)).level,
          `${identity.user} ${verb}`,
        ).toBe("RequestResponse");
      }
    }
  });

  it("the Cilium agent's own endpoint bookkeeping is recorded without bodies; anyone else's in full", () => {
    const cilium = IDENTITIES[4] as { user: string; groups: string[] };
    expect(evaluate(resourceRequest(cilium, "update", "cilium.io", "ciliumendpoints")).level).toBe(
      "Metadata",
    );
    expect(evaluate(resourceRequest(HUMAN, "update", "cilium.io", "ciliumendpoints")).level).toBe(
      "RequestResponse",
    );
  });

  it("pod specs (privileged, host paths, capabilities) are recorded with the request", () => {
    for (const verb of ["create", "update", "patch"]) {
      expect(atLeast(evaluate(resourceRequest(HUMAN, verb, "", "pods")).level, "Request"), verb).toBe(true);
      expect(
        atLeast(evaluate(resourceRequest(HUMAN, verb, "apps", "deployments")).level, "Request"),
        verb,
      ).toBe(true);
    }
  });

  it("deleting events (covering tracks) is recorded, writing them is not", () => {
    expect(atLeast(evaluate(resourceRequest(HUMAN, "delete", "", "events")).level, "Metadata")).toBe(true);
    expect(evaluate(resourceRequest(HUMAN, "create", "", "events")).level).toBe("None");
  });
});

describe("failed and unauthenticated requests (k8s_api_public_access_failures)", () => {
  it("records anonymous and authenticated requests to resources and the discovery API", () => {
    for (const identity of IDENTITIES.slice(0, 2)) {
      expect(evaluate(resourceRequest(identity, "list", "", "pods")).level).toBe("Metadata");
      expect(evaluate({ ...identity, verb: "get", path: "/api" }).level).toBe("Metadata");
      expect(evaluate({ ...identity, verb: "get", path: "/apis/rbac.authorization.k8s.io/v1" }).level).toBe(
        "Metadata",
      );
    }
  });

  it("leaves out health checks only", () => {
    for (const path of ["/healthz", "/livez/ping", "/readyz", "/version"]) {
      expect(evaluate({ ...HUMAN, verb: "get", path }).level, path).toBe("None");
    }
  });
});

/** The requests each single-event rule on `kubernetes.audit` selects, read from its Sigma detection. */
function requestsSelectedByAuditRules(): { rule: string; request: AuditRequest }[] {
  const out: { rule: string; request: AuditRequest }[] = [];
  const dir = join(defaultRulesDir(), "k8s");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".yml") && !f.endsWith(".tests.yml"))) {
    for (const document of parseAllDocuments(readFileSync(join(dir, file), "utf8"))) {
      const rule = asMap(document.toJS(), file);
      // Correlation rules have no detection of their own; they count what the single-event rules select.
      if (rule.detection === undefined || asMap(rule.logsource, `${file} logsource`).service !== "audit")
        continue;
      const selections = Object.entries(asMap(rule.detection, `${file} detection`)).filter(
        ([name, value]) => name !== "condition" && !name.startsWith("filter") && typeof value === "object",
      ) as [string, Record<string, unknown>][];
      const list = (v: unknown): string[] =>
        v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
      const verbs = selections.flatMap(([, s]) => list(s.verb));
      for (const [, selection] of selections) {
        const resources = list(selection["objectRef.resource"]);
        if (resources.length === 0) continue;
        const groups = list(selection["objectRef.apiGroup"]);
        const subresources = list(selection["objectRef.subresource"]);
        for (const group of groups.length > 0 ? groups : [""]) {
          for (const resource of resources) {
            for (const subresource of subresources.length > 0 ? subresources : [undefined]) {
              for (const verb of verbs.length > 0 ? verbs : ["get"]) {
                out.push({
                  rule: String(rule.name),
                  request: resourceRequest(HUMAN, verb, group, resource, subresource),
                });
              }
            }
          }
        }
      }
    }
  }
  return out;
}

describe("the rule pack's Kubernetes rules get the events they read", () => {
  const selected = requestsSelectedByAuditRules();

  it("finds the requests of every rule that selects resources in the rule files", () => {
    const names = new Set(selected.map((s) => s.rule));
    expect(names).toEqual(
      new Set([
        "k8s_admin_role_binding",
        "k8s_admission_webhook_change",
        "k8s_configmap_credential_keys",
        "k8s_container_runs_as_root",
        "k8s_cronjob_outside_deploy",
        "k8s_csr_unusual_identity",
        "k8s_daemonset_outside_deploy",
        "k8s_dangerous_capabilities",
        "k8s_ephemeral_container",
        "k8s_events_deleted",
        "k8s_host_namespace",
        "k8s_ingress_without_tls",
        "k8s_manual_change",
        "k8s_node_proxy_access",
        "k8s_pod_exec",
        "k8s_port_forward",
        "k8s_privileged_container",
        "k8s_secret_access_denied",
        "k8s_secret_read",
        "k8s_secrets_cluster_wide_read",
        "k8s_sensitive_hostpath_mount",
        "k8s_sensitive_role",
        "k8s_service_account_in_system_namespace",
        "k8s_service_account_permission_enumeration",
        "k8s_service_exposed",
        "k8s_system_role_modified",
        "k8s_token_request",
        "k8s_wildcard_role",
        "k8s_workload_in_system_namespace",
        "mesh_config_change",
      ]),
    );
    expect(selected.length).toBeGreaterThan(50);
  });

  it("records the request body the workload, RBAC, service and ingress rules read (not ConfigMap or Secret bodies)", () => {
    const bodies: [string, string][] = [
      ["", "pods"],
      ["apps", "deployments"],
      ["apps", "daemonsets"],
      ["batch", "cronjobs"],
      ["rbac.authorization.k8s.io", "clusterroles"],
      ["rbac.authorization.k8s.io", "rolebindings"],
      ["", "services"],
      ["networking.k8s.io", "ingresses"],
    ];
    for (const [group, resource] of bodies) {
      for (const verb of ["create", "update"]) {
        const { level } = evaluate(resourceRequest(HUMAN, verb, group, resource));
        expect(atLeast(level, "Request"), `${verb} ${group}/${resource} → ${level}`).toBe(true);
      }
    }
    // By design the policy keeps ConfigMap and Secret bodies out, so k8s_configmap_credential_keys and the legacy
    // token-secret branch of k8s_token_request only see them where a cluster's own policy records them.
    expect(evaluate(resourceRequest(HUMAN, "create", "", "configmaps")).level).toBe("Metadata");
  });

  it("records each of them at Metadata or more, at the ResponseComplete stage the rules require", () => {
    for (const { rule, request } of selected) {
      const r = request.resource;
      const where = `${rule}: ${request.verb} ${r?.group}/${r?.resource}${r?.subresource ? `/${r.subresource}` : ""}`;
      const { level, omitStages } = evaluate(request);
      expect(atLeast(level, "Metadata"), `${where} → ${level}`).toBe(true);
      expect(omitStages, where).not.toContain("ResponseComplete");
    }
  });
});
