/**
 * The Linkerd, Cilium and Consul examples: each turns on the log the transform reads, in the format it reads, where
 * the Fluent Bit example picks it up; and every YAML example parses.
 */
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../lambdas/core/normalize/index.js";
import { asMap, EXAMPLES_DIR, inputFor, loadFluentBitExamples, property } from "./fluent-bit-pipeline.js";
import { exampleDocuments, exampleOfKind, linkerdJsonLine } from "./mesh-examples.js";

function normalizeOne(line: string): EcsDocument {
  const result = normalizeRecord(line);
  if (!result.ok) throw new Error(result.reason);
  return result.documents[0] as EcsDocument;
}

describe("every YAML example parses", () => {
  const files = ["fluent-bit", "mesh"].flatMap((dir) =>
    readdirSync(join(EXAMPLES_DIR, dir), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => relative(EXAMPLES_DIR, join(EXAMPLES_DIR, dir, f))),
  );

  it("finds the Fluent Bit and mesh examples", () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
  });

  it.each(files)("%s", (file) => {
    expect(exampleDocuments(file).length).toBeGreaterThan(0);
  });
});

describe("Linkerd (namespace.yaml)", () => {
  const namespace = exampleOfKind("mesh/linkerd/namespace.yaml", "Namespace");
  const annotations = asMap(asMap(namespace.metadata, "metadata").annotations, "annotations");
  const jsonLine = (clientId: string) =>
    linkerdJsonLine(clientId, "http://ledger.payments:8080/api/v1/accounts/42");

  it("injects the proxy with JSON access logs and admits only authenticated clients", () => {
    expect(annotations).toEqual({
      "linkerd.io/inject": "enabled",
      "config.linkerd.io/access-log": "json",
      "config.linkerd.io/default-inbound-policy": "all-authenticated",
    });
  });

  it("the proxy's JSON line for a meshed client gives its identity and mTLS", () => {
    expect(
      normalizeOne(jsonLine("frontend.web.serviceaccount.identity.linkerd.cluster.local")).mesh,
    ).toMatchObject({
      name: "linkerd",
      mtls: true,
      source: { namespace: "web", service_account: "frontend" },
    });
  });

  it("the proxy's JSON line for an unmeshed client says plaintext", () => {
    const doc = normalizeOne(jsonLine("-"));
    expect(doc.event.dataset).toBe("linkerd.access");
    expect(doc.mesh?.mtls).toBe(false);
  });
});

