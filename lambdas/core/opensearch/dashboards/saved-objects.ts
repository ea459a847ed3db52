/**
 * The OpenSearch Dashboards saved-object shapes this stack imports (index patterns, visualizations, a saved search,
 * a dashboard), as the `_import` API of OpenSearch Dashboards 2.x reads them from NDJSON: one object per line with
 * `type`, `id`, `attributes`, `references` and `migrationVersion`. Nested documents that Dashboards keeps as JSON
 * strings (`visState`, `searchSourceJSON`, `panelsJSON`, `fieldFormatMap`) are built as objects here and
 * serialized once, by the builders.
 *
 * Links between objects go through `references` (`{ name, type, id }`) and are named from inside the attributes:
 * `indexRefName`, `savedSearchRefName`, `panelRefName`. This is the format Dashboards itself exports since 7.0, so
 * the import runs none of its upgrade migrations on these objects.
 */

export type SavedObjectType = "index-pattern" | "visualization" | "search" | "dashboard";

export interface SavedObjectReference {
  /** The name the attributes use for the link (`kibanaSavedObjectMeta.searchSourceJSON.index`, `panel_0`, …). */
  readonly name: string;
  readonly type: SavedObjectType;
  readonly id: string;
}

/** One saved object as one line of the import file. */
export interface SavedObject {
  readonly type: SavedObjectType;
  readonly id: string;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly references: readonly SavedObjectReference[];
  /**
   * The newest migration of the type in OpenSearch Dashboards 2.x: the object is already in that format, so the
   * import migrates nothing (an older or missing version would run the 7.0 reference extraction over it).
   */
  readonly migrationVersion: Readonly<Record<string, string>>;
}

/**
 * The newest migration version OpenSearch Dashboards 2.x registers per type (its `*_migrations.ts`): a higher one
 * is refused on import, a lower one re-runs migrations.
 */
export const MIGRATION_VERSIONS: Readonly<Record<SavedObjectType, string>> = {
  "index-pattern": "7.6.0",
  visualization: "7.10.0",
  search: "7.9.3",
  dashboard: "7.9.3",
};

/** The reference name a search source uses for its index pattern (`indexRefName`). */
export const SEARCH_SOURCE_INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index";
/** The reference name a visualization uses for the saved search it is built on (`savedSearchRefName`). */
export const SAVED_SEARCH_REF = "search_0";

/** An index pattern: the indices a visualization or search reads, and their time field. */
export interface IndexPatternSpec {
  /** Saved-object id (what Discover URLs and references name). */
  readonly id: string;
  /** The index expression, with `-` exclusions (`audit-*,-audit-alerts`). */
  readonly title: string;
  readonly timeField: string;
  /**
   * Display formats by field (`fieldFormatMap`), e.g. `event.duration` (nanoseconds) as a duration.
   * @default - none
   */
  readonly fieldFormats?: Readonly<Record<string, { readonly id: string; readonly params?: object }>>;
}

/** Builds an index-pattern object. Its field list is left empty: Dashboards reads it from the mapping on first use. */
export function indexPatternObject(spec: IndexPatternSpec): SavedObject {
  return {
    type: "index-pattern",
    id: spec.id,
    attributes: {
      title: spec.title,
      timeFieldName: spec.timeField,
      fields: "[]",
      fieldFormatMap: JSON.stringify(spec.fieldFormats ?? {}),
    },
    references: [],
    migrationVersion: { "index-pattern": MIGRATION_VERSIONS["index-pattern"] },
  };
}

/** A query as Dashboards stores it in a search source. */
export interface StoredQuery {
  readonly query: string;
  readonly language: "lucene" | "kuery";
}

/** The query of a search source in Lucene syntax (see `lucene.ts`). */
export function luceneQuery(query: string): StoredQuery {
  return { query, language: "lucene" };
}

/** A saved search (Discover): a query on an index pattern, the columns shown and their order. */
export interface SavedSearchSpec {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly indexPattern: IndexPatternSpec;
  readonly query: StoredQuery;
  readonly columns: readonly string[];
  /** `[field, direction]` pairs, first one wins. */
  readonly sort: readonly (readonly [string, "asc" | "desc"])[];
}

export function savedSearchObject(spec: SavedSearchSpec): SavedObject {
  return {
    type: "search",
    id: spec.id,
    attributes: {
      title: spec.title,
      description: spec.description,
      hits: 0,
      columns: [...spec.columns],
      sort: spec.sort.map(([field, direction]) => [field, direction]),
      version: 1,
      kibanaSavedObjectMeta: {
        searchSourceJSON: JSON.stringify({
          query: spec.query,
          filter: [],
          highlightAll: true,
          version: true,
          indexRefName: SEARCH_SOURCE_INDEX_REF,
        }),
      },
    },
    references: [{ name: SEARCH_SOURCE_INDEX_REF, type: "index-pattern", id: spec.indexPattern.id }],
    migrationVersion: { search: MIGRATION_VERSIONS.search },
  };
}

