/**
 * `npm run e2e [-- --keep]`: the end-to-end path of `test/e2e/` for a person. Synthesizes the cloud assembly (or
 * reuses a fresh one), starts a local OpenSearch node (or uses `OPENSEARCH_URL`), runs the real Fluent Bit
 * (`../shared/tools/fluent-bit/fluent-bit`, or `AUDIT_TRAIL_FLUENT_BIT`) on the shipped configuration through the
 * loopback stand-ins, the transform and detector bundles, prints each stage as it completes, then the checks and
 * the figures. With `--keep` the node is left running with the documents indexed, and its URL printed.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fluentBitBinary } from "../test/e2e/pipeline/fluent-bit.js";
import { startPipeline } from "../test/e2e/pipeline/pipeline.js";
import { INTERVALS, runEndToEnd, verdicts } from "../test/e2e/run.js";

const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== "--keep");
if (unknown.length > 0) {
  console.error(`npm run e2e: unknown argument ${unknown.join(" ")}; usage: npm run e2e [-- --keep]`);
  process.exit(2);
}
const keep = args.includes("--keep");
const binary = fluentBitBinary();
const external = process.env.OPENSEARCH_URL ?? "";
const missing = [
  "missing" in binary ? binary.missing : undefined,
  external === "" && spawnSync("java", ["-version"], { stdio: "ignore" }).status !== 0
    ? "Java 17 for the OpenSearch node (or OPENSEARCH_URL)"
    : undefined,
].filter((m): m is string => m !== undefined);
if (missing.length > 0) {
  console.error(`npm run e2e needs ${missing.join(" and ")}`);
  process.exit(1);
}

const started = Date.now();
const stage = (line: string) =>
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}`);
const workDir = mkdtempSync(join(tmpdir(), "audit-trail-e2e-"));
stage(`work folder ${workDir} (Fluent Bit, transform and detector logs; the staging bucket)`);
stage(
  `shortened intervals: Fluent Bit flush ${INTERVALS.flushSeconds} s, tail refresh ${INTERVALS.refreshIntervalSeconds} s, retries ${INTERVALS.schedulerBaseSeconds}-${INTERVALS.schedulerCapSeconds} s; processor buffer ${INTERVALS.processorBufferMs / 1000} s; detector every ${INTERVALS.detectorEveryMs / 1000} s`,
);
const pipeline = await startPipeline({
  workDir,
  processorBuffer: { intervalMs: INTERVALS.processorBufferMs, sizeBytes: 1024 * 1024 },
  ...(external === "" ? {} : { nodeUrl: external, resetNode: true }),
  onStage: stage,
});
let failed = true;
try {
  const report = await runEndToEnd({
    pipeline,
    binary: (binary as { path: string }).path,
    workDir,
    outageMs: 60_000,
    onStage: stage,
  });
  console.log(`\n${report.fluentBitVersion}; ${((Date.now() - started) / 1000).toFixed(0)} s in all\n`);
  const results = verdicts(report);
  for (const { check, ok, detail } of results) console.log(`${ok ? "✓" : "✗"} ${check}: ${detail}`);
  failed = results.some((r) => !r.ok);
} finally {
  await pipeline.stop({ keepNode: keep });
}
if (keep) {
  const state = pipeline.node.stateDir;
  console.log(
    `\nThe node is still running with the documents indexed: ${pipeline.node.url}\n  curl '${pipeline.node.url}/audit-*/_search?q=event.dataset:kubernetes.audit&size=3&pretty'\n  curl '${pipeline.node.url}/audit-alerts/_search?pretty'${state === undefined ? "" : `\nStop it with: bash scripts/opensearch-node.sh stop ${state}`}`,
  );
}
process.exit(failed ? 1 : 0);
