import { describe, expect, it } from "vitest";
import { DEFAULT_INDEX_PATTERN_ID } from "../../../../../lambdas/core/alerts/links.js";
import {
  ALERTS_INDEX_PATTERN,
  ALERTS_ONLY_QUERY,
  AUDIT_EVENTS_INDEX_PATTERN,
  aggregationVisualizationObject,
  buildDashboardsSavedObjects,
  countMetric,
  DASHBOARD_ID,
  dashboardObject,
  indexPatternObject,
  luceneQuery,
  renderSavedObjectsNdjson,
  SAVED_OBJECT_ID_PREFIX,
  type SavedObject,
  termsBucket,
} from "../../../../../lambdas/core/opensearch/index.js";
import {
  type ParsedSavedObject,
  SavedObjectsDefinitionError,
  validateSavedObjects,
} from "./import-schema.js";
import { indexPatternOf, parseNdjson, queryOf } from "./saved-object-queries.js";

const objects = parseNdjson(renderSavedObjectsNdjson(buildDashboardsSavedObjects()));

type Visualization = Extract<ParsedSavedObject, { type: "visualization" }>;

function visualization(suffix: string): Visualization {
  const found = objects.find((object) => object.id === `${SAVED_OBJECT_ID_PREFIX}${suffix}`);
  if (found?.type !== "visualization") throw new Error(`no visualization ${suffix}`);
  return found;
}

function aggsOf(object: Visualization) {
  const visState = object.attributes.visState;
  if (visState.type === "metrics") throw new Error(`${object.id} is TSVB`);
  return visState.aggs;
}

function withReplaced(id: string, replace: (object: SavedObject) => SavedObject): SavedObject[] {
  return buildDashboardsSavedObjects().map((object) => (object.id === id ? replace(object) : object));
}

