import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import {
  ALERTS_INDEX,
  AUDIT_INDEX_PATTERN,
  INDEXED_AT_FIELD,
  INDEXED_AT_PIPELINE,
} from "../../../../lambdas/core/contracts.js";
import {
  ALERTS_TEMPLATE_PRIORITY,
  alertsProperties,
  buildAlertsIndexTemplate,
} from "../../../../lambdas/core/opensearch/alerts-template.js";
import {
  AUDIT_TEMPLATE_PRIORITY,
  auditProperties,
  buildAuditIndexTemplate,
  buildIndexedAtPipeline,
} from "../../../../lambdas/core/opensearch/audit-template.js";

const ECS_FILE = fileURLToPath(new URL("../../../../lambdas/core/ecs.ts", import.meta.url));

type Mapping = Record<string, unknown> & { properties?: Record<string, Mapping> };

/**
 * Every leaf field path of `EcsDocument`, read from `ecs.ts` with the TypeScript checker, so a field added to the
 * type later fails this test until the template maps it. Open maps (`Record<string, …>`) and `unknown` are leaves.
 */
function ecsFieldPaths(): string[] {
  const program = ts.createProgram([ECS_FILE], { strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(ECS_FILE);
  if (source === undefined) throw new Error(`cannot read ${ECS_FILE}`);
  const root = source.statements.find(
    (statement): statement is ts.InterfaceDeclaration =>
      ts.isInterfaceDeclaration(statement) && statement.name.text === "EcsDocument",
  );
  if (root === undefined) throw new Error("EcsDocument not found in ecs.ts");
  const paths: string[] = [];
  const walk = (type: ts.Type, prefix: string) => {
    let resolved = checker.getNonNullableType(type);
    if (checker.isArrayType(resolved))
      resolved = checker.getTypeArguments(resolved as ts.TypeReference)[0] ?? resolved;
    const isObject =
      (resolved.flags & ts.TypeFlags.Object) !== 0 &&
      checker.getIndexInfosOfType(resolved).length === 0 &&
      resolved.getProperties().length > 0;
    if (!isObject) {
      paths.push(prefix);
      return;
    }
    for (const property of resolved.getProperties()) {
      walk(checker.getTypeOfSymbol(property), prefix === "" ? property.name : `${prefix}.${property.name}`);
    }
  };
  walk(checker.getTypeAtLocation(root), "");
  return paths;
}

/** The mapping node for a dotted path, stopping at a node that holds its subtree as one field. */
function mappingAt(properties: Record<string, Mapping>, path: string): Mapping | undefined {
  const [head, ...rest] = path.split(".");
  const node = properties[head ?? ""];
  if (node === undefined || rest.length === 0) return node;
  if (node.type === "flat_object" || node.enabled === false) return node;
  return node.properties === undefined ? undefined : mappingAt(node.properties, rest.join("."));
}

function allTypes(properties: Record<string, Mapping>): string[] {
  return Object.values(properties).flatMap((node) => [
    ...(typeof node.type === "string" ? [node.type] : []),
    ...(node.properties === undefined ? [] : allTypes(node.properties)),
    ...(typeof node.fields === "object" && node.fields !== null
      ? allTypes(node.fields as Record<string, Mapping>)
      : []),
  ]);
}

describe("audit index template", () => {
  const properties = auditProperties({ indexEventOriginal: false }) as Record<string, Mapping>;

  it("maps every field of EcsDocument", () => {
    // Prepare
    const paths = ecsFieldPaths();

    // Act
    const unmapped = paths.filter((path) => mappingAt(properties, path) === undefined);

    // Assess
    expect(paths.length).toBeGreaterThan(150);
    expect(paths).toEqual(
      expect.arrayContaining([
        "event.original",
        "kubernetes.audit.objectRef.uid",
        "mesh.destination.workload",
      ]),
    );
    expect(unmapped).toEqual([]);
  });

  it.each([
    ["@timestamp", "date"],
    ["event.ingested", "date"],
    ["kubernetes.audit.requestReceivedTimestamp", "date"],
    ["source.ip", "ip"],
    ["destination.ip", "ip"],
    ["related.ip", "ip"],
    ["kubernetes.audit.sourceIPs", "ip"],
    ["source.port", "long"],
    ["http.response.status_code", "long"],
    ["event.duration", "long"],
    ["mesh.mtls", "boolean"],
    ["tls.established", "boolean"],
    ["event.dataset", "keyword"],
    ["rule.name", "keyword"],
    ["user.name", "keyword"],
    ["mesh.source.principal", "keyword"],
    ["kubernetes.audit.verb", "keyword"],
    ["kubernetes.audit.objectRef.resource", "keyword"],
    ["kubernetes.labels", "flat_object"],
  ])("maps %s as %s", (path, type) => {
    // Act and assess
    expect(mappingAt(properties, path)?.type).toBe(type);
  });

  it("stores event.original unindexed by default and as full text when asked", () => {
    // Act
    const stored = mappingAt(properties, "event.original");
    const indexed = mappingAt(
      auditProperties({ indexEventOriginal: true }) as Record<string, Mapping>,
      "event.original",
    );

    // Assess
    expect(stored).toEqual({ type: "keyword", index: false, doc_values: false });
    expect(indexed).toEqual({ type: "text" });
  });

  it("stores the audit request and response objects without mapping them", () => {
    // Act and assess
    expect(mappingAt(properties, "kubernetes.audit.requestObject")).toEqual({
      type: "object",
      enabled: false,
    });
    expect(mappingAt(properties, "kubernetes.audit.responseObject")).toEqual({
      type: "object",
      enabled: false,
    });
  });

  it("uses only field types of the core server (no mapper-extras, no custom analyzer)", () => {
    // Act
    const types = new Set([
      ...allTypes(properties),
      ...allTypes(alertsProperties() as Record<string, Mapping>),
    ]);

    // Assess
    const core = ["keyword", "text", "ip", "date", "long", "double", "boolean", "object", "flat_object"];
    expect([...types].filter((type) => !core.includes(type))).toEqual([]);
    expect(
      JSON.stringify(buildAuditIndexTemplate({ shardCount: 1, replicaCount: 0, indexEventOriginal: true })),
    ).not.toMatch(/analyzer|match_only_text|wildcard|scaled_float/);
  });

  it("takes shards and replicas from the properties and keeps unknown fields out of the mapping", () => {
    // Act
    const template = buildAuditIndexTemplate({
      shardCount: 3,
      replicaCount: 2,
      indexEventOriginal: false,
    }) as {
      index_patterns: string[];
      priority: number;
      template: { settings: Record<string, unknown>; mappings: { dynamic: unknown } };
    };

    // Assess
    expect(template.index_patterns).toEqual([AUDIT_INDEX_PATTERN]);
    expect(template.template.settings["index.number_of_shards"]).toBe(3);
    expect(template.template.settings["index.number_of_replicas"]).toBe(2);
    expect(template.template.mappings.dynamic).toBe(false);
  });

  it("sets no codec and keeps the whole document in _source unless told otherwise", () => {
    // Act
    const template = buildAuditIndexTemplate({
      shardCount: 1,
      replicaCount: 0,
      indexEventOriginal: false,
    }) as {
      template: { settings: Record<string, unknown>; mappings: Record<string, unknown> };
    };

    // Assess
    expect(template.template.settings).not.toHaveProperty("index.codec");
    expect(template.template.mappings._source).toEqual({ excludes: ["audit_trail"] });
  });

  it("sets the stored-fields codec and the fields left out of _source when asked", () => {
    // Act
    const template = buildAuditIndexTemplate({
      shardCount: 1,
      replicaCount: 0,
      indexEventOriginal: false,
      codec: "best_compression",
      sourceExcludes: ["kubernetes.audit.responseObject"],
    }) as { template: { settings: Record<string, unknown>; mappings: Record<string, unknown> } };

    // Assess
    expect(template.template.settings["index.codec"]).toBe("best_compression");
    expect(template.template.mappings._source).toEqual({
      excludes: ["audit_trail", "kubernetes.audit.responseObject"],
    });
  });

  it("stamps every document with the time the node indexed it, searchable but out of _source", () => {
    // Act
    const template = buildAuditIndexTemplate({
      shardCount: 1,
      replicaCount: 0,
      indexEventOriginal: false,
    }) as {
      template: { settings: Record<string, unknown>; mappings: { properties: Record<string, Mapping> } };
    };
    const pipeline = buildIndexedAtPipeline() as { processors: Record<string, unknown>[] };

    // Assess
    expect(template.template.settings["index.final_pipeline"]).toBe(INDEXED_AT_PIPELINE);
    expect(template.template.mappings.properties.audit_trail?.properties?.indexed_at?.type).toBe("date");
    expect(pipeline.processors).toEqual([
      {
        copy: expect.objectContaining({
          source_field: "_ingest.timestamp",
          target_field: INDEXED_AT_FIELD,
          override_target: true,
        }),
      },
    ]);
  });
});

describe("alerts index template", () => {
  it("wins over the audit template for the alerts index, whose name also matches audit-*", () => {
    // Act
    const template = buildAlertsIndexTemplate({ replicaCount: 1 }) as {
      index_patterns: string[];
      priority: number;
    };

    // Assess
    expect(template.index_patterns).toEqual([ALERTS_INDEX]);
    expect(ALERTS_TEMPLATE_PRIORITY).toBeGreaterThan(AUDIT_TEMPLATE_PRIORITY);
  });

  it.each([
    ["id", "keyword"],
    ["rule.name", "keyword"],
    ["rule.level", "keyword"],
    ["rule.tags", "keyword"],
    ["severity", "keyword"],
    ["outbox.status", "keyword"],
    ["outbox.leaseUntil", "date"],
    ["outbox.publishedAt", "date"],
    ["group", "flat_object"],
    ["window.start", "date"],
    ["window.end", "date"],
    ["count", "long"],
  ])("maps %s as %s", (path, type) => {
    // Act and assess
    expect(mappingAt(alertsProperties() as Record<string, Mapping>, path)?.type).toBe(type);
  });
});
