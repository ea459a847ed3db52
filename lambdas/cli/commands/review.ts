/**
 * `audit-trail review --since 7d [-c env=NAME | FILE|DIR…] [--html FILE] [--markdown FILE] [--json]`: the weekly
 * review a reviewer signs off (`lambdas/core/review`). From files, the alerts are replay's (the default rule pack,
 * correlations included, with `--overrides`), so the review shows what the detector would have raised; from an
 * environment, the alerts index with each alert's state.
 */

import { writeFile } from "node:fs/promises";
import { buildAlert } from "../../core/alerts/index.js";
import { SigningKeyError } from "../../core/digest/signer.js";
import type { EcsDocument } from "../../core/ecs.js";
import { normalizeRecord } from "../../core/normalize/index.js";
import {
  ReviewBuilder,
  type ReviewReport,
  renderReviewHtml,
  renderReviewMarkdown,
  reviewRelevant,
} from "../../core/review/index.js";
import { type Detection, defaultRulesDir, RuleError } from "../../core/rules/index.js";
import { type ReplayRecord, replay } from "../../core/rules/replay.js";
import { EnvironmentAccessError } from "../indices-errors.js";
import { InputError, readLines } from "../input.js";
import { sinceMs, untilInstant } from "../trail.js";
import {
  checkOutputFolder,
  ENVIRONMENT_OPTIONS,
  environmentOrFiles,
  parseVerbArgs,
  runVerb,
} from "../usage.js";
import type { VerbModule } from "./command.js";
import { expandInputs, replayRulePack } from "./replay.js";

const USAGE = `usage: audit-trail review [--since 7d] [-c env=NAME | FILE|DIR...] [--html FILE] [--markdown FILE] [--json]
                            [--until TIME] [--environment NAME] [--overrides FILE]

The weekly review a reviewer signs off: alerts by rule and severity with their state, exec sessions, changes to
mesh security and RBAC resources (who, what, when, and the change where the audit level recorded it), the
identities with the most denied requests, new service edges (first seen in the period), the posture against the
previous period, pipeline health, and a sign-off section. Markdown on stdout unless --markdown or --json.

  FILE|DIR...          log files or archived documents (every file below a DIR; plain or gzip); the alerts are
                       those 'replay' raises over them (the default rule pack, correlations included); the period
                       ends at the files' last event (or --until)
  -c env=NAME          read the environment's indices instead (alerts with their state from the alerts index);
                       needs the stack's outputs (CloudFormation) and an OpenSearch role that reads them
  --since DURATION     the period's length (default 7d); the previous period of the same length is the comparison
  --until TIME         the period's end (ISO 8601; default: the files' last event, or now)
  --html FILE          also write the report as one self-contained HTML page that prints on A4
  --markdown FILE      write the markdown to FILE instead of stdout
  --json               the report as one JSON object on stdout
  --environment NAME   the environment named in the report for files (default: local)
  --overrides FILE     per-environment rule overrides for the replayed alerts (JSON, as 'replay --overrides')`;

export interface ReviewArgs {
  readonly environment?: string;
  readonly label: string;
  readonly inputs: readonly string[];
  readonly sinceMs: number;
  readonly until?: string;
  readonly htmlFile?: string;
  readonly markdownFile?: string;
  readonly json: boolean;
  readonly overridesFile?: string;
  readonly region?: string;
}

export function parseReviewArgs(argv: readonly string[]): ReviewArgs | "help" {
  const parsed = parseVerbArgs(
    argv,
    {
      ...ENVIRONMENT_OPTIONS,
      since: { type: "string" },
      until: { type: "string" },
      html: { type: "string" },
      markdown: { type: "string" },
      json: { type: "boolean" },
      environment: { type: "string" },
      overrides: { type: "string" },
      region: { type: "string" },
    },
    { positionals: true },
  );
  if (parsed === "help") return "help";
  const { positionals } = parsed;
  const values: Record<string, string | boolean | string[] | undefined> = parsed.values;
  const environment = environmentOrFiles(
    { context: values.context as string[] | undefined, env: values.env as string | undefined },
    positionals,
  );
  const str = (key: string): string | undefined => values[key] as string | undefined;
  return {
    ...(environment === undefined ? {} : { environment }),
    label: environment ?? str("environment") ?? "local",
    inputs: positionals,
    sinceMs: sinceMs(str("since") ?? "7d"),
    ...(str("until") === undefined ? {} : { until: untilInstant(str("until") as string) }),
    ...(str("html") === undefined ? {} : { htmlFile: str("html") }),
    ...(str("markdown") === undefined ? {} : { markdownFile: str("markdown") }),
    json: values.json === true,
    ...(str("overrides") === undefined ? {} : { overridesFile: str("overrides") }),
    ...(str("region") === undefined ? {} : { region: str("region") }),
  };
}

