/**
 * End to end on real parts: the real Fluent Bit binary running the shipped configuration → the Firehose API stand-in
 * → the transform bundle from the cloud assembly → the real OpenSearch node → the detector bundle on a shortened
 * schedule → the SNS stand-in (see `run.ts` for the phases and the shortened intervals). Runs when the Fluent Bit
 * binary and Java (for the node; or `OPENSEARCH_URL`) are present and skips with one line saying what is missing,
 * except in CI, where a missing part fails it. `npm run e2e` runs the same path for a person.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fluentBitBinary, OVERRIDABLE } from "./pipeline/fluent-bit.js";
import { type Pipeline, startPipeline } from "./pipeline/pipeline.js";
import { type EndToEndReport, EXPECTED_RULES, INTERVALS, runEndToEnd } from "./run.js";

const binary = fluentBitBinary();
const javaMissing =
  (process.env.OPENSEARCH_URL ?? "") === "" &&
  spawnSync("java", ["-version"], { stdio: "ignore" }).status !== 0;
const missing = [
  "missing" in binary ? binary.missing : undefined,
  javaMissing ? "Java 17 for the OpenSearch node (or OPENSEARCH_URL)" : undefined,
].filter((m): m is string => m !== undefined);
const inCi = process.env.CI === "true";
if (missing.length > 0 && !inCi) console.warn(`e2e skipped: it needs ${missing.join(" and ")}`);

describe.skipIf(missing.length > 0 && !inCi)(
  "end to end: Fluent Bit → Firehose → transform → OpenSearch → detector → SNS",
  () => {
    let pipeline: Pipeline | undefined;
    let report: EndToEndReport;

    beforeAll(async () => {
      if (missing.length > 0) throw new Error(`CI must provide ${missing.join(" and ")} (.ci/run)`);
      const workDir = mkdtempSync(join(tmpdir(), "audit-trail-e2e-"));
      const stages: string[] = [];
      const started = Date.now();
      const stage = (line: string) =>
        stages.push(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`);
      pipeline = await startPipeline({
        workDir,
        processorBuffer: { intervalMs: INTERVALS.processorBufferMs, sizeBytes: 1024 * 1024 },
        // A node of one's own (OPENSEARCH_URL) is a scratch node: its audit-* indices are deleted first.
        ...(process.env.OPENSEARCH_URL ? { nodeUrl: process.env.OPENSEARCH_URL, resetNode: true } : {}),
        onStage: stage,
      });
      report = await runEndToEnd({
        pipeline,
        binary: (binary as { path: string }).path,
        workDir,
        outageMs: 60_000,
        onStage: stage,
      });
      console.log(`e2e (work folder ${workDir}):\n${stages.join("\n")}`);
    });

    afterAll(async () => {
      await pipeline?.stop();
    });

    it("runs the shipped Fluent Bit configuration with only paths, endpoint, port, CA and intervals overridden", () => {
      const allowed = new Set(
        Object.entries(OVERRIDABLE).flatMap(([section, keys]) => keys.map((key) => `${section}.${key}`)),
      );
      expect(report.overridden.filter((key) => !allowed.has(key))).toEqual([]);
      expect(report.overridden).toContain("output.endpoint");
      expect(report.fluentBitVersion).toMatch(/^Fluent Bit v\d+\.\d+\.\d+/);
    });

    it("indexes every shipped line once, in the arrival day's index with its dataset, and none the filters drop", () => {
      const { accounting, delivery, firehose } = report.main;
      expect(accounting.problems).toEqual([]);
      expect(accounting.expectedDocuments).toBeGreaterThan(2000);
      expect(accounting.dropped).toBeGreaterThanOrEqual(5);
      expect(Object.keys(accounting.byDataset).sort()).toEqual([
        "cilium.flow",
        "consul.access",
        "istio.access",
        "kubernetes.audit",
        "linkerd.access",
      ]);
      // Every record Fluent Bit shipped was accepted once and processed once.
      expect(firehose.accepted).toBe(accounting.expectedDocuments + accounting.failed);
      expect(delivery.ok).toBe(accounting.expectedDocuments);
      expect(Object.values(delivery.indexed).reduce((a, b) => a + b, 0)).toBe(accounting.expectedDocuments);
    });

    it("writes every indexed document to the backup prefix and the refused line, raw, to the processing-failed prefix", () => {
      const { backupDocuments, delivery, processingFailedRecords, accounting } = report.main;
      expect(backupDocuments).toBe(delivery.ok);
      expect(processingFailedRecords).toHaveLength(accounting.failed);
      for (const raw of processingFailedRecords) {
        const record = JSON.parse(raw) as { log: string; kubernetes: { container_name: string } };
        expect(record.log).toContain('"GET /truncated');
        expect(record.kubernetes.container_name).toBe("istio-proxy");
      }
    });

    it("pages each of the incident's alerts once, on its severity's topic", () => {
      const { alertsByRule, alertTopics, detectorErrors } = report.main;
      expect(detectorErrors).toEqual([]);
      expect(Object.fromEntries(EXPECTED_RULES.map((rule) => [rule, alertsByRule[rule]]))).toEqual(
        Object.fromEntries(EXPECTED_RULES.map((rule) => [rule, 1])),
      );
      // Still once each after every later scheduled run of the whole test.
      expect(
        Object.fromEntries(EXPECTED_RULES.map((rule) => [rule, report.finalAlertsByRule[rule]])),
      ).toEqual(Object.fromEntries(EXPECTED_RULES.map((rule) => [rule, 1])));
      expect(alertTopics.k8s_pod_exec).toBe("high");
      expect(alertTopics.mesh_plaintext_traffic).toBe("high");
      expect(alertTopics.mesh_plaintext_suspected).toBe("low");
    });

    it("measures the latency from a line written to its alert published", () => {
      expect(report.latency).not.toHaveProperty("error");
      const latency = report.latency as { writtenToIndexedMs: number; writtenToPublishedMs: number };
      console.log(
        `latency (flush ${INTERVALS.flushSeconds} s, processor buffer ${INTERVALS.processorBufferMs / 1000} s, detector every ${INTERVALS.detectorEveryMs / 1000} s): written → indexed ${latency.writtenToIndexedMs} ms, written → alert published ${latency.writtenToPublishedMs} ms`,
      );
      expect(latency.writtenToPublishedMs).toBeGreaterThanOrEqual(latency.writtenToIndexedMs);
    });

    it("works with compression gzip, simple_aggregation on and another time_key", () => {
      for (const name of ["compression gzip", "simple_aggregation on", "time_key ts"]) {
        const option = report.options[name];
        expect(option?.accounting.problems, name).toEqual([]);
        expect(
          option?.documents.every((doc) => doc.pod !== undefined && doc.cluster !== undefined),
          name,
        ).toBe(true);
      }
    });

    it("reads compression zstd where the runtime can, and otherwise keeps the records raw with a reason naming the fix", () => {
      const zstd = report.options["compression zstd"];
      if (hasZstd()) {
        expect(zstd?.accounting.problems).toEqual([]);
      } else {
        expect(zstd?.documents).toEqual([]);
        expect(zstd?.errorOutput).toBe(zstd?.accounting.written);
        expect(zstd?.transformLog).toMatch(/"zstd":\s*\d+/);
      }
    });

    it("refuses log_key at start-up, naming why: the shipped configuration sets time_key, and the record is what carries the pod", () => {
      const option = report.options["log_key log"];
      expect(option?.refused).toMatch(/'time_key' and 'log_key' can not be used together/);
      expect(option?.documents).toEqual([]);
    });

    it("turns the audit webhook's EventList, through examples/fluent-bit/audit-webhook/, into one document per event", () => {
      const { webhook } = report;
      expect(webhook.status).toBe(200);
      expect(webhook.events).toBeGreaterThan(10);
      expect(webhook.accounting.problems).toEqual([]);
      expect(webhook.clusters).toEqual(["e2e-cluster"]);
      const allowed = new Set(
        Object.entries(OVERRIDABLE).flatMap(([section, keys]) => keys.map((key) => `${section}.${key}`)),
      );
      expect(webhook.overridden.filter((key) => !allowed.has(key))).toEqual([]);
    });

    it("loses nothing through a Firehose outage: the filesystem buffer holds, then every line arrives once", () => {
      expect(report.outage.outageRequests).toBeGreaterThan(0);
      expect(report.outage.accounting.problems).toEqual([]);
    });
  },
);

function hasZstd(): boolean {
  return typeof (zlib as { zstdDecompressSync?: unknown }).zstdDecompressSync === "function";
}
