/**
 * A labelled set per default rule, from real captures in the shared corpus (by path, never copied): records where
 * the rule must fire, must not fire, and must fire only at a lower severity. Where the corpus has no capture of a
 * situation (no auto-mTLS inbound line without SNI, no custom-format line, no gRPC, no Hubble reply), the case is
 * derived from a real line by the one change named in its description (the SNI token, the log format the same
 * request is written in, a grpc_status, the flow's direction), so the rest of the record stays as captured.
 *
 * Each case runs the whole path people get: normalize (with the Fluent Bit envelope where the case says which
 * container sent the line), the default pack with its correlations (`replay`), and `buildAlert`.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { type Alert, buildAlert } from "../../lambdas/core/alerts/index.js";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../lambdas/core/normalize/index.js";
import { loadRulePack, type RulePack } from "../../lambdas/core/rules/index.js";
import { type ReplayRecord, replay } from "../../lambdas/core/rules/replay.js";
import type { Detection } from "../../lambdas/core/rules/types.js";
import { corpusPath, lines } from "./corpus.js";

let pack: RulePack;
beforeAll(async () => {
  pack = await loadRulePack(["rules"]);
});

async function* stream(texts: readonly string[]): AsyncIterable<ReplayRecord> {
  for (const [i, text] of texts.entries()) yield { file: "case", line: i + 1, text };
}

/** Every alert the default pack raises over `texts` (one stream, in order), silence rules included. */
async function alertsOf(texts: readonly string[]): Promise<Alert[]> {
  const detections: Detection[] = [];
  const summary = await replay(
    [stream(texts)],
    pack,
    (text) => normalizeRecord(text),
    (detection) => detections.push(detection),
  );
  expect(summary.rejected, "every record of a case parses").toBe(0);
  return detections.map((detection) => buildAlert(detection, { environment: "acceptance" }));
}

/** `rule@severity` of every alert except the source-silence ones a finite replay always ends with. */
async function raised(texts: readonly string[]): Promise<string[]> {
  return (await alertsOf(texts))
    .filter((alert) => alert.rule.name !== "pipeline_source_silent")
    .map((alert) => `${alert.rule.name}@${alert.severity}`)
    .sort();
}

function documentOf(text: string): EcsDocument {
  const result = normalizeRecord(text);
  if (!result.ok || result.documents.length !== 1) throw new Error(`expected one document for ${text}`);
  return result.documents[0] as EcsDocument;
}

/** A line as Fluent Bit ships it from a container (docker/CRI `log`, kubernetes filter metadata). */
function fromContainer(line: string, container: string, pod: string, namespace = "default"): string {
  return JSON.stringify({
    log: `${line}\n`,
    stream: "stdout",
    kubernetes: { pod_name: pod, namespace_name: namespace, container_name: container, host: "gke-node-1" },
    cluster_name: "corpus",
  });
}

const ISTIO_TEXT = "istio_envoy/elastic_integrations_istio/test-access-logs.log";
const ISTIO_JSON = "istio_envoy/elastic_integrations_istio/test-access-json-logs.log";

/** The real inbound sidecar lines (mTLS, with the mesh's SNI) of the Istio TEXT captures. */
function inboundTextLines(): string[] {
  const found = lines(corpusPath(ISTIO_TEXT)).filter((line) => / inbound\|\d+\|\| /.test(line));
  expect(found.length).toBeGreaterThanOrEqual(3);
  return found;
}

/** An inbound TEXT line as an auto-mTLS sidecar logs it without SNI: the `outbound_.…` token becomes `-`. */
function withoutSni(line: string): string {
  const replaced = line.replace(/ outbound_\.\S+ (\S+)$/, " - $1");
  expect(replaced).not.toBe(line);
  return replaced;
}

