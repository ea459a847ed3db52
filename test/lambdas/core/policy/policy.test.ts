import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../../../lambdas/core/normalize/index.js";
import { evaluateConsul } from "../../../../lambdas/core/policy/consul.js";
import { parseDeclared } from "../../../../lambdas/core/policy/declared.js";
import { AuditedPolicies, drift } from "../../../../lambdas/core/policy/drift.js";
import { evaluate, parsePolicies } from "../../../../lambdas/core/policy/istio.js";
import { evaluateLinkerd } from "../../../../lambdas/core/policy/linkerd.js";
import {
  groupCalls,
  pathPattern,
  suggest,
  suggestConsul,
  suggestLinkerd,
} from "../../../../lambdas/core/policy/suggest.js";
import { type ObservedCall, observeCall } from "../../../../lambdas/core/policy/traffic.js";
import { INCIDENT_DIR } from "../../../fixtures/incident.js";
import { observedCall } from "./calls.js";

const call = observedCall;

const callArbitrary = fc.record({
  principal: fc.option(
    fc.constantFrom("frontend", "checkout", "reports").map((sa) => `spiffe://cluster.local/ns/shop/sa/${sa}`),
    {
      nil: undefined,
    },
  ),
  workload: fc.constantFrom("orders", "payments", "users"),
  method: fc.option(fc.constantFrom("GET", "POST", "DELETE"), { nil: undefined }),
  path: fc.option(
    fc
      .tuple(
        fc.constantFrom("/api", "/admin", "/v1/items"),
        fc.option(
          fc.oneof(fc.nat({ max: 99999 }).map(String), fc.uuid(), fc.constantFrom("list", "health")),
          { nil: undefined },
        ),
      )
      .map(([base, id]) => (id === undefined ? base : `${base}/${id}`)),
    { nil: undefined },
  ),
  port: fc.option(fc.constantFrom(8080, 9090), { nil: undefined }),
  allowed: fc.boolean(),
});

/** The generated calls as observed calls, a second apart. */
function observed(generated: readonly GeneratedCall[]) {
  return generated.map((g, i) =>
    call({
      principal: g.principal,
      workload: g.workload,
      service: `${g.workload}.shop.svc.cluster.local`,
      method: g.method,
      path: g.path,
      port: g.port,
      allowed: g.allowed,
      time: new Date(Date.parse("2026-03-02T10:00:00Z") + i * 1000).toISOString(),
    }),
  );
}

type GeneratedCall = {
  principal: string | undefined;
  workload: string;
  method: string | undefined;
  path: string | undefined;
  port: number | undefined;
  allowed: boolean;
};

const STRANGER = "spiffe://cluster.local/ns/evil/sa/intruder";

