/**
 * `sizeAuditTrail`: from a daily volume of raw logs, the compliance minimums and the assumptions, the OpenSearch
 * domain, Firehose streams, transform concurrency, S3 footprint, and the monthly cost at steady state priced from
 * the region's price table, every price with its provenance. Pure: no I/O, no AWS call.
 */
import {
  type Alternative,
  type BillLine,
  billLine,
  type MonthlyBill,
  money,
  priceAlternatives,
} from "./alternatives.js";
import { type ArchiveSizing, type StorageClass, sizeArchive } from "./archive.js";
import { type AssumptionOverrides, type Assumptions, resolveAssumptionsWithBasis } from "./assumptions.js";
import {
  DETECTOR_PASS_TARGET_SECONDS,
  type DetectionSizing,
  detectionMethod,
  sizeDetection,
} from "./detection.js";
import { SizingInputError } from "./errors.js";
import { type IngestionSizing, sizeIngestion } from "./ingestion.js";
import { STORAGE_MEASUREMENTS } from "./measurements.js";
import {
  instanceHourPrice,
  pricesFor,
  type RegionPrices,
  type SourcedPrice,
  type TieredPrice,
  tieredCost,
} from "./prices.js";
import { planRetention, type RetentionPlan, type RetentionRequest } from "./retention.js";
import { type SearchSizing, sizeSearch } from "./search.js";
import { DAYS_PER_MONTH, GB, GiB, HOURS_PER_MONTH } from "./units.js";

/** Everything a sizing needs. */
export interface SizingRequest {
  /** Raw logs shipped per day, GB (10^9 bytes). */
  readonly gbPerDay: number;
  /** Region to price in; must be in the price table. */
  readonly region: string;
  /** The compliance frameworks whose minimums `retention.requirements` carries (for the record). */
  readonly frameworks: readonly string[];
  readonly retention: RetentionRequest;
  readonly assumptions?: AssumptionOverrides;
  /** 1 for a single-AZ domain, 2 or 3 with zone awareness. */
  readonly availabilityZones: number;
  /** `vpc`: Firehose delivers into the VPC (charged); `public`: to a public endpoint. */
  readonly network: "vpc" | "public";
}

/** The services the bill is grouped by. */
export type Service = "OpenSearch" | "Firehose" | "Lambda" | "S3";

/** One line of the monthly bill. */
export interface CostLine extends BillLine {
  readonly service: Service;
}

/** A price the estimate used, with its provenance. */
export interface PriceUse {
  readonly key: string;
  readonly rate: string;
  readonly per: string;
  readonly source: string;
  readonly asOf: string;
  readonly note: string;
}

/** The sizing as keys of an environment entry (`ENVIRONMENTS_FILE`), ready to paste into one. */
export interface SuggestedConfig {
  readonly retention: {
    readonly hotDays: number;
    readonly warmDays: number;
    readonly coldDays: number;
    readonly archiveDays: number;
  };
  readonly search: {
    readonly instanceType: string;
    readonly instanceCount: number;
    readonly dedicatedMaster: { readonly instanceType: string; readonly count: number };
    readonly ultraWarm?: { readonly instanceType: string; readonly count: number };
    readonly coldStorage: boolean;
    readonly ebsVolumeSizeGiB: number;
    readonly zoneAwareness?: { readonly availabilityZoneCount: number };
    readonly shardCount: number;
    readonly replicaCount: number;
  };
}

/** A sizing: every figure, the bill, its prices and provenance, and the config to paste. */
export interface Sizing {
  readonly input: {
    readonly gbPerDay: number;
    readonly region: string;
    readonly frameworks: readonly string[];
    readonly availabilityZones: number;
    readonly network: "vpc" | "public";
  };
  readonly assumptions: Assumptions;
  /** Where each assumption comes from (a measurement's file, date and command, a default, or the caller). */
  readonly assumptionBasis: Readonly<Record<keyof Assumptions, string>>;
  readonly retention: RetentionPlan;
  readonly volume: {
    readonly dailyInputBytes: number;
    readonly dailyDocumentBytes: number;
    /** Bytes the Firehose backup (and so the archive) stores a day. */
    readonly dailyArchiveBytes: number;
    readonly recordsPerDay: number;
  };
  readonly search: SearchSizing;
  readonly ingestion: IngestionSizing;
  /** Whether the detector's one-minute schedule keeps up, and the shards it needs. */
  readonly detection: DetectionSizing;
  readonly archive: ArchiveSizing;
  readonly cost: MonthlyBill<CostLine> & { readonly currency: "USD"; readonly region: string };
  /** The same volume and retention with what a team would pick instead, cheapest first. */
  readonly alternatives: readonly Alternative[];
  readonly prices: readonly PriceUse[];
  readonly config: SuggestedConfig;
  /** Findings the reader should act on. */
  readonly notes: readonly string[];
  /** How the model counts (units, steady state). */
  readonly method: readonly string[];
  /** Costs the estimate leaves out. */
  readonly excluded: readonly string[];
}

