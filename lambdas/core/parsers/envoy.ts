/**
 * The Envoy access-log model shared by the text and JSON parsers (Istio, plain Envoy, Consul, and operators'
 * custom JSON formats), and its mapping onto ECS.
 */
import {
  ECS_VERSION,
  type EcsDocument,
  eventTypes,
  type MeshFields,
  type MeshIdentity,
  type MtlsEvidence,
} from "../ecs.js";
import { consulServiceFromSni, istioServiceFromFqdn, parseIdentity } from "../normalize/identity.js";
import { DATASETS, type ParseResult, reject } from "./types.js";
import { address, grpcStatus, httpVersion, ipVersion, timestamp, url } from "./values.js";

export type EnvoyFlavor = "istio" | "envoy" | "consul";

/**
 * One access-log entry with Envoy's operators; every field is already cleaned (`-`/null/"" ⇒ absent). Every key is
 * present (possibly `undefined`), so that all entries share one object shape.
 */
export interface EnvoyAccess {
  startTime: string | undefined;
  method: string | undefined;
  path: string | undefined;
  protocol: string | undefined;
  responseCode: number | undefined;
  responseFlags: string | undefined;
  responseCodeDetails: string | undefined;
  connectionTerminationDetails: string | undefined;
  upstreamTransportFailureReason: string | undefined;
  bytesReceived: number | undefined;
  bytesSent: number | undefined;
  durationMs: number | undefined;
  upstreamServiceTimeMs: number | undefined;
  xForwardedFor: string | undefined;
  userAgent: string | undefined;
  requestId: string | undefined;
  authority: string | undefined;
  upstreamHost: string | undefined;
  upstreamCluster: string | undefined;
  upstreamLocalAddress: string | undefined;
  downstreamLocalAddress: string | undefined;
  downstreamRemoteAddress: string | undefined;
  requestedServerName: string | undefined;
  routeName: string | undefined;
  /** Custom formats: the peer identity (`%DOWNSTREAM_PEER_URI_SAN%`) and the destination service. */
  sourcePrincipal: string | undefined;
  destinationService: string | undefined;
  /** What the format says about the peer certificate, and what that rests on (`undefined` when it says nothing). */
  mtls: boolean | undefined;
  mtlsEvidence: MtlsEvidence | undefined;
  /** Istio's `connection_security_policy` (`mutual_tls`, `none`). */
  connectionSecurityPolicy: string | undefined;
  /** `%GRPC_STATUS%` as logged: a name (`Unavailable`) or a number. */
  grpcStatus: string | undefined;
  upstreamRequestAttemptCount: number | undefined;
  requestDurationMs: number | undefined;
  responseDurationMs: number | undefined;
  traceId: string | undefined;
  /** The validity of the client's certificate (`%DOWNSTREAM_PEER_CERT_V_START%`/`_V_END%`), ISO 8601. */
  peerCertNotBefore?: string | undefined;
  peerCertNotAfter?: string | undefined;
}

/** Envoy's `%RESPONSE_FLAGS%` (`UF,URX`) as a list; `-` (no flag) as none. */
function splitFlags(flags: string | undefined): string[] | undefined {
  if (flags === undefined) return undefined;
  const out = flags.split(",").filter((f) => f !== "" && f !== "-");
  return out.length === 0 ? undefined : out;
}

function directionOf(cluster: string | undefined): "inbound" | "outbound" | undefined {
  if (cluster === undefined) return undefined;
  if (
    cluster.startsWith("inbound|") ||
    cluster === "local_app" ||
    cluster.startsWith("InboundPassthroughCluster")
  ) {
    return "inbound";
  }
  if (
    cluster.startsWith("outbound|") ||
    cluster === "PassthroughCluster" ||
    cluster === "BlackHoleCluster" ||
    cluster.endsWith(".consul")
  ) {
    return "outbound";
  }
  return undefined;
}

