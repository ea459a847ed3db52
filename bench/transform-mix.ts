/** The generated record mix of the transform benchmark (kept apart so profiling scripts can reuse it). */
import type { FirehoseInputRecord } from "../lambdas/core/firehose/transform.js";

/** Deterministic PRNG (mulberry32), so every run measures the same mix. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES = ["orders", "payments", "catalog", "cart", "users", "search", "ratings", "reviews"];
const UAS = [
  "curl/8.5.0",
  "okhttp/4.12.0",
  "Go-http-client/1.1",
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
  "grpc-go/1.63.2",
];

export function generateMix(count: number, seed = 42): string[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const ip = () => `10.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)}`;
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join("");
  const t0 = Date.UTC(2024, 4, 2, 8, 0, 0);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const ts = new Date(t0 + i * 37).toISOString();
    const svc = pick(SERVICES);
    const ns = pick(["shop", "core", "edge"]);
    const fail = rnd() < 0.08;
    const code = fail ? pick([403, 404, 503, 0]) : pick([200, 200, 200, 201, 204, 302]);
    const flags = code === 503 ? "UH" : code === 0 ? "DC" : "-";
    const details =
      code === 403
        ? "rbac_access_denied_matched_policy[none]"
        : code === 503
          ? "no_healthy_upstream"
          : "via_upstream";
    const inbound = rnd() < 0.5;
    const src = `${ip()}:${Math.floor(rnd() * 60000) + 1024}`;
    const dst = `${ip()}:8080`;
    const path = `/${svc}/${Math.floor(rnd() * 1000)}${rnd() < 0.3 ? `?page=${Math.floor(rnd() * 10)}` : ""}`;
    const method = pick(["GET", "GET", "GET", "POST", "PUT", "DELETE"]);
    const istioText = `[${ts}] "${method} ${path} HTTP/1.1" ${code} ${flags} ${details} - "-" ${Math.floor(rnd() * 2000)} ${Math.floor(rnd() * 20000)} ${Math.floor(rnd() * 300)} ${Math.floor(rnd() * 300)} "-" "${pick(UAS)}" "${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}" "${svc}:8080" "${dst}" ${inbound ? "inbound|8080||" : `outbound|8080||${svc}.${ns}.svc.cluster.local`} ${inbound ? "127.0.0.6:41000" : src} ${inbound ? dst : "10.96.0.10:8080"} ${src} ${inbound ? `outbound_.8080_._.${svc}.${ns}.svc.cluster.local` : "-"} default`;
    const kubernetes = {
      pod_name: `${svc}-${hex(9)}-${hex(5)}`,
      namespace_name: ns,
      pod_id: `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`,
      labels: { app: svc, version: "v1", "security.istio.io/tlsMode": "istio" },
      host: `ip-${ip().replaceAll(".", "-")}.eu-west-1.compute.internal`,
      pod_ip: ip(),
      container_name: "istio-proxy",
      container_image: "docker.io/istio/proxyv2:1.22.3",
    };
    const r = rnd();
    if (r < 0.45) {
      out.push(JSON.stringify({ log: `${istioText}\n`, stream: "stdout", time: ts, kubernetes }));
    } else if (r < 0.6) {
      out.push(istioText);
    } else if (r < 0.68) {
      out.push(
        JSON.stringify({
          authority: `${svc}:8080`,
          bytes_received: 0,
          bytes_sent: 420,
          connection_termination_details: null,
          downstream_local_address: dst,
          downstream_remote_address: src,
          duration: 12,
          method,
          path,
          protocol: "HTTP/1.1",
          request_id: hex(32),
          requested_server_name: null,
          response_code: code,
          response_code_details: details,
          response_flags: flags,
          route_name: "default",
          start_time: ts,
          upstream_cluster: `outbound|8080||${svc}.${ns}.svc.cluster.local`,
          upstream_host: dst,
          upstream_local_address: src,
          upstream_service_time: "11",
          upstream_transport_failure_reason: null,
          user_agent: pick(UAS),
          x_forwarded_for: null,
        }),
      );
    } else if (r < 0.78) {
      out.push(
        JSON.stringify({
          log: `${JSON.stringify({ "client.addr": src, "client.id": `${pick(SERVICES)}.${ns}.serviceaccount.identity.linkerd.cluster.local`, host: `${svc}:8080`, method, processing_ns: "41000", request_bytes: "", response_bytes: "1800", status: code || 502, timestamp: ts, total_ns: "9100000", trace_id: "", uri: `http://${svc}:8080${path}`, user_agent: pick(UAS), version: "HTTP/2.0" })}\n`,
          stream: "stderr",
          time: ts,
          kubernetes: { ...kubernetes, container_name: "linkerd-proxy" },
        }),
      );
    } else if (r < 0.88) {
      out.push(
        JSON.stringify({
          flow: {
            time: ts,
            uuid: `${hex(8)}-${hex(4)}`,
            verdict: fail ? "DROPPED" : "FORWARDED",
            ...(fail ? { drop_reason_desc: "POLICY_DENIED" } : {}),
            IP: { source: ip(), destination: ip(), ipVersion: "IPv4" },
            l4: { TCP: { source_port: 40000 + (i % 20000), destination_port: 8080, flags: { SYN: true } } },
            source: {
              ID: 100,
              identity: 4000 + (i % 50),
              namespace: ns,
              labels: [`k8s:app=${svc}`, "k8s:io.cilium.k8s.policy.serviceaccount=default"],
              pod_name: kubernetes.pod_name,
              workloads: [{ name: svc, kind: "Deployment" }],
            },
            destination: { ID: 200, identity: 5000, namespace: ns, labels: ["k8s:app=db"], pod_name: "db-0" },
            Type: "L3_L4",
            node_name: "prod/ip-10-0-1-1",
            traffic_direction: "EGRESS",
            trace_observation_point: "TO_STACK",
            is_reply: false,
            Summary: "TCP Flags: SYN",
          },
          node_name: "prod/ip-10-0-1-1",
          time: ts,
        }),
      );
    } else {
      const verb = pick(["get", "list", "watch", "create", "update", "patch", "delete"]);
      const resource = pick(["pods", "secrets", "configmaps", "deployments", "leases"]);
      out.push(
        JSON.stringify({
          kind: "Event",
          apiVersion: "audit.k8s.io/v1",
          level: verb === "create" ? "RequestResponse" : "Metadata",
          auditID: `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`,
          stage: "ResponseComplete",
          requestURI: `/api/v1/namespaces/${ns}/${resource}/${svc}`,
          verb,
          user: {
            username: rnd() < 0.5 ? `system:serviceaccount:${ns}:${svc}` : "alice@example.com",
            uid: hex(8),
            groups: ["system:authenticated"],
          },
          sourceIPs: [ip()],
          userAgent: "kubectl/v1.30.1 (linux/amd64) kubernetes/abcdef",
          objectRef: { resource, namespace: ns, name: svc, apiVersion: "v1" },
          responseStatus: { metadata: {}, code: fail ? 403 : 200 },
          ...(verb === "create"
            ? {
                requestObject: {
                  kind: "Pod",
                  metadata: { name: svc, labels: { app: svc } },
                  spec: {
                    containers: [
                      { name: svc, image: `registry/${svc}:1.0`, securityContext: { privileged: false } },
                    ],
                  },
                },
              }
            : {}),
          requestReceivedTimestamp: ts,
          stageTimestamp: ts,
          annotations: {
            "authorization.k8s.io/decision": fail ? "forbid" : "allow",
            "authorization.k8s.io/reason": "",
          },
        }),
      );
    }
  }
  return out;
}

export function toRecords(texts: readonly string[]): FirehoseInputRecord[] {
  return texts.map((text, i) => ({
    recordId: `49546986683135544286507457936321625675700192471156785154${i}`,
    approximateArrivalTimestamp: 1_714_636_800_000,
    data: Buffer.from(`${text}\n`).toString("base64"),
  }));
}
