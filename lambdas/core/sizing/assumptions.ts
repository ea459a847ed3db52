/**
 * The assumptions of a sizing: the figures that are not AWS's to state but this project's (measured, or chosen),
 * each with its default, where the default comes from, and the range a caller may override it within.
 */
import { type SizingField, SizingInputError } from "./errors.js";
import { INDEXING_OVERHEAD } from "./guidance.js";

/** The figures a sizing assumes, with every default applied. */
export interface Assumptions {
  /** Documents keep the raw line in `event.original` (`transform.keepEventOriginal`). */
  readonly keepEventOriginal: boolean;
  /** Bytes of ECS document per byte of raw input. */
  readonly documentExpansion: number;
  /** Average raw record (log line) size in bytes; one Firehose record per line, as Fluent Bit ships them. */
  readonly averageRecordBytes: number;
  /** Replicas per shard in the hot tier. */
  readonly replicas: number;
  /** On-disk size of a primary index over its source documents (compression and index structures together). */
  readonly indexSizeRatio: number;
  /** Target primary shard size, GiB. */
  readonly shardSizeGiB: number;
  /** Busiest hour's rate over the day's average rate. */
  readonly peakFactor: number;
  /** Transform throughput on one vCPU, MB of input per second. */
  readonly transformMBPerSecondPerVcpu: number;
  /** Reserved concurrency over the concurrency the peak needs. */
  readonly concurrencyHeadroom: number;
}

/** The assumptions a caller may override. */
export type AssumptionOverrides = Partial<
  Pick<
    Assumptions,
    | "keepEventOriginal"
    | "documentExpansion"
    | "averageRecordBytes"
    | "replicas"
    | "indexSizeRatio"
    | "shardSizeGiB"
    | "peakFactor"
  >
>;

/** Documents over input with `event.original` kept, measured (bench mix 2.87×, examples/incident 2.94×). */
export const EXPANSION_WITH_ORIGINAL = 2.9;
/** Documents over input without `event.original`, measured (bench mix 2.14×, examples/incident 1.81×). */
export const EXPANSION_WITHOUT_ORIGINAL = 2.2;

/** How each default was arrived at, for the printed assumptions. */
export const ASSUMPTION_BASIS: Readonly<Record<keyof Assumptions, string>> = {
  keepEventOriginal: "the stack's default (transform.keepEventOriginal); GDPR environments turn it off",
  documentExpansion:
    "measured: normalized ECS documents are 2.87× their input on the benchmark mix (bench/transform-mix.ts, 20,000 records) and 2.94× on examples/incident; 2.14× and 1.81× without event.original; defaults 2.9 and 2.2",
  averageRecordBytes: "measured: 718 B per record on the benchmark mix, 742 B on examples/incident",
  replicas: "AWS recommends at least one replica; zone awareness needs one",
  indexSizeRatio: `AWS: an index on disk is about ${Math.round((1 + INDEXING_OVERHEAD) * 100)} % of its source; no compression credited. Measure pri.store.size over the bytes indexed and override`,
  shardSizeGiB: "middle of AWS's 30–50 GiB for log analytics",
  peakFactor:
    "assumed; measure your busiest hour: peak factor = busiest hour's volume × 24 / the day's volume",
  transformMBPerSecondPerVcpu:
    "measured: transform with rule tagging on, 38.9 MB/s on one core (bench/results.json, 2026-11-23, Node 20, AMD EPYC)",
  concurrencyHeadroom:
    "assumed: room for cold starts, retries, the Graviton CPU the benchmark did not run on, and a growing rule pack",
};

interface Range {
  readonly field: SizingField;
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  readonly fix: string;
}

const RANGES: Readonly<Record<Exclude<keyof AssumptionOverrides, "keepEventOriginal">, Range>> = {
  documentExpansion: {
    field: "documentExpansion",
    min: 0.1,
    max: 20,
    integer: false,
    fix: "measure it: bytes of `audit-trail normalize FILE` output over the bytes of FILE",
  },
  averageRecordBytes: {
    field: "averageRecordBytes",
    min: 1,
    max: 1_024_000,
    integer: true,
    fix: "pass the average log line size in bytes (Firehose takes records up to 1,000 KiB)",
  },
  replicas: {
    field: "replicas",
    min: 0,
    max: 10,
    integer: true,
    fix: "pass a whole number of replicas, usually 1",
  },
  indexSizeRatio: {
    field: "indexSizeRatio",
    min: 0.05,
    max: 10,
    integer: false,
    fix: "measure it: _cat/indices pri.store.size over the bytes of documents indexed",
  },
  shardSizeGiB: {
    field: "shardSizeGiB",
    min: 1,
    max: 100,
    integer: false,
    fix: "pass a target between 10 and 50 GiB (AWS's range)",
  },
  peakFactor: {
    field: "peakFactor",
    min: 1,
    max: 24,
    integer: false,
    fix: "pass the busiest hour's volume × 24 over the day's volume (1 for a flat day, at most 24)",
  },
};

function checked(range: Range, value: number): number {
  const whole = range.integer ? "a whole number " : "";
  if (
    !Number.isFinite(value) ||
    value < range.min ||
    value > range.max ||
    (range.integer && !Number.isInteger(value))
  ) {
    throw new SizingInputError({
      field: range.field,
      value,
      problem: `must be ${whole}between ${range.min} and ${range.max}`,
      fix: range.fix,
    });
  }
  return value;
}

/** The defaults with `overrides` applied, each override checked against its range. */
export function resolveAssumptions(overrides: AssumptionOverrides = {}): Assumptions {
  const keepEventOriginal = overrides.keepEventOriginal ?? true;
  const pick = (key: keyof typeof RANGES, fallback: number): number => {
    const value = overrides[key];
    return value === undefined ? fallback : checked(RANGES[key], value);
  };
  return {
    keepEventOriginal,
    documentExpansion: pick(
      "documentExpansion",
      keepEventOriginal ? EXPANSION_WITH_ORIGINAL : EXPANSION_WITHOUT_ORIGINAL,
    ),
    averageRecordBytes: pick("averageRecordBytes", 720),
    replicas: pick("replicas", 1),
    indexSizeRatio: pick("indexSizeRatio", 1 + INDEXING_OVERHEAD),
    shardSizeGiB: pick("shardSizeGiB", 40),
    peakFactor: pick("peakFactor", 2),
    transformMBPerSecondPerVcpu: 38.9,
    concurrencyHeadroom: 2,
  };
}