/** Consul's values: the inbound cluster is `local_app`, upstream clusters and SNI end in `.consul`. */
export function looksLikeConsul(access: EnvoyAccess): boolean {
  return (
    access.upstreamCluster === "local_app" ||
    (access.upstreamCluster?.endsWith(".consul") ?? false) ||
    (access.requestedServerName?.endsWith(".consul") ?? false)
  );
}

/** The `envoy.*` fields of a document, in its order, each from its access-log field. */
const ENVOY_FIELDS = [
  ["responseCodeDetails", "response_code_details"],
  ["connectionTerminationDetails", "connection_termination_details"],
  ["upstreamTransportFailureReason", "upstream_transport_failure_reason"],
  ["upstreamCluster", "upstream_cluster"],
  ["routeName", "route_name"],
  ["authority", "authority"],
  ["upstreamServiceTimeMs", "upstream_service_time_ms"],
  ["upstreamRequestAttemptCount", "upstream_request_attempt_count"],
  ["requestDurationMs", "request_duration_ms"],
  ["responseDurationMs", "response_duration_ms"],
  ["downstreamLocalAddress", "downstream_local_address"],
  ["upstreamLocalAddress", "upstream_local_address"],
] as const satisfies readonly (readonly [keyof EnvoyAccess, keyof NonNullable<EcsDocument["envoy"]>])[];

