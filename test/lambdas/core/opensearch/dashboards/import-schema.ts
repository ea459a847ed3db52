/**
 * Test oracle. What OpenSearch Dashboards 2.x accepts on import, per saved-object type, as zod schemas: the object envelope, the
 * attributes, and the JSON documents kept as strings inside them (`visState`, `searchSourceJSON`, `panelsJSON`,
 * `fieldFormatMap`), parsed and checked too. The TSVB panel model lists exactly the keys of Dashboards' own TSVB
 * schema (`vis_type_timeseries/common/vis_schema.ts`), which refuses any other key when the panel is rendered.
 *
 * `validateSavedObjects` runs them over a whole import set and also checks that ids are unique and that every
 * reference names an object of the set.
 */
import * as z from "zod";
import {
  MIGRATION_VERSIONS,
  SAVED_SEARCH_REF,
  type SavedObject,
  SEARCH_SOURCE_INDEX_REF,
} from "../../../../../lambdas/core/opensearch/dashboards/saved-objects.js";

/** A JSON document stored as a string attribute, parsed and checked against `schema`. */
function jsonText<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        context.addIssue({
          code: "custom",
          message: `not JSON: ${error instanceof Error ? error.message : String(error)}`,
        });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

const id = z.string().regex(/^[A-Za-z0-9*._-]+$/, "ids are letters, digits and . _ - *");
const title = z.string().min(1);

export const referenceSchema = z.strictObject({
  name: z.string().min(1),
  type: z.enum(["index-pattern", "visualization", "search", "dashboard"]),
  id,
});

export const queryObjectSchema = z.strictObject({
  query: z.string(),
  language: z.enum(["lucene", "kuery"]),
});

export const searchSourceSchema = z.strictObject({
  query: queryObjectSchema.optional(),
  filter: z.array(z.unknown()),
  indexRefName: z.literal(SEARCH_SOURCE_INDEX_REF).optional(),
  highlightAll: z.boolean().optional(),
  version: z.boolean().optional(),
});

const field = z.string().min(1);
const customLabel = z.string().optional();

/** The aggregation types the visualizations use, with the parameters Dashboards requires of each. */
export const aggSchema = z.discriminatedUnion("type", [
  z.strictObject({
    id: z.string().regex(/^\d+$/),
    enabled: z.literal(true),
    type: z.literal("count"),
    schema: z.literal("metric"),
    params: z.strictObject({ customLabel }),
  }),
  z.strictObject({
    id: z.string().regex(/^\d+$/),
    enabled: z.literal(true),
    type: z.literal("percentiles"),
    schema: z.literal("metric"),
    params: z.strictObject({ field, percents: z.array(z.number().gt(0).lte(100)).min(1), customLabel }),
  }),
  z.strictObject({
    id: z.string().regex(/^\d+$/),
    enabled: z.literal(true),
    type: z.enum(["cardinality", "max", "min", "avg", "sum"]),
    schema: z.literal("metric"),
    params: z.strictObject({ field, customLabel }),
  }),
  z.strictObject({
    id: z.string().regex(/^\d+$/),
    enabled: z.literal(true),
    type: z.literal("date_histogram"),
    schema: z.enum(["segment", "group", "split", "bucket"]),
    params: z.strictObject({
      field,
      useNormalizedOpenSearchInterval: z.boolean(),
      scaleMetricValues: z.boolean(),
      interval: z.string().min(1),
      drop_partials: z.boolean(),
      min_doc_count: z.number().int().min(0),
      extended_bounds: z.strictObject({}),
      customLabel,
    }),
  }),
  z.strictObject({
    id: z.string().regex(/^\d+$/),
    enabled: z.literal(true),
    type: z.literal("terms"),
    schema: z.enum(["segment", "group", "split", "bucket"]),
    params: z.strictObject({
      field,
      size: z.number().int().min(1).max(500),
      orderBy: z.string().min(1),
      order: z.enum(["asc", "desc"]),
      orderAgg: z
        .strictObject({
          id: z.string().min(1),
          enabled: z.literal(true),
          type: z.literal("count"),
          schema: z.literal("orderAgg"),
          params: z.strictObject({}),
        })
        .optional(),
      otherBucket: z.boolean(),
      otherBucketLabel: z.string(),
      missingBucket: z.boolean(),
      missingBucketLabel: z.string(),
      customLabel,
    }),
  }),
  z.strictObject({
    id: z.string().regex(/^\d+$/),
    enabled: z.literal(true),
    type: z.literal("filters"),
    schema: z.enum(["segment", "group", "split", "bucket"]),
    params: z.strictObject({
      filters: z.array(z.strictObject({ input: queryObjectSchema, label: z.string().min(1) })).min(1),
      customLabel,
    }),
  }),
]);

