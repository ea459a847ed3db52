/**
 * Cilium Hubble flows (`flow.proto` in protojson: enum names, zero/false/empty fields omitted), bare or in the
 * exporter's / `hubble observe -o json` wrapper `{"flow": {...}, "node_name": "...", "time": "..."}`.
 * mTLS: `auth_type: SPIRE` (Cilium mutual authentication) or `IP.encrypted` (WireGuard/IPsec) ⇒ `mesh.mtls: true`;
 * an explicit `auth_type: DISABLED` without encryption ⇒ false; otherwise unknown (`mesh.mtls_evidence` names the
 * field it rests on).
 *
 * A reply (`is_reply: true`) is the server's answer on a connection the client opened: the flow's `source` is the
 * server. The document describes the call, so `source`/`mesh.source` (and ECS `client`) are the client and
 * `destination`/`mesh.destination` (ECS `server`) the server, ports included; `cilium.is_reply` says it was the
 * reply. Pod names (`cilium.source_pod`/`destination_pod`, same roles) and `trace_reason` are kept.
 */
import {
  ECS_VERSION,
  type EcsDocument,
  type EcsEndpoint,
  type MeshFields,
  type MeshIdentity,
} from "../ecs.js";
import { DATASETS, type ParseResult, reject } from "./types.js";
import { bool, ecsUrl, httpVersion, int, ipVersion, obj, str, strings, timestamp } from "./values.js";

const FAILED_VERDICTS = new Set(["DROPPED", "ERROR"]);

/** The flow object of a Hubble record, or `undefined` when the object is not one. */
export function hubbleFlow(o: Record<string, unknown>): Record<string, unknown> | undefined {
  const wrapped = obj(o.flow);
  if (wrapped !== undefined) return wrapped;
  if (typeof o.verdict === "string" && ("IP" in o || "l4" in o || "source" in o || "Type" in o)) return o;
  return undefined;
}

function endpoint(
  ip: string | undefined,
  port: number | undefined,
  ep: Record<string, unknown> | undefined,
): { ecs?: EcsEndpoint; mesh?: MeshIdentity } {
  const out: { ecs?: EcsEndpoint; mesh?: MeshIdentity } = {};
  if (ip !== undefined) {
    out.ecs = { ip, address: ip };
    if (port !== undefined) out.ecs.port = port;
  }
  if (ep !== undefined) {
    const identity: MeshIdentity = {};
    const namespace = str(ep.namespace);
    if (namespace !== undefined) identity.namespace = namespace;
    const pod = str(ep.pod_name);
    const workloads = Array.isArray(ep.workloads) ? obj(ep.workloads[0]) : undefined;
    const workload = str(workloads?.name) ?? pod;
    if (workload !== undefined) identity.workload = workload;
    const labels = strings(ep.labels);
    const sa = labels?.find((l) => l.startsWith("k8s:io.cilium.k8s.policy.serviceaccount="));
    if (sa !== undefined) identity.service_account = sa.slice(sa.indexOf("=") + 1);
    if (Object.keys(identity).length > 0) out.mesh = identity;
  }
  return out;
}

