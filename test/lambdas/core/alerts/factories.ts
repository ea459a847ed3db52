/**
 * Test factories: compiled rules and ECS events written by hand in the shapes the rule engine and the normalizer
 * produce. Shared by the alert, detection and detector tests.
 */
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import type {
  CorrelationRule,
  Detection,
  SilenceRule,
  SingleEventRule,
} from "../../../../lambdas/core/rules/types.js";

export function singleRule(overrides: Partial<SingleEventRule> = {}): SingleEventRule {
  return {
    kind: "single",
    id: "5b0f8e9c-3c1e-4d8e-9f0a-6a1f4d1c2b3a",
    name: "k8s_pod_exec",
    title: "Exec or attach into a pod container",
    description: "A user ran a command inside a running container.",
    level: "high",
    tags: ["attack.t1609", "attack.execution"],
    fields: [
      "kubernetes.audit.objectRef.namespace",
      "kubernetes.audit.objectRef.name",
      "kubernetes.audit.user.username",
      "kubernetes.audit.auditID",
    ],
    falsepositives: ["Legitimate debugging"],
    runbook: "docs/runbooks/k8s_pod_exec.md",
    topic: "severity",
    generatesAlerts: true,
    suppression: { ms: 0, groupBy: [] },
    source: "rules/k8s_pod_exec.yml",
    logsource: { product: "kubernetes", service: "audit" },
    matches: (doc) => doc.kubernetes?.audit?.objectRef?.subresource === "exec",
    ...overrides,
  };
}

export function correlationRule(overrides: Partial<CorrelationRule> = {}): CorrelationRule {
  return {
    kind: "correlation",
    id: "0d9b3c55-1f43-4b6e-a1c2-7e5d4f3a2b10",
    name: "mesh_auth_failure_burst",
    title: "Burst of authorization failures from one identity",
    description: "One source identity got at least 3 responses 401/403 within a minute.",
    level: "medium",
    tags: ["attack.t1110", "attack.credential_access"],
    fields: ["mesh.source.principal", "mesh.destination.service"],
    falsepositives: [],
    runbook: "docs/runbooks/mesh_auth_failure_burst.md",
    topic: "severity",
    generatesAlerts: true,
    suppression: { ms: 60_000, groupBy: [] },
    source: "rules/mesh_auth_failure_burst.yml",
    type: "event_count",
    rules: ["mesh_auth_failure"],
    groupBy: ["mesh.source.principal"],
    timespanMs: 60_000,
    condition: { gte: 3 },
    minCount: 0,
    generate: false,
    ...overrides,
  };
}

export function publicAccessRule(overrides: Partial<CorrelationRule> = {}): CorrelationRule {
  return correlationRule({
    id: "9a7c1e22-8b4d-4f0e-b5a3-2c6d8e1f0a77",
    name: "k8s_api_public_access_failures",
    title: "Failing API-server requests from a public address",
    description: "One public source IP made at least 10 requests and more than half failed.",
    level: "high",
    tags: ["attack.t1190", "attack.initial_access"],
    fields: ["source.ip", "source.geo.country_iso_code"],
    runbook: "docs/runbooks/k8s_api_public_access_failures.md",
    source: "rules/k8s_api_public_access_failures.yml",
    type: "failure_ratio",
    rules: ["k8s_api_public_request", "k8s_api_public_request_failed"],
    failures: "k8s_api_public_request_failed",
    groupBy: ["source.ip"],
    timespanMs: 300_000,
    suppression: { ms: 300_000, groupBy: [] },
    condition: { gt: 0.5 },
    minCount: 10,
    ...overrides,
  });
}

/** The default pack's `pipeline_source_silent` as compiled (15-minute silence, 24 h look-back); `overrides` replace keys. */
export function silenceRule(overrides: Partial<SilenceRule> = {}): SilenceRule {
  return {
    kind: "silence",
    id: "78114488-d210-4466-96ad-8e36ada3bac7",
    name: "pipeline_source_silent",
    title: "A log source went silent",
    description: "A source stopped sending.",
    level: "high",
    tags: ["attack.t1562.008"],
    fields: ["orchestrator.cluster.name", "event.dataset"],
    falsepositives: [],
    runbook: "docs/runbooks/pipeline_source_silent.md",
    topic: "ops",
    generatesAlerts: true,
    suppression: { ms: 15 * 60_000, groupBy: [] },
    source: "rules/pipeline/pipeline_source_silent.yml",
    groupBy: ["orchestrator.cluster.name", "event.dataset"],
    timespanMs: 15 * 60_000,
    lookbackMs: 24 * 60 * 60_000,
    expected: [],
    excludeRules: ["pipeline_canary"],
    ...overrides,
  };
}

/** A `kubectl exec` by the shared kubeadm admin whose RBAC reason names the real user. */
export function execEvent(overrides: Partial<EcsDocument> = {}): EcsDocument {
  return {
    "@timestamp": "2025-03-04T10:15:42.120Z",
    ecs: { version: "8.17.0" },
    event: {
      kind: "event",
      category: ["api"],
      type: ["access"],
      action: "create",
      outcome: "success",
      dataset: "kubernetes.audit",
      id: "7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
    },
    source: { ip: "10.20.30.40" },
    user: { name: "kubernetes-admin" },
    kubernetes: {
      audit: {
        auditID: "7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
        verb: "create",
        stage: "ResponseStarted",
        requestURI:
          "/api/v1/namespaces/payments/pods/ledger-6c9d7b5f4-x2kqz/exec?command=sh&command=-c&command=cat%20%2Fetc%2Fshadow&container=ledger&stdin=true&stdout=true&tty=true",
        user: { username: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] },
        sourceIPs: ["10.20.30.40"],
        objectRef: {
          resource: "pods",
          subresource: "exec",
          namespace: "payments",
          name: "ledger-6c9d7b5f4-x2kqz",
        },
        responseStatus: { code: 101 },
        annotations: {
          "authorization.k8s.io/decision": "allow",
          "authorization.k8s.io/reason":
            'RBAC: allowed by ClusterRoleBinding "oncall-alice" of ClusterRole "cluster-admin" to User "alice"',
        },
      },
    },
    rule: { name: ["k8s_pod_exec"] },
    ...overrides,
  };
}

/** A mesh request from `principal` answered `status`. */
export function meshRequest(principal: string, timestamp: string, status = 403): EcsDocument {
  return {
    "@timestamp": timestamp,
    ecs: { version: "8.17.0" },
    event: {
      kind: "event",
      category: ["network", "web"],
      type: ["access"],
      action: "http_request",
      outcome: status >= 400 ? "failure" : "success",
      dataset: "istio.access",
    },
    source: { ip: "10.1.2.3", port: 41234 },
    destination: { ip: "10.1.9.9", port: 8080 },
    http: { request: { method: "GET" }, response: { status_code: status } },
    url: { path: "/api/accounts", domain: "accounts.bank.svc.cluster.local" },
    mesh: {
      name: "istio",
      mtls: true,
      source: { principal, trust_domain: "cluster.local", namespace: "web", service_account: "frontend" },
      destination: { service: "accounts.bank.svc.cluster.local", namespace: "bank" },
    },
    rule: { name: ["mesh_auth_failure"] },
  };
}

export function singleDetection(rule: SingleEventRule, event: EcsDocument): Detection {
  return {
    rule,
    windowStart: event["@timestamp"],
    windowEnd: event["@timestamp"],
    groupBy: {},
    count: 1,
    events: [event],
  };
}
