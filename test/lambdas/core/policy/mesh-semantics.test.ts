import { describe, expect, it } from "vitest";
import { evaluateConsul } from "../../../../lambdas/core/policy/consul.js";
import { parseDeclared } from "../../../../lambdas/core/policy/declared.js";
import { drift } from "../../../../lambdas/core/policy/drift.js";
import { PolicyInputError } from "../../../../lambdas/core/policy/istio.js";
import { evaluateLinkerd } from "../../../../lambdas/core/policy/linkerd.js";
import type { ObservedCall } from "../../../../lambdas/core/policy/traffic.js";
import { observedCall } from "./calls.js";

const WEB = "web.shop.serviceaccount.identity.linkerd.cluster.local";
const BATCH = "batch.jobs.serviceaccount.identity.linkerd.cluster.local";

/** A successful call into orders by shop's web workload, over Linkerd. */
const call = (over: Partial<ObservedCall> = {}) => observedCall({ principal: WEB, mesh: "linkerd", ...over });

const SERVER = `apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { name: orders-http, namespace: shop }
spec:
  podSelector: { matchLabels: { app: orders } }
  port: 8080
`;

const linkerd = (yaml: string) => parseDeclared(yaml, "linkerd.yaml").linkerd;

describe("Linkerd authorization semantics", () => {
  it("leaves a port no Server selects to the default inbound policy (all-unauthenticated unless told)", () => {
    const policies = linkerd(SERVER);
    expect(evaluateLinkerd(policies, call({ port: 9090 })).verdict).toBe("allow");
    expect(evaluateLinkerd(policies, call({ port: 9090 }), { defaultPolicy: "deny" }).verdict).toBe("deny");
    expect(
      evaluateLinkerd(policies, call({ port: 9090, principal: undefined }), {
        defaultPolicy: "all-authenticated",
      }).verdict,
    ).toBe("deny");
  });

  it("denies traffic to a Server's port that no AuthorizationPolicy authorizes, unless its accessPolicy says otherwise", () => {
    expect(evaluateLinkerd(linkerd(SERVER), call()).verdict).toBe("deny");
    const open = SERVER.replace("port: 8080", "port: 8080\n  accessPolicy: all-unauthenticated");
    expect(evaluateLinkerd(linkerd(open), call({ principal: undefined })).verdict).toBe("allow");
  });

  it("authorizes when every required authentication holds: identities, suffix wildcards, service accounts", () => {
    // Prepare
    const policies = linkerd(`${SERVER}---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: { name: shop-clients, namespace: shop }
spec:
  identities: ["*.shop.serviceaccount.identity.linkerd.cluster.local"]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: orders-shop, namespace: shop }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: orders-http }
  requiredAuthenticationRefs:
    - { group: policy.linkerd.io, kind: MeshTLSAuthentication, name: shop-clients }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: orders-batch, namespace: shop }
spec:
  targetRef: { group: core, kind: Namespace, name: shop }
  requiredAuthenticationRefs:
    - { kind: ServiceAccount, name: batch, namespace: jobs }
`);
    // Act and assess
    expect(evaluateLinkerd(policies, call()).by.map((p) => p.name)).toEqual(["orders-shop"]);
    expect(evaluateLinkerd(policies, call({ principal: BATCH })).by.map((p) => p.name)).toEqual([
      "orders-batch",
    ]);
    expect(
      evaluateLinkerd(policies, call({ principal: "x.other.serviceaccount.identity.linkerd.cluster.local" }))
        .verdict,
    ).toBe("deny");
    expect(evaluateLinkerd(policies, call({ principal: undefined })).verdict).toBe("deny");
  });

  it("says undecidable where the logs cannot tell: route targets, narrow networks, a port the logs lack across Servers", () => {
    const route = linkerd(`${SERVER}---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: orders-route, namespace: shop }
spec:
  targetRef: { group: gateway.networking.k8s.io, kind: HTTPRoute, name: orders-read }
  requiredAuthenticationRefs:
    - { group: policy.linkerd.io, kind: NetworkAuthentication, name: office }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: { name: office, namespace: shop }
spec:
  networks: [{ cidr: 10.0.0.0/8 }]
`);
    expect(evaluateLinkerd(route, call()).verdict).toBe("undecidable");
    const two = linkerd(
      `${SERVER}---\n${SERVER.replace("orders-http", "orders-admin").replace("8080", "9090\n  accessPolicy: all-unauthenticated")}`,
    );
    expect(evaluateLinkerd(two, call({ port: undefined })).verdict).toBe("undecidable");
    expect(evaluateLinkerd(two, call({ port: 9090 })).verdict).toBe("allow");
  });

  it("refuses a Server without a port and an unknown accessPolicy, naming the file and object", () => {
    expect(() => linkerd(SERVER.replace("  port: 8080\n", ""))).toThrow(
      /linkerd\.yaml \(document 1\): Server orders-http: spec\.port is missing/,
    );
    expect(() => linkerd(SERVER.replace("port: 8080", "port: 8080\n  accessPolicy: maybe"))).toThrow(
      PolicyInputError,
    );
  });
});

