import { describe, expect, it } from "vitest";
import { parseEnvoyText } from "../../../../lambdas/core/parsers/envoy-text.js";

// Handwritten lines in each layout (values invented for these tests).
const ISTIO_OUTBOUND =
  '[2024-05-02T08:00:01.250Z] "POST /api/orders?id=7 HTTP/1.1" 201 - via_upstream - "-" 512 64 12 11 "-" "okhttp/4.9" "1b2c-rid" "orders:8080" "10.1.2.3:8080" outbound|8080||orders.shop.svc.cluster.local 10.1.9.9:40000 10.96.0.20:8080 10.1.9.9:51000 - default';
const ISTIO_INBOUND_MTLS =
  '[2024-05-02T08:00:01.260Z] "GET /health HTTP/2" 200 - via_upstream - "-" 0 2 1 1 "-" "kube-probe/1.29" "rid-2" "orders:8080" "10.1.2.3:8080" inbound|8080|| 127.0.0.6:41000 10.1.2.3:8080 10.1.9.9:40000 outbound_.8080_._.orders.shop.svc.cluster.local default';
const ISTIO_RBAC_DENY =
  '[2024-05-02T08:00:02.000Z] "DELETE /admin HTTP/1.1" 403 - rbac_access_denied_matched_policy[ns[shop]-policy[deny-admin]-rule[0]] - "-" 0 19 0 - "-" "curl/8.0" "rid-3" "orders:8080" "-" inbound|8080|| - 10.1.2.3:8080 10.1.7.7:33000 - -';

