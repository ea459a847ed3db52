/**
 * Typed builders for the parts of a visualization's `visState` that OpenSearch Dashboards 2.x reads: aggregation
 * configs (`aggs[]`, with the parameter names of its agg types) and chart options (`params`) of the vislib charts
 * (line, bar, heatmap, pie, table), plus the TSVB panel model for ratios. Defaults are those the visualization
 * editor writes, so an imported chart looks and edits like one made by hand.
 */
import type { AggConfig } from "./saved-objects.js";

/** Metric: number of documents. */
export function countMetric(id: string, label?: string): AggConfig {
  return {
    id,
    enabled: true,
    type: "count",
    schema: "metric",
    params: label === undefined ? {} : { customLabel: label },
  };
}

/** Metric: percentiles of a numeric field (one series per percent). */
export function percentilesMetric(
  id: string,
  field: string,
  percents: readonly number[],
  label: string,
): AggConfig {
  return {
    id,
    enabled: true,
    type: "percentiles",
    schema: "metric",
    params: { field, percents: [...percents], customLabel: label },
  };
}

/** Metric: distinct values of a field (HyperLogLog estimate). */
export function cardinalityMetric(id: string, field: string, label: string): AggConfig {
  return { id, enabled: true, type: "cardinality", schema: "metric", params: { field, customLabel: label } };
}

/** Metric: the largest value (a date field gives the latest time). */
export function maxMetric(id: string, field: string, label: string): AggConfig {
  return { id, enabled: true, type: "max", schema: "metric", params: { field, customLabel: label } };
}

/** Bucket: time buckets of an automatic interval (from the dashboard's time range). */
export function dateHistogramBucket(id: string, schema: string, field: string): AggConfig {
  return {
    id,
    enabled: true,
    type: "date_histogram",
    schema,
    params: {
      field,
      useNormalizedOpenSearchInterval: true,
      scaleMetricValues: false,
      interval: "auto",
      drop_partials: false,
      min_doc_count: 1,
      extended_bounds: {},
    },
  };
}

/** How terms buckets are ranked: by a metric of the chart, by document count, or alphabetically. */
export type TermsOrder =
  | { readonly byMetric: string; readonly direction: "asc" | "desc" }
  | { readonly byCount: "desc" }
  | { readonly byKey: "asc" | "desc" };

export interface TermsOptions {
  readonly size: number;
  readonly order: TermsOrder;
  readonly label: string;
}

/** Bucket: the top values of a field. */
export function termsBucket(id: string, schema: string, field: string, options: TermsOptions): AggConfig {
  const { order } = options;
  let ordering: Record<string, unknown>;
  if ("byMetric" in order) ordering = { orderBy: order.byMetric, order: order.direction };
  else if ("byKey" in order) ordering = { orderBy: "_key", order: order.byKey };
  else {
    // Ranking by count when the chart's metric is something else (a percentile) takes a custom order agg.
    ordering = {
      orderBy: "custom",
      order: order.byCount,
      orderAgg: { id: `${id}-orderAgg`, enabled: true, type: "count", schema: "orderAgg", params: {} },
    };
  }
  return {
    id,
    enabled: true,
    type: "terms",
    schema,
    params: {
      field,
      size: options.size,
      ...ordering,
      otherBucket: false,
      otherBucketLabel: "Other",
      missingBucket: false,
      missingBucketLabel: "Missing",
      customLabel: options.label,
    },
  };
}

/** Bucket: one bucket per query (Lucene), labelled. */
export function filtersBucket(
  id: string,
  schema: string,
  filters: readonly { readonly label: string; readonly query: string }[],
): AggConfig {
  return {
    id,
    enabled: true,
    type: "filters",
    schema,
    params: {
      filters: filters.map((filter) => ({
        input: { query: filter.query, language: "lucene" },
        label: filter.label,
      })),
    },
  };
}

export interface XyChartOptions {
  /** `line`, `area` or `histogram` (bars). */
  readonly seriesType: "line" | "area" | "histogram";
  /** Bars along the y axis (`horizontal_bar`). @default false */
  readonly horizontal?: boolean;
  /** Stack the series. @default false */
  readonly stacked?: boolean;
  /** The metric aggs drawn, by id, with their legend label. */
  readonly series: readonly { readonly metricId: string; readonly label: string }[];
  readonly valueAxisTitle: string;
  /** A horizontal line at a value of the metric, in the metric's raw unit. @default - none */
  readonly threshold?: { readonly value: number; readonly color: string };
}

/** `params` of the vislib x/y charts (`line`, `area`, `histogram`, `horizontal_bar`). */
export function xyChartParams(options: XyChartOptions): Record<string, unknown> {
  const horizontal = options.horizontal ?? false;
  const chartType = horizontal ? "histogram" : options.seriesType;
  return {
    type: chartType,
    grid: { categoryLines: false },
    categoryAxes: [
      {
        id: "CategoryAxis-1",
        type: "category",
        position: horizontal ? "left" : "bottom",
        show: true,
        style: {},
        scale: { type: "linear" },
        labels: { show: true, filter: !horizontal, truncate: horizontal ? 200 : 100, rotate: 0 },
        title: {},
      },
    ],
    valueAxes: [
      {
        id: "ValueAxis-1",
        name: "LeftAxis-1",
        type: "value",
        position: horizontal ? "bottom" : "left",
        show: true,
        style: {},
        scale: { type: "linear", mode: "normal" },
        labels: { show: true, rotate: 0, filter: horizontal, truncate: 100 },
        title: { text: options.valueAxisTitle },
      },
    ],
    seriesParams: options.series.map((series) => ({
      show: true,
      type: options.seriesType,
      mode: options.stacked === true ? "stacked" : "normal",
      data: { label: series.label, id: series.metricId },
      valueAxis: "ValueAxis-1",
      drawLinesBetweenPoints: true,
      lineWidth: 2,
      interpolate: "linear",
      showCircles: true,
    })),
    addTooltip: true,
    addLegend: true,
    legendPosition: "right",
    times: [],
    addTimeMarker: false,
    labels: {},
    thresholdLine: {
      show: options.threshold !== undefined,
      value: options.threshold?.value ?? 0,
      width: 1,
      style: "dashed",
      color: options.threshold?.color ?? "#E7664C",
    },
  };
}

