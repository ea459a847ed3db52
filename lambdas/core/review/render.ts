/**
 * The weekly review as markdown and as one self-contained HTML page (inline CSS, no script, no external
 * resource) that prints on A4: each section starts on a new printed page where it is long, tables wrap rather than
 * overflow, and the sign-off closes the report. Both are rendered from the same `ReviewReport`. Pure.
 */
import { formatAge, formatDeclared, formatShare } from "../posture/render.js";
import type { ReviewReport } from "./build.js";

function md(text: string | number | undefined): string {
  return String(text ?? "")
    .replace(/[|\\`*_[\]<>]/g, (c) => `\\${c}`)
    .replace(/[\r\n]+/g, " ");
}

function markdownTable({ headers, rows }: ReviewTable): string {
  if (rows.length === 0) return "_none_\n";
  return `| ${headers.join(" | ")} |\n|${headers.map(() => "---").join("|")}|\n${rows
    .map((row) => `| ${row.map(md).join(" | ")} |`)
    .join("\n")}\n`;
}

function states(states: Readonly<Record<string, number>>): string {
  return Object.entries(states)
    .map(([state, n]) => `${state} ${n}`)
    .join(", ");
}

type Cell = string | number | undefined;

/** One table of the review: its id (the HTML page's `data-table`), headers and rows. */
interface ReviewTable {
  readonly id: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
}

/** The review's tables, built once for both renderers. */
function reviewTables(report: ReviewReport) {
  const tableOf = (
    id: string,
    headers: readonly string[],
    rows: readonly (readonly Cell[])[],
  ): ReviewTable => ({
    id,
    headers,
    rows,
  });
  return {
    alertsByRule: tableOf(
      "alerts-by-rule",
      ["rule", "severity", "alerts", "events", "state"],
      report.alertsByRule.map((g) => [g.rule, g.severity, g.alerts, g.events, states(g.states)]),
    ),
    alerts: tableOf(
      "alerts",
      ["time", "rule", "severity", "state", "count", "what", "who"],
      report.alerts.map((a) => [a.time, a.rule, a.severity, a.state, a.count, a.what, a.who]),
    ),
    execs: tableOf(
      "exec-sessions",
      ["time", "who", "pod", "container", "command", "from"],
      report.execSessions.map((e) => [
        e.time,
        e.who,
        `${e.namespace ?? "?"}/${e.pod ?? "?"}`,
        e.container,
        e.command ?? `(${e.subresource}, no command in the request)`,
        e.sourceIp,
      ]),
    ),
    changes: tableOf(
      "changes",
      ["time", "who", "kind", "resource", "change"],
      report.changes.map((c) => [c.time, c.who, c.kind, c.resource, c.change]),
    ),
    denied: tableOf(
      "denied",
      ["identity", "where", "denied", "first", "last", "on"],
      report.deniedIdentities.map((d) => [
        d.identity,
        d.where,
        d.denied,
        d.first,
        d.last,
        d.targets.join(", "),
      ]),
    ),
    edges: tableOf(
      "new-edges",
      ["first seen", "from", "to", "requests"],
      report.newEdges.map((e) => [e.firstSeen, e.source, e.destination, e.requests]),
    ),
    postureChanges: tableOf(
      "posture-changes",
      ["cluster", "namespace", "change"],
      report.postureChanges.map((c) => [c.cluster, c.namespace, c.what]),
    ),
    namespaces: tableOf(
      "namespaces",
      ["cluster", "namespace", "declared", "observed", "services not covered"],
      report.posture.clusters.flatMap((c) =>
        c.namespaces.map((n) => [
          c.name,
          n.name,
          formatDeclared(n.declared),
          formatShare(n.traffic),
          n.services
            .filter((s) => s.authorization.status === "not covered")
            .map((s) => s.name)
            .join(", "),
        ]),
      ),
    ),
    certificates: tableOf(
      "certificates",
      ["identity", "oldest", "lifetime", "requests past rotation"],
      report.posture.certificates.map((c) => [
        c.principal,
        formatAge(c.maxAgeSeconds),
        formatAge(c.maxLifetimeSeconds),
        `${c.overdue} of ${c.requests}`,
      ]),
    ),
  };
}

export function renderReviewMarkdown(report: ReviewReport): string {
  const t = reviewTables(report);
  const parts: string[] = [];
  parts.push(`# ${report.title}\n\n`);
  parts.push(
    `Period ${report.since} .. ${report.until} (compared with ${report.previousSince} .. ${report.since}). Source: ${report.source}. Rests on ${report.basis.documents} documents and ${report.basis.alerts} alerts.\n`,
  );
  parts.push("\n## Alerts by rule and severity\n\n");
  parts.push(markdownTable(t.alertsByRule));
  parts.push("\n### Each alert\n\n");
  parts.push(markdownTable(t.alerts));
  parts.push("\n## Exec sessions\n\n");
  parts.push(markdownTable(t.execs));
  parts.push("\n## Changes to mesh security and RBAC\n\n");
  parts.push(markdownTable(t.changes));
  parts.push("\n## Top identities by denied requests\n\n");
  parts.push(markdownTable(t.denied));
  parts.push(
    `\n## New service edges\n\n${report.newEdges.length} new of ${report.edgesInPeriod} edges in the period (${report.edgesBasis}).\n\n`,
  );
  parts.push(markdownTable(t.edges));
  parts.push("\n## Posture\n\n### Changes since the previous period\n\n");
  parts.push(markdownTable(t.postureChanges));
  parts.push("\n### Namespaces now\n\n");
  parts.push(markdownTable(t.namespaces));
  if (report.posture.certificates.length > 0) {
    parts.push("\n### Peer certificates (oldest first)\n\n");
    parts.push(markdownTable(t.certificates));
  }
  parts.push("\n## Pipeline health\n\n");
  parts.push(
    `- Silent sources: ${report.pipeline.silentSources.length === 0 ? "none" : report.pipeline.silentSources.map(md).join("; ")}\n`,
  );
  parts.push(
    `- Error records: ${report.pipeline.errorRecords.count}${byReasonText(report.pipeline.errorRecords.byReason, md)} (${md(report.pipeline.errorRecords.basis)})\n`,
  );
  parts.push(
    `- Digest chain: ${report.pipeline.digestChain.status} (${md(report.pipeline.digestChain.detail)})\n`,
  );
  parts.push("\n## Sign-off\n\n");
  for (const item of report.signOff) parts.push(`- [ ] ${item}\n`);
  parts.push("\nReviewed by: ____________________  Date: ____________  Signature: ____________________\n");
  return parts.join("");
}

function h(text: string | number | undefined): string {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function htmlTable({ id, headers, rows }: ReviewTable): string {
  if (rows.length === 0) return `<p class="none" data-table="${h(id)}">none</p>`;
  return `<table data-table="${h(id)}"><thead><tr>${headers.map((x) => `<th>${h(x)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map((cell) => `<td>${h(cell)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

const CSS = `
body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;margin:24px;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #d0d7de;padding-bottom:3px}
h3{font-size:14px;margin:16px 0 6px}.meta{color:#57606a}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:6px 0 12px}
th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}
th{background:#f6f8fa}.none{color:#57606a;font-style:italic}
.sev-critical,.sev-high{color:#a40e26;font-weight:600}.sev-medium{color:#9a6700}
ul.signoff{list-style:none;padding-left:0}ul.signoff li:before{content:"\\2610  "}
.signature{margin-top:24px;display:flex;gap:32px}.signature span{flex:1;border-top:1px solid #1b1f24;padding-top:4px}
@page{size:A4;margin:14mm}
@media print{body{margin:0;max-width:none;font-size:10.5px}h2{break-after:avoid}tr{break-inside:avoid}
section.page{break-before:page}section.signoff{break-inside:avoid}}
`;

export function renderReviewHtml(report: ReviewReport): string {
  const t = reviewTables(report);
  const [alertsByRule, alerts, execs, changes, denied, edges, postureChanges, namespaces, certificates] = [
    t.alertsByRule,
    t.alerts,
    t.execs,
    t.changes,
    t.denied,
    t.edges,
    t.postureChanges,
    t.namespaces,
    t.certificates,
  ].map(htmlTable);
  const p = report.pipeline;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${h(report.title)}</title><style>${CSS}</style></head>
<body>
<header><h1>${h(report.title)}</h1>
<p class="meta">Period <time>${h(report.since)}</time> .. <time>${h(report.until)}</time>, compared with the period before it. Source: ${h(report.source)}. Rests on ${h(report.basis.documents)} documents and ${h(report.basis.alerts)} alerts.</p></header>
<section id="alerts"><h2>Alerts by rule and severity</h2>${alertsByRule}<h3>Each alert</h3>${alerts}</section>
<section id="exec"><h2>Exec sessions</h2>${execs}</section>
<section id="changes"><h2>Changes to mesh security and RBAC</h2>${changes}</section>
<section id="denied"><h2>Top identities by denied requests</h2>${denied}</section>
<section id="edges"><h2>New service edges</h2><p>${h(report.newEdges.length)} new of ${h(report.edgesInPeriod)} edges in the period (${h(report.edgesBasis)}).</p>${edges}</section>
<section id="posture" class="page"><h2>Posture</h2><h3>Changes since the previous period</h3>${postureChanges}<h3>Namespaces now</h3>${namespaces}<h3>Peer certificates</h3>${certificates}</section>
<section id="pipeline"><h2>Pipeline health</h2><ul>
<li>Silent sources: ${p.silentSources.length === 0 ? "none" : p.silentSources.map(h).join("; ")}</li>
<li>Error records: ${h(p.errorRecords.count)}${byReasonText(p.errorRecords.byReason, h)} (${h(p.errorRecords.basis)})</li>
<li>Digest chain: <strong>${h(p.digestChain.status)}</strong> (${h(p.digestChain.detail)})</li></ul></section>
<section id="signoff" class="signoff"><h2>Sign-off</h2><ul class="signoff">${report.signOff.map((item) => `<li>${h(item)}</li>`).join("")}</ul>
<div class="signature"><span>Reviewed by</span><span>Date</span><span>Signature</span></div></section>
</body></html>
`;
}

/** `: 3 processing-failed, 1 AmazonOpenSearchService-failed` when the counts per reason are known. */
function byReasonText(
  byReason: Readonly<Record<string, number>> | undefined,
  quote: (text: string) => string,
): string {
  if (byReason === undefined || Object.keys(byReason).length === 0) return "";
  const parts = Object.entries(byReason)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([reason, count]) => `${count} ${reason}`);
  return quote(`: ${parts.join(", ")}`);
}
