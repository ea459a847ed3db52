/**
 * What the end-to-end run writes on its "node", and what must come out the other end.
 *
 * Container log files (CRI format, as containerd writes them under `/var/log/containers/`) for the proxies of each
 * mesh, the Hubble exporter's file and the API server's audit log, with:
 * - the bundled incident (`examples/incident/`: Istio JSON and TEXT, Linkerd JSON, API-server audit events), its
 *   times moved so that it ends now (the detector evaluates recent event times);
 * - Istio's custom JSON format of `examples/mesh/istio/mesh-config.yaml` (an mTLS request and a plaintext one, the
 *   positive evidence `mesh_plaintext_traffic` pages on), a Consul proxy's Envoy JSON lines, Hubble flows;
 * - lines the shipped filters drop on purpose: pilot-agent and Envoy diagnostics, Linkerd's stdout, consul-dataplane's
 *   own JSON logs; and one truncated access line the transform refuses (`failed`: Firehose's error output keeps it).
 * Each line has its `Outcome`: the dataset its document must carry, `dropped` or `failed`. Pod metadata files for the
 * `kubernetes` filter's `kube_meta_preload_cache_dir` (`<namespace>_<pod>.meta`).
 */
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "./pipeline/assembly.js";
import { NODE_PATHS } from "./pipeline/fluent-bit.js";

export const INCIDENT_DIR = join(REPO_ROOT, "examples", "incident");
/** The last event time of the bundled incident; the run moves it to "now". */
const INCIDENT_END_MS = Date.parse("2026-03-02T14:15:00Z");

/**
 * The dataset of the line's document; `dropped` by a filter (never shipped); `failed`: shipped and refused by the
 * transform (kept raw in the error output).
 */
export type Outcome =
  | "failed"
  | "istio.access"
  | "linkerd.access"
  | "consul.access"
  | "cilium.flow"
  | "kubernetes.audit"
  | "dropped";

export interface WrittenLine {
  /** The line as the container or the node wrote it (what `event.original` must hold when kept). */
  readonly line: string;
  readonly outcome: Outcome;
  /** The file it was written to, relative to the node root. */
  readonly file: string;
}

export interface Pod {
  readonly namespace: string;
  readonly name: string;
  readonly container: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Moves every ISO 8601 UTC time of the incident (2026-03-02T…Z) by whole seconds, keeping its precision. */
export function shiftTimes(line: string, deltaMs: number): string {
  return line.replace(/2026-03-02T(\d\d):(\d\d):(\d\d)(\.\d+)?Z/g, (_all, h, m, s, fraction = "") => {
    const moved = new Date(Date.UTC(2026, 2, 2, Number(h), Number(m), Number(s)) + deltaMs);
    return `${moved.toISOString().slice(0, 19)}${fraction}Z`;
  });
}

export class NodeFiles {
  readonly written: WrittenLine[] = [];
  readonly containerId = new Map<string, string>();

  constructor(
    /** The folder standing for the node's `/`. */
    readonly root: string,
    readonly podMetadataDir: string,
  ) {
    mkdirSync(podMetadataDir, { recursive: true });
    for (const path of Object.values(NODE_PATHS)) mkdirSync(join(root, path), { recursive: true });
  }

