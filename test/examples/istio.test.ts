/**
 * The Istio examples: the custom JSON format has exactly the keys the transform documents, each with the Envoy
 * operator that means it; rendered as Envoy would for an mTLS and a plaintext request it normalizes to the right
 * identities and mTLS flag; Telemetry turns it on server side only; PeerAuthentication is mesh-wide STRICT.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../lambdas/core/normalize/index.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/index.js";
import type { RulePack } from "../../lambdas/core/rules/types.js";
import { asMap } from "./fluent-bit-pipeline.js";
import {
  exampleDocuments,
  exampleOfKind,
  istioLogFormats,
  MTLS_REQUEST,
  type OperatorValues,
  PLAINTEXT_REQUEST,
  renderEnvoyJson,
} from "./mesh-examples.js";

const formats = istioLogFormats();
const custom = formats.get("audit-trail-json") ?? {};
const gateway = formats.get("audit-trail-gateway-json") ?? {};

function normalizeOne(line: string): EcsDocument {
  const result = normalizeRecord(line);
  if (!result.ok) throw new Error(result.reason);
  expect(result.documents).toHaveLength(1);
  return result.documents[0] as EcsDocument;
}

/** The keys the Envoy JSON parser documents for the custom format, read from its module comment. */
function documentedCustomKeys(): string[] {
  const source = readFileSync(
    fileURLToPath(new URL("../../lambdas/core/parsers/envoy-json.ts", import.meta.url)),
    "utf8",
  );
  const list = /custom\s+\*?\s*format operators commonly configure \(`([^`]+)`\)/.exec(
    source.replace(/\n \* /g, " "),
  );
  if (!list) throw new Error("envoy-json.ts no longer documents the custom format's keys");
  return (list[1] as string).split(",").map((k) => k.trim());
}

describe("the custom access-log format (mesh-config.yaml)", () => {
  it("has exactly the keys the transform documents", () => {
    expect(Object.keys(custom).sort()).toEqual(documentedCustomKeys().sort());
  });

  it("maps each key to the Envoy operator that means it", () => {
    expect(custom).toEqual({
      timestamp: "%START_TIME%",
      source_identity: "%DOWNSTREAM_PEER_URI_SAN%",
      source_ip: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
      destination_service: "%REQ(:AUTHORITY)%",
      method: "%REQ(:METHOD)%",
      path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
      response_code: "%RESPONSE_CODE%",
      response_flags: "%RESPONSE_FLAGS%",
      duration_ms: "%DURATION%",
      bytes_sent: "%BYTES_SENT%",
      bytes_received: "%BYTES_RECEIVED%",
      mtls: "%DOWNSTREAM_PEER_FINGERPRINT_256%",
      user_agent: "%REQ(USER-AGENT)%",
      request_id: "%REQ(X-REQUEST-ID)%",
      trace_id: "%TRACE_ID%",
      grpc_status: "%GRPC_STATUS%",
      peer_cert_not_before: "%DOWNSTREAM_PEER_CERT_V_START%",
      peer_cert_not_after: "%DOWNSTREAM_PEER_CERT_V_END%",
    });
  });

  it("is written to the proxy's stdout, which Fluent Bit tails", () => {
    const operator = exampleOfKind("mesh/istio/mesh-config.yaml", "IstioOperator");
    const providers = asMap(asMap(operator.spec, "spec").meshConfig, "meshConfig").extensionProviders as {
      envoyFileAccessLog: { path: string };
    }[];
    expect(providers.map((p) => p.envoyFileAccessLog.path)).toEqual(["/dev/stdout", "/dev/stdout"]);
  });

  it("has a gateway variant that is the same format without mtls and the client certificate's validity", () => {
    const { mtls, peer_cert_not_before, peer_cert_not_after, ...rest } = custom;
    expect([mtls, peer_cert_not_before, peer_cert_not_after]).not.toContain(undefined);
    expect(gateway).toEqual(rest);
  });
});

describe("what Envoy writes with the custom format normalizes", () => {
  let rules: RulePack;
  beforeAll(async () => {
    rules = await loadRulePack([defaultRulesDir()]);
  });

  it("an mTLS request: mesh.mtls true, the client's SPIFFE identity, status, path and destination", () => {
    const doc = normalizeOne(renderEnvoyJson(custom, MTLS_REQUEST));
    expect(doc.event).toMatchObject({ dataset: "istio.access", outcome: "success", duration: 12_000_000 });
    expect(doc.mesh).toMatchObject({
      name: "istio",
      mtls: true,
      source: {
        principal: "spiffe://cluster.local/ns/web/sa/frontend",
        trust_domain: "cluster.local",
        namespace: "web",
        service_account: "frontend",
      },
      destination: { namespace: "payments" },
    });
    expect(doc.source?.ip).toBe("10.0.1.7");
    expect(doc.http?.response?.status_code).toBe(200);
    expect(doc.url?.path).toBe("/api/v1/accounts/42");
    expect(doc.trace?.id).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(doc.tls?.client).toEqual({
      not_before: "2025-03-04T07:00:00.000Z",
      not_after: "2025-03-05T07:00:00.000Z",
    });
    expect(rules.matchSingleEvent(doc)).not.toContain("mesh_plaintext_traffic");
    expect(rules.matchSingleEvent(doc)).not.toContain("mesh_cert_rotation_overdue");
  });

  it("a certificate older than the rotation period: reported by mesh_cert_rotation_overdue", () => {
    const doc = normalizeOne(
      renderEnvoyJson(custom, {
        ...MTLS_REQUEST,
        "%DOWNSTREAM_PEER_CERT_V_START%": "2025-03-03T07:00:00.000Z",
        "%DOWNSTREAM_PEER_CERT_V_END%": "2025-04-03T07:00:00.000Z",
      }),
    );
    expect(doc.tls?.client?.not_before).toBe("2025-03-03T07:00:00.000Z");
    expect(rules.matchSingleEvent(doc)).toContain("mesh_cert_rotation_overdue");
  });

  it("a certificate validity that is not a time rejects the line, naming the field", () => {
    const result = normalizeRecord(
      renderEnvoyJson(custom, { ...MTLS_REQUEST, "%DOWNSTREAM_PEER_CERT_V_START%": "yesterday" }),
    );
    expect(result).toMatchObject({
      ok: false,
      failure: { code: "envoy_json" },
      reason: expect.stringContaining('field "peer_cert_not_before" is not a time: "yesterday"'),
    });
  });

  it("a plaintext request: mesh.mtls false, no client identity, reported by mesh_plaintext_traffic", () => {
    const doc = normalizeOne(renderEnvoyJson(custom, PLAINTEXT_REQUEST));
    expect(doc.mesh?.mtls).toBe(false);
    expect(doc.mesh?.source).toBeUndefined();
    expect(doc.source?.ip).toBe("10.0.9.9");
    expect(doc.http?.response?.status_code).toBe(403);
    expect(doc.url?.path).toBe("/api/v1/accounts");
    expect(rules.matchSingleEvent(doc)).toContain("mesh_plaintext_traffic");
  });

  it("a kubelet probe in plaintext: mesh.mtls false, but not reported (probes are plaintext by design)", () => {
    const probe: OperatorValues = {
      ...PLAINTEXT_REQUEST,
      "%REQ(USER-AGENT)%": "kube-probe/1.31",
      "%RESPONSE_CODE%": 200,
    };
    const doc = normalizeOne(renderEnvoyJson(custom, probe));
    expect(doc.mesh?.mtls).toBe(false);
    expect(rules.matchSingleEvent(doc)).not.toContain("mesh_plaintext_traffic");
  });

  it("an internet client at the ingress gateway: mTLS unknown, not reported as plaintext inside the mesh", () => {
    const edge: OperatorValues = {
      ...PLAINTEXT_REQUEST,
      "%REQ(:AUTHORITY)%": "shop.example.com",
      "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%": "203.0.113.10",
      "%RESPONSE_CODE%": 200,
    };
    const doc = normalizeOne(renderEnvoyJson(gateway, edge));
    expect(doc.mesh?.mtls).toBeUndefined();
    expect(doc.source?.ip).toBe("203.0.113.10");
    expect(rules.matchSingleEvent(doc)).not.toContain("mesh_plaintext_traffic");
  });

  it("a gRPC call failing behind HTTP 200: a failure, counted by mesh_http_error", () => {
    const grpc: OperatorValues = { ...MTLS_REQUEST, "%GRPC_STATUS%": "Unavailable" };
    const doc = normalizeOne(renderEnvoyJson(custom, grpc));
    expect(doc.http?.response?.status_code).toBe(200);
    expect(doc.event.outcome).toBe("failure");
    expect(doc.mesh).toMatchObject({ grpc_status_code: 14, grpc_status: "UNAVAILABLE" });
    expect(rules.matchSingleEvent(doc)).toContain("mesh_http_error");
  });

  it("names the operator a sample lacks instead of rendering a broken line", () => {
    expect(() => renderEnvoyJson({ ...custom, extra: "%UPSTREAM_HOST%" }, MTLS_REQUEST)).toThrow(
      /%UPSTREAM_HOST%/,
    );
  });
});

describe("Telemetry (telemetry.yaml)", () => {
  const telemetries = exampleDocuments("mesh/istio/telemetry.yaml");
  const specOf = (name: string) =>
    asMap(telemetries.find((t) => asMap(t.metadata, "metadata").name === name)?.spec, `Telemetry ${name}`);

  it("turns the custom format on for every sidecar, server side only, from the root namespace", () => {
    const mesh = telemetries.find((t) => asMap(t.metadata, "metadata").name === "mesh-default");
    expect(mesh?.metadata).toEqual({ name: "mesh-default", namespace: "istio-system" });
    expect(specOf("mesh-default")).toEqual({
      accessLogging: [{ providers: [{ name: "audit-trail-json" }], match: { mode: "SERVER" } }],
    });
  });

  it("gives the ingress gateway the format without mtls", () => {
    expect(specOf("ingress-gateway")).toEqual({
      selector: { matchLabels: { istio: "ingressgateway" } },
      accessLogging: [{ providers: [{ name: "audit-trail-gateway-json" }] }],
    });
  });

  it("names only providers the mesh config defines", () => {
    const used = telemetries.flatMap((t) =>
      (asMap(t.spec, "spec").accessLogging as { providers: { name: string }[] }[]).flatMap((a) =>
        a.providers.map((p) => p.name),
      ),
    );
    for (const name of used) expect([...formats.keys()]).toContain(name);
  });
});

describe("PeerAuthentication (peer-authentication.yaml)", () => {
  it("requires mTLS for the whole mesh: STRICT, in the root namespace, without a selector", () => {
    const policy = exampleOfKind("mesh/istio/peer-authentication.yaml", "PeerAuthentication");
    expect(policy.apiVersion).toBe("security.istio.io/v1");
    expect(policy.metadata).toEqual({ name: "default", namespace: "istio-system" });
    expect(policy.spec).toEqual({ mtls: { mode: "STRICT" } });
  });
});

describe("the JSON-encoding alternative (mesh-config-json-encoding.yaml)", () => {
  const meshConfig = asMap(
    asMap(exampleOfKind("mesh/istio/mesh-config-json-encoding.yaml", "IstioOperator").spec, "spec")
      .meshConfig,
    "meshConfig",
  );

  it("logs Istio's built-in JSON to stdout and defines no custom provider", () => {
    expect(meshConfig).toEqual({ accessLogFile: "/dev/stdout", accessLogEncoding: "JSON" });
  });

  it("gives direction and mTLS from an inbound line's cluster and SNI", () => {
    const line = JSON.stringify({
      authority: "ledger.payments.svc.cluster.local:8080",
      bytes_received: 0,
      bytes_sent: 512,
      connection_termination_details: null,
      downstream_local_address: "10.0.1.35:8080",
      downstream_remote_address: "10.0.1.7:51000",
      duration: 12,
      method: "GET",
      path: "/api/v1/accounts/42",
      protocol: "HTTP/1.1",
      request_id: "5b0f9a52-6d0c-4f4e-9d1e-8a6b7c3e2f10",
      requested_server_name: "outbound_.8080_._.ledger.payments.svc.cluster.local",
      response_code: 200,
      response_code_details: "via_upstream",
      response_flags: "-",
      route_name: "default",
      start_time: "2025-03-04T10:00:00.120Z",
      upstream_cluster: "inbound|8080||",
      upstream_host: "10.0.1.35:8080",
      upstream_local_address: "127.0.0.6:41000",
      upstream_service_time: "11",
      upstream_transport_failure_reason: null,
      user_agent: "Go-http-client/1.1",
      x_forwarded_for: null,
    });
    expect(normalizeOne(line).mesh).toMatchObject({
      name: "istio",
      direction: "inbound",
      mtls: true,
      destination: { service: "ledger.payments.svc.cluster.local", namespace: "payments" },
    });
  });
});
