/**
 * The saved objects the bootstrap imports into OpenSearch Dashboards: two index patterns (audit events, alerts), the
 * "Mesh audit trail" dashboard and what it shows. What each panel means and how to use it: `docs/dashboards.md`.
 *
 * Mesh panels count each request once, on the server side (the client sidecar's `outbound` record of the same
 * request is left out), as the rules `mesh_http_request` and `mesh_http_error` do. Kubernetes API audit events
 * have no `mesh.*` fields and stay out of the mesh panels.
 */
import { DEFAULT_INDEX_PATTERN_ID } from "../../alerts/links.js";
import { ALERTS_INDEX, AUDIT_INDEX_PATTERN } from "../../contracts.js";
import { anyOf, between, equals, exists, type LuceneClause, lucene, MATCH_ALL, not } from "./lucene.js";
import {
  aggregationVisualizationObject,
  dashboardObject,
  type IndexPatternSpec,
  indexPatternObject,
  luceneQuery,
  type SavedObject,
  type SavedSearchSpec,
  savedSearchObject,
  timeSeriesVisualizationObject,
} from "./saved-objects.js";
import {
  cardinalityMetric,
  countMetric,
  dateHistogramBucket,
  filtersBucket,
  heatmapParams,
  maxMetric,
  percentilesMetric,
  pieParams,
  ratioSeries,
  tableParams,
  termsBucket,
  timeSeriesPanel,
  xyChartParams,
} from "./visualizations.js";

/** Prefix of every saved-object id this stack owns (the import overwrites exactly these). */
export const SAVED_OBJECT_ID_PREFIX = "mesh-audit-trail-";

/**
 * The audit events: `audit-*` without the alerts index. Its id stays `audit-*`, the index pattern alert links open
 * Discover on (`DEFAULT_INDEX_PATTERN_ID`). `event.duration` (nanoseconds) displays as milliseconds.
 */
export const AUDIT_EVENTS_INDEX_PATTERN: IndexPatternSpec = {
  id: DEFAULT_INDEX_PATTERN_ID,
  title: `${AUDIT_INDEX_PATTERN},-${ALERTS_INDEX}`,
  timeField: "@timestamp",
  fieldFormats: {
    "event.duration": {
      id: "duration",
      params: { inputFormat: "nanoseconds", outputFormat: "asMilliseconds", outputPrecision: 1 },
    },
  },
};

/**
 * The alerts the detector writes. The same index holds each behavioural rule's baseline (`_id` `baseline.<rule>`,
 * no `rule.name`, no `@timestamp`): every object on this index pattern queries `ALERTS_ONLY_QUERY`.
 */
export const ALERTS_INDEX_PATTERN: IndexPatternSpec = {
  id: ALERTS_INDEX,
  title: ALERTS_INDEX,
  timeField: "@timestamp",
};

/** Alerts only: every alert names its rule, a baseline document does not. */
export const ALERTS_ONLY_QUERY = lucene(exists("rule.name"));

/**
 * The single-event rules the transform tags a sensitive read with: the building block of `mesh_bulk_data_access`
 * (a successful GET/HEAD of a path in the environment's `sensitive_paths`).
 */
export const SENSITIVE_READ_RULES: readonly string[] = ["mesh_sensitive_read"];

/** The default threshold of `mesh_error_rate_high` (4xx+5xx share): the gauge turns red from here. */
export const ERROR_RATE_ALERT_THRESHOLD = 0.05;

/** The default threshold of `mesh_latency_p99_high` in nanoseconds (5 s): the dashed line of the latency chart. */
export const LATENCY_P99_ALERT_THRESHOLD_NS = 5_000_000_000;

const SERVER_SIDE: LuceneClause = not(equals("mesh.direction", "outbound"));
/** Mesh traffic, each request or connection once. */
const MESH_TRAFFIC: readonly LuceneClause[] = [exists("mesh.name"), SERVER_SIDE];
/** Mesh HTTP requests that got a response, each once. */
const MESH_HTTP_RESPONSES: readonly LuceneClause[] = [...MESH_TRAFFIC, exists("http.response.status_code")];
const STATUS = "http.response.status_code";