export type AggSchema = z.infer<typeof aggSchema>;

/** `visState` of an aggregation-based visualization. */
export const aggregationVisStateSchema = z
  .strictObject({
    title,
    type: z.enum(["line", "area", "histogram", "horizontal_bar", "heatmap", "pie", "table"]),
    aggs: z.array(aggSchema).min(1),
    params: z.record(z.string(), z.unknown()),
  })
  .superRefine((visState, context) => {
    const ids = visState.aggs.map((agg) => agg.id);
    const metrics = new Set(visState.aggs.filter((agg) => agg.schema === "metric").map((agg) => agg.id));
    if (metrics.size === 0)
      context.addIssue({ code: "custom", path: ["aggs"], message: "no metric aggregation" });
    if (new Set(ids).size !== ids.length) {
      context.addIssue({
        code: "custom",
        path: ["aggs"],
        message: `aggregation ids repeat: ${ids.join(", ")}`,
      });
    }
    visState.aggs.forEach((agg, index) => {
      if (agg.type !== "terms") return;
      const { orderBy, orderAgg } = agg.params;
      const valid =
        orderBy === "_key" || (orderBy === "custom" ? orderAgg !== undefined : metrics.has(orderBy));
      if (!valid) {
        context.addIssue({
          code: "custom",
          path: ["aggs", index, "params", "orderBy"],
          message: `orders by "${orderBy}", which is not _key, custom (with orderAgg) or a metric aggregation id`,
        });
      }
    });
    const seriesParams = visState.params.seriesParams;
    if (Array.isArray(seriesParams)) {
      seriesParams.forEach((series: unknown, index) => {
        const dataId = (series as { data?: { id?: unknown } }).data?.id;
        if (typeof dataId !== "string" || !metrics.has(dataId)) {
          context.addIssue({
            code: "custom",
            path: ["params", "seriesParams", index, "data", "id"],
            message: `series draws "${String(dataId)}", which is not a metric aggregation id`,
          });
        }
      });
    }
  });

const optionalNullableString = z.string().nullable().optional();
const query = queryObjectSchema;

/** A TSVB metric (`series[].metrics[]`): Dashboards' keys, nothing else. */
export const tsvbMetricSchema = z.strictObject({
  field: optionalNullableString,
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, "TSVB metric ids become aggregation names: letters, digits, _ and -"),
  metric_agg: optionalNullableString,
  numerator: query.optional(),
  denominator: query.optional(),
  sigma: optionalNullableString,
  unit: optionalNullableString,
  model_type: optionalNullableString,
  mode: optionalNullableString,
  lag: z.union([z.number(), z.literal("")]).optional(),
  alpha: z.number().optional(),
  beta: z.number().optional(),
  gamma: z.number().optional(),
  period: z.number().optional(),
  multiplicative: z.boolean().optional(),
  window: z.number().optional(),
  function: optionalNullableString,
  script: optionalNullableString,
  variables: z.array(z.unknown()).optional(),
  percentiles: z.array(z.unknown()).optional(),
  type: z.string().min(1),
  value: optionalNullableString,
  values: z.array(z.string().nullable()).nullable().optional(),
  size: optionalNullableString,
  agg_with: optionalNullableString,
  order: optionalNullableString,
  order_by: optionalNullableString,
});

const numberOrEmpty = z.union([z.number(), z.literal("")]).optional();

/** A TSVB series (`params.series[]`). */
export const tsvbSeriesSchema = z.strictObject({
  aggregate_by: optionalNullableString,
  aggregate_function: optionalNullableString,
  axis_position: z.string(),
  axis_max: z.union([z.string(), z.number()]).nullable().optional(),
  axis_min: z.union([z.string(), z.number()]).nullable().optional(),
  chart_type: z.string(),
  color: z.string(),
  color_rules: z.array(z.unknown()).optional(),
  fill: numberOrEmpty,
  filter: z
    .union([z.strictObject({ query: z.string(), language: optionalNullableString }), z.literal("")])
    .optional(),
  formatter: z.string(),
  hide_in_legend: z.number().int().optional(),
  hidden: z.boolean().optional(),
  id: z.string().min(1),
  label: optionalNullableString,
  line_width: numberOrEmpty,
  metrics: z.array(tsvbMetricSchema).min(1),
  offset_time: optionalNullableString,
  override_index_pattern: z.number().optional(),
  point_size: numberOrEmpty,
  separate_axis: z.number().int().optional(),
  seperate_axis: z.number().int().optional(),
  series_index_pattern: optionalNullableString,
  series_time_field: optionalNullableString,
  series_interval: optionalNullableString,
  series_drop_last_bucket: z.number().int().optional(),
  split_color_mode: optionalNullableString,
  split_filters: z.array(z.unknown()).optional(),
  split_mode: z.enum(["everything", "terms", "filter", "filters"]),
  stacked: z.string(),
  steps: z.number().int().optional(),
  terms_field: optionalNullableString,
  terms_order_by: optionalNullableString,
  terms_size: optionalNullableString,
  terms_direction: optionalNullableString,
  terms_include: optionalNullableString,
  terms_exclude: optionalNullableString,
  time_range_mode: optionalNullableString,
  trend_arrows: z.number().optional(),
  type: optionalNullableString,
  value_template: optionalNullableString,
  var_name: optionalNullableString,
});

