/**
 * What the same volume and retention would cost with what a team would pick instead of this stack, from the same
 * dated price table: CloudWatch Logs (Standard and Infrequent Access) with Logs Insights, Amazon OpenSearch
 * Serverless, and Amazon Security Lake (a custom source) with Athena. Each says what it does not provide.
 *
 * Every alternative carries the same query load, so the comparison is of storage and search, not of usage: this
 * stack's detection as a service without its incremental reads (by `event.ingested`) would run it, a query every
 * minute over the last 15 minutes so that late records are counted (every byte scanned 15 times), plus one scan of
 * the whole searchable window a month (an audit or an investigation). Pure: no I/O.
 */
import type { Assumptions } from "./assumptions.js";
import type { InputMeasurement } from "./measurements.js";
import type { RegionPrices, SourcedPrice } from "./prices.js";
import type { RetentionPlan } from "./retention.js";
import { DAYS_PER_MONTH, GiB, HOURS_PER_MONTH } from "./units.js";

/** The query load every alternative carries. */
export const QUERY_LOAD = {
  /** Each byte is read by this many detection passes (a query a minute over a 15-minute lookback, not incremental). */
  detectionScansPerByte: 15,
  /** Full scans of the searchable window a month. */
  windowScansPerMonth: 1,
} as const;

/** CloudWatch Logs counts each event as its message plus this many bytes. */
export const CLOUDWATCH_EVENT_OVERHEAD_BYTES = 26;
/** Local storage an OpenSearch Serverless OCU caches hot data in, GB (AWS: one vCPU, 6 GB RAM, 120 GB). */
export const SERVERLESS_OCU_STORAGE_GB = 120;
/** OpenSearch Serverless's floor with redundancy: OCUs for indexing and for search each. */
export const SERVERLESS_MIN_OCUS = 2;

const SERVERLESS_OCU =
  "https://aws.amazon.com/blogs/big-data/amazon-opensearch-serverless-cost-effective-search-capabilities-at-any-scale";

/** One line of a monthly bill: this stack's (`CostLine`, which adds the service) or an alternative's. */
export interface BillLine {
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  /** The rate in words, e.g. "$0.167/instance-hour"; for a tiered price, the average rate. */
  readonly rate: string;
  readonly monthlyUsd: number;
  /** Key of the price in the region's table (`Sizing.prices`). */
  readonly priceKey: string;
}

/** A monthly bill: its lines, the total, and the total per GB (10^9 bytes) of raw input. */
export interface MonthlyBill<Line extends BillLine = BillLine> {
  readonly lines: readonly Line[];
  readonly monthlyUsd: number;
  readonly usdPerRawGb: number;
}

/** One line of an alternative's monthly bill. */
export type AlternativeLine = BillLine;

/** What an alternative costs and lacks. */
export interface Alternative extends MonthlyBill<AlternativeLine> {
  readonly name: string;
  /** What it does not provide that this stack does. */
  readonly lacks: readonly string[];
  /** How it is counted. */
  readonly method: readonly string[];
}

/** What the alternatives are priced from. */
export interface AlternativesRequest {
  readonly gbPerDay: number;
  readonly dailyInputBytes: number;
  readonly retention: RetentionPlan;
  readonly assumptions: Assumptions;
  /** The benchmark mix's measurements (compression of raw lines, the default codec's store). */
  readonly measured: InputMeasurement;
  readonly prices: RegionPrices;
  /** This stack's Firehose ingestion and transform per month: what the alternatives fed by Firehose pay too. */
  readonly firehoseAndTransformUsd: number;
  /** This stack's S3 archive per month at the measured compression (the lake's Parquet is priced alike). */
  readonly archiveUsd: number;
}

/** A rate as AWS writes it: the figure as given, at least to the cent. */
export function money(usd: number): string {
  const decimals = String(usd).split(".")[1]?.length ?? 0;
  return `$${decimals < 2 ? usd.toFixed(2) : String(usd)}`;
}

/** A bill line of `quantity` units at a flat price (the rate as `money` writes it, per the price's unit). */
export function billLine(
  item: string,
  quantity: number,
  unit: string,
  key: string,
  price: SourcedPrice,
): BillLine {
  return {
    item,
    quantity,
    unit,
    rate: `${money(price.usd)}/${price.per}`,
    monthlyUsd: quantity * price.usd,
    priceKey: key,
  };
}

