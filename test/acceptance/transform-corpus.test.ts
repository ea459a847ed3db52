/**
 * The transform against the shared corpus of real logs (by path, never copied): every access-log and audit sample
 * normalizes, every documented negative is rejected with a reason, Elastic's expected parse of Istio failures
 * agrees with ours, and Fluent Bit's kubernetes-filter fixtures unwrap.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { kubernetesMetadata, unwrapFluentBit } from "../../lambdas/core/normalize/fluentbit.js";
import { normalizeRecord } from "../../lambdas/core/normalize/index.js";
import { corpusDir, corpusPath, lines, walk } from "./corpus.js";

function normalizeOk(text: string, where: string): EcsDocument[] {
  const result = normalizeRecord(text);
  if (!result.ok) throw new Error(`${where}: ${result.reason}`);
  return result.documents;
}

/** Files whose every line is an access-log or audit record, with the data set each must land in. */
const POSITIVE: Record<string, string> = {
  "istio_envoy/elastic_integrations_istio/test-access-failed.log": "istio.access",
  "istio_envoy/elastic_integrations_istio/test-access-json-logs.log": "istio.access",
  "istio_envoy/elastic_integrations_istio/test-access-logs.log": "istio.access",
  "istio_envoy/elastic_integrations_istio/test-access-other-logs.log": "istio.access",
  "istio_envoy/elastic_integrations_istio/test-access_container_logs.log": "istio.access",
  "istio_envoy/elastic_integrations_istio/test-access_failed_logs.log": "istio.access",
  "istio_envoy/elastic_integrations_istio/test-access_logs.log": "istio.access",
  "istio_envoy/elastic_integrations_istio/test-ingest-raw.log": "istio.access",
  "istio_envoy/istio_io_docs/access-log_task_samples.log": "istio.access",
  "istio_envoy/elastic_integrations_envoyproxy/test-log.log": "envoy.access",
  "istio_envoy/elastic_beats_envoyproxy/envoy.log": "envoy.access",
  "istio_envoy/elastic_beats_envoyproxy/envoy-json.log": "envoy.access",
  "linkerd/linkerd_website_docs/access-log-apache.log": "linkerd.access",
  "linkerd/linkerd_website_docs/access-log-json.log": "linkerd.access",
  "linkerd/github_threads/linkerd2-proxy_pr1350_json_access_log_sample.log": "linkerd.access",
  "cilium_hubble/cilium_docs_export/export.rst_sample_events.log": "cilium.flow",
  "k8s_audit/audit2rbac/demo.log": "kubernetes.audit",
  "k8s_audit/elastic_integrations_kubernetes_audit_logs/test-audit.log": "kubernetes.audit",
  "k8s_audit/elastic_integrations_kubernetes_audit_logs/test-kube-audit.log": "kubernetes.audit",
};