export function buildEnvoyDocument(access: EnvoyAccess, flavor: EnvoyFlavor): ParseResult {
  const ts = timestamp(access.startTime);
  if (ts === undefined) {
    return reject(
      "invalid_start_time",
      `invalid start time: ${access.startTime === undefined ? "missing" : JSON.stringify(access.startTime)}`,
    );
  }
  const tcp = access.method === undefined && access.path === undefined && access.protocol === undefined;
  const flags = splitFlags(access.responseFlags);
  const code = access.responseCode;
  const grpc = grpcStatus(access.grpcStatus);
  let outcome: "success" | "failure" | "unknown";
  if (
    (code !== undefined && code >= 400) ||
    flags !== undefined ||
    (!tcp && code === 0) ||
    (grpc !== undefined && grpc.code !== 0)
  ) {
    outcome = "failure";
  } else if (code === undefined && !tcp) {
    outcome = "unknown";
  } else {
    outcome = "success";
  }
  const type = eventTypes(tcp ? "connection" : "access", code);

  const doc: EcsDocument = {
    "@timestamp": ts,
    ecs: { version: ECS_VERSION },
    event: {
      kind: "event",
      category: tcp ? ["network"] : ["network", "web"],
      type,
      action: tcp ? "tcp_connection" : "http_request",
      outcome,
      dataset: DATASETS[flavor],
      module: flavor,
    },
  };
  if (access.durationMs !== undefined) doc.event.duration = access.durationMs * 1_000_000;
  if (access.responseCodeDetails !== undefined && outcome === "failure")
    doc.event.reason = access.responseCodeDetails;
  // gRPC answers errors with HTTP 200 and a `grpc-status` trailer: the status is the outcome's reason.
  if (grpc !== undefined && grpc.code !== 0 && (code === undefined || code < 400) && flags === undefined)
    doc.event.reason = `grpc ${grpc.name}`;

  const related: string[] = [];
  const source = address(access.downstreamRemoteAddress);
  if (source !== undefined) {
    doc.source = { address: source.address };
    if (source.ip !== undefined) {
      doc.source.ip = source.ip;
      related.push(source.ip);
    }
    if (source.port !== undefined) doc.source.port = source.port;
  }
  if (access.bytesReceived !== undefined) {
    doc.source ??= {};
    doc.source.bytes = access.bytesReceived;
  }
  const destination = address(access.upstreamHost);
  if (destination !== undefined) {
    doc.destination = { address: destination.address };
    if (destination.ip !== undefined) {
      doc.destination.ip = destination.ip;
      if (!related.includes(destination.ip)) related.push(destination.ip);
    }
    if (destination.port !== undefined) doc.destination.port = destination.port;
  }
  if (access.bytesSent !== undefined) {
    doc.destination ??= {};
    doc.destination.bytes = access.bytesSent;
  }
  if (access.xForwardedFor !== undefined) {
    const first = access.xForwardedFor.split(",")[0]?.trim() ?? "";
    if (ipVersion(first) !== 0) {
      doc.client = { ip: first };
      if (!related.includes(first)) related.push(first);
    }
  }
  if (related.length > 0) doc.related = { ip: related };

  const network: NonNullable<EcsDocument["network"]> = { transport: "tcp" };
  if (!tcp) network.protocol = "http";
  const ipv = doc.source?.ip === undefined ? 0 : ipVersion(doc.source.ip);
  if (ipv !== 0) network.type = ipv === 4 ? "ipv4" : "ipv6";
  if (access.bytesReceived !== undefined || access.bytesSent !== undefined) {
    network.bytes = (access.bytesReceived ?? 0) + (access.bytesSent ?? 0);
  }
  doc.network = network;

  if (!tcp) {
    const http: NonNullable<EcsDocument["http"]> = {};
    const version = httpVersion(access.protocol);
    if (version !== undefined) http.version = version;
    if (access.method !== undefined || access.requestId !== undefined || access.bytesReceived !== undefined) {
      const request: NonNullable<NonNullable<EcsDocument["http"]>["request"]> = {};
      if (access.method !== undefined) request.method = access.method;
      if (access.requestId !== undefined) request.id = access.requestId;
      if (access.bytesReceived !== undefined) request.body = { bytes: access.bytesReceived };
      http.request = request;
    }
    if (code !== undefined || access.bytesSent !== undefined) {
      http.response = {};
      if (code !== undefined) http.response.status_code = code;
      if (access.bytesSent !== undefined) http.response.body = { bytes: access.bytesSent };
    }
    doc.http = http;
    if (access.path !== undefined) {
      const u = url(access.path);
      const target: NonNullable<EcsDocument["url"]> = { original: u.original };
      if (u.path !== undefined) target.path = u.path;
      if (u.query !== undefined) target.query = u.query;
      if (access.authority !== undefined) {
        const host = address(access.authority);
        if (host !== undefined) {
          if (host.ip !== undefined) {
            target.domain = host.ip;
            if (host.port !== undefined) target.port = host.port;
          } else {
            const colon = access.authority.lastIndexOf(":");
            const port = colon > 0 ? Number(access.authority.slice(colon + 1)) : Number.NaN;
            if (Number.isInteger(port) && port > 0 && port <= 65535) {
              target.domain = access.authority.slice(0, colon);
              target.port = port;
            } else {
              target.domain = access.authority;
            }
          }
        }
      }
      doc.url = target;
    }
    if (access.userAgent !== undefined) doc.user_agent = { original: access.userAgent };
  }
  if (access.traceId !== undefined) doc.trace = { id: access.traceId };

  const envoy: Record<string, string | number> = {};
  for (const [from, to] of ENVOY_FIELDS) {
    // The authority is `url.domain` when the request has a URL.
    if (to === "authority" && doc.url !== undefined) continue;
    const value = access[from];
    if (value !== undefined) envoy[to] = value;
  }
  if (Object.keys(envoy).length > 0) doc.envoy = envoy;

  const mesh = meshFields(access, flavor, flags);
  if (grpc !== undefined) {
    mesh.grpc_status_code = grpc.code;
    mesh.grpc_status = grpc.name;
  }
  doc.mesh = mesh;
  const notBefore = access.peerCertNotBefore;
  const notAfter = access.peerCertNotAfter;
  if (
    access.requestedServerName !== undefined ||
    mesh.mtls === true ||
    notBefore !== undefined ||
    notAfter !== undefined
  ) {
    doc.tls = {};
    if (mesh.mtls === true) doc.tls.established = true;
    if (access.requestedServerName !== undefined || notBefore !== undefined || notAfter !== undefined) {
      const client: NonNullable<NonNullable<EcsDocument["tls"]>["client"]> = {};
      if (access.requestedServerName !== undefined) client.server_name = access.requestedServerName;
      if (notBefore !== undefined) client.not_before = notBefore;
      if (notAfter !== undefined) client.not_after = notAfter;
      doc.tls.client = client;
    }
  }
  return { ok: true, document: doc };
}