/** A split by the calling workload identity, the busiest `size` first. */
function byCallerIdentity(id: string, schema: "segment" | "group" | "bucket", size: number) {
  return termsBucket(id, schema, "mesh.source.principal", {
    size,
    order: { byMetric: "1", direction: "desc" },
    label: "Caller identity",
  });
}

/** A stacked histogram of counts over time (`@timestamp`), one colour per value of `split`. */
function stackedCountsOverTime(spec: {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  /** What is counted, as the series and the value axis say it. */
  readonly counted: string;
  readonly split: ReturnType<typeof termsBucket>;
  readonly source: Parameters<typeof aggregationVisualizationObject>[0]["source"];
}): SavedObject {
  return aggregationVisualizationObject({
    id: spec.id,
    title: spec.title,
    description: spec.description,
    chart: "histogram",
    params: xyChartParams({
      seriesType: "histogram",
      stacked: true,
      series: [{ metricId: "1", label: spec.counted }],
      valueAxisTitle: spec.counted,
    }),
    aggs: [countMetric("1", spec.counted), dateHistogramBucket("2", "segment", "@timestamp"), spec.split],
    source: spec.source,
  });
}

const RED = "#E7664C";
const GREEN = "#54B399";

const sensitiveReads: SavedSearchSpec = {
  id: `${SAVED_OBJECT_ID_PREFIX}sensitive-reads`,
  title: "Mesh audit trail: sensitive data reads",
  description:
    "Every successful read of a sensitive path (documents tagged by mesh_sensitive_read), newest first: who read what, from where.",
  indexPattern: AUDIT_EVENTS_INDEX_PATTERN,
  query: luceneQuery(lucene(anyOf("rule.name", SENSITIVE_READ_RULES))),
  columns: [
    "mesh.source.principal",
    "source.ip",
    "http.request.method",
    "url.path",
    "mesh.destination.service",
    "http.response.status_code",
  ],
  sort: [["@timestamp", "desc"]],
};

const authFailuresOverTime = stackedCountsOverTime({
  id: `${SAVED_OBJECT_ID_PREFIX}auth-failures-over-time`,
  title: "Mesh auth failures (401/403) over time",
  description: "Mesh requests answered 401 (not authenticated) or 403 (not authorized), per status code.",
  counted: "Requests",
  split: termsBucket("3", "group", STATUS, { size: 2, order: { byKey: "asc" }, label: "Status" }),
  source: {
    indexPattern: AUDIT_EVENTS_INDEX_PATTERN,
    query: luceneQuery(lucene(...MESH_HTTP_RESPONSES, anyOf(STATUS, [401, 403]))),
  },
});

const authFailuresByCaller = aggregationVisualizationObject({
  id: `${SAVED_OBJECT_ID_PREFIX}auth-failures-heatmap`,
  title: "Mesh auth failures by caller identity",
  description:
    "401/403 responses per calling workload identity over time: a dark row is one identity probing.",
  chart: "heatmap",
  params: heatmapParams("Reds"),
  aggs: [
    countMetric("1", "Auth failures"),
    dateHistogramBucket("2", "segment", "@timestamp"),
    byCallerIdentity("3", "group", 10),
  ],
  source: {
    indexPattern: AUDIT_EVENTS_INDEX_PATTERN,
    query: luceneQuery(lucene(...MESH_HTTP_RESPONSES, anyOf(STATUS, [401, 403]))),
  },
});

const mtlsStatus = aggregationVisualizationObject({
  id: `${SAVED_OBJECT_ID_PREFIX}mtls-status`,
  title: "Mesh mTLS status",
  description:
    "Share of mesh traffic that was mutually authenticated, plaintext, or from a source that does not report it.",
  chart: "pie",
  params: pieParams(),
  aggs: [
    countMetric("1", "Requests and connections"),
    filtersBucket("2", "segment", [
      { label: "mutual TLS", query: lucene(equals("mesh.mtls", true)) },
      { label: "plaintext", query: lucene(equals("mesh.mtls", false)) },
      { label: "not reported", query: lucene(not(exists("mesh.mtls"))) },
    ]),
  ],
  source: { indexPattern: AUDIT_EVENTS_INDEX_PATTERN, query: luceneQuery(lucene(...MESH_TRAFFIC)) },
});