const INTENTIONS = `apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceIntentions
metadata: { name: orders, namespace: shop }
spec:
  destination: { name: orders }
  sources:
    - name: web
      permissions:
        - action: deny
          http: { pathPrefix: /api/admin }
        - action: allow
          http: { pathPrefix: /api/, methods: [GET] }
    - name: legacy
      action: deny
    - name: "*"
      action: allow
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceIntentions
metadata: { name: everything, namespace: consul }
spec:
  destination: { name: "*" }
  sources:
    - name: "*"
      action: deny
`;

const consul = (yaml: string) => parseDeclared(yaml, "consul.yaml").consul;
const consulCall = (over: Partial<ObservedCall> = {}) =>
  call({ principal: "spiffe://cluster.local/ns/shop/dc/dc1/svc/web", mesh: "consul", ...over });

describe("Consul intention semantics", () => {
  it("applies the intention of highest precedence: an exact source before *, an exact destination before *", () => {
    const entries = consul(INTENTIONS);
    expect(
      evaluateConsul(entries, consulCall({ principal: "spiffe://x/ns/a/dc/dc1/svc/legacy" })).verdict,
    ).toBe("deny");
    expect(
      evaluateConsul(entries, consulCall({ principal: "spiffe://x/ns/a/dc/dc1/svc/other" })).verdict,
    ).toBe("allow");
    expect(
      evaluateConsul(entries, consulCall({ workload: "payments", service: "payments.shop.svc" })).verdict,
    ).toBe("deny");
  });

  it("takes the first permission whose HTTP match holds, and leaves a request none matches to the cluster's default", () => {
    const entries = consul(INTENTIONS);
    expect(evaluateConsul(entries, consulCall({ path: "/api/admin/users" })).verdict).toBe("deny");
    expect(evaluateConsul(entries, consulCall()).verdict).toBe("allow");
    // A POST matches no permission: it does not fall through to the * intention.
    expect(evaluateConsul(entries, consulCall({ method: "POST" })).verdict).toBe("undecidable");
    expect(evaluateConsul(entries, consulCall({ method: "POST" }), { defaultAction: "deny" }).verdict).toBe(
      "deny",
    );
  });

  it("says undecidable for what the logs cannot tell: regex paths, headers, a caller without an mTLS identity", () => {
    const regex = consul(INTENTIONS.replace("pathPrefix: /api/admin", "pathRegex: '/api/admin.*'"));
    expect(evaluateConsul(regex, consulCall()).verdict).toBe("undecidable");
    expect(evaluateConsul(consul(INTENTIONS), consulCall({ principal: undefined })).verdict).toBe(
      "undecidable",
    );
  });

  it("refuses a source with both an action and permissions, naming the file, entry and source", () => {
    expect(() =>
      consul(INTENTIONS.replace("    - name: legacy\n", "    - name: legacy\n      permissions: []\n")),
    ).toThrow(
      /consul\.yaml \(document 1\): ServiceIntentions orders: spec\.sources\[1\]: both action and permissions/,
    );
  });
});

describe("policy drift over Linkerd and Consul policies", () => {
  it("judges each call by its own mesh's policies: unused authorizations, and successful calls they would deny", () => {
    // Prepare
    const declared = parseDeclared(
      `${SERVER}---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: { name: web-only, namespace: shop }
spec:
  identities: ["${WEB}"]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: orders-web, namespace: shop }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: orders-http }
  requiredAuthenticationRefs: [{ group: policy.linkerd.io, kind: MeshTLSAuthentication, name: web-only }]
---
${INTENTIONS}`,
      "declared.yaml",
    );
    const calls = [
      call(), // Linkerd, allowed by orders-web
      call({ principal: BATCH }), // Linkerd, succeeded, but the Server would deny it
      consulCall({ path: "/api/admin/x" }), // Consul, succeeded, but web's first permission denies it
      call({ mesh: "istio", principal: BATCH }), // Istio: no Istio policy declared, not judged
    ];
    // Act
    const report = drift(declared, calls);
    // Assess
    expect(report.policies).toBe(5);
    expect(report.notAllowed.map((e) => [e.principal, e.path])).toEqual([
      [BATCH, "/api/orders"],
      ["cluster.local/ns/shop/dc/dc1/svc/web", "/api/admin/x"],
    ]);
    expect(report.unused.map((u) => [u.policy, u.rule, u.principals])).toEqual([
      ["shop/orders", 0, ["web"]],
      ["shop/orders", 2, ["*"]],
    ]);
  });
});