export function parseHubble(record: Record<string, unknown>): ParseResult {
  const flow = hubbleFlow(record);
  if (flow === undefined) return reject("hubble", "hubble: no flow object");
  const ts = timestamp(flow.time) ?? timestamp(record.time);
  if (ts === undefined) return reject("hubble", "hubble: missing or invalid flow time");
  const verdict = str(flow.verdict);
  if (verdict === undefined) return reject("hubble", "hubble: missing verdict");
  const ip = obj(flow.IP);
  const l4 = obj(flow.l4);
  const l7 = obj(flow.l7);
  const http7 = obj(l7?.http);
  let transport: string | undefined;
  let sport: number | undefined;
  let dport: number | undefined;
  for (const [key, name] of [
    ["TCP", "tcp"],
    ["UDP", "udp"],
    ["SCTP", "sctp"],
    ["ICMPv4", "icmp"],
    ["ICMPv6", "ipv6-icmp"],
  ] as const) {
    const layer = obj(l4?.[key]);
    if (layer !== undefined) {
      transport = name;
      sport = int(layer.source_port);
      dport = int(layer.destination_port);
      break;
    }
  }
  const code = int(http7?.code);
  const failed = FAILED_VERDICTS.has(verdict) || (code !== undefined && code >= 400);
  const dropReason = str(flow.drop_reason_desc) ?? str(flow.drop_reason);
  const doc: EcsDocument = {
    "@timestamp": ts,
    ecs: { version: ECS_VERSION },
    event: {
      kind: "event",
      category: http7 === undefined ? ["network"] : ["network", "web"],
      type: ["connection", failed && FAILED_VERDICTS.has(verdict) ? "denied" : "allowed"],
      action: http7 === undefined ? "flow" : "http_request",
      outcome: failed ? "failure" : "success",
      dataset: DATASETS.cilium,
      module: "cilium",
    },
  };
  if (dropReason !== undefined) doc.event.reason = dropReason;
  const latency = int(l7?.latency_ns);
  if (latency !== undefined) doc.event.duration = latency;

  const reply = bool(flow.is_reply) === true;
  // Roles of the call: for a reply, the packet's destination is the client.
  const clientIp = str(reply ? ip?.destination : ip?.source);
  const serverIp = str(reply ? ip?.source : ip?.destination);
  const clientEndpoint = obj(reply ? flow.destination : flow.source);
  const serverEndpoint = obj(reply ? flow.source : flow.destination);
  const src = endpoint(clientIp, reply ? dport : sport, clientEndpoint);
  const dst = endpoint(serverIp, reply ? sport : dport, serverEndpoint);
  if (src.ecs !== undefined) doc.source = src.ecs;
  if (dst.ecs !== undefined) doc.destination = dst.ecs;
  if (reply) {
    if (src.ecs !== undefined) doc.client = { ...src.ecs };
    if (dst.ecs !== undefined) doc.server = { ...dst.ecs };
  }
  const related = [src.ecs?.ip, dst.ecs?.ip].filter((x): x is string => x !== undefined);
  if (related.length > 0) doc.related = { ip: related };
  const network: NonNullable<EcsDocument["network"]> = {};
  if (transport !== undefined) network.transport = transport;
  const version = str(ip?.ipVersion);
  if (version === "IPv4" || version === "IPv6") network.type = version === "IPv4" ? "ipv4" : "ipv6";
  else if (src.ecs?.ip !== undefined && ipVersion(src.ecs.ip) !== 0)
    network.type = ipVersion(src.ecs.ip) === 4 ? "ipv4" : "ipv6";
  const direction = str(flow.traffic_direction);
  if (direction === "INGRESS") network.direction = "inbound";
  else if (direction === "EGRESS") network.direction = "outbound";
  if (http7 !== undefined) network.protocol = "http";
  if (Object.keys(network).length > 0) doc.network = network;

  if (http7 !== undefined) {
    const http: NonNullable<EcsDocument["http"]> = {};
    const method = str(http7.method);
    if (method !== undefined) http.request = { method };
    if (code !== undefined && code !== 0) http.response = { status_code: code };
    const v = httpVersion(str(http7.protocol));
    if (v !== undefined) http.version = v;
    doc.http = http;
    const target = str(http7.url);
    if (target !== undefined) {
      doc.url = ecsUrl(target);
    }
  }

  const authType = str(flow.auth_type);
  const encrypted = bool(ip?.encrypted) === true;
  const cilium: NonNullable<EcsDocument["cilium"]> = { verdict };
  if (dropReason !== undefined) cilium.drop_reason = dropReason;
  if (authType !== undefined) cilium.auth_type = authType;
  if (encrypted) cilium.encrypted = true;
  if (direction !== undefined) cilium.traffic_direction = direction;
  if (reply) cilium.is_reply = true;
  const traceReason = str(flow.trace_reason);
  if (traceReason !== undefined) cilium.trace_reason = traceReason;
  const sid = int(clientEndpoint?.identity);
  if (sid !== undefined) cilium.source_identity = sid;
  const did = int(serverEndpoint?.identity);
  if (did !== undefined) cilium.destination_identity = did;
  const slabels = strings(clientEndpoint?.labels);
  if (slabels !== undefined) cilium.source_labels = slabels;
  const dlabels = strings(serverEndpoint?.labels);
  if (dlabels !== undefined) cilium.destination_labels = dlabels;
  const spod = str(clientEndpoint?.pod_name);
  if (spod !== undefined) cilium.source_pod = spod;
  const dpod = str(serverEndpoint?.pod_name);
  if (dpod !== undefined) cilium.destination_pod = dpod;
  const nodeName = str(flow.node_name) ?? str(record.node_name);
  if (nodeName !== undefined) {
    cilium.node_name = nodeName;
    const slash = nodeName.indexOf("/");
    doc.host = { name: slash === -1 ? nodeName : nodeName.slice(slash + 1) };
    if (slash > 0) doc.orchestrator = { type: "kubernetes", cluster: { name: nodeName.slice(0, slash) } };
  }
  const flowType = str(flow.Type);
  if (flowType !== undefined) cilium.type = flowType;
  doc.cilium = cilium;

  const mesh: MeshFields = { name: "cilium" };
  if (authType === "SPIRE") {
    mesh.mtls = true;
    mesh.mtls_evidence = "hubble_auth_type";
  } else if (encrypted) {
    mesh.mtls = true;
    mesh.mtls_evidence = "hubble_encrypted";
  } else if (authType === "DISABLED") {
    mesh.mtls = false;
    mesh.mtls_evidence = "hubble_auth_type";
  }
  if (direction === "INGRESS") mesh.direction = "inbound";
  else if (direction === "EGRESS") mesh.direction = "outbound";
  if (src.mesh !== undefined) mesh.source = src.mesh;
  if (dst.mesh !== undefined) mesh.destination = dst.mesh;
  const sourceService = str(obj(reply ? flow.destination_service : flow.source_service)?.name);
  if (sourceService !== undefined) {
    mesh.source ??= {};
    mesh.source.service = sourceService;
  }
  const destinationService = str(obj(reply ? flow.source_service : flow.destination_service)?.name);
  if (destinationService !== undefined) {
    mesh.destination ??= {};
    mesh.destination.service = destinationService;
  }
  doc.mesh = mesh;
  if (mesh.mtls === true) doc.tls = { established: true };
  return { ok: true, document: doc };
}
