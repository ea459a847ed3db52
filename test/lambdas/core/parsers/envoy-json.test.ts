import { describe, expect, it } from "vitest";
import { parseEnvoyJson } from "../../../../lambdas/core/parsers/envoy-json.js";

const istioJson = {
  authority: "cart:9000",
  bytes_received: 10,
  bytes_sent: 220,
  connection_termination_details: null,
  downstream_local_address: "10.2.0.5:9000",
  downstream_remote_address: "10.2.0.9:41000",
  duration: 7,
  method: "PUT",
  path: "/cart/42",
  protocol: "HTTP/1.1",
  request_id: "req-1",
  requested_server_name: "outbound_.9000_._.cart.store.svc.cluster.local",
  response_code: 200,
  response_code_details: "via_upstream",
  response_flags: "-",
  route_name: "default",
  start_time: "2024-03-03T03:03:03.303Z",
  upstream_cluster: "inbound|9000||",
  upstream_host: "10.2.0.5:9000",
  upstream_local_address: "127.0.0.6:40001",
  upstream_service_time: "6",
  upstream_transport_failure_reason: null,
  user_agent: "python-requests/2.31",
  x_forwarded_for: null,
};

describe("parseEnvoyJson", () => {
  it("maps Istio's default JSON (numbers, null and '-') to ECS", () => {
    const result = parseEnvoyJson(istioJson);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.document.event).toMatchObject({
      dataset: "istio.access",
      outcome: "success",
      duration: 7_000_000,
    });
    expect(result.document.mesh).toMatchObject({ name: "istio", direction: "inbound", mtls: true });
    expect(result.document.envoy?.upstream_service_time_ms).toBe(6);
    expect(JSON.stringify(result.document)).not.toMatch(/:null|:"-"|:""/);
  });

  it("accepts numbers printed as strings (TEXT-encoded JSON formats)", () => {
    const result = parseEnvoyJson({
      ...istioJson,
      response_code: "503",
      bytes_sent: "19",
      duration: "0",
      response_flags: "UH",
    });
    expect(result.ok && result.document.http?.response?.status_code).toBe(503);
    expect(result.ok && result.document.event.outcome).toBe("failure");
    expect(result.ok && result.document.mesh?.response_flags).toEqual(["UH"]);
  });

  it("recognizes Consul by its local_app cluster and .consul SNI", () => {
    const result = parseEnvoyJson({
      ...istioJson,
      upstream_cluster: "local_app",
      requested_server_name: "cart.default.dc1.internal.11112222-3333.consul",
    });
    expect(result.ok && result.document.event.dataset).toBe("consul.access");
    expect(result.ok && result.document.mesh).toMatchObject({
      name: "consul",
      direction: "inbound",
      mtls: true,
      destination: {
        service: "cart",
        namespace: "default",
        datacenter: "dc1",
        trust_domain: "11112222-3333",
      },
    });
  });

  it("maps the operators' custom format with SPIFFE identities and an mtls flag", () => {
    const result = parseEnvoyJson({
      timestamp: "2024-04-04T04:04:04.404Z",
      source_identity: "spiffe://corp.example/ns/payments/sa/api",
      source_ip: "10.3.0.7",
      destination_service: "ledger.finance.svc.cluster.local",
      method: "GET",
      path: "/balance",
      response_code: "401",
      response_flags: "-",
      duration_ms: "3",
      bytes_sent: 12,
      bytes_received: "0",
      mtls: "true",
      user_agent: "-",
      request_id: "r-9",
      trace_id: "abcdef0123456789",
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.document.event).toMatchObject({
      dataset: "istio.access",
      outcome: "failure",
      duration: 3_000_000,
    });
    expect(result.document.source).toMatchObject({ ip: "10.3.0.7" });
    expect(result.document.trace).toEqual({ id: "abcdef0123456789" });
    expect(result.document.user_agent).toBeUndefined();
    expect(result.document.mesh).toMatchObject({
      mtls: true,
      source: {
        principal: "spiffe://corp.example/ns/payments/sa/api",
        trust_domain: "corp.example",
        namespace: "payments",
        service_account: "api",
      },
      destination: { service: "ledger.finance.svc.cluster.local", namespace: "finance" },
    });
  });

  it("reads the custom format's mtls from the client certificate fingerprint Envoy prints", () => {
    const custom = {
      timestamp: "2024-04-04T04:04:04.404Z",
      source_identity: "spiffe://cluster.local/ns/web/sa/frontend",
      destination_service: "ledger.finance.svc.cluster.local",
      method: "GET",
      response_code: 200,
    };
    const mtlsOf = (mtls: unknown, identity: unknown = null) => {
      const result = parseEnvoyJson({ ...custom, source_identity: identity, mtls });
      return result.ok ? [result.document.mesh?.mtls, result.document.mesh?.mtls_evidence] : "rejected";
    };
    const fingerprint = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    expect(mtlsOf(fingerprint, custom.source_identity)).toEqual([true, "peer_certificate"]);
    expect(mtlsOf(fingerprint.toUpperCase().replace(/(..)(?!$)/g, "$1:"))).toEqual([
      true,
      "peer_certificate",
    ]);
    expect(mtlsOf(null)).toEqual([false, "peer_certificate"]);
    expect(mtlsOf("-")).toEqual([false, "peer_certificate"]);
    expect(mtlsOf("")).toEqual([false, "peer_certificate"]);
    expect(mtlsOf("TLSv1.3")).toEqual([undefined, undefined]);
    const withoutKey = parseEnvoyJson({ ...custom, source_identity: null });
    expect(withoutKey.ok && withoutKey.document.mesh?.mtls).toBeUndefined();
  });

  it("takes a logged SPIFFE URI SAN as mTLS: only a validated client certificate carries one", () => {
    const result = parseEnvoyJson({
      timestamp: "2024-04-04T04:04:04.404Z",
      source_identity: "spiffe://cluster.local/ns/web/sa/frontend",
      destination_service: "ledger.finance.svc.cluster.local",
      method: "GET",
      response_code: 200,
    });
    expect(result.ok && result.document.mesh).toMatchObject({ mtls: true, mtls_evidence: "peer_uri_san" });
  });

  it("reads Istio's connection_security_policy both ways", () => {
    const of = (policy: string) => {
      const result = parseEnvoyJson({ ...istioJson, connection_security_policy: policy });
      return result.ok ? [result.document.mesh?.mtls, result.document.mesh?.mtls_evidence] : "rejected";
    };
    expect(of("mutual_tls")).toEqual([true, "connection_security_policy"]);
    expect(of("none")).toEqual([false, "connection_security_policy"]);
  });

  it("reads the peer identity an operator added to Istio's JSON as downstream_peer_uri_san", () => {
    const result = parseEnvoyJson({
      ...istioJson,
      downstream_peer_uri_san: "spiffe://cluster.local/ns/web/sa/frontend",
    });
    expect(result.ok && result.document.mesh?.source).toEqual({
      principal: "spiffe://cluster.local/ns/web/sa/frontend",
      trust_domain: "cluster.local",
      namespace: "web",
      service_account: "frontend",
    });
  });

  it("rejects a non-numeric status code with the field name", () => {
    const result = parseEnvoyJson({ ...istioJson, response_code: "two hundred" });
    expect(result).toMatchObject({ ok: false, reason: expect.stringContaining('"response_code"') });
  });

  it("rejects a record without a start time", () => {
    const result = parseEnvoyJson({ ...istioJson, start_time: "-" });
    expect(result.ok).toBe(false);
  });

  it("counts a non-OK gRPC status as a failure even behind HTTP 200, by name or number", () => {
    const of = (grpc: unknown) => {
      const result = parseEnvoyJson({ ...istioJson, protocol: "HTTP/2", grpc_status: grpc });
      if (!result.ok) return "rejected";
      const { mesh, event } = result.document;
      return [event.outcome, mesh?.grpc_status_code, mesh?.grpc_status, event.reason];
    };
    expect(of("Unavailable")).toEqual(["failure", 14, "UNAVAILABLE", "grpc UNAVAILABLE"]);
    expect(of("INTERNAL")).toEqual(["failure", 13, "INTERNAL", "grpc INTERNAL"]);
    expect(of(13)).toEqual(["failure", 13, "INTERNAL", "grpc INTERNAL"]);
    expect(of("OK")).toEqual(["success", 0, "OK", undefined]);
    expect(of("-")).toEqual(["success", undefined, undefined, undefined]);
    expect(of("no such status")).toEqual(["success", undefined, undefined, undefined]);
  });

  it("keeps retries, request/response durations and both local addresses", () => {
    const result = parseEnvoyJson({
      ...istioJson,
      upstream_request_attempt_count: 3,
      request_duration: "1",
      response_duration: 5,
    });
    expect(result.ok && result.document.envoy).toMatchObject({
      upstream_request_attempt_count: 3,
      request_duration_ms: 1,
      response_duration_ms: 5,
      downstream_local_address: "10.2.0.5:9000",
      upstream_local_address: "127.0.0.6:40001",
    });
  });
});
