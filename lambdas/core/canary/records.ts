/**
 * The canary's synthetic records: one per source type, each in the wire format the source prints and wrapped as
 * the project's Fluent Bit pipeline (`examples/fluent-bit`) ships it to Firehose, all carrying a marker unique to
 * the run.
 *
 * The story they tell is one request, made by the canary: the canary client pod
 * `mesh-audit-trail-canary-client-<runId>` (service account `canary`, namespace `mesh-audit-trail-canary`, user agent
 * `mesh-audit-trail-canary/<runId>`) calls the canary server pod `mesh-audit-trail-canary-<runId>`, and reads a
 * ConfigMap of that name from the API server. Each source sees it its own way:
 *
 * | source | format | shipped as | marker lands in (ECS) |
 * |---|---|---|---|
 * | `istio` | Envoy JSON as Istio prints it (`accessLogEncoding: JSON`), inbound on the server's sidecar | container log (CRI parser, kubernetes filter) | `kubernetes.namespace`, `kubernetes.pod.name`, `user_agent.original` |
 * | `linkerd` | the proxy's JSON access log (on stderr), inbound | container log | the same, and `mesh.source.namespace` (the client's Linkerd identity) |
 * | `hubble` | a Hubble flow in the exporter's wrapper (`flow`, `node_name`, `time`) | a line of the exporter's file, tailed on the node | `mesh.source.namespace`, `mesh.source.workload` |
 * | `consul` | Envoy JSON as Consul prints it (default JSON format), inbound on `local_app` | container log | `kubernetes.namespace`, `kubernetes.pod.name`, `user_agent.original` |
 * | `k8s-audit` | an `audit.k8s.io/v1` `Event` (`get` of the ConfigMap) | a line of the API server's audit log file, tailed | `user_agent.original`, `kubernetes.audit.objectRef.namespace` |
 *
 * Every record also gets the keys Fluent Bit's pipeline adds: `cluster_name` (`mesh-audit-trail-canary`) and the
 * output's `@timestamp`.
 *
 * The canary rule (`rules/pipeline/pipeline_canary.yml`) matches the marker in the user agent, the client's mesh
 * namespace or the pod's namespace, and folds a run's records into alerts by the client's user agent (Istio,
 * Linkerd, Consul, audit) or, for the Hubble flow, which has none, by the client workload: two alerts per run, both
 * unique to it. The records are built to match no other alerting rule: a request with mutual TLS, answered 200, on
 * a path that is neither administrative nor sensitive, from an identity of the environment's own trust domain.
 *
 * Pure: the time and the run id come in; identifiers inside the records are derived from the run id.
 */
import { createHash } from "node:crypto";
import { normalizeRecord } from "../normalize/index.js";
import { DATASETS } from "../parsers/types.js";

/** The marker every canary record carries (namespace, name prefix and user agent). */
export const CANARY_MARKER = "mesh-audit-trail-canary";

/** The rule that turns canary records into the canary alert. */
export const CANARY_RULE_NAME = "pipeline_canary";

/** The source types the canary exercises, in the order it reports them. */
export const CANARY_SOURCES = ["istio", "linkerd", "hubble", "consul", "k8s-audit"] as const;
export type CanarySource = (typeof CANARY_SOURCES)[number];

/** The `event.dataset` each source's record must normalize to. */
export const CANARY_DATASETS: Readonly<Record<CanarySource, string>> = {
  istio: DATASETS.istio,
  linkerd: DATASETS.linkerd,
  hubble: DATASETS.cilium,
  consul: DATASETS.consul,
  "k8s-audit": DATASETS.audit,
};

/** The ECS fields of each source's normalized document that carry the marker (`CANARY_MARKER`). */
export const CANARY_MARKER_FIELDS: Readonly<Record<CanarySource, readonly string[]>> = {
  istio: ["kubernetes.namespace", "kubernetes.pod.name", "user_agent.original"],
  linkerd: ["kubernetes.namespace", "kubernetes.pod.name", "user_agent.original", "mesh.source.namespace"],
  hubble: ["mesh.source.namespace", "mesh.source.workload"],
  consul: ["kubernetes.namespace", "kubernetes.pod.name", "user_agent.original"],
  "k8s-audit": ["user_agent.original", "kubernetes.audit.objectRef.namespace"],
};

/** The names a run's records carry. */
export interface CanaryIdentity {
  /** Unique to the run: `YYYYMMDD-HHMMSS-<6 hex>` (UTC), valid inside Kubernetes names. */
  readonly runId: string;
  /** The canary's namespace (`CANARY_MARKER`). */
  readonly namespace: string;
  /** The canary server pod: `mesh-audit-trail-canary-<runId>`. */
  readonly pod: string;
  /** The canary client pod: `mesh-audit-trail-canary-client-<runId>`; groups the Hubble flow's alert. */
  readonly clientPod: string;
  /** The node the pods run on: `mesh-audit-trail-canary-node-<runId>`. */
  readonly node: string;
  /** The canary client's user agent: `mesh-audit-trail-canary/<runId>`; groups the other records' alert. */
  readonly userAgent: string;
}