describe("Dashboards saved objects", () => {
  it("renders one object per line, each valid for its type (index patterns, saved search, visualizations, dashboard)", () => {
    // Act
    const ndjson = renderSavedObjectsNdjson(buildDashboardsSavedObjects());

    // Assess
    const lines = ndjson.trimEnd().split("\n");
    expect(lines).toHaveLength(13);
    expect(lines.map((line) => Object.keys(JSON.parse(line)))).toEqual(
      lines.map(() => ["type", "id", "attributes", "references", "migrationVersion"]),
    );
    const countByType = objects.reduce<Record<string, number>>((counts, object) => {
      counts[object.type] = (counts[object.type] ?? 0) + 1;
      return counts;
    }, {});
    expect(countByType).toEqual({ "index-pattern": 2, search: 1, visualization: 9, dashboard: 1 });
  });

  it("ships a set Dashboards accepts as a whole: every object valid for its type, ids unique, references resolved", () => {
    // Act
    const parsed = validateSavedObjects(buildDashboardsSavedObjects());

    // Assess
    expect(parsed).toHaveLength(13);
  });

  it("keeps the index pattern alert links open Discover on, and leaves the alerts index out of it", () => {
    // Act
    const patterns = objects.filter((object) => object.type === "index-pattern");

    // Assess
    expect(
      patterns.map((object) => [object.id, object.attributes.title, object.attributes.timeFieldName]),
    ).toEqual([
      [DEFAULT_INDEX_PATTERN_ID, "audit-*,-audit-alerts", "@timestamp"],
      ["audit-alerts", "audit-alerts", "@timestamp"],
    ]);
    expect(DEFAULT_INDEX_PATTERN_ID).toBe("audit-*");
    expect(AUDIT_EVENTS_INDEX_PATTERN.fieldFormats?.["event.duration"]).toEqual({
      id: "duration",
      params: { inputFormat: "nanoseconds", outputFormat: "asMilliseconds", outputPrecision: 1 },
    });
  });

  it("has the panels issue 7 asks for, each with the chart and the aggregation that answers it", () => {
    // Auth failures: a time series and a heatmap of 401/403 by caller identity
    const overTime = aggsOf(visualization("auth-failures-over-time"));
    expect(visualization("auth-failures-over-time").attributes.visState.type).toBe("histogram");
    expect(overTime.map((agg) => [agg.type, agg.schema])).toEqual([
      ["count", "metric"],
      ["date_histogram", "segment"],
      ["terms", "group"],
    ]);
    expect(visualization("auth-failures-heatmap").attributes.visState.type).toBe("heatmap");
    expect(aggsOf(visualization("auth-failures-heatmap")).at(-1)?.params).toMatchObject({
      field: "mesh.source.principal",
    });

    // mTLS status: a pie of mutual TLS, plaintext, not reported
    const mtls = aggsOf(visualization("mtls-status"));
    expect(visualization("mtls-status").attributes.visState.type).toBe("pie");
    expect(mtls[1]?.type === "filters" ? mtls[1].params.filters.map((filter) => filter.label) : []).toEqual([
      "mutual TLS",
      "plaintext",
      "not reported",
    ]);

    // Top callers: a bar per caller identity
    expect(visualization("top-callers").attributes.visState.type).toBe("horizontal_bar");
    expect(aggsOf(visualization("top-callers"))[1]?.params).toMatchObject({ field: "mesh.source.principal" });

    // Latency p99: a line of the 99th percentile of event.duration
    expect(visualization("latency-p99").attributes.visState.type).toBe("line");
    expect(aggsOf(visualization("latency-p99"))[0]).toMatchObject({
      type: "percentiles",
      params: { field: "event.duration", percents: [99] },
    });

    // Error rate: a TSVB gauge of the 4xx+5xx share, and the same share per destination service
    const gauge = visualization("error-rate").attributes.visState;
    const byService = visualization("error-rate-by-service").attributes.visState;
    expect(
      gauge.type === "metrics" ? [gauge.params.type, gauge.params.series[0]?.metrics[0]?.type] : [],
    ).toEqual(["gauge", "filter_ratio"]);
    expect(byService.type === "metrics" ? byService.params.series[0]?.terms_field : undefined).toBe(
      "mesh.destination.service",
    );

    // Sensitive data access: a table built on the saved search of sensitive reads
    const table = visualization("sensitive-data-access");
    expect(table.attributes.visState.type).toBe("table");
    expect(table.references).toEqual([
      { name: "search_0", type: "search", id: `${SAVED_OBJECT_ID_PREFIX}sensitive-reads` },
    ]);

    // Alerts over time: on the alerts index pattern, per severity
    const alerts = visualization("alerts-over-time");
    expect(indexPatternOf(objects, alerts).id).toBe(ALERTS_INDEX_PATTERN.id);
    expect(aggsOf(alerts).map((agg) => ("field" in agg.params ? agg.params.field : agg.type))).toEqual([
      "count",
      "@timestamp",
      "severity",
    ]);
  });

  it("leaves the detector's baseline documents (baseline.<rule>, no rule.name) out of every object on the alerts index", () => {
    // Prepare
    const onAlerts = objects.flatMap((object) =>
      (object.type === "visualization" || object.type === "search") &&
      indexPatternOf(objects, object).id === ALERTS_INDEX_PATTERN.id
        ? [object]
        : [],
    );

    // Act
    const queries = onAlerts.map((object) => [object.id, queryOf(objects, object)]);

    // Assess
    expect(onAlerts.length).toBeGreaterThan(0);
    expect(queries).toEqual(
      onAlerts.map((object) => [object.id, { query: ALERTS_ONLY_QUERY, language: "lucene" }]),
    );
    expect(ALERTS_ONLY_QUERY).toBe("_exists_:rule.name");
  });

  it("resolves every reference to an object of the set, and shows every visualization and search on the dashboard", () => {
    // Prepare
    const keys = new Set(objects.map((object) => `${object.type}/${object.id}`));
    const dashboard = objects.find((object) => object.type === "dashboard");
    if (dashboard?.type !== "dashboard") throw new Error("no dashboard");

    // Act
    const unresolved = objects.flatMap((object) =>
      object.references
        .filter((reference) => !keys.has(`${reference.type}/${reference.id}`))
        .map((reference) => `${object.id} → ${reference.type}/${reference.id}`),
    );
    const panelTargets = dashboard.attributes.panelsJSON.map((panel) => {
      const reference = dashboard.references.find((candidate) => candidate.name === panel.panelRefName);
      return `${reference?.type}/${reference?.id}`;
    });
    const tsvbIndices = objects.flatMap((object) =>
      object.type === "visualization" && object.attributes.visState.type === "metrics"
        ? [indexPatternOf(objects, object).id]
        : [],
    );

    // Assess
    expect(unresolved).toEqual([]);
    expect(dashboard.id).toBe(DASHBOARD_ID);
    expect(panelTargets.sort()).toEqual(
      objects
        .filter((object) => object.type === "visualization" || object.type === "search")
        .map((object) => `${object.type}/${object.id}`)
        .sort(),
    );
    expect(tsvbIndices).toEqual([AUDIT_EVENTS_INDEX_PATTERN.id, AUDIT_EVENTS_INDEX_PATTERN.id]);
    for (const object of objects)
      expect(object.id.startsWith(SAVED_OBJECT_ID_PREFIX) || object.type === "index-pattern").toBe(true);
  });

  it("places the panels on the 48-column grid without overlap", () => {
    // Prepare
    const dashboard = objects.find((object) => object.type === "dashboard");
    if (dashboard?.type !== "dashboard") throw new Error("no dashboard");
    const cells = new Map<string, string>();

    // Act
    const overlaps: string[] = [];
    for (const panel of dashboard.attributes.panelsJSON) {
      const { x, y, w, h } = panel.gridData;
      for (let column = x; column < x + w; column += 1) {
        for (let row = y; row < y + h; row += 1) {
          const taken = cells.get(`${column},${row}`);
          if (taken !== undefined) overlaps.push(`${panel.panelRefName} over ${taken} at ${column},${row}`);
          cells.set(`${column},${row}`, panel.panelRefName);
        }
      }
    }

    // Assess
    expect(overlaps).toEqual([]);
  });

  it("refuses a dashboard panel whose visualization is not in the set, naming both", () => {
    // Prepare
    const orphan = aggregationVisualizationObject({
      id: "mesh-audit-trail-orphan",
      title: "Orphan",
      description: "",
      chart: "pie",
      params: {},
      aggs: [countMetric("1")],
      source: { indexPattern: AUDIT_EVENTS_INDEX_PATTERN, query: luceneQuery("*") },
    });
    const objectsWithDanglingPanel = withReplaced(DASHBOARD_ID, () =>
      dashboardObject({
        id: DASHBOARD_ID,
        title: "Mesh audit trail",
        description: "",
        timeFrom: "now-24h",
        timeTo: "now",
        refreshIntervalMs: 0,
        panels: [{ object: orphan, grid: { x: 0, y: 0, w: 24, h: 10 } }],
      }),
    );

    // Act and assess
    expect(() => validateSavedObjects(objectsWithDanglingPanel)).toThrow(
      'dashboard "mesh-audit-trail-overview" reference "panel_0" points to visualization "mesh-audit-trail-orphan", which is not in the set',
    );
  });

  it("refuses a TSVB panel with a key Dashboards' TSVB schema does not know", () => {
    // Prepare
    const id = `${SAVED_OBJECT_ID_PREFIX}error-rate`;
    const broken = withReplaced(id, (object) => {
      const visState = JSON.parse(String(object.attributes.visState));
      visState.params.gauge_colour = "red";
      return { ...object, attributes: { ...object.attributes, visState: JSON.stringify(visState) } };
    });

    // Act and assess
    expect(() => validateSavedObjects(broken)).toThrow(
      /visualization "mesh-audit-trail-error-rate" attributes\.visState\.params: Unrecognized key: "gauge_colour"$/,
    );
  });

  it("refuses a terms aggregation ordered by a metric the chart does not have", () => {
    // Prepare
    const chart = aggregationVisualizationObject({
      id: "mesh-audit-trail-bad-order",
      title: "Bad order",
      description: "",
      chart: "table",
      params: {},
      aggs: [
        countMetric("1"),
        termsBucket("2", "bucket", "mesh.name", {
          size: 5,
          order: { byMetric: "7", direction: "desc" },
          label: "Mesh",
        }),
      ],
      source: { indexPattern: AUDIT_EVENTS_INDEX_PATTERN, query: luceneQuery("*") },
    });

    // Act and assess
    expect(() => validateSavedObjects([indexPatternObject(AUDIT_EVENTS_INDEX_PATTERN), chart])).toThrow(
      /aggs\.1\.params\.orderBy: orders by "7"/,
    );
  });

  it("refuses the same object twice and a visState that is not JSON", () => {
    // Prepare
    const pattern = indexPatternObject(ALERTS_INDEX_PATTERN);
    const [first] = buildDashboardsSavedObjects().filter((object) => object.type === "visualization");
    if (first === undefined) throw new Error("no visualization");
    const notJson = { ...first, attributes: { ...first.attributes, visState: "{title:" } };

    // Act and assess
    expect(() => validateSavedObjects([pattern, pattern])).toThrow(
      "index-pattern/audit-alerts appears twice",
    );
    expect(() => validateSavedObjects([notJson])).toThrow(SavedObjectsDefinitionError);
    expect(() => validateSavedObjects([notJson])).toThrow(/visState: not JSON/);
  });
});
