/**
 * What the scheduled review function decides, pure: the period it reviews, where the reports go, how the pipeline's
 * health reads from the archive (error records, the verified digest chain), and the short summary it publishes.
 */
import { ARCHIVE_PREFIXES } from "../contracts.js";
import { digestKey } from "../digest/format.js";
import { formatFinding, type VerifyReport } from "../digest/verify.js";
import type { PipelineHealth, ReviewReport } from "./build.js";

export const REVIEW_PERIOD_MS = 7 * 86_400_000;

/** The week that ended at the scheduled time, to the minute (a retried invocation reviews the same week). */
export function reviewPeriod(scheduledTime: string): { since: string; until: string } {
  const ms = Date.parse(scheduledTime);
  if (Number.isNaN(ms)) throw new Error(`scheduled event: time is not ISO 8601: ${scheduledTime}`);
  const until = Math.floor(ms / 60_000) * 60_000;
  return { since: new Date(until - REVIEW_PERIOD_MS).toISOString(), until: new Date(until).toISOString() };
}

/** `reports/weekly/2026-03-09/review.<ext>` for the week ending on that day. */
export function weeklyReportKey(until: string, extension: "json" | "md" | "html"): string {
  return `${ARCHIVE_PREFIXES.reports}weekly/${until.slice(0, 10)}/review.${extension}`;
}

/** The hourly error prefixes Firehose writes in `[since, until)` (`errors/<type>/yyyy/MM/dd/HH/`), one per day. */
export function errorDayPrefixes(since: string, until: string): string[] {
  const out: string[] = [];
  const day = 86_400_000;
  for (let ms = Math.floor(Date.parse(since) / day) * day; ms < Date.parse(until); ms += day) {
    const [date = ""] = new Date(ms).toISOString().split("T");
    const path = date.replaceAll("-", "/");
    for (const prefix of [ARCHIVE_PREFIXES.processingFailed, ARCHIVE_PREFIXES.deliveryFailed])
      out.push(`${prefix}${path}/`);
  }
  return out;
}

/** Error records from the listing of the error prefixes: objects written in the period. */
export function errorRecordsOf(
  objects: readonly { key: string; lastModifiedMs: number }[],
  since: string,
  until: string,
): PipelineHealth["errorRecords"] {
  const from = Date.parse(since);
  const to = Date.parse(until);
  const inPeriod = objects.filter((o) => o.lastModifiedMs >= from && o.lastModifiedMs < to);
  const processing = inPeriod.filter((o) => o.key.startsWith(ARCHIVE_PREFIXES.processingFailed)).length;
  const byReason: Record<string, number> = {};
  for (const { key } of inPeriod) {
    // `errors/<reason>/yyyy/MM/dd/HH/…`
    const reason = key.split("/")[1] ?? key;
    byReason[reason] = (byReason[reason] ?? 0) + 1;
  }
  return {
    count: inPeriod.length,
    byReason,
    basis: `objects under ${ARCHIVE_PREFIXES.processingFailed} (${processing}) and ${ARCHIVE_PREFIXES.deliveryFailed} (${inPeriod.length - processing}) of the archive written in the period; each holds the records Firehose could not transform or deliver`,
  };
}

/** The digest chain as `audit-trail verify` found it for the period (`verifyArchive` over the archive). */
export function digestChainOfVerify(
  report: VerifyReport,
  since: string,
  until: string,
): PipelineHealth["digestChain"] {
  const periods =
    report.firstPeriodStart === undefined
      ? ""
      : `, periods ${report.firstPeriodStart} to ${report.lastPeriodEnd}`;
  if (report.findings.length === 0)
    return {
      status: "verified",
      detail: `audit-trail verify for ${since} .. ${until}: ${report.digestsChecked} digests${periods}, signatures, links and continuity verified; ${report.objectsChecked} objects' size and SHA-256 match; ${report.pending.length} newer than the last sealed period`,
    };
  const shown = report.findings.slice(0, 3).map(formatFinding).join("; ");
  return {
    status: "failed",
    detail: `audit-trail verify for ${since} .. ${until}: ${report.findings.length} finding(s) in ${report.digestsChecked} digests and ${report.objectsChecked} objects: ${shown}${report.findings.length > 3 ? "; …" : ""}; see docs/runbooks/pipeline_source_silent.md and run audit-trail verify for the list`,
  };
}

/** The day prefixes of `digests/` covering the period. */
export function digestDayPrefixes(since: string, until: string): string[] {
  const out = new Set<string>();
  for (let ms = Date.parse(since); ms < Date.parse(until); ms += 3_600_000) {
    const key = digestKey(ms);
    out.add(key.slice(0, key.lastIndexOf("/") + 1));
  }
  return [...out];
}

/** `reports/quarterly/2026-04-01/compliance.md` for the report made on that day. */
export function quarterlyReportKey(at: string): string {
  return `${ARCHIVE_PREFIXES.reports}quarterly/${at.slice(0, 10)}/compliance.md`;
}

/** The weekly reviews stored in the quarter before `at` (92 days), as the evidence of weekly review. */
export function storedReviewsSection(keys: readonly string[], at: string): string {
  const from = new Date(Date.parse(at) - 92 * 86_400_000).toISOString().slice(0, 10);
  const to = at.slice(0, 10);
  const reviews = keys
    .map((key) => /^reports\/weekly\/(\d{4}-\d\d-\d\d)\/review\.html$/.exec(key))
    .filter((m): m is RegExpExecArray => m !== null && (m[1] as string) >= from && (m[1] as string) <= to)
    .map((m) => `- ${m[1]}: \`${m[0]}\` (with \`review.md\` and \`review.json\`)`)
    .sort();
  const weeks = Math.floor(92 / 7);
  return [
    "",
    "## Evidence: audit logs reviewed weekly",
    "",
    `The weekly reviews stored under ${ARCHIVE_PREFIXES.reports}weekly/ of the Object Lock archive from ${from} to ${to}: ${reviews.length} of about ${weeks} weeks.`,
    "",
    ...(reviews.length === 0 ? ["_none stored: the weekly review did not run in this quarter_"] : reviews),
    "",
  ].join("\n");
}

/** The ops topic's message: a subject and a few lines with the link to the stored report. */
export function reviewSummary(
  report: ReviewReport,
  links: { readonly html: string; readonly markdown: string; readonly console: string },
): { subject: string; message: string } {
  const high = report.alertsByRule
    .filter((g) => g.severity === "critical" || g.severity === "high")
    .reduce((n, g) => n + g.alerts, 0);
  const lines = [
    `Weekly audit review for ${report.environment}, ${report.since} .. ${report.until}: ready for sign-off.`,
    "",
    `Alerts: ${report.alerts.length} (${high} high or critical) in ${report.alertsByRule.length} rule(s)`,
    `Exec sessions: ${report.execSessions.length}`,
    `Changes to mesh security and RBAC: ${report.changes.length}`,
    `New service edges: ${report.newEdges.length}`,
    `Posture changes: ${report.postureChanges.length}`,
    `Silent sources: ${report.pipeline.silentSources.length}; error records: ${report.pipeline.errorRecords.count}; digest chain: ${report.pipeline.digestChain.status}`,
    "",
    `Report (HTML, prints on A4): ${links.html}`,
    `Markdown: ${links.markdown}`,
    `Console: ${links.console}`,
  ];
  return {
    subject: `[REVIEW] ${report.environment}: weekly audit review ${report.until.slice(0, 10)}`.slice(0, 99),
    message: lines.join("\n"),
  };
}
