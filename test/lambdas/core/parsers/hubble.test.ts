import { describe, expect, it } from "vitest";
import { parseHubble } from "../../../../lambdas/core/parsers/hubble.js";

describe("parseHubble", () => {
  it("maps a forwarded L7 HTTP flow with SPIRE mutual auth and encryption", () => {
    const result = parseHubble({
      flow: {
        time: "2024-07-07T07:07:07.123456789Z",
        verdict: "FORWARDED",
        IP: { source: "10.0.1.10", destination: "10.0.2.20", ipVersion: "IPv4", encrypted: true },
        l4: { TCP: { source_port: 40100, destination_port: 8080 } },
        source: {
          identity: 1234,
          namespace: "shop",
          pod_name: "web-1",
          labels: ["k8s:io.cilium.k8s.policy.serviceaccount=web"],
          workloads: [{ name: "web", kind: "Deployment" }],
        },
        destination: { identity: 5678, namespace: "shop", pod_name: "api-1" },
        destination_service: { name: "api", namespace: "shop" },
        Type: "L7",
        traffic_direction: "INGRESS",
        auth_type: "SPIRE",
        l7: {
          type: "RESPONSE",
          latency_ns: "4000000",
          http: { code: 404, method: "GET", url: "http://api.shop:8080/missing", protocol: "HTTP/1.1" },
        },
        node_name: "prod/node-a",
      },
      node_name: "prod/node-a",
      time: "2024-07-07T07:07:07.123456789Z",
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const doc = result.document;
    expect(doc.event).toMatchObject({
      dataset: "cilium.flow",
      action: "http_request",
      outcome: "failure",
      duration: 4_000_000,
    });
    expect(doc.http).toEqual({ request: { method: "GET" }, response: { status_code: 404 }, version: "1.1" });
    expect(doc.cilium).toMatchObject({
      verdict: "FORWARDED",
      auth_type: "SPIRE",
      encrypted: true,
      source_identity: 1234,
      destination_identity: 5678,
    });
    expect(doc.mesh).toMatchObject({
      name: "cilium",
      mtls: true,
      direction: "inbound",
      source: { namespace: "shop", workload: "web", service_account: "web" },
      destination: { namespace: "shop", workload: "api-1", service: "api" },
    });
    expect(doc.host).toEqual({ name: "node-a" });
    expect(doc.orchestrator?.cluster).toEqual({ name: "prod" });
  });

  it("maps a bare DROPPED flow to a failure with its drop reason", () => {
    const result = parseHubble({
      time: "2024-07-07T07:07:08Z",
      verdict: "DROPPED",
      drop_reason_desc: "POLICY_DENIED",
      IP: { source: "fd00::1", destination: "fd00::2", ipVersion: "IPv6" },
      l4: { UDP: { source_port: 5353, destination_port: 53 } },
      auth_type: "DISABLED",
    });
    expect(result.ok && result.document.event).toMatchObject({
      outcome: "failure",
      reason: "POLICY_DENIED",
      type: ["connection", "denied"],
    });
    expect(result.ok && result.document.network).toMatchObject({ transport: "udp", type: "ipv6" });
    expect(result.ok && result.document.mesh?.mtls).toBe(false);
  });

  it("rejects a flow without a verdict", () => {
    expect(parseHubble({ flow: { time: "2024-07-07T07:07:08Z" } })).toEqual({
      ok: false,
      reason: "hubble: missing verdict",
    });
  });
});
