/**
 * Linkerd proxy HTTP access logs (`config.linkerd.io/access-log: apache | json`).
 * apache: `<client.addr> <client.id> - [<timestamp>] "<METHOD> <uri> <version>" <status>`
 * json: `{"client.addr","client.id","host","method","processing_ns","request_bytes","response_bytes","status",
 *         "timestamp","total_ns","trace_id","uri","user_agent","version"}` (status a number, the rest strings).
 * `client.id` is the peer's mTLS identity, `-` when the peer is not identified (plaintext, kube-probe): the proxy
 * logs it for every request, so it decides `mesh.mtls` both ways (`mesh.mtls_evidence: linkerd_client_id`), except
 * for a loopback client (the pod talking to itself, never meshed: unknown, `loopback`). A `tls` field, when a
 * format carries one, is the proxy's own verdict (`linkerd_tls`); `grpc_status`, when present, is parsed as in
 * Envoy formats (a non-OK status is a failure even with HTTP 200).
 */
import { ECS_VERSION, type EcsDocument, eventTypes, type MeshFields } from "../ecs.js";
import { parseIdentity } from "../normalize/identity.js";
import { DATASETS, type ParseResult, reject } from "./types.js";
import {
  address,
  bool,
  ecsUrl,
  grpcStatus,
  httpVersion,
  int,
  ipVersion,
  str,
  timestamp,
  url,
} from "./values.js";

interface LinkerdAccess {
  clientAddr?: string;
  clientId?: string;
  timestamp?: string;
  method?: string;
  uri?: string;
  version?: string;
  status?: number;
  host?: string;
  userAgent?: string;
  traceId?: string;
  requestBytes?: number;
  responseBytes?: number;
  totalNs?: number;
  tls?: boolean;
  grpcStatus?: string;
}

export function isLinkerdJson(o: Record<string, unknown>): boolean {
  return "client.addr" in o && ("status" in o || "method" in o);
}

/** Cheap check: `<ip>:<port> <id> - [` at the start. */
export function looksLikeLinkerdApache(line: string): boolean {
  const c = line.charCodeAt(0);
  return ((c >= 48 && c <= 57) || c === 91) && line.includes(" - [");
}

export function parseLinkerdApache(line: string): ParseResult {
  const sp1 = line.indexOf(" ");
  const sp2 = sp1 === -1 ? -1 : line.indexOf(" ", sp1 + 1);
  if (sp2 === -1 || !line.startsWith(" - [", sp2)) {
    return reject("linkerd_apache", "linkerd apache: expected '<client.addr> <client.id> - [<timestamp>]'");
  }
  const tsEnd = line.indexOf('] "', sp2 + 4);
  if (tsEnd === -1) return reject("linkerd_apache", "linkerd apache: missing '] \"' after the timestamp");
  const reqEnd = line.lastIndexOf('" ');
  if (reqEnd <= tsEnd + 2) return reject("linkerd_apache", "linkerd apache: missing request line");
  const request = line.slice(tsEnd + 3, reqEnd);
  const r1 = request.indexOf(" ");
  const r2 = request.lastIndexOf(" ");
  if (r1 <= 0 || r2 === r1)
    return reject("linkerd_apache", `linkerd apache: malformed request line "${request}"`);
  const statusText = line.slice(reqEnd + 2).trim();
  const status = int(statusText);
  if (status === undefined)
    return reject("linkerd_apache", `linkerd apache: status "${statusText}" is not a number`);
  const access: LinkerdAccess = {
    timestamp: line.slice(sp2 + 4, tsEnd),
    method: request.slice(0, r1),
    uri: request.slice(r1 + 1, r2),
    version: request.slice(r2 + 1),
    status,
  };
  const clientAddr = str(line.slice(0, sp1));
  if (clientAddr !== undefined) access.clientAddr = clientAddr;
  const clientId = str(line.slice(sp1 + 1, sp2));
  if (clientId !== undefined) access.clientId = clientId;
  return build(access);
}

export function parseLinkerdJson(o: Record<string, unknown>): ParseResult {
  const access: LinkerdAccess = {};
  const put = <K extends keyof LinkerdAccess>(key: K, value: LinkerdAccess[K] | undefined) => {
    if (value !== undefined) access[key] = value;
  };
  put("clientAddr", str(o["client.addr"]));
  put("clientId", str(o["client.id"]));
  put("timestamp", str(o.timestamp));
  put("method", str(o.method));
  put("uri", str(o.uri));
  put("version", str(o.version));
  put("host", str(o.host));
  put("userAgent", str(o.user_agent));
  put("traceId", str(o.trace_id));
  put("status", int(o.status));
  put("requestBytes", int(o.request_bytes));
  put("responseBytes", int(o.response_bytes));
  put("totalNs", int(o.total_ns));
  put("tls", bool(o.tls));
  put("grpcStatus", str(o.grpc_status));
  if (o.status !== undefined && access.status === undefined && str(o.status) !== undefined) {
    return reject("linkerd_json", `linkerd json: "status" is not a number: ${JSON.stringify(o.status)}`);
  }
  return build(access);
}

