/**
 * `audit-trail replay [--rules DIR]… [--json] FILE|DIR…`: parses and normalizes log files with the transform's
 * `normalizeRecord`, runs the default rule pack plus any `--rules` directories over them (single-event rules and
 * correlations, on event time, with suppression), and prints the alerts `buildAlert` makes of the detections:
 * the detector's code path, so the CLI and Lambda show the same alerts.
 */
import { readdir, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { Alert, AlertContext } from "../../core/alerts/index.js";
import { buildAlert, displayValue } from "../../core/alerts/index.js";
import { lazyPackagedGeoIp } from "../../core/geo/packaged.js";
import { normalizeRecord } from "../../core/normalize/index.js";
import {
  type Detection,
  defaultRulesDir,
  loadPack,
  OVERRIDES_KEY,
  parseDuration,
  RuleError,
  type RulePack,
  readOverridesFile,
  ruleFiles,
} from "../../core/rules/index.js";
import { type ReplayRecord, type ReplaySummary, replay } from "../../core/rules/replay.js";
import { renderIncidentPage, ServiceGraph } from "../html/incident.js";
import { InputError, readLines, totalBytes } from "../input.js";
import { type ProgressOptions, readProgress } from "../progress.js";
import { checkOutputFolder, parseVerbArgs, runVerb, UsageError } from "../usage.js";
import type { VerbModule } from "./command.js";

const USAGE = `usage: audit-trail replay [--rules DIR]... [--json] [--html FILE] [options] FILE|DIR...

Parses and normalizes the files (every file below a DIR; plain or gzip), runs the default rule pack and any
--rules directories over them, correlations included (on event time), and prints the alerts as a table, or
one JSON object per alert with --json, then a summary (on stderr with --json). Records that cannot be parsed
(or are longer than the 4 MiB maximum record size) are reported as 'file:line: reason' on stderr; as with
normalize, the exit status is then 1 (the alerts of every record that parsed are still printed).

options:
  --rules DIR          also load the rules below DIR (repeatable)
  --no-default-rules   do not load the bundled rules/ pack
  --overrides FILE     per-environment rule overrides (JSON, see docs/rules.md); default: the JSON in the
                       environment variable AUDIT_TRAIL_RULE_OVERRIDES, as the pipeline's functions read it
  --environment NAME   environment name shown in alerts (default: local)
  --lateness DURATION  how late (event time) a record may arrive and still be correlated (default: 2m)
  --json               NDJSON alerts on stdout
  --html FILE          also write the incident as one self-contained HTML page: a timeline of the alerts and
                       their evidence per rule and per identity, each alert with its evidence, the graph of who
                       called what (the calls in alerts highlighted), rule and runbook links`;

export interface ReplayArgs {
  ruleDirs: string[];
  defaultRules: boolean;
  overridesFile?: string;
  environment: string;
  latenessMs: number;
  json: boolean;
  /** Where to write the incident page. */
  htmlFile?: string;
  inputs: string[];
}

const OPTIONS = {
  rules: { type: "string", multiple: true },
  "no-default-rules": { type: "boolean" },
  overrides: { type: "string" },
  environment: { type: "string" },
  lateness: { type: "string" },
  json: { type: "boolean" },
  html: { type: "string" },
} as const;

/** Parses the verb's arguments; throws `UsageError`. */
export function parseReplayArgs(argv: readonly string[]): ReplayArgs | "help" {
  const parsed = parseVerbArgs(argv, OPTIONS, { positionals: true });
  if (parsed === "help") return "help";
  const { values, positionals } = parsed;
  let latenessMs = 120_000;
  if (values.lateness !== undefined) {
    try {
      latenessMs = parseDuration(values.lateness);
    } catch {
      throw new UsageError(`--lateness: '${values.lateness}' is not a duration (e.g. 2m)`);
    }
  }
  const args: ReplayArgs = {
    ruleDirs: values.rules ?? [],
    defaultRules: values["no-default-rules"] !== true,
    environment: values.environment ?? "local",
    latenessMs,
    json: values.json === true,
    inputs: positionals,
    ...(values.overrides === undefined ? {} : { overridesFile: values.overrides }),
    ...(values.html === undefined ? {} : { htmlFile: values.html }),
  };
  if (args.inputs.length === 0) throw new UsageError("no input files");
  if (!args.defaultRules && args.ruleDirs.length === 0)
    throw new UsageError("--no-default-rules needs at least one --rules DIR");
  return args;
}

/** Expands directories into their files (recursively, sorted); files and `-` pass through. */
export async function expandInputs(inputs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    if (input === "-") {
      files.push(input);
      continue;
    }
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(input);
    } catch {
      throw new InputError(`${input}: no such file or directory`);
    }
    if (!info.isDirectory()) {
      files.push(input);
      continue;
    }
    const entries = await readdir(input, { recursive: true, withFileTypes: true });
    const found = entries
      .filter((entry) => entry.isFile() && !entry.name.startsWith("."))
      .map((entry) => join(entry.parentPath, entry.name))
      .sort();
    if (found.length === 0) throw new InputError(`${input}: directory holds no files`);
    files.push(...found);
  }
  return files;
}

