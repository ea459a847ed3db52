/**
 * The normalized audit document: Elastic Common Schema 8.x plus a `mesh.*` namespace for what ECS lacks.
 *
 * Every parser produces this shape; the index template maps exactly these fields; rules and dashboards query
 * them. Fields are optional because no source fills all of them; a field that a source does not know is
 * absent, never `null` and never Envoy's `"-"`.
 */
export interface EcsDocument {
  "@timestamp": string;
  ecs: { version: string };
  event: EcsEvent;
  source?: EcsEndpoint;
  destination?: EcsEndpoint;
  client?: EcsEndpoint;
  server?: EcsEndpoint;
  network?: {
    protocol?: string;
    transport?: string;
    direction?: "ingress" | "egress" | "internal" | "inbound" | "outbound" | "unknown";
    type?: "ipv4" | "ipv6";
    bytes?: number;
  };
  http?: {
    version?: string;
    request?: { method?: string; id?: string; bytes?: number; body?: { bytes?: number } };
    response?: { status_code?: number; bytes?: number; body?: { bytes?: number } };
  };
  url?: { original?: string; path?: string; query?: string; domain?: string; scheme?: string; port?: number };
  user_agent?: { original?: string };
  tls?: {
    established?: boolean;
    version?: string;
    version_protocol?: string;
    cipher?: string;
    /**
     * `server_name`: the SNI the client sent. `not_before`/`not_after`: the validity of the certificate the peer
     * presented (`%DOWNSTREAM_PEER_CERT_V_START%`/`_V_END%` in the custom Istio format), ISO 8601.
     */
    client?: { server_name?: string; not_before?: string; not_after?: string };
  };
  trace?: { id?: string };
  span?: { id?: string };
  user?: {
    name?: string;
    id?: string;
    group?: { name?: string[] };
    effective?: { name?: string };
    roles?: string[];
  };
  related?: { ip?: string[]; user?: string[]; hosts?: string[] };
  host?: { name?: string };
  orchestrator?: {
    type?: "kubernetes";
    cluster?: { name?: string };
    namespace?: string;
    resource?: { name?: string; type?: string; parent?: { type?: string } };
    api_version?: string;
  };
  /** Kubernetes metadata from Fluent Bit's kubernetes filter (ECS `kubernetes.*` is not in core ECS; Elastic uses it). */
  kubernetes?: {
    pod?: { name?: string; uid?: string; ip?: string };
    namespace?: string;
    node?: { name?: string };
    container?: { name?: string; image?: string };
    labels?: Record<string, string>;
    /** The audit event's own fields, names kept as Kubernetes writes them (`objectRef.resource`, `verb`, …). */
    audit?: KubernetesAuditFields;
  };
  /** Cilium Hubble specifics that have no ECS home. */
  cilium?: {
    verdict?: string;
    drop_reason?: string;
    auth_type?: string;
    encrypted?: boolean;
    traffic_direction?: string;
    source_identity?: number;
    destination_identity?: number;
    source_labels?: string[];
    destination_labels?: string[];
    node_name?: string;
    type?: string;
    /** True when the flow is the server's reply (`is_reply`): `source`/`destination` still name the client/server of the call. */
    is_reply?: boolean;
    /** Where the flow was observed (`to-endpoint`, `to-stack`, `to-proxy`, …). */
    trace_reason?: string;
    source_pod?: string;
    destination_pod?: string;
  };
  envoy?: {
    response_code_details?: string;
    connection_termination_details?: string;
    upstream_transport_failure_reason?: string;
    upstream_cluster?: string;
    upstream_host?: string;
    route_name?: string;
    requested_server_name?: string;
    authority?: string;
    upstream_service_time_ms?: number;
    /** `%UPSTREAM_REQUEST_ATTEMPT_COUNT%`: 1 for a first try, more when Envoy retried. */
    upstream_request_attempt_count?: number;
    /** `%REQUEST_DURATION%`: milliseconds until the last byte of the request was received. */
    request_duration_ms?: number;
    /** `%RESPONSE_DURATION%`: milliseconds until the first byte of the response was read from upstream. */
    response_duration_ms?: number;
    /** `%DOWNSTREAM_LOCAL_ADDRESS%`: the address the proxy accepted the connection on (the original destination). */
    downstream_local_address?: string;
    /** `%UPSTREAM_LOCAL_ADDRESS%`: the proxy's own address towards the upstream. */
    upstream_local_address?: string;
  };
  mesh?: MeshFields;
  rule?: { name?: string[] };
  /** Set when GDPR pseudonymization replaced values; lists the dotted field paths that were replaced. */
  labels?: Record<string, string>;
  tags?: string[];
}

export interface EcsEvent {
  kind: "event" | "alert" | "signal";
  category: string[];
  type: string[];
  /** `http_request`, `tcp_connection`, `flow`, or the audit verb (`create`, `get`, …). */
  action?: string;
  outcome?: "success" | "failure" | "unknown";
  /** `istio.access`, `envoy.access`, `linkerd.access`, `consul.access`, `cilium.flow`, `kubernetes.audit`. */
  dataset: string;
  module?: string;
  /** Nanoseconds. */
  duration?: number;
  start?: string;
  end?: string;
  id?: string;
  /** When the pipeline received the record. Not used for detection windows. */
  ingested?: string;
  /** The raw record as received, for the archive. Kept out of the index by default. */
  original?: string;
  reason?: string;
  severity?: number;
}

