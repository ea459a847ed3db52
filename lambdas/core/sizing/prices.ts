/**
 * The price table the cost estimate uses: on-demand list prices, in US dollars, per region, each with the page it
 * comes from, the date it is known to hold ("as of") and how it was established. Only regions listed here can be
 * priced; adding one means adding every price below for it, with its own source and date.
 *
 * The table was compiled without network access to the pricing pages, so every entry says what it rests on. Check
 * the source page before relying on a figure, and when a price changes, update the figure, its date and its note
 * together.
 */
import { SizingInputError } from "./errors.js";

/** One price with its provenance. */
export interface SourcedPrice {
  /** US dollars per `per`. */
  readonly usd: number;
  /** The unit the price is for, e.g. "instance-hour", "GB-month". */
  readonly per: string;
  /** The page AWS publishes the price on. */
  readonly source: string;
  /** The date (ISO 8601, as precise as known) at which the figure is known to be the list price. */
  readonly asOf: string;
  /** How the figure was established. */
  readonly note: string;
}

/** One band of a price that falls with volume. */
export interface PriceTier {
  /** Upper bound of the band in GiB per month; `null` for the last, open band. */
  readonly upToGiB: number | null;
  readonly usd: number;
}

/** A price that falls with monthly volume, with its provenance. */
export interface TieredPrice extends Omit<SourcedPrice, "usd"> {
  /** Bands in ascending order; only the last may be open. */
  readonly tiers: readonly PriceTier[];
}

/** Every price the estimate needs, for one region. */
export interface RegionPrices {
  readonly region: string;
  readonly currency: "USD";
  /** Amazon OpenSearch Service on-demand instance-hours, by instance type (data, master and UltraWarm nodes). */
  readonly openSearchInstanceHour: Readonly<Record<string, SourcedPrice>>;
  /** OpenSearch Service gp3 EBS storage, per GB-month provisioned (baseline IOPS and throughput included). */
  readonly openSearchGp3: SourcedPrice;
  /** UltraWarm managed storage, per GB-month used. */
  readonly ultraWarmManagedStorage: SourcedPrice;
  /** Cold storage, per GB-month used. */
  readonly coldStorage: SourcedPrice;
  /** Firehose Direct PUT ingestion, per GB billed (each record rounded up to a multiple of 5 KB). */
  readonly firehoseIngestion: TieredPrice;
  /** Firehose delivery into a VPC, per GB delivered. */
  readonly firehoseVpcDeliveryData: SourcedPrice;
  /** Firehose delivery into a VPC, per hour per availability zone per stream. */
  readonly firehoseVpcDeliveryAzHour: SourcedPrice;
  /** Lambda on arm64 (the stack's architecture), per GB-second. */
  readonly lambdaArmGbSecond: SourcedPrice;
  /** Lambda requests, per million. */
  readonly lambdaRequests: SourcedPrice;
  /** S3 Standard storage, per GB-month. */
  readonly s3Standard: TieredPrice;
  /** S3 Standard-Infrequent Access storage, per GB-month. */
  readonly s3StandardIa: SourcedPrice;
  /** S3 Glacier Flexible Retrieval storage, per GB-month. */
  readonly s3GlacierFlexibleRetrieval: SourcedPrice;
  /** S3 Glacier Deep Archive storage, per GB-month. */
  readonly s3GlacierDeepArchive: SourcedPrice;
  /** CloudWatch Logs ingestion into a Standard log group, per GB. */
  readonly cloudWatchLogsStandardIngestion: SourcedPrice;
  /** CloudWatch Logs ingestion into an Infrequent Access log group, per GB. */
  readonly cloudWatchLogsInfrequentAccessIngestion: SourcedPrice;
  /** CloudWatch Logs storage (archival), per GB-month of compressed log data. */
  readonly cloudWatchLogsStorage: SourcedPrice;
  /** CloudWatch Logs Insights, per GB of log data scanned. */
  readonly logsInsightsScan: SourcedPrice;
  /** OpenSearch Serverless compute, per OCU-hour (indexing and search alike). */
  readonly openSearchServerlessOcuHour: SourcedPrice;
  /** OpenSearch Serverless managed storage, per GB-month. */
  readonly openSearchServerlessStorage: SourcedPrice;
  /** Athena SQL queries, per TB scanned (10 MB minimum per query). */
  readonly athenaScan: SourcedPrice;
}

const OPENSEARCH_PRICING = "https://aws.amazon.com/opensearch-service/pricing/";
const FIREHOSE_PRICING = "https://aws.amazon.com/firehose/pricing/";
const LAMBDA_PRICING = "https://aws.amazon.com/lambda/pricing/";
const S3_PRICING = "https://aws.amazon.com/s3/pricing/";
const CLOUDWATCH_PRICING = "https://aws.amazon.com/cloudwatch/pricing/";
const ATHENA_PRICING = "https://aws.amazon.com/athena/pricing/";

