import { beforeAll, describe, expect, it } from "vitest";
import { parseReviewArgs, reviewFromFiles } from "../../../../lambdas/cli/commands/review.js";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../../../lambdas/core/normalize/index.js";
import {
  ReviewBuilder,
  type ReviewReport,
  rbacChange,
  renderReviewMarkdown,
  reviewRelevant,
} from "../../../../lambdas/core/review/index.js";
import { INCIDENT_DIR } from "../../../fixtures/incident.js";
import { parsedArgs } from "../../cli/helpers.js";
import { auditEvent, istioRequest, PERIOD_END, PERIOD_START, plantedDocuments } from "../posture/planted.js";

function sink() {
  return { write: () => true };
}

describe("the review of the bundled incident", () => {
  let report: ReviewReport;
  let markdown: string;
  beforeAll(async () => {
    const args = parsedArgs(parseReviewArgs([INCIDENT_DIR, "--environment", "incident"]));
    ({ report } = await reviewFromFiles(args, sink()));
    markdown = renderReviewMarkdown(report);
  });

  it("names each of the incident's actions", () => {
    // alice switches the shop PeerAuthentication to PERMISSIVE
    expect(report.changes).toEqual([
      expect.objectContaining({
        time: "2026-03-02T14:03:20.000Z",
        who: "alice (authenticated as kubernetes-admin)",
        kind: "mesh security",
        resource: "peerauthentications.security.istio.io shop/default",
        change: "patch: spec.mtls.mode=PERMISSIVE",
      }),
    ]);
    // a debug pod calls payments without the mesh's SNI
    expect(report.alerts.find((a) => a.rule === "mesh_plaintext_suspected")?.who).toBe(
      "10.44.3.17 (no identity)",
    );
    // marketing/newsletter collects 403s and then sweeps 14 services
    expect(report.deniedIdentities[0]).toMatchObject({
      identity: "spiffe://cluster.local/ns/marketing/sa/newsletter",
      where: "mesh",
    });
    const sweep = report.newEdges.filter(
      (e) => e.source === "spiffe://cluster.local/ns/marketing/sa/newsletter",
    );
    expect(sweep.length).toBe(14);
    // alice execs into the payments pod
    expect(report.execSessions).toEqual([
      expect.objectContaining({
        who: "alice (authenticated as kubernetes-admin)",
        namespace: "shop",
        pod: "payments-7d9c8b6f5-x2k4q",
        container: "payments",
        command: "sh -c env",
      }),
    ]);
    expect(report.alertsByRule.map((g) => `${g.rule} ${g.severity}`)).toEqual([
      "k8s_pod_exec high",
      "mesh_namespace_not_strict high",
      "mesh_auth_failure_burst medium",
      "mesh_config_change medium",
      "mesh_service_discovery_scan medium",
      "mesh_plaintext_suspected low",
    ]);
    for (const text of ["spec.mtls.mode=PERMISSIVE", "sh -c env", "newsletter", "10.44.3.17"])
      expect(markdown).toContain(text);
  });

  it("shows the shop namespace PERMISSIVE since alice's change, against a previous period without data", () => {
    expect(report.postureChanges).toContainEqual({
      cluster: "(cluster not named)",
      namespace: "shop",
      what: "declared mTLS not seen -> PERMISSIVE",
    });
    expect(report.edgesBasis).toBe("no data before the period: every edge of the period counts as new");
  });

  it("reports the pipeline from what files can show, and closes with the sign-off", () => {
    expect(report.pipeline).toEqual({
      silentSources: [],
      errorRecords: { count: 0, basis: "every record of the 4 file(s) parsed" },
      digestChain: expect.objectContaining({ status: "not checked" }),
    });
    expect(markdown).toMatch(/## Sign-off\n\n(- \[ \] .+\n){6}\nReviewed by: /);
  });
});

function docsOf(lines: readonly string[]): EcsDocument[] {
  return lines.flatMap((line) => {
    const result = normalizeRecord(line);
    if (!result.ok) throw new Error(result.reason);
    return result.documents;
  });
}

describe("the review of generated events", () => {
  const rbac = [
    auditEvent({
      time: "2026-03-04T10:00:00.000Z",
      verb: "create",
      resource: "clusterrolebindings",
      group: "rbac.authorization.k8s.io",
      name: "ops-admin",
      user: "carol",
      requestObject: {
        roleRef: { kind: "ClusterRole", name: "cluster-admin" },
        subjects: [{ kind: "User", name: "dave" }],
      },
    }),
    auditEvent({
      time: "2026-03-04T11:00:00.000Z",
      verb: "update",
      resource: "roles",
      group: "rbac.authorization.k8s.io",
      namespace: "shop",
      name: "reader",
      user: "carol",
      level: "Metadata",
    }),
    auditEvent({
      time: "2026-03-04T12:00:00.000Z",
      verb: "get",
      resource: "secrets",
      group: "",
      namespace: "shop",
      name: "db",
      user: "system:serviceaccount:shop:web",
      code: 403,
    }),
  ];
  const edges = [
    istioRequest({
      time: "2026-02-25T10:00:00.000Z",
      client: "spiffe://cluster.local/ns/a/sa/old",
      destination: "db.a.svc.cluster.local",
      mtls: true,
    }),
    istioRequest({
      time: "2026-03-05T10:00:00.000Z",
      client: "spiffe://cluster.local/ns/a/sa/old",
      destination: "db.a.svc.cluster.local",
      mtls: true,
    }),
    istioRequest({
      time: "2026-03-05T11:00:00.000Z",
      client: "spiffe://cluster.local/ns/a/sa/new",
      destination: "db.a.svc.cluster.local",
      mtls: true,
    }),
  ];

  function review(): ReviewReport {
    const builder = new ReviewBuilder({
      since: PERIOD_START,
      until: PERIOD_END,
      environment: "test",
      source: "test",
    });
    for (const doc of [...plantedDocuments(), ...docsOf(rbac), ...docsOf(edges)]) {
      const relevant = reviewRelevant(doc);
      if (relevant !== undefined) builder.add(relevant);
    }
    return builder.report({
      errorRecords: { count: 0, basis: "test" },
      digestChain: { status: "not checked", detail: "test" },
    });
  }

  it("lists RBAC changes with what they grant, or why the audit level does not say", () => {
    const changes = review().changes.filter((c) => c.kind === "RBAC");
    expect(changes.map((c) => [c.who, c.resource, c.change])).toEqual([
      [
        "carol",
        "clusterrolebindings.rbac.authorization.k8s.io ops-admin",
        "create: ClusterRole/cluster-admin to User dave",
      ],
      [
        "carol",
        "roles.rbac.authorization.k8s.io shop/reader",
        "update: content not recorded (audit level Metadata; log RBAC at Request or RequestResponse to see what changed)",
      ],
    ]);
  });

  it("lists mesh security changes of the period only, and counts API refusals by identity", () => {
    const report = review();
    expect(report.changes.filter((c) => c.kind === "mesh security").map((c) => c.resource)).toEqual([
      "peerauthentications.security.istio.io permissive-ns/default",
      "peerauthentications.security.istio.io permissive-ns/db-strict",
    ]);
    expect(report.deniedIdentities).toContainEqual(
      expect.objectContaining({ identity: "system:serviceaccount:shop:web", where: "kubernetes", denied: 1 }),
    );
    expect(report.deniedIdentities).toContainEqual(
      expect.objectContaining({ identity: "mallory", where: "kubernetes", denied: 1 }),
    );
  });

  it("calls an edge new only when it was not seen before the period", () => {
    const report = review();
    const fromA = report.newEdges.filter((e) => e.destination === "a/db").map((e) => e.source);
    expect(fromA).toEqual(["spiffe://cluster.local/ns/a/sa/new"]);
    expect(report.edgesBasis).toMatch(/^first seen compared with the data from 2026-02-20/);
  });

  it("shows the posture change the planted patch made", () => {
    expect(review().postureChanges).toContainEqual({
      cluster: "prod",
      namespace: "permissive-ns",
      what: "declared mTLS STRICT -> PERMISSIVE",
    });
  });

  it("summarizes a Role's rules", () => {
    expect(
      rbacChange({
        verb: "create",
        requestObject: {
          rules: [
            { verbs: ["get", "list"], resources: ["secrets"] },
            { verbs: ["*"], resources: ["*"] },
          ],
        },
      }),
    ).toBe("create: rules get,list:secrets; *:*");
  });
});