describe("parseEnvoyText", () => {
  it("maps an Istio outbound line to ECS with destination service and direction", () => {
    // Act
    const result = parseEnvoyText(ISTIO_OUTBOUND);
    // Assess
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const doc = result.document;
    expect(doc["@timestamp"]).toBe("2024-05-02T08:00:01.250Z");
    expect(doc.event).toMatchObject({
      dataset: "istio.access",
      outcome: "success",
      action: "http_request",
      duration: 12_000_000,
    });
    expect(doc.http).toEqual({
      version: "1.1",
      request: { method: "POST", id: "1b2c-rid", body: { bytes: 512 } },
      response: { status_code: 201, body: { bytes: 64 } },
    });
    expect(doc.url).toMatchObject({
      original: "/api/orders?id=7",
      path: "/api/orders",
      query: "id=7",
      domain: "orders",
      port: 8080,
    });
    expect(doc.source).toMatchObject({ ip: "10.1.9.9", port: 51000 });
    expect(doc.destination).toMatchObject({ ip: "10.1.2.3", port: 8080 });
    expect(doc.mesh).toEqual({
      name: "istio",
      direction: "outbound",
      destination: { service: "orders.shop.svc.cluster.local", namespace: "shop" },
    });
    expect(doc.mesh?.mtls).toBeUndefined();
  });

  it("derives mTLS on the inbound side from Istio's outbound_ SNI", () => {
    const result = parseEnvoyText(ISTIO_INBOUND_MTLS);
    expect(result.ok && result.document.mesh).toMatchObject({ direction: "inbound", mtls: true });
    expect(result.ok && result.document.tls).toEqual({
      established: true,
      client: { server_name: "outbound_.8080_._.orders.shop.svc.cluster.local" },
    });
    expect(result.ok && result.document.http?.version).toBe("2");
  });

  it("leaves mtls unknown for an inbound request without the mesh's SNI, naming that weak evidence", () => {
    // Auto-mTLS clients are logged without SNI too: no SNI is a hint, never `mtls: false`.
    const result = parseEnvoyText(ISTIO_RBAC_DENY);
    expect(result.ok && result.document.mesh?.mtls).toBeUndefined();
    expect(result.ok && result.document.mesh?.mtls_evidence).toBe("no_mesh_sni");
    expect(result.ok && result.document.event).toMatchObject({
      outcome: "failure",
      type: ["access", "denied"],
      reason: "rbac_access_denied_matched_policy[ns[shop]-policy[deny-admin]-rule[0]]",
    });
    expect(result.ok && result.document.destination).toEqual({ bytes: 19 });
  });

  it("parses IPv6 addresses in brackets", () => {
    const line = ISTIO_INBOUND_MTLS.replace(
      "10.1.9.9:40000 outbound_",
      "[fd00:10::5]:40000 outbound_",
    ).replace('"10.1.2.3:8080" inbound', '"[fd00:10::1]:8080" inbound');
    const result = parseEnvoyText(line);
    expect(result.ok && result.document.source).toMatchObject({
      ip: "fd00:10::5",
      port: 40000,
      address: "[fd00:10::5]:40000",
    });
    expect(result.ok && result.document.destination).toMatchObject({ ip: "fd00:10::1", port: 8080 });
    expect(result.ok && result.document.network?.type).toBe("ipv6");
  });

  it("treats '- - -' as a TCP connection whose status 0 is not a failure", () => {
    const result = parseEnvoyText(
      '[2024-01-01T00:00:00.000Z] "- - -" 0 - 100 200 5 - "-" "-" "-" "-" "10.0.0.8:5432"',
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.document.event).toMatchObject({
      dataset: "envoy.access",
      action: "tcp_connection",
      outcome: "success",
      category: ["network"],
    });
    expect(result.document.http).toBeUndefined();
    expect(result.document.url).toBeUndefined();
    expect(result.document.network).toMatchObject({ transport: "tcp", bytes: 300 });
  });

  it("marks a TCP connection with response flags as a failure", () => {
    const result = parseEnvoyText(
      'ACCESS [2024-01-01T00:00:00.000Z] "- - -" 0 UF,URX 0 0 0 - "-" "-" "-" "-" "10.0.0.8:5432"',
    );
    expect(result.ok && result.document.event.outcome).toBe("failure");
    expect(result.ok && result.document.mesh?.response_flags).toEqual(["UF", "URX"]);
  });

  it("marks HTTP status 0 (downstream disconnect) as a failure", () => {
    const line = ISTIO_OUTBOUND.replace('" 201 - via_upstream', '" 0 DC downstream_remote_disconnect');
    expect(parseEnvoyText(line)).toMatchObject({ ok: true, document: { event: { outcome: "failure" } } });
  });

  it("reads the Istio 1.1 layout (mixer status, no transport failure reason)", () => {
    const line =
      '[2019-02-01T10:00:00.000Z] "GET /a HTTP/1.1" 500 - "-" 0 10 3 2 "-" "curl" "rid" "svc:80" "10.0.0.2:80" outbound|80||svc.ns.svc.cluster.local - 10.0.0.3:80 10.0.0.4:1234 -';
    const result = parseEnvoyText(line);
    expect(result.ok && result.document.event).toMatchObject({ dataset: "istio.access", outcome: "failure" });
    expect(result.ok && result.document.source).toMatchObject({ ip: "10.0.0.4", port: 1234 });
    expect(result.ok && result.document.mesh?.destination?.namespace).toBe("ns");
  });

  it("reads the Istio ≤ 1.8 layout (mixer status and transport failure reason)", () => {
    const line =
      '[2020-02-01T10:00:00.000Z] "GET /b HTTP/1.1" 200 - "-" "-" 0 10 3 2 "-" "curl" "rid" "svc:80" "10.0.0.2:80" inbound|80|http|svc.ns.svc.cluster.local 127.0.0.1:5000 10.0.0.2:80 10.0.0.4:1234 outbound_.80_._.svc.ns.svc.cluster.local default';
    const result = parseEnvoyText(line);
    expect(result.ok && result.document.mesh).toMatchObject({ direction: "inbound", mtls: true });
    expect(result.ok && result.document.envoy?.route_name).toBe("default");
  });

  it("keeps a numeric-looking user agent as a string and splits X-Forwarded-For into client.ip", () => {
    const line =
      '[2024-01-01T00:00:00.000Z] "GET / HTTP/1.1" 200 - 0 1 1 1 "203.0.113.9, 10.0.0.1" "12345" "r" "h" "10.0.0.2:80"';
    const result = parseEnvoyText(line);
    expect(result.ok && result.document.user_agent?.original).toBe("12345");
    expect(result.ok && result.document.client).toEqual({ ip: "203.0.113.9" });
  });

  it.each([
    [
      "a malformed request line",
      '[2024-01-01T00:00:00.000Z] "GET /x -" 200 - 0 1 1 1 "-" "-" "-" "-" "-"',
      /malformed request line/,
    ],
    ["an Envoy application log", "[2024-01-01 00:00:00.000][12][info][main] starting", /expected/],
    [
      "a non-numeric status",
      '[2024-01-01T00:00:00.000Z] "GET / HTTP/1.1" abc - 0 1 1 1 "-" "-" "-" "-" "-"',
      /not a number/,
    ],
    ["too few fields", '[2024-01-01T00:00:00.000Z] "GET / HTTP/1.1" 200 -', /unrecognized layout/],
    ["an unterminated quote", '[2024-01-01T00:00:00.000Z] "GET / HTTP/1.1', /unterminated/],
    [
      "a bad timestamp",
      '[yesterday] "GET / HTTP/1.1" 200 - 0 1 1 1 "-" "-" "-" "-" "-"',
      /invalid start time/,
    ],
  ])("rejects %s with a reason", (_name, line, reason) => {
    const result = parseEnvoyText(line);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it("never emits '-' or empty strings as values", () => {
    const line =
      '[2024-01-01T00:00:00.000Z] "- - HTTP/1.1" 400 DPE http1.codec_error - "-" 0 11 4 - "-" "-" "-" "-" "-" - - 10.0.0.1:80 10.0.0.9:1 - -';
    const result = parseEnvoyText(line);
    expect(result.ok).toBe(true);
    const json = JSON.stringify(result.ok && result.document);
    expect(json).not.toMatch(/:"-"|:""|:null/);
    expect(result.ok && result.document.http?.request?.method).toBeUndefined();
    expect(result.ok && result.document.url).toBeUndefined();
  });

  it("keeps both local addresses: where the connection arrived and the proxy's own upstream address", () => {
    const result = parseEnvoyText(ISTIO_OUTBOUND);
    expect(result.ok && result.document.envoy).toMatchObject({
      upstream_local_address: "10.1.9.9:40000",
      downstream_local_address: "10.96.0.20:8080",
    });
  });
});
