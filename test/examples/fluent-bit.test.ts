/**
 * The Fluent Bit examples: the Helm values and the plain configuration carry the same pipeline, every property is
 * one its plugin knows, the files it reads and writes are mounted, each proxy's access-log lines get through and
 * its own diagnostics do not, and the output ships what the stack expects within Firehose's limits.
 */
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { environmentConfigSchema } from "../../lib/config/schema.js";
import {
  asMap,
  FIREHOSE_MAX_RECORD_BYTES,
  type FluentBitPipeline,
  inputFor,
  loadFluentBitExamples,
  matchesTag,
  type PluginSection,
  parseSize,
  property,
  readExample,
  referencedEnv,
  shipFile,
  tagFor,
} from "./fluent-bit-pipeline.js";

const { plain, helm, helmValues } = loadFluentBitExamples();
const SHIPPING_DOC = readFileSync(fileURLToPath(new URL("../../docs/shipping.md", import.meta.url)), "utf8");
const ENV = {
  AUDIT_TRAIL_DELIVERY_STREAM: "audit-trail-test",
  AUDIT_TRAIL_REGION: "eu-west-1",
  AUDIT_TRAIL_CLUSTER_NAME: "prod-eu-1",
};
const CONTAINER_ID = "a".repeat(64);
const containerFile = (pod: string, namespace: string, container: string) =>
  `/var/log/containers/${pod}_${namespace}_${container}-${CONTAINER_ID}.log`;
const PODS = {
  "payments/ledger-7d9f": {
    pod_id: "0b5c0c1e-1111-2222-3333-444455556666",
    host: "ip-10-0-1-20.eu-west-1.compute.internal",
    pod_ip: "10.0.1.35",
    labels: { app: "ledger" },
    container_image: "docker.io/istio/proxyv2:1.24.2",
    container_hash: "sha256:1234",
  },
};
const RUN = { env: ENV, pods: PODS, readAt: new Date("2025-03-04T10:00:01.000Z") };
const cri = (stream: "stdout" | "stderr", line: string) =>
  `2025-03-04T10:00:00.123456789Z ${stream} F ${line}`;

/** A pipeline section as a comparable value: the plugin and its properties, sorted. */
function comparable(pipeline: FluentBitPipeline) {
  const sorted = (properties: PluginSection["properties"]) =>
    [...properties].sort(([a], [b]) => a.localeCompare(b));
  return {
    service: sorted(pipeline.service),
    inputs: pipeline.inputs.map((s) => sorted(s.properties)),
    filters: pipeline.filters.map((s) => sorted(s.properties)),
    outputs: pipeline.outputs.map((s) => sorted(s.properties)),
  };
}

describe("the Helm values and the plain configuration", () => {
  it("carry the same service settings, inputs, filters and output, in the same order", () => {
    expect(comparable(helm)).toEqual(comparable(plain));
  });

  it("would differ if one side changed a single value (the comparison is not vacuous)", () => {
    const drifted = plain.service.map(([key, value]) => [key, key === "flush" ? "1" : value] as const);
    expect(comparable({ ...plain, service: drifted })).not.toEqual(comparable(helm));
  });
});

/** Options of each plugin we use, from the Fluent Bit manual and the plugins' config maps. */
const KNOWN_OPTIONS: Record<string, readonly string[]> = {
  service: [
    "flush",
    "grace",
    "log_level",
    "http_server",
    "http_listen",
    "http_port",
    "health_check",
    "storage.path",
    "storage.sync",
    "storage.checksum",
    "storage.backlog.mem_limit",
    "storage.max_chunks_up",
    "scheduler.base",
    "scheduler.cap",
  ],
  tail: [
    "name",
    "alias",
    "tag",
    "path",
    "exclude_path",
    "multiline.parser",
    "db",
    "db.locking",
    "db.sync",
    "read_from_head",
    "refresh_interval",
    "rotate_wait",
    "buffer_chunk_size",
    "buffer_max_size",
    "skip_long_lines",
    "storage.type",
    "mem_buf_limit",
  ],
  grep: ["name", "alias", "match", "match_regex", "regex", "exclude", "logical_op"],
  kubernetes: [
    "name",
    "alias",
    "match",
    "match_regex",
    "kube_url",
    "kube_tag_prefix",
    "merge_log",
    "merge_log_key",
    "keep_log",
    "k8s-logging.parser",
    "k8s-logging.exclude",
    "labels",
    "annotations",
    "buffer_size",
    "use_kubelet",
  ],
  modify: ["name", "alias", "match", "match_regex", "add", "set", "rename", "remove"],
  kinesis_firehose: [
    "name",
    "alias",
    "match",
    "match_regex",
    "region",
    "delivery_stream",
    "time_key",
    "time_key_format",
    "log_key",
    "role_arn",
    "endpoint",
    "sts_endpoint",
    "external_id",
    "compression",
    "auto_retry_requests",
    "profile",
    "retry_limit",
    "storage.total_limit_size",
    "workers",
  ],
};