function build(access: LinkerdAccess): ParseResult {
  const ts = timestamp(access.timestamp);
  if (ts === undefined)
    return reject("linkerd", `linkerd: invalid timestamp ${JSON.stringify(access.timestamp ?? null)}`);
  const status = access.status;
  const grpc = grpcStatus(access.grpcStatus);
  const outcome =
    grpc !== undefined && grpc.code !== 0
      ? "failure"
      : status === undefined
        ? "unknown"
        : status >= 400 || status === 0
          ? "failure"
          : "success";
  const type = eventTypes("access", status);
  const doc: EcsDocument = {
    "@timestamp": ts,
    ecs: { version: ECS_VERSION },
    event: {
      kind: "event",
      category: ["network", "web"],
      type,
      action: "http_request",
      outcome,
      dataset: DATASETS.linkerd,
      module: "linkerd",
    },
  };
  if (access.totalNs !== undefined) doc.event.duration = access.totalNs;
  const source = address(access.clientAddr);
  if (source !== undefined) {
    doc.source = { address: source.address };
    if (source.ip !== undefined) doc.source.ip = source.ip;
    if (source.port !== undefined) doc.source.port = source.port;
    if (source.ip !== undefined) doc.related = { ip: [source.ip] };
  }
  if (access.requestBytes !== undefined) {
    doc.source ??= {};
    doc.source.bytes = access.requestBytes;
  }
  if (access.responseBytes !== undefined) doc.destination = { bytes: access.responseBytes };
  const network: NonNullable<EcsDocument["network"]> = { transport: "tcp", protocol: "http" };
  const v = doc.source?.ip === undefined ? 0 : ipVersion(doc.source.ip);
  if (v !== 0) network.type = v === 4 ? "ipv4" : "ipv6";
  doc.network = network;
  const http: NonNullable<EcsDocument["http"]> = {};
  const version = httpVersion(access.version);
  if (version !== undefined) http.version = version;
  if (access.method !== undefined) http.request = { method: access.method };
  if (access.requestBytes !== undefined) {
    http.request ??= {};
    http.request.body = { bytes: access.requestBytes };
  }
  if (status !== undefined) http.response = { status_code: status };
  if (access.responseBytes !== undefined) {
    http.response ??= {};
    http.response.body = { bytes: access.responseBytes };
  }
  doc.http = http;
  if (access.uri !== undefined) {
    const target: NonNullable<EcsDocument["url"]> = ecsUrl(access.uri);
    if (target.domain === undefined && access.host !== undefined) {
      const host = url(`http://${access.host}/`);
      if (host.domain !== undefined) target.domain = host.domain;
      if (host.port !== undefined) target.port = host.port;
    }
    doc.url = target;
  }
  if (access.userAgent !== undefined) doc.user_agent = { original: access.userAgent };
  if (access.traceId !== undefined) doc.trace = { id: access.traceId };
  const mesh: MeshFields = { name: "linkerd", direction: "inbound" };
  if (access.tls !== undefined) {
    mesh.mtls = access.tls;
    mesh.mtls_evidence = "linkerd_tls";
  } else if (access.clientId !== undefined) {
    mesh.mtls = true;
    mesh.mtls_evidence = "linkerd_client_id";
  } else if (source !== undefined && isLoopback(source.ip)) {
    mesh.mtls_evidence = "loopback";
  } else {
    mesh.mtls = false;
    mesh.mtls_evidence = "linkerd_client_id";
  }
  if (grpc !== undefined) {
    mesh.grpc_status_code = grpc.code;
    mesh.grpc_status = grpc.name;
    if (grpc.code !== 0 && doc.event.reason === undefined) doc.event.reason = `grpc ${grpc.name}`;
  }
  if (access.clientId !== undefined) {
    const identity = parseIdentity(access.clientId);
    if (identity !== undefined) mesh.source = identity;
    doc.tls = { established: true };
  }
  doc.mesh = mesh;
  return { ok: true, document: doc };
}

/** 127.0.0.0/8 and ::1: a client inside the pod itself. */
function isLoopback(ip: string | undefined): boolean {
  return ip !== undefined && (ip.startsWith("127.") || ip === "::1");
}
