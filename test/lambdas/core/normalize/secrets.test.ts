/**
 * Secret values never leave the transform: whatever the cluster's audit policy logs (RequestResponse on secrets,
 * a config map holding a password), the values are redacted in every field of the document and in
 * `event.original`, before anything is indexed, archived or alerted; keys and sizes stay. And with
 * pseudonymization on, a configured personal value is replaced wherever the document carries it.
 */
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import { createPseudonymizer, normalizeRecord } from "../../../../lambdas/core/normalize/index.js";

const PASSWORD = "hunter2-correct-horse";
const PASSWORD_B64 = Buffer.from(PASSWORD).toString("base64");
const TOKEN = "ghp_0123456789abcdefSECRETTOKEN";
const TOKEN_B64 = Buffer.from(TOKEN).toString("base64");

function secret(name: string): Record<string, unknown> {
  return {
    kind: "Secret",
    apiVersion: "v1",
    metadata: {
      name,
      namespace: "shop",
      annotations: {
        "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({
          apiVersion: "v1",
          kind: "Secret",
          data: { password: PASSWORD_B64 },
          metadata: { name, namespace: "shop" },
        }),
      },
    },
    type: "Opaque",
    data: { password: PASSWORD_B64, token: TOKEN_B64 },
  };
}

function audit(verb: string, extra: Record<string, unknown>, resource = "secrets"): string {
  return JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "RequestResponse",
    auditID: `a-${verb}`,
    stage: "ResponseComplete",
    verb,
    requestURI: `/api/v1/namespaces/shop/${resource}`,
    user: { username: "alice" },
    sourceIPs: ["198.51.100.7"],
    objectRef: { resource, namespace: "shop", name: "db", apiVersion: "v1" },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: "2024-02-02T02:02:02Z",
    ...extra,
  });
}

function only(text: string, options = {}): EcsDocument {
  const result = normalizeRecord(text, options);
  if (!result.ok) throw new Error(result.reason);
  expect(result.documents).toHaveLength(1);
  return result.documents[0] as EcsDocument;
}

function expectNoSecret(doc: EcsDocument): void {
  const text = JSON.stringify(doc);
  for (const value of [PASSWORD, PASSWORD_B64, TOKEN, TOKEN_B64]) expect(text).not.toContain(value);
}

const EVENTS: Record<string, string> = {
  "get at RequestResponse": audit("get", { responseObject: secret("db") }),
  "list at RequestResponse": audit("list", {
    responseObject: { kind: "SecretList", apiVersion: "v1", items: [secret("db"), secret("api")] },
  }),
  "create with stringData": audit("create", {
    requestObject: {
      kind: "Secret",
      apiVersion: "v1",
      metadata: { name: "db" },
      stringData: { password: PASSWORD },
    },
    responseObject: secret("db"),
  }),
  update: audit("update", { requestObject: secret("db"), responseObject: secret("db") }),
  "merge patch": audit("patch", {
    requestObject: { data: { password: PASSWORD_B64 } },
    responseObject: secret("db"),
  }),
  "JSON patch": audit("patch", {
    requestObject: [
      { op: "replace", path: "/data/password", value: PASSWORD_B64 },
      { op: "add", path: "/stringData", value: { token: TOKEN } },
    ],
  }),
  "delete (the deleted object in the response)": audit("delete", { responseObject: secret("db") }),
  "a Secret inside a generic List": audit(
    "create",
    { requestObject: { kind: "List", items: [{ kind: "ConfigMap", data: { a: "b" } }, secret("db")] } },
    "configmaps",
  ),
};