function total(
  name: string,
  monthlyRawGb: number,
  lines: AlternativeLine[],
  lacks: string[],
  method: string[],
): Alternative {
  const monthlyUsd = lines.reduce((sum, item) => sum + item.monthlyUsd, 0);
  return { name, lines, monthlyUsd, usdPerRawGb: monthlyUsd / monthlyRawGb, lacks, method };
}

const NO_TAMPER_EVIDENCE = "no signed, chained digests: nothing proves an event was not removed or altered";
const NO_NORMALIZATION = "no ECS normalization, mesh identity parsing or secret redaction: raw lines only";

/** The alternatives for the request, cheapest first. */
export function priceAlternatives(request: AlternativesRequest): Alternative[] {
  const { retention, assumptions, measured, prices } = request;
  const rawGiBPerDay = request.dailyInputBytes / GiB;
  const monthlyRawGiB = rawGiBPerDay * DAYS_PER_MONTH;
  /** Per raw GB as this estimate's total is (GB of 10^9 bytes, the unit the volume is given in). */
  const monthlyRawGb = request.gbPerDay * DAYS_PER_MONTH;
  const searchableDays = retention.hot.days + retention.warm.days;
  const indexDays = searchableDays + retention.cold.days;
  const archiveDays = retention.archive.days;
  const scannedRawGiB =
    monthlyRawGiB * QUERY_LOAD.detectionScansPerByte +
    rawGiBPerDay * searchableDays * QUERY_LOAD.windowScansPerMonth;
  const queryMethod = `queries: a detection query a minute over the last 15 minutes, as a service without incremental reads runs it (each byte scanned ${QUERY_LOAD.detectionScansPerByte} times) and ${QUERY_LOAD.windowScansPerMonth} scan of the ${searchableDays}-day searchable window a month`;

  const cloudWatch = (infrequentAccess: boolean): Alternative => {
    const records = request.dailyInputBytes / assumptions.averageRecordBytes;
    const ingestedGiB =
      ((request.dailyInputBytes + records * CLOUDWATCH_EVENT_OVERHEAD_BYTES) / GiB) * DAYS_PER_MONTH;
    const storedGiB = rawGiBPerDay * measured.rawGzipPerRawByte * archiveDays;
    const ingestion = infrequentAccess
      ? (["cloudWatchLogsInfrequentAccessIngestion", prices.cloudWatchLogsInfrequentAccessIngestion] as const)
      : (["cloudWatchLogsStandardIngestion", prices.cloudWatchLogsStandardIngestion] as const);
    const lacks = [
      NO_TAMPER_EVIDENCE,
      "no WORM retention: a principal allowed logs:DeleteLogGroup or a shorter retention policy erases history",
      "no detection rules, correlation or paging: alerting is built from scheduled Logs Insights queries",
      NO_NORMALIZATION,
    ];
    if (infrequentAccess) {
      lacks.splice(
        2,
        1,
        "no metric filters, subscription filters or Live Tail in the Infrequent Access class: detection only by scheduled Logs Insights queries",
      );
    }
    return total(
      `CloudWatch Logs ${infrequentAccess ? "Infrequent Access" : "Standard"} + Logs Insights`,
      monthlyRawGb,
      [
        billLine(
          `ingestion (each event + ${CLOUDWATCH_EVENT_OVERHEAD_BYTES} B)`,
          ingestedGiB,
          "GB",
          ingestion[0],
          ingestion[1],
        ),
        billLine(
          `storage, ${archiveDays} days, compressed ${measured.rawGzipPerRawByte}× (raw lines gzipped, measured)`,
          storedGiB,
          "GB-month",
          "cloudWatchLogsStorage",
          prices.cloudWatchLogsStorage,
        ),
        billLine("Logs Insights scans", scannedRawGiB, "GB", "logsInsightsScan", prices.logsInsightsScan),
      ],
      lacks,
      [
        "logs shipped straight to a log group (no Firehose), kept for the archive's retention",
        "storage billed on compressed bytes, taken as the measured gzip of the raw lines",
        queryMethod,
      ],
    );
  };

  // OpenSearch Serverless (time-series collection): documents at the default codec's measured store, the hot days
  // cached on search OCUs, every OCU set doubled for redundancy, indexing at its floor.
  const defaultStore = measured.variants.default;
  const storePerRaw =
    defaultStore !== undefined && "perRawByte" in defaultStore
      ? defaultStore.perRawByte
      : assumptions.documentExpansion * assumptions.indexSizeRatio;
  const hotStoreGb = (request.dailyInputBytes * storePerRaw * retention.hot.days) / 1e9;
  const searchOcus = Math.max(SERVERLESS_MIN_OCUS, 2 * Math.ceil(hotStoreGb / SERVERLESS_OCU_STORAGE_GB));
  const serverlessStoredGiB = rawGiBPerDay * storePerRaw * indexDays;
  const serverless = total(
    "OpenSearch Serverless (time series)",
    monthlyRawGb,
    [
      {
        item: "Firehose ingestion and transform (as this stack's)",
        quantity: 1,
        unit: "",
        rate: "this estimate's lines",
        monthlyUsd: request.firehoseAndTransformUsd,
        priceKey: "firehoseIngestion",
      },
      billLine(
        `indexing OCUs (the redundant floor)`,
        SERVERLESS_MIN_OCUS * HOURS_PER_MONTH,
        "OCU-hours",
        "openSearchServerlessOcuHour",
        prices.openSearchServerlessOcuHour,
      ),
      billLine(
        `search OCUs: ${retention.hot.days} hot days cached, ${SERVERLESS_OCU_STORAGE_GB} GB each, doubled`,
        searchOcus * HOURS_PER_MONTH,
        "OCU-hours",
        "openSearchServerlessOcuHour",
        prices.openSearchServerlessOcuHour,
      ),
      billLine(
        `managed storage, ${indexDays} days at the default codec's ${storePerRaw}× raw`,
        serverlessStoredGiB,
        "GB-month",
        "openSearchServerlessStorage",
        prices.openSearchServerlessStorage,
      ),
    ],
    [
      NO_TAMPER_EVIDENCE,
      "no Object Lock archive: the collection's data lifecycle deletes; nothing is kept immutable",
      "no alerting plugin: detection and paging run elsewhere",
      "indexing OCUs priced at the floor: AWS publishes no indexing rate per OCU, so the real figure is higher",
    ],
    [
      `search OCUs hold the hot days (${SERVERLESS_OCU_STORAGE_GB} GB of local storage per OCU, ${SERVERLESS_OCU}), doubled for standby replicas`,
      "storage at the measured store ratio of the default codec (Serverless picks its own codec)",
      `queries served by the search OCUs (${queryMethod.replace("queries: ", "")})`,
    ],
  );

  // Security Lake with a custom source: the same Firehose and transform write OCSF Parquet into the lake's bucket
  // (priced as this stack's compressed archive), Athena reads it.
  const lakeScannedTb =
    (scannedRawGiB *
      (assumptions.archiveBytesPerRawByte > 0 ? assumptions.archiveBytesPerRawByte : 1) *
      GiB) /
    1e12;
  const securityLake = total(
    "Security Lake (custom source) + Athena",
    monthlyRawGb,
    [
      {
        item: "Firehose ingestion and transform to OCSF (as this stack's)",
        quantity: 1,
        unit: "",
        rate: "this estimate's lines",
        monthlyUsd: request.firehoseAndTransformUsd,
        priceKey: "firehoseIngestion",
      },
      {
        item: `S3, ${archiveDays} days of Parquet (as this stack's compressed archive)`,
        quantity: 1,
        unit: "",
        rate: "this estimate's lines",
        monthlyUsd: request.archiveUsd,
        priceKey: "s3Standard",
      },
      billLine(
        `Athena scans (Parquet at ${assumptions.archiveBytesPerRawByte}× raw)`,
        lakeScannedTb,
        "TB",
        "athenaScan",
        prices.athenaScan,
      ),
    ],
    [
      NO_TAMPER_EVIDENCE,
      "no detection rules, correlation or paging: scheduled Athena queries, minutes behind",
      "a custom source must write OCSF Parquet itself: the conversion is yours to build and run",
      "data past the Glacier transition is not queryable without a restore",
    ],
    [
      "Security Lake does not charge for custom-source data; the lake is S3, Glue and Lake Formation in your account",
      "Parquet taken as compact as this stack's gzip archive (columnar pruning would scan less; not credited)",
      queryMethod,
    ],
  );

  return [cloudWatch(false), cloudWatch(true), serverless, securityLake].sort(
    (a, b) => a.monthlyUsd - b.monthlyUsd,
  );
}
