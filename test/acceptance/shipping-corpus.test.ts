/**
 * Shipping against the shared corpus of real logs (by path, never copied): Fluent Bit's own kubernetes-filter
 * fixtures and real mesh and audit lines, put through the example Fluent Bit pipeline (examples/fluent-bit: its
 * grep, kubernetes and modify filters and the kinesis_firehose serialization) and then the real Firehose transform.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { type FirehoseOutputRecord, transformBatch } from "../../lambdas/core/firehose/transform.js";
import { kubernetesMetadata } from "../../lambdas/core/normalize/fluentbit.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/index.js";
import type { RulePack } from "../../lambdas/core/rules/types.js";
import {
  firehoseEvent,
  type LineOutcome,
  loadFluentBitExamples,
  type PipelineRun,
  shipFile,
  shippedOnly,
  shipRecord,
} from "../examples/fluent-bit-pipeline.js";
import { corpusDir, corpusPath, lines, walk } from "./corpus.js";

const { plain } = loadFluentBitExamples();
const CONTAINER_ID = "d".repeat(64);
const RUN: PipelineRun = {
  env: {
    AUDIT_TRAIL_DELIVERY_STREAM: "audit-trail-acceptance",
    AUDIT_TRAIL_REGION: "eu-west-1",
    AUDIT_TRAIL_CLUSTER_NAME: "corpus",
  },
  pods: {
    "default/reviews-v1-545db77b95-xk2ts": {
      pod_id: "4d5e6f70-1111-2222-3333-444455556666",
      host: "gke-node-1",
      pod_ip: "10.24.0.10",
      labels: { app: "reviews", version: "v1" },
      container_image: "docker.io/istio/proxyv2:1.14.1",
      container_hash: "sha256:istio",
    },
    "booksapp/webapp-5d8f7c9b6-2xk4p": {
      pod_id: "7a8b9c0d-1111-2222-3333-444455556666",
      host: "k3d-node-0",
      pod_ip: "10.42.0.70",
      labels: { app: "webapp" },
      container_image: "cr.l5d.io/linkerd/proxy:stable-2.12.0",
      container_hash: "sha256:linkerd",
    },
    "default/payments-0": {
      pod_id: "9e8d7c6b-1111-2222-3333-444455556666",
      host: "node-2",
      pod_ip: "10.0.2.5",
      labels: { app: "payments" },
      container_image: "hashicorp/consul-dataplane:1.6.2",
      container_hash: "sha256:consul",
    },
  },
  readAt: new Date("2025-03-04T10:00:00.000Z"),
};
const FIXTURES = corpusPath("fluent_bit/fluent-bit_tests_runtime_data_kubernetes");

const cri = (stream: "stdout" | "stderr", line: string) =>
  `2025-03-04T09:59:59.000000001Z ${stream} F ${line}`;
const containerFile = (pod: string, namespace: string, container: string) =>
  `/var/log/containers/${pod}_${namespace}_${container}-${CONTAINER_ID}.log`;

/** Each `[time, record]` of the kubernetes-filter fixtures, with where it came from. */
function kubernetesFilterOutputs(): { where: string; time: Date; record: Record<string, unknown> }[] {
  return walk(join(FIXTURES, "out"))
    .filter((f) => f.endsWith(".out"))
    .flatMap((file) =>
      lines(file).map((line, i) => {
        const [seconds, record] = JSON.parse(line) as [number, Record<string, unknown>];
        return { where: `${relative(corpusDir(), file)}:${i + 1}`, time: new Date(seconds * 1000), record };
      }),
    );
}

/** The filters after the kubernetes filter: what a fixture record still goes through before the output. */
const AFTER_KUBERNETES = plain.filters.findIndex((f) => f.name === "kubernetes") + 1;

function transform(shipped: readonly { data: string }[], rules?: RulePack) {
  return transformBatch(
    firehoseEvent(shipped, RUN.readAt),
    rules === undefined ? {} : { tagger: (doc) => rules.matchSingleEvent(doc) },
  );
}
function documentOf(record: FirehoseOutputRecord): EcsDocument {
  return JSON.parse(Buffer.from(record.data, "base64").toString("utf8")) as EcsDocument;
}