/** One record as the canary sends it to Firehose. */
export interface CanaryRecord {
  readonly source: CanarySource;
  /** How the record is shaped and shipped, for people. */
  readonly description: string;
  /** The Firehose record's data: the Fluent Bit record as JSON, newline-terminated as Fluent Bit's output sends it. */
  readonly data: string;
  /** The `event.dataset` of its document. */
  readonly dataset: string;
  /** The `event.id` the transform gives its document (the same normalizer, run here). */
  readonly eventId: string;
}

export interface CanaryRecordOptions {
  readonly runId: string;
  /** The records' event time (epoch ms): "now". */
  readonly nowMs: number;
  /**
   * The trust domain of the client's mesh identity (the Linkerd record's `client.id`): one of the environment's
   * `trust_domains`, so the record does not look like a caller from a foreign mesh. @default "cluster.local"
   */
  readonly trustDomain?: string;
}

export class CanaryRecordError extends Error {
  override readonly name = "CanaryRecordError";
}

const RUN_ID = /^\d{8}-\d{6}-[0-9a-f]{6}$/;

/** A run id from the start time and 6 hex characters of randomness (`20260302-140000-3f9a1c`). */
export function canaryRunId(nowMs: number, randomHex: string): string {
  if (!/^[0-9a-f]{6}$/.test(randomHex)) {
    throw new CanaryRecordError(`run id entropy must be 6 lower-case hex characters, got "${randomHex}"`);
  }
  const iso = new Date(nowMs).toISOString();
  return `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}-${randomHex}`;
}

/** The names a run's records carry. */
export function canaryIdentity(runId: string): CanaryIdentity {
  if (!RUN_ID.test(runId)) {
    throw new CanaryRecordError(`run id "${runId}" is not of the form YYYYMMDD-HHMMSS-<6 hex>`);
  }
  return {
    runId,
    namespace: CANARY_MARKER,
    pod: `${CANARY_MARKER}-${runId}`,
    clientPod: `${CANARY_MARKER}-client-${runId}`,
    node: `${CANARY_MARKER}-node-${runId}`,
    userAgent: `${CANARY_MARKER}/${runId}`,
  };
}

/** The trust domain the canary's identity uses: the first literal (wildcard-free) entry of `trust_domains`. */
export function canaryTrustDomain(trustDomains: readonly string[] | undefined): string {
  return trustDomains?.find((domain) => domain !== "" && !/[*?]/.test(domain)) ?? "cluster.local";
}

/** The five records of a run, in `CANARY_SOURCES` order. */
export function buildCanaryRecords(options: CanaryRecordOptions): CanaryRecord[] {
  const identity = canaryIdentity(options.runId);
  const scene = new Scene(identity, options.nowMs, options.trustDomain ?? "cluster.local");
  const builders: Record<CanarySource, () => { description: string; record: Record<string, unknown> }> = {
    istio: () => scene.istio(),
    linkerd: () => scene.linkerd(),
    hubble: () => scene.hubble(),
    consul: () => scene.consul(),
    "k8s-audit": () => scene.audit(),
  };
  return CANARY_SOURCES.map((source) => {
    const { description, record } = builders[source]();
    const data = `${JSON.stringify(record)}\n`;
    const normalized = normalizeRecord(data);
    const document = normalized.ok && normalized.documents.length === 1 ? normalized.documents[0] : undefined;
    if (document?.event.id === undefined || document.event.dataset !== CANARY_DATASETS[source]) {
      throw new CanaryRecordError(
        `canary ${source} record does not normalize to one ${CANARY_DATASETS[source]} document: ${
          normalized.ok
            ? `got ${normalized.documents.map((d) => d.event.dataset).join(", ")}`
            : normalized.reason
        }`,
      );
    }
    return { source, description, data, dataset: document.event.dataset, eventId: document.event.id };
  });
}

const CLIENT_IP = "10.255.0.10";
const SERVER_IP = "10.255.0.11";
const CLIENT_PORT = 41_734;
const SERVER_PORT = 8080;
/** The cluster name Fluent Bit's pipeline writes into every record (`cluster_name`) and Hubble into `node_name`. */
const CLUSTER = CANARY_MARKER;
const SERVICE_ACCOUNT = "canary";

/** One request of the canary, seen by each source. */
class Scene {
  private readonly iso: string;
  private readonly path: string;

