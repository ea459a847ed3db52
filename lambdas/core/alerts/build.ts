/**
 * `buildAlert`: the one place a `Detection` becomes an `Alert`. The detector (detections from OpenSearch
 * aggregations) and `audit-trail replay` (detections from the in-memory evaluator) both call it, so they print
 * the same alerts.
 */
import type { EcsDocument } from "../ecs.js";
import { DBIP_ATTRIBUTION } from "../geo/index.js";
import { podExecDetails } from "../rules/k8s.js";
import type { Detection, SilenceRule } from "../rules/types.js";
import { DETECTION_EVENT_CAP } from "../rules/types.js";
import { compareEvents } from "../rules/windows.js";
import { isMeshPolicyChange, meshConfigChange } from "./changes.js";
import { kubernetesObject, kubernetesOperator, type Scalar, sourceIp, valueAt, valuesAt } from "./fields.js";
import { correlationAlertId, singleEventAlertId } from "./ids.js";
import { DEFAULT_INDEX_PATTERN_ID, discoverUrl, joinUrl } from "./links.js";
import {
  ALERT_VALUES_KEPT,
  alertValuePaths,
  exactTypeOf,
  type MatchedSummary,
  summarizeTallies,
} from "./matched.js";
import type { Alert, AlertContext, AlertDetail } from "./model.js";
import { severityOf } from "./model.js";

/** A detection that cannot become an alert (a single-event detection without its event, a bad time). */
export class AlertBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AlertBuildError";
  }
}

const SOURCE_COUNTRY_FIELD = "source.geo.country_iso_code";

/** How many distinct values of one field people see before "+N more" (the JSON body keeps them all). */
export const ALERT_VALUES_SHOWN = 5;

/** Readable names of the fields alerts list most, for sentences and detail labels (plural). */
const FIELD_NAMES: Readonly<Record<string, string>> = {
  "mesh.destination.service": "destination services",
  "mesh.source.principal": "source identities",
  "mesh.source.service": "source services",
  "source.ip": "source IPs",
  "source.address": "source addresses",
  "destination.address": "destination addresses",
  "destination.ip": "destination IPs",
  "url.path": "paths",
  "http.request.method": "methods",
  "http.response.status_code": "status codes",
  "mesh.grpc_status": "gRPC statuses",
  "user_agent.original": "user agents",
  "envoy.response_code_details": "response details",
  "mesh.mtls_evidence": "mTLS evidence",
  "orchestrator.cluster.name": "clusters",
  "kubernetes.namespace": "namespaces",
  "kubernetes.pod.name": "pods",
  "event.duration": "durations",
};

/** `destination services` for a known path, else the path itself. */
export function fieldName(path: string): string {
  return FIELD_NAMES[path] ?? path;
}

/** `a, b, c +2 more`: the first `shown` values, and how many more there are of `total` (default: all given). */
export function valueList(
  values: readonly Scalar[],
  total = values.length,
  shown = ALERT_VALUES_SHOWN,
): string {
  const head = values.slice(0, shown).map(String).join(", ");
  const more = Math.max(total - Math.min(values.length, shown), 0);
  return more > 0 ? `${head} +${more} more` : head;
}

/** How far around a single event the Discover link looks. */
const SINGLE_EVENT_LINK_MARGIN_MS = 60_000;

