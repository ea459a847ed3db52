/**
 * Our virtual fields for Kubernetes audit rules: `podSpec.<path>` and `container.<path>` reach the pod spec of a
 * Pod or of any controller that templates pods, `rbacPermission` pairs verbs and resources inside one RBAC rule,
 * and `dataKey` reads the keys of a ConfigMap or Secret, never the values.
 */
import { describe, expect, it } from "vitest";
import { auditDoc, packOf, ruleYaml } from "./helpers.js";

const AUDIT = "product: kubernetes\n  service: audit";

function matcher(detection: string) {
  const pack = packOf([ruleYaml(detection, "", "t_rule", AUDIT)]);
  const rule = pack.get("t_rule");
  if (rule?.kind !== "single") throw new Error("expected a single-event rule");
  return (doc: ReturnType<typeof auditDoc>) => rule.matches(doc);
}

function withObject(resource: string, requestObject: unknown) {
  return auditDoc({ kubernetes: { audit: { objectRef: { resource }, requestObject } } });
}

const privilegedSpec = {
  containers: [{ name: "app", image: "nginx" }],
  initContainers: [{ name: "init", image: "busybox", securityContext: { privileged: true } }],
  hostPID: true,
};

describe("podSpec.* and container.*", () => {
  const hostPid = matcher("sel:\n  podSpec.hostPID: true\ncondition: sel");
  const privileged = matcher("sel:\n  container.securityContext.privileged: true\ncondition: sel");

  it("reach the spec of a Pod, of a pod-templating controller and of a CronJob", () => {
    // Prepare
    const docs = [
      withObject("pods", { kind: "Pod", spec: privilegedSpec }),
      withObject("deployments", { kind: "Deployment", spec: { template: { spec: privilegedSpec } } }),
      withObject("daemonsets", { spec: { template: { spec: privilegedSpec } } }),
      withObject("cronjobs", {
        kind: "CronJob",
        spec: { jobTemplate: { spec: { template: { spec: privilegedSpec } } } },
      }),
      withObject("podtemplates", { kind: "PodTemplate", template: { spec: privilegedSpec } }),
    ];
    // Act / Assess
    for (const doc of docs) {
      expect(hostPid(doc)).toBe(true);
      expect(privileged(doc)).toBe(true);
    }
  });

  it("do not read a Service's spec or a request without an object as a pod spec", () => {
    expect(hostPid(withObject("services", { kind: "Service", spec: { hostPID: true } }))).toBe(false);
    expect(privileged(auditDoc())).toBe(false);
  });

  it("look at each container on its own (ephemeral containers included)", () => {
    const both = matcher(
      "sel:\n  container.name: debugger\n  container.securityContext.privileged: true\ncondition: sel",
    );
    const ephemeral = withObject("pods", {
      spec: {
        containers: [{ name: "app", securityContext: { privileged: true } }],
        ephemeralContainers: [{ name: "debugger", image: "busybox" }],
      },
    });
    // Two fields of one selection are an AND over the document (Sigma), each matched by any container.
    expect(both(ephemeral)).toBe(true);
    expect(matcher("sel:\n  container.image: busybox\ncondition: sel")(ephemeral)).toBe(true);
    expect(matcher("sel:\n  container.image: nginx\ncondition: sel")(ephemeral)).toBe(false);
  });

  it("match a negative-lookahead regex on any single container (an image outside a trusted registry)", () => {
    const untrusted = matcher("sel:\n  container.image|re: '^(?!registry\\.k8s\\.io/)'\ncondition: sel");
    const trusted = { containers: [{ image: "registry.k8s.io/kube-proxy:v1.30.0" }] };
    const mixed = { containers: [{ image: "registry.k8s.io/kube-proxy:v1.30.0" }, { image: "evil/miner" }] };
    expect(untrusted(withObject("pods", { spec: trusted }))).toBe(false);
    expect(untrusted(withObject("pods", { spec: mixed }))).toBe(true);
  });
});