/** The real `GET /reviews/0` request of the Istio JSON capture (inbound, reviews:9080, curl). */
function reviewsRequest(): Record<string, unknown> {
  return JSON.parse(lines(corpusPath(ISTIO_JSON))[0] as string) as Record<string, unknown>;
}

/**
 * The same request written in the custom format of examples/mesh/istio/mesh-config.yaml (keys as that file sets
 * them), with the peer identity and certificate fingerprint given.
 */
function customFormat(
  request: Record<string, unknown>,
  peer: { identity: string | null; fingerprint: string | null },
  overrides: Record<string, unknown> = {},
): string {
  const remote = String(request.downstream_remote_address);
  return JSON.stringify({
    timestamp: request.start_time,
    source_identity: peer.identity,
    source_ip: remote.slice(0, remote.lastIndexOf(":")).replace(/^\[|\]$/g, ""),
    destination_service: request.authority,
    method: request.method,
    path: request.path,
    response_code: request.response_code,
    response_flags: request.response_flags,
    duration_ms: request.duration,
    bytes_sent: request.bytes_sent,
    bytes_received: request.bytes_received,
    mtls: peer.fingerprint,
    user_agent: request.user_agent,
    request_id: request.request_id,
    trace_id: null,
    grpc_status: null,
    ...overrides,
  });
}

const FINGERPRINT = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const FRONTEND = "spiffe://cluster.local/ns/default/sa/productpage";

/** `n` copies of the reviews request `every` ms apart from its own start time, through `mutate(i)`. */
function series(
  n: number,
  everyMs: number,
  mutate: (i: number, request: Record<string, unknown>) => Record<string, unknown>,
): Record<string, unknown>[] {
  const request = reviewsRequest();
  const start = Date.parse(String(request.start_time));
  return Array.from({ length: n }, (_, i) =>
    mutate(i, {
      ...request,
      start_time: new Date(start + i * everyMs).toISOString(),
      request_id: `${String(request.request_id)}-${i}`,
    }),
  );
}