  /** `/var/log/containers/<pod>_<namespace>_<container>-<64 hex>.log`, and the pod's metadata file. */
  containerFile(pod: Pod): string {
    const key = `${pod.namespace}/${pod.name}/${pod.container}`;
    let id = this.containerId.get(key);
    if (id === undefined) {
      id = randomBytes(32).toString("hex");
      this.containerId.set(key, id);
      writeFileSync(
        join(this.podMetadataDir, `${pod.namespace}_${pod.name}.meta`),
        JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            name: pod.name,
            namespace: pod.namespace,
            uid: crypto.randomUUID(),
            labels: pod.labels,
          },
          spec: {
            nodeName: "ip-10-0-1-23.eu-west-1.compute.internal",
            containers: [{ name: pod.container, image: `registry.example/${pod.container}:1.0` }],
          },
          status: {
            podIP: "10.44.1.27",
            containerStatuses: [
              {
                name: pod.container,
                image: `registry.example/${pod.container}:1.0`,
                imageID: `registry.example/${pod.container}@sha256:${id}`,
                containerID: `containerd://${id}`,
              },
            ],
          },
        }),
      );
    }
    return join(NODE_PATHS.containers, `${pod.name}_${pod.namespace}_${pod.container}-${id}.log`);
  }

  /** Appends CRI lines (`<time> <stream> F <line>`) to a container's log file. */
  writeContainer(
    pod: Pod,
    stream: "stdout" | "stderr",
    lines: readonly { line: string; outcome: Outcome }[],
  ): void {
    const file = this.containerFile(pod);
    const now = new Date().toISOString().replace("Z", "000000Z");
    const text = lines.map(({ line }) => `${now} ${stream} F ${line}\n`).join("");
    this.append(file, text);
    for (const l of lines) this.written.push({ ...l, file });
  }

  /** Appends raw lines to a node file (the Hubble export, the audit log). */
  writeNodeFile(file: string, lines: readonly { line: string; outcome: Outcome }[]): void {
    this.append(file, lines.map(({ line }) => `${line}\n`).join(""));
    for (const l of lines) this.written.push({ ...l, file });
  }

  private append(file: string, text: string): void {
    const path = join(this.root, file);
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, text);
  }
}

export const PODS = {
  catalog: {
    namespace: "shop",
    name: "catalog-5f7d8c9b6-q2w3e",
    container: "istio-proxy",
    labels: { app: "catalog" },
  },
  payments: {
    namespace: "shop",
    name: "payments-7d9c8b6f5-x2k4q",
    container: "istio-proxy",
    labels: { app: "payments" },
  },
  ledger: {
    namespace: "payments",
    name: "ledger-6b8f9c7d5-m4n5p",
    container: "istio-proxy",
    labels: { app: "ledger" },
  },
  webapp: {
    namespace: "booksapp",
    name: "webapp-6c9d8f7b5-t6y7u",
    container: "linkerd-proxy",
    labels: { app: "webapp" },
  },
  consul: {
    namespace: "consul-demo",
    name: "api-7f8e9d6c5-z1x2c",
    container: "consul-dataplane",
    labels: { app: "api" },
  },
} as const satisfies Record<string, Pod>;

/**
 * The incident file's lines, times moved by `deltaMs` and every audit id replaced by one of this run (a node kept
 * from an earlier run already holds the alerts of the original ids, and would rightly not page them again).
 */
function incidentLines(file: string, deltaMs: number, auditIds: Map<string, string>): string[] {
  return readFileSync(join(INCIDENT_DIR, file), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) =>
      shiftTimes(line, deltaMs).replace(/"auditID":"([0-9a-f-]{36})"/g, (_all, id: string) => {
        let fresh = auditIds.get(id);
        if (fresh === undefined) {
          fresh = crypto.randomUUID();
          auditIds.set(id, fresh);
        }
        return `"auditID":"${fresh}"`;
      }),
    );
}

/** The shift that moves the incident's end to `nowMs` (whole seconds). */
export function incidentShift(nowMs: number): number {
  return Math.floor((nowMs - INCIDENT_END_MS) / 1000) * 1000;
}

/** Every incident file is used: a new one in examples/incident/ must be given a place here. */
export function checkIncidentFiles(): void {
  const known = [
    "istio-inbound-json.log",
    "istio-payments-text.log",
    "kube-apiserver-audit.log",
    "linkerd-booksapp-json.log",
  ];
  const files = readdirSync(INCIDENT_DIR)
    .filter((f) => f.endsWith(".log"))
    .sort();
  if (JSON.stringify(files) !== JSON.stringify(known)) {
    throw new Error(
      `examples/incident/ holds ${files.join(", ")}: give each a container in test/e2e/scenario.ts`,
    );
  }
}

