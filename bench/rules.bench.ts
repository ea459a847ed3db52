/**
 * Rule engine benchmark.
 *
 * - engine: single-event evaluation (`pack.matchSingleEvent`, what the transform runs per record) of the default
 *   pack plus SigmaHQ's 16 Kubernetes audit rules over a mix of normalized mesh and audit documents, events/s on
 *   one core (target >= 1 M);
 * - evaluator: the same documents through the in-memory correlation evaluator (windows, groups), events/s;
 * - replay: `audit-trail replay`'s path (line reader, `normalizeRecord`, rules, correlations, suppression, alert
 *   building) over a generated file: the bundled incident repeated with shifted timestamps, written to the OS temp
 *   directory (not the repository) and deleted afterwards. Size: `AUDIT_TRAIL_BENCH_REPLAY_MB` (default 1024).
 *   Reports MB/s (target >= 50) and peak RSS, and RSS growth between 10% and 100% of the file (flat = bounded).
 *
 * Rates are per CPU second of this process (`process.cpuUsage`), i.e. per core: on a shared machine wall-clock rates
 * mostly measure the neighbours. The replay's wall-clock rate is reported too.
 */
import { createWriteStream, existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readLines } from "../lambdas/cli/input.js";
import { buildAlert } from "../lambdas/core/alerts/index.js";
import type { EcsDocument } from "../lambdas/core/ecs.js";
import { normalizeRecord } from "../lambdas/core/normalize/index.js";
import { loadRulePack, StreamEvaluator } from "../lambdas/core/rules/index.js";
import { replay } from "../lambdas/core/rules/replay.js";
import type { BenchResult } from "./run.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const incidentDir = join(root, "examples", "incident");

/** The SigmaHQ rules of the shared corpus, when it is there (`AUDIT_TRAIL_CORPUS` or `../shared/corpus`). */
function sigmaDir(): string | undefined {
  const dir = join(
    process.env.AUDIT_TRAIL_CORPUS ?? join(root, "..", "shared", "corpus"),
    "k8s_audit",
    "rules_reference",
    "sigma",
  );
  return existsSync(dir) ? dir : undefined;
}

/** Falco's k8s audit trace files of the shared corpus, normalized (none when the corpus is not there). */
function falcoTraceDocs(): EcsDocument[] {
  const dir = join(
    process.env.AUDIT_TRAIL_CORPUS ?? join(root, "..", "shared", "corpus"),
    "k8s_audit",
    "falco_trace_files",
  );
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith(".json") && !file.startsWith("labels_"))
    .flatMap((file) => readFileSync(join(dir, file), "utf8").split("\n"))
    .filter((line) => line.trim() !== "")
    .flatMap((line) => {
      const result = normalizeRecord(line);
      return result.ok ? result.documents : [];
    });
}

/** The incident's lines merged on time (the files are each in time order). */
async function incidentLines(): Promise<string[]> {
  const files = (await readdir(incidentDir)).sort();
  const lines: { time: number; text: string }[] = [];
  for (const file of files) {
    for (const text of (await readFile(join(incidentDir, file), "utf8")).split("\n")) {
      if (text.trim() === "") continue;
      const result = normalizeRecord(text);
      const time =
        result.ok && result.documents[0] !== undefined ? Date.parse(result.documents[0]["@timestamp"]) : 0;
      lines.push({ time, text });
    }
  }
  return lines.sort((a, b) => a.time - b.time).map((line) => line.text);
}

/** CPU seconds (user + system) of this process since `since`. */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

const STAMP = /2026-03-02T(\d\d):(\d\d):(\d\d)/g;
const BLOCK_MS = 15 * 60_000;

