import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AlertBuildError,
  buildAlert,
  documentFingerprint,
  kubernetesOperator,
  renderJson,
  renderText,
  severityOf,
} from "../../../../lambdas/core/alerts/index.js";
import type { CountryLookup } from "../../../../lambdas/core/geo/index.js";
import type { Detection } from "../../../../lambdas/core/rules/types.js";
import {
  correlationRule,
  execEvent,
  meshRequest,
  publicAccessRule,
  singleDetection,
  singleRule,
} from "./factories.js";

const context = {
  environment: "prod",
  dashboardsUrl: "https://search.example.com/_dashboards",
  runbookBaseUrl: "https://github.com/example/mesh-audit-trail/blob/main/",
};

const fakeGeo: CountryLookup = { country: (ip) => (ip === "203.0.113.9" ? "DE" : undefined) };

describe("buildAlert for k8s_pod_exec", () => {
  it("gives responders the pod, container, command, operator, audit id, time and source IP", () => {
    // Prepare
    const detection = singleDetection(singleRule(), execEvent());
    // Act
    const alert = buildAlert(detection, context);
    // Assess
    const details = Object.fromEntries(alert.details.map((detail) => [detail.key, detail.value]));
    expect(details).toEqual({
      pod: "payments/ledger-6c9d7b5f4-x2kqz",
      container: "ledger",
      command: "sh -c cat /etc/shadow",
      operator: "alice (authenticated as kubernetes-admin)",
      audit_id: "7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
      time: "2025-03-04T10:15:42.120Z",
      source_ip: "10.20.30.40",
    });
    expect(alert.summary.who).toBe("alice (authenticated as kubernetes-admin)");
    expect(alert.summary.to).toBe("pods/exec payments/ledger-6c9d7b5f4-x2kqz");
    expect(alert.fields).toEqual({
      "kubernetes.audit.objectRef.namespace": "payments",
      "kubernetes.audit.objectRef.name": "ledger-6c9d7b5f4-x2kqz",
      "kubernetes.audit.user.username": "kubernetes-admin",
      "kubernetes.audit.auditID": "7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
    });
    expect(alert.severity).toBe("high");
    expect(alert.paged).toBe(true);
    expect(alert["@timestamp"]).toBe("2025-03-04T10:15:42.120Z");
    expect(alert.links.runbook).toBe(
      "https://github.com/example/mesh-audit-trail/blob/main/docs/runbooks/k8s_pod_exec.md",
    );
    expect(alert.attribution).toEqual([]);
  });

  it("links Discover to the event's rule and id around its time", () => {
    const alert = buildAlert(singleDetection(singleRule(), execEvent()), context);
    const link = decodeURIComponent(alert.links.discover ?? "");
    expect(link.startsWith("https://search.example.com/_dashboards/app/data-explorer/discover#?")).toBe(true);
    expect(link).toContain(
      `query:'rule.name:"k8s_pod_exec" and event.id:"7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f"'`,
    );
    expect(link).toContain("time:(from:'2025-03-04T10:14:42.120Z',to:'2025-03-04T10:16:42.120Z')");
    expect(link).toContain("indexPattern:'audit-*'");
  });

  it("rejects a single-event detection without its event", () => {
    const detection: Detection = { ...singleDetection(singleRule(), execEvent()), events: [] };
    expect(() => buildAlert(detection, context)).toThrowError(AlertBuildError);
    expect(() => buildAlert(detection, context)).toThrowError(/k8s_pod_exec: a single-event detection/);
  });

  it("rejects a detection whose window is not a time", () => {
    const detection: Detection = { ...singleDetection(singleRule(), execEvent()), windowStart: "yesterday" };
    expect(() => buildAlert(detection, context)).toThrowError(
      /windowStart is not an ISO 8601 time: "yesterday"/,
    );
  });
});

describe("buildAlert for k8s_api_public_access_failures", () => {
  it("gives the source IP, its country, the request count and the failure rate, crediting DB-IP", () => {
    // Prepare
    const event = { ...execEvent(), source: { ip: "203.0.113.9" } };
    const detection: Detection = {
      rule: publicAccessRule(),
      windowStart: "2025-03-04T10:10:00.000Z",
      windowEnd: "2025-03-04T10:15:00.000Z",
      groupBy: { "source.ip": "203.0.113.9" },
      count: 40,
      value: 0.75,
      events: [event],
    };
    // Act
    const alert = buildAlert(detection, { ...context, geo: fakeGeo });
    // Assess
    const details = Object.fromEntries(alert.details.map((detail) => [detail.key, detail.value]));
    expect(details).toMatchObject({
      source_ip: "203.0.113.9",
      source_country: "DE",
      request_count: 40,
      failure_rate: "75.0%",
    });
    expect(alert.summary.from).toBe("203.0.113.9 (DE)");
    expect(alert.fields).toEqual({ "source.ip": "203.0.113.9", "source.geo.country_iso_code": "DE" });
    expect(alert.attribution).toEqual(["IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0"]);
    expect(alert.summary.what).toContain("75.0% of 40 requests failed within 5m");
    expect(alert.rule.type).toBe("failure_ratio");
    expect(alert.value).toBe(0.75);
    const link = decodeURIComponent(alert.links.discover ?? "");
    expect(link).toContain(
      `rule.name:("k8s_api_public_request" or "k8s_api_public_request_failed") and source.ip:"203.0.113.9"`,
    );
    expect(link).toContain("time:(from:'2025-03-04T10:10:00.000Z',to:'2025-03-04T10:15:00.000Z')");
  });
});