export function buildAlert(detection: Detection, context: AlertContext): Alert {
  const { rule } = detection;
  const windowStartMs = parseTime(detection.windowStart, rule.name, "windowStart");
  const windowEndMs = parseTime(detection.windowEnd, rule.name, "windowEnd");
  const events = [...detection.events].sort(compareEvents).slice(0, DETECTION_EVENT_CAP);
  const first = events[0];
  if (rule.kind === "single" && first === undefined) {
    throw new AlertBuildError(`rule ${rule.name}: a single-event detection must carry its event`);
  }
  const id =
    rule.kind === "single"
      ? singleEventAlertId(rule.name, first as EcsDocument)
      : correlationAlertId(rule.name, detection.groupBy, detection.windowStart);
  const severity = severityOf(rule.level);
  const group = detection.groupBy;

  const ip = group["source.ip"] ?? sourceIp(first);
  const country = ip === undefined ? undefined : context.geo?.country(ip);
  const matched = detection.matched ?? summarizeTallies(detection.tallies ?? []);
  const { values, distinct } = distinctValues(events, group, rule.fields, matched);
  const seen = seenOf(events, detection.count, windowStartMs, windowEndMs, matched);
  const facts: DetectionFacts = { detection, first, ip, country, values, distinct };
  const summary = summarize(facts);
  const details = deriveDetails(facts, summary);
  const fields: Record<string, Scalar> = {};
  for (const path of rule.fields) {
    const value = group[path] ?? firstValueIn(events, path);
    if (value !== undefined) fields[path] = value;
  }
  // Enrichment the pipeline does not index: the caller's country, from the GeoIP database.
  if (
    country !== undefined &&
    rule.fields.includes(SOURCE_COUNTRY_FIELD) &&
    fields[SOURCE_COUNTRY_FIELD] === undefined
  ) {
    fields[SOURCE_COUNTRY_FIELD] = country;
  }

  const links: { runbook?: string; discover?: string } = {};
  if (context.runbookBaseUrl !== undefined && context.runbookBaseUrl.length > 0) {
    links.runbook = joinUrl(context.runbookBaseUrl, rule.runbook);
  }
  if (context.dashboardsUrl !== undefined && context.dashboardsUrl.length > 0) {
    const single = rule.kind === "single";
    const filters: Record<string, string> = { ...group };
    if (single && first?.event.id !== undefined && Object.keys(group).length === 0)
      filters["event.id"] = first.event.id;
    // A silent source: its documents over the lookback, up to the moment it went silent.
    const silence = rule.kind === "silence" ? rule : undefined;
    links.discover = discoverUrl({
      dashboardsUrl: context.dashboardsUrl,
      indexPatternId: context.indexPatternId ?? DEFAULT_INDEX_PATTERN_ID,
      ruleNames: single ? [rule.name] : rule.kind === "correlation" ? rule.rules : [],
      filters,
      from: new Date(
        single
          ? windowStartMs - SINGLE_EVENT_LINK_MARGIN_MS
          : windowStartMs - (silence === undefined ? 0 : silence.lookbackMs),
      ).toISOString(),
      to: new Date(single ? windowEndMs + SINGLE_EVENT_LINK_MARGIN_MS : windowEndMs).toISOString(),
    });
  }

  const alert: Alert = {
    id,
    "@timestamp": new Date(windowStartMs).toISOString(),
    environment: context.environment,
    severity,
    paged: severity !== "informational",
    ...(severity === "informational" ? {} : { topic: rule.topic === "ops" ? "ops" : severity }),
    rule: {
      id: rule.id,
      name: rule.name,
      title: rule.title,
      description: rule.description,
      level: rule.level,
      type: rule.kind === "correlation" ? rule.type : rule.kind,
      tags: rule.tags,
      runbook: rule.runbook,
    },
    window: { start: new Date(windowStartMs).toISOString(), end: new Date(windowEndMs).toISOString() },
    seen,
    group,
    count: detection.count,
    ...(detection.value === undefined ? {} : { value: detection.value }),
    summary,
    fields,
    values,
    distinct,
    details,
    links,
    attribution: country === undefined ? [] : [DBIP_ATTRIBUTION],
    events,
  };
  return alert;
}

function parseTime(iso: string, ruleName: string, key: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) {
    throw new AlertBuildError(
      `rule ${ruleName}: detection ${key} is not an ISO 8601 time: ${JSON.stringify(iso)}`,
    );
  }
  return ms;
}

/**
 * First and last matched event: of every one when the detection summarizes them (`matched`), else of the kept
 * events; the window's bounds when there is no event (a silent source).
 */