/** The Consul line there is no real sample of: Consul's default JSON format, rendered for one inbound request. */
function consulLine(): string {
  const format = JSON.parse(
    readFileSync(corpusPath("consul/consul_default_access_log_json_format.json"), "utf8"),
  ) as Record<string, string>;
  const values: Record<string, string | number | null> = {
    "%START_TIME%": "2025-03-04T09:59:58.100Z",
    "%ROUTE_NAME%": null,
    "%REQ(:METHOD)%": "POST",
    "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%": "/pay",
    "%PROTOCOL%": "HTTP/1.1",
    "%RESPONSE_CODE%": 201,
    "%RESPONSE_FLAGS%": "-",
    "%RESPONSE_CODE_DETAILS%": "via_upstream",
    "%CONNECTION_TERMINATION_DETAILS%": null,
    "%BYTES_RECEIVED%": 120,
    "%BYTES_SENT%": 12,
    "%DURATION%": 4,
    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%": "3",
    "%REQ(X-FORWARDED-FOR)%": null,
    "%REQ(USER-AGENT)%": "python-requests/2.32",
    "%REQ(X-REQUEST-ID)%": "id-1",
    "%REQ(:AUTHORITY)%": "payments",
    "%UPSTREAM_HOST%": "127.0.0.1:8080",
    "%UPSTREAM_CLUSTER%": "local_app",
    "%UPSTREAM_LOCAL_ADDRESS%": "127.0.0.1:50000",
    "%DOWNSTREAM_LOCAL_ADDRESS%": "10.0.2.5:20000",
    "%DOWNSTREAM_REMOTE_ADDRESS%": "10.0.2.9:43000",
    "%REQUESTED_SERVER_NAME%": "payments.default.dc1.internal.abcd-1234.consul",
    "%UPSTREAM_TRANSPORT_FAILURE_REASON%": null,
  };
  const line: Record<string, unknown> = {};
  for (const [key, operator] of Object.entries(format)) {
    if (!(operator in values)) throw new Error(`no sample value for ${operator}`);
    line[key] = values[operator];
  }
  return JSON.stringify(line);
}

describe("Fluent Bit's kubernetes-filter fixtures, shipped by the example output", () => {
  const fixtures = kubernetesFilterOutputs();

  it("are all accounted for: Ok, or ProcessingFailed with the bytes Fluent Bit sent (kept in S3, never dropped)", () => {
    const shipped = fixtures.map(({ where, time, record }) => {
      const outcome = shipRecord(plain, `kube.${where}`, record, time, RUN, { fromFilter: AFTER_KUBERNETES });
      if (outcome.outcome !== "shipped") throw new Error(`${where}: ${JSON.stringify(outcome)}`);
      return outcome;
    });
    expect(shipped.length).toBeGreaterThanOrEqual(70);
    const { response, stats } = transform(shipped);
    expect(response.records.map((r) => r.recordId)).toEqual(shipped.map((_, i) => `r${i}`));
    for (const [i, out] of response.records.entries()) {
      expect(["Ok", "ProcessingFailed"], fixtures[i]?.where).toContain(out.result);
      if (out.result === "ProcessingFailed") expect(out.data, fixtures[i]?.where).toBe(shipped[i]?.data);
    }
    expect(stats.dropped).toBe(0);
    expect(stats.ok + stats.failed).toBe(shipped.length);
  });

  /** One real line per source, standing in for the fixture's application line. */
  const samples = (): [string, string][] => [
    [
      "istio.access",
      lines(corpusPath("istio_envoy/elastic_integrations_istio/test-access-json-logs.log"))[0] as string,
    ],
    [
      "istio.access",
      lines(corpusPath("istio_envoy/elastic_integrations_istio/test-access_logs.log"))[0] as string,
    ],
    ["linkerd.access", lines(corpusPath("linkerd/linkerd_website_docs/access-log-json.log"))[0] as string],
    ["linkerd.access", lines(corpusPath("linkerd/linkerd_website_docs/access-log-apache.log"))[0] as string],
    ["consul.access", consulLine()],
    [
      "cilium.flow",
      lines(corpusPath("cilium_hubble/cilium_docs_export/export.rst_sample_events.log"))[1] as string,
    ],
    ["kubernetes.audit", lines(corpusPath("k8s_audit/audit2rbac/demo.log"))[0] as string],
  ];

  it("carry their pod metadata onto the documents when their line is a real mesh line, and refuse an audit line from a workload", () => {
    const withLog = fixtures.filter((f) => typeof f.record.log === "string");
    expect(withLog.length).toBeGreaterThan(40);
    const cases = withLog.flatMap((fixture) =>
      samples().map(([dataset, line]) => ({ fixture, dataset, line })),
    );
    const shipped = cases.map(({ fixture, line }) => {
      const record = { ...fixture.record, log: `${line}\n` };
      const outcome = shipRecord(plain, `kube.${fixture.where}`, record, fixture.time, RUN, {
        fromFilter: AFTER_KUBERNETES,
      });
      if (outcome.outcome !== "shipped") throw new Error(`${fixture.where}: ${JSON.stringify(outcome)}`);
      return outcome;
    });
    const { response } = transform(shipped);
    for (const [i, out] of response.records.entries()) {
      const { fixture, dataset, line } = cases[i] as (typeof cases)[number];
      const where = `${fixture.where} with a ${dataset} line`;
      if (dataset === "kubernetes.audit") {
        // Only the API server's audit log is kubernetes.audit: the same line on a workload's stdout is kept raw.
        expect(out.result, where).toBe("ProcessingFailed");
        expect(out.data, where).toBe(shipped[i]?.data);
        continue;
      }
      expect(out.result, where).toBe("Ok");
      const doc = documentOf(out);
      expect(doc.event.dataset, where).toBe(dataset);
      expect(doc.event.original, where).toBe(line);
      expect(doc.kubernetes?.pod, where).toEqual(
        kubernetesMetadata(fixture.record.kubernetes as Record<string, unknown>)?.pod,
      );
      expect(doc.kubernetes?.namespace, where).toBe(
        (fixture.record.kubernetes as Record<string, unknown>).namespace_name,
      );
    }
  });
});