describe("policy suggest", () => {
  it("cuts paths at their first identifier segment", () => {
    expect(pathPattern("/api/orders/123/items")).toBe("/api/orders/*");
    expect(pathPattern("/api/users/5f3c2a9e-1b2c-4d5e-8f90-123456789abc")).toBe("/api/users/*");
    expect(pathPattern("/api/orders")).toBe("/api/orders");
    expect(pathPattern("/healthz")).toBe("/healthz");
  });

  it("denies nothing that was allowed when applied to the same calls (Istio semantics), and allows no new caller", () => {
    fc.assert(
      fc.property(fc.array(callArbitrary, { minLength: 1, maxLength: 80 }), (generated) => {
        // Prepare
        const calls = observed(generated);
        // Act
        const policies = parsePolicies(suggest(calls, "istio"), "suggested.yaml");
        // Assess
        for (const observed of calls.filter((c) => c.allowed)) {
          expect(evaluate(policies, observed).verdict, JSON.stringify(observed)).toBe("allow");
        }
        const stranger = call({
          principal: STRANGER,
          workload: calls.find((c) => c.allowed)?.workload ?? "orders",
        });
        const anonymousAllowed = calls.some(
          (c) => c.allowed && c.principal === undefined && c.workload === stranger.workload,
        );
        if (!anonymousAllowed && calls.some((c) => c.allowed))
          expect(evaluate(policies, stranger).verdict).toBe("deny");
      }),
      { numRuns: 300 },
    );
  });

  it("denies nothing that was allowed when applied to the same calls (Linkerd semantics), and lets no unknown identity in", () => {
    fc.assert(
      fc.property(fc.array(callArbitrary, { minLength: 1, maxLength: 80 }), (generated) => {
        // Prepare
        const calls = observed(generated);
        // Act
        const policies = parseDeclared(suggest(calls, "linkerd"), "suggested.yaml").linkerd;
        // Assess
        for (const c of calls.filter((c) => c.allowed))
          expect(evaluateLinkerd(policies, c).verdict, JSON.stringify(c)).toBe("allow");
        for (const target of new Set(calls.filter((c) => c.allowed).map((c) => c.workload))) {
          const anonymous = calls.some(
            (c) => c.allowed && c.workload === target && c.principal === undefined,
          );
          const stranger = call({ principal: STRANGER, workload: target, port: undefined });
          expect(evaluateLinkerd(policies, stranger).verdict).toBe(anonymous ? "allow" : "deny");
        }
      }),
      { numRuns: 300 },
    );
  });

  it("denies nothing that was allowed when applied to the same calls (Consul semantics), and lets no unknown service in", () => {
    fc.assert(
      fc.property(fc.array(callArbitrary, { minLength: 1, maxLength: 80 }), (generated) => {
        // Prepare
        const calls = observed(generated);
        // Act
        const intentions = parseDeclared(suggest(calls, "consul"), "suggested.yaml").consul;
        // Assess: a caller Consul can name is allowed; one it cannot (no mTLS identity) is left to the
        // service's MutualTLSMode, never denied by the suggestion.
        for (const c of calls.filter((c) => c.allowed)) {
          const verdict = evaluateConsul(intentions, c).verdict;
          expect(verdict, JSON.stringify(c)).toBe(c.principal === undefined ? "undecidable" : "allow");
        }
        for (const target of new Set(calls.filter((c) => c.allowed).map((c) => c.workload)))
          expect(evaluateConsul(intentions, call({ principal: STRANGER, workload: target })).verdict).toBe(
            "deny",
          );
      }),
      { numRuns: 300 },
    );
  });

  it("covers every successful call of the bundled incident", () => {
    // Prepare
    const dir = INCIDENT_DIR;
    const calls: ObservedCall[] = [];
    for (const file of readdirSync(dir).filter((name) => name.endsWith(".log"))) {
      for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
        if (line.trim() === "") continue;
        const result = normalizeRecord(line);
        if (!result.ok) continue;
        for (const doc of result.documents) {
          const observed = observeCall(doc);
          if (observed !== undefined) calls.push(observed);
        }
      }
    }
    // Act
    const text = suggest(calls, "istio");
    const policies = parsePolicies(text, "suggested.yaml");
    // Assess
    expect(policies.length).toBeGreaterThan(3);
    const allowed = calls.filter((c) => c.allowed);
    expect(allowed.length).toBeGreaterThan(1000);
    for (const observed of allowed) expect(evaluate(policies, observed).verdict).toBe("allow");
    expect(text).toMatch(/# spiffe:\/\/cluster\.local\/ns\/shop\/sa\/frontend: \d+ calls/);
    // The newsletter identity's refused calls are not in any policy.
    expect(text).not.toContain("marketing/sa/newsletter");
  });

  it("writes Linkerd and Consul resources that parse, naming each caller identity with its count", () => {
    // Prepare
    const destinations = groupCalls([
      call(),
      call({ method: "POST", path: "/api/orders/42" }),
      call({ principal: "web.shop.serviceaccount.identity.linkerd.cluster.local" }),
      call({ principal: undefined }),
    ]);
    // Act
    const linkerd = suggestLinkerd(destinations);
    const consul = suggestConsul(destinations);
    // Assess
    const kinds = parseAllDocuments(linkerd).map((doc) => (doc.toJS() as { kind: string }).kind);
    expect(kinds).toEqual([
      "MeshTLSAuthentication",
      "NetworkAuthentication",
      "Server",
      "AuthorizationPolicy",
      "AuthorizationPolicy",
    ]);
    const auth = parseAllDocuments(linkerd)[0]?.toJS() as { spec: { identities: string[] } };
    expect(auth.spec.identities).toEqual([
      "frontend.shop.serviceaccount.identity.linkerd.cluster.local",
      "web.shop.serviceaccount.identity.linkerd.cluster.local",
    ]);
    expect(linkerd).toContain("1 call came without a caller identity: the NetworkAuthentication");
    const intentions = parseAllDocuments(consul)[0]?.toJS() as {
      spec: { sources: { name: string; permissions?: { http?: Record<string, unknown> }[] }[] };
    };
    expect(intentions.spec.sources.map((source) => source.name)).toEqual(["frontend", "web", "*"]);
    expect(intentions.spec.sources[0]?.permissions?.map((p) => p.http)).toEqual([
      { pathExact: "/api/orders", methods: ["GET"] },
      { pathPrefix: "/api/orders/", methods: ["POST"] },
    ]);
  });
});