/** Costs the estimate does not include. */
export const EXCLUDED_COSTS: readonly string[] = [
  "Reserved Instance and Savings Plans discounts: on-demand list prices throughout",
  "data transfer and NAT gateways",
  "KMS keys and requests, CloudWatch logs and metrics, SNS, the DynamoDB ledger",
  "the detector, archiver and digest-writer Lambdas (they run per minute or per object, not per GB)",
  "S3 request and lifecycle-transition charges (Firehose writes objects of up to 64 MiB, so there are few)",
  "gp3 IOPS and throughput above the baseline",
  "taxes",
];

const MAX_GB_PER_DAY = 1_000_000;

class Bill {
  readonly lines: CostLine[] = [];
  private readonly used = new Map<string, PriceUse>();

  flat(service: Service, item: string, quantity: number, unit: string, key: string, price: SourcedPrice) {
    const line = billLine(item, quantity, unit, key, price);
    this.use(key, price, line.rate);
    this.lines.push({ service, ...line });
  }

  /** A line whose quantity is charged per instance-hour: `quantity` instances for a month. */
  instances(service: Service, item: string, nodes: number, key: string, price: SourcedPrice) {
    this.use(key, price, `${money(price.usd)}/${price.per}`);
    this.lines.push({
      service,
      item,
      quantity: nodes,
      unit: `× ${HOURS_PER_MONTH} h`,
      rate: `${money(price.usd)}/${price.per}`,
      monthlyUsd: nodes * HOURS_PER_MONTH * price.usd,
      priceKey: key,
    });
  }

  tiered(service: Service, item: string, gib: number, unit: string, key: string, price: TieredPrice) {
    const bands = price.tiers
      .map(
        (tier) => `${money(tier.usd)}${tier.upToGiB === null ? " beyond" : ` to ${tier.upToGiB / 1024} TB`}`,
      )
      .join(", ");
    this.use(key, { ...price, usd: 0 }, `tiered: ${bands} per ${price.per}`);
    const monthlyUsd = tieredCost(price, gib);
    this.lines.push({
      service,
      item,
      quantity: gib,
      unit,
      rate: gib > 0 ? `${money(Number((monthlyUsd / gib).toPrecision(3)))}/${unit} (tiered)` : "tiered",
      monthlyUsd,
      priceKey: key,
    });
  }

  prices(): PriceUse[] {
    return [...this.used.values()];
  }

  private use(key: string, price: SourcedPrice, rate: string) {
    if (!this.used.has(key)) {
      this.used.set(key, {
        key,
        rate,
        per: price.per,
        source: price.source,
        asOf: price.asOf,
        note: price.note,
      });
    }
  }
}

function checkRequest(request: SizingRequest, assumptions: Assumptions): RegionPrices {
  if (!Number.isFinite(request.gbPerDay) || request.gbPerDay <= 0 || request.gbPerDay > MAX_GB_PER_DAY) {
    throw new SizingInputError({
      field: "gbPerDay",
      value: request.gbPerDay,
      problem: `must be a number of GB (10^9 bytes) of raw logs a day, above 0 and at most ${MAX_GB_PER_DAY.toLocaleString("en-US")}`,
      fix: "pass the daily volume your clusters ship, e.g. {gbPerDay} 100",
    });
  }
  if (![1, 2, 3].includes(request.availabilityZones)) {
    throw new SizingInputError({
      field: "availabilityZones",
      value: request.availabilityZones,
      problem: "must be 1 (single AZ), 2 or 3 (zone awareness)",
      fix: "pass {availabilityZones} 1, 2 or 3",
    });
  }
  if (request.availabilityZones > 1 && assumptions.replicas < 1) {
    throw new SizingInputError({
      field: "replicas",
      value: assumptions.replicas,
      problem: "zone awareness only protects data that has a replica in another AZ",
      fix: "pass {replicas} 1 or more, or {availabilityZones} 1",
    });
  }
  return pricesFor(request.region);
}

const storageClassPrice = (prices: RegionPrices, storageClass: StorageClass) =>
  ({
    "S3 Standard": undefined,
    "S3 Standard-IA": ["s3StandardIa", prices.s3StandardIa],
    "S3 Glacier Flexible Retrieval": ["s3GlacierFlexibleRetrieval", prices.s3GlacierFlexibleRetrieval],
    "S3 Glacier Deep Archive": ["s3GlacierDeepArchive", prices.s3GlacierDeepArchive],
  })[storageClass] as [string, SourcedPrice] | undefined;

