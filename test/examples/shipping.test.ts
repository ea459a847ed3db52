/**
 * End to end without the corpus: one line per source, written where its proxy or node writes it, through the
 * example Fluent Bit pipeline (grep, kubernetes and modify filters, the kinesis_firehose serialization) and the
 * real Firehose transform with the default rule pack tagging.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { transformBatch } from "../../lambdas/core/firehose/transform.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/index.js";
import type { RulePack } from "../../lambdas/core/rules/types.js";
import {
  firehoseEvent,
  loadFluentBitExamples,
  type PipelineRun,
  shipFile,
  shippedOnly,
} from "./fluent-bit-pipeline.js";
import { istioLogFormats, linkerdJsonLine, MTLS_REQUEST, renderEnvoyJson } from "./mesh-examples.js";

const { plain } = loadFluentBitExamples();
const ID = "c".repeat(64);
const NODE = "ip-10-0-1-20.eu-west-1.compute.internal";
const pod = (image: string, app: string) => ({
  pod_id: `0b5c0c1e-1111-2222-3333-${app.padEnd(12, "0").slice(0, 12)}`,
  host: NODE,
  pod_ip: "10.0.1.35",
  labels: { app },
  container_image: image,
  container_hash: `sha256:${app}`,
});
const RUN: PipelineRun = {
  env: {
    AUDIT_TRAIL_DELIVERY_STREAM: "audit-trail-test",
    AUDIT_TRAIL_REGION: "eu-west-1",
    AUDIT_TRAIL_CLUSTER_NAME: "prod-eu-1",
  },
  pods: {
    "payments/ledger-7d9f": pod("docker.io/istio/proxyv2:1.24.2", "ledger"),
    "booksapp/books-6c4": pod("cr.l5d.io/linkerd/proxy:edge-25.2.1", "books"),
    "shop/cart-0": pod("hashicorp/consul-dataplane:1.6.2", "cart"),
  },
  readAt: new Date("2025-03-04T10:00:06.000Z"),
};
const cri = (stream: "stdout" | "stderr", line: string) =>
  `2025-03-04T10:00:00.130000000Z ${stream} F ${line}`;

const ISTIO_LINE = renderEnvoyJson(istioLogFormats().get("audit-trail-json") ?? {}, MTLS_REQUEST);
const LINKERD_LINE = linkerdJsonLine(
  "frontend.web.serviceaccount.identity.linkerd.cluster.local",
  "http://books.booksapp:7002/books/1",
);
const CONSUL_LINE = JSON.stringify({
  authority: "cart",
  bytes_received: 0,
  bytes_sent: 48,
  connection_termination_details: null,
  downstream_local_address: "10.0.2.5:20000",
  downstream_remote_address: "10.0.2.9:43000",
  duration: 4,
  method: "POST",
  path: "/cart/items",
  protocol: "HTTP/1.1",
  request_id: "7a1f5c2e-9b3d-4e6f-8a0b-1c2d3e4f5a6b",
  requested_server_name: "cart.default.dc1.internal.11112222-3333-4444-5555-666677778888.consul",
  response_code: 201,
  response_code_details: "via_upstream",
  response_flags: "-",
  route_name: null,
  start_time: "2025-03-04T10:00:00.122Z",
  upstream_cluster: "local_app",
  upstream_host: "127.0.0.1:8080",
  upstream_local_address: "127.0.0.1:50000",
  upstream_service_time: "3",
  upstream_transport_failure_reason: null,
  user_agent: "python-requests/2.32",
  x_forwarded_for: null,
});
const HUBBLE_LINE = JSON.stringify({
  flow: {
    time: "2025-03-04T10:00:00.123Z",
    verdict: "FORWARDED",
    IP: { source: "10.0.1.7", destination: "10.0.1.35", ipVersion: "IPv4" },
    l4: { TCP: { source_port: 51000, destination_port: 8080, flags: { SYN: true } } },
    source: {
      identity: 12345,
      namespace: "web",
      labels: ["k8s:app=frontend", "k8s:io.cilium.k8s.policy.serviceaccount=frontend"],
      pod_name: "frontend-5d8",
    },
    destination: {
      identity: 23456,
      namespace: "payments",
      labels: ["k8s:app=ledger", "k8s:io.cilium.k8s.policy.serviceaccount=ledger"],
      pod_name: "ledger-7d9f",
    },
    Type: "L3_L4",
    node_name: "prod-eu-1/ip-10-0-1-20",
    traffic_direction: "INGRESS",
    auth_type: "SPIRE",
  },
  node_name: "prod-eu-1/ip-10-0-1-20",
  time: "2025-03-04T10:00:00.123Z",
});
const AUDIT_LINE = JSON.stringify({
  kind: "Event",
  apiVersion: "audit.k8s.io/v1",
  level: "Request",
  auditID: "8f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
  stage: "ResponseComplete",
  requestURI:
    "/api/v1/namespaces/payments/pods/ledger-7d9f/exec?command=sh&container=ledger&stdin=true&tty=true",
  verb: "create",
  user: { username: "alice@example.com", groups: ["system:authenticated"] },
  sourceIPs: ["10.0.0.12"],
  userAgent: "kubectl/v1.31.0 (linux/amd64) kubernetes/abcdef",
  objectRef: {
    resource: "pods",
    namespace: "payments",
    name: "ledger-7d9f",
    apiVersion: "v1",
    subresource: "exec",
  },
  responseStatus: { metadata: {}, code: 101 },
  requestReceivedTimestamp: "2025-03-04T10:00:00.124000Z",
  stageTimestamp: "2025-03-04T10:00:05.000000Z",
});

const SOURCES = [
  [
    "istio-proxy",
    `/var/log/containers/ledger-7d9f_payments_istio-proxy-${ID}.log`,
    cri("stdout", ISTIO_LINE),
  ],
  [
    "linkerd-proxy",
    `/var/log/containers/books-6c4_booksapp_linkerd-proxy-${ID}.log`,
    cri("stderr", LINKERD_LINE),
  ],
  [
    "consul-dataplane",
    `/var/log/containers/cart-0_shop_consul-dataplane-${ID}.log`,
    cri("stdout", CONSUL_LINE),
  ],
  ["hubble", "/var/run/cilium/hubble/events.log", HUBBLE_LINE],
  ["audit", "/var/log/kubernetes/audit/audit.log", AUDIT_LINE],
] as const;

describe("one record per source, shipped by the example Fluent Bit pipeline, through the transform", () => {
  let rules: RulePack;
  let docs: EcsDocument[];
  let shipped: ReturnType<typeof shippedOnly>;
  let results: string[];

  beforeAll(async () => {
    // Prepare
    rules = await loadRulePack([defaultRulesDir()]);
    shipped = SOURCES.flatMap(([, path, line]) => shippedOnly(shipFile(plain, path, [line], RUN)));
    // Act
    const { response } = transformBatch(firehoseEvent(shipped, RUN.readAt), {
      tagger: (doc) => rules.matchSingleEvent(doc),
    });
    results = response.records.map((r) => `${r.recordId} ${r.result}`);
    docs = response.records.map(
      (r) => JSON.parse(Buffer.from(r.data, "base64").toString("utf8")) as EcsDocument,
    );
  });

  it("every record comes back Ok, once, in order", () => {
    expect(results).toEqual(["r0 Ok", "r1 Ok", "r2 Ok", "r3 Ok", "r4 Ok"]);
  });

  it("each lands in its source's data set, at the time its own line gives", () => {
    expect(docs.map((d) => [d.event.dataset, d["@timestamp"]])).toEqual([
      ["istio.access", "2025-03-04T10:00:00.120Z"],
      ["linkerd.access", "2025-03-04T10:00:00.121Z"],
      ["consul.access", "2025-03-04T10:00:00.122Z"],
      ["cilium.flow", "2025-03-04T10:00:00.123Z"],
      ["kubernetes.audit", "2025-03-04T10:00:00.124Z"],
    ]);
  });

  it("keeps the proxy's own line as event.original, not Fluent Bit's envelope", () => {
    expect(docs.map((d) => d.event.original)).toEqual([
      ISTIO_LINE,
      LINKERD_LINE,
      CONSUL_LINE,
      HUBBLE_LINE,
      AUDIT_LINE,
    ]);
  });

  it("carries the pod metadata of the proxy containers from the kubernetes filter", () => {
    expect(docs.slice(0, 3).map((d) => d.kubernetes)).toEqual([
      {
        pod: { name: "ledger-7d9f", uid: RUN.pods?.["payments/ledger-7d9f"]?.pod_id, ip: "10.0.1.35" },
        namespace: "payments",
        node: { name: NODE },
        container: { name: "istio-proxy", image: "docker.io/istio/proxyv2:1.24.2" },
        labels: { app: "ledger" },
      },
      expect.objectContaining({
        namespace: "booksapp",
        container: expect.objectContaining({ name: "linkerd-proxy" }),
      }),
      expect.objectContaining({
        namespace: "shop",
        container: expect.objectContaining({ name: "consul-dataplane" }),
      }),
    ]);
    expect(docs[0]?.host).toEqual({ name: NODE });
  });

  it("ships every record with the cluster name and the node's read time, which the transform accepts", () => {
    for (const s of shipped) {
      expect(s.record.cluster_name).toBe("prod-eu-1");
      const wire = JSON.parse(Buffer.from(s.data, "base64").toString("utf8")) as Record<string, unknown>;
      expect(wire["@timestamp"]).toMatch(/^2025-03-04T10:00:0\d\.\d{3}Z$/);
    }
    // Every document names its cluster: what the source-silence rule groups by.
    expect(docs.map((doc) => doc.orchestrator?.cluster?.name)).toEqual(docs.map(() => "prod-eu-1"));
  });

  it("reads identities and mTLS from each mesh", () => {
    expect(docs[0]?.mesh).toMatchObject({
      name: "istio",
      mtls: true,
      source: {
        principal: "spiffe://cluster.local/ns/web/sa/frontend",
        namespace: "web",
        service_account: "frontend",
      },
    });
    expect(docs[1]?.mesh).toMatchObject({ name: "linkerd", mtls: true, source: { namespace: "web" } });
    expect(docs[2]?.mesh).toMatchObject({ name: "consul", direction: "inbound", mtls: true });
    expect(docs[3]?.mesh).toMatchObject({ name: "cilium", mtls: true, source: { namespace: "web" } });
    expect(docs[3]?.orchestrator?.cluster?.name).toBe("prod-eu-1");
  });

  it("tags the exec into the payments pod with k8s_pod_exec, and the mTLS requests with no plaintext rule", () => {
    const tags = docs.map((d) => (d as { rule?: { name?: string[] } }).rule?.name ?? []);
    expect(tags[4]).toContain("k8s_pod_exec");
    for (const t of tags.slice(0, 4)) expect(t).not.toContain("mesh_plaintext_traffic");
  });
});