const ruleOperator = z.enum(["gt", "gte", "lt", "lte", "eq"]);
const gaugeColorRule = z.strictObject({
  id: z.string().min(1),
  value: z.number().nullable().optional(),
  operator: ruleOperator,
  gauge: optionalNullableString,
  text: optionalNullableString,
});
const barColorRule = z.strictObject({
  id: z.string().min(1),
  value: z.number().nullable().optional(),
  operator: ruleOperator,
  bar_color: z.string().optional(),
});
const backgroundColorRule = z.strictObject({
  id: optionalNullableString,
  value: z.number().nullable().optional(),
  operator: optionalNullableString,
  background_color: optionalNullableString,
  color: optionalNullableString,
});

/** The TSVB panel model (`visState.params` of a `metrics` visualization). */
export const tsvbPanelSchema = z.strictObject({
  annotations: z.array(z.unknown()).optional(),
  axis_formatter: z.string(),
  axis_position: z.string(),
  axis_scale: z.string(),
  axis_min: z.union([z.string(), z.number()]).nullable().optional(),
  axis_max: z.union([z.string(), z.number()]).nullable().optional(),
  bar_color_rules: z.array(barColorRule).optional(),
  background_color: optionalNullableString,
  background_color_rules: z.array(backgroundColorRule).optional(),
  default_index_pattern: optionalNullableString,
  default_timefield: optionalNullableString,
  drilldown_url: optionalNullableString,
  drop_last_bucket: z.number().int().optional(),
  filter: z.union([z.string(), query]).nullable(),
  gauge_color_rules: z.array(gaugeColorRule).optional(),
  gauge_width: z.union([z.string(), z.number()]).nullable().optional(),
  gauge_inner_color: optionalNullableString,
  gauge_inner_width: z.union([z.string(), z.number()]).nullable().optional(),
  gauge_style: optionalNullableString,
  gauge_max: z.union([z.string(), z.number()]).nullable().optional(),
  id: z.string().min(1),
  ignore_global_filters: z.number().optional(),
  ignore_global_filter: z.number().optional(),
  index_pattern: z.string().min(1),
  data_source_id: optionalNullableString,
  interval: z.string(),
  isModelInvalid: z.boolean().optional(),
  legend_position: optionalNullableString,
  markdown: optionalNullableString,
  markdown_scrollbars: z.number().int().optional(),
  markdown_openLinksInNewTab: z.number().int().optional(),
  markdown_vertical_align: optionalNullableString,
  markdown_less: optionalNullableString,
  markdown_css: optionalNullableString,
  pivot_id: optionalNullableString,
  pivot_label: optionalNullableString,
  pivot_type: optionalNullableString,
  pivot_rows: optionalNullableString,
  series: z.array(tsvbSeriesSchema).min(1),
  show_grid: z.number().int(),
  show_legend: z.number().int(),
  tooltip_mode: z.enum(["show_all", "show_focused"]).optional(),
  time_field: z.string().min(1),
  time_range_mode: z.enum(["entire_time_range", "last_value"]).optional(),
  type: z.enum(["timeseries", "metric", "top_n", "gauge", "markdown", "table"]),
});

/** `visState` of a TSVB visualization. */
export const tsvbVisStateSchema = z.strictObject({
  title,
  type: z.literal("metrics"),
  aggs: z.array(z.never()).length(0),
  params: tsvbPanelSchema,
});

type VisState = z.infer<typeof aggregationVisStateSchema> | z.infer<typeof tsvbVisStateSchema>;

