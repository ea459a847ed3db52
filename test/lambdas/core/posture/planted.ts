/**
 * Generated traffic and audit events with a planted posture, as the wire formats write them: API-server audit
 * events (`audit.k8s.io/v1`) for PeerAuthentications and authorization policies, and Istio custom-format access
 * lines (examples/mesh/istio/) with the client certificate's validity. Two clusters:
 *
 * prod (mesh-wide STRICT from istio-system/default):
 * - `strict-ns`: no PeerAuthentication of its own (inherits STRICT); an AuthorizationPolicy without selector
 *   covers `orders`; all traffic mTLS; clients' certificates 2 hours old.
 * - `permissive-ns`: PeerAuthentication `default` PERMISSIVE (created STRICT by alice, patched to PERMISSIVE by
 *   bob at the Request level); `api` is covered by an AuthorizationPolicy selecting app=api, `worker` by none;
 *   3 plaintext requests proven by the peer certificate; the `legacy` client presents a 30-hour-old certificate;
 *   a workload PeerAuthentication `db-strict` (app=db) STRICT.
 * - `ingress`: PERMISSIVE on purpose (the allow list's namespace), plaintext from outside.
 * edge (no mesh-wide PeerAuthentication):
 * - `undeclared-ns`: traffic, no policy of any kind.
 */
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../../../lambdas/core/normalize/index.js";

export const PERIOD_END = "2026-03-09T00:00:00.000Z";
export const PERIOD_START = "2026-03-02T00:00:00.000Z";

let auditSeq = 0;

export function auditEvent(options: {
  time: string;
  verb: string;
  resource: string;
  group: string;
  namespace?: string;
  name: string;
  user: string;
  level?: string;
  requestObject?: unknown;
  responseObject?: unknown;
  code?: number;
  subresource?: string;
}): string {
  auditSeq++;
  const event: Record<string, unknown> = {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: options.level ?? "RequestResponse",
    auditID: `00000000-0000-4000-8000-${String(auditSeq).padStart(12, "0")}`,
    stage: "ResponseComplete",
    requestURI: `/apis/${options.group}/v1/${options.namespace === undefined ? "" : `namespaces/${options.namespace}/`}${options.resource}/${options.name}`,
    verb: options.verb,
    user: { username: options.user, groups: ["system:authenticated"] },
    sourceIPs: ["10.0.12.7"],
    userAgent: "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
    objectRef: {
      resource: options.resource,
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      name: options.name,
      apiGroup: options.group,
      apiVersion: "v1",
      ...(options.subresource === undefined ? {} : { subresource: options.subresource }),
    },
    responseStatus: { metadata: {}, code: options.code ?? 200 },
    requestReceivedTimestamp: options.time,
    stageTimestamp: options.time,
    annotations: { "authorization.k8s.io/decision": "allow" },
  };
  if (options.requestObject !== undefined) event.requestObject = options.requestObject;
  if (options.responseObject !== undefined) event.responseObject = options.responseObject;
  return JSON.stringify(event);
}

export function peerAuthentication(
  namespace: string,
  name: string,
  mode: string,
  selector?: Record<string, string>,
): Record<string, unknown> {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name, namespace },
    spec: { ...(selector === undefined ? {} : { selector: { matchLabels: selector } }), mtls: { mode } },
  };
}

let requestSeq = 0;

/** One server-side request in the custom Istio format. */
export function istioRequest(options: {
  time: string;
  client?: string;
  destination: string;
  mtls: boolean;
  certIssued?: string;
  certLifetimeHours?: number;
  status?: number;
  userAgent?: string;
  sourceIp?: string;
  path?: string;
}): string {
  requestSeq++;
  const notBefore = options.mtls ? options.certIssued : undefined;
  return JSON.stringify({
    timestamp: options.time,
    source_identity: options.mtls ? (options.client ?? null) : null,
    source_ip: options.sourceIp ?? "10.1.0.9",
    destination_service: `${options.destination}:8080`,
    method: "GET",
    path: options.path ?? "/api/v1/items",
    response_code: options.status ?? 200,
    response_flags: "-",
    duration_ms: 4,
    bytes_sent: 120,
    bytes_received: 0,
    mtls: options.mtls ? "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" : null,
    user_agent: options.userAgent ?? "Go-http-client/1.1",
    request_id: `req-${requestSeq}`,
    trace_id: null,
    grpc_status: null,
    peer_cert_not_before: notBefore ?? null,
    peer_cert_not_after:
      notBefore === undefined
        ? null
        : new Date(Date.parse(notBefore) + (options.certLifetimeHours ?? 24) * 3_600_000).toISOString(),
  });
}

function at(day: number, hour: number, minute = 0): string {
  return new Date(Date.UTC(2026, 2, 2 + day, hour, minute)).toISOString();
}

function hoursBefore(time: string, hours: number): string {
  return new Date(Date.parse(time) - hours * 3_600_000).toISOString();
}