describe("buildAlert for a service discovery scan", () => {
  it("says how many distinct services were called rather than naming the first one", () => {
    const rule = correlationRule({
      name: "mesh_service_discovery_scan",
      type: "value_count",
      field: "mesh.destination.service",
      condition: { gt: 10 },
    });
    const detection: Detection = {
      rule,
      windowStart: "2025-03-04T10:00:00.000Z",
      windowEnd: "2025-03-04T10:01:00.000Z",
      groupBy: { "mesh.source.principal": "spiffe://cluster.local/ns/web/sa/frontend" },
      count: 14,
      value: 12,
      events: [meshRequest("spiffe://cluster.local/ns/web/sa/frontend", "2025-03-04T10:00:01.000Z", 404)],
    };
    const alert = buildAlert(detection, context);
    // The services by name, then how many more the detection counted: never the raw field name.
    expect(alert.summary.to).toBe(
      "12 distinct destination services: accounts.bank.svc.cluster.local +11 more",
    );
    expect(alert.summary.what).toContain("12 distinct destination services in 14 events within 1m");
    expect(alert.details).toContainEqual({
      key: "distinct_count",
      label: "Distinct destination services",
      value: 12,
    });
  });
});

describe("operator", () => {
  it("keeps kubernetes-admin when the reason names a group, not a user", () => {
    const audit = execEvent().kubernetes?.audit;
    const operator = kubernetesOperator({
      ...audit,
      annotations: {
        "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "x" to Group "system:masters"',
      },
    });
    expect(operator).toBe("kubernetes-admin");
  });

  it("shows impersonation as the impersonated user, naming who impersonated", () => {
    expect(
      kubernetesOperator({ user: { username: "system:admin" }, impersonatedUser: { username: "bob" } }),
    ).toBe("bob (impersonated by system:admin)");
  });
});

describe("alert ids", () => {
  const burst = (principal: string, windowStart: string): Detection => ({
    rule: correlationRule(),
    windowStart,
    windowEnd: new Date(Date.parse(windowStart) + 60_000).toISOString(),
    groupBy: { "mesh.source.principal": principal },
    count: 3,
    events: [meshRequest(principal, windowStart)],
  });

  it("are the same for the same rule, group and window whatever the count and events", () => {
    const a = buildAlert(burst("spiffe://cluster.local/ns/web/sa/frontend", "2025-03-04T10:00:00Z"), context);
    const b = buildAlert(
      {
        ...burst("spiffe://cluster.local/ns/web/sa/frontend", "2025-03-04T10:00:00.000Z"),
        count: 9,
        events: [],
      },
      { ...context, environment: "prod" },
    );
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^[0-9a-f]{64}$/);
  });

  it("differ across windows and rules", () => {
    const a = buildAlert(burst("p", "2025-03-04T10:00:00Z"), context);
    const b = buildAlert(burst("p", "2025-03-04T10:00:30Z"), context);
    const c = buildAlert(
      { ...burst("p", "2025-03-04T10:00:00Z"), rule: correlationRule({ name: "other" }) },
      context,
    );
    expect(new Set([a.id, b.id, c.id]).size).toBe(3);
  });

  it("are collision-free across group values (property)", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string(), { minLength: 2, maxLength: 30 }), (principals) => {
        const ids = principals.map(
          (principal) => buildAlert(burst(principal, "2025-03-04T10:00:00Z"), context).id,
        );
        expect(new Set(ids).size).toBe(principals.length);
      }),
    );
  });

  it("do not confuse a value containing the separator with two group fields (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (x, y) => {
        const one = { ...burst("p", "2025-03-04T10:00:00Z"), groupBy: { a: `${x}|${y}` } };
        const two = { ...burst("p", "2025-03-04T10:00:00Z"), groupBy: { a: x, b: y } };
        expect(buildAlert(one, context).id).not.toBe(buildAlert(two, context).id);
      }),
    );
  });

  it("use event.id for single events, else a fingerprint blind to tagging, arrival and key order", () => {
    // Prepare
    const withId = execEvent();
    const { id: _id, ...eventWithoutId } = withId.event;
    const plain = { ...withId, event: eventWithoutId };
    const tagged = {
      rule: { name: ["k8s_pod_exec", "other"] },
      ...plain,
      event: { ...eventWithoutId, ingested: "2025-03-04T10:16:00Z", original: "{raw}" },
    };
    const changed = { ...plain, source: { ip: "10.20.30.41" } };
    // Act / Assess
    expect(documentFingerprint(withId)).toBe("event.id:7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f");
    expect(documentFingerprint(plain)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(documentFingerprint(tagged)).toBe(documentFingerprint(plain));
    expect(documentFingerprint(changed)).not.toBe(documentFingerprint(plain));
  });
});