describe("Cilium Hubble exporter (values.yaml)", () => {
  const hubble = asMap(exampleDocuments("mesh/cilium/values.yaml")[0]?.hubble, "hubble");
  const exporter = asMap(asMap(hubble.export, "hubble.export").static, "hubble.export.static");
  const fieldMask = exporter.fieldMask as string[];

  it("writes to the file the Fluent Bit example tails", () => {
    const input = inputFor(loadFluentBitExamples().plain, String(exporter.filePath));
    expect(exporter.enabled).toBe(true);
    expect(input === undefined ? undefined : property(input, "alias")).toBe("hubble_flows");
  });

  it("exports policy verdicts, drops and errors, and L7 records (JSON FlowFilters)", () => {
    const filters = (exporter.allowList as string[]).map((f) => JSON.parse(f) as Record<string, unknown>);
    expect(filters).toEqual([
      { event_type: [{ type: 5 }] },
      { verdict: ["DROPPED", "ERROR"] },
      { event_type: [{ type: 129 }] },
    ]);
    expect(exporter.denyList).toEqual([]);
  });

  /** An L7 flow with mutual authentication, and a policy drop: between them every field the transform reads. */
  const flows: Record<string, unknown>[] = [
    {
      time: "2025-03-04T10:00:00.123456789Z",
      uuid: "5f1c0a4e-0f0a-4c5e-9d1e-8a6b7c3e2f10",
      verdict: "FORWARDED",
      ethernet: { source: "aa:bb:cc:dd:ee:01", destination: "aa:bb:cc:dd:ee:02" },
      IP: { source: "10.0.1.7", destination: "10.0.1.35", ipVersion: "IPv4", encrypted: true },
      l4: { TCP: { source_port: 51000, destination_port: 8080 } },
      source: {
        ID: 101,
        identity: 12345,
        namespace: "web",
        labels: ["k8s:app=frontend", "k8s:io.cilium.k8s.policy.serviceaccount=frontend"],
        pod_name: "frontend-5d8",
        workloads: [{ name: "frontend", kind: "Deployment" }],
      },
      destination: {
        ID: 202,
        identity: 23456,
        namespace: "payments",
        labels: ["k8s:app=ledger"],
        pod_name: "ledger-7d9f",
      },
      Type: "L7",
      node_name: "prod-eu-1/ip-10-0-1-20",
      event_type: { type: 129 },
      source_service: { name: "frontend", namespace: "web" },
      destination_service: { name: "ledger", namespace: "payments" },
      traffic_direction: "INGRESS",
      trace_observation_point: "TO_ENDPOINT",
      is_reply: false,
      auth_type: "SPIRE",
      l7: {
        type: "RESPONSE",
        latency_ns: "1200000",
        http: {
          code: 200,
          method: "GET",
          url: "http://ledger.payments:8080/api/v1/accounts/42",
          protocol: "HTTP/1.1",
        },
      },
      Summary: "HTTP/1.1 200 1ms (GET http://ledger.payments:8080/api/v1/accounts/42)",
    },
    {
      time: "2025-03-04T10:00:01.000000000Z",
      verdict: "DROPPED",
      drop_reason: 133,
      drop_reason_desc: "POLICY_DENIED",
      IP: { source: "10.0.9.9", destination: "10.0.1.35", ipVersion: "IPv4" },
      l4: { TCP: { source_port: 40000, destination_port: 8080, flags: { SYN: true } } },
      source: { identity: 2, labels: ["reserved:world"] },
      destination: { identity: 23456, namespace: "payments", pod_name: "ledger-7d9f" },
      Type: "L3_L4",
      node_name: "prod-eu-1/ip-10-0-1-20",
      event_type: { type: 1, sub_type: 133 },
      traffic_direction: "INGRESS",
      auth_type: "DISABLED",
    },
  ];
  const masked = (flow: Record<string, unknown>, fields: readonly string[]) =>
    Object.fromEntries(Object.entries(flow).filter(([key]) => fields.includes(key)));
  /** The document without what depends on the raw text (event.original, event.id). */
  const meaning = (flow: Record<string, unknown>) => {
    const result = normalizeRecord(JSON.stringify(flow), { keepOriginal: false });
    if (!result.ok) return `rejected: ${result.reason}`;
    const doc = result.documents[0] as EcsDocument;
    const { id: _id, ...event } = doc.event;
    return { ...doc, event };
  };

  it("keeps every field the transform reads: masked flows normalize to the same documents", () => {
    for (const flow of flows) expect(meaning(masked(flow, fieldMask))).toEqual(meaning(flow));
  });

  it("keeps only fields the transform reads: leaving any one out changes a document", () => {
    for (const field of fieldMask) {
      const without = fieldMask.filter((f) => f !== field);
      const changed = flows.some(
        (flow) => JSON.stringify(meaning(masked(flow, without))) !== JSON.stringify(meaning(flow)),
      );
      expect(changed, field).toBe(true);
    }
  });
});

describe("Consul (proxy-defaults.yaml)", () => {
  const defaults = exampleOfKind("mesh/consul/proxy-defaults.yaml", "ProxyDefaults");
  const spec = asMap(defaults.spec, "spec");

  it("is the mesh-wide proxy-defaults entry", () => {
    expect(defaults.apiVersion).toBe("consul.hashicorp.com/v1alpha1");
    expect(asMap(defaults.metadata, "metadata").name).toBe("global");
  });

  it("logs every proxy's requests to stdout in Consul's default JSON format, listener logs included", () => {
    expect(spec.accessLogs).toEqual({ enabled: true, type: "stdout" });
  });

  it("requires mutual TLS", () => {
    expect(spec.mutualTLSMode).toBe("strict");
  });
});