/** The planted lines per cluster (the cluster name travels as Fluent Bit or CloudWatch would add it). */
export function plantedLines(): { cluster: string; lines: string[] }[] {
  const prod: string[] = [];
  // Before the period: the mesh-wide STRICT policy, and permissive-ns created STRICT.
  prod.push(
    auditEvent({
      time: "2026-02-20T09:00:00.000Z",
      verb: "create",
      resource: "peerauthentications",
      group: "security.istio.io",
      namespace: "istio-system",
      name: "default",
      user: "alice",
      requestObject: peerAuthentication("istio-system", "default", "STRICT"),
      responseObject: peerAuthentication("istio-system", "default", "STRICT"),
    }),
    auditEvent({
      time: "2026-02-21T09:00:00.000Z",
      verb: "create",
      resource: "peerauthentications",
      group: "security.istio.io",
      namespace: "permissive-ns",
      name: "default",
      user: "alice",
      requestObject: peerAuthentication("permissive-ns", "default", "STRICT"),
      responseObject: peerAuthentication("permissive-ns", "default", "STRICT"),
    }),
    auditEvent({
      time: "2026-02-21T09:05:00.000Z",
      verb: "create",
      resource: "authorizationpolicies",
      group: "security.istio.io",
      namespace: "strict-ns",
      name: "allow-nothing-else",
      user: "alice",
      requestObject: {
        spec: { action: "ALLOW", rules: [{ from: [{ source: { namespaces: ["strict-ns"] } }] }] },
      },
    }),
    auditEvent({
      time: "2026-02-21T09:06:00.000Z",
      verb: "create",
      resource: "authorizationpolicies",
      group: "security.istio.io",
      namespace: "permissive-ns",
      name: "api-callers",
      user: "alice",
      requestObject: { spec: { selector: { matchLabels: { app: "api" } }, action: "ALLOW", rules: [{}] } },
    }),
    auditEvent({
      time: "2026-02-22T09:00:00.000Z",
      verb: "create",
      resource: "peerauthentications",
      group: "security.istio.io",
      namespace: "ingress",
      name: "default",
      user: "alice",
      requestObject: peerAuthentication("ingress", "default", "PERMISSIVE"),
    }),
    // In the period: bob switches permissive-ns to PERMISSIVE (merge patch, Request level) and adds db-strict.
    auditEvent({
      time: at(1, 10),
      verb: "patch",
      resource: "peerauthentications",
      group: "security.istio.io",
      namespace: "permissive-ns",
      name: "default",
      user: "bob",
      level: "Request",
      requestObject: { spec: { mtls: { mode: "PERMISSIVE" } } },
    }),
    auditEvent({
      time: at(1, 11),
      verb: "create",
      resource: "peerauthentications",
      group: "security.istio.io",
      namespace: "permissive-ns",
      name: "db-strict",
      user: "bob",
      requestObject: peerAuthentication("permissive-ns", "db-strict", "STRICT", { app: "db" }),
    }),
    // A refused change and a status update never change the state.
    auditEvent({
      time: at(1, 12),
      verb: "delete",
      resource: "peerauthentications",
      group: "security.istio.io",
      namespace: "istio-system",
      name: "default",
      user: "mallory",
      code: 403,
    }),
  );
  for (let i = 0; i < 20; i++) {
    const time = at(2, 8, i);
    prod.push(
      istioRequest({
        time,
        client: "spiffe://cluster.local/ns/strict-ns/sa/frontend",
        destination: "orders.strict-ns.svc.cluster.local",
        mtls: true,
        certIssued: hoursBefore(time, 2),
      }),
      istioRequest({
        time,
        client: "spiffe://cluster.local/ns/strict-ns/sa/frontend",
        destination: "api.permissive-ns.svc.cluster.local",
        mtls: true,
        certIssued: hoursBefore(time, 2),
      }),
    );
  }
  for (let i = 0; i < 5; i++) {
    const time = at(3, 9, i);
    prod.push(
      istioRequest({
        time,
        client: "spiffe://cluster.local/ns/permissive-ns/sa/legacy",
        destination: "worker.permissive-ns.svc.cluster.local",
        mtls: true,
        certIssued: hoursBefore(time, 30),
        certLifetimeHours: 720,
      }),
    );
  }
  for (let i = 0; i < 3; i++) {
    prod.push(
      istioRequest({
        time: at(3, 10, i),
        destination: "worker.permissive-ns.svc.cluster.local",
        mtls: false,
        sourceIp: "10.9.9.9",
        userAgent: "curl/8.5.0",
      }),
    );
  }
  for (let i = 0; i < 4; i++) {
    prod.push(
      istioRequest({
        time: at(4, 10, i),
        destination: "gateway.ingress.svc.cluster.local",
        mtls: false,
        sourceIp: "203.0.113.7",
        userAgent: "Mozilla/5.0",
      }),
    );
  }
  const edge: string[] = [];
  for (let i = 0; i < 6; i++) {
    const time = at(5, 14, i);
    edge.push(
      istioRequest({
        time,
        client: "spiffe://cluster.local/ns/undeclared-ns/sa/batch",
        destination: "reports.undeclared-ns.svc.cluster.local",
        mtls: true,
        certIssued: hoursBefore(time, 5),
      }),
    );
  }
  return [
    { cluster: "prod", lines: prod },
    { cluster: "edge", lines: edge },
  ];
}

/** The planted lines normalized, each document given its cluster's name. */
export function plantedDocuments(): EcsDocument[] {
  const docs: EcsDocument[] = [];
  for (const { cluster, lines } of plantedLines()) {
    for (const line of lines) {
      const result = normalizeRecord(line);
      if (!result.ok) throw new Error(`planted line does not parse: ${result.reason}: ${line}`);
      for (const doc of result.documents) {
        doc.orchestrator = { ...doc.orchestrator, cluster: { name: cluster } };
        docs.push(doc);
      }
    }
  }
  return docs;
}