describe("severity", () => {
  it("maps each Sigma level to its topic and never pages informational", () => {
    expect(["critical", "high", "medium", "low", "informational"].map((l) => severityOf(l as never))).toEqual(
      ["critical", "high", "medium", "low", "informational"],
    );
    const alert = buildAlert(singleDetection(singleRule({ level: "informational" }), execEvent()), context);
    expect(alert.paged).toBe(false);
  });
});

describe("what an alert says about a burst", () => {
  const principal = "spiffe://cluster.local/ns/marketing/sa/newsletter";
  const burst = (services: string[], count = services.length): Detection => ({
    rule: correlationRule(),
    windowStart: "2025-03-04T10:00:00.000Z",
    windowEnd: "2025-03-04T10:01:00.000Z",
    groupBy: { "mesh.source.principal": principal },
    count,
    events: services.map((service, i) => ({
      ...meshRequest(principal, `2025-03-04T10:00:${String(10 + i * 5).padStart(2, "0")}.000Z`),
      mesh: {
        ...meshRequest(principal, "2025-03-04T10:00:00Z").mesh,
        name: "istio",
        destination: { service },
      },
      orchestrator: { type: "kubernetes" as const, cluster: { name: "prod-eu" } },
      kubernetes: { namespace: "bank", pod: { name: `${service.split(".")[0]}-7d9` } },
    })),
  });

  it("gives the first and last matching event, not the window start", () => {
    const alert = buildAlert(burst(["a.bank.svc.cluster.local", "b.bank.svc.cluster.local"]), context);
    expect(alert.seen).toEqual({
      first: "2025-03-04T10:00:10.000Z",
      last: "2025-03-04T10:00:15.000Z",
      complete: true,
    });
    expect(renderText(alert)).toContain(
      "When: 2025-03-04 10:00:10 UTC to 10:00:15 UTC (window 10:00:00 UTC to 10:01:00 UTC)",
    );
  });

  it("says the last event is only a lower bound when the detection kept fewer events than it counted", () => {
    const alert = buildAlert(burst(["a.bank.svc.cluster.local", "b.bank.svc.cluster.local"], 40), context);
    expect(alert.seen.complete).toBe(false);
    expect(renderText(alert)).toContain("When: 2025-03-04 10:00:10 UTC to 10:00:15 UTC or later");
  });

  it("names every destination, up to a bound with +N more, and keeps them all in the JSON", () => {
    const services = ["payments", "users", "orders", "billing", "auth", "cards", "ledger"].map(
      (name) => `${name}.bank.svc.cluster.local`,
    );
    const alert = buildAlert(burst(services), context);
    expect(alert.summary.to).toBe(
      "payments.bank.svc.cluster.local, users.bank.svc.cluster.local, orders.bank.svc.cluster.local, billing.bank.svc.cluster.local, auth.bank.svc.cluster.local +2 more",
    );
    expect(alert.values["mesh.destination.service"]).toEqual(services);
    const machine = JSON.parse(renderJson(alert)) as { values: Record<string, unknown[]> };
    expect(machine.values["mesh.destination.service"]).toEqual(services);
  });

  it("says where: cluster, namespace and pods", () => {
    const alert = buildAlert(burst(["a.bank.svc.cluster.local", "b.bank.svc.cluster.local"]), context);
    expect(alert.details).toEqual(
      expect.arrayContaining([
        { key: "values.orchestrator.cluster.name", label: "Clusters", value: "prod-eu" },
        { key: "values.kubernetes.namespace", label: "Namespaces", value: "bank" },
        { key: "values.kubernetes.pod.name", label: "Pods", value: "a-7d9, b-7d9" },
      ]),
    );
  });

  it("names the destination by service (or workload) rather than by bare IP", () => {
    const flow = {
      ...meshRequest(principal, "2025-03-04T10:00:05.000Z"),
      url: undefined,
      destination: { ip: "10.244.1.5", address: "10.244.1.5" },
      mesh: { name: "cilium", destination: { workload: "deathstar" }, source: { workload: "xwing" } },
    };
    const alert = buildAlert(
      { ...burst([]), groupBy: { "source.ip": "10.1.2.3" }, count: 1, events: [flow] },
      context,
    );
    expect(alert.summary.to).toBe("deathstar");
    expect(alert.summary.from).toBe("10.1.2.3 (xwing)");
  });
});