/** Sizes the whole stack for the request and prices it. Throws `SizingInputError` on an input it cannot size. */
export function sizeAuditTrail(request: SizingRequest): Sizing {
  const { assumptions, basis } = resolveAssumptionsWithBasis(request.assumptions);
  const prices = checkRequest(request, assumptions);
  const retention = planRetention(request.retention);
  const dailyInputBytes = request.gbPerDay * GB;
  const dailyDocumentBytes = dailyInputBytes * assumptions.documentExpansion;
  const dailyArchiveBytes = dailyInputBytes * assumptions.archiveBytesPerRawByte;

  const search = sizeSearch({
    dailyDocumentBytes,
    retention,
    assumptions,
    availabilityZones: request.availabilityZones,
    prices,
  });
  const ingestion = sizeIngestion({ dailyInputBytes, region: request.region, assumptions });
  const archive = sizeArchive(dailyArchiveBytes, retention);

  const bill = new Bill();
  const { hot, masters, warm, cold } = search;
  bill.instances(
    "OpenSearch",
    `data nodes ${hot.instanceType}`,
    hot.nodes,
    `openSearchInstanceHour.${hot.instanceType}`,
    instanceHourPrice(prices, hot.instanceType),
  );
  bill.flat(
    "OpenSearch",
    `EBS gp3, ${hot.ebsGiBPerNode} GiB × ${hot.nodes} nodes`,
    hot.ebsGiBPerNode * hot.nodes,
    "GB-month",
    "openSearchGp3",
    prices.openSearchGp3,
  );
  bill.instances(
    "OpenSearch",
    `dedicated masters ${masters.instanceType}`,
    masters.nodes,
    `openSearchInstanceHour.${masters.instanceType}`,
    instanceHourPrice(prices, masters.instanceType),
  );
  if (warm.ultraWarm !== undefined) {
    bill.instances(
      "OpenSearch",
      `UltraWarm nodes ${warm.ultraWarm.instanceType}`,
      warm.ultraWarm.nodes,
      `openSearchInstanceHour.${warm.ultraWarm.instanceType}`,
      instanceHourPrice(prices, warm.ultraWarm.instanceType),
    );
    bill.flat(
      "OpenSearch",
      "UltraWarm managed storage",
      warm.storageGiB,
      "GB-month",
      "ultraWarmManagedStorage",
      prices.ultraWarmManagedStorage,
    );
  }
  if (cold.storageGiB > 0) {
    bill.flat("OpenSearch", "cold storage", cold.storageGiB, "GB-month", "coldStorage", prices.coldStorage);
  }

  const { firehose, transform } = ingestion;
  bill.tiered(
    "Firehose",
    "Direct PUT ingestion (5 KB per record minimum)",
    firehose.billedGiBPerMonth,
    "GB",
    "firehoseIngestion",
    prices.firehoseIngestion,
  );
  if (request.network === "vpc") {
    bill.flat(
      "Firehose",
      "VPC delivery, documents",
      (dailyDocumentBytes * DAYS_PER_MONTH) / GiB,
      "GB",
      "firehoseVpcDeliveryData",
      prices.firehoseVpcDeliveryData,
    );
    bill.flat(
      "Firehose",
      `VPC delivery, 1 stream × ${request.availabilityZones} AZ`,
      request.availabilityZones * HOURS_PER_MONTH,
      "AZ-hours",
      "firehoseVpcDeliveryAzHour",
      prices.firehoseVpcDeliveryAzHour,
    );
  }
  bill.flat(
    "Lambda",
    `transform compute (${transform.memoryMB} MB, arm64)`,
    transform.gbSecondsPerMonth,
    "GB-seconds",
    "lambdaArmGbSecond",
    prices.lambdaArmGbSecond,
  );
  bill.flat(
    "Lambda",
    "transform requests",
    transform.invocationsPerMonth / 1e6,
    "million",
    "lambdaRequests",
    prices.lambdaRequests,
  );
  const standardBand = archive.bands.find((band) => band.storageClass === "S3 Standard");
  bill.tiered(
    "S3",
    `S3 Standard: staging (${retention.stagingDays} d) and archive (days 0–${standardBand?.toDay ?? 0})`,
    archive.stagingGiB + (standardBand?.storageGiB ?? 0),
    "GB-month",
    "s3Standard",
    prices.s3Standard,
  );
  for (const band of archive.bands) {
    const price = storageClassPrice(prices, band.storageClass);
    if (price === undefined) continue;
    bill.flat(
      "S3",
      `${band.storageClass}: archive (days ${band.fromDay}–${band.toDay})`,
      band.storageGiB,
      "GB-month",
      price[0],
      price[1],
    );
  }

  const monthlyUsd = bill.lines.reduce((sum, line) => sum + line.monthlyUsd, 0);
  const serviceUsd = (service: Service) =>
    bill.lines.filter((line) => line.service === service).reduce((sum, line) => sum + line.monthlyUsd, 0);
  const measuredMix = STORAGE_MEASUREMENTS.inputs.mix;
  const alternatives =
    measuredMix === undefined
      ? []
      : priceAlternatives({
          gbPerDay: request.gbPerDay,
          dailyInputBytes,
          retention,
          assumptions,
          measured: measuredMix,
          prices,
          firehoseAndTransformUsd:
            bill.lines
              .filter((line) => line.priceKey === "firehoseIngestion")
              .reduce((sum, line) => sum + line.monthlyUsd, 0) + serviceUsd("Lambda"),
          archiveUsd: serviceUsd("S3"),
        });
  const detection = sizeDetection(firehose.recordsPerDay, search.primaryShardsPerIndex);
  const config: SuggestedConfig = {
    retention: {
      hotDays: retention.hot.days,
      warmDays: retention.warm.days,
      coldDays: retention.cold.days,
      archiveDays: retention.archive.days,
    },
    search: {
      instanceType: hot.instanceType,
      instanceCount: hot.nodes,
      dedicatedMaster: { instanceType: masters.instanceType, count: masters.nodes },
      ...(warm.ultraWarm === undefined
        ? {}
        : { ultraWarm: { instanceType: warm.ultraWarm.instanceType, count: warm.ultraWarm.nodes } }),
      coldStorage: cold.storageGiB > 0,
      ebsVolumeSizeGiB: hot.ebsGiBPerNode,
      ...(request.availabilityZones > 1
        ? { zoneAwareness: { availabilityZoneCount: request.availabilityZones } }
        : {}),
      shardCount: Math.max(search.primaryShardsPerIndex, detection.recommendedShards),
      replicaCount: assumptions.replicas,
    },
  };

  const lastBand = prices.firehoseIngestion.tiers[prices.firehoseIngestion.tiers.length - 1];
  const notes = [...search.notes, ...ingestion.notes];
  if (detection.recommendedShards > search.primaryShardsPerIndex) {
    notes.push(
      `the detector's pass over ${Math.round(detection.eventsPer15Minutes).toLocaleString("en-US")} events per 15 minutes would take about ${Math.round(detection.passSeconds)} s on ${search.primaryShardsPerIndex} primary shard(s)${detection.keepsUp ? "" : ", longer than its one-minute schedule"}: ${detection.recommendedShards} primary shards per daily index bring it to about ${detection.recommendedPassSeconds.toFixed(1)} s, under the ${DETECTOR_PASS_TARGET_SECONDS} s a pass may take (the suggested shardCount)`,
    );
  }
  if (lastBand?.upToGiB != null && firehose.billedGiBPerMonth > lastBand.upToGiB) {
    notes.push(
      "Firehose bills more than the price table's last band; the excess is priced at that band's rate",
    );
  }
  return {
    input: {
      gbPerDay: request.gbPerDay,
      region: request.region,
      frameworks: request.frameworks,
      availabilityZones: request.availabilityZones,
      network: request.network,
    },
    assumptions,
    assumptionBasis: basis,
    retention,
    volume: {
      dailyInputBytes,
      dailyDocumentBytes,
      dailyArchiveBytes,
      recordsPerDay: firehose.recordsPerDay,
    },
    search,
    ingestion,
    detection,
    archive,
    cost: {
      currency: "USD",
      region: prices.region,
      lines: bill.lines,
      monthlyUsd,
      usdPerRawGb: monthlyUsd / (request.gbPerDay * DAYS_PER_MONTH),
    },
    alternatives,
    prices: bill.prices(),
    config,
    notes,
    method: [
      `monthly figures at steady state: every tier full, the archive after ${retention.archive.days} days; ${HOURS_PER_MONTH} hours and 365/12 days a month`,
      "input in GB (10^9 bytes) of raw log lines; storage in GiB (2^30 bytes), and AWS's per-GB prices applied to GiB, which errs high by at most 7.4 %",
      "one Firehose record per log line, as Fluent Bit's kinesis_firehose output sends them; Firehose bills each record rounded up to 5 KB",
      assumptions.archiveCompression === "gzip"
        ? "S3 (staging and archive) holds the documents GZIP-compressed, as the stack's backup writes them and the archiver copies them"
        : "S3 (staging and archive) holds the documents uncompressed",
      "OpenSearch holds the documents at the measured store ratio (codec, index structures and _source together), after a force-merge; a daily index still being written is somewhat larger",
      detectionMethod(),
    ],
    excluded: EXCLUDED_COSTS,
  };
}