/** Envoy's default JSON access log line, as a Consul dataplane's Envoy writes it (lower-case keys). */
function consulLine(at: string, path: string, code: number, upstream: string): string {
  return JSON.stringify({
    start_time: at,
    method: "GET",
    path,
    protocol: "HTTP/1.1",
    response_code: code,
    response_flags: "-",
    bytes_received: 0,
    bytes_sent: 142,
    duration: 4,
    upstream_service_time: "3",
    x_forwarded_for: null,
    user_agent: "Go-http-client/1.1",
    request_id: crypto.randomUUID(),
    authority: "api.consul-demo:8080",
    upstream_host: "127.0.0.1:8080",
    upstream_cluster: "local_app",
    upstream_local_address: "127.0.0.1:46682",
    downstream_local_address: "10.44.2.31:20000",
    downstream_remote_address: "10.44.2.17:51234",
    requested_server_name: upstream,
    route_name: null,
    connection_termination_details: null,
  });
}

/** A Hubble exporter line: an L7 HTTP flow between two meshed pods, mutual auth on. */
function hubbleLine(at: string, i: number): string {
  return JSON.stringify({
    flow: {
      time: at,
      verdict: "FORWARDED",
      IP: { source: "10.44.1.23", destination: "10.44.2.12", ipVersion: "IPv4" },
      l4: { TCP: { source_port: 40000 + i, destination_port: 8080 } },
      source: {
        identity: 12345,
        namespace: "shop",
        labels: ["k8s:app=frontend"],
        pod_name: "frontend-6d8f7c9b5-a1b2c",
      },
      destination: {
        identity: 23456,
        namespace: "shop",
        labels: ["k8s:app=catalog"],
        pod_name: PODS.catalog.name,
      },
      Type: "L7",
      node_name: "ip-10-0-1-23.eu-west-1.compute.internal",
      event_type: { type: 129 },
      traffic_direction: "INGRESS",
      l7: {
        type: "RESPONSE",
        latency_ns: "2000000",
        http: { code: 200, method: "GET", url: "http://catalog:8080/api/v1/products", protocol: "HTTP/1.1" },
      },
      auth_type: "SPIRE",
      is_reply: false,
      Summary: "HTTP/1.1 GET http://catalog:8080/api/v1/products",
    },
    node_name: "ip-10-0-1-23.eu-west-1.compute.internal",
    time: at,
  });
}

export interface ScenarioInputs {
  /** Istio custom-format lines (rendered by the test from examples/mesh/istio/mesh-config.yaml). */
  readonly customFormat: readonly string[];
}