/** Writes the incident repeated, each copy shifted 15 minutes later, until `bytes`; returns the bytes written. */
async function generate(path: string, lines: readonly string[], bytes: number): Promise<number> {
  const out = createWriteStream(path);
  const base = Date.parse("2026-03-02T00:00:00Z");
  let written = 0;
  for (let block = 0; written < bytes; block++) {
    const offset = block * BLOCK_MS;
    let chunk = "";
    for (const line of lines) {
      chunk += `${line.replace(STAMP, (_, h: string, m: string, s: string) => {
        const shifted = new Date(base + ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000 + offset);
        return shifted.toISOString().slice(0, 19);
      })}\n`;
    }
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  return written;
}

export default async function bench(): Promise<BenchResult> {
  const sigma = sigmaDir();
  const pack = await loadRulePack(sigma === undefined ? [join(root, "rules")] : [join(root, "rules"), sigma]);
  const lines = await incidentLines();
  const docs: EcsDocument[] = lines.flatMap((line) => {
    const result = normalizeRecord(line);
    return result.ok ? result.documents : [];
  });

  // Engine: single-event matching over ~1 M events per round after a warm-up round; the best of 3 rounds.
  let matched = 0;
  const passes = Math.max(1, Math.round(1_000_000 / docs.length));
  let engineRate = 0;
  let cpu = process.cpuUsage();
  for (let round = 0; round < 4; round++) {
    cpu = process.cpuUsage();
    for (let i = 0; i < passes; i++) for (const doc of docs) matched += pack.matchSingleEvent(doc).length;
    const rate = (passes * docs.length) / cpuSeconds(cpu);
    if (round > 0) engineRate = Math.max(engineRate, rate);
  }

  // Engine on Kubernetes audit documents only (the incident's audit log, plus Falco's trace files when the corpus
  // is there): where the Kubernetes rules do their work, since the mix above is mostly mesh traffic.
  const traceDocs = falcoTraceDocs();
  const auditDocs = [...docs.filter((doc) => doc.event?.dataset === "kubernetes.audit"), ...traceDocs];
  let auditMatched = 0;
  const auditPasses = Math.max(1, Math.round(300_000 / Math.max(1, auditDocs.length)));
  let auditRate = 0;
  for (let round = 0; round < 4; round++) {
    cpu = process.cpuUsage();
    for (let i = 0; i < auditPasses; i++)
      for (const doc of auditDocs) auditMatched += pack.matchSingleEvent(doc).length;
    const rate = (auditPasses * auditDocs.length) / cpuSeconds(cpu);
    if (round > 0) auditRate = Math.max(auditRate, rate);
  }

  // Evaluator: single-event plus correlations, on event time (the same documents, shifted per pass).
  const evaluator = new StreamEvaluator(pack, { allowedLatenessMs: 120_000 });
  const evaluatorPasses = Math.max(1, Math.round(300_000 / docs.length));
  let detections = 0;
  cpu = process.cpuUsage();
  for (let i = 0; i < evaluatorPasses; i++) {
    for (const doc of docs) {
      const shifted = {
        ...doc,
        "@timestamp": new Date(Date.parse(doc["@timestamp"]) + i * BLOCK_MS).toISOString(),
      };
      detections += evaluator.push(shifted).length;
    }
  }
  detections += evaluator.finish().length;
  const evaluatorRate = (evaluatorPasses * docs.length) / cpuSeconds(cpu);

  // Replay over a generated file.
  const megabytes = Number(process.env.AUDIT_TRAIL_BENCH_REPLAY_MB ?? "1024");
  if (!Number.isFinite(megabytes) || megabytes <= 0) {
    throw new Error(
      `AUDIT_TRAIL_BENCH_REPLAY_MB must be a positive number of megabytes, got '${process.env.AUDIT_TRAIL_BENCH_REPLAY_MB}'`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "audit-trail-replay-bench-"));
  const file = join(dir, "replay.log");
  try {
    await generate(file, lines, megabytes * 1_000_000);
    const size = (await stat(file)).size;
    global.gc?.();
    let peakRss = process.memoryUsage().rss;
    let rssAtTenPercent = 0;
    let alerts = 0;
    let bytesSeen = 0;
    const sample = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 50);
    const context = { environment: "bench" };
    // Progress is counted in the normalizer, which sees every record once: a wrapping generator would add an
    // await per record that the CLI does not pay.
    const start = performance.now();
    cpu = process.cpuUsage();
    const summary = await replay(
      [readLines([file])],
      pack,
      (text) => {
        bytesSeen += text.length + 1;
        if (rssAtTenPercent === 0 && bytesSeen >= size / 10) rssAtTenPercent = process.memoryUsage().rss;
        return normalizeRecord(text);
      },
      (detection) => {
        alerts++;
        JSON.stringify(buildAlert(detection, context));
      },
    );
    const replaySeconds = cpuSeconds(cpu);
    const replayWallSeconds = (performance.now() - start) / 1000;
    clearInterval(sample);
    const rssAtEnd = process.memoryUsage().rss;
    peakRss = Math.max(peakRss, rssAtEnd);
    const replayRate = size / 1_000_000 / replaySeconds;
    return {
      engineEventsPerSecond: {
        value: Math.round(engineRate),
        unit: "events/s/core",
        target: ">= 1000000",
        meetsTarget: engineRate >= 1_000_000,
      },
      engineAuditEventsPerSecond: {
        value: Math.round(auditRate),
        unit: `events/s/core on ${auditDocs.length} Kubernetes audit documents (incident${traceDocs.length > 0 ? " + Falco traces" : ""})`,
      },
      engineAuditMatchesPerPass: {
        value: auditMatched / (4 * auditPasses),
        unit: "matches per pass over the Kubernetes audit documents",
      },
      engineRules: {
        value: pack.singleEventRules.length,
        unit: `single-event rules (default pack${sigma === undefined ? "; SigmaHQ corpus not found" : " + 16 SigmaHQ"})`,
      },
      engineMatchesPerPass: { value: matched / (4 * passes), unit: "matches per pass over the mix" },
      evaluatorEventsPerSecond: {
        value: Math.round(evaluatorRate),
        unit: "events/s/core (with correlations)",
      },
      evaluatorDetections: { value: detections, unit: "detections" },
      replayMegabytesPerSecond: {
        value: replayRate,
        unit: "MB/s per core",
        target: ">= 50",
        meetsTarget: replayRate >= 50,
      },
      replayWallMegabytesPerSecond: { value: size / 1_000_000 / replayWallSeconds, unit: "MB/s wall clock" },
      replayFileMegabytes: { value: size / 1_000_000, unit: "MB" },
      replayDocuments: { value: summary.documents, unit: "documents" },
      replayAlerts: { value: alerts, unit: "alerts" },
      replayPeakRssMegabytes: { value: peakRss / 1_000_000, unit: "MB" },
      replayRssGrowthMegabytes: {
        value: (rssAtEnd - rssAtTenPercent) / 1_000_000,
        unit: "MB (from 10% to 100% of the file)",
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