describe("real lines, written where their proxy or node writes them, through the whole example pipeline", () => {
  let rules: RulePack;
  beforeAll(async () => {
    rules = await loadRulePack([defaultRulesDir()]);
  });

  const run = (path: string, fileLines: string[]) => shipFile(plain, path, fileLines, RUN);
  const datasets = (outcomes: LineOutcome[]) => {
    const { response } = transform(shippedOnly(outcomes), rules);
    return response.records.map((r) => (r.result === "Ok" ? documentOf(r).event.dataset : r.result));
  };

  it("istio-proxy: the CRI log file of a real sidecar ships every access line as istio.access", () => {
    const file = lines(corpusPath("istio_envoy/elastic_integrations_istio/test-access_container_logs.log"));
    const outcomes = run(containerFile("reviews-v1-545db77b95-xk2ts", "default", "istio-proxy"), file);
    expect(outcomes.filter((o) => o.outcome === "shipped")).toHaveLength(file.length);
    expect(new Set(datasets(outcomes))).toEqual(new Set(["istio.access"]));
  });

  it("istio-proxy: Istio's JSON and TEXT access logs ship; Envoy's own log line stays on the node", () => {
    const json = lines(corpusPath("istio_envoy/elastic_integrations_istio/test-access-json-logs.log"));
    const text = lines(corpusPath("istio_envoy/elastic_integrations_istio/test-access-failed.log"));
    const envoyLog = lines(
      corpusPath("istio_envoy/datadog_integrations-core_envoy/envoy_tests.yaml_samples.log"),
    )[4] as string;
    const path = containerFile("reviews-v1-545db77b95-xk2ts", "default", "istio-proxy");
    const outcomes = run(
      path,
      [...json, ...text].map((l) => cri("stdout", l)),
    );
    expect(new Set(datasets(outcomes))).toEqual(new Set(["istio.access"]));
    expect(run(path, [cri("stderr", envoyLog)])).toEqual([
      expect.objectContaining({ outcome: "filtered", by: "istio_access_lines" }),
    ]);
  });

  it("linkerd-proxy: JSON and apache access logs on stderr ship; the proxy's debug log on stdout stays", () => {
    const access = [
      ...lines(corpusPath("linkerd/linkerd_website_docs/access-log-json.log")),
      ...lines(corpusPath("linkerd/linkerd_website_docs/access-log-apache.log")),
      ...lines(corpusPath("linkerd/github_threads/linkerd2-proxy_pr1350_json_access_log_sample.log")),
    ];
    const path = containerFile("webapp-5d8f7c9b6-2xk4p", "booksapp", "linkerd-proxy");
    const outcomes = run(
      path,
      access.map((l) => cri("stderr", l)),
    );
    expect(datasets(outcomes)).toEqual(access.map(() => "linkerd.access"));
    const debug = lines(
      corpusPath("linkerd/github_threads/linkerd2_issue12505_proxy_debug_log_NOT_access_log.log"),
    );
    expect(
      run(
        path,
        debug.map((l) => cri("stdout", l)),
      ).map((o) => o.outcome),
    ).toEqual(debug.map(() => "filtered"));
  });

  it("consul-dataplane: a line in Consul's default JSON format ships as consul.access", () => {
    const outcomes = run(containerFile("payments-0", "default", "consul-dataplane"), [
      cri("stdout", consulLine()),
    ]);
    expect(datasets(outcomes)).toEqual(["consul.access"]);
  });

  it("the Hubble exporter file: every flow ships as cilium.flow", () => {
    const flows = lines(corpusPath("cilium_hubble/cilium_docs_export/export.rst_sample_events.log"));
    expect(datasets(run("/var/run/cilium/hubble/events.log", flows))).toEqual(flows.map(() => "cilium.flow"));
  });

  it("the API server audit log: every event of audit2rbac and Falco's traces ships as kubernetes.audit", () => {
    const falco = corpusPath("k8s_audit/falco_trace_files");
    const events = [
      ...lines(corpusPath("k8s_audit/audit2rbac/demo.log")),
      ...readdirSync(falco)
        .filter((f) => f.endsWith(".json") && f !== "fal_01_003.json" && !f.startsWith("labels_"))
        .flatMap((f) => lines(join(falco, f))),
    ];
    expect(events.length).toBeGreaterThan(80);
    const outcomes = run("/var/log/kubernetes/audit/audit.log", events);
    expect(datasets(outcomes)).toEqual(events.map(() => "kubernetes.audit"));
  });

  it("Falco's exec and attach traces are tagged k8s_pod_exec after shipping", () => {
    const falco = corpusPath("k8s_audit/falco_trace_files");
    const events = ["exec_pod.json", "attach_pod.json"].flatMap((f) => lines(join(falco, f)));
    const { response } = transform(shippedOnly(run("/var/log/kubernetes/audit/audit.log", events)), rules);
    for (const record of response.records) {
      expect((documentOf(record) as { rule?: { name?: string[] } }).rule?.name).toContain("k8s_pod_exec");
    }
  });
});