const TiB_IN_GiB = 1024;

/** us-east-1 OpenSearch instance-hours, one note for all of them. */
function usEast1Instance(usd: number): SourcedPrice {
  return {
    usd,
    per: "instance-hour",
    source: OPENSEARCH_PRICING,
    asOf: "2026-10-01",
    note: "On-Demand, US East (N. Virginia); the same figure as the AWS Price List API (service code AmazonES) gave on 2026-10-01, as transcribed in a public cost tool",
  };
}

/** A price the table's author knows as the published list price at `asOf`, not re-read from the page. */
const KNOWN_LIST_PRICE =
  "published list price for US East (N. Virginia) as known to the table's author at that date; not re-read from the page when the table was written";

const US_EAST_1: RegionPrices = {
  region: "us-east-1",
  currency: "USD",
  openSearchInstanceHour: {
    "m6g.large.search": usEast1Instance(0.128),
    "c6g.2xlarge.search": usEast1Instance(0.452),
    "r6g.large.search": usEast1Instance(0.167),
    "r6g.xlarge.search": usEast1Instance(0.335),
    "r6g.2xlarge.search": usEast1Instance(0.669),
    "r6g.4xlarge.search": usEast1Instance(1.339),
    "r6g.8xlarge.search": usEast1Instance(2.677),
    "r6g.12xlarge.search": usEast1Instance(4.016),
    "ultrawarm1.medium.search": usEast1Instance(0.238),
    "ultrawarm1.large.search": usEast1Instance(2.68),
  },
  openSearchGp3: {
    usd: 0.122,
    per: "GB-month",
    source: OPENSEARCH_PRICING,
    asOf: "2024",
    note: "gp2 ($0.135) less the 9.6% that AWS's gp3 launch post for OpenSearch Service states (aws.amazon.com/blogs/big-data/lower-your-amazon-opensearch-service-storage-cost-with-gp3-amazon-ebs-volumes/)",
  },
  ultraWarmManagedStorage: {
    usd: 0.024,
    per: "GB-month",
    source: OPENSEARCH_PRICING,
    asOf: "2026-03",
    note: "managed storage rate as quoted from the pricing page in a March 2026 pricing write-up (cloudburn.io)",
  },
  coldStorage: {
    usd: 0.024,
    per: "GB-month",
    source: OPENSEARCH_PRICING,
    asOf: "2025-06",
    note: `${KNOWN_LIST_PRICE}; billed like UltraWarm managed storage`,
  },
  firehoseIngestion: {
    per: "GB ingested (Direct PUT, records rounded up to 5 KB)",
    tiers: [
      { upToGiB: 500 * TiB_IN_GiB, usd: 0.029 },
      { upToGiB: 2000 * TiB_IN_GiB, usd: 0.025 },
      { upToGiB: 5000 * TiB_IN_GiB, usd: 0.02 },
    ],
    source: FIREHOSE_PRICING,
    asOf: "2025-06",
    note: `${KNOWN_LIST_PRICE}; first 500 TB, next 1.5 PB, next 3 PB per month (volume beyond 5 PB is priced at the last band here)`,
  },
  firehoseVpcDeliveryData: {
    usd: 0.01,
    per: "GB delivered into a VPC",
    source: FIREHOSE_PRICING,
    asOf: "2025-06",
    note: KNOWN_LIST_PRICE,
  },
  firehoseVpcDeliveryAzHour: {
    usd: 0.01,
    per: "stream-AZ-hour of VPC delivery",
    source: FIREHOSE_PRICING,
    asOf: "2025-06",
    note: KNOWN_LIST_PRICE,
  },
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    per: "GB-second (arm64, first 7.5 billion GB-seconds a month)",
    source: LAMBDA_PRICING,
    asOf: "2025-06",
    note: KNOWN_LIST_PRICE,
  },
  lambdaRequests: {
    usd: 0.2,
    per: "million requests",
    source: LAMBDA_PRICING,
    asOf: "2025-06",
    note: KNOWN_LIST_PRICE,
  },
  s3Standard: {
    per: "GB-month",
    tiers: [
      { upToGiB: 50 * TiB_IN_GiB, usd: 0.023 },
      { upToGiB: 500 * TiB_IN_GiB, usd: 0.022 },
      { upToGiB: null, usd: 0.021 },
    ],
    source: S3_PRICING,
    asOf: "2025-06",
    note: `${KNOWN_LIST_PRICE}; first 50 TB, next 450 TB, over 500 TB per month`,
  },
  s3StandardIa: {
    usd: 0.0125,
    per: "GB-month",
    source: S3_PRICING,
    asOf: "2025-06",
    note: KNOWN_LIST_PRICE,
  },
  s3GlacierFlexibleRetrieval: {
    usd: 0.0036,
    per: "GB-month",
    source: S3_PRICING,
    asOf: "2025-06",
    note: KNOWN_LIST_PRICE,
  },
  s3GlacierDeepArchive: {
    usd: 0.00099,
    per: "GB-month",
    source: S3_PRICING,
    asOf: "2025-06",
    note: KNOWN_LIST_PRICE,
  },
  cloudWatchLogsStandardIngestion: {
    usd: 0.5,
    per: "GB ingested (Standard log class)",
    source: CLOUDWATCH_PRICING,
    asOf: "2026-06",
    note: `${KNOWN_LIST_PRICE}; the same figure as a June 2026 us-east-1 pricing write-up (c3x.dev)`,
  },
  cloudWatchLogsInfrequentAccessIngestion: {
    usd: 0.25,
    per: "GB ingested (Infrequent Access log class)",
    source: CLOUDWATCH_PRICING,
    asOf: "2026-06",
    note: `${KNOWN_LIST_PRICE}; half the Standard rate, as AWS announced the class`,
  },
  cloudWatchLogsStorage: {
    usd: 0.03,
    per: "GB-month stored (compressed)",
    source: CLOUDWATCH_PRICING,
    asOf: "2026-06",
    note: `${KNOWN_LIST_PRICE}; the same for both log classes as known to the author (one 2026 write-up quotes $0.05 for Infrequent Access: check the page)`,
  },
  logsInsightsScan: {
    usd: 0.005,
    per: "GB scanned (Logs Insights)",
    source: CLOUDWATCH_PRICING,
    asOf: "2026-06",
    note: KNOWN_LIST_PRICE,
  },
  openSearchServerlessOcuHour: {
    usd: 0.24,
    per: "OCU-hour",
    source: OPENSEARCH_PRICING,
    asOf: "2026-03",
    note: "OpenSearch Serverless compute, indexing and search alike, as quoted from the pricing page in a March 2026 pricing write-up (cloudburn.io)",
  },
  openSearchServerlessStorage: {
    usd: 0.024,
    per: "GB-month",
    source: OPENSEARCH_PRICING,
    asOf: "2026-03",
    note: "OpenSearch Serverless managed storage (S3-backed), as quoted in the same March 2026 write-up",
  },
  athenaScan: {
    usd: 5,
    per: "TB scanned (SQL queries, 10 MB minimum per query)",
    source: ATHENA_PRICING,
    asOf: "2025-06",
    note: KNOWN_LIST_PRICE,
  },
};