/** The review of files: replay's alerts, and the documents the review reads. */
export async function reviewFromFiles(
  args: ReviewArgs,
  err: { write(text: string): boolean },
): Promise<{ report: ReviewReport; rejected: number }> {
  const pack = replayRulePack([defaultRulesDir()], args.overridesFile);
  const files = await expandInputs(args.inputs);
  const kept: EcsDocument[] = [];
  const detections: Detection[] = [];
  let shown = 0;
  const reasons = new Map<string, number>();
  const onRejected = (record: ReplayRecord, reason: string): void => {
    const short = reason.split(":")[0] ?? reason;
    reasons.set(short, (reasons.get(short) ?? 0) + 1);
    if (shown++ < 20) err.write(`${record.file}:${record.line}: ${reason}\n`);
  };
  const normalize = (text: string): ReturnType<typeof normalizeRecord> => {
    const result = normalizeRecord(text, { trustDocuments: true });
    if (result.ok)
      for (const doc of result.documents) {
        const relevant = reviewRelevant(doc);
        if (relevant !== undefined) kept.push(relevant);
      }
    return result;
  };
  const summary = await replay(
    files.map((file) => readLines([file])),
    pack,
    normalize,
    (detection) => detections.push(detection),
    { allowedLatenessMs: 120_000, onRejected },
  );
  if (shown > 20) err.write(`… and ${shown - 20} more unparseable records\n`);
  const until = args.until ?? summary.lastEvent ?? new Date().toISOString();
  const since = new Date(Date.parse(until) - args.sinceMs).toISOString();
  const builder = new ReviewBuilder({
    since,
    until,
    environment: args.label,
    source: `files: ${args.inputs.join(", ")}`,
  });
  for (const doc of kept) builder.add(doc);
  for (const detection of detections)
    builder.addAlert(buildAlert(detection, { environment: args.label }), "replayed");
  const report = builder.report({
    errorRecords: {
      count: summary.rejected,
      basis:
        summary.rejected === 0
          ? `every record of the ${files.length} file(s) parsed`
          : `records of the files that could not be parsed: ${[...reasons].map(([reason, n]) => `${reason} ${n}`).join(", ")}`,
    },
    digestChain: {
      status: "not checked",
      detail: "files carry no digest chain: run 'audit-trail verify' on the archive the files came from",
    },
  });
  return { report, rejected: summary.rejected };
}

export async function writeReview(
  args: ReviewArgs,
  report: ReviewReport,
  out: { write(text: string): boolean },
  err: { write(text: string): boolean },
): Promise<void> {
  if (args.htmlFile !== undefined) {
    await writeFile(args.htmlFile, renderReviewHtml(report));
    err.write(`audit-trail review: wrote ${args.htmlFile}\n`);
  }
  if (args.json) out.write(`${JSON.stringify(report, null, 2)}\n`);
  if (args.markdownFile !== undefined) {
    await writeFile(args.markdownFile, renderReviewMarkdown(report));
    err.write(`audit-trail review: wrote ${args.markdownFile}\n`);
  } else if (!args.json) out.write(renderReviewMarkdown(report));
}

export async function runReview(
  args: ReviewArgs,
  out: { write(text: string): boolean },
  err: { write(text: string): boolean },
): Promise<number> {
  if (args.htmlFile !== undefined) await checkOutputFolder("--html", args.htmlFile);
  if (args.markdownFile !== undefined) await checkOutputFolder("--markdown", args.markdownFile);
  if (args.environment !== undefined) {
    const { reviewFromEnvironment } = await import("../indices.js");
    const report = await reviewFromEnvironment(args, err);
    await writeReview(args, report, out, err);
    return 0;
  }
  const { report, rejected } = await reviewFromFiles(args, err);
  await writeReview(args, report, out, err);
  return rejected > 0 ? 1 : 0;
}

export const command: VerbModule = {
  run: (argv) =>
    runVerb(
      {
        name: "review",
        usage: USAGE,
        parse: parseReviewArgs,
        run: (args) => runReview(args, process.stdout, process.stderr),
        userErrors: [InputError, RuleError, EnvironmentAccessError, SigningKeyError],
      },
      argv,
    ),
};