/** A `visState`, checked as TSVB when its type is `metrics` and as an aggregation-based chart otherwise. */
const visStateSchema = z.unknown().transform((value, context): VisState => {
  const type = typeof value === "object" && value !== null ? (value as { type?: unknown }).type : undefined;
  const result =
    type === "metrics" ? tsvbVisStateSchema.safeParse(value) : aggregationVisStateSchema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    context.addIssue({ code: "custom", path: issue.path, message: issue.message });
  }
  return z.NEVER;
});

const visualizationAttributesSchema = z
  .strictObject({
    title,
    visState: jsonText(visStateSchema),
    uiStateJSON: jsonText(z.record(z.string(), z.unknown())),
    description: z.string(),
    version: z.literal(1),
    savedSearchRefName: z.literal(SAVED_SEARCH_REF).optional(),
    kibanaSavedObjectMeta: z.strictObject({
      searchSourceJSON: jsonText(z.union([searchSourceSchema, z.strictObject({})])),
    }),
  })
  .superRefine((attributes, context) => {
    if (attributes.visState.title !== attributes.title) {
      context.addIssue({
        code: "custom",
        path: ["visState", "title"],
        message: "differs from the object's title",
      });
    }
    const searchSource = attributes.kibanaSavedObjectMeta.searchSourceJSON;
    const readsIndex = "indexRefName" in searchSource && searchSource.indexRefName !== undefined;
    if (attributes.visState.type === "metrics") {
      if (Object.keys(searchSource).length > 0 || attributes.savedSearchRefName !== undefined) {
        context.addIssue({
          code: "custom",
          path: ["kibanaSavedObjectMeta", "searchSourceJSON"],
          message: "a TSVB visualization has an empty search source and no saved search",
        });
      }
    } else if (readsIndex === (attributes.savedSearchRefName !== undefined)) {
      context.addIssue({
        code: "custom",
        path: ["kibanaSavedObjectMeta", "searchSourceJSON"],
        message:
          "an aggregation-based visualization reads either an index pattern (indexRefName) or a saved search",
      });
    }
  });

const indexPatternAttributesSchema = z.strictObject({
  title,
  timeFieldName: z.string().min(1),
  fields: jsonText(z.array(z.record(z.string(), z.unknown()))),
  fieldFormatMap: jsonText(
    z.record(
      z.string(),
      z.strictObject({ id: z.string().min(1), params: z.record(z.string(), z.unknown()).optional() }),
    ),
  ),
});

const searchAttributesSchema = z.strictObject({
  title,
  description: z.string(),
  hits: z.literal(0),
  columns: z.array(z.string().min(1)).min(1),
  sort: z.array(z.tuple([z.string().min(1), z.enum(["asc", "desc"])])),
  version: z.literal(1),
  kibanaSavedObjectMeta: z.strictObject({
    searchSourceJSON: jsonText(searchSourceSchema.required({ query: true, indexRefName: true })),
  }),
});

const GRID_COLUMNS = 48;

export const dashboardPanelSchema = z
  .strictObject({
    version: z.string().min(1),
    gridData: z.strictObject({
      x: z.number().int().min(0),
      y: z.number().int().min(0),
      w: z.number().int().min(1).max(GRID_COLUMNS),
      h: z.number().int().min(1),
      i: z.string().min(1),
    }),
    panelIndex: z.string().min(1),
    embeddableConfig: z.record(z.string(), z.unknown()),
    panelRefName: z.string().regex(/^panel_\d+$/),
  })
  .superRefine((panel, context) => {
    if (panel.gridData.x + panel.gridData.w > GRID_COLUMNS) {
      context.addIssue({
        code: "custom",
        path: ["gridData"],
        message: `wider than the ${GRID_COLUMNS}-column grid`,
      });
    }
    if (panel.gridData.i !== panel.panelIndex) {
      context.addIssue({ code: "custom", path: ["gridData", "i"], message: "differs from panelIndex" });
    }
  });

const dashboardAttributesSchema = z.strictObject({
  title,
  hits: z.literal(0),
  description: z.string(),
  panelsJSON: jsonText(
    z
      .array(dashboardPanelSchema)
      .min(1)
      .superRefine((panels, context) => {
        const indices = panels.map((panel) => panel.panelIndex);
        if (new Set(indices).size !== indices.length) {
          context.addIssue({ code: "custom", message: `panelIndex values repeat: ${indices.join(", ")}` });
        }
      }),
  ),
  optionsJSON: jsonText(z.strictObject({ hidePanelTitles: z.boolean(), useMargins: z.boolean() })),
  version: z.literal(1),
  timeRestore: z.boolean(),
  timeFrom: z.string().min(1),
  timeTo: z.string().min(1),
  refreshInterval: z.strictObject({ pause: z.boolean(), value: z.number().int().min(0) }),
  kibanaSavedObjectMeta: z.strictObject({ searchSourceJSON: jsonText(searchSourceSchema) }),
});