const DECLARED = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: orders, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: ["cluster.local/ns/shop/sa/frontend"] } }]
      to: [{ operation: { methods: ["GET"] } }]
    - from: [{ source: { principals: ["cluster.local/ns/shop/sa/batch"] } }]
`;

describe("policy drift", () => {
  it("names rules never used, calls denied by policy and successful calls the policies would deny", () => {
    // Prepare
    const policies = parsePolicies(DECLARED, "orders.yaml");
    const calls = [
      call(),
      call({ method: "POST" }), // succeeded, but only GET is allowed
      call({
        principal: "spiffe://cluster.local/ns/marketing/sa/newsletter",
        allowed: false,
        deniedByPolicy: true,
        denyingPolicy: "ns[shop]-policy[orders]-rule[0]",
      }),
      call({ workload: "users", service: "users.shop.svc.cluster.local" }), // no policy selects users: allowed
    ];
    // Act
    const report = drift(policies, calls);
    // Assess
    expect(report.unused).toEqual([
      { policy: "shop/orders", rule: 1, principals: ["cluster.local/ns/shop/sa/batch"] },
    ]);
    expect(report.denied.map((e) => [e.principal, e.service, e.policy])).toEqual([
      [
        "cluster.local/ns/marketing/sa/newsletter",
        "orders.shop.svc.cluster.local",
        "ns[shop]-policy[orders]-rule[0]",
      ],
    ]);
    expect(report.notAllowed.map((e) => [e.principal, e.method])).toEqual([
      ["cluster.local/ns/shop/sa/frontend", "POST"],
    ]);
  });

  it("reads the declared policies from the trail's own audit events: the latest create or update wins, a delete removes", () => {
    // Prepare
    const object = parseAllDocuments(DECLARED)[0]?.toJS();
    const event = (time: string, verb: string, body?: unknown): EcsDocument =>
      ({
        "@timestamp": time,
        event: { kind: "event", dataset: "kubernetes.audit" },
        kubernetes: {
          audit: {
            verb,
            stage: "ResponseComplete",
            responseStatus: { code: 200 },
            objectRef: {
              resource: "authorizationpolicies",
              apiGroup: "security.istio.io",
              namespace: "shop",
              name: "orders",
            },
            ...(body === undefined ? {} : { requestObject: body }),
          },
        },
      }) as unknown as EcsDocument;
    const audited = new AuditedPolicies();
    // Act
    audited.observe(event("2026-03-02T10:00:00Z", "create", object));
    const afterCreate = audited.policies().map((p) => p.name);
    audited.observe(event("2026-03-02T11:00:00Z", "delete"));
    // Assess
    expect(afterCreate).toEqual(["orders"]);
    expect(audited.policies()).toEqual([]);
  });

  it("reads the refusing policy from Envoy's response details", () => {
    const doc = {
      "@timestamp": "2026-03-02T10:00:00Z",
      event: { kind: "event", dataset: "istio.access", outcome: "failure" },
      mesh: {
        name: "istio",
        direction: "inbound",
        source: { principal: "spiffe://cluster.local/ns/a/sa/b" },
        destination: { service: "orders.shop.svc.cluster.local" },
      },
      http: { request: { method: "GET" }, response: { status_code: 403 } },
      envoy: {
        response_code_details: "rbac_access_denied_matched_policy[ns[shop]-policy[deny-all]-rule[0]]",
      },
    } as unknown as EcsDocument;
    expect(observeCall(doc)).toMatchObject({
      allowed: false,
      deniedByPolicy: true,
      denyingPolicy: "ns[shop]-policy[deny-all]-rule[0]",
    });
  });
});
