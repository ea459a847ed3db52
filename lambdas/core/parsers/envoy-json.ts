/**
 * Envoy JSON access logs: Istio's default JSON (`accessLogEncoding: JSON`), Consul's default JSON (same keys;
 * told apart by values: `local_app`, `*.consul`), any other Envoy JSON with Istio's key names, and the custom
 * format operators commonly configure (`timestamp, source_identity, source_ip, destination_service, method, path,
 * response_code, response_flags, duration_ms, bytes_sent, bytes_received, mtls, user_agent, request_id,
 * trace_id, grpc_status, peer_cert_not_before, peer_cert_not_after`). Values come as Envoy prints them: numbers or numeric strings, `"-"`, `null` or `""` for unset.
 *
 * The custom format's `mtls` has no Envoy operator of its own. It is read as a boolean (`true`/`false`, or the
 * strings) when a log pipeline writes one, or as what Envoy prints for `%DOWNSTREAM_PEER_FINGERPRINT_256%` (the
 * SHA-256 of the client certificate the proxy validated; `examples/mesh/istio` configures it): a fingerprint means
 * mutual TLS, and `null`, `"-"` or `""` mean the peer sent no certificate (plaintext or one-way TLS). A format
 * without the key leaves `mesh.mtls` unknown. Either way `mesh.mtls_evidence` says `peer_certificate`: that is the
 * format that removes the doubt an inbound request without the mesh's SNI leaves (see `MtlsEvidence`).
 *
 * The custom format's `peer_cert_not_before` / `peer_cert_not_after` (`%DOWNSTREAM_PEER_CERT_V_START%` /
 * `%DOWNSTREAM_PEER_CERT_V_END%`: the validity of the certificate the client presented, as Envoy prints a time, or
 * epoch seconds with a `(%s)` specifier) become `tls.client.not_before` / `tls.client.not_after`, which the
 * certificate rotation rule and the posture read. A value that is no time rejects the line naming the field.
 *
 * Also read when a format carries them: `grpc_status` (`%GRPC_STATUS%`, a name or a number: a non-OK status is a
 * failure even behind HTTP 200), `connection_security_policy` (`mutual_tls`/`none`), `upstream_request_attempt_count`,
 * `request_duration`, `response_duration`, `downstream_local_address`, `upstream_local_address`.
 */
import { buildEnvoyDocument, type EnvoyAccess, type EnvoyFlavor, looksLikeConsul } from "./envoy.js";
import { type ParseResult, reject } from "./types.js";
import { bool, int, str, timestamp } from "./values.js";

/** Istio/Consul default JSON: at least the request keys and one address key. */
export function isEnvoyDefaultJson(o: Record<string, unknown>): boolean {
  return (
    "start_time" in o &&
    "response_code" in o &&
    ("downstream_remote_address" in o || "upstream_cluster" in o || "upstream_host" in o || "authority" in o)
  );
}

/** The operators' custom format. */
export function isEnvoyCustomJson(o: Record<string, unknown>): boolean {
  return (
    ("source_identity" in o || "destination_service" in o || "duration_ms" in o) &&
    ("response_code" in o || "method" in o) &&
    ("timestamp" in o || "start_time" in o)
  );
}

/**
 * Any JSON access-log entry a proxy's format could print: a time and a request or response key. Only used when
 * the sender is known to be a mesh proxy, so the key names of one custom format do not decide the source.
 */
export function looksLikeEnvoyAccessJson(o: Record<string, unknown>): boolean {
  // A shipper's envelope (`log`/`message` holding the line) is not the entry itself.
  if (typeof o.log === "string" || typeof o.message === "string") return false;
  return (
    ("start_time" in o || "timestamp" in o) &&
    ("response_code" in o || "method" in o || "path" in o || "upstream_cluster" in o)
  );
}

/** A numeric field: the number, `undefined` when unset, or the rejection naming the field. */
class BadNumber {
  constructor(
    readonly key: string,
    readonly value: unknown,
  ) {}
}
function number(o: Record<string, unknown>, key: string): number | undefined {
  const raw = o[key];
  if (raw === undefined || raw === null) return undefined;
  const value = int(raw);
  if (value !== undefined) return value;
  if (str(raw) === undefined) return undefined;
  throw new BadNumber(key, raw);
}

/** A time field: ISO 8601, `undefined` when unset, or the rejection naming the field. */
function time(o: Record<string, unknown>, key: string): string | undefined {
  const raw = o[key];
  if (raw === undefined || raw === null || raw === "-" || raw === "") return undefined;
  const numeric = typeof raw === "string" && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  const value = timestamp(numeric);
  if (value !== undefined) return value;
  throw new BadNumber(key, raw);
}