function cell(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

function tableHeader(): string {
  return `${cell("TIME (UTC)", 20)} ${cell("SEVERITY", 13)} ${cell("RULE", 36)} ${"COUNT".padStart(5)}  WHAT\n`;
}

/** One alert as table rows: a headline and indented who/from/to/details/runbook lines, every value on one line. */
export function formatAlertRow(alert: Alert): string {
  const time = alert["@timestamp"].replace("T", " ").replace(/\.\d+Z$|Z$/, "");
  const lines = [
    `${cell(time, 20)} ${cell(alert.severity, 13)} ${cell(displayValue(alert.rule.name), 36)} ${String(alert.count).padStart(5)}  ${displayValue(alert.summary.what)}`,
  ];
  const indent = " ".repeat(22);
  const parts = [
    alert.summary.who === undefined ? undefined : `who: ${displayValue(alert.summary.who)}`,
    alert.summary.from === undefined ? undefined : `from: ${displayValue(alert.summary.from)}`,
    alert.summary.to === undefined ? undefined : `to: ${displayValue(alert.summary.to)}`,
  ].filter((part): part is string => part !== undefined);
  if (parts.length > 0) lines.push(`${indent}${parts.join("  ")}`);
  const details = alert.details.map(
    (detail) => `${displayValue(detail.label)}: ${displayValue(detail.value)}`,
  );
  if (details.length > 0) lines.push(`${indent}${details.join("  ")}`);
  lines.push(`${indent}runbook: ${displayValue(alert.links.runbook ?? alert.rule.runbook)}`);
  return `${lines.join("\n")}\n`;
}

function formatSummary(
  summary: ReplaySummary,
  files: number,
  severities: Record<string, number>,
  seconds: number,
): string {
  const mb = summary.bytes / 1_000_000;
  const lines = [
    `replayed ${files} file(s): ${summary.records} records (${mb.toFixed(2)} MB in ${seconds.toFixed(2)} s), ${summary.documents} documents, ${summary.rejected} unparseable, ${summary.late} too late to correlate`,
  ];
  if (summary.firstEvent !== undefined)
    lines.push(`event time ${summary.firstEvent} .. ${summary.lastEvent}`);
  const bySeverity = Object.entries(severities)
    .map(([severity, count]) => `${severity} ${count}`)
    .join(", ");
  lines.push(`alerts: ${summary.alerts}${summary.alerts === 0 ? "" : ` (${bySeverity})`}`);
  for (const [rule, count] of Object.entries(summary.alertsByRule).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  ${rule.padEnd(40)} ${count}`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * The pack `replay` and `review` run: the rule files of `dirs` with the overrides of `--overrides FILE` (errors name
 * the file and the key within it), else those of the environment variable the pipeline's functions read.
 */
export function replayRulePack(dirs: readonly string[], overridesFile: string | undefined): RulePack {
  if (overridesFile === undefined) {
    return loadPack({ source: ruleFiles(dirs), overrides: process.env[OVERRIDES_KEY] });
  }
  const flag = `--overrides ${overridesFile}`;
  return loadPack({
    source: ruleFiles(dirs),
    overrides: readOverridesFile(overridesFile, flag),
    overridesFrom: flag,
  });
}

/** Runs a replay with parsed arguments, writing to the given streams; resolves to the exit status. */
export async function runReplay(
  args: ReplayArgs,
  out: { write(text: string): boolean },
  err: { write(text: string): boolean },
  progressOptions: ProgressOptions = {},
): Promise<number> {
  if (args.htmlFile !== undefined) await checkOutputFolder("--html", args.htmlFile);
  const dirs = [...(args.defaultRules ? [defaultRulesDir()] : []), ...args.ruleDirs];
  const pack = replayRulePack(dirs, args.overridesFile);
  const files = await expandInputs(args.inputs);
  const context: AlertContext = {
    environment: args.environment,
    geo: lazyPackagedGeoIp((message) => err.write(`audit-trail replay: ${message}\n`)),
  };
  const severities: Record<string, number> = {};
  let shownRejections = 0;
  if (!args.json) out.write(tableHeader());
  // NDJSON streams alerts as they become final; the table is sorted by time at the end (alerts are few).
  const table: Alert[] = [];
  const graph = args.htmlFile === undefined ? undefined : new ServiceGraph();
  const onAlert = (detection: Detection): void => {
    const alert = buildAlert(detection, context);
    severities[alert.severity] = (severities[alert.severity] ?? 0) + 1;
    if (args.json) out.write(`${JSON.stringify(alert)}\n`);
    if (!args.json || graph !== undefined) table.push(alert);
  };
  const progress = readProgress("replay", await totalBytes(files), progressOptions);
  const onRejected = (record: ReplayRecord, reason: string): void => {
    if (shownRejections++ >= 20) return;
    progress.done(); // the progress line, if drawn, makes way (and is redrawn on the next update)
    err.write(`${record.file}:${record.line}: ${reason}\n`);
  };
  const started = process.hrtime.bigint();
  let bytesRead = 0;
  let records = 0;
  const onRead = (bytes: number): void => {
    bytesRead += bytes;
  };
  const streams = files.map((file) => readLines([file], { onRead }));
  const normalize = (text: string): ReturnType<typeof normalizeRecord> => {
    if ((++records & 255) === 0) progress.update({ records, bytes: bytesRead });
    // The operator chose these files (the archive, Firehose's error output): finished documents pass through.
    const result = normalizeRecord(text, { trustDocuments: true });
    if (graph !== undefined && result.ok) for (const doc of result.documents) graph.add(doc);
    return result;
  };
  let summary: ReplaySummary;
  try {
    summary = await replay(streams, pack, normalize, onAlert, {
      allowedLatenessMs: args.latenessMs,
      ...(context.geo === undefined ? {} : { geo: context.geo }),
      onRejected,
    });
  } finally {
    progress.done();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  table.sort(
    (a, b) => a["@timestamp"].localeCompare(b["@timestamp"]) || a.rule.name.localeCompare(b.rule.name),
  );
  if (!args.json) for (const alert of table) out.write(formatAlertRow(alert));
  if (args.htmlFile !== undefined && graph !== undefined) {
    const ruleFiles = Object.fromEntries(
      pack.rules.map((rule) => [rule.name, relative(process.cwd(), rule.source)]),
    );
    await writeFile(
      args.htmlFile,
      renderIncidentPage({
        alerts: table,
        graph,
        files,
        records: summary.records,
        ruleFiles,
        ...(summary.firstEvent === undefined ? {} : { firstEvent: summary.firstEvent }),
        ...(summary.lastEvent === undefined ? {} : { lastEvent: summary.lastEvent }),
      }),
    );
    err.write(`audit-trail replay: wrote ${args.htmlFile}\n`);
  }
  if (shownRejections > 20) err.write(`… and ${shownRejections - 20} more unparseable records\n`);
  const text = formatSummary(summary, files.length, severities, seconds);
  if (args.json) err.write(text);
  else out.write(`\n${text}`);
  return summary.rejected > 0 ? 1 : 0;
}

export const command: VerbModule = {
  run: (argv) =>
    runVerb(
      {
        name: "replay",
        usage: USAGE,
        parse: parseReplayArgs,
        run: (args) => runReplay(args, process.stdout, process.stderr),
        userErrors: [RuleError, InputError],
      },
      argv,
    ),
};