describe("mesh_plaintext_traffic and mesh_plaintext_suspected", () => {
  it("must not fire: the real inbound captures with the mesh's SNI (mTLS by SNI)", async () => {
    const docs = inboundTextLines().map(documentOf);
    expect(docs.map((doc) => [doc.mesh?.mtls, doc.mesh?.mtls_evidence])).toEqual(
      docs.map(() => [true, "sni"]),
    );
    expect(await raised(inboundTextLines())).toEqual([]);
  });

  it("fires at lower severity only: auto-mTLS inbound captures with no SNI are not mtls=false", async () => {
    const noSni = inboundTextLines().map(withoutSni);
    const docs = noSni.map(documentOf);
    expect(docs.map((doc) => [doc.mesh?.mtls, doc.mesh?.mtls_evidence])).toEqual(
      docs.map(() => [undefined, "no_mesh_sni"]),
    );
    const alerts = await raised(noSni);
    expect(alerts).not.toContain("mesh_plaintext_traffic@high");
    expect(new Set(alerts)).toEqual(new Set(["mesh_plaintext_suspected@low"]));
    const [suspected] = (await alertsOf(noSni)).filter((a) => a.rule.name === "mesh_plaintext_suspected");
    expect(suspected?.fields["mesh.mtls_evidence"]).toBe("no_mesh_sni");
  });

  it("must fire high: a custom-format plaintext request from an istio-proxy container", async () => {
    const line = customFormat(reviewsRequest(), { identity: null, fingerprint: null });
    const record = fromContainer(line, "istio-proxy", "reviews-v1-6b8f7c9d5-abcde");
    const doc = documentOf(record);
    expect(doc.event.dataset).toBe("istio.access");
    expect(doc.mesh).toMatchObject({ mtls: false, mtls_evidence: "peer_certificate" });
    const alerts = await alertsOf([record]);
    // The caller's alert. The line names its destination by authority only (`reviews:9080`), not its namespace, so
    // mesh_namespace_not_strict (grouped by mesh.destination.namespace) does not judge it.
    expect(alerts.map((a) => `${a.rule.name}@${a.severity}`).sort()).toEqual(["mesh_plaintext_traffic@high"]);
    const alert = alerts.find((a) => a.rule.name === "mesh_plaintext_traffic");
    expect(alert?.fields["mesh.mtls_evidence"]).toBe("peer_certificate");
    expect(alert?.values["kubernetes.pod.name"]).toEqual(["reviews-v1-6b8f7c9d5-abcde"]);
    expect(alert?.values["orchestrator.cluster.name"]).toEqual(["corpus"]);
  });

  it("must not fire: the same request in the custom format with the client's certificate", async () => {
    const line = customFormat(reviewsRequest(), { identity: FRONTEND, fingerprint: FINGERPRINT });
    expect(await raised([fromContainer(line, "istio-proxy", "reviews-v1-6b8f7c9d5-abcde")])).toEqual([]);
  });

  it("must not fire high: Linkerd's real captures (a kube-probe, loopback clients)", async () => {
    const json = lines(corpusPath("linkerd/linkerd_website_docs/access-log-json.log"));
    const loopback = lines(
      corpusPath("linkerd/github_threads/linkerd2-proxy_pr1350_json_access_log_sample.log"),
    );
    expect(await raised(json)).toEqual([]);
    expect(loopback.map((line) => documentOf(line).mesh?.mtls_evidence)).toEqual(["loopback", "loopback"]);
    expect(await raised(loopback)).toEqual([]);
  });

  it("fires at lower severity only: Linkerd's apache capture of a probe, which logs no user agent", async () => {
    const apache = lines(corpusPath("linkerd/linkerd_website_docs/access-log-apache.log"));
    expect(await raised(apache)).toEqual(["mesh_plaintext_suspected@low"]);
  });

  it("must not fire: Hubble's real exporter lines (no auth or encryption fields)", async () => {
    const hubble = lines(corpusPath("cilium_hubble/cilium_docs_export/export.rst_sample_events.log"));
    expect(hubble.map((line) => documentOf(line).mesh?.mtls)).toEqual([undefined, undefined]);
    expect(await raised(hubble)).toEqual([]);
  });
});

describe("Hubble replies", () => {
  it("describe the call they answer: the real xwing -> deathstar flow and its reply name xwing as the source", () => {
    const [, syn] = lines(corpusPath("cilium_hubble/cilium_docs_export/export.rst_sample_events.log"));
    const record = JSON.parse(syn as string) as { flow: Record<string, unknown> };
    const flow = record.flow as {
      IP: Record<string, unknown>;
      l4: { TCP: Record<string, unknown> };
      source: unknown;
      destination: unknown;
    };
    // The server's SYN-ACK: addresses, ports and endpoints reversed, marked as a reply.
    const reply = {
      ...record,
      flow: {
        ...record.flow,
        verdict: "FORWARDED",
        is_reply: true,
        trace_reason: "REPLY",
        drop_reason_desc: undefined,
        IP: { ...flow.IP, source: flow.IP.destination, destination: flow.IP.source },
        l4: {
          TCP: {
            source_port: flow.l4.TCP.destination_port,
            destination_port: flow.l4.TCP.source_port,
            flags: { SYN: true, ACK: true },
          },
        },
        source: flow.destination,
        destination: flow.source,
      },
    };
    const call = documentOf(syn as string);
    const answer = documentOf(JSON.stringify(reply));
    expect(answer.source?.ip).toBe(call.source?.ip);
    expect(answer.destination?.ip).toBe(call.destination?.ip);
    expect(answer.mesh?.source?.workload).toBe("xwing");
    expect(answer.cilium).toMatchObject({
      is_reply: true,
      trace_reason: "REPLY",
      source_pod: "xwing",
      destination_pod: "deathstar-7848d6c4d5-th9v2",
    });
  });
});

