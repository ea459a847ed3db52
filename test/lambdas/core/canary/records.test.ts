import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  buildCanaryRecords,
  CANARY_DATASETS,
  CANARY_MARKER,
  CANARY_MARKER_FIELDS,
  CANARY_RULE_NAME,
  CANARY_SOURCES,
  type CanaryRecord,
  CanaryRecordError,
  canaryIdentity,
  canaryRunId,
  canaryTrustDomain,
} from "../../../../lambdas/core/canary/index.js";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../../../lambdas/core/normalize/index.js";
import { singleDetection } from "../../../../lambdas/core/rules/evaluator.js";
import { pathAccessor } from "../../../../lambdas/core/rules/fields.js";
import { defaultRulesDir, loadRulePack } from "../../../../lambdas/core/rules/load.js";
import { mergeDetections } from "../../../../lambdas/core/rules/suppression.js";
import type { RulePack, SingleEventRule } from "../../../../lambdas/core/rules/types.js";

const NOW = Date.parse("2026-03-02T14:00:00.123Z");
const RUN_ID = canaryRunId(NOW, "3f9a1c");
const identity = canaryIdentity(RUN_ID);
const records = buildCanaryRecords({ runId: RUN_ID, nowMs: NOW });
let pack: RulePack;

beforeAll(async () => {
  pack = await loadRulePack([defaultRulesDir()]);
});

function documentOf(record: CanaryRecord): EcsDocument {
  const normalized = normalizeRecord(record.data);
  if (!normalized.ok) throw new Error(`${record.source}: ${normalized.reason}`);
  expect(normalized.documents).toHaveLength(1);
  return normalized.documents[0] as EcsDocument;
}

/** Every value at a dotted path (arrays flattened), as strings. */
function valuesAt(document: EcsDocument, path: string): string[] {
  const values: string[] = [];
  pathAccessor(path)(document, (value) => {
    if (typeof value === "string") values.push(value);
    return false;
  });
  return values;
}

describe("canary run ids and names", () => {
  it("builds the run id from the UTC start time and the entropy", () => {
    expect(RUN_ID).toBe("20260302-140000-3f9a1c");
  });

  it("names the pods, node and user agent after the marker and the run", () => {
    expect(identity).toEqual({
      runId: RUN_ID,
      namespace: "mesh-audit-trail-canary",
      pod: "mesh-audit-trail-canary-20260302-140000-3f9a1c",
      clientPod: "mesh-audit-trail-canary-client-20260302-140000-3f9a1c",
      node: "mesh-audit-trail-canary-node-20260302-140000-3f9a1c",
      userAgent: "mesh-audit-trail-canary/20260302-140000-3f9a1c",
    });
    // Kubernetes object names: at most 63 characters, lower-case alphanumerics and '-'.
    for (const name of [identity.pod, identity.clientPod, identity.node]) {
      expect(name).toMatch(/^[a-z0-9-]{1,63}$/);
    }
  });

  it("refuses a run id or entropy of another shape", () => {
    expect(() => canaryIdentity("run 1")).toThrow(CanaryRecordError);
    expect(() => canaryRunId(NOW, "XYZ")).toThrow(/6 lower-case hex characters/);
  });

  it("takes the first trust domain without wildcards, cluster.local by default", () => {
    expect(canaryTrustDomain(["*.example.com", "prod.example.com"])).toBe("prod.example.com");
    expect(canaryTrustDomain(undefined)).toBe("cluster.local");
  });
});

