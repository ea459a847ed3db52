import { describe, expect, it } from "vitest";
import { parseLinkerdApache, parseLinkerdJson } from "../../../../lambdas/core/parsers/linkerd.js";

describe("parseLinkerdApache", () => {
  it("maps an identified client to mesh.source and mtls", () => {
    const result = parseLinkerdApache(
      '10.9.0.4:5555 web.shop.serviceaccount.identity.linkerd.cluster.local - [2024-06-01T12:00:00.123456789Z] "DELETE http://api:8080/items/3?force=1 HTTP/2.0" 204',
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.document["@timestamp"]).toBe("2024-06-01T12:00:00.123Z");
    expect(result.document.event).toMatchObject({ dataset: "linkerd.access", outcome: "success" });
    expect(result.document.url).toEqual({
      original: "http://api:8080/items/3?force=1",
      path: "/items/3",
      query: "force=1",
      scheme: "http",
      domain: "api",
      port: 8080,
    });
    expect(result.document.mesh).toEqual({
      name: "linkerd",
      direction: "inbound",
      mtls: true,
      mtls_evidence: "linkerd_client_id",
      source: {
        principal: "web.shop.serviceaccount.identity.linkerd.cluster.local",
        trust_domain: "cluster.local",
        service_account: "web",
        namespace: "shop",
      },
    });
  });

  it("marks '-' client.id as not mutually authenticated", () => {
    const result = parseLinkerdApache('10.9.0.1:4000 - - [2024-06-01T12:00:01Z] "GET /live HTTP/1.1" 503');
    expect(result.ok && result.document.mesh).toEqual({
      name: "linkerd",
      direction: "inbound",
      mtls: false,
      mtls_evidence: "linkerd_client_id",
    });
    expect(result.ok && result.document.event.outcome).toBe("failure");
  });

  it.each([
    ["no timestamp brackets", '10.0.0.1:1 - - 2024 "GET / HTTP/1.1" 200'],
    ["a non-numeric status", '10.0.0.1:1 - - [2024-06-01T12:00:01Z] "GET / HTTP/1.1" OK'],
    ["a bad timestamp", '10.0.0.1:1 - - [not-a-time] "GET / HTTP/1.1" 200'],
  ])("rejects %s", (_name, line) => {
    expect(parseLinkerdApache(line).ok).toBe(false);
  });
});

describe("parseLinkerdJson", () => {
  it("reads numbers from strings and leaves empty strings out", () => {
    const result = parseLinkerdJson({
      "client.addr": "[fd00::7]:6000",
      "client.id": "-",
      host: "api:8080",
      method: "GET",
      processing_ns: "1000",
      request_bytes: "",
      response_bytes: "77",
      status: 200,
      timestamp: "2024-06-01T12:00:02.5Z",
      total_ns: "2500000",
      trace_id: "",
      uri: "/v1/items",
      user_agent: "",
      version: "HTTP/1.1",
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.document.event.duration).toBe(2_500_000);
    expect(result.document.source).toMatchObject({ ip: "fd00::7", port: 6000 });
    expect(result.document.http?.response).toEqual({ status_code: 200, body: { bytes: 77 } });
    expect(result.document.url).toMatchObject({ path: "/v1/items", domain: "api", port: 8080 });
    expect(result.document.trace).toBeUndefined();
    expect(result.document.user_agent).toBeUndefined();
    expect(result.document.mesh?.mtls).toBe(false);
  });

  it("rejects a status that is not a number", () => {
    expect(
      parseLinkerdJson({ "client.addr": "1.2.3.4:5", status: "fine", timestamp: "2024-01-01T00:00:00Z" }).ok,
    ).toBe(false);
  });

  it("leaves mtls unknown for a loopback client: the pod talking to itself is never meshed", () => {
    const result = parseLinkerdJson({
      "client.addr": "127.0.0.1:51764",
      "client.id": "-",
      method: "GET",
      status: 200,
      timestamp: "2021-11-01T21:54:28.844393794Z",
      uri: "http://transparency.test.svc.cluster.local/",
    });
    expect(result.ok && result.document.mesh?.mtls).toBeUndefined();
    expect(result.ok && result.document.mesh?.mtls_evidence).toBe("loopback");
  });

  it("reads a tls field and a gRPC status when the format carries them", () => {
    const result = parseLinkerdJson({
      "client.addr": "10.42.0.70:32996",
      "client.id": "-",
      method: "POST",
      status: 200,
      grpc_status: "14",
      tls: "true",
      timestamp: "2022-08-23T20:33:42.321746212Z",
      uri: "http://ledger:9000/ledger.Ledger/Post",
    });
    expect(result.ok && result.document.mesh).toMatchObject({
      mtls: true,
      mtls_evidence: "linkerd_tls",
      grpc_status_code: 14,
      grpc_status: "UNAVAILABLE",
    });
    expect(result.ok && result.document.event.outcome).toBe("failure");
  });
});
