/**
 * The OpenSearch domain for a daily volume of documents: hot data nodes (type, count, EBS per node), dedicated
 * masters, UltraWarm nodes and managed storage, and cold storage, following AWS's sizing guidance (see
 * `guidance.ts`). Where a warm tier may live either read-only on the hot nodes or on UltraWarm, the cheaper
 * layout wins and the other's cost is reported.
 */
import type { Assumptions } from "./assumptions.js";
import {
  DATA_NODE_TYPES,
  type DataNodeType,
  DEDICATED_MASTERS,
  DEFAULT_MAX_DATA_NODES,
  LINUX_RESERVED,
  MASTER_NODE_TYPES,
  MAX_HEAP_GIB,
  MAX_SHARDS_PER_NODE,
  MIN_ULTRAWARM_NODES,
  SERVICE_RESERVED,
  SHARDS_PER_HEAP_GIB,
  ULTRAWARM_NODE_TYPES,
  VCPUS_PER_ACTIVE_SHARD,
} from "./guidance.js";
import { instanceHourPrice, type RegionPrices } from "./prices.js";
import type { RetentionPlan } from "./retention.js";
import { GiB, HOURS_PER_MONTH } from "./units.js";

/** What the domain must hold. */
export interface SearchRequest {
  /** Bytes of ECS documents indexed per day. */
  readonly dailyDocumentBytes: number;
  readonly retention: RetentionPlan;
  readonly assumptions: Assumptions;
  /** 1 for a single-AZ domain; 2 or 3 with zone awareness (data nodes a multiple of it). */
  readonly availabilityZones: number;
  readonly prices: RegionPrices;
}

/** What decided the data node count. */
export type NodeCountLimit = "storage" | "vCPU per active shard" | "shards per heap" | "minimum nodes";

/** The hot data nodes chosen, with what decided them and what they cost. */
export interface HotTier {
  readonly instanceType: string;
  readonly nodes: number;
  readonly vcpusPerNode: number;
  readonly memoryGiBPerNode: number;
  readonly ebsGiBPerNode: number;
  /** Storage the hot tier needs, all nodes together, overheads included. */
  readonly requiredStorageGiB: number;
  /** Daily indices on the hot nodes at once (the one being written included). */
  readonly indices: number;
  /** Shards on the hot nodes, replicas included. */
  readonly shards: number;
  /** Shards of the index being written, replicas included. */
  readonly activeShards: number;
  readonly limitedBy: NodeCountLimit;
  /** More data nodes than a domain may have without a quota increase. */
  readonly aboveDefaultQuota: boolean;
  readonly instanceMonthlyUsd: number;
  readonly ebsMonthlyUsd: number;
}

/** Nodes of one instance type and their monthly cost. */
export interface NodeGroup {
  readonly instanceType: string;
  readonly nodes: number;
  readonly monthlyUsd: number;
}

/** Where the warm days live and why. */
export interface WarmTier {
  /** Where warm indices live: UltraWarm, read-only on the hot nodes, or nowhere (no warm days). */
  readonly placement: "ultrawarm" | "hot nodes" | "none";
  /** Primary shard data in the warm state (replicas are not kept in UltraWarm). */
  readonly storageGiB: number;
  /** Shards on UltraWarm nodes (primaries only); warm shards on hot nodes count in the hot tier's. */
  readonly shards: number;
  readonly ultraWarm?: NodeGroup & { readonly managedStorageMonthlyUsd: number };
  readonly reason: string;
}

/** The whole domain. */
export interface SearchSizing {
  /** Primary index size per day, GiB. */
  readonly dailyPrimaryGiB: number;
  readonly primaryShardsPerIndex: number;
  /** The shard size the daily indices actually get, GiB. */
  readonly shardGiB: number;
  readonly hot: HotTier;
  readonly masters: NodeGroup;
  readonly warm: WarmTier;
  readonly cold: { readonly storageGiB: number; readonly monthlyUsd: number };
  readonly notes: readonly string[];
}

function heapGiB(type: DataNodeType): number {
  return Math.min(type.memoryGiB / 2, MAX_HEAP_GIB);
}

interface HotDemand {
  readonly indices: number;
  readonly storageGiB: number;
  readonly shards: number;
  readonly activeShards: number;
  readonly minimumNodes: number;
  readonly availabilityZones: number;
}