const references = z.array(referenceSchema);

/** One line of the import file, by type. */
export const savedObjectSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("index-pattern"),
    id,
    attributes: indexPatternAttributesSchema,
    references: references.length(0),
    migrationVersion: z.strictObject({ "index-pattern": z.literal(MIGRATION_VERSIONS["index-pattern"]) }),
  }),
  z.strictObject({
    type: z.literal("search"),
    id,
    attributes: searchAttributesSchema,
    references,
    migrationVersion: z.strictObject({ search: z.literal(MIGRATION_VERSIONS.search) }),
  }),
  z.strictObject({
    type: z.literal("visualization"),
    id,
    attributes: visualizationAttributesSchema,
    references,
    migrationVersion: z.strictObject({ visualization: z.literal(MIGRATION_VERSIONS.visualization) }),
  }),
  z.strictObject({
    type: z.literal("dashboard"),
    id,
    attributes: dashboardAttributesSchema,
    references,
    migrationVersion: z.strictObject({ dashboard: z.literal(MIGRATION_VERSIONS.dashboard) }),
  }),
]);

export type ParsedSavedObject = z.infer<typeof savedObjectSchema>;

/** The reference names the attributes use; each must be a reference of the object, and each reference used. */
function referenceNamesUsed(object: ParsedSavedObject): string[] {
  switch (object.type) {
    case "index-pattern":
      return [];
    case "search":
      return [object.attributes.kibanaSavedObjectMeta.searchSourceJSON.indexRefName];
    case "visualization": {
      const searchSource = object.attributes.kibanaSavedObjectMeta.searchSourceJSON;
      const names: string[] = [];
      if ("indexRefName" in searchSource && searchSource.indexRefName !== undefined) {
        names.push(searchSource.indexRefName);
      }
      if (object.attributes.savedSearchRefName !== undefined)
        names.push(object.attributes.savedSearchRefName);
      return names;
    }
    case "dashboard":
      return object.attributes.panelsJSON.map((panel) => panel.panelRefName);
  }
}

/** The reference type each kind of link must point to. */
function expectedReferenceType(name: string): string[] {
  if (name === SEARCH_SOURCE_INDEX_REF) return ["index-pattern"];
  if (name === SAVED_SEARCH_REF) return ["search"];
  return ["visualization", "search"];
}

export class SavedObjectsDefinitionError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid OpenSearch Dashboards saved objects: ${problems.join("; ")}`);
    this.name = "SavedObjectsDefinitionError";
  }
}

/**
 * Checks an import set: each object against its type's schema, unique `type/id`, every `*RefName` backed by a
 * reference of the right type, every reference used and pointing to an object of the set. Throws naming each
 * object and path at fault.
 */
export function validateSavedObjects(objects: readonly SavedObject[]): ParsedSavedObject[] {
  const problems: string[] = [];
  const parsed: ParsedSavedObject[] = [];
  for (const object of objects) {
    const result = savedObjectSchema.safeParse(object);
    if (!result.success) {
      for (const issue of result.error.issues) {
        problems.push(
          `${object.type} "${object.id}" ${issue.path.join(".") || "(object)"}: ${issue.message}`,
        );
      }
      continue;
    }
    parsed.push(result.data);
  }
  // Keys of every object, valid or not: an invalid object is reported once, not again by those referring to it.
  const keys = new Set<string>();
  for (const object of objects) {
    const key = `${object.type}/${object.id}`;
    if (keys.has(key)) problems.push(`${key} appears twice`);
    keys.add(key);
  }
  for (const object of parsed) {
    const used = referenceNamesUsed(object);
    for (const name of used) {
      const reference = object.references.find((candidate) => candidate.name === name);
      if (reference === undefined) {
        problems.push(
          `${object.type} "${object.id}" uses reference "${name}" but has no reference of that name`,
        );
      } else if (!expectedReferenceType(name).includes(reference.type)) {
        problems.push(`${object.type} "${object.id}" reference "${name}" points to a ${reference.type}`);
      }
    }
    for (const reference of object.references) {
      if (!used.includes(reference.name)) {
        problems.push(`${object.type} "${object.id}" has reference "${reference.name}" that nothing uses`);
      }
      if (!keys.has(`${reference.type}/${reference.id}`)) {
        problems.push(
          `${object.type} "${object.id}" reference "${reference.name}" points to ${reference.type} "${reference.id}", which is not in the set`,
        );
      }
    }
  }
  if (problems.length > 0) throw new SavedObjectsDefinitionError(problems);
  return parsed;
}
