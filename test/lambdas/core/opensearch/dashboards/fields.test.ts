import { describe, expect, it } from "vitest";
import {
  AUDIT_EVENTS_INDEX_PATTERN,
  aggregationVisualizationObject,
  alertsProperties,
  auditProperties,
  buildDashboardsSavedObjects,
  cardinalityMetric,
  countMetric,
  ERROR_RATE_ALERT_THRESHOLD,
  indexPatternObject,
  LATENCY_P99_ALERT_THRESHOLD_NS,
  luceneQuery,
  renderSavedObjectsNdjson,
  SENSITIVE_READ_RULES,
  termsBucket,
} from "../../../../../lambdas/core/opensearch/index.js";
import { loadRulePack } from "../../../../../lambdas/core/rules/index.js";
import {
  type FieldUse,
  type FieldUseKind,
  fieldUses,
  luceneFieldUses,
  parseNdjson,
} from "./saved-object-queries.js";

type Mapping = Readonly<Record<string, unknown>>;

/** Every field path of a mapping (sub-fields of multi-fields included) with its mapping. */
function flatten(properties: Readonly<Record<string, Mapping>>, prefix = ""): Map<string, Mapping> {
  const fields = new Map<string, Mapping>();
  for (const [name, mapping] of Object.entries(properties)) {
    const path = `${prefix}${name}`;
    const nested = mapping.properties as Record<string, Mapping> | undefined;
    if (nested !== undefined) {
      for (const [child, childMapping] of flatten(nested, `${path}.`)) fields.set(child, childMapping);
      continue;
    }
    fields.set(path, mapping);
    const multi = mapping.fields as Record<string, Mapping> | undefined;
    for (const [sub, subMapping] of Object.entries(multi ?? {})) fields.set(`${path}.${sub}`, subMapping);
  }
  return fields;
}

const AGGREGATABLE = ["keyword", "long", "double", "boolean", "ip", "date"];

/** Field types each use works on: aggregations and sorting need doc values (never `text`). */
const TYPES_FOR: Record<FieldUseKind, readonly string[]> = {
  terms: AGGREGATABLE,
  cardinality: AGGREGATABLE,
  sort: AGGREGATABLE,
  date_histogram: ["date"],
  "time field": ["date"],
  percentiles: ["long", "double"],
  max: ["long", "double", "date"],
  "term query": AGGREGATABLE,
  "range query": ["long", "double", "date", "ip"],
  "exists query": [...AGGREGATABLE, "text", "flat_object"],
  column: [...AGGREGATABLE, "text"],
  "field format": ["long", "double"],
};

const NEEDS_DOC_VALUES: ReadonlySet<FieldUseKind> = new Set([
  "terms",
  "cardinality",
  "sort",
  "date_histogram",
  "percentiles",
  "max",
]);

const MAPPINGS: Readonly<Record<string, Map<string, Mapping>>> = {
  "audit-*": flatten(auditProperties({ indexEventOriginal: false })),
  "audit-alerts": flatten(alertsProperties()),
};

/** What is wrong with each use: no such index pattern, no such field, or a type that cannot serve the use. */
function mappingProblems(uses: readonly FieldUse[]): string[] {
  const problems: string[] = [];
  for (const use of uses) {
    const where = `${use.objectId}: ${use.kind} on ${use.field}`;
    const fields = MAPPINGS[use.indexPatternId];
    if (fields === undefined) {
      problems.push(`${where}: index pattern ${use.indexPatternId} has no known mapping`);
      continue;
    }
    const mapping = fields.get(use.field);
    if (mapping === undefined) {
      problems.push(`${where}: not in the mapping of ${use.indexPatternId}`);
      continue;
    }
    const type = String(mapping.type);
    if (!TYPES_FOR[use.kind].includes(type)) problems.push(`${where}: the field is ${type}`);
    if (mapping.index === false && use.kind !== "column") problems.push(`${where}: the field is not indexed`);
    if (mapping.doc_values === false && NEEDS_DOC_VALUES.has(use.kind)) {
      problems.push(`${where}: the field has no doc values`);
    }
  }
  return problems;
}

const objects = parseNdjson(renderSavedObjectsNdjson(buildDashboardsSavedObjects()));

describe("fields the saved objects use", () => {
  it("exist in our index mappings with a type that supports each aggregation, filter and sort", () => {
    // Act
    const uses = fieldUses(objects);

    // Assess
    expect(mappingProblems(uses)).toEqual([]);
    const usedFields = new Set(uses.map((use) => use.field));
    for (const field of [
      "http.response.status_code",
      "mesh.mtls",
      "mesh.source.principal",
      "event.duration",
      "mesh.destination.service",
      "rule.name",
      "severity",
      "@timestamp",
    ]) {
      expect(usedFields).toContain(field);
    }
  });

  it("finds a text field aggregated and a field the mapping lacks", () => {
    // Prepare: a chart counting by a full-text sub-field, filtered on a field no parser writes
    const broken = aggregationVisualizationObject({
      id: "mesh-audit-trail-broken",
      title: "Broken",
      description: "",
      chart: "table",
      params: {},
      aggs: [
        countMetric("1"),
        cardinalityMetric("2", "event.original", "Originals"),
        termsBucket("3", "bucket", "user_agent.original.text", {
          size: 5,
          order: { byCount: "desc" },
          label: "UA",
        }),
      ],
      source: { indexPattern: AUDIT_EVENTS_INDEX_PATTERN, query: luceneQuery("mesh.caller:web") },
    });
    const set = parseNdjson(
      renderSavedObjectsNdjson([indexPatternObject(AUDIT_EVENTS_INDEX_PATTERN), broken]),
    );

    // Act
    const problems = mappingProblems(fieldUses(set));

    // Assess
    expect(problems).toEqual([
      "mesh-audit-trail-broken: term query on mesh.caller: not in the mapping of audit-*",
      "mesh-audit-trail-broken: cardinality on event.original: the field is not indexed",
      "mesh-audit-trail-broken: cardinality on event.original: the field has no doc values",
      "mesh-audit-trail-broken: terms on user_agent.original.text: the field is text",
    ]);
  });

  it("reads fields out of Lucene queries the way Dashboards sends them", () => {
    // Act
    const uses = luceneFieldUses(
      '_exists_:mesh.name AND NOT mesh.direction:"outbound" AND http.response.status_code:[400 TO 599] AND rule.name:("a" OR "b")',
    );

    // Assess
    expect(uses).toEqual([
      { field: "mesh.name", kind: "exists query" },
      { field: "mesh.direction", kind: "term query" },
      { field: "http.response.status_code", kind: "range query" },
      { field: "rule.name", kind: "term query" },
    ]);
  });

  it("tags sensitive reads and draws thresholds from the default rule pack's own definitions", async () => {
    // Prepare
    const pack = await loadRulePack(["rules"]);
    const byName = (name: string) => pack.correlationRules.find((rule) => rule.name === name);

    // Act
    const bulkRead = byName("mesh_bulk_data_access");
    const errorRate = byName("mesh_error_rate_high");
    const latency = byName("mesh_latency_p99_high");

    // Assess
    expect(bulkRead?.rules).toEqual(SENSITIVE_READ_RULES);
    expect(errorRate?.condition.gt).toBe(ERROR_RATE_ALERT_THRESHOLD);
    expect(latency?.condition.gt).toBe(LATENCY_P99_ALERT_THRESHOLD_NS);
    expect([latency?.field, latency?.percentile]).toEqual(["event.duration", 99]);
  });
});