/** `params` of the heatmap chart. */
export function heatmapParams(colorSchema: "Reds" | "Blues" | "Greens" | "Greys"): Record<string, unknown> {
  return {
    type: "heatmap",
    addTooltip: true,
    addLegend: true,
    enableHover: false,
    legendPosition: "right",
    times: [],
    colorsNumber: 5,
    colorSchema,
    setColorRange: false,
    colorsRange: [],
    invertColors: false,
    percentageMode: false,
    valueAxes: [
      {
        show: false,
        id: "ValueAxis-1",
        type: "value",
        scale: { type: "linear", defaultYExtents: false },
        labels: { show: false, rotate: 0, overwriteColor: false, color: "#555" },
      },
    ],
  };
}

/** `params` of the pie chart (a donut with values on the slices). */
export function pieParams(): Record<string, unknown> {
  return {
    type: "pie",
    addTooltip: true,
    addLegend: true,
    legendPosition: "right",
    isDonut: true,
    labels: { show: true, values: true, last_level: true, truncate: 100 },
  };
}

/** `params` of the data table. */
export function tableParams(perPage: number): Record<string, unknown> {
  return {
    perPage,
    showPartialRows: false,
    showMetricsAtAllLevels: false,
    showTotal: false,
    totalFunc: "sum",
    percentageCol: "",
    sort: { columnIndex: null, direction: null },
  };
}

/** A TSVB `filter_ratio` metric: documents matching `numerator` over documents matching `denominator`. */
export interface FilterRatio {
  readonly id: string;
  readonly numerator: string;
  readonly denominator: string;
}

/** A TSVB series computing one filter ratio, over everything or split by the top values of a field. */
export interface RatioSeriesOptions {
  readonly id: string;
  readonly label: string;
  readonly ratio: FilterRatio;
  /** @default - one series over all documents */
  readonly splitByTerms?: { readonly field: string; readonly size: number };
}

export function ratioSeries(options: RatioSeriesOptions): Record<string, unknown> {
  const split = options.splitByTerms;
  return {
    id: options.id,
    label: options.label,
    color: "#54B399",
    split_mode: split === undefined ? "everything" : "terms",
    ...(split === undefined
      ? {}
      : {
          terms_field: split.field,
          terms_size: String(split.size),
          terms_order_by: "_count",
          terms_direction: "desc",
        }),
    metrics: [
      {
        id: options.ratio.id,
        type: "filter_ratio",
        numerator: { query: options.ratio.numerator, language: "lucene" },
        denominator: { query: options.ratio.denominator, language: "lucene" },
        metric_agg: "count",
      },
    ],
    separate_axis: 0,
    axis_position: "right",
    formatter: "percent",
    chart_type: "line",
    line_width: 1,
    point_size: 1,
    fill: 0.5,
    stacked: "none",
  };
}

/** Colour bands of a TSVB gauge or bar: the colour of the last band whose lower bound the value reaches. */
export interface ColorBand {
  readonly id: string;
  readonly from: number;
  readonly color: string;
}

export interface TimeSeriesPanelOptions {
  readonly id: string;
  readonly type: "gauge" | "top_n";
  /** The index expression TSVB searches (it does not use index-pattern references). */
  readonly indexPattern: string;
  readonly timeField: string;
  /** Lucene query every series is restricted to. */
  readonly filter: string;
  readonly series: readonly Record<string, unknown>[];
  readonly bands: readonly ColorBand[];
  /** Gauge only: the value at the end of the arc. */
  readonly gaugeMax?: number;
}

/**
 * The TSVB panel model (`visState.params`) for a gauge or a top-N bar list over the whole time range of the
 * dashboard, with only the keys OpenSearch Dashboards' TSVB schema accepts (it refuses unknown ones).
 */
export function timeSeriesPanel(options: TimeSeriesPanelOptions): Record<string, unknown> {
  const colorRules =
    options.type === "gauge"
      ? {
          gauge_color_rules: options.bands.map((band) => ({
            id: band.id,
            value: band.from,
            operator: "gte",
            gauge: band.color,
          })),
          gauge_width: 10,
          gauge_inner_width: 10,
          gauge_style: "half",
          gauge_max: options.gaugeMax ?? 1,
        }
      : {
          bar_color_rules: options.bands.map((band) => ({
            id: band.id,
            value: band.from,
            operator: "gte",
            bar_color: band.color,
          })),
        };
  return {
    id: options.id,
    type: options.type,
    index_pattern: options.indexPattern,
    time_field: options.timeField,
    interval: "",
    time_range_mode: "entire_time_range",
    drop_last_bucket: 0,
    filter: { query: options.filter, language: "lucene" },
    series: options.series,
    axis_position: "left",
    axis_formatter: "number",
    axis_scale: "normal",
    show_legend: 1,
    show_grid: 1,
    tooltip_mode: "show_all",
    isModelInvalid: false,
    ...colorRules,
  };
}