  constructor(
    private readonly identity: CanaryIdentity,
    nowMs: number,
    private readonly trustDomain: string,
  ) {
    this.iso = new Date(nowMs).toISOString();
    this.path = `/canary/${identity.runId}`;
  }

  /** Nanosecond precision, as Fluent Bit, Linkerd and Hubble print times. */
  private get nanos(): string {
    return `${this.iso.slice(0, -1)}000000Z`;
  }

  /** Microsecond precision, as the API server prints times. */
  private get micros(): string {
    return `${this.iso.slice(0, -1)}000Z`;
  }

  /** A UUID derived from the run id, so a run's records are reproducible from it. */
  private uuid(label: string): string {
    const hex = createHash("sha256").update(`${this.identity.runId}/${label}`).digest("hex");
    const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  /** What Fluent Bit's pipeline adds to every record: the `modify` filter's cluster and the output's time key. */
  private shipped(record: Record<string, unknown>): Record<string, unknown> {
    return { ...record, cluster_name: CLUSTER, "@timestamp": this.iso };
  }

  /** A line of a file on the node, as Fluent Bit's tail input reads it (no parser: the line is `log`). */
  private fileLine(line: Record<string, unknown>): Record<string, unknown> {
    return this.shipped({ log: JSON.stringify(line) });
  }

  /** A container log as Fluent Bit's CRI parser and kubernetes filter make it. */
  private containerLog(
    line: Record<string, unknown>,
    stream: "stdout" | "stderr",
    container: { name: string; image: string },
  ): Record<string, unknown> {
    return this.shipped({
      time: this.nanos,
      stream,
      _p: "F",
      log: JSON.stringify(line),
      kubernetes: {
        pod_name: this.identity.pod,
        namespace_name: this.identity.namespace,
        pod_id: this.uuid(`pod/${this.identity.pod}`),
        labels: { app: CANARY_MARKER },
        host: this.identity.node,
        pod_ip: SERVER_IP,
        container_name: container.name,
        docker_id: createHash("sha256").update(`${this.identity.runId}/${container.name}`).digest("hex"),
        container_image: container.image,
      },
    });
  }

  istio(): { description: string; record: Record<string, unknown> } {
    const service = `${CANARY_MARKER}.${this.identity.namespace}.svc.cluster.local`;
    // Envoy's JSON formatter prints keys in alphabetical order.
    const line = {
      authority: `${CANARY_MARKER}:${SERVER_PORT}`,
      bytes_received: 0,
      bytes_sent: 2,
      connection_termination_details: null,
      downstream_local_address: `${SERVER_IP}:${SERVER_PORT}`,
      downstream_remote_address: `${CLIENT_IP}:${CLIENT_PORT}`,
      duration: 1,
      method: "GET",
      path: this.path,
      protocol: "HTTP/1.1",
      request_id: this.uuid("istio/request"),
      requested_server_name: `outbound_.${SERVER_PORT}_._.${service}`,
      response_code: 200,
      response_code_details: "via_upstream",
      response_flags: "-",
      route_name: "default",
      start_time: this.iso,
      upstream_cluster: `inbound|${SERVER_PORT}||`,
      upstream_host: `${SERVER_IP}:${SERVER_PORT}`,
      upstream_local_address: "127.0.0.6:45817",
      upstream_service_time: "1",
      upstream_transport_failure_reason: null,
      user_agent: this.identity.userAgent,
      x_forwarded_for: null,
    };
    return {
      description:
        "Istio sidecar, inbound, Envoy JSON (accessLogEncoding: JSON); container log via Fluent Bit",
      record: this.containerLog(line, "stdout", {
        name: "istio-proxy",
        image: "docker.io/istio/proxyv2:1.24.2",
      }),
    };
  }

  linkerd(): { description: string; record: Record<string, unknown> } {
    const authority = `${CANARY_MARKER}:${SERVER_PORT}`;
    const line = {
      "client.addr": `${CLIENT_IP}:${CLIENT_PORT}`,
      "client.id": `${SERVICE_ACCOUNT}.${this.identity.namespace}.serviceaccount.identity.linkerd.${this.trustDomain}`,
      host: authority,
      method: "GET",
      processing_ns: "41000",
      request_bytes: "",
      response_bytes: "2",
      status: 200,
      timestamp: this.nanos,
      total_ns: "1000000",
      trace_id: "",
      uri: `http://${authority}${this.path}`,
      user_agent: this.identity.userAgent,
      version: "HTTP/1.1",
    };
    return {
      description:
        "Linkerd proxy, inbound, JSON access log (access-log: json) on stderr; container log via Fluent Bit",
      record: this.containerLog(line, "stderr", {
        name: "linkerd-proxy",
        image: "cr.l5d.io/linkerd/proxy:stable-2.14.10",
      }),
    };
  }

  hubble(): { description: string; record: Record<string, unknown> } {
    const nodeName = `${CLUSTER}/${this.identity.node}`;
    const endpoint = (pod: string, id: number, identity: number) => ({
      ID: id,
      identity,
      cluster_name: CLUSTER,
      namespace: this.identity.namespace,
      labels: [
        `k8s:app=${CANARY_MARKER}`,
        `k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=${this.identity.namespace}`,
        `k8s:io.cilium.k8s.policy.cluster=${CLUSTER}`,
        `k8s:io.cilium.k8s.policy.serviceaccount=${SERVICE_ACCOUNT}`,
        `k8s:io.kubernetes.pod.namespace=${this.identity.namespace}`,
      ],
      pod_name: pod,
    });
    const flow = {
      time: this.nanos,
      uuid: this.uuid("hubble/flow"),
      verdict: "FORWARDED",
      IP: { source: CLIENT_IP, destination: SERVER_IP, ipVersion: "IPv4" },
      l4: {
        TCP: { source_port: CLIENT_PORT, destination_port: SERVER_PORT, flags: { PSH: true, ACK: true } },
      },
      source: endpoint(this.identity.clientPod, 1187, 40_117),
      destination: endpoint(this.identity.pod, 1203, 40_117),
      Type: "L3_L4",
      node_name: nodeName,
      event_type: { type: 4 },
      traffic_direction: "INGRESS",
      trace_observation_point: "TO_ENDPOINT",
      is_reply: false,
      Summary: "TCP Flags: ACK, PSH",
    };
    const line = { flow, node_name: nodeName, time: this.nanos };
    return {
      description: "Cilium Hubble flow (exporter JSON); a line of the exporter's file, tailed by Fluent Bit",
      record: this.fileLine(line),
    };
  }

  consul(): { description: string; record: Record<string, unknown> } {
    const line = {
      start_time: this.iso,
      route_name: "",
      method: "GET",
      path: this.path,
      protocol: "HTTP/1.1",
      response_code: 200,
      response_flags: "-",
      response_code_details: "via_upstream",
      connection_termination_details: null,
      bytes_received: 0,
      bytes_sent: 2,
      duration: 1,
      upstream_service_time: "1",
      x_forwarded_for: null,
      user_agent: this.identity.userAgent,
      request_id: this.uuid("consul/request"),
      authority: `${CANARY_MARKER}:${SERVER_PORT}`,
      upstream_host: `127.0.0.1:${SERVER_PORT}`,
      upstream_cluster: "local_app",
      upstream_local_address: "127.0.0.1:38216",
      downstream_local_address: `${SERVER_IP}:20000`,
      downstream_remote_address: `${CLIENT_IP}:${CLIENT_PORT}`,
      requested_server_name: `${CANARY_MARKER}.default.dc1.internal.${this.uuid("consul/trust-domain")}.consul`,
      upstream_transport_failure_reason: null,
    };
    return {
      description:
        "Consul dataplane, inbound, Envoy JSON (Consul's default format); container log via Fluent Bit",
      record: this.containerLog(line, "stdout", {
        name: "consul-dataplane",
        image: "hashicorp/consul-dataplane:1.6.2",
      }),
    };
  }

  audit(): { description: string; record: Record<string, unknown> } {
    const ns = this.identity.namespace;
    const name = this.identity.pod;
    const event = {
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      level: "Metadata",
      auditID: this.uuid("k8s-audit/event"),
      stage: "ResponseComplete",
      requestURI: `/api/v1/namespaces/${ns}/configmaps/${name}`,
      verb: "get",
      user: {
        username: `system:serviceaccount:${ns}:${SERVICE_ACCOUNT}`,
        uid: this.uuid("k8s-audit/service-account"),
        groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"],
      },
      sourceIPs: [CLIENT_IP],
      userAgent: this.identity.userAgent,
      objectRef: { resource: "configmaps", namespace: ns, name, apiVersion: "v1" },
      responseStatus: { metadata: {}, code: 200 },
      requestReceivedTimestamp: this.micros,
      stageTimestamp: this.micros,
      annotations: {
        "authorization.k8s.io/decision": "allow",
        "authorization.k8s.io/reason": `RBAC: allowed by RoleBinding "${CANARY_MARKER}/${ns}" of Role "${CANARY_MARKER}" to ServiceAccount "${SERVICE_ACCOUNT}/${ns}"`,
      },
    };
    return {
      description:
        "Kubernetes API server audit Event (audit.k8s.io/v1); a line of its audit log file, tailed by Fluent Bit",
      record: this.fileLine(event),
    };
  }
}
