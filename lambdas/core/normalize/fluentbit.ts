/**
 * Fluent Bit envelopes: the docker (`log`) and legacy CRI (`message`) parsers put the container's line in a string
 * field; the `cri` multiline parser adds `time, stream, _p`; the kubernetes filter adds a `kubernetes` object (or
 * the shape Elastic's agents use: `kubernetes.pod.name`, …); the Firehose output may add a time key. Also the raw
 * CRI line prefix (`<RFC3339Nano> stdout|stderr F|P <line>`) when a tail input ships container files unparsed.
 * `cluster_name`, which our Fluent Bit examples add to every record, names the cluster (`orchestrator.cluster.name`).
 * The container name (or the tail path) names the sender, which decides the source before the line's content does.
 */
import type { EcsDocument } from "../ecs.js";
import type { Sender } from "../parsers/index.js";
import { obj, str, stringMap } from "../parsers/values.js";

export type KubernetesMetadata = NonNullable<EcsDocument["kubernetes"]>;

export interface FluentBitEnvelope {
  /** The container's own line, trailing newline removed. */
  inner: string;
  kubernetes?: KubernetesMetadata;
  /** The record's `cluster_name`. */
  clusterName?: string;
  /** What is left at the top level besides the envelope keys (a `Merge_Log` payload lifted there). */
  merged?: Record<string, unknown>;
  /** The mesh proxy that wrote the line, from the container name or the tail path (see `senderOf`). */
  sender?: Sender;
}

const ENVELOPE_KEYS = new Set([
  "log",
  "message",
  "stream",
  "time",
  "date",
  "@timestamp",
  "timestamp",
  "_p",
  "logtag",
  "kubernetes",
  "kubernetes_namespace",
  "cluster_name",
  "log_processed",
  "source",
  "container_id",
  "container_name",
  "ecs_cluster",
  "ecs_task_arn",
  "ecs_task_definition",
  // The tail input's `path_key` under the names Fluent Bit's docs and charts use.
  "path",
  "filename",
  "file",
]);

/** The proxy containers of the meshes we read, by container name. */
const PROXY_CONTAINERS: Readonly<Record<string, Sender>> = {
  "istio-proxy": "istio",
  "linkerd-proxy": "linkerd",
  "consul-dataplane": "consul",
  "consul-connect-envoy-sidecar": "consul",
};

/**
 * Which mesh proxy sent a record, by what the shipper knows about the sender (see `containerOf`). `undefined` when
 * the record names no proxy container.
 */
export function senderOf(o: Record<string, unknown>, kubernetes?: KubernetesMetadata): Sender | undefined {
  const sender = containerOf(o, kubernetes);
  return sender === undefined ? undefined : PROXY_CONTAINERS[sender.container];
}

/**
 * The workload container a record was logged by, as `<namespace>/<pod>/<container>` (see `containerOf`), unless that
 * container is the API server's own (`kube-apiserver` in `kube-system`, which writes its audit log to stdout under
 * `--audit-log-path=-`). `undefined` when the record names no container: the audit log tailed from the host, the API
 * server's audit webhook, CloudWatch Logs.
 *
 * A workload can write anything to its stdout, an audit event included; only the API server's audit log is
 * `kubernetes.audit` (the trust model in the design: the sender decides, never the line).
 */
export function workloadContainerOf(
  o: Record<string, unknown>,
  kubernetes?: KubernetesMetadata,
): string | undefined {
  const sender = containerOf(o, kubernetes);
  if (sender === undefined) return undefined;
  const { namespace, pod, container } = sender;
  if (container === "kube-apiserver" && namespace === "kube-system") return undefined;
  return `${namespace ?? "?"}/${pod ?? "?"}/${container}`;
}

interface ContainerOfRecord {
  readonly namespace?: string;
  readonly pod?: string;
  readonly container: string;
}

/**
 * The container that logged a record: the kubernetes filter's metadata, else the tail input's file path
 * (`/var/log/containers/<pod>_<ns>_<container>-<id>.log` or `/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log`).
 */
function containerOf(
  o: Record<string, unknown>,
  kubernetes?: KubernetesMetadata,
): ContainerOfRecord | undefined {
  const container = kubernetes?.container?.name;
  if (container !== undefined)
    return { namespace: kubernetes?.namespace, pod: kubernetes?.pod?.name, container };
  const path = str(o.path) ?? str(o.filename) ?? str(o.file);
  return path === undefined ? undefined : containerOfPath(path);
}