function hotOption(type: DataNodeType, demand: HotDemand, prices: RegionPrices): HotTier {
  const shardCapacity = Math.min(SHARDS_PER_HEAP_GIB * heapGiB(type), MAX_SHARDS_PER_NODE);
  const needs: [NodeCountLimit, number][] = [
    ["storage", Math.ceil(demand.storageGiB / type.maxEbsGiB)],
    ["vCPU per active shard", Math.ceil((VCPUS_PER_ACTIVE_SHARD * demand.activeShards) / type.vcpus)],
    ["shards per heap", Math.ceil(demand.shards / shardCapacity)],
    ["minimum nodes", demand.minimumNodes],
  ];
  const [limitedBy, raw] = needs.reduce((best, need) => (need[1] > best[1] ? need : best));
  const nodes = Math.ceil(raw / demand.availabilityZones) * demand.availabilityZones;
  const ebsGiBPerNode = Math.max(10, Math.ceil(demand.storageGiB / nodes));
  return {
    instanceType: type.instanceType,
    nodes,
    vcpusPerNode: type.vcpus,
    memoryGiBPerNode: type.memoryGiB,
    ebsGiBPerNode,
    requiredStorageGiB: demand.storageGiB,
    indices: demand.indices,
    shards: demand.shards,
    activeShards: demand.activeShards,
    limitedBy,
    aboveDefaultQuota: nodes > DEFAULT_MAX_DATA_NODES,
    instanceMonthlyUsd: nodes * instanceHourPrice(prices, type.instanceType).usd * HOURS_PER_MONTH,
    ebsMonthlyUsd: nodes * ebsGiBPerNode * prices.openSearchGp3.usd,
  };
}

/** Options costing at most this much more than the cheapest count as equal, and the fewest nodes wins. */
const PRICE_TIE = 0.01;

/**
 * The data node option within the default node quota (or with the fewest nodes, if none fits) that costs least;
 * among options within 1 % of that, the one with the fewest (larger) nodes, which carry less per-node overhead.
 */
function sizeHot(demand: HotDemand, prices: RegionPrices): HotTier {
  const options = DATA_NODE_TYPES.map((type) => hotOption(type, demand, prices));
  const withinQuota = options.filter((option) => !option.aboveDefaultQuota);
  const monthly = (option: HotTier) => option.instanceMonthlyUsd + option.ebsMonthlyUsd;
  const pool = withinQuota.length > 0 ? withinQuota : options;
  const cheapest = Math.min(...pool.map(monthly));
  return pool
    .filter((option) => monthly(option) <= cheapest * (1 + PRICE_TIE))
    .reduce((best, option) => (option.nodes < best.nodes ? option : best));
}

function sizeMasters(dataNodes: number, prices: RegionPrices): NodeGroup {
  const row =
    MASTER_NODE_TYPES.find((candidate) => dataNodes <= candidate.upToDataNodes) ??
    MASTER_NODE_TYPES[MASTER_NODE_TYPES.length - 1];
  const instanceType = row?.instanceType ?? "m6g.large.search";
  return {
    instanceType,
    nodes: DEDICATED_MASTERS,
    monthlyUsd: DEDICATED_MASTERS * instanceHourPrice(prices, instanceType).usd * HOURS_PER_MONTH,
  };
}

function sizeUltraWarm(storageGiB: number, prices: RegionPrices): NodeGroup {
  const options = ULTRAWARM_NODE_TYPES.map((type) => {
    const nodes = Math.max(MIN_ULTRAWARM_NODES, Math.ceil(storageGiB / type.maxStorageGiB));
    return {
      instanceType: type.instanceType,
      nodes,
      monthlyUsd: nodes * instanceHourPrice(prices, type.instanceType).usd * HOURS_PER_MONTH,
    };
  });
  return options.reduce((best, option) => (option.monthlyUsd < best.monthlyUsd ? option : best));
}

interface Layout {
  readonly hot: HotTier;
  readonly masters: NodeGroup;
  readonly warm: WarmTier;
  readonly monthlyUsd: number;
}

const usd = (value: number) => `$${Math.round(value).toLocaleString("en-US")}`;

