/**
 * What AWS documents and what the stack deploys, as the sizing model uses them: OpenSearch Service's sizing
 * guidance and instance limits, Firehose's per-stream quotas, Lambda's CPU allocation, and the transform's
 * deployed settings. Each figure carries the page it comes from, so the command can print it.
 */
import { KiB, MiB } from "./units.js";

/** A documented figure the model relies on. */
export interface Guideline {
  /** The figure in words, as the model applies it. */
  readonly statement: string;
  readonly source: string;
}

const SIZING = "https://docs.aws.amazon.com/opensearch-service/latest/developerguide/sizing-domains.html";
const STORAGE = "https://docs.aws.amazon.com/opensearch-service/latest/developerguide/bp-storage.html";
const BEST_PRACTICES = "https://docs.aws.amazon.com/opensearch-service/latest/developerguide/bp.html";
const SHARD_SIZE =
  "https://docs.aws.amazon.com/wellarchitected/latest/amazon-opensearch-service-lens/aosperf01-bp01.html";
const QUOTAS = "https://docs.aws.amazon.com/opensearch-service/latest/developerguide/limits.html";
const MASTERS =
  "https://docs.aws.amazon.com/opensearch-service/latest/developerguide/managedomains-dedicatedmasternodes.html";
const ULTRAWARM = "https://docs.aws.amazon.com/opensearch-service/latest/developerguide/ultrawarm.html";
const FIREHOSE_QUOTAS = "https://docs.aws.amazon.com/firehose/latest/dev/limits.html";
const PUT_RECORD_BATCH = "https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html";
const LAMBDA_MEMORY = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html";

/** Share of an index's size on disk that is index structures, over its source documents (about 10 %). */
export const INDEXING_OVERHEAD = 0.1;
/** Share of each node's file system Linux reserves for root. */
export const LINUX_RESERVED = 0.05;
/** Share of each node's storage OpenSearch Service reserves (20 %, at most 20 GiB; the worst case is applied). */
export const SERVICE_RESERVED = 0.2;
/** Most shards a node should hold per GiB of JVM heap. */
export const SHARDS_PER_HEAP_GIB = 25;
/** Most shards a node should hold at all. */
export const MAX_SHARDS_PER_NODE = 1000;
/** vCPUs to provision per shard being written to (the initial scale point). */
export const VCPUS_PER_ACTIVE_SHARD = 1.5;
/** JVM heap: half the node's memory, up to this many GiB. */
export const MAX_HEAP_GIB = 32;
/** Data nodes a domain may have without a quota increase. */
export const DEFAULT_MAX_DATA_NODES = 80;
/** Dedicated master nodes recommended for a production domain (and required by UltraWarm). */
export const DEDICATED_MASTERS = 3;
/** UltraWarm nodes a domain needs at least. */
export const MIN_ULTRAWARM_NODES = 2;

/** The OpenSearch Service guidance the model applies, as printed with every sizing. */
export const OPENSEARCH_GUIDELINES: readonly Guideline[] = [
  {
    statement:
      "hot storage = primary index size × (1 + replicas) / (1 − Linux reserve 0.05) / (1 − service reserve 0.20); AWS's formula takes the index as source data × (1 + indexing overhead 0.10), this estimate takes the primary store measured on a real node (codec, index structures and _source together)",
    source: STORAGE,
  },
  {
    statement:
      "hot data nodes = the most of: storage over each node's EBS limit; 1.5 vCPU per active shard (primaries and replicas of the index being written); shards over 25 per GiB of heap; 2 (one per replica copy) or the AZ count; rounded up to a multiple of the AZ count. The cheapest instance type wins, within 1 % the one with fewer nodes",
    source: BEST_PRACTICES,
  },
  { statement: "shards of 10–50 GiB; 30–50 GiB for log analytics", source: SHARD_SIZE },
  {
    statement: `at most ${SHARDS_PER_HEAP_GIB} shards per GiB of JVM heap and ${MAX_SHARDS_PER_NODE} per node; heap is half the memory, up to ${MAX_HEAP_GIB} GiB`,
    source: BEST_PRACTICES,
  },
  {
    statement: `${VCPUS_PER_ACTIVE_SHARD} vCPU per active shard (shards of the index being written) as the initial scale point`,
    source: BEST_PRACTICES,
  },
  {
    statement:
      "each instance type's storage limit maps to the CPU and memory a light workload needs; the model keeps to the gp2 column of the EBS quota (gp3 allows up to twice as much)",
    source: `${QUOTAS}#ebsresource`,
  },
  {
    statement: `at most ${DEFAULT_MAX_DATA_NODES} data nodes per domain without a quota increase`,
    source: QUOTAS,
  },
  {
    statement: `${DEDICATED_MASTERS} dedicated master nodes, their instance type by data node count`,
    source: MASTERS,
  },
  {
    statement: `UltraWarm stores primary shards only, in S3-backed managed storage, at most 1.5 TiB per ultrawarm1.medium and 20 TiB per ultrawarm1.large node; at least ${MIN_ULTRAWARM_NODES} nodes`,
    source: ULTRAWARM,
  },
  { statement: "the starting point of every estimate: deploy, measure, adjust", source: SIZING },
];

/** A data node type the model may recommend. */
export interface DataNodeType {
  readonly instanceType: string;
  readonly vcpus: number;
  readonly memoryGiB: number;
  /** EBS volume size limit per node (gp2 column of the OpenSearch Service EBS quotas). */
  readonly maxEbsGiB: number;
}

