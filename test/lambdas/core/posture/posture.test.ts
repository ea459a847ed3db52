import { describe, expect, it } from "vitest";
import {
  type NamespacePosture,
  PostureBuilder,
  type PostureReport,
  renderPostureText,
} from "../../../../lambdas/core/posture/index.js";
import { PERIOD_END, PERIOD_START, plantedDocuments } from "./planted.js";

function build(docs = plantedDocuments()): PostureReport {
  const builder = new PostureBuilder({ since: PERIOD_START, until: PERIOD_END });
  for (const doc of docs) builder.add(doc);
  return builder.report();
}

function namespace(report: PostureReport, cluster: string, name: string): NamespacePosture {
  const found = report.clusters.find((c) => c.name === cluster)?.namespaces.find((n) => n.name === name);
  if (found === undefined) throw new Error(`no namespace ${cluster}/${name}`);
  return found;
}

describe("posture of generated traffic and audit events", () => {
  const report = build();

  it("gives each planted namespace its declared mode, where it comes from, when and who", () => {
    expect(report.clusters.map((c) => c.name)).toEqual(["edge", "prod"]);
    const prod = report.clusters.find((c) => c.name === "prod");
    expect(prod?.mesh).toMatchObject({ mode: "STRICT", level: "mesh", changedBy: "alice" });
    expect(namespace(report, "prod", "strict-ns").declared).toMatchObject({ mode: "STRICT", level: "mesh" });
    expect(namespace(report, "prod", "permissive-ns").declared).toMatchObject({
      mode: "PERMISSIVE",
      level: "namespace",
      policy: "permissive-ns/default",
      changedBy: "bob",
      changedAt: "2026-03-03T10:00:00.000Z",
    });
    expect(namespace(report, "prod", "ingress").declared).toMatchObject({ mode: "PERMISSIVE" });
    expect(namespace(report, "edge", "undeclared-ns").declared).toMatchObject({
      mode: "undeclared",
      level: "none",
    });
  });

  it("keeps the selector a merge patch did not touch, and lists workload-level modes", () => {
    expect(namespace(report, "prod", "permissive-ns").workloadModes).toEqual([
      expect.objectContaining({ policy: "permissive-ns/db-strict", selector: { app: "db" }, mode: "STRICT" }),
    ]);
  });

  it("ignores a refused change: mallory's denied delete leaves the mesh STRICT", () => {
    expect(report.changes.map((c) => `${c.after.changedBy} ${c.after.verb} ${c.after.name}`)).toEqual([
      "bob patch default",
      "bob create db-strict",
    ]);
    expect(report.changes[0]?.before?.mode).toBe("STRICT");
  });

  it("counts observed traffic by mTLS, with the evidence", () => {
    const permissive = namespace(report, "prod", "permissive-ns");
    expect(permissive.traffic).toMatchObject({
      requests: 28,
      mtls: 25,
      plaintext: 3,
      plaintextProven: 3,
      unknown: 0,
    });
    expect(permissive.traffic.evidence).toEqual({ peer_certificate: 28 });
    expect(namespace(report, "prod", "strict-ns").traffic).toMatchObject({
      requests: 20,
      mtls: 20,
      plaintext: 0,
    });
  });

  it("says which services an authorization policy covers, and which it does not", () => {
    const service = (ns: string, name: string) =>
      namespace(report, ns === "undeclared-ns" ? "edge" : "prod", ns).services.find((s) => s.name === name);
    expect(service("strict-ns", "orders")?.authorization).toMatchObject({
      status: "covered",
      policies: ["AuthorizationPolicy strict-ns/allow-nothing-else"],
    });
    expect(service("permissive-ns", "api")?.authorization).toMatchObject({
      status: "covered",
      policies: ["AuthorizationPolicy permissive-ns/api-callers"],
    });
    expect(service("permissive-ns", "worker")?.authorization.status).toBe("not covered");
    expect(service("undeclared-ns", "reports")?.authorization.status).toBe("not covered");
  });

  it("marks services that receive traffic but that nothing declares", () => {
    const undeclared = report.clusters.flatMap((c) =>
      c.namespaces.flatMap((n) =>
        n.services.filter((s) => s.undeclared).map((s) => `${c.name}/${n.name}/${s.name}`),
      ),
    );
    expect(undeclared).toEqual(["edge/undeclared-ns/reports"]);
  });

  it("reports the planted certificate ages and lifetimes", () => {
    const worker = namespace(report, "prod", "permissive-ns").services.find((s) => s.name === "worker");
    expect(worker?.certificates).toMatchObject({
      requests: 5,
      maxAgeSeconds: 30 * 3600,
      maxLifetimeSeconds: 720 * 3600,
      oldestPresentedBy: "spiffe://cluster.local/ns/permissive-ns/sa/legacy",
      overdue: 5,
    });
    expect(report.certificates.map((c) => [c.principal, c.maxAgeSeconds / 3600, c.overdue])).toEqual([
      ["spiffe://cluster.local/ns/permissive-ns/sa/legacy", 30, 5],
      ["spiffe://cluster.local/ns/undeclared-ns/sa/batch", 5, 0],
      ["spiffe://cluster.local/ns/strict-ns/sa/frontend", 2, 0],
    ]);
  });

  it("says what each line cannot know", () => {
    expect(namespace(report, "prod", "strict-ns").unknowns).toContain(
      "no PeerAuthentication audit events for namespace strict-ns in the trail: a policy older than the trail would not show",
    );
    expect(namespace(report, "prod", "permissive-ns").unknowns).toEqual([
      "workload-level PeerAuthentications apply to pods by label; the trail does not record pod labels, so which services they cover is not known",
    ]);
    const text = renderPostureText(report);
    expect(text).toContain("namespace permissive-ns: declared PERMISSIVE (namespace)");
    expect(text).toContain(
      "declared rests on: PeerAuthentication permissive-ns/default (no selector), patch by bob",
    );
    expect(text).toContain("service reports (UNDECLARED");
  });

  it("reads the same whatever order the documents arrive in", () => {
    expect(build(plantedDocuments().reverse())).toEqual(report);
  });

  it("reads the state as of the period's end: a later change does not count", () => {
    const builder = new PostureBuilder({ since: PERIOD_START, until: "2026-03-03T09:00:00.000Z" });
    for (const doc of plantedDocuments()) builder.add(doc);
    const early = builder.report();
    expect(namespace(early, "prod", "permissive-ns").declared).toMatchObject({
      mode: "STRICT",
      changedBy: "alice",
    });
  });
});
