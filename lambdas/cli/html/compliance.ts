/**
 * `audit-trail compliance --html FILE`: the auditor's report as one self-contained HTML page (inline CSS, no
 * script, no external resource) that prints to PDF: a summary of every framework, then per framework (each on a
 * new printed page) each control with its status and the resource, setting and value read from the template, and
 * what the stack does not address. It renders the same `Assessment` the markdown report is rendered from, so the two
 * cannot disagree. Pure: data in, string out.
 */
import type {
  Assessment,
  ControlResult,
  Evidence,
  FrameworkAssessment,
  ReportHeader,
} from "../../core/compliance/index.js";

function html(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const EVIDENCE_STATUS: Readonly<Record<Evidence["status"], string>> = {
  found: "met",
  missing: "MISSING",
  weak: "WEAKER THAN REQUIRED",
};

function requirements(framework: FrameworkAssessment): string {
  const { requirements: r } = framework;
  const parts = [`archive retention ≥ ${r.archiveRetentionDays} days`];
  if (r.searchableDays > 0) parts.push(`searchable ≥ ${r.searchableDays} days`);
  if (r.pseudonymizedFields.length > 0)
    parts.push(`pseudonymized fields: ${r.pseudonymizedFields.join(", ")}`);
  if (r.longestPurposeDays !== undefined) parts.push(`longest declared purpose ${r.longestPurposeDays} days`);
  return `Minimums applied: ${parts.join("; ")} (${framework.requirementsSource}).`;
}

function evidenceRow(item: Evidence): string {
  const resource =
    item.resource === undefined
      ? '<span class="none">(none)</span>'
      : `<code>${html(item.resource.logicalId)}</code><br><span class="type">${html(item.resource.type)}</span>`;
  return `<tr class="evidence ${item.status}"><td>${resource}</td><td><code>${html(item.setting)}</code></td><td><code>${html(item.value)}</code></td><td>${html(item.expected)}</td><td class="status">${EVIDENCE_STATUS[item.status]}</td><td>${html(item.claim)}</td></tr>`;
}

function controlSection(result: ControlResult): string {
  const { control } = result;
  const status = result.met ? "met" : "not-met";
  return `<section class="control ${status}" data-framework="${html(control.framework)}" data-control="${html(control.id)}" data-status="${status}">
<h3><span class="badge ${status}">${result.met ? "met" : "NOT MET"}</span> ${html(control.id)} ${html(control.title)}</h3>
<p class="requirement">Requirement: ${html(control.requirement)}</p>
<table class="evidence"><colgroup><col class="c-resource"><col class="c-setting"><col class="c-value"><col class="c-required"><col class="c-status"><col class="c-shows"></colgroup>
<thead><tr><th>resource</th><th>setting</th><th>value in template</th><th>required</th><th>status</th><th>shows</th></tr></thead>
<tbody>${result.evidence.length === 0 ? '<tr class="evidence missing"><td colspan="6">no evidence found: the control is not met</td></tr>' : result.evidence.map(evidenceRow).join("")}</tbody></table>
</section>`;
}

function frameworkSection(framework: FrameworkAssessment): string {
  const met = framework.controls.filter((result) => result.met).length;
  return `<section class="framework" id="framework-${html(framework.framework)}" data-framework="${html(framework.framework)}">
<h2>${html(framework.name)}</h2>
<p class="framework-summary">${met} of ${framework.controls.length} controls met${
    met === framework.controls.length
      ? ""
      : `; not met: ${framework.controls
          .filter((result) => !result.met)
          .map((result) => html(result.control.id))
          .join(", ")}`
  }.</p>
<p class="meta">${html(requirements(framework))}</p>
${framework.controls.map(controlSection).join("\n")}
<section class="not-addressed"><h3>Not addressed by this stack (${html(framework.name)})</h3>
<ul>${framework.notAddressed.map((item) => `<li><strong>${html(item.id)} ${html(item.title)}</strong>: ${html(item.owner)}</li>`).join("")}</ul></section>
</section>`;
}

const CSS = `
body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#212529;padding:0 16px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:24px 0 6px;border-bottom:2px solid #343a40;padding-bottom:4px}
h3{font-size:14px;margin:14px 0 4px}.meta{color:#495057}.requirement{margin:2px 0 6px;color:#343a40}
.result{font-size:15px;padding:8px 12px;border-radius:4px}.result.met{background:#ebfbee;border:1px solid #2b8a3e}.result.not-met{background:#fff5f5;border:1px solid #c92a2a}
.badge{display:inline-block;border-radius:3px;padding:0 6px;font-size:11px;color:#fff;vertical-align:1px}.badge.met{background:#2b8a3e}.badge.not-met{background:#c92a2a}
table{border-collapse:collapse;width:100%;table-layout:fixed}th,td{border:1px solid #dee2e6;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f1f3f5;font-weight:600}code{font:11px/1.35 ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;overflow-wrap:anywhere}.type{color:#868e96;font-size:11px}
col.c-resource{width:20%}col.c-setting{width:20%}col.c-value{width:15%}col.c-required{width:13%}col.c-status{width:12%}col.c-shows{width:20%}
tr.evidence.missing td.status,tr.evidence.weak td.status{color:#c92a2a;font-weight:700}tr.evidence.found td.status{color:#2b8a3e}
table.summary td.not-met{color:#c92a2a;font-weight:700}.note{color:#495057;font-size:12px}
@page{size:A4;margin:14mm 12mm}
@media print{body{margin:0;max-width:none;padding:0;font-size:11px}section.framework{break-before:page}
section.control{break-inside:avoid}thead{display:table-header-group}tr{break-inside:avoid}h2,h3{break-after:avoid}
.badge,.result,th,tr.evidence td.status{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
`;

/** The page. `noFramework`, when set, says why nothing was assessed (the environment enables no framework). */
export function renderCompliancePage(
  header: ReportHeader,
  assessment: Assessment,
  noFramework?: string,
): string {
  const total = assessment.frameworks.reduce((sum, framework) => sum + framework.controls.length, 0);
  const failing = assessment.failures.length;
  const result =
    noFramework !== undefined
      ? `<p class="result none">No framework assessed: ${html(noFramework)}. No control is assessed and no compliance is claimed.</p>`
      : failing === 0
        ? `<p class="result met">All ${total} controls below are met by settings read from the template.</p>`
        : `<p class="result not-met"><strong>${failing} of ${total} controls are NOT met</strong>: ${assessment.failures.map((failure) => html(`${failure.control.framework} ${failure.control.id}`)).join(", ")}. Each failing setting is marked below.</p>`;
  const summaryRows = assessment.frameworks
    .map((framework) => {
      const met = framework.controls.filter((c) => c.met).length;
      const notMet = framework.controls.length - met;
      return `<tr data-framework="${html(framework.framework)}"><td><a href="#framework-${html(framework.framework)}">${html(framework.name)}</a></td><td class="n">${framework.controls.length}</td><td class="n met">${met}</td><td class="n${notMet > 0 ? " not-met" : ""}">${notMet}</td><td class="n">${framework.notAddressed.length}</td></tr>`;
    })
    .join("");
  const title = `Compliance evidence: ${header.subject}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(title)}</title><style>${CSS}</style></head>
<body>
<header><h1>${html(title)}</h1>
<p class="meta">Template: ${html(header.templateSource)}</p>
${result}
${
  assessment.frameworks.length === 0
    ? ""
    : `<table class="summary"><thead><tr><th>framework</th><th>controls</th><th>met</th><th>not met</th><th>not addressed by this stack</th></tr></thead><tbody>${summaryRows}</tbody></table>`
}
<p class="note">Each value is read from the synthesized CloudFormation template, not from the configuration. The controls are met by the stack as defined; whether it is deployed as defined is shown by CloudFormation drift detection and AWS Config, and the controls under “Not addressed” need people and processes this stack cannot provide.</p>
</header>
${assessment.frameworks.map(frameworkSection).join("\n")}
</body></html>
`;
}