function seenOf(
  events: readonly EcsDocument[],
  count: number,
  windowStartMs: number,
  windowEndMs: number,
  matched: MatchedSummary | undefined,
): Alert["seen"] {
  if (matched !== undefined) {
    return {
      first: new Date(matched.firstMs).toISOString(),
      last: new Date(matched.lastMs).toISOString(),
      complete: true,
      ...(matched.readBefore === undefined
        ? {}
        : {
            through: new Date(matched.readBefore.ingestedFromMs).toISOString(),
            ...(matched.readBefore.indexedFromMs === undefined
              ? {}
              : { indexedThrough: new Date(matched.readBefore.indexedFromMs).toISOString() }),
          }),
    };
  }
  let firstMs = Number.POSITIVE_INFINITY;
  let lastMs = Number.NEGATIVE_INFINITY;
  for (const event of events) {
    const ms = Date.parse(event["@timestamp"]);
    if (Number.isNaN(ms)) continue;
    if (ms < firstMs) firstMs = ms;
    if (ms > lastMs) lastMs = ms;
  }
  if (firstMs === Number.POSITIVE_INFINITY) {
    return {
      first: new Date(windowStartMs).toISOString(),
      last: new Date(windowEndMs).toISOString(),
      complete: false,
    };
  }
  return {
    first: new Date(firstMs).toISOString(),
    last: new Date(lastMs).toISOString(),
    complete: events.length >= count,
  };
}

/**
 * The distinct values of the group-by fields, the rule's fields and the location fields (at most
 * `ALERT_VALUES_KEPT` each), and how many there are. Fields the index aggregates come from `matched` (every matched
 * event, in the field's order) when the detection has it; the others from the kept events, first seen first.
 */
function distinctValues(
  events: readonly EcsDocument[],
  group: Readonly<Record<string, string>>,
  ruleFields: readonly string[],
  matched: MatchedSummary | undefined,
): { values: Record<string, Scalar[]>; distinct: Record<string, number> } {
  const values: Record<string, Scalar[]> = {};
  const distinct: Record<string, number> = {};
  for (const path of alertValuePaths(Object.keys(group), ruleFields)) {
    if (matched !== undefined && exactTypeOf(path) !== undefined) {
      const found = matched.values[path];
      if (found !== undefined && found.total > 0) {
        values[path] = [...found.values];
        distinct[path] = found.total;
      }
      continue;
    }
    const seen = new Set<Scalar>();
    const grouped = group[path];
    if (grouped !== undefined) seen.add(grouped);
    for (const event of events) for (const value of valuesAt(event, path)) seen.add(value);
    if (seen.size > 0) {
      values[path] = [...seen].slice(0, ALERT_VALUES_KEPT);
      distinct[path] = seen.size;
    }
  }
  return { values, distinct };
}