/** Every priced region. */
export const PRICE_TABLE: Readonly<Record<string, RegionPrices>> = { "us-east-1": US_EAST_1 };

/** The regions the table can price. */
export const PRICED_REGIONS: readonly string[] = Object.keys(PRICE_TABLE);

/** The prices of `region`; a region the table lacks fails with the list of those it has. */
export function pricesFor(region: string): RegionPrices {
  const prices = Object.hasOwn(PRICE_TABLE, region) ? PRICE_TABLE[region] : undefined;
  if (prices === undefined) {
    throw new SizingInputError({
      field: "region",
      value: region,
      problem: `the price table has no prices for this region; it has ${PRICED_REGIONS.join(", ")}`,
      fix: `pass {region} ${PRICED_REGIONS[0]}, or add the region's prices, each with its source and date, to lambdas/core/sizing/prices.ts`,
    });
  }
  return prices;
}

/** The price of an instance type in a region's table; a type without a price is a defect of the table. */
export function instanceHourPrice(prices: RegionPrices, instanceType: string): SourcedPrice {
  const price = prices.openSearchInstanceHour[instanceType];
  if (price === undefined) {
    throw new Error(`price table ${prices.region} has no price for ${instanceType}`);
  }
  return price;
}

/** Monthly cost of `gib` GiB at a tiered price: each band priced at its own rate. */
export function tieredCost(price: TieredPrice, gib: number): number {
  let cost = 0;
  let floor = 0;
  for (const tier of price.tiers) {
    const ceiling = tier.upToGiB ?? Number.POSITIVE_INFINITY;
    if (gib > floor) cost += (Math.min(gib, ceiling) - floor) * tier.usd;
    floor = ceiling;
  }
  const last = price.tiers[price.tiers.length - 1];
  if (last !== undefined && gib > floor) cost += (gib - floor) * last.usd;
  return cost;
}