const topCallers = aggregationVisualizationObject({
  id: `${SAVED_OBJECT_ID_PREFIX}top-callers`,
  title: "Top mesh callers",
  description: "The calling workload identities with the most requests.",
  chart: "horizontal_bar",
  params: xyChartParams({
    seriesType: "histogram",
    horizontal: true,
    series: [{ metricId: "1", label: "Requests" }],
    valueAxisTitle: "Requests",
  }),
  aggs: [countMetric("1", "Requests"), byCallerIdentity("2", "segment", 15)],
  source: { indexPattern: AUDIT_EVENTS_INDEX_PATTERN, query: luceneQuery(lucene(...MESH_TRAFFIC)) },
});

const latencyP99 = aggregationVisualizationObject({
  id: `${SAVED_OBJECT_ID_PREFIX}latency-p99`,
  title: "Mesh latency p99 by destination service",
  description:
    "99th percentile of request duration for the five busiest destination services; the dashed line is the mesh_latency_p99_high threshold (5 s).",
  chart: "line",
  params: xyChartParams({
    seriesType: "line",
    series: [{ metricId: "1", label: "p99 duration" }],
    valueAxisTitle: "p99 duration",
    threshold: { value: LATENCY_P99_ALERT_THRESHOLD_NS, color: RED },
  }),
  aggs: [
    percentilesMetric("1", "event.duration", [99], "p99 duration"),
    dateHistogramBucket("2", "segment", "@timestamp"),
    termsBucket("3", "group", "mesh.destination.service", {
      size: 5,
      order: { byCount: "desc" },
      label: "Destination service",
    }),
  ],
  source: {
    indexPattern: AUDIT_EVENTS_INDEX_PATTERN,
    query: luceneQuery(lucene(...MESH_HTTP_RESPONSES, exists("event.duration"))),
  },
});

const errorRatio = {
  numerator: lucene(between(STATUS, 400, 599)),
  denominator: MATCH_ALL,
};
/** What both error-rate panels read (the mesh's HTTP responses) and how they colour (red from the alert threshold). */
const errorRatePanel = {
  indexPattern: AUDIT_EVENTS_INDEX_PATTERN.title,
  timeField: AUDIT_EVENTS_INDEX_PATTERN.timeField,
  filter: lucene(...MESH_HTTP_RESPONSES),
  bands: [
    { id: "ok", from: 0, color: GREEN },
    { id: "alerting", from: ERROR_RATE_ALERT_THRESHOLD, color: RED },
  ],
};

const errorRateGauge = timeSeriesVisualizationObject({
  id: `${SAVED_OBJECT_ID_PREFIX}error-rate`,
  title: "Mesh error rate (4xx + 5xx)",
  description:
    "Share of mesh responses with status 400-599 over the selected time range; red from the mesh_error_rate_high threshold (5 %). Filter the dashboard on mesh.destination.service for one service.",
  panel: timeSeriesPanel({
    id: "error-rate-gauge",
    type: "gauge",
    ...errorRatePanel,
    series: [
      ratioSeries({ id: "error-rate", label: "Error rate", ratio: { id: "error-ratio", ...errorRatio } }),
    ],
    gaugeMax: 0.2,
  }),
});

const errorRateByService = timeSeriesVisualizationObject({
  id: `${SAVED_OBJECT_ID_PREFIX}error-rate-by-service`,
  title: "Mesh error rate by destination service",
  description:
    "Share of 4xx + 5xx responses for the ten busiest destination services over the selected time range; red bars are above the mesh_error_rate_high threshold.",
  panel: timeSeriesPanel({
    id: "error-rate-by-service",
    type: "top_n",
    ...errorRatePanel,
    series: [
      ratioSeries({
        id: "error-rate-per-service",
        label: "Error rate",
        ratio: { id: "error-ratio-per-service", ...errorRatio },
        splitByTerms: { field: "mesh.destination.service", size: 10 },
      }),
    ],
  }),
});