/** Writes the whole scenario; returns the shift applied to the incident's times. */
export function writeScenario(files: NodeFiles, nowMs: number, inputs: ScenarioInputs): number {
  checkIncidentFiles();
  const delta = incidentShift(nowMs);
  const ids = new Map<string, string>();
  const at = (offsetMs: number) => new Date(nowMs - offsetMs).toISOString();
  const kept = (outcome: Outcome) => (line: string) => ({ line, outcome });
  const dropped = (line: string) => ({ line, outcome: "dropped" as const });

  files.writeContainer(PODS.catalog, "stdout", [
    dropped(`${at(900_000)}\tinfo\tFLAG: --concurrency="2"`),
    dropped(JSON.stringify({ level: "info", time: at(899_000), msg: "Envoy proxy is ready" })),
    ...incidentLines("istio-inbound-json.log", delta, ids).map(kept("istio.access")),
    dropped(
      `[${at(1000).slice(0, 19).replace("T", " ")}.000][21][warning][config] gRPC config stream closed`,
    ),
    // Passes the access-line filter, but no parser reads it: ProcessingFailed, kept raw in the error output.
    { line: `[${at(500)}] "GET /truncated`, outcome: "failed" as const },
  ]);
  files.writeContainer(
    PODS.payments,
    "stdout",
    incidentLines("istio-payments-text.log", delta, ids).map(kept("istio.access")),
  );
  files.writeContainer(PODS.ledger, "stdout", inputs.customFormat.map(kept("istio.access")));
  files.writeContainer(PODS.webapp, "stdout", [
    dropped(`[     0.002061s]  INFO ThreadId(01) linkerd2_proxy: release 2.14.0 by linkerd on 2026-01-01`),
  ]);
  files.writeContainer(
    PODS.webapp,
    "stderr",
    incidentLines("linkerd-booksapp-json.log", delta, ids).map(kept("linkerd.access")),
  );
  files.writeContainer(PODS.consul, "stdout", [
    dropped(
      JSON.stringify({
        "@level": "info",
        "@message": "started envoy",
        "@module": "consul-dataplane",
        "@timestamp": at(600_000),
      }),
    ),
    kept("consul.access")(consulLine(at(30_000), "/health", 200, "api.default.dc1.internal.example.consul")),
    kept("consul.access")(
      consulLine(at(20_000), "/v1/orders", 200, "api.default.dc1.internal.example.consul"),
    ),
    kept("consul.access")(
      consulLine(at(10_000), "/v1/orders/7", 404, "api.default.dc1.internal.example.consul"),
    ),
  ]);
  files.writeNodeFile(
    join(NODE_PATHS.hubble, "events.log"),
    [0, 1, 2].map((i) => kept("cilium.flow")(hubbleLine(at(40_000 - i * 1000), i))),
  );
  files.writeNodeFile(
    join(NODE_PATHS.audit, "audit.log"),
    incidentLines("kube-apiserver-audit.log", delta, ids).map(kept("kubernetes.audit")),
  );
  return delta;
}

/** An Istio TEXT access line at `nowMs` with a fresh request id (unique, so it can be counted). */
export function istioTextLine(nowMs: number): string {
  return `[${new Date(nowMs).toISOString()}] "GET /api/v1/items HTTP/1.1" 200 - via_upstream - "-" 0 64 12 11 "-" "Go-http-client/1.1" "${crypto.randomUUID()}" "items:80" "10.44.2.9:8080" inbound|8080|| 127.0.0.6:40000 10.44.2.9:8080 10.44.1.23:51000 outbound_.8080_._.items.shop.svc.cluster.local default`;
}

/** A fresh `kubectl exec` audit event at `nowMs` (the latency probe), with its audit id. */
export function execEvent(nowMs: number): { line: string; auditID: string } {
  const auditID = crypto.randomUUID();
  const at = new Date(nowMs).toISOString().replace("Z", "000Z");
  return {
    auditID,
    line: JSON.stringify({
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      level: "Metadata",
      auditID,
      stage: "ResponseStarted",
      requestURI: `/api/v1/namespaces/shop/pods/${PODS.payments.name}/exec?command=id&container=payments&stdin=true&stdout=true&tty=true`,
      verb: "create",
      user: { username: "bob", groups: ["system:authenticated"] },
      sourceIPs: ["10.0.12.9"],
      userAgent: "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
      objectRef: {
        resource: "pods",
        namespace: "shop",
        name: PODS.payments.name,
        apiVersion: "v1",
        subresource: "exec",
      },
      responseStatus: { metadata: {}, code: 101 },
      requestReceivedTimestamp: at,
      stageTimestamp: at,
    }),
  };
}

/**
 * What the API server's audit webhook POSTs: one `audit.k8s.io/v1` `EventList` (the incident's audit events with
 * fresh ids, moved to now), and each event as a line to account for.
 */
export function webhookEventList(nowMs: number): { body: Record<string, unknown>; lines: WrittenLine[] } {
  const items = incidentLines("kube-apiserver-audit.log", incidentShift(nowMs), new Map()).map(
    (line) => JSON.parse(line) as Record<string, unknown>,
  );
  return {
    body: { kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items },
    lines: items.map((item) => ({ line: JSON.stringify(item), outcome: "kubernetes.audit", file: "POST /" })),
  };
}
