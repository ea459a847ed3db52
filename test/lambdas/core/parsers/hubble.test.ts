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
    expect(parseHubble({ flow: { time: "2024-07-07T07:07:08Z" } })).toMatchObject({
      ok: false,
      reason: "hubble: missing verdict",
    });
  });

  it("describes a reply as the call it answers: client as source, server as destination, pods kept", () => {
    // Prepare: the server's SYN-ACK back to the client, as Hubble exports it
    const result = parseHubble({
      flow: {
        time: "2023-08-21T12:12:18.510175415Z",
        verdict: "FORWARDED",
        IP: { source: "10.244.1.5", destination: "10.244.1.60", ipVersion: "IPv4" },
        l4: { TCP: { source_port: 80, destination_port: 44916, flags: { SYN: true, ACK: true } } },
        source: { identity: 5678, namespace: "default", pod_name: "deathstar-7848d6c4d5-th9v2" },
        destination: { identity: 1234, namespace: "default", pod_name: "xwing" },
        destination_service: { name: "xwing-svc", namespace: "default" },
        source_service: { name: "deathstar", namespace: "default" },
        Type: "L3_L4",
        is_reply: true,
        trace_reason: "REPLY",
        traffic_direction: "INGRESS",
        node_name: "kind-kind/kind-worker",
      },
      node_name: "kind-kind/kind-worker",
    });
    // Assess
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const doc = result.document;
    expect(doc.source).toMatchObject({ ip: "10.244.1.60", port: 44916 });
    expect(doc.destination).toMatchObject({ ip: "10.244.1.5", port: 80 });
    expect(doc.client).toMatchObject({ ip: "10.244.1.60" });
    expect(doc.server).toMatchObject({ ip: "10.244.1.5" });
    expect(doc.mesh?.source).toMatchObject({ workload: "xwing", service: "xwing-svc" });
    expect(doc.mesh?.destination).toMatchObject({
      workload: "deathstar-7848d6c4d5-th9v2",
      service: "deathstar",
    });
    expect(doc.cilium).toMatchObject({
      is_reply: true,
      trace_reason: "REPLY",
      source_pod: "xwing",
      destination_pod: "deathstar-7848d6c4d5-th9v2",
      source_identity: 1234,
      destination_identity: 5678,
    });
  });

  it("names what mtls rests on", () => {
    const base = {
      time: "2024-07-07T07:07:07Z",
      verdict: "FORWARDED",
      IP: { source: "10.0.1.10", destination: "10.0.2.20" },
    };
    const of = (flow: Record<string, unknown>) => {
      const result = parseHubble({ flow: { ...base, ...flow } });
      return result.ok ? [result.document.mesh?.mtls, result.document.mesh?.mtls_evidence] : "rejected";
    };
    expect(of({ auth_type: "SPIRE" })).toEqual([true, "hubble_auth_type"]);
    expect(of({ IP: { ...base.IP, encrypted: true } })).toEqual([true, "hubble_encrypted"]);
    expect(of({ auth_type: "DISABLED" })).toEqual([false, "hubble_auth_type"]);
    expect(of({})).toEqual([undefined, undefined]);
  });
});