const sensitiveAccess = aggregationVisualizationObject({
  id: `${SAVED_OBJECT_ID_PREFIX}sensitive-data-access`,
  title: "Sensitive data access by identity",
  description:
    "Who read sensitive paths, from which service, how many reads of how many distinct paths, and when last.",
  chart: "table",
  params: tableParams(20),
  aggs: [
    countMetric("1", "Reads"),
    cardinalityMetric("2", "url.path", "Distinct paths"),
    maxMetric("3", "@timestamp", "Last read"),
    byCallerIdentity("4", "bucket", 20),
    termsBucket("5", "bucket", "mesh.destination.service", {
      size: 5,
      order: { byMetric: "1", direction: "desc" },
      label: "Destination service",
    }),
  ],
  source: { savedSearch: sensitiveReads },
});

const alertsOverTime = stackedCountsOverTime({
  id: `${SAVED_OBJECT_ID_PREFIX}alerts-over-time`,
  title: "Alerts over time by severity",
  description: "Alerts the detector raised (the audit-alerts index), per severity.",
  counted: "Alerts",
  split: termsBucket("3", "group", "severity", {
    size: 5,
    order: { byMetric: "1", direction: "desc" },
    label: "Severity",
  }),
  source: { indexPattern: ALERTS_INDEX_PATTERN, query: luceneQuery(ALERTS_ONLY_QUERY) },
});

const sensitiveReadsSearch = savedSearchObject(sensitiveReads);

/** The dashboard's id (`/app/dashboards#/view/<id>`). */
export const DASHBOARD_ID = `${SAVED_OBJECT_ID_PREFIX}overview`;

const dashboard = dashboardObject({
  id: DASHBOARD_ID,
  title: "Mesh audit trail",
  description:
    "Service-mesh access and authorization at a glance: auth failures, mTLS, callers, latency, errors, sensitive reads and alerts. Panel guide: docs/dashboards.md.",
  timeFrom: "now-24h",
  timeTo: "now",
  refreshIntervalMs: 60_000,
  panels: [
    { object: authFailuresOverTime, grid: { x: 0, y: 0, w: 24, h: 13 } },
    { object: authFailuresByCaller, grid: { x: 24, y: 0, w: 24, h: 13 } },
    { object: mtlsStatus, grid: { x: 0, y: 13, w: 12, h: 13 } },
    { object: errorRateGauge, grid: { x: 12, y: 13, w: 12, h: 13 } },
    { object: latencyP99, grid: { x: 24, y: 13, w: 24, h: 13 } },
    { object: topCallers, grid: { x: 0, y: 26, w: 24, h: 14 } },
    { object: errorRateByService, grid: { x: 24, y: 26, w: 24, h: 14 } },
    { object: sensitiveAccess, grid: { x: 0, y: 40, w: 24, h: 15 } },
    { object: alertsOverTime, grid: { x: 24, y: 40, w: 24, h: 15 } },
    { object: sensitiveReadsSearch, grid: { x: 0, y: 55, w: 48, h: 15 } },
  ],
});

/**
 * Every saved object to import, each after what it references: index patterns, the saved search, the
 * visualizations, the dashboard.
 */
export function buildDashboardsSavedObjects(): SavedObject[] {
  return [
    indexPatternObject(AUDIT_EVENTS_INDEX_PATTERN),
    indexPatternObject(ALERTS_INDEX_PATTERN),
    sensitiveReadsSearch,
    authFailuresOverTime,
    authFailuresByCaller,
    mtlsStatus,
    errorRateGauge,
    latencyP99,
    topCallers,
    errorRateByService,
    sensitiveAccess,
    alertsOverTime,
    dashboard,
  ];
}
