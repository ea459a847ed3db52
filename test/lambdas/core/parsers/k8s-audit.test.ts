import { describe, expect, it } from "vitest";
import { parseJsonObject } from "../../../../lambdas/core/parsers/index.js";
import { aksAuditEvent, parseAuditEvent, parseGkeAudit } from "../../../../lambdas/core/parsers/k8s-audit.js";

const event = {
  kind: "Event",
  apiVersion: "audit.k8s.io/v1",
  level: "RequestResponse",
  auditID: "0f0f-1",
  stage: "ResponseComplete",
  requestURI: "/api/v1/namespaces/prod/pods/db-0/exec?command=sh",
  verb: "create",
  user: { username: "alice@example.com", groups: ["devs", "system:authenticated"] },
  impersonatedUser: { username: "system:serviceaccount:prod:deployer" },
  sourceIPs: ["198.51.100.4", "10.0.0.1"],
  userAgent: "kubectl/v1.30.0",
  objectRef: {
    resource: "pods",
    subresource: "exec",
    namespace: "prod",
    name: "db-0",
    apiVersion: "v1",
    apiGroup: "",
  },
  responseStatus: { metadata: {}, code: 403, status: "Failure", reason: "Forbidden" },
  requestReceivedTimestamp: "2024-08-08T08:08:08.100000Z",
  stageTimestamp: "2024-08-08T08:08:08.150000Z",
  annotations: { "authorization.k8s.io/decision": "forbid" },
  requestObject: { command: ["sh"] },
};

describe("parseAuditEvent", () => {
  it("maps a v1 event to ECS and keeps the audit fields", () => {
    const result = parseAuditEvent(event);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const doc = result.document;
    expect(doc["@timestamp"]).toBe("2024-08-08T08:08:08.100Z");
    expect(doc.event).toMatchObject({
      dataset: "kubernetes.audit",
      action: "create",
      outcome: "failure",
      type: ["creation", "denied"],
      duration: 50_000_000,
      reason: "Forbidden",
    });
    expect(doc.user).toEqual({
      name: "alice@example.com",
      group: { name: ["devs", "system:authenticated"] },
      effective: { name: "system:serviceaccount:prod:deployer" },
    });
    expect(doc.source).toEqual({ ip: "198.51.100.4", address: "198.51.100.4" });
    expect(doc.related?.ip).toEqual(["198.51.100.4", "10.0.0.1"]);
    expect(doc.orchestrator).toEqual({
      type: "kubernetes",
      namespace: "prod",
      resource: { name: "db-0", type: "pods/exec" },
      api_version: "v1",
    });
    expect(doc.kubernetes?.audit).toMatchObject({
      verb: "create",
      objectRef: { resource: "pods", subresource: "exec" },
      responseStatus: { code: 403 },
      requestObject: { command: ["sh"] },
    });
    expect(doc.kubernetes?.audit?.objectRef).not.toHaveProperty("apiGroup");
  });

  it("accepts v1beta1 and events without apiVersion", () => {
    const { apiVersion: _drop, ...noVersion } = event;
    expect(
      parseAuditEvent({ ...event, apiVersion: "audit.k8s.io/v1beta1", timestamp: "2024-01-01T00:00:00Z" }).ok,
    ).toBe(true);
    expect(parseAuditEvent(noVersion).ok).toBe(true);
  });

  it("rejects an object that is not an audit event", () => {
    expect(parseAuditEvent({ kind: 0 }).ok).toBe(false);
  });

  it("unwraps an AKS record whose properties.log is an escaped JSON string", () => {
    const inner = aksAuditEvent({
      category: "kube-audit",
      properties: { log: JSON.stringify(event), pod: "kube-apiserver-x" },
    });
    expect(inner?.auditID).toBe("0f0f-1");
  });
});

describe("a cloud wrapper whose inner event is bad", () => {
  const reasonOf = (o: Record<string, unknown>) => {
    const result = parseJsonObject(o);
    return result === undefined ? "unrecognized" : result.ok ? "ok" : result.reason;
  };

  it("names the AKS inner problem instead of an unrecognized record", () => {
    const aks = {
      category: "kube-audit",
      operationName: "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
    };
    expect(reasonOf({ ...aks, properties: { log: '{"kind":"Event",' } })).toMatch(
      /^aks audit: properties.log is not valid JSON: /,
    );
    expect(reasonOf({ ...aks, properties: { log: { kind: "Event", level: "Metadata" } } })).toBe(
      "aks audit: properties.log is not an audit event (needs auditID with verb or stage; keys: kind, level)",
    );
    expect(reasonOf({ ...aks, properties: {} })).toBe(
      "aks audit: properties.log is missing or not an object",
    );
    const { requestReceivedTimestamp: _r, stageTimestamp: _s, ...untimed } = event as Record<string, unknown>;
    expect(reasonOf({ ...aks, properties: { log: JSON.stringify(untimed) } })).toBe(
      "aks audit: properties.log: kubernetes audit: no valid requestReceivedTimestamp/timestamp/stageTimestamp",
    );
  });

  it("names the GKE problem: a Cloud Audit Logs record of another service, or no payload", () => {
    expect(
      reasonOf({
        protoPayload: { serviceName: "compute.googleapis.com" },
        timestamp: "2024-09-09T09:09:09Z",
      }),
    ).toBe('gke audit: protoPayload.serviceName is "compute.googleapis.com", not "k8s.io"');
    expect(reasonOf({ logName: "projects/p/logs/cloudaudit.googleapis.com%2Factivity", insertId: "x" })).toBe(
      "gke audit: the record has no protoPayload",
    );
  });
});

describe("parseGkeAudit", () => {
  it("maps a Cloud Audit Logs protoPayload onto the audit fields", () => {
    const result = parseGkeAudit({
      protoPayload: {
        serviceName: "k8s.io",
        methodName: "io.k8s.core.v1.secrets.list",
        authenticationInfo: { principalEmail: "bob@example.com" },
        requestMetadata: { callerIp: "203.0.113.50", callerSuppliedUserAgent: "kubectl" },
        resourceName: "core/v1/namespaces/prod/secrets",
        status: { code: 7, message: "forbidden" },
      },
      timestamp: "2024-09-09T09:09:09.5Z",
      resource: { labels: { cluster_name: "gke-prod" } },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.document.kubernetes?.audit).toMatchObject({
      verb: "list",
      user: { username: "bob@example.com" },
      objectRef: { resource: "secrets", namespace: "prod", apiVersion: "v1" },
      responseStatus: { code: 403 },
    });
    expect(result.document.event.outcome).toBe("failure");
    expect(result.document.orchestrator?.cluster).toEqual({ name: "gke-prod" });
  });
});