describe("mesh_error_rate_high (low) and gRPC behind HTTP 200", () => {
  const grpcSeries = (failing: number) =>
    series(40, 3000, (i, request) => ({
      ...request,
      protocol: "HTTP/2",
      grpc_status: i < failing ? (i % 2 === 0 ? "Unavailable" : "Internal") : "OK",
    })).map((entry) => JSON.stringify(entry));

  it("must fire: 3 gRPC Unavailable/Internal calls behind HTTP 200 in 40 (real request, grpc_status added)", async () => {
    const texts = grpcSeries(3);
    expect(documentOf(texts[0] as string).event.outcome).toBe("failure");
    expect(await raised(texts)).toEqual(["mesh_error_rate_high@low"]);
  });

  it("must not fire: the same 40 calls all gRPC OK", async () => {
    expect(await raised(grpcSeries(0))).toEqual([]);
  });

  it("must not fire: the real failure captures (8 lines, below the 20-request minimum)", async () => {
    const failed = lines(corpusPath("istio_envoy/elastic_integrations_istio/test-access-failed.log"));
    expect(await raised(failed)).toEqual([]);
  });
});

describe("mesh_latency_p99_high (low)", () => {
  it("must fire: 12 real requests of which the slowest take 6 s", async () => {
    const texts = series(12, 5000, (i, request) => ({ ...request, duration: i >= 10 ? 6000 : 15 }));
    expect(await raised(texts.map((t) => JSON.stringify(t)))).toEqual(["mesh_latency_p99_high@low"]);
  });

  it("must not fire: the same 12 requests at their captured 15 ms", async () => {
    const texts = series(12, 5000, (_i, request) => request);
    expect(await raised(texts.map((t) => JSON.stringify(t)))).toEqual([]);
  });
});

/** Custom-format lines from one identity to the given services, `everyMs` apart, answered `status`. */
function calls(identity: string, services: readonly string[], status: number, everyMs = 2000): string[] {
  return series(services.length, everyMs, (i, request) => ({
    ...request,
    authority: services[i],
    response_code: status,
  })).map((request) =>
    fromContainer(customFormat(request, { identity, fingerprint: FINGERPRINT }), "istio-proxy", "reviews-v1"),
  );
}

const services = (n: number) => Array.from({ length: n }, (_, i) => `svc-${i}.default.svc.cluster.local`);

describe("mesh_auth_failure_burst (medium)", () => {
  it("must fire and name every destination: 403s to five services", async () => {
    const alerts = (await alertsOf(calls(FRONTEND, services(5), 403))).filter(
      (a) => a.rule.name === "mesh_auth_failure_burst",
    );
    expect(alerts.map((a) => a.severity)).toEqual(["medium"]);
    expect(alerts[0]?.summary.to).toBe(
      "svc-0.default.svc.cluster.local, svc-1.default.svc.cluster.local, svc-2.default.svc.cluster.local, svc-3.default.svc.cluster.local, svc-4.default.svc.cluster.local",
    );
  });

  it("must fire: gRPC PERMISSION_DENIED behind HTTP 200", async () => {
    const texts = calls(FRONTEND, services(3), 200).map((record) => {
      const envelope = JSON.parse(record) as { log: string };
      const line = { ...(JSON.parse(envelope.log) as object), grpc_status: "PermissionDenied" };
      return JSON.stringify({ ...envelope, log: JSON.stringify(line) });
    });
    expect(await raised(texts)).toContain("mesh_auth_failure_burst@medium");
  });

  it("must not fire: two 403s", async () => {
    expect(await raised(calls(FRONTEND, services(2), 403))).toEqual([]);
  });
});