/**
 * Memory-optimized Graviton data nodes (r6g), the family AWS suggests for log analytics with heavy aggregations.
 * Their storage limits are the gp2 column of the EBS quota: a gp3 volume may be twice as large, but a node's CPU
 * and memory would then serve twice the data.
 */
export const DATA_NODE_TYPES: readonly DataNodeType[] = [
  { instanceType: "r6g.large.search", vcpus: 2, memoryGiB: 16, maxEbsGiB: 1024 },
  { instanceType: "r6g.xlarge.search", vcpus: 4, memoryGiB: 32, maxEbsGiB: 1536 },
  { instanceType: "r6g.2xlarge.search", vcpus: 8, memoryGiB: 64, maxEbsGiB: 3072 },
  { instanceType: "r6g.4xlarge.search", vcpus: 16, memoryGiB: 128, maxEbsGiB: 6144 },
  { instanceType: "r6g.8xlarge.search", vcpus: 32, memoryGiB: 256, maxEbsGiB: 12288 },
  { instanceType: "r6g.12xlarge.search", vcpus: 48, memoryGiB: 384, maxEbsGiB: 12288 },
];

/** Dedicated master instance types by the data node count they can govern (AWS's recommended minimums). */
export const MASTER_NODE_TYPES: readonly { readonly upToDataNodes: number; readonly instanceType: string }[] =
  [
    { upToDataNodes: 10, instanceType: "m6g.large.search" },
    { upToDataNodes: 30, instanceType: "c6g.2xlarge.search" },
    { upToDataNodes: 75, instanceType: "r6g.xlarge.search" },
    { upToDataNodes: 125, instanceType: "r6g.2xlarge.search" },
    { upToDataNodes: 200, instanceType: "r6g.4xlarge.search" },
  ];

/** UltraWarm node types with the managed storage each can address. */
export const ULTRAWARM_NODE_TYPES: readonly {
  readonly instanceType: string;
  readonly maxStorageGiB: number;
}[] = [
  { instanceType: "ultrawarm1.medium.search", maxStorageGiB: 1.5 * 1024 },
  { instanceType: "ultrawarm1.large.search", maxStorageGiB: 20 * 1024 },
];

/** Firehose's combined PutRecord/PutRecordBatch quota per Direct PUT stream. */
export interface FirehoseStreamQuota {
  readonly recordsPerSecond: number;
  readonly requestsPerSecond: number;
  readonly mibPerSecond: number;
  readonly source: string;
  readonly statement: string;
}

const HIGH_THROUGHPUT_REGIONS: FirehoseStreamQuota = {
  recordsPerSecond: 500_000,
  requestsPerSecond: 2_000,
  mibPerSecond: 5,
  source: FIREHOSE_QUOTAS,
  statement:
    "Direct PUT, per stream, in US East (N. Virginia), US West (Oregon) and Europe (Ireland): 500,000 records/s, 2,000 requests/s and 5 MiB/s combined for PutRecord and PutRecordBatch (earlier revisions of the page said 5,000 records/s); the three scale together on a quota increase",
};

/** Default per-stream quotas of the regions the model knows. */
export const FIREHOSE_STREAM_QUOTAS: Readonly<Record<string, FirehoseStreamQuota>> = {
  "us-east-1": HIGH_THROUGHPUT_REGIONS,
  "us-west-2": HIGH_THROUGHPUT_REGIONS,
  "eu-west-1": HIGH_THROUGHPUT_REGIONS,
};

/** Records per PutRecordBatch call at most. */
export const PUT_RECORD_BATCH_MAX_RECORDS = 500;
/** Firehose bills ingestion per record in increments of this many bytes. */
export const FIREHOSE_BILLING_INCREMENT_BYTES = 5 * KiB;
/** Lambda memory (MB) at which a function has the equivalent of one vCPU; CPU scales with memory. */
export const LAMBDA_MB_PER_VCPU = 1769;

/** The Firehose and Lambda figures the model applies, as printed with every sizing. */
export const INGESTION_GUIDELINES: readonly Guideline[] = [
  { statement: HIGH_THROUGHPUT_REGIONS.statement, source: FIREHOSE_QUOTAS },
  {
    statement: `at most ${PUT_RECORD_BATCH_MAX_RECORDS} records and 4 MiB per PutRecordBatch call`,
    source: PUT_RECORD_BATCH,
  },
  {
    statement: `a function has one vCPU at ${LAMBDA_MB_PER_VCPU} MB of memory; CPU is proportional to memory`,
    source: LAMBDA_MEMORY,
  },
];

/**
 * The transform as `lib/ingestion.ts` deploys it. Kept here because the sizing core cannot read the construct; a
 * unit test holds these to the construct's source.
 */
export const DEPLOYED_TRANSFORM = {
  /** Lambda memory, MB. */
  memoryMB: 1024,
  /** Firehose processor buffer: the transform is invoked with up to this much input. */
  processorBufferBytes: 1 * MiB,
  /** Firehose processor buffer interval, seconds: an invocation at least this often per stream with data. */
  processorBufferIntervalSeconds: 60,
  /** Reserved concurrency the stack gives the transform (`concurrency.transform`'s default in `lib/config`). */
  reservedConcurrency: 20,
} as const;