describe("canary records", () => {
  it("has one record per source type, in order, each normalizing to its data set at the run's time", () => {
    expect(records.map((record) => record.source)).toEqual([...CANARY_SOURCES]);
    for (const record of records) {
      const document = documentOf(record);
      expect(document.event.dataset, record.source).toBe(CANARY_DATASETS[record.source]);
      expect(record.dataset).toBe(CANARY_DATASETS[record.source]);
      expect(document.event.id, record.source).toBe(record.eventId);
      expect(document["@timestamp"], record.source).toBe("2026-03-02T14:00:00.123Z");
    }
  });

  it("puts the marker in each source's marker fields and names the run's client", () => {
    for (const record of records) {
      const document = documentOf(record);
      for (const path of CANARY_MARKER_FIELDS[record.source]) {
        const values = valuesAt(document, path);
        expect(values.length, `${record.source} ${path}`).toBeGreaterThan(0);
        expect(
          values.every((value) => value.includes(CANARY_MARKER)),
          `${record.source} ${path}: ${values}`,
        ).toBe(true);
      }
      const client =
        record.source === "hubble" ? document.mesh?.source?.workload : document.user_agent?.original;
      expect(client, record.source).toBe(
        record.source === "hubble" ? identity.clientPod : identity.userAgent,
      );
    }
  });

  it("wraps each record as the project's Fluent Bit pipeline ships it, newline-terminated", () => {
    for (const record of records) {
      expect(record.data.endsWith("}\n"), record.source).toBe(true);
      const envelope = JSON.parse(record.data) as Record<string, unknown>;
      expect(typeof envelope.log, record.source).toBe("string");
      // Added by the pipeline's modify filter and the output's time key.
      expect(envelope, record.source).toMatchObject({
        cluster_name: CANARY_MARKER,
        "@timestamp": "2026-03-02T14:00:00.123Z",
      });
      if (record.source === "hubble" || record.source === "k8s-audit") {
        // A line of a file on the node (the Hubble exporter's, the API server's audit log): no container metadata.
        expect(Object.keys(envelope), record.source).toEqual(["log", "cluster_name", "@timestamp"]);
      } else {
        expect(envelope, record.source).toMatchObject({
          stream: record.source === "linkerd" ? "stderr" : "stdout",
          _p: "F",
          kubernetes: { pod_name: identity.pod, namespace_name: CANARY_MARKER, host: identity.node },
        });
      }
    }
  });

  it("describes a request with mutual TLS answered 200, so no mesh rule takes it for an anomaly", () => {
    const mesh = records.filter((record) => record.source !== "k8s-audit").map(documentOf);
    for (const document of mesh.filter((d) => d.mesh?.name !== "cilium")) {
      expect(document.mesh?.mtls, document.event.dataset).toBe(true);
      expect(document.http?.response?.status_code).toBe(200);
    }
  });

  it("gives the Linkerd client an identity of the trust domain it is told", () => {
    const [, linkerd] = buildCanaryRecords({ runId: RUN_ID, nowMs: NOW, trustDomain: "prod.example.com" });
    expect(documentOf(linkerd as CanaryRecord).mesh?.source).toMatchObject({
      namespace: CANARY_MARKER,
      trust_domain: "prod.example.com",
    });
  });

  it("differs from run to run, so two runs never share a document id or a client", () => {
    const other = buildCanaryRecords({ runId: canaryRunId(NOW, "000001"), nowMs: NOW });
    for (const [index, record] of records.entries()) {
      const ours = documentOf(record);
      const theirs = documentOf(other[index] as CanaryRecord);
      expect(theirs.event.id).not.toBe(ours.event.id);
      expect(theirs.user_agent?.original ?? theirs.mesh?.source?.workload).not.toBe(
        ours.user_agent?.original ?? ours.mesh?.source?.workload,
      );
    }
  });
});

describe("the pipeline_canary rule", () => {
  it("fires on each canary record after normalization, and on no other alerting rule", () => {
    const alerting = new Set(pack.rules.filter((rule) => rule.generatesAlerts).map((rule) => rule.name));
    for (const record of records) {
      const matched = pack.matchSingleEvent(documentOf(record));
      expect(matched, record.source).toContain(CANARY_RULE_NAME);
      expect(
        matched.filter((name) => name !== CANARY_RULE_NAME && alerting.has(name)),
        record.source,
      ).toEqual([]);
    }
  });

  it("folds a run's records into two alerts for the ops topic: by the client's user agent, and Hubble's by workload", () => {
    const rule = pack.get(CANARY_RULE_NAME) as SingleEventRule;
    const detections = mergeDetections(records.map((record) => singleDetection(rule, documentOf(record))));
    expect(detections.map((detection) => [detection.groupBy, detection.count])).toEqual([
      [{ "user_agent.original": identity.userAgent }, 4],
      [{ "mesh.source.workload": identity.clientPod }, 1],
    ]);
    expect(rule).toMatchObject({ level: "low", topic: "ops" });
  });

  it("fires on none of the bundled incident's records", async () => {
    const dir = join(defaultRulesDir(), "..", "examples", "incident");
    let checked = 0;
    for (const file of await readdir(dir)) {
      const lines = (await readFile(join(dir, file), "utf8"))
        .split("\n")
        .filter((line) => line.trim() !== "");
      for (const [index, line] of lines.entries()) {
        const normalized = normalizeRecord(line);
        if (!normalized.ok) throw new Error(`${file}:${index + 1}: ${normalized.reason}`);
        for (const document of normalized.documents) {
          expect(pack.matchSingleEvent(document), `${file}:${index + 1}`).not.toContain(CANARY_RULE_NAME);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });
});