describe("corpus: every access-log and audit sample normalizes", () => {
  it.each(Object.entries(POSITIVE))("%s", (file, dataset) => {
    const all = lines(corpusPath(file));
    expect(all.length).toBeGreaterThan(0);
    for (const [i, line] of all.entries()) {
      const docs = normalizeOk(line, `${file}:${i + 1}`);
      expect(docs.map((d) => d.event.dataset)).toEqual([dataset]);
      expect(JSON.stringify({ ...docs[0], event: { ...docs[0]?.event, original: "x" } })).not.toMatch(
        /:null|:"-"|:""/,
      );
    }
  });

  it("the Datadog sample: two Istio 1.1 lines and two plain Envoy lines", () => {
    const all = lines(corpusPath("istio_envoy/datadog_integrations-core_envoy/envoy_tests.yaml_samples.log"));
    const datasets = all.slice(0, 4).map((l, i) => normalizeOk(l, `datadog:${i + 1}`)[0]?.event.dataset);
    expect(datasets).toEqual(["istio.access", "istio.access", "envoy.access", "envoy.access"]);
  });

  it("every Falco audit trace event (v1, v1beta1 and without apiVersion) except the malformed one", () => {
    const dir = corpusPath("k8s_audit/falco_trace_files");
    const files = readdirSync(dir).filter(
      (f) => f.endsWith(".json") && f !== "fal_01_003.json" && !f.startsWith("labels_"),
    );
    expect(files.length).toBeGreaterThanOrEqual(45);
    let events = 0;
    for (const file of files) {
      for (const [i, line] of lines(join(dir, file)).entries()) {
        const [doc] = normalizeOk(line, `${file}:${i + 1}`);
        expect(doc?.event.dataset).toBe("kubernetes.audit");
        expect(doc?.event.id).toMatch(/-/);
        events++;
      }
    }
    expect(events).toBeGreaterThanOrEqual(51);
  });

  it("a Consul line made from Consul's default JSON format (there are no real Consul lines)", () => {
    const format = JSON.parse(
      readFileSync(corpusPath("consul/consul_default_access_log_json_format.json"), "utf8"),
    ) as Record<string, string>;
    const values: Record<string, string> = {
      "%START_TIME%": "2024-10-10T10:10:10.100Z",
      "%ROUTE_NAME%": "-",
      "%REQ(:METHOD)%": "GET",
      "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%": "/pay",
      "%PROTOCOL%": "HTTP/1.1",
      "%RESPONSE_CODE%": "200",
      "%RESPONSE_FLAGS%": "-",
      "%RESPONSE_CODE_DETAILS%": "via_upstream",
      "%CONNECTION_TERMINATION_DETAILS%": "-",
      "%BYTES_RECEIVED%": "0",
      "%BYTES_SENT%": "12",
      "%DURATION%": "4",
      "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%": "3",
      "%REQ(X-FORWARDED-FOR)%": "-",
      "%REQ(USER-AGENT)%": "curl/8",
      "%REQ(X-REQUEST-ID)%": "id-1",
      "%REQ(:AUTHORITY)%": "payments",
      "%UPSTREAM_HOST%": "127.0.0.1:8080",
      "%UPSTREAM_CLUSTER%": "local_app",
      "%UPSTREAM_LOCAL_ADDRESS%": "127.0.0.1:50000",
      "%DOWNSTREAM_LOCAL_ADDRESS%": "10.0.0.5:21000",
      "%DOWNSTREAM_REMOTE_ADDRESS%": "10.0.0.9:43000",
      "%REQUESTED_SERVER_NAME%": "payments.default.dc1.internal.abcd-1234.consul",
      "%UPSTREAM_TRANSPORT_FAILURE_REASON%": "-",
    };
    const line = JSON.stringify(
      Object.fromEntries(Object.entries(format).map(([k, op]) => [k, values[op] ?? op])),
    );
    expect(line).not.toContain("%");
    const [doc] = normalizeOk(line, "consul");
    expect(doc?.event.dataset).toBe("consul.access");
    expect(doc?.mesh).toMatchObject({
      name: "consul",
      direction: "inbound",
      mtls: true,
      destination: { service: "payments", datacenter: "dc1" },
    });
  });
});