function firstValueIn(events: readonly EcsDocument[], path: string): Scalar | undefined {
  for (const event of events) {
    const value = valueAt(event, path);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** What an alert's summary and details are made of: the detection and what was read from its events. */
interface DetectionFacts {
  readonly detection: Detection;
  /** The detection's first event, when it carries one. */
  readonly first: EcsDocument | undefined;
  /** The caller's address (the group's, else the first event's). */
  readonly ip: string | undefined;
  /** The caller's country, from the GeoIP database. */
  readonly country: string | undefined;
  /** The distinct values of the rule's fields across the events, and how many there were. */
  readonly values: Readonly<Record<string, readonly Scalar[]>>;
  readonly distinct: Readonly<Record<string, number>>;
}

function summarize({ detection, first, ip, country, values, distinct }: DetectionFacts): Alert["summary"] {
  const { rule, groupBy: group } = detection;
  if (rule.kind === "silence") return silenceSummary(rule, detection);
  const audit = first?.kubernetes?.audit;
  const who =
    group["mesh.source.principal"] ??
    group["user.name"] ??
    kubernetesOperator(audit) ??
    first?.mesh?.source?.principal ??
    first?.user?.name ??
    (ip === undefined ? undefined : `${ip} (no identity)`);
  // A service or workload name beside the address when the event has one.
  const sourceName = first?.mesh?.source?.service ?? first?.mesh?.source?.workload;
  const qualifiers = [sourceName, country].filter((part): part is string => part !== undefined);
  const from =
    ip === undefined
      ? (sourceName ?? first?.mesh?.source?.namespace)
      : qualifiers.length === 0
        ? ip
        : `${ip} (${qualifiers.join(", ")})`;
  // Every destination (bounded), by service name rather than address when the events carry one.
  const spreadField = rule.kind === "correlation" && rule.type === "value_count" ? rule.field : undefined;
  const spread =
    spreadField !== undefined && detection.value !== undefined
      ? `${detection.value} distinct ${fieldName(spreadField)}${
          (values[spreadField]?.length ?? 0) > 0
            ? `: ${valueList(values[spreadField] ?? [], Math.max(distinct[spreadField] ?? 0, detection.value))}`
            : ""
        }`
      : undefined;
  const services = values["mesh.destination.service"] ?? destinationNames(detection.events);
  const to =
    spread ??
    group["mesh.destination.service"] ??
    (services.length > 0 ? valueList(services, distinct["mesh.destination.service"]) : undefined) ??
    group["destination.address"] ??
    kubernetesObject(audit) ??
    first?.mesh?.destination?.principal ??
    httpTarget(first);
  const what = rule.kind === "single" ? actionOf(first) : correlationSentence(detection);
  const summary: { what: string; who?: string; from?: string; to?: string } = {
    what: what === undefined ? rule.title : `${rule.title}: ${what}`,
  };
  if (who !== undefined) summary.who = who;
  if (from !== undefined) summary.from = from;
  if (to !== undefined) summary.to = to;
  return summary;
}

/** A silent source: what stopped, since when; `to` names the source by its group values. */
function silenceSummary(rule: SilenceRule, detection: Detection): Alert["summary"] {
  const source = Object.keys(detection.groupBy)
    .sort()
    .map((path) => `${path}=${detection.groupBy[path]}`)
    .join(" ");
  const last = detection.events[0]?.["@timestamp"];
  const what =
    last === undefined
      ? `expected, but no document within ${formatDuration(rule.lookbackMs)}`
      : `no document for ${formatDuration(rule.timespanMs)} after ${last}`;
  return { what: `${rule.title}: ${what}`, to: source === "" ? "every source" : source };
}

/** Destination service names (or Hubble workloads) of the events, first seen first. */
function destinationNames(events: readonly EcsDocument[]): Scalar[] {
  const names = new Set<Scalar>();
  for (const event of events) {
    const name = event.mesh?.destination?.service ?? event.mesh?.destination?.workload;
    if (name !== undefined) names.add(name);
  }
  return [...names];
}

function httpTarget(doc: EcsDocument | undefined): string | undefined {
  const host = doc?.url?.domain ?? doc?.destination?.address ?? doc?.destination?.ip;
  const path = doc?.url?.path;
  if (host === undefined && path === undefined) return undefined;
  return `${host ?? ""}${path ?? ""}`;
}

function actionOf(doc: EcsDocument | undefined): string | undefined {
  const audit = doc?.kubernetes?.audit;
  if (audit?.verb !== undefined) {
    const object = kubernetesObject(audit);
    const code = audit.responseStatus?.code;
    return [audit.verb, object, code === undefined ? undefined : `-> ${code}`].filter(Boolean).join(" ");
  }
  const method = doc?.http?.request?.method;
  const status = doc?.http?.response?.status_code;
  if (method !== undefined || status !== undefined) {
    return [method, doc?.url?.path, status === undefined ? undefined : `-> ${status}`]
      .filter(Boolean)
      .join(" ");
  }
  return doc?.event.action;
}

function correlationSentence(detection: Detection): string {
  const { rule, count, value } = detection;
  if (rule.kind !== "correlation") return `${count} events`;
  const span = formatDuration(rule.timespanMs);
  switch (rule.type) {
    case "failure_ratio":
      return `${formatPercent(value)} of ${count} requests failed within ${span}`;
    case "value_count":
      return `${value ?? "?"} distinct ${rule.field === undefined ? "values" : fieldName(rule.field)} in ${count} events within ${span}`;
    case "percentile":
      return `p${rule.percentile ?? "?"} ${rule.field ?? "value"} ${formatMeasure(rule.field, value)} over ${count} events within ${span}`;
    case "temporal":
      return `${value ?? "?"} of ${rule.rules.length} related rules matched within ${span}`;
    case "event_count":
      return `${count} events within ${span}`;
    case "new_value":
    case "geo":
    case "mtls_mode":
      return behaviourSentence(detection, span);
  }
}

/** What a behavioural detection says (docs/rules.md "Behaviour"). */
function behaviourSentence(detection: Detection, span: string): string {
  const { rule, count, value, groupBy } = detection;
  if (rule.kind !== "correlation" || rule.behaviour === undefined) return `${count} events`;
  const options = rule.behaviour;
  const learning = formatDuration(options.learningMs);
  const what = Object.entries(groupBy)
    .map(([path, text]) => `${fieldName(path)}=${text}`)
    .join(", ");
  if (rule.type === "geo" && options.geo === "impossible_travel") {
    const speed = value === undefined ? "?" : `${Math.round(value)}`;
    return `travel at ≥ ${speed} km/h between two consecutive requests (${what}; plausible up to ${options.maxSpeedKmh ?? "?"} km/h)`;
  }
  if (rule.type === "geo") return `first request from this country in ${learning} (${what})`;
  if (rule.type === "mtls_mode")
    return `${count} request(s) on ${detection.windowStart.slice(0, 10)} (UTC) while the namespace's effective mTLS mode was PERMISSIVE or DISABLE, or in proven plaintext (${what})`;
  const first = `first seen in ${learning}: ${what}`;
  return options.followUpRules.length === 0 ? first : `${first}; then ${count} events within ${span}`;
}

function deriveDetails(
  { detection, first, ip, country, values, distinct }: DetectionFacts,
  summary: Alert["summary"],
): AlertDetail[] {
  const details: AlertDetail[] = [];
  const add = (key: string, label: string, value: Scalar | undefined) => {
    if (value !== undefined && value !== "") details.push({ key, label, value });
  };
  const audit = first?.kubernetes?.audit;
  if (audit !== undefined) {
    const ref = audit.objectRef;
    if (ref?.resource === "pods" && ref.name !== undefined) {
      add("pod", "Pod", ref.namespace === undefined ? ref.name : `${ref.namespace}/${ref.name}`);
    }
    const exec = first === undefined ? {} : podExecDetails(first);
    add("container", "Container", exec.container ?? first?.kubernetes?.container?.name);
    add("command", "Command", exec.command);
    add("operator", "Operator", kubernetesOperator(audit));
    add("audit_id", "Audit ID", audit.auditID);
    add("time", "Time", first?.["@timestamp"]);
    if (first !== undefined && isMeshPolicyChange(audit)) {
      const change = meshConfigChange(first);
      add("change_kind", "Resource", change.resource);
      add("change", "Change", change.summary);
    }
  }
  add("source_ip", "Source IP", ip);
  add("source_country", "Country", country);
  const { rule, count, value } = detection;
  // Every distinct value of the group-by and the rule's fields, and where it happened, when there is more than
  // what the summary already says.
  for (const path of Object.keys(values)) {
    const list = values[path] ?? [];
    if (path === "source.ip" && list.length === 1 && list[0] === ip) continue;
    if (path.startsWith("kubernetes.audit.")) continue;
    const shown = valueList(list, distinct[path]);
    if (shown === summary.who || shown === summary.to) continue;
    const label = fieldName(path);
    add(`values.${path}`, label.charAt(0).toUpperCase() + label.slice(1), shown);
  }
  if (rule.kind === "silence") {
    add(
      "last_document",
      "Last document",
      first?.["@timestamp"] ?? `none within ${formatDuration(rule.lookbackMs)}`,
    );
    add("silent_after", "Silent after", formatDuration(rule.timespanMs));
    for (const path of rule.groupBy) add(`source.${path}`, path, detection.groupBy[path] ?? "(none)");
  }
  if (rule.kind === "correlation") {
    add("request_count", "Requests", count);
    switch (rule.type) {
      case "failure_ratio":
        add("failure_rate", "Failure rate", formatPercent(value));
        break;
      case "value_count":
        add(
          "distinct_count",
          `Distinct ${rule.field === undefined ? "values" : fieldName(rule.field)}`,
          value,
        );
        break;
      case "percentile":
        add(
          "percentile",
          `p${rule.percentile ?? "?"} ${rule.field ?? ""}`.trim(),
          formatMeasure(rule.field, value),
        );
        break;
      case "temporal":
        add("rules_seen", "Related rules seen", value);
        break;
      case "event_count":
        break;
    }
  }
  return details;
}

function formatPercent(value: number | undefined): string {
  return value === undefined ? "?" : `${(value * 100).toFixed(1)}%`;
}

/** ECS `*.duration` fields are nanoseconds. */
function formatMeasure(field: string | undefined, value: number | undefined): string {
  if (value === undefined) return "?";
  if (field?.endsWith("duration")) return `${(value / 1e9).toFixed(2)} s`;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
