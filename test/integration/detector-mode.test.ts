/**
 * `mesh_namespace_not_strict` (an `mtls_mode` rule) on a real OpenSearch node: planted namespaces (STRICT,
 * PERMISSIVE, DISABLE, undeclared, a mode changed mid-period, a namespace's and the mesh's PeerAuthentication
 * deleted, proven plaintext, the allow list) fire exactly where expected, and the detector, run every few hours over
 * documents that arrive up to its look-back late, raises exactly the alerts replay raises over the same documents:
 * same ids (one per cluster, namespace and UTC day), same counts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAlert } from "../../lambdas/core/alerts/build.js";
import type { AlertContext } from "../../lambdas/core/alerts/model.js";
import { ALERTS_INDEX } from "../../lambdas/core/contracts.js";
import { DETECTION_DEFAULTS } from "../../lambdas/core/detection/run.js";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { bootstrapDomain } from "../../lambdas/core/opensearch/index.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/index.js";
import type { Detection, RulePack } from "../../lambdas/core/rules/types.js";
import { type Arriving, detectorAsDocumentsArrive, replayInArrivalOrder } from "./arrival.js";
import { deleteIndices, TEST_BOOTSTRAP_OPTIONS, testClient, testSettings } from "./helpers.js";

const RULE = "mesh_namespace_not_strict";
const HOUR = 3_600_000;
const T0 = Date.parse("2031-01-01T00:00:00Z");
const LOOKBACK = DETECTION_DEFAULTS.lookbackMs;
const context: AlertContext = { environment: "mode-test" };

let seq = 0;
/** Up to the look-back late, deterministically. */
const delayOf = (i: number) => (i * 7919) % LOOKBACK;

function peerAuthentication(
  hour: number,
  cluster: string,
  namespace: string,
  verb: "create" | "patch" | "delete",
  mode?: string,
): Arriving {
  const ms = T0 + hour * HOUR;
  const i = seq++;
  const audit: Record<string, unknown> = {
    auditID: `audit-${i}`,
    verb,
    stage: "ResponseComplete",
    level: "RequestResponse",
    objectRef: { resource: "peerauthentications", apiGroup: "security.istio.io", namespace, name: "default" },
    responseStatus: { code: verb === "create" ? 201 : 200 },
    user: { username: "alice" },
  };
  if (mode !== undefined)
    audit[verb === "create" ? "responseObject" : "requestObject"] = { spec: { mtls: { mode } } };
  return {
    doc: {
      "@timestamp": new Date(ms).toISOString(),
      ecs: { version: "8.17.0" },
      event: {
        id: `evt-${String(i).padStart(5, "0")}`,
        kind: "event",
        dataset: "kubernetes.audit",
        action: verb,
      },
      orchestrator: { cluster: { name: cluster } },
      kubernetes: { audit },
    } as unknown as EcsDocument,
    arrivalMs: ms + delayOf(i),
  };
}

function request(minute: number, cluster: string, namespace: string, plaintext = false): Arriving {
  const ms = T0 + minute * 60_000;
  const i = seq++;
  return {
    doc: {
      "@timestamp": new Date(ms).toISOString(),
      ecs: { version: "8.17.0" },
      event: { id: `evt-${String(i).padStart(5, "0")}`, kind: "event", dataset: "istio.access" },
      orchestrator: { cluster: { name: cluster } },
      user_agent: { original: "Go-http-client/1.1" },
      mesh: {
        name: "istio",
        direction: "inbound",
        mtls: !plaintext,
        mtls_evidence: "peer_certificate",
        source: { principal: `spiffe://cluster.local/ns/${namespace}/sa/client` },
        destination: { namespace, service: `web.${namespace}.svc.cluster.local` },
      },
      http: { request: { method: "GET" }, response: { status_code: 200 } },
    } as unknown as EcsDocument,
    arrivalMs: ms + delayOf(i),
  };
}