describe("corpus: every documented negative is rejected with a reason", () => {
  it.each([
    ["istio_envoy/elastic_integrations_istio/test-access_invalid_logs.log", 0, /malformed request line/],
    ["istio_envoy/datadog_integrations-core_envoy/envoy_tests.yaml_samples.log", 4, /application log/],
    [
      "linkerd/github_threads/linkerd2_issue12505_proxy_debug_log_NOT_access_log.log",
      0,
      /unrecognized JSON record/,
    ],
    ["k8s_audit/falco_trace_files/fal_01_003.json", 0, /kubernetes audit|unrecognized JSON record/],
  ])("%s line %i", (file, index, reason) => {
    const line = lines(corpusPath(file))[index] as string;
    const result = normalizeRecord(line);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it("Consul's format definition itself (placeholders, not values) is not an access log", () => {
    const result = normalizeRecord(
      readFileSync(corpusPath("consul/consul_default_access_log_json_format.json"), "utf8"),
    );
    expect(result.ok).toBe(false);
  });
});

describe("corpus: Elastic's expected parse of Istio failures agrees", () => {
  const expected = (
    JSON.parse(
      readFileSync(
        corpusPath(
          "istio_envoy/elastic_integrations_istio/expected_subset/test-access-failed.log-expected.subset.json",
        ),
        "utf8",
      ),
    ) as {
      expected: Record<string, unknown>[];
    }
  ).expected;
  const input = lines(corpusPath("istio_envoy/elastic_integrations_istio/test-access-failed.log"));

  it("has one expectation per line", () => {
    expect(expected).toHaveLength(input.length);
  });

  it.each(expected.map((e, i) => [i + 1, e] as const))("line %i", (lineNo, e) => {
    const [doc] = normalizeOk(input[lineNo - 1] as string, `test-access-failed.log:${lineNo}`);
    expect(doc?.["@timestamp"]).toBe(e["@timestamp"]);
    expect(doc?.source?.address).toBe(e["source.address"]);
    expect(doc?.destination?.address).toBe(e["destination.address"]);
    expect(doc?.http?.request?.method).toBe(e["http.request.method"]);
    expect(doc?.http?.response?.status_code).toBe(e["http.response.status_code"]);
    expect(doc?.http?.version).toBe(e["http.version"]);
    expect(doc?.url?.original).toBe(e["url.original"]);
    expect(doc?.http?.request?.id).toBe(e["event.id"]);
    // Deliberate divergence: Elastic calls status 0 with flag DC (the client went away before any response)
    // a success; our rule is "status >= 400, status 0 or any response flag => failure" (issue 3).
    const outcome = e["http.response.status_code"] === 0 ? "failure" : e["event.outcome"];
    expect(doc?.event.outcome).toBe(outcome);
  });
});

describe("corpus: Fluent Bit kubernetes fixtures unwrap", () => {
  const root = corpusPath("fluent_bit/fluent-bit_tests_runtime_data_kubernetes");
  const sampleLine = lines(
    corpusPath("istio_envoy/elastic_integrations_istio/test-access_logs.log"),
  )[0] as string;

  it("every docker json-file input line unwraps to its log text (and, being an app log, is rejected with a reason)", () => {
    const files = walk(join(root, "log")).filter((f) => f.endsWith(".log"));
    expect(files.length).toBeGreaterThan(50);
    for (const file of files) {
      for (const [i, line] of lines(file).entries()) {
        const where = `${relative(corpusDir(), file)}:${i + 1}`;
        const record = JSON.parse(line) as Record<string, unknown>;
        const envelope = unwrapFluentBit(record);
        expect(envelope?.inner, where).toBe(String(record.log).replace(/\n$/, ""));
        const result = normalizeRecord(line);
        expect(result.ok, where).toBe(false);
        if (!result.ok) expect(result.reason, where).toMatch(/^in Fluent Bit record: /);
      }
    }
  });

  it("every kubernetes-filter output record carries its pod metadata onto the documents of an access log", () => {
    const files = walk(join(root, "out")).filter((f) => f.endsWith(".out"));
    let checked = 0;
    for (const file of files) {
      for (const line of lines(file)) {
        const [, record] = JSON.parse(line) as [number, Record<string, unknown>];
        const k8s = record.kubernetes as Record<string, unknown> | undefined;
        if (typeof record.log !== "string" && typeof record.message !== "string") continue;
        const where = relative(corpusDir(), file);
        const wrapped = {
          ...record,
          ...(typeof record.log === "string" ? { log: `${sampleLine}\n` } : { message: sampleLine }),
        };
        const [doc] = normalizeOk(JSON.stringify(wrapped), where);
        expect(doc?.event.dataset, where).toBe("istio.access");
        expect(doc?.kubernetes, where).toEqual(kubernetesMetadata(k8s));
        expect(doc?.kubernetes?.pod?.name, where).toBe(k8s?.pod_name);
        expect(doc?.kubernetes?.namespace, where).toBe(k8s?.namespace_name);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });
});