function containerOfPath(path: string): ContainerOfRecord | undefined {
  const slash = path.lastIndexOf("/");
  const file = path.slice(slash + 1);
  if (path.includes("/containers/") && file.endsWith(".log")) {
    // <pod>_<namespace>_<container>-<64 hex>.log
    const parts = file.slice(0, -4).split("_");
    const last = parts[parts.length - 1] ?? "";
    const dash = last.lastIndexOf("-");
    return dash > 0 ? { namespace: parts[1], pod: parts[0], container: last.slice(0, dash) } : undefined;
  }
  if (path.includes("/pods/") && slash > 0) {
    // <namespace>_<pod>_<uid>/<container>/<n>.log
    const dir = path.slice(0, slash);
    const podDir = dir.slice(0, dir.lastIndexOf("/"));
    const [namespace, pod] = podDir.slice(podDir.lastIndexOf("/") + 1).split("_");
    return { namespace, pod, container: dir.slice(dir.lastIndexOf("/") + 1) };
  }
  return undefined;
}

/** The envelope of a Fluent Bit record, or `undefined` when the object has no `log`/`message` string. */
export function unwrapFluentBit(o: Record<string, unknown>): FluentBitEnvelope | undefined {
  const payload = typeof o.log === "string" ? o.log : typeof o.message === "string" ? o.message : undefined;
  if (payload === undefined) return undefined;
  let end = payload.length;
  while (end > 0 && (payload.charCodeAt(end - 1) === 10 || payload.charCodeAt(end - 1) === 13)) end--;
  const envelope: FluentBitEnvelope = { inner: end === payload.length ? payload : payload.slice(0, end) };
  const kubernetes = kubernetesMetadata(obj(o.kubernetes));
  if (kubernetes !== undefined) envelope.kubernetes = kubernetes;
  const clusterName = str(o.cluster_name);
  if (clusterName !== undefined) envelope.clusterName = clusterName;
  const sender = senderOf(o, kubernetes);
  if (sender !== undefined) envelope.sender = sender;
  let merged: Record<string, unknown> | undefined;
  for (const key of Object.keys(o)) {
    if (!ENVELOPE_KEYS.has(key)) {
      merged ??= {};
      merged[key] = o[key];
    }
  }
  const processed = obj(o.log_processed);
  if (processed !== undefined) merged = { ...processed, ...merged };
  if (merged !== undefined) envelope.merged = merged;
  return envelope;
}

/** Fluent Bit's kubernetes filter keys, or Elastic's `kubernetes.pod.name` shape, onto ECS `kubernetes.*`. */
export function kubernetesMetadata(k: Record<string, unknown> | undefined): KubernetesMetadata | undefined {
  if (k === undefined) return undefined;
  const out: KubernetesMetadata = {};
  const pod = obj(k.pod);
  const podName = str(k.pod_name) ?? str(pod?.name);
  const podUid = str(k.pod_id) ?? str(pod?.uid);
  const podIp = str(k.pod_ip) ?? str(pod?.ip);
  if (podName !== undefined || podUid !== undefined || podIp !== undefined) {
    out.pod = {};
    if (podName !== undefined) out.pod.name = podName;
    if (podUid !== undefined) out.pod.uid = podUid;
    if (podIp !== undefined) out.pod.ip = podIp;
  }
  const namespace = str(k.namespace_name) ?? str(k.namespace);
  if (namespace !== undefined) out.namespace = namespace;
  const node = str(k.host) ?? str(obj(k.node)?.name);
  if (node !== undefined) out.node = { name: node };
  const container = obj(k.container);
  const containerName = str(k.container_name) ?? str(container?.name);
  const image = str(k.container_image) ?? str(obj(container?.image)?.name) ?? str(container?.image);
  if (containerName !== undefined || image !== undefined) {
    out.container = {};
    if (containerName !== undefined) out.container.name = containerName;
    if (image !== undefined) out.container.image = image;
  }
  const labels = stringMap(k.labels);
  if (labels !== undefined) out.labels = labels;
  return out.pod === undefined &&
    out.namespace === undefined &&
    out.node === undefined &&
    out.container === undefined &&
    out.labels === undefined
    ? undefined
    : out;
}

/**
 * Strips a CRI log prefix `<time> <stdout|stderr> <F|P> ` (containerd/CRI-O files); returns the line unchanged
 * when it has none. Scanned by hand: a digit first, then the stream and tag words.
 */
export function stripCriPrefix(line: string): string {
  const c = line.charCodeAt(0);
  if (c < 48 || c > 57) return line;
  const sp = line.indexOf(" ");
  if (sp < 10 || sp > 40) return line;
  const isStream = line.startsWith("stdout ", sp + 1) || line.startsWith("stderr ", sp + 1);
  if (!isStream) return line;
  const tag = line.charCodeAt(sp + 8);
  if ((tag !== 70 /* F */ && tag !== 80) /* P */ || line.charCodeAt(sp + 9) !== 32) return line;
  return line.slice(sp + 10);
}