/** Two days of traffic: a request every 30 minutes into each namespace, and the planted PeerAuthentications. */
function planted(): Arriving[] {
  const out: Arriving[] = [
    // prod: mesh-wide STRICT from hour 1.
    peerAuthentication(1, "prod", "istio-system", "create", "STRICT"),
    // permissive-ns: PERMISSIVE from hour 2 on (both days fire).
    peerAuthentication(2, "prod", "permissive-ns", "create", "PERMISSIVE"),
    // disable-ns: DISABLE from hour 2 on.
    peerAuthentication(2, "prod", "disable-ns", "create", "DISABLE"),
    // changed-ns: STRICT, PERMISSIVE from hour 10 to hour 14 (only those requests count), STRICT again.
    peerAuthentication(2, "prod", "changed-ns", "create", "STRICT"),
    peerAuthentication(10, "prod", "changed-ns", "patch", "PERMISSIVE"),
    peerAuthentication(14, "prod", "changed-ns", "patch", "STRICT"),
    // deleted-ns: its own PERMISSIVE deleted at hour 20: the mesh-wide STRICT applies again.
    peerAuthentication(2, "prod", "deleted-ns", "create", "PERMISSIVE"),
    peerAuthentication(20, "prod", "deleted-ns", "delete"),
    // ingress: PERMISSIVE on purpose (the allow list).
    peerAuthentication(2, "prod", "ingress", "create", "PERMISSIVE"),
    // legacy cluster: the mesh-wide STRICT deleted at hour 30: Istio's default PERMISSIVE from then on.
    peerAuthentication(1, "legacy", "istio-system", "create", "STRICT"),
    peerAuthentication(30, "legacy", "istio-system", "delete"),
  ];
  for (let minute = 0; minute < 48 * 60; minute += 30) {
    for (const namespace of [
      "strict-ns",
      "permissive-ns",
      "disable-ns",
      "changed-ns",
      "deleted-ns",
      "ingress",
    ])
      out.push(request(minute, "prod", namespace));
    out.push(request(minute, "legacy", "app"));
    // edge: no PeerAuthentication at all (undeclared): not judged.
    out.push(request(minute, "edge", "undeclared-ns"));
  }
  // Proven plaintext into the undeclared namespace and into STRICT strict-ns.
  out.push(request(25 * 60 + 7, "edge", "undeclared-ns", true));
  out.push(request(30 * 60 + 7, "prod", "strict-ns", true));
  return out;
}

describe("mesh_namespace_not_strict: detector on a real node against replay", () => {
  const client = testClient();
  let pack: RulePack;

  beforeAll(async () => {
    pack = await loadRulePack([defaultRulesDir()]);
    await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
    await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
  });

  afterAll(async () => {
    await deleteIndices(client, "audit-2031-*");
    await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
  });

  it("fires exactly on the planted namespaces and days, and the detector raises replay's alerts", async () => {
    // Prepare
    const plan = planted();
    const replayed = replayInArrivalOrder(pack, plan);
    expect(replayed.late).toBe(0);
    const ours = replayed.detections.filter((d) => d.rule.name === RULE);

    // Assess (replay): the planted cases, per cluster, namespace and day, with the exact counts.
    const day = (d: Detection) => d.windowStart.slice(0, 10);
    const where = (d: Detection) =>
      `${d.groupBy["orchestrator.cluster.name"]}/${d.groupBy["mesh.destination.namespace"]} ${day(d)} ${d.count}`;
    expect(ours.map(where).sort()).toEqual(
      [
        // Requests at 02:00 … 23:30 on day 1 (44), all 48 of day 2.
        "prod/permissive-ns 2031-01-01 44",
        "prod/permissive-ns 2031-01-02 48",
        "prod/disable-ns 2031-01-01 44",
        "prod/disable-ns 2031-01-02 48",
        // 10:00 … 13:30: 8 requests.
        "prod/changed-ns 2031-01-01 8",
        // 02:00 … 19:30: 36 requests; nothing after the delete (the mesh-wide STRICT applies).
        "prod/deleted-ns 2031-01-01 36",
        // From 06:00 on day 2 (hour 30): 36 requests.
        "legacy/app 2031-01-02 36",
        // Proven plaintext, whatever the declared mode (STRICT, or none at all).
        "edge/undeclared-ns 2031-01-02 1",
        "prod/strict-ns 2031-01-02 1",
      ].sort(),
    );

    // Act: the detector, a run every 3 hours, documents indexed as they arrive.
    const { alerts, failures } = await detectorAsDocumentsArrive({
      client,
      pack,
      alertContext: context,
      arriving: plan,
      auditIndices: "audit-2031-*",
      firstRunMs: T0 + 3 * HOUR,
      runEveryMs: 3 * HOUR,
      endMs: T0 + 48 * HOUR + LOOKBACK + 2 * HOUR,
    });
    expect(failures).toEqual([]);

    // Assess (detector): the same alerts, ids and counts as replay.
    const expected = ours.map((d) => `${buildAlert(d, context).id} ${d.count}`).sort();
    expect(
      alerts
        .filter((alert) => alert.document.rule?.name === RULE)
        .map((alert) => `${alert._id} ${alert.document.count}`)
        .sort(),
    ).toEqual(expected);
  });
});
