/**
 * `audit-trail replay --html FILE`: the incident as one self-contained HTML page (inline CSS and SVG, no script, no
 * external resource), for people who would rather look than read: a timeline of the alerts and their evidence events
 * per rule and per identity, each alert with its evidence events, the service graph of who called what during the
 * replay with the edges that alerted highlighted, and the rule and runbook of each alert. Pure: strings in, string out.
 */
import type { Alert } from "../../core/alerts/index.js";
import type { EcsDocument } from "../../core/ecs.js";

/** Who called what, counted over every document of the replay (alerting or not). */
export class ServiceGraph {
  readonly #edges = new Map<string, { from: string; to: string; calls: number }>();
  /** At most this many distinct edges are kept (the page has to stay readable); the rest are counted. */
  readonly maxEdges: number;
  droppedCalls = 0;

  constructor(maxEdges = 400) {
    this.maxEdges = maxEdges;
  }

  add(doc: EcsDocument): void {
    const from = callerOf(doc);
    const to = calleeOf(doc);
    if (from === undefined || to === undefined) return;
    const key = `${from}\u0000${to}`;
    const edge = this.#edges.get(key);
    if (edge !== undefined) edge.calls++;
    else if (this.#edges.size < this.maxEdges) this.#edges.set(key, { from, to, calls: 1 });
    else this.droppedCalls++;
  }

  edges(): { from: string; to: string; calls: number }[] {
    return [...this.#edges.values()];
  }
}

/** The caller of an event: its mesh identity, else the Kubernetes user, else the source address. */
export function callerOf(doc: EcsDocument): string | undefined {
  return field(doc, "mesh.source.principal") ?? field(doc, "user.name") ?? field(doc, "source.ip");
}

/** What an event called: the mesh service, else the API server for audit events, else the destination. */
export function calleeOf(doc: EcsDocument): string | undefined {
  if (field(doc, "event.dataset") === "kubernetes.audit") return "kube-apiserver";
  return (
    field(doc, "mesh.destination.service") ?? field(doc, "url.domain") ?? field(doc, "destination.address")
  );
}

/** A document's value at a dotted path, as text; undefined when absent or not a string or number. */
function field(doc: EcsDocument, path: string): string | undefined {
  let value: unknown = doc;
  for (const key of path.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
}

export interface IncidentPage {
  readonly alerts: readonly Alert[];
  readonly graph: ServiceGraph;
  readonly files: readonly string[];
  readonly records: number;
  readonly firstEvent?: string;
  readonly lastEvent?: string;
  /** Where rule files are, by rule name (repository-relative or as given), for links. */
  readonly ruleFiles: Readonly<Record<string, string>>;
}

const SEVERITY_COLOUR: Readonly<Record<string, string>> = {
  critical: "#b3001b",
  high: "#d9480f",
  medium: "#e8a317",
  low: "#2b8a3e",
  informational: "#5c7cfa",
};

function html(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function colour(severity: string): string {
  return SEVERITY_COLOUR[severity] ?? "#495057";
}

/** Milliseconds of an ISO time; NaN-safe. */
function ms(time: string | undefined): number {
  const value = time === undefined ? Number.NaN : Date.parse(time);
  return Number.isNaN(value) ? 0 : value;
}

function shortTime(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "");
}

interface Lane {
  readonly label: string;
  readonly alerts: { alert: Alert; index: number }[];
  readonly events: { doc: EcsDocument; alert: Alert; index: number }[];
}

/** One timeline: a lane per key (rule or identity), alert windows as bars, evidence events as dots. */
function timeline(kind: string, lanes: readonly Lane[], start: number, end: number): string {
  const width = 1100;
  const left = 300;
  const laneHeight = 34;
  const top = 30;
  const height = top + lanes.length * laneHeight + 10;
  const span = Math.max(1, end - start);
  const x = (time: number): number => left + ((time - start) / span) * (width - left - 50);
  const ticks = Array.from({ length: 5 }, (_, i) => start + (span * i) / 4);
  const parts: string[] = [];
  for (const tick of ticks) {
    parts.push(
      `<line class="tick" x1="${x(tick).toFixed(1)}" x2="${x(tick).toFixed(1)}" y1="${top - 6}" y2="${height - 10}"/>`,
      `<text class="tick-label" x="${x(tick).toFixed(1)}" y="${top - 12}">${html(new Date(tick).toISOString().slice(11, 19))}</text>`,
    );
  }
  lanes.forEach((lane, row) => {
    const y = top + row * laneHeight;
    parts.push(
      `<g class="lane" data-key="${html(lane.label)}">`,
      `<text class="lane-label" x="${left - 8}" y="${y + laneHeight / 2 + 4}"><title>${html(lane.label)}</title>${html(lane.label.length > 44 ? `…${lane.label.slice(-43)}` : lane.label)}</text>`,
      `<line class="lane-line" x1="${left}" x2="${width - 50}" y1="${y + laneHeight / 2}" y2="${y + laneHeight / 2}"/>`,
    );
    for (const { alert, index } of lane.alerts) {
      const x1 = x(ms(alert.window.start));
      const x2 = Math.max(x1 + 4, x(ms(alert.window.end)));
      parts.push(
        `<a href="#alert-${index}"><rect class="alert-window" data-rule="${html(alert.rule.name)}" x="${x1.toFixed(1)}" y="${y + 6}" width="${(x2 - x1).toFixed(1)}" height="${laneHeight - 12}" rx="3" fill="${colour(alert.severity)}"><title>${html(`${alert.rule.title} (${alert.severity}), ${shortTime(alert.window.start)} to ${shortTime(alert.window.end)}`)}</title></rect></a>`,
      );
    }
    for (const { doc, alert, index } of lane.events) {
      parts.push(
        `<a href="#alert-${index}"><circle class="event" cx="${x(ms(doc["@timestamp"])).toFixed(1)}" cy="${y + laneHeight / 2}" r="4" fill="${colour(alert.severity)}"><title>${html(`${shortTime(doc["@timestamp"])} ${eventLine(doc)}`)}</title></circle></a>`,
      );
    }
    parts.push("</g>");
  });
  return `<svg class="timeline ${kind}" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="timeline ${kind}">${parts.join("")}</svg>`;
}

/** One evidence event as a line: who called what, how, and the outcome. */
function eventLine(doc: EcsDocument): string {
  const method = field(doc, "http.request.method") ?? field(doc, "kubernetes.audit.verb") ?? "";
  const target = field(doc, "url.path") ?? field(doc, "kubernetes.audit.requestURI") ?? "";
  const status =
    field(doc, "http.response.status_code") ?? field(doc, "kubernetes.audit.responseStatus.code") ?? "";
  return `${callerOf(doc) ?? "?"} → ${calleeOf(doc) ?? "?"} ${method} ${target} ${status}`
    .replace(/\s+/g, " ")
    .trim();
}

function lanesBy(alerts: readonly Alert[], key: (alert: Alert, doc?: EcsDocument) => string): Lane[] {
  const lanes = new Map<string, Lane>();
  const lane = (label: string): Lane => {
    let found = lanes.get(label);
    if (found === undefined) {
      found = { label, alerts: [], events: [] };
      lanes.set(label, found);
    }
    return found;
  };
  alerts.forEach((alert, index) => {
    const own = lane(key(alert));
    if (!own.alerts.some((entry) => entry.alert === alert)) own.alerts.push({ alert, index });
    for (const doc of alert.events) lane(key(alert, doc)).events.push({ doc, alert, index });
  });
  return [...lanes.values()].sort((a, b) => a.label.localeCompare(b.label));
}

/** Nodes on a circle, calls as lines (width by volume), the edges an alert's evidence used drawn red. */
function serviceGraph(graph: ServiceGraph, alerting: ReadonlySet<string>): string {
  const edges = graph.edges();
  const names = [...new Set(edges.flatMap((edge) => [edge.from, edge.to]))].sort();
  const size = 900;
  const centre = size / 2;
  const radius = size / 2 - 170;
  const position = new Map(
    names.map((name, i) => {
      const angle = (2 * Math.PI * i) / Math.max(1, names.length) - Math.PI / 2;
      return [name, { x: centre + radius * Math.cos(angle), y: centre + radius * Math.sin(angle), angle }];
    }),
  );
  const maxCalls = Math.max(1, ...edges.map((edge) => edge.calls));
  const parts: string[] = [
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#868e96"/></marker>',
    '<marker id="arrow-alert" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#c92a2a"/></marker></defs>',
  ];
  const sorted = [...edges].sort(
    (a, b) => Number(alerting.has(`${a.from}\u0000${a.to}`)) - Number(alerting.has(`${b.from}\u0000${b.to}`)),
  );
  for (const edge of sorted) {
    const from = position.get(edge.from);
    const to = position.get(edge.to);
    if (from === undefined || to === undefined) continue;
    const hot = alerting.has(`${edge.from}\u0000${edge.to}`);
    const widthPx = 1 + 3 * Math.sqrt(edge.calls / maxCalls);
    const dx = to.x - from.x;
    const dy = to.y - from.y;
    const length = Math.max(1, Math.hypot(dx, dy));
    const end = { x: to.x - (dx / length) * 8, y: to.y - (dy / length) * 8 };
    parts.push(
      `<line class="edge${hot ? " alerting" : ""}" data-from="${html(edge.from)}" data-to="${html(edge.to)}" x1="${from.x.toFixed(1)}" y1="${from.y.toFixed(1)}" x2="${end.x.toFixed(1)}" y2="${end.y.toFixed(1)}" stroke-width="${(hot ? widthPx + 1.5 : widthPx).toFixed(1)}" marker-end="url(#${hot ? "arrow-alert" : "arrow"})"><title>${html(`${edge.from} → ${edge.to}: ${edge.calls} call(s)${hot ? ", in an alert's evidence" : ""}`)}</title></line>`,
    );
  }
  for (const name of names) {
    const { x, y, angle } = position.get(name) as { x: number; y: number; angle: number };
    const right = Math.cos(angle) >= 0;
    const label = name.length > 38 ? `…${name.slice(-37)}` : name;
    parts.push(
      `<g class="node" data-name="${html(name)}"><circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="6"/>`,
      `<text x="${(x + (right ? 10 : -10)).toFixed(1)}" y="${(y + 4).toFixed(1)}" text-anchor="${right ? "start" : "end"}"><title>${html(name)}</title>${html(label)}</text></g>`,
    );
  }
  return `<svg class="service-graph" viewBox="0 0 ${size} ${size}" width="100%" role="img" aria-label="service graph">${parts.join("")}</svg>`;
}

function alertArticle(alert: Alert, index: number, ruleFile: string | undefined): string {
  const runbook = alert.links.runbook ?? alert.rule.runbook;
  const rows = alert.events
    .map(
      (doc) =>
        `<tr><td>${html(shortTime(doc["@timestamp"]))}</td><td>${html(callerOf(doc) ?? "")}</td><td>${html(calleeOf(doc) ?? "")}</td><td>${html(eventLine(doc).split(" ").slice(3).join(" "))}</td></tr>`,
    )
    .join("");
  const facts = [
    ["who", alert.summary.who],
    ["from", alert.summary.from],
    ["to", alert.summary.to],
    ...alert.details.map((detail) => [detail.label, String(detail.value)]),
  ].filter((pair): pair is [string, string] => pair[1] !== undefined);
  return `<article class="alert" id="alert-${index}" data-rule="${html(alert.rule.name)}" data-severity="${html(alert.severity)}">
<h3><span class="severity" style="background:${colour(alert.severity)}">${html(alert.severity)}</span> ${html(alert.rule.title)}</h3>
<p class="what">${html(alert.summary.what)}</p>
<p class="when">${html(shortTime(alert.window.start))} to ${html(shortTime(alert.window.end))} UTC · count ${alert.count}${alert.value === undefined ? "" : ` · value ${alert.value}`}</p>
<dl>${facts.map(([label, value]) => `<dt>${html(label)}</dt><dd>${html(value)}</dd>`).join("")}</dl>
<p class="links">rule <a class="rule-link" href="${html(ruleFile ?? `rules/${alert.rule.name}.yml`)}">${html(alert.rule.name)}</a> · runbook <a class="runbook-link" href="${html(runbook)}">${html(runbook)}</a>${alert.links.discover === undefined ? "" : ` · <a href="${html(alert.links.discover)}">Discover</a>`}</p>
<details open><summary>${alert.events.length} evidence event(s)${alert.events.length < alert.count ? ` (the first ${alert.events.length} of ${alert.count})` : ""}</summary>
<table class="evidence"><thead><tr><th>time (UTC)</th><th>caller</th><th>called</th><th>request</th></tr></thead><tbody>${rows}</tbody></table></details>
</article>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1200px;color:#212529;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #dee2e6;padding-bottom:4px}
h3{font-size:15px;margin:0 0 4px}.meta{color:#495057;margin:0 0 12px}
.counts span{display:inline-block;margin-right:12px}.severity{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px;text-transform:uppercase}
svg text{font-size:11px;fill:#343a40}.tick{stroke:#e9ecef}.tick-label{text-anchor:middle;fill:#868e96}
.lane-label{text-anchor:end}.lane-line{stroke:#dee2e6}.alert-window{opacity:.35}.event{stroke:#fff;stroke-width:1}
svg.service-graph{display:block;max-width:900px;margin:0 auto}.edge{stroke:#adb5bd;opacity:.7}.edge.alerting{stroke:#c92a2a;opacity:1}.node circle{fill:#1c7ed6}
article.alert{border:1px solid #dee2e6;border-radius:6px;padding:10px 14px;margin:10px 0;break-inside:avoid}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0}dt{color:#868e96}dd{margin:0}
table.evidence{border-collapse:collapse;width:100%;font-size:12px}table.evidence td,table.evidence th{border-bottom:1px solid #f1f3f5;padding:2px 6px;text-align:left;vertical-align:top}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px;vertical-align:middle}
@media print{a{color:inherit;text-decoration:none}details{display:block}}
`;

/** The page. */
export function renderIncidentPage(page: IncidentPage): string {
  const alerts = [...page.alerts].sort(
    (a, b) => a["@timestamp"].localeCompare(b["@timestamp"]) || a.rule.name.localeCompare(b.rule.name),
  );
  const times = alerts.flatMap((alert) => [
    ms(alert.window.start),
    ms(alert.window.end),
    ...alert.events.map((doc) => ms(doc["@timestamp"])),
  ]);
  const first = times.length === 0 ? ms(page.firstEvent) : Math.min(...times);
  const last = times.length === 0 ? ms(page.lastEvent) : Math.max(...times);
  // A margin of 4% each side, so that the first and last events are not drawn on the edges.
  const margin = Math.max(1000, (last - first) * 0.04);
  const start = first - margin;
  const end = last + margin;
  const byRule = lanesBy(alerts, (alert) => alert.rule.name);
  // An alert's bar goes in the lane of the identity its first evidence event comes from, beside its dots.
  const byIdentity = lanesBy(
    alerts,
    (alert, doc) =>
      callerOf(doc ?? alert.events[0] ?? ({} as EcsDocument)) ?? alert.summary.who ?? "unknown identity",
  );
  const alerting = new Set(
    alerts.flatMap((alert) =>
      alert.events.flatMap((doc) => {
        const from = callerOf(doc);
        const to = calleeOf(doc);
        return from === undefined || to === undefined ? [] : [`${from}\u0000${to}`];
      }),
    ),
  );
  const severities = new Map<string, number>();
  for (const alert of alerts) severities.set(alert.severity, (severities.get(alert.severity) ?? 0) + 1);
  const edges = page.graph.edges();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Incident: ${alerts.length} alert(s)</title><style>${CSS}</style></head>
<body>
<header><h1>Incident replay: ${alerts.length} alert(s)</h1>
<p class="meta">${page.records.toLocaleString("en-US")} records from ${page.files.length} file(s)${page.firstEvent === undefined ? "" : `, event time ${html(shortTime(page.firstEvent))} to ${html(shortTime(page.lastEvent ?? page.firstEvent))} UTC`}. Files: ${page.files.map(escape).join(", ")}</p>
<p class="counts">${[...severities.entries()].map(([severity, count]) => `<span><span class="severity" style="background:${colour(severity)}">${html(severity)}</span> ${count}</span>`).join("")}</p>
<p class="legend"><span>bars: an alert's window</span><span>dots: its evidence events</span><span>colour: severity</span></p></header>
<section id="timeline-by-rule"><h2>Timeline by rule</h2>${timeline("by-rule", byRule, start, end)}</section>
<section id="timeline-by-identity"><h2>Timeline by identity</h2>${timeline("by-identity", byIdentity, start, end)}</section>
<section id="graph"><h2>Who called what</h2>
<p class="meta">${edges.length} caller → called pair(s) over every record replayed; red: the calls an alert's evidence holds.${page.graph.droppedCalls === 0 ? "" : ` ${page.graph.droppedCalls} call(s) beyond the first ${page.graph.maxEdges} pairs are not drawn.`}</p>
${serviceGraph(page.graph, alerting)}</section>
<section id="alerts"><h2>Alerts</h2>${alerts.map((alert, index) => alertArticle(alert, index, page.ruleFiles[alert.rule.name])).join("\n")}</section>
</body></html>
`;
}