describe("mesh_service_discovery_scan (medium)", () => {
  it("must fire and list services, not a field name: one identity calls 12 services in a minute", async () => {
    const alerts = (await alertsOf(calls(FRONTEND, services(12), 404, 4000))).filter(
      (a) => a.rule.name === "mesh_service_discovery_scan",
    );
    expect(alerts.map((a) => a.severity)).toEqual(["medium"]);
    expect(alerts[0]?.summary.to).toMatch(/^12 distinct destination services: svc-0\.default.* \+7 more$/);
  });

  it("must not fire: 10 services", async () => {
    expect(await raised(calls(FRONTEND, services(10), 200, 4000))).toEqual([]);
  });
});

describe("mesh_unknown_identity (high)", () => {
  it("must fire: a caller from a foreign trust domain", async () => {
    expect(await raised(calls("spiffe://evil.example/ns/x/sa/y", services(1), 200))).toEqual([
      "mesh_unknown_identity@high",
    ]);
  });

  it("must not fire: a caller of our trust domain", async () => {
    expect(await raised(calls(FRONTEND, services(1), 200))).toEqual([]);
  });
});

describe("mesh_admin_path_unexpected_identity (high)", () => {
  const admin = (status: number) =>
    series(1, 1000, (_i, request) => ({ ...request, path: "/admin/users", response_code: status })).map(
      (request) =>
        fromContainer(
          customFormat(request, { identity: FRONTEND, fingerprint: FINGERPRINT }),
          "istio-proxy",
          "r",
        ),
    );

  it("must fire: an admin path answered 200 to an identity not on the allow list", async () => {
    expect(await raised(admin(200))).toEqual(["mesh_admin_path_unexpected_identity@high"]);
  });

  it("must not fire: the same request denied", async () => {
    expect(await raised(admin(403))).toEqual([]);
  });
});

describe("mesh_bulk_data_access (medium)", () => {
  const reads = (n: number) =>
    series(n, 2000, (i, request) => ({ ...request, path: `/api/v1/customers/${i}` })).map((request) =>
      fromContainer(
        customFormat(request, { identity: FRONTEND, fingerprint: FINGERPRINT }),
        "istio-proxy",
        "r",
      ),
    );

  it("must fire: 60 reads of customer records in two minutes", async () => {
    expect(await raised(reads(60))).toEqual(["mesh_bulk_data_access@medium"]);
  });

  it("must not fire: 50 reads", async () => {
    expect(await raised(reads(50))).toEqual([]);
  });
});

describe("pipeline_source_silent", () => {
  it("must not fire for a custom-format plaintext burst: it stays istio.access, the sidecar's own source", async () => {
    // 20 minutes of the sidecar's real TEXT lines, with a custom-format plaintext burst in the first minute.
    const text = inboundTextLines()[0] as string;
    const start = Date.parse("2022-08-22T10:51:35.926Z");
    const at = (ms: number) => new Date(start + ms).toISOString();
    const texts = [
      ...Array.from({ length: 3 }, (_, i) =>
        fromContainer(
          customFormat(
            { ...reviewsRequest(), start_time: at(i * 1000) },
            { identity: null, fingerprint: null },
          ),
          "istio-proxy",
          "reviews-v1",
        ),
      ),
      ...Array.from({ length: 20 }, (_, i) =>
        fromContainer(text.replace(/^\[[^\]]+\]/, `[${at(5000 + i * 60_000)}]`), "istio-proxy", "reviews-v1"),
      ),
    ];
    const silent = (await alertsOf(texts)).filter((alert) => alert.rule.name === "pipeline_source_silent");
    expect(silent.map((alert) => alert.group["event.dataset"])).not.toContain("envoy.access");
    expect(texts.map((t) => documentOf(t).event.dataset)).toEqual(texts.map(() => "istio.access"));
  });
});