function meshFields(access: EnvoyAccess, flavor: EnvoyFlavor, flags: string[] | undefined): MeshFields {
  const mesh: MeshFields = { name: flavor };
  const direction = directionOf(access.upstreamCluster);
  if (direction !== undefined) mesh.direction = direction;
  const sni = access.requestedServerName;
  let destination: MeshIdentity | undefined;
  // The SNI is a hint, not a fact: an inbound request with the mesh's SNI was mTLS (`sni`), but one without it may
  // be plaintext or an auto-mTLS client that sent none, so `mtls` stays unknown (`no_mesh_sni`).
  let meshSni: boolean | undefined;
  if (flavor === "consul") {
    destination =
      (sni === undefined ? undefined : consulServiceFromSni(sni)) ??
      (access.upstreamCluster === undefined ? undefined : consulServiceFromSni(access.upstreamCluster));
    if (direction === "inbound") meshSni = sni?.endsWith(".consul") ?? false;
  } else if (flavor === "istio") {
    const cluster = access.upstreamCluster;
    // `outbound|<port>|<subset>|<fqdn>` and `outbound_.<port>_.<subset>_.<fqdn>`: the FQDN follows the third separator.
    if (cluster?.startsWith("outbound|")) {
      const fqdn = afterNth(cluster, "|", 3);
      if (fqdn !== undefined) destination = istioServiceFromFqdn(fqdn);
    }
    if (destination === undefined && sni?.startsWith("outbound_.")) {
      const fqdn = afterNth(sni, "_.", 3);
      if (fqdn !== undefined) destination = istioServiceFromFqdn(fqdn);
    }
    if (direction === "inbound") meshSni = sni?.startsWith("outbound_.") ?? false;
  }
  if (meshSni === true) {
    mesh.mtls = true;
    mesh.mtls_evidence = "sni";
  } else if (meshSni === false) {
    mesh.mtls_evidence = "no_mesh_sni";
  }
  if (access.destinationService !== undefined) {
    const named = access.destinationService;
    destination = named.startsWith("spiffe://")
      ? parseIdentity(named)
      : (consulServiceFromSni(named) ?? istioServiceFromFqdn(named));
  }
  if (destination !== undefined) mesh.destination = destination;
  if (access.sourcePrincipal !== undefined) {
    const source = parseIdentity(access.sourcePrincipal);
    if (source !== undefined) {
      mesh.source = source;
      // A URI SAN is only logged from a certificate the proxy validated.
      if (source.principal?.startsWith("spiffe://")) {
        mesh.mtls = true;
        mesh.mtls_evidence = "peer_uri_san";
      }
    }
  }
  const policy = access.connectionSecurityPolicy?.toLowerCase();
  if (policy === "mutual_tls" || policy === "none") {
    mesh.mtls = policy === "mutual_tls";
    mesh.mtls_evidence = "connection_security_policy";
  }
  if (access.mtls !== undefined) {
    mesh.mtls = access.mtls;
    if (access.mtlsEvidence !== undefined) mesh.mtls_evidence = access.mtlsEvidence;
  }
  if (flags !== undefined) mesh.response_flags = flags;
  return mesh;
}

/** The text after the `n`-th occurrence of `separator`; `undefined` when there are fewer. */
function afterNth(text: string, separator: string, n: number): string | undefined {
  let at = -separator.length;
  for (let k = 0; k < n; k++) {
    at = text.indexOf(separator, at + separator.length);
    if (at === -1) return undefined;
  }
  return text.slice(at + separator.length);
}