describe("secret values in Kubernetes audit events", () => {
  it.each(Object.entries(EVENTS))(
    "%s: no value in any field nor in event.original; keys and sizes kept",
    (_, line) => {
      // Act
      const doc = only(line);
      // Assess
      expectNoSecret(doc);
      expect(doc.event.original).toBeDefined();
      expect(() => JSON.parse(doc.event.original as string)).not.toThrow();
      expect(doc.labels?.redacted).toBeDefined();
    },
  );

  it("keeps each key with its size, and the rest of the object as it was", () => {
    const doc = only(EVENTS["get at RequestResponse"] as string);
    const object = doc.kubernetes?.audit?.responseObject as ReturnType<typeof secret>;
    expect(object.data).toEqual({
      password: `[redacted: ${PASSWORD.length} bytes]`,
      token: `[redacted: ${TOKEN.length} bytes]`,
    });
    expect(object.metadata).toMatchObject({ name: "db", namespace: "shop" });
    expect(object.type).toBe("Opaque");
    expect(JSON.parse(doc.event.original as string).responseObject.data).toEqual(object.data);
  });

  it("redacts through every envelope: Fluent Bit, CloudWatch Logs, Firehose error output", () => {
    const line = EVENTS["list at RequestResponse"] as string;
    const records = [
      JSON.stringify({ log: line, kubernetes: { pod_name: "kube-apiserver" } }),
      JSON.stringify({ messageType: "DATA_MESSAGE", logEvents: [{ id: "1", timestamp: 1, message: line }] }),
      JSON.stringify({
        attemptsMade: 1,
        arrivalTimestamp: 0,
        rawData: gzipSync(
          JSON.stringify({
            messageType: "DATA_MESSAGE",
            logEvents: [{ id: "1", timestamp: 1, message: line }],
          }),
        ).toString("base64"),
      }),
    ];
    for (const record of records) expectNoSecret(only(record));
  });

  it("redacts a config map's values that hold credentials, and keeps its other values", () => {
    const line = audit(
      "create",
      {
        requestObject: {
          kind: "ConfigMap",
          metadata: { name: "app" },
          data: {
            "db-password": PASSWORD,
            "app.properties": `url=jdbc:postgresql://db/shop\npassword=${PASSWORD}\n`,
            "tls.key": `-----BEGIN PRIVATE KEY-----\n${TOKEN}\n-----END PRIVATE KEY-----\n`,
            "log-level": "debug",
          },
        },
      },
      "configmaps",
    );
    const doc = only(line);
    expectNoSecret(doc);
    const object = doc.kubernetes?.audit?.requestObject as { data: Record<string, string> } | undefined;
    expect(object?.data["log-level"]).toBe("debug");
    expect(object?.data["db-password"]).toBe(`[redacted: ${PASSWORD.length} bytes]`);
  });

  it("leaves events on other resources as they were, event.original the line itself", () => {
    const line = audit(
      "create",
      { requestObject: { kind: "Pod", spec: { containers: [{ name: "c" }] } } },
      "pods",
    );
    const doc = only(line);
    expect(doc.event.original).toBe(line);
    expect(doc.labels?.redacted).toBeUndefined();
  });
});

describe("pseudonymization covers every field that carries a configured personal value", () => {
  it("replaces the impersonated user, the RBAC reason annotation and any copy of the value", () => {
    // Prepare: alice impersonates bob; only the fields of prod's example config are listed
    const line = JSON.stringify({
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      auditID: "imp-1",
      stage: "ResponseComplete",
      verb: "get",
      requestURI: "/api/v1/namespaces/shop/pods",
      user: { username: "alice@example.com", groups: ["system:authenticated"] },
      impersonatedUser: { username: "bob@example.com" },
      sourceIPs: ["198.51.100.7"],
      objectRef: { resource: "pods", namespace: "shop" },
      responseStatus: { code: 200 },
      annotations: {
        "authorization.k8s.io/decision": "allow",
        "authorization.k8s.io/reason":
          'RBAC: allowed by RoleBinding "view/shop" of ClusterRole "view" to User "bob@example.com"',
      },
      requestObject: { kind: "SubjectAccessReview", spec: { user: "alice@example.com" } },
      requestReceivedTimestamp: "2024-02-02T02:02:02Z",
    });
    const pseudonymizer = createPseudonymizer("k".repeat(32), ["user.name"]);
    // Act
    const doc = only(line, { pseudonymizer });
    // Assess
    const text = JSON.stringify(doc);
    expect(text).not.toContain("alice@example.com");
    expect(text).not.toContain("bob@example.com");
    expect(doc.user?.effective?.name).toBe(pseudonymizer.token("bob@example.com"));
    expect(doc.kubernetes?.audit?.annotations?.["authorization.k8s.io/reason"]).toBe(
      `RBAC: allowed by RoleBinding "view/shop" of ClusterRole "view" to User "${pseudonymizer.token("bob@example.com")}"`,
    );
    expect(doc.source?.ip).toBe("198.51.100.7");
  });
});