/** One aggregation of an aggregation-based visualization, as `visState.aggs[]` holds it. */
export interface AggConfig {
  readonly id: string;
  readonly enabled: true;
  readonly type: string;
  /** The role in the chart: `metric`, `segment` (x axis / slices / rows), `group` (series), `split`, `bucket`. */
  readonly schema: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/** What an aggregation-based visualization reads: an index pattern with its own query, or a saved search. */
export type VisualizationSource =
  | { readonly indexPattern: IndexPatternSpec; readonly query: StoredQuery }
  | { readonly savedSearch: SavedSearchSpec };

/** A visualization built from aggregations (line, bar, heatmap, pie, table, …). */
export interface AggregationVisualizationSpec {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  /** `visState.type`: the chart. */
  readonly chart: string;
  /** `visState.params`: the chart's options (axes, legend, colours). */
  readonly params: Readonly<Record<string, unknown>>;
  readonly aggs: readonly AggConfig[];
  readonly source: VisualizationSource;
}

export function aggregationVisualizationObject(spec: AggregationVisualizationSpec): SavedObject {
  const visState = JSON.stringify({
    title: spec.title,
    type: spec.chart,
    aggs: spec.aggs,
    params: spec.params,
  });
  const common = {
    title: spec.title,
    visState,
    uiStateJSON: "{}",
    description: spec.description,
    version: 1,
  };
  if ("savedSearch" in spec.source) {
    return {
      type: "visualization",
      id: spec.id,
      attributes: {
        ...common,
        savedSearchRefName: SAVED_SEARCH_REF,
        kibanaSavedObjectMeta: {
          searchSourceJSON: JSON.stringify({ query: { query: "", language: "kuery" }, filter: [] }),
        },
      },
      references: [{ name: SAVED_SEARCH_REF, type: "search", id: spec.source.savedSearch.id }],
      migrationVersion: { visualization: MIGRATION_VERSIONS.visualization },
    };
  }
  return {
    type: "visualization",
    id: spec.id,
    attributes: {
      ...common,
      kibanaSavedObjectMeta: {
        searchSourceJSON: JSON.stringify({
          query: spec.source.query,
          filter: [],
          indexRefName: SEARCH_SOURCE_INDEX_REF,
        }),
      },
    },
    references: [{ name: SEARCH_SOURCE_INDEX_REF, type: "index-pattern", id: spec.source.indexPattern.id }],
    migrationVersion: { visualization: MIGRATION_VERSIONS.visualization },
  };
}

/**
 * A TSVB visualization (`type: "metrics"`): it names its indices by index expression, not by reference, and
 * computes ratios (`filter_ratio`) that aggregation-based charts cannot.
 */
export interface TimeSeriesVisualizationSpec {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  /** The TSVB panel model (`visState.params`): `index_pattern`, `time_field`, `series`, … */
  readonly panel: Readonly<Record<string, unknown>>;
}

export function timeSeriesVisualizationObject(spec: TimeSeriesVisualizationSpec): SavedObject {
  return {
    type: "visualization",
    id: spec.id,
    attributes: {
      title: spec.title,
      visState: JSON.stringify({ title: spec.title, type: "metrics", aggs: [], params: spec.panel }),
      uiStateJSON: "{}",
      description: spec.description,
      version: 1,
      // TSVB ignores the search source; Dashboards' own 7.10 migration empties it.
      kibanaSavedObjectMeta: { searchSourceJSON: "{}" },
    },
    references: [],
    migrationVersion: { visualization: MIGRATION_VERSIONS.visualization },
  };
}

/** A panel's place on the dashboard's 48-column grid. */
export interface GridPosition {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export interface DashboardPanelSpec {
  /** The visualization or saved search shown. */
  readonly object: SavedObject;
  readonly grid: GridPosition;
}

export interface DashboardSpec {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly panels: readonly DashboardPanelSpec[];
  /** Time range stored with the dashboard (`timeRestore`), in Dashboards' date math. */
  readonly timeFrom: string;
  readonly timeTo: string;
  /** Auto-refresh period. */
  readonly refreshIntervalMs: number;
}

/** The Dashboards version whose panel format `panelsJSON` follows. */
const PANEL_VERSION = "7.10.0";

export function dashboardObject(spec: DashboardSpec): SavedObject {
  const panels = spec.panels.map((panel, index) => {
    const panelIndex = String(index + 1);
    return {
      version: PANEL_VERSION,
      gridData: { ...panel.grid, i: panelIndex },
      panelIndex,
      embeddableConfig: {},
      panelRefName: `panel_${index}`,
    };
  });
  return {
    type: "dashboard",
    id: spec.id,
    attributes: {
      title: spec.title,
      hits: 0,
      description: spec.description,
      panelsJSON: JSON.stringify(panels),
      optionsJSON: JSON.stringify({ hidePanelTitles: false, useMargins: true }),
      version: 1,
      timeRestore: true,
      timeFrom: spec.timeFrom,
      timeTo: spec.timeTo,
      refreshInterval: { pause: false, value: spec.refreshIntervalMs },
      kibanaSavedObjectMeta: {
        searchSourceJSON: JSON.stringify({ query: { query: "", language: "kuery" }, filter: [] }),
      },
    },
    references: spec.panels.map((panel, index) => ({
      name: `panel_${index}`,
      type: panel.object.type,
      id: panel.object.id,
    })),
    migrationVersion: { dashboard: MIGRATION_VERSIONS.dashboard },
  };
}