describe("Kubernetes audit rules on Falco's real trace files", () => {
  const falco = (file: string) => lines(corpusPath("k8s_audit/falco_trace_files", file));

  it("k8s_pod_exec must fire (high) on exec_pod.json and attach_pod.json", async () => {
    expect(await raised(falco("exec_pod.json"))).toEqual(["k8s_pod_exec@high"]);
    expect(await raised(falco("attach_pod.json"))).toEqual(["k8s_pod_exec@high"]);
  });

  it("only the low manual-change finding fires on create_deployment.json and create_configmap.json", async () => {
    // A person creating objects by hand (Falco's informational "K8s Deployment/ConfigMap Created"), nothing more.
    expect(await raised(falco("create_deployment.json"))).toEqual(["k8s_manual_change@low"]);
    expect(await raised(falco("create_configmap.json"))).toEqual(["k8s_manual_change@low"]);
  });

  it("mesh_config_change must fire (medium) and show the change: a real create event, as a PeerAuthentication", async () => {
    const [line] = falco("create_configmap.json");
    const event = JSON.parse(line as string) as Record<string, unknown> & {
      objectRef: Record<string, unknown>;
    };
    const peerAuthentication = {
      ...event,
      objectRef: { ...event.objectRef, apiGroup: "security.istio.io", resource: "peerauthentications" },
      requestObject: {
        apiVersion: "security.istio.io/v1",
        kind: "PeerAuthentication",
        metadata: { name: "default" },
        spec: { mtls: { mode: "PERMISSIVE" } },
      },
    };
    const alerts = (await alertsOf([JSON.stringify(peerAuthentication)])).filter(
      (a) => a.rule.name === "mesh_config_change",
    );
    expect(alerts.map((a) => a.severity)).toEqual(["medium"]);
    expect(alerts[0]?.details).toContainEqual({
      key: "change",
      label: "Change",
      value: "create: spec.mtls.mode=PERMISSIVE",
    });
    const {
      requestObject: _request,
      responseObject: _response,
      ...metadataOnly
    } = { ...peerAuthentication, level: "Metadata", responseObject: undefined };
    const [bare] = (await alertsOf([JSON.stringify(metadataOnly)])).filter(
      (a) => a.rule.name === "mesh_config_change",
    );
    expect(bare?.details.find((d) => d.key === "change")?.value).toMatch(/^create: content not recorded/);
  });
});

describe("k8s_api_public_access_failures (high)", () => {
  /** The real GKE record of Elastic's capture (caller 67.43.156.1, public), repeated with a status. */
  const gke = (n: number, failing: number) => {
    const record = JSON.parse(
      lines(corpusPath("k8s_audit/elastic_integrations_kubernetes_audit_logs/test-audit.log")).find((l) =>
        l.includes("protoPayload"),
      ) as string,
    ) as { protoPayload: Record<string, unknown>; timestamp: string; insertId: string };
    const start = Date.parse(record.timestamp);
    return Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        ...record,
        insertId: `${record.insertId}-${i}`,
        timestamp: new Date(start + i * 5000).toISOString(),
        protoPayload: { ...record.protoPayload, status: { code: i < failing ? 7 : 0 } },
      }),
    );
  };

  it("must fire: 12 requests from a public address, 8 denied", async () => {
    expect(await raised(gke(12, 8))).toContain("k8s_api_public_access_failures@high");
  });

  it("must not fire: 12 requests, 4 denied", async () => {
    expect(await raised(gke(12, 4))).not.toContain("k8s_api_public_access_failures@high");
  });
});

describe("pipeline_canary", () => {
  it("must not fire on any real capture", async () => {
    const all = [ISTIO_TEXT, ISTIO_JSON, "linkerd/linkerd_website_docs/access-log-json.log"].flatMap((file) =>
      lines(corpusPath(file)),
    );
    expect(await raised(all)).not.toContain("pipeline_canary@informational");
    expect((await raised(all)).filter((name) => name.startsWith("pipeline_canary"))).toEqual([]);
  });

  it("reads the real files it is given (guard against an empty corpus path)", () => {
    expect(readFileSync(corpusPath(ISTIO_TEXT), "utf8").length).toBeGreaterThan(0);
  });
});