/** Sizes the domain for the request's daily volume and retention. */
export function sizeSearch(request: SearchRequest): SearchSizing {
  const { assumptions, retention, prices, availabilityZones } = request;
  const dailyPrimaryGiB = (request.dailyDocumentBytes * assumptions.indexSizeRatio) / GiB;
  const primaryShardsPerIndex = Math.max(1, Math.ceil(dailyPrimaryGiB / assumptions.shardSizeGiB));
  const copies = 1 + assumptions.replicas;
  const hotOverhead = copies / (1 - LINUX_RESERVED) / (1 - SERVICE_RESERVED);
  const minimumNodes = Math.max(availabilityZones, copies);

  const layout = (warmOnHot: boolean, ultraWarm: boolean): Layout => {
    // The index being written today sits on the hot nodes beside the hot days' indices.
    const indices = retention.hot.days + 1 + (warmOnHot ? retention.warm.days : 0);
    const hot = sizeHot(
      {
        indices,
        storageGiB: dailyPrimaryGiB * indices * hotOverhead,
        shards: primaryShardsPerIndex * copies * indices,
        activeShards: primaryShardsPerIndex * copies,
        minimumNodes,
        availabilityZones,
      },
      prices,
    );
    const masters = sizeMasters(hot.nodes, prices);
    const warmGiB = dailyPrimaryGiB * retention.warm.days;
    let warm: WarmTier;
    if (ultraWarm) {
      const nodes = sizeUltraWarm(warmGiB, prices);
      warm = {
        placement: "ultrawarm",
        storageGiB: warmGiB,
        shards: primaryShardsPerIndex * retention.warm.days,
        ultraWarm: { ...nodes, managedStorageMonthlyUsd: warmGiB * prices.ultraWarmManagedStorage.usd },
        reason: "",
      };
    } else {
      warm = {
        placement: retention.warm.days > 0 ? "hot nodes" : "none",
        storageGiB: warmGiB,
        shards: 0,
        reason: retention.warm.days > 0 ? "" : "no warm days",
      };
    }
    const monthlyUsd =
      hot.instanceMonthlyUsd +
      hot.ebsMonthlyUsd +
      masters.monthlyUsd +
      (warm.ultraWarm === undefined
        ? 0
        : warm.ultraWarm.monthlyUsd + warm.ultraWarm.managedStorageMonthlyUsd);
    return { hot, masters, warm, monthlyUsd };
  };

  let chosen: Layout;
  if (retention.cold.days > 0) {
    chosen = layout(false, true);
    chosen = {
      ...chosen,
      warm: {
        ...chosen.warm,
        reason: "cold storage needs UltraWarm, and an index reaches it from UltraWarm",
      },
    };
  } else if (retention.warm.days > 0) {
    const onUltraWarm = layout(false, true);
    const onHot = layout(true, false);
    const saving = Math.abs(onHot.monthlyUsd - onUltraWarm.monthlyUsd);
    chosen =
      onUltraWarm.monthlyUsd < onHot.monthlyUsd
        ? {
            ...onUltraWarm,
            warm: {
              ...onUltraWarm.warm,
              reason: `${usd(saving)}/month cheaper than keeping warm indices read-only on hot nodes`,
            },
          }
        : {
            ...onHot,
            warm: {
              ...onHot.warm,
              reason: `read-only on hot nodes: ${usd(saving)}/month cheaper than UltraWarm at this volume`,
            },
          };
  } else {
    chosen = layout(false, false);
  }

  const coldGiB = dailyPrimaryGiB * retention.cold.days;
  const shardGiB = dailyPrimaryGiB / primaryShardsPerIndex;
  const notes: string[] = [];
  if (shardGiB < 10) {
    notes.push(
      `daily indices of ${shardGiB.toFixed(1)} GiB make shards smaller than AWS's 10 GiB floor; with one index per day that is unavoidable below about ${Math.ceil((10 * GiB) / assumptions.indexSizeRatio / 1e9)} GB of documents a day`,
    );
  }
  if (chosen.hot.aboveDefaultQuota) {
    notes.push(
      `${chosen.hot.nodes} data nodes exceed the default quota of ${DEFAULT_MAX_DATA_NODES} per domain: request an increase before deploying`,
    );
  }
  return {
    dailyPrimaryGiB,
    primaryShardsPerIndex,
    shardGiB,
    hot: chosen.hot,
    masters: chosen.masters,
    warm: chosen.warm,
    cold: { storageGiB: coldGiB, monthlyUsd: coldGiB * prices.coldStorage.usd },
    notes,
  };
}