describe("capabilities (Sigma's field)", () => {
  const sysAdmin = matcher("sel:\n  capabilities: SYS_ADMIN\ncondition: sel");
  const all = matcher("sel:\n  capabilities: ALL\ncondition: sel");
  const adding = (add: string[]) => ({
    containers: [{ name: "app", image: "nginx", securityContext: { capabilities: { add } } }],
  });

  it("reads the capabilities a Pod's or a pod template's containers add", () => {
    const docs = [
      withObject("pods", { kind: "Pod", spec: adding(["SYS_ADMIN"]) }),
      withObject("deployments", { kind: "Deployment", spec: { template: { spec: adding(["SYS_ADMIN"]) } } }),
      withObject("cronjobs", {
        kind: "CronJob",
        spec: { jobTemplate: { spec: { template: { spec: adding(["SYS_ADMIN"]) } } } },
      }),
    ];
    for (const doc of docs) expect(sysAdmin(doc)).toBe(true);
    expect(sysAdmin(withObject("pods", { kind: "Pod", spec: adding(["NET_BIND_SERVICE"]) }))).toBe(false);
  });

  it("counts a privileged container, in a template too, as asking for ALL", () => {
    expect(all(withObject("daemonsets", { spec: { template: { spec: privilegedSpec } } }))).toBe(true);
  });

  it("does not read a Service's spec as a pod spec", () => {
    expect(sysAdmin(withObject("services", { kind: "Service", spec: adding(["SYS_ADMIN"]) }))).toBe(false);
  });
});

describe("hostPath (Sigma's field)", () => {
  const etc = matcher("sel:\n  hostPath|startswith: /etc\ncondition: sel");
  const mounting = (path: string) => ({
    containers: [{ name: "app", image: "nginx" }],
    volumes: [{ name: "host", hostPath: { path } }],
  });

  it("reads the hostPath volumes of a Pod's or a pod template's spec", () => {
    expect(etc(withObject("pods", { kind: "Pod", spec: mounting("/etc/kubernetes") }))).toBe(true);
    expect(etc(withObject("statefulsets", { spec: { template: { spec: mounting("/etc") } } }))).toBe(true);
    expect(etc(withObject("pods", { kind: "Pod", spec: mounting("/var/log") }))).toBe(false);
    expect(etc(withObject("services", { kind: "Service", spec: mounting("/etc") }))).toBe(false);
  });
});

describe("rbacPermission", () => {
  const writesSecrets = matcher("sel:\n  rbacPermission: ['create:secrets', '\\*:secrets']\ncondition: sel");

  it("pairs each verb with each resource of the same rule", () => {
    const role = withObject("clusterroles", {
      rules: [{ apiGroups: [""], resources: ["secrets", "configmaps"], verbs: ["get", "create"] }],
    });
    expect(writesSecrets(role)).toBe(true);
  });

  it("never pairs a verb of one rule with a resource of another", () => {
    const role = withObject("roles", {
      rules: [
        { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] },
        { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
      ],
    });
    expect(writesSecrets(role)).toBe(false);
  });

  it("matches wildcard grants literally and names non-resource URLs", () => {
    const star = withObject("clusterroles", { rules: [{ resources: ["secrets"], verbs: ["*"] }] });
    const url = withObject("clusterroles", { rules: [{ nonResourceURLs: ["/healthz"], verbs: ["delete"] }] });
    expect(writesSecrets(star)).toBe(true);
    expect(matcher("sel:\n  rbacPermission: 'delete:/*'\ncondition: sel")(url)).toBe(true);
  });
});

describe("dataKey", () => {
  const credentialKey = matcher("sel:\n  dataKey|contains: password\ncondition: sel");

  it("matches the keys of data, binaryData and stringData", () => {
    expect(credentialKey(withObject("configmaps", { data: { DB_PASSWORD: "x" } }))).toBe(true);
    expect(credentialKey(withObject("configmaps", { binaryData: { "password.bin": "eA==" } }))).toBe(true);
    expect(credentialKey(withObject("secrets", { stringData: { password: "[REDACTED]" } }))).toBe(true);
  });

  it("never matches a value", () => {
    expect(
      credentialKey(withObject("configmaps", { data: { "app.properties": "password = hunter2" } })),
    ).toBe(false);
  });
});