const CERTIFICATE_FINGERPRINT = /^[0-9a-f]{2}(?::?[0-9a-f]{2}){31}$/i;

/** The custom format's `mtls`: a certificate fingerprint (or a boolean a pipeline wrote), or none presented. */
function mtlsFlag(o: Record<string, unknown>): boolean | undefined {
  if (!("mtls" in o)) return undefined;
  const raw = o.mtls;
  const flag = bool(raw);
  if (flag !== undefined) return flag;
  if (raw === null || raw === "-" || raw === "") return false;
  return typeof raw === "string" && CERTIFICATE_FINGERPRINT.test(raw) ? true : undefined;
}

/**
 * `sender`: the flavor the shipper's metadata names. The sender decides first (a custom-format line from an
 * `istio-proxy` container with `source_identity: null` and a short authority is still `istio.access`); the
 * line's own values decide only when the shipper says nothing.
 */
export function parseEnvoyJson(o: Record<string, unknown>, sender?: EnvoyFlavor): ParseResult {
  const custom = !isEnvoyDefaultJson(o);
  let access: EnvoyAccess;
  const mtls = mtlsFlag(o);
  try {
    access = {
      startTime: str(o.start_time) ?? str(o.timestamp),
      method: str(o.method),
      path: str(o.path),
      protocol: str(o.protocol),
      responseCode: number(o, "response_code"),
      responseFlags: str(o.response_flags),
      responseCodeDetails: str(o.response_code_details),
      connectionTerminationDetails: str(o.connection_termination_details),
      upstreamTransportFailureReason: str(o.upstream_transport_failure_reason),
      bytesReceived: number(o, "bytes_received"),
      bytesSent: number(o, "bytes_sent"),
      durationMs: custom ? (number(o, "duration_ms") ?? number(o, "duration")) : number(o, "duration"),
      upstreamServiceTimeMs: number(o, "upstream_service_time"),
      xForwardedFor: str(o.x_forwarded_for),
      userAgent: str(o.user_agent),
      requestId: str(o.request_id),
      authority: str(o.authority),
      upstreamHost: str(o.upstream_host),
      upstreamCluster: str(o.upstream_cluster),
      upstreamLocalAddress: str(o.upstream_local_address),
      downstreamLocalAddress: str(o.downstream_local_address),
      downstreamRemoteAddress: str(o.downstream_remote_address) ?? str(o.source_ip) ?? str(o.source_address),
      requestedServerName: str(o.requested_server_name),
      routeName: str(o.route_name),
      // `%DOWNSTREAM_PEER_URI_SAN%` under the names operators give it.
      sourcePrincipal: str(o.source_identity) ?? str(o.downstream_peer_uri_san) ?? str(o.source_principal),
      destinationService: str(o.destination_service),
      mtls,
      mtlsEvidence: mtls === undefined ? undefined : "peer_certificate",
      connectionSecurityPolicy: str(o.connection_security_policy),
      grpcStatus: str(o.grpc_status),
      upstreamRequestAttemptCount: number(o, "upstream_request_attempt_count"),
      requestDurationMs: number(o, "request_duration"),
      responseDurationMs: number(o, "response_duration"),
      traceId: str(o.trace_id),
      peerCertNotBefore: time(o, "peer_cert_not_before"),
      peerCertNotAfter: time(o, "peer_cert_not_after"),
    };
  } catch (error) {
    if (error instanceof BadNumber) {
      const what = error.key.startsWith("peer_cert_") ? "a time" : "a number";
      return reject(
        "envoy_json",
        `envoy json: field "${error.key}" is not ${what}: ${JSON.stringify(error.value)}`,
      );
    }
    throw error;
  }
  if (access.startTime === undefined) return reject("envoy_json", "envoy json: missing start_time/timestamp");
  let flavor: EnvoyFlavor;
  if (sender !== undefined) {
    flavor = sender;
  } else if (looksLikeConsul(access) || access.sourcePrincipal?.includes("/dc/")) {
    flavor = "consul";
  } else if (
    !custom ||
    access.sourcePrincipal?.includes("/sa/") ||
    access.destinationService?.includes(".svc.") ||
    access.upstreamCluster?.includes("|")
  ) {
    flavor = "istio";
  } else {
    flavor = "envoy";
  }
  return buildEnvoyDocument(access, flavor);
}