export interface EcsEndpoint {
  ip?: string;
  port?: number;
  address?: string;
  domain?: string;
  bytes?: number;
  packets?: number;
  geo?: { country_iso_code?: string; country_name?: string };
}

export interface MeshIdentity {
  /** The full identity as the mesh prints it: a SPIFFE URI or Linkerd's DNS-like identity. */
  principal?: string;
  trust_domain?: string;
  namespace?: string;
  service_account?: string;
  /** Service (Consul `svc`, the Envoy cluster's FQDN, Hubble workload) when known. */
  service?: string;
  /** Consul datacenter. */
  datacenter?: string;
  workload?: string;
}

/**
 * What `mesh.mtls` (or its absence) rests on. `STRONG_MTLS_EVIDENCE` lists the values that establish the fact
 * both ways (a format that logs the peer certificate, or the mesh's own verdict); the others are hints.
 * - `peer_certificate`: a custom format's `%DOWNSTREAM_PEER_FINGERPRINT_256%` (a fingerprint, or none presented);
 * - `peer_uri_san`: a peer URI SAN (`%DOWNSTREAM_PEER_URI_SAN%`) was logged, so a certificate was validated;
 * - `connection_security_policy`: Istio's `mutual_tls` / `none`;
 * - `linkerd_client_id`: Linkerd's `client.id` (the identity of the client's mesh certificate, or `-`);
 * - `linkerd_tls`: a Linkerd `tls` field;
 * - `hubble_auth_type`: Hubble's `auth_type` (`SPIRE`, or `DISABLED`);
 * - `hubble_encrypted`: Hubble's `IP.encrypted` (WireGuard/IPsec);
 * - `sni`: an inbound request carried the mesh's own SNI (`outbound_.…`, `….consul`): mTLS, by inference;
 * - `no_mesh_sni`: an inbound request without the mesh's SNI. Not a fact: auto-mTLS clients are logged so too,
 *   so `mesh.mtls` stays absent;
 * - `loopback`: the client is the pod itself (127.0.0.0/8, ::1); mTLS does not apply, `mesh.mtls` stays absent.
 */
export type MtlsEvidence =
  | "peer_certificate"
  | "peer_uri_san"
  | "connection_security_policy"
  | "linkerd_client_id"
  | "linkerd_tls"
  | "hubble_auth_type"
  | "hubble_encrypted"
  | "sni"
  | "no_mesh_sni"
  | "loopback";

/** Evidence that decides `mesh.mtls` both ways: what a high-severity plaintext alert may rest on. */
export const STRONG_MTLS_EVIDENCE: readonly MtlsEvidence[] = [
  "peer_certificate",
  "connection_security_policy",
  "linkerd_client_id",
  "linkerd_tls",
  "hubble_auth_type",
];

export interface MeshFields {
  /** `istio`, `envoy`, `linkerd`, `cilium`, `consul`. */
  name: string;
  /**
   * True when the connection was mutually authenticated by the mesh, false when the log shows it was not;
   * absent when the source cannot tell (`mtls_evidence` may still say why).
   */
  mtls?: boolean;
  /** What `mtls` rests on (see `MtlsEvidence`). */
  mtls_evidence?: MtlsEvidence;
  /** The gRPC status as a number (`%GRPC_STATUS(NUMBER)%`, or the name mapped to its code); 0 is OK. */
  grpc_status_code?: number;
  /** The gRPC status name as gRPC spells it (`UNAVAILABLE`, `INTERNAL`, …). */
  grpc_status?: string;
  direction?: "inbound" | "outbound" | "unknown";
  source?: MeshIdentity;
  destination?: MeshIdentity;
  response_flags?: string[];
}

export interface KubernetesAuditFields {
  auditID?: string;
  level?: string;
  stage?: string;
  verb?: string;
  requestURI?: string;
  apiVersion?: string;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, unknown> };
  impersonatedUser?: { username?: string; groups?: string[] };
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: {
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
    apiGroup?: string;
    apiVersion?: string;
    uid?: string;
    resourceVersion?: string;
  };
  responseStatus?: { code?: number; status?: string; reason?: string; message?: string };
  annotations?: Record<string, string>;
  /** Kept as objects but not indexed (`enabled: false` in the template): rules read them in memory. */
  requestObject?: unknown;
  responseObject?: unknown;
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
}

export const ECS_VERSION = "8.17.0";

/**
 * `event.type` of a request or connection: `base` (`access`, `connection`, the audit verb's type), and `denied` when
 * the HTTP status refused it (401 not authenticated, 403 not authorized), the same for every source.
 */
export function eventTypes(base: string, status: number | undefined): string[] {
  return status === 401 || status === 403 ? [base, "denied"] : [base];
}
