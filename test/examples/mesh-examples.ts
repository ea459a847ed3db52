/**
 * The mesh examples (`examples/mesh`) as data, and Envoy's rendering of an access-log format: each label's
 * command operator replaced by what Envoy prints for it on a given request (numbers as JSON numbers, unset values
 * as `null`, as the JSON formatter writes them).
 */
import { parseAllDocuments } from "yaml";
import { asMap, readExample } from "./fluent-bit-pipeline.js";

/** Every YAML document of an example file, as plain data. */
export function exampleDocuments(relativePath: string): Record<string, unknown>[] {
  return parseAllDocuments(readExample(relativePath)).map((document, i) => {
    if (document.errors.length > 0)
      throw new Error(`${relativePath} document ${i + 1}: ${document.errors[0]?.message}`);
    return asMap(document.toJS(), `${relativePath} document ${i + 1}`);
  });
}

/** The one document of `kind` in an example file. */
export function exampleOfKind(relativePath: string, kind: string, name?: string): Record<string, unknown> {
  const found = exampleDocuments(relativePath).filter(
    (d) => d.kind === kind && (name === undefined || asMap(d.metadata, "metadata").name === name),
  );
  if (found.length !== 1)
    throw new Error(`${relativePath}: expected one ${kind} ${name ?? ""}, found ${found.length}`);
  return found[0] as Record<string, unknown>;
}

/** The access-log formats of Istio's `extensionProviders` (mesh-config.yaml), by provider name. */
export function istioLogFormats(): Map<string, Record<string, string>> {
  const operator = exampleOfKind("mesh/istio/mesh-config.yaml", "IstioOperator");
  const meshConfig = asMap(asMap(operator.spec, "spec").meshConfig, "spec.meshConfig");
  const providers = meshConfig.extensionProviders;
  if (!Array.isArray(providers))
    throw new Error("mesh-config.yaml: meshConfig.extensionProviders is not a list");
  const formats = new Map<string, Record<string, string>>();
  for (const provider of providers) {
    const p = asMap(provider, "extensionProviders[]");
    const log = asMap(
      asMap(p.envoyFileAccessLog, `${p.name}: envoyFileAccessLog`).logFormat,
      `${p.name}: logFormat`,
    );
    formats.set(String(p.name), asMap(log.labels, `${p.name}: logFormat.labels`) as Record<string, string>);
  }
  return formats;
}

/** What Envoy prints for each command operator on one request. */
export type OperatorValues = Readonly<Record<string, string | number | null>>;

/** A format's JSON line for one request; an operator without a value is an error naming it. */
export function renderEnvoyJson(labels: Readonly<Record<string, string>>, values: OperatorValues): string {
  const line: Record<string, string | number | null> = {};
  for (const [key, operator] of Object.entries(labels)) {
    if (!(operator in values)) throw new Error(`no sample value for Envoy operator ${operator} (key ${key})`);
    line[key] = values[operator] as string | number | null;
  }
  return JSON.stringify(line);
}

/** An mTLS request from frontend (namespace web) to the ledger service, as the server-side proxy sees it. */
export const MTLS_REQUEST: OperatorValues = {
  "%START_TIME%": "2025-03-04T10:00:00.120Z",
  "%DOWNSTREAM_PEER_URI_SAN%": "spiffe://cluster.local/ns/web/sa/frontend",
  "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%": "10.0.1.7",
  "%REQ(:AUTHORITY)%": "ledger.payments.svc.cluster.local:8080",
  "%REQ(:METHOD)%": "GET",
  "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%": "/api/v1/accounts/42",
  "%RESPONSE_CODE%": 200,
  "%RESPONSE_FLAGS%": "-",
  "%DURATION%": 12,
  "%BYTES_SENT%": 512,
  "%BYTES_RECEIVED%": 0,
  "%DOWNSTREAM_PEER_FINGERPRINT_256%": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  "%REQ(USER-AGENT)%": "Go-http-client/1.1",
  "%REQ(X-REQUEST-ID)%": "5b0f9a52-6d0c-4f4e-9d1e-8a6b7c3e2f10",
  "%TRACE_ID%": "4bf92f3577b34da6a3ce929d0e0e4736",
  "%GRPC_STATUS%": null,
  // Istio's workload certificates: valid 24 hours, here issued 3 hours before the request.
  "%DOWNSTREAM_PEER_CERT_V_START%": "2025-03-04T07:00:00.000Z",
  "%DOWNSTREAM_PEER_CERT_V_END%": "2025-03-05T07:00:00.000Z",
};

/** A plaintext request from an unmeshed pod to the same service (a PERMISSIVE port): no certificate, no SAN. */
export const PLAINTEXT_REQUEST: OperatorValues = {
  ...MTLS_REQUEST,
  "%START_TIME%": "2025-03-04T10:00:02.500Z",
  "%DOWNSTREAM_PEER_URI_SAN%": null,
  "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%": "10.0.9.9",
  "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%": "/api/v1/accounts",
  "%RESPONSE_CODE%": 403,
  "%RESPONSE_FLAGS%": "-",
  "%DURATION%": 1,
  "%BYTES_SENT%": 19,
  "%DOWNSTREAM_PEER_FINGERPRINT_256%": null,
  "%DOWNSTREAM_PEER_CERT_V_START%": null,
  "%DOWNSTREAM_PEER_CERT_V_END%": null,
  "%REQ(USER-AGENT)%": "curl/8.5.0",
  "%REQ(X-REQUEST-ID)%": "0c4d1f7e-2b3a-4c5d-8e9f-a0b1c2d3e4f5",
  "%TRACE_ID%": null,
};

/**
 * A line of the Linkerd proxy's JSON access log (`config.linkerd.io/access-log: json`): a GET from `clientId` ("-"
 * for a client without a mesh identity) to `url`, answered 200.
 */
export function linkerdJsonLine(clientId: string, url: string): string {
  const { host } = new URL(url);
  return JSON.stringify({
    "client.addr": "10.0.1.7:51000",
    "client.id": clientId,
    host,
    method: "GET",
    processing_ns: "39826",
    request_bytes: "",
    response_bytes: "512",
    status: 200,
    timestamp: "2025-03-04T10:00:00.121Z",
    total_ns: "1234567",
    trace_id: "",
    uri: url,
    user_agent: "Go-http-client/1.1",
    version: "HTTP/1.1",
  });
}