describe("every property is one its plugin knows (a typo would be ignored or refused by Fluent Bit)", () => {
  it.each([
    ["plain", plain],
    ["helm", helm],
  ] as const)("%s", (_, pipeline) => {
    const unknown: string[] = [];
    for (const [key] of pipeline.service)
      if (!KNOWN_OPTIONS.service?.includes(key)) unknown.push(`service: ${key}`);
    for (const section of [...pipeline.inputs, ...pipeline.filters, ...pipeline.outputs]) {
      const known = KNOWN_OPTIONS[section.name];
      if (known === undefined) unknown.push(`${section.where}: plugin ${section.name}`);
      for (const [key] of section.properties)
        if (!known?.includes(key)) unknown.push(`${section.where}: ${key}`);
    }
    expect(unknown).toEqual([]);
  });
});

describe("inputs", () => {
  it("tail the proxies' containers, the Hubble exporter file and the audit log, and nothing else", () => {
    const aliasOf = (path: string) => {
      const input = inputFor(plain, path);
      return input === undefined ? undefined : property(input, "alias");
    };
    expect(aliasOf(containerFile("productpage-v1-6b7", "shop", "istio-proxy"))).toBe("mesh_proxies");
    expect(aliasOf(containerFile("istio-ingressgateway-5c9", "istio-system", "istio-proxy"))).toBe(
      "mesh_proxies",
    );
    expect(aliasOf(containerFile("books-7f8", "booksapp", "linkerd-proxy"))).toBe("mesh_proxies");
    expect(aliasOf(containerFile("payments-0", "default", "consul-dataplane"))).toBe("mesh_proxies");
    expect(aliasOf("/var/run/cilium/hubble/events.log")).toBe("hubble_flows");
    expect(aliasOf("/var/log/kubernetes/audit/audit.log")).toBe("kube_apiserver_audit");
    expect(aliasOf(containerFile("productpage-v1-6b7", "shop", "productpage"))).toBeUndefined();
    expect(aliasOf(containerFile("fluent-bit-x2x", "logging", "fluent-bit"))).toBeUndefined();
  });

  it("buffer records on disk and keep their file positions across restarts", () => {
    expect(property({ properties: plain.service }, "storage.path")).toMatch(/^\/var\/fluent-bit\/state\//);
    for (const input of plain.inputs) {
      expect(property(input, "storage.type"), input.where).toBe("filesystem");
      expect(property(input, "db"), input.where).toMatch(/^\/var\/fluent-bit\/state\/.+\.db$/);
      expect(property(input, "skip_long_lines"), input.where).toBe("true");
    }
  });

  it("give each proxy's files a tag its grep filters and the kubernetes filter select", () => {
    const kubernetes = plain.filters.find((f) => f.name === "kubernetes") as PluginSection;
    const grepsFor = (tag: string) =>
      plain.filters.filter((f) => f.name === "grep" && matchesTag(f, tag)).map((f) => property(f, "alias"));
    const cases = [
      ["istio-proxy", ["istio_access_lines", "istio_not_agent_json"]],
      ["linkerd-proxy", ["linkerd_access_lines"]],
      ["consul-dataplane", ["consul_access_lines"]],
    ] as const;
    for (const [container, greps] of cases) {
      const path = containerFile("app-1", "shop", container);
      const tag = tagFor(property(inputFor(plain, path) as PluginSection, "tag") as string, path);
      expect(grepsFor(tag), container).toEqual(greps);
      expect(matchesTag(kubernetes, tag), container).toBe(true);
      expect(tag.startsWith(property(kubernetes, "kube_tag_prefix") as string), container).toBe(true);
    }
    for (const path of ["/var/run/cilium/hubble/events.log", "/var/log/kubernetes/audit/audit.log"]) {
      const tag = tagFor(property(inputFor(plain, path) as PluginSection, "tag") as string, path);
      expect(grepsFor(tag), path).toEqual([]);
      expect(matchesTag(kubernetes, tag), path).toBe(false);
      expect(
        plain.outputs.filter((o) => matchesTag(o, tag)),
        path,
      ).toHaveLength(1);
    }
  });
});

describe("grep filters: access-log lines leave the node, the proxies' own diagnostics do not", () => {
  const ship = (container: string, lines: string[]) =>
    shipFile(plain, containerFile("ledger-7d9f", "payments", container), lines, RUN).map((o) =>
      o.outcome === "filtered" ? `filtered by ${o.by}` : o.outcome,
    );

  it("istio-proxy: JSON and TEXT access logs ship; pilot-agent and Envoy diagnostics are filtered", () => {
    expect(
      ship("istio-proxy", [
        cri("stdout", '{"timestamp":"2025-03-04T10:00:00.120Z","method":"GET","response_code":200}'),
        cri("stdout", '[2025-03-04T10:00:00.120Z] "GET /health HTTP/1.1" 200 - via_upstream - "-" 0 2 1 0'),
        cri("stderr", "2025-03-04T10:00:00.100000Z\tinfo\txdsproxy\tconnected to upstream XDS server"),
        cri(
          "stdout",
          '{"level":"info","time":"2025-03-04T10:00:00.1Z","scope":"ads","msg":"ADS: new connection"}',
        ),
        cri(
          "stderr",
          "[2025-03-04 10:00:00.000][15][warning][config] [grpc_stream.h:191] gRPC config stream closed",
        ),
      ]),
    ).toEqual([
      "shipped",
      "shipped",
      "filtered by istio_access_lines",
      "filtered by istio_not_agent_json",
      "filtered by istio_access_lines",
    ]);
  });

  it("linkerd-proxy: stderr (access log) ships, stdout (the proxy's own log) is filtered", () => {
    expect(
      ship("linkerd-proxy", [
        cri("stderr", '{"client.addr":"10.0.1.7:51000","client.id":"-","method":"GET","status":200}'),
        cri(
          "stdout",
          "[     0.002345s]  INFO ThreadId(01) linkerd2_proxy: release 2.210.0 (b8a5f32) by linkerd",
        ),
      ]),
    ).toEqual(["shipped", "filtered by linkerd_access_lines"]);
  });

  it("consul-dataplane: Envoy's JSON access log ships; dataplane JSON and Envoy text diagnostics are filtered", () => {
    expect(
      ship("consul-dataplane", [
        cri("stdout", '{"authority":"ledger","bytes_received":0,"start_time":"2025-03-04T10:00:00.120Z"}'),
        cri("stdout", '{"@level":"info","@message":"started","@module":"consul-dataplane"}'),
        cri("stderr", "[2025-03-04 10:00:00.000][1][info][main] [source/server/server.cc:404] initializing"),
      ]),
    ).toEqual(["shipped", "filtered by consul_access_lines", "filtered by consul_access_lines"]);
  });
});

describe("the kinesis_firehose output", () => {
  const output = plain.outputs[0] as PluginSection;

  it("is the only output and takes every record", () => {
    expect(plain.outputs.map((o) => [o.name, property(o, "match")])).toEqual([["kinesis_firehose", "*"]]);
  });

  it("ships to the stream and region from the stack's outputs, with the pod's own credentials", () => {
    const reference = (name: string) => `\${${name}}`;
    expect(property(output, "delivery_stream")).toBe(reference("AUDIT_TRAIL_DELIVERY_STREAM"));
    expect(property(output, "region")).toBe(reference("AUDIT_TRAIL_REGION"));
    // The producer role trusts the service account (IRSA / Pod Identity), not itself: assuming it again would fail.
    expect(property(output, "role_arn")).toBeUndefined();
  });

  it("sends whole records, one document each: no log_key, no per-record compression, no aggregation", () => {
    expect(property(output, "log_key")).toBeUndefined();
    expect(property(output, "compression")).toBeUndefined();
    expect(property(output, "simple_aggregation")).toBeUndefined();
    expect(property(output, "time_key")).toBe("@timestamp");
  });

  it("retries until the batch goes through, with a bounded disk buffer", () => {
    expect(property(output, "retry_limit")).toBe("no_limits");
    expect(parseSize(property(output, "storage.total_limit_size") ?? "", "total_limit_size")).toBeGreaterThan(
      0,
    );
  });

  it("keeps a line of each input's largest size, however quote-dense, within one Firehose record", () => {
    for (const input of plain.inputs) {
      const max = parseSize(property(input, "buffer_max_size") ?? "", input.where);
      const proxies = property(input, "alias") === "mesh_proxies";
      const file = proxies
        ? containerFile("ledger-7d9f", "payments", "istio-proxy")
        : (property(input, "path") as string);
      const prefix = proxies ? cri("stdout", "") : "";
      // `"k":"v",` is half quotes: each one grows by its escaping backslash inside the shipped JSON string.
      const body = '"k":"v",'.repeat(Math.floor((max - prefix.length - 32) / 8));
      const line = `${prefix}{${body}"end":1}`;
      const [outcome] = shipFile(plain, file, [line], RUN);
      expect(outcome?.outcome, input.where).toBe("shipped");
      if (outcome?.outcome === "shipped")
        expect(outcome.bytes, input.where).toBeLessThanOrEqual(FIREHOSE_MAX_RECORD_BYTES);
    }
  });
});

describe("the DaemonSet (Helm values and plain manifest)", () => {
  const manifests = parseAllDocuments(readExample("fluent-bit/daemonset.yaml")).map(
    (d) => d.toJS() as Record<string, unknown>,
  );
  const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
  const daemonSet = asMap(byKind("DaemonSet")[0], "daemonset.yaml DaemonSet");
  const podSpec = asMap(asMap(asMap(daemonSet.spec, "spec").template, "template").spec, "pod spec");
  const container = asMap((podSpec.containers as unknown[])[0], "container");
  const producer = environmentConfigSchema.shape.producer.parse(undefined);

  it("runs as the service account the stack's producer role trusts", () => {
    expect(asMap(helmValues.serviceAccount, "serviceAccount")).toMatchObject({
      create: true,
      name: producer.serviceAccountName,
    });
    expect(byKind("ServiceAccount").map((m) => m.metadata)).toEqual([
      { name: producer.serviceAccountName, namespace: producer.namespace },
    ]);
    expect(podSpec.serviceAccountName).toBe(producer.serviceAccountName);
    expect(SHIPPING_DOC).toContain(`--namespace ${producer.namespace}`);
  });

  it("reads every variable the pipeline references from the audit-trail-shipping ConfigMap the guide creates", () => {
    const names = referencedEnv(plain);
    expect(names).toEqual(Object.keys(ENV).sort());
    expect(helmValues.envFrom).toEqual([{ configMapRef: { name: "audit-trail-shipping" } }]);
    expect(container.envFrom).toEqual([{ configMapRef: { name: "audit-trail-shipping" } }]);
    const create =
      /kubectl (?:-n \S+ )?create configmap audit-trail-shipping(?:[^\n]*\\\n)*[^\n]*/.exec(
        SHIPPING_DOC,
      )?.[0] ?? "";
    for (const name of names) expect(create, name).toContain(`--from-literal=${name}=`);
  });

  it("runs on every node, tainted or not, and is not evicted first", () => {
    for (const spec of [helmValues, podSpec]) {
      expect(spec.tolerations).toEqual([{ operator: "Exists" }]);
      expect(spec.priorityClassName).toBe("system-node-critical");
    }
  });

  it("mounts every file the pipeline reads read-only and its state directory writable", () => {
    const helmMounts =
      (helmValues.daemonSetVolumeMounts as { mountPath: string; readOnly?: boolean }[]) ?? [];
    const plainMounts = (container.volumeMounts as { mountPath: string; readOnly?: boolean }[]) ?? [];
    const reads = plain.inputs.flatMap((i) =>
      (property(i, "path") ?? "").split(",").map((p) => dirname(p.trim())),
    );
    const writes = [
      property({ properties: plain.service }, "storage.path") ?? "",
      ...plain.inputs.map((i) => dirname(property(i, "db") ?? "")),
    ];
    for (const mounts of [helmMounts, plainMounts]) {
      const mountFor = (path: string) =>
        mounts.find((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
      for (const path of reads) expect(mountFor(path)?.readOnly, path).toBe(true);
      for (const path of writes) expect(mountFor(path)?.readOnly ?? false, path).toBe(false);
    }
  });

  it("runs the same Fluent Bit image and the plain configuration kustomize mounts", () => {
    expect(container.image).toBe(`cr.fluentbit.io/fluent/fluent-bit:${asMap(helmValues.image, "image").tag}`);
    const kustomization = asMap(
      parseAllDocuments(readExample("fluent-bit/kustomization.yaml"))[0]?.toJS(),
      "kustomization",
    );
    expect(kustomization.resources).toEqual(["daemonset.yaml"]);
    expect(kustomization.configMapGenerator).toEqual([
      { name: "fluent-bit-config", namespace: producer.namespace, files: ["fluent-bit.yaml"] },
    ]);
    const configVolume = (podSpec.volumes as { name: string; configMap?: { name: string } }[]).find(
      (v) => v.configMap?.name === "fluent-bit-config",
    );
    const configMount = (container.volumeMounts as { name: string; mountPath: string }[]).find(
      (m) => m.name === configVolume?.name,
    );
    expect(container.args).toEqual(["-c", `${configMount?.mountPath}/fluent-bit.yaml`]);
  });
});
