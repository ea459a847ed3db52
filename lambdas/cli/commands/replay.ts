/**
 * `audit-trail replay [--rules DIR]… [--json] FILE|DIR…`: parses and normalizes log files with the transform's
 * `normalizeRecord`, runs the default rule pack plus any `--rules` directories over them (single-event rules and
 * correlations, on event time, with suppression), and prints the alerts `buildAlert` makes of the detections:
 * the detector's code path, so the CLI and Lambda show the same alerts.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Alert, AlertContext } from "../../core/alerts/index.js";
import { buildAlert, displayValue } from "../../core/alerts/index.js";
import type { CountryLookup } from "../../core/geo/index.js";
import { GeoIpDatabase } from "../../core/geo/index.js";
import { normalizeRecord } from "../../core/normalize/index.js";
import {
  type Detection,
  defaultRulesDir,
  loadRulePack,
  parseDuration,
  RuleError,
} from "../../core/rules/index.js";
import { type ReplayRecord, type ReplaySummary, replay } from "../../core/rules/replay.js";
import { InputError, readLines } from "../input.js";
import { UsageError, withUserErrors } from "../usage.js";
import type { Command } from "./command.js";

const USAGE = `usage: audit-trail replay [--rules DIR]... [--json] [options] FILE|DIR...

Parses and normalizes the files (every file below a DIR; plain or gzip), runs the default rule pack and any
--rules directories over them, correlations included (on event time), and prints the alerts as a table, or
one JSON object per alert with --json, then a summary (on stderr with --json).

options:
  --rules DIR          also load the rules below DIR (repeatable)
  --no-default-rules   do not load the bundled rules/ pack
  --overrides FILE     per-environment rule overrides (JSON, see docs/rules.md); default: $AUDIT_TRAIL_RULE_OVERRIDES
  --environment NAME   environment name shown in alerts (default: local)
  --lateness DURATION  how late (event time) a record may arrive and still be correlated (default: 2m)
  --json               NDJSON alerts on stdout`;

export interface ReplayArgs {
  ruleDirs: string[];
  defaultRules: boolean;
  overridesFile?: string;
  environment: string;
  latenessMs: number;
  json: boolean;
  inputs: string[];
}

/** Parses the verb's arguments; throws `UsageError`. */
export function parseReplayArgs(argv: readonly string[]): ReplayArgs | "help" {
  const args: ReplayArgs = {
    ruleDirs: [],
    defaultRules: true,
    environment: "local",
    latenessMs: 120_000,
    json: false,
    inputs: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    if (arg === "--help" || arg === "-h") return "help";
    if (arg === "--json") args.json = true;
    else if (arg === "--rules") args.ruleDirs.push(value());
    else if (arg === "--no-default-rules") args.defaultRules = false;
    else if (arg === "--overrides") args.overridesFile = value();
    else if (arg === "--environment") args.environment = value();
    else if (arg === "--lateness") {
      const text = value();
      try {
        args.latenessMs = parseDuration(text);
      } catch {
        throw new UsageError(`--lateness: '${text}' is not a duration (e.g. 2m)`);
      }
    } else if (arg.startsWith("-") && arg !== "-") throw new UsageError(`unknown option '${arg}'`);
    else args.inputs.push(arg);
  }
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

/** Looks countries up in the DB-IP database of `@ip-location-db/dbip-country`, loaded on first use. */
function lazyGeo(warn: (message: string) => void): CountryLookup {
  let database: GeoIpDatabase | undefined;
  let failed = false;
  return {
    country(ip) {
      if (database === undefined && !failed) {
        try {
          const dir = dirname(
            createRequire(import.meta.url).resolve("@ip-location-db/dbip-country/package.json"),
          );
          database = GeoIpDatabase.load(dir);
        } catch (error) {
          failed = true;
          warn(`countries unavailable: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return database?.country(ip);
    },
  };
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

/** Runs a replay with parsed arguments, writing to the given streams; resolves to the exit status. */
export async function runReplay(
  args: ReplayArgs,
  out: { write(text: string): boolean },
  err: { write(text: string): boolean },
): Promise<number> {
  const overrides =
    args.overridesFile === undefined
      ? process.env.AUDIT_TRAIL_RULE_OVERRIDES
      : await readFile(args.overridesFile, "utf8");
  const dirs = [...(args.defaultRules ? [defaultRulesDir()] : []), ...args.ruleDirs];
  const pack = await loadRulePack(dirs, overrides);
  const files = await expandInputs(args.inputs);
  const context: AlertContext = {
    environment: args.environment,
    geo: lazyGeo((message) => err.write(`audit-trail replay: ${message}\n`)),
  };
  const severities: Record<string, number> = {};
  let shownRejections = 0;
  if (!args.json) out.write(tableHeader());
  // NDJSON streams alerts as they become final; the table is sorted by time at the end (alerts are few).
  const table: Alert[] = [];
  const onAlert = (detection: Detection): void => {
    const alert = buildAlert(detection, context);
    severities[alert.severity] = (severities[alert.severity] ?? 0) + 1;
    if (args.json) out.write(`${JSON.stringify(alert)}\n`);
    else table.push(alert);
  };
  const onRejected = (record: ReplayRecord, reason: string): void => {
    if (shownRejections++ < 20) err.write(`${record.file}:${record.line}: ${reason}\n`);
  };
  const started = process.hrtime.bigint();
  const streams = files.map((file) => readLines([file]));
  const summary = await replay(streams, pack, (text) => normalizeRecord(text), onAlert, {
    allowedLatenessMs: args.latenessMs,
    onRejected,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  table.sort(
    (a, b) => a["@timestamp"].localeCompare(b["@timestamp"]) || a.rule.name.localeCompare(b.rule.name),
  );
  for (const alert of table) out.write(formatAlertRow(alert));
  if (shownRejections > 20) err.write(`… and ${shownRejections - 20} more unparseable records\n`);
  const text = formatSummary(summary, files.length, severities, seconds);
  if (args.json) err.write(text);
  else out.write(`\n${text}`);
  return 0;
}

export const command: Command = {
  summary: "run the rules, correlations included, over log files and print the alerts",
  async run(argv) {
    let args: ReplayArgs | "help";
    try {
      args = parseReplayArgs(argv);
    } catch (error) {
      if (error instanceof UsageError) {
        process.stderr.write(`audit-trail replay: ${error.message}\n\n${USAGE}\n`);
        return 2;
      }
      throw error;
    }
    if (args === "help") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    return withUserErrors("replay", [RuleError, InputError], () =>
      runReplay(args, process.stdout, process.stderr),
    );
  },
};
