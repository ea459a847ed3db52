/**
 * The assumptions of a sizing: the figures that are not AWS's to state but this project's (measured, or chosen),
 * each with its default, where the default comes from, and the range a caller may override it within.
 *
 * The storage ratios (document expansion, the index's bytes on disk, the archive's compression, the bytes Firehose
 * bills) default to what `npm run bench -- storage` measured on a real OpenSearch node (`measurements.ts`), for the
 * index layout the environment ships: its codec, whether `event.original` is kept and whether it is indexed.
 */
import type { IndexCodec } from "../opensearch/audit-template.js";
import { type SizingField, SizingInputError } from "./errors.js";
import { FIREHOSE_BILLING_INCREMENT_BYTES } from "./guidance.js";
import {
  type InputMeasurement,
  measurementSource,
  STORAGE_MEASUREMENTS,
  type StorageMeasurements,
  type StorageVariantId,
} from "./measurements.js";

/** How the Firehose backup, and so the archive, is stored. */
export type ArchiveCompression = "gzip" | "none";

/** The figures a sizing assumes, with every default applied. */
export interface Assumptions {
  /** Documents keep the raw line in `event.original` (`transform.keepEventOriginal`). */
  readonly keepEventOriginal: boolean;
  /** `event.original` is indexed (full text), not only stored (`transform.indexEventOriginal`). */
  readonly indexEventOriginal: boolean;
  /** Stored-fields codec of the audit indices (`search.indexCodec`). */
  readonly indexCodec: IndexCodec;
  /** Bytes of ECS document per byte of raw input. */
  readonly documentExpansion: number;
  /** Average raw record (log line) size in bytes; one Firehose record per line, as Fluent Bit ships them. */
  readonly averageRecordBytes: number;
  /** Bytes Firehose bills (each record rounded up to 5 KB) per byte of raw input. */
  readonly firehoseBilledPerRawByte: number;
  /** Replicas per shard in the hot tier. */
  readonly replicas: number;
  /** On-disk size of a primary index over its source documents (compression and index structures together). */
  readonly indexSizeRatio: number;
  /** How the backup and the archive are stored. */
  readonly archiveCompression: ArchiveCompression;
  /** Bytes of archive (and staging) per byte of raw input. */
  readonly archiveBytesPerRawByte: number;
  /** Target primary shard size, GiB. */
  readonly shardSizeGiB: number;
  /** Busiest hour's rate over the day's average rate. */
  readonly peakFactor: number;
  /** Transform throughput on one vCPU, MB of input per second. */
  readonly transformMBPerSecondPerVcpu: number;
  /** Reserved concurrency over the concurrency the peak needs. */
  readonly concurrencyHeadroom: number;
}

/** The assumptions a caller may override, and where each given value comes from (for the printed basis). */
export type AssumptionOverrides = AssumptionValues & {
  /** Where a given value comes from, e.g. a flag or an environment's config key. @default "given" */
  readonly origin?: Readonly<Partial<Record<keyof AssumptionValues, string>>>;
};

type AssumptionValues = Partial<
  Pick<
    Assumptions,
    | "keepEventOriginal"
    | "indexEventOriginal"
    | "indexCodec"
    | "archiveCompression"
    | "documentExpansion"
    | "averageRecordBytes"
    | "replicas"
    | "indexSizeRatio"
    | "shardSizeGiB"
    | "peakFactor"
  >
>;

/** Assumptions resolved, with where each came from. */
export interface ResolvedAssumptions {
  readonly assumptions: Assumptions;
  readonly basis: Readonly<Record<keyof Assumptions, string>>;
  /** The measured index variant the index ratio is read from. */
  readonly storeVariant: StorageVariantId;
}

/** The codecs the estimate can price from a measurement; the others are priced at `best_compression`'s ratio. */
export const MEASURED_CODECS: readonly IndexCodec[] = ["default", "best_compression"];

/** The measured index variant of an index layout. */
export function storeVariantFor(layout: {
  readonly indexCodec: IndexCodec;
  readonly keepEventOriginal: boolean;
  readonly indexEventOriginal: boolean;
}): StorageVariantId {
  const codec = layout.indexCodec === "default" ? "default" : "best_compression";
  if (!layout.keepEventOriginal) return `${codec}-original`;
  return layout.indexEventOriginal ? `${codec}+original_indexed` : codec;
}

interface Range {
  readonly field: SizingField;
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  readonly fix: string;
}

type NumericOverride =
  | "documentExpansion"
  | "averageRecordBytes"
  | "replicas"
  | "indexSizeRatio"
  | "shardSizeGiB"
  | "peakFactor";

const RANGES: Readonly<Record<NumericOverride, Range>> = {
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

/** Transform throughput with rule tagging on, one core (bench/results.json). */
const TRANSFORM_MB_PER_SECOND = 38.9;

/** The benchmark mix's measurements; a measurement file without them is a defect of the repository. */
function mixOf(measurements: StorageMeasurements): InputMeasurement {
  const mix = measurements.inputs.mix;
  if (mix === undefined) {
    throw new Error(
      `${measurements.file} has no measurements of the benchmark mix: run npm run bench -- storage`,
    );
  }
  return mix;
}

function perRawByte(mix: InputMeasurement, id: StorageVariantId, file: string): number {
  const variant = mix.variants[id];
  if (variant === undefined || !("perRawByte" in variant)) {
    throw new Error(`${file} has no measurement of index variant ${id}: run npm run bench -- storage`);
  }
  return variant.perRawByte;
}

const fixed = (value: number, digits = 2) => Number(value.toFixed(digits));

/** The defaults with `overrides` applied, each override checked against its range, and each figure's basis. */
export function resolveAssumptionsWithBasis(
  overrides: AssumptionOverrides = {},
  measurements: StorageMeasurements = STORAGE_MEASUREMENTS,
): ResolvedAssumptions {
  const keepEventOriginal = overrides.keepEventOriginal ?? true;
  const indexEventOriginal = overrides.indexEventOriginal ?? false;
  const indexCodec = overrides.indexCodec ?? "best_compression";
  const archiveCompression = overrides.archiveCompression ?? "gzip";
  const pick = (key: NumericOverride): number | undefined => {
    const value = overrides[key];
    return value === undefined ? undefined : checked(RANGES[key], value);
  };
  const mix = mixOf(measurements);
  const source = measurementSource(measurements);
  const corpus = measurements.inputs.corpus;
  const storeVariant = storeVariantFor({ indexCodec, keepEventOriginal, indexEventOriginal });

  const measuredExpansion = keepEventOriginal ? mix.documentExpansion : mix.documentExpansionWithoutOriginal;
  const documentExpansion = pick("documentExpansion") ?? fixed(measuredExpansion);
  const storeRatio = perRawByte(mix, storeVariant, measurements.file);
  const indexSizeRatio = pick("indexSizeRatio") ?? fixed(storeRatio / documentExpansion, 3);
  const averageRecordBytes = pick("averageRecordBytes");
  const firehoseBilledPerRawByte =
    averageRecordBytes === undefined
      ? mix.firehoseBilledPerRawByte
      : (Math.ceil(averageRecordBytes / FIREHOSE_BILLING_INCREMENT_BYTES) *
          FIREHOSE_BILLING_INCREMENT_BYTES) /
        averageRecordBytes;
  const archiveGzip = keepEventOriginal
    ? mix.archiveGzipPerRawByte
    : mix.archiveGzipPerRawByteWithoutOriginal;
  const archiveBytesPerRawByte = archiveCompression === "gzip" ? fixed(archiveGzip, 3) : documentExpansion;

  const assumptions: Assumptions = {
    keepEventOriginal,
    indexEventOriginal,
    indexCodec,
    documentExpansion,
    averageRecordBytes: averageRecordBytes ?? mix.averageRecordBytes,
    firehoseBilledPerRawByte,
    replicas: pick("replicas") ?? 1,
    indexSizeRatio,
    archiveCompression,
    archiveBytesPerRawByte,
    shardSizeGiB: pick("shardSizeGiB") ?? 40,
    peakFactor: pick("peakFactor") ?? 2,
    transformMBPerSecondPerVcpu: TRANSFORM_MB_PER_SECOND,
    concurrencyHeadroom: 2,
  };

  const given = (key: keyof AssumptionValues) => overrides[key] !== undefined;
  const givenBy = (key: keyof AssumptionValues) => overrides.origin?.[key] ?? "given";
  const corpusNote = (value: number | undefined, unit: string) =>
    value === undefined || corpus === undefined
      ? ""
      : `; ${value}${unit} on the shared corpus of real logs (${corpus.records} records)`;
  const corpusStore = corpus?.variants[storeVariant];
  const corpusStoreRatio =
    corpusStore !== undefined && "perRawByte" in corpusStore ? corpusStore.perRawByte : undefined;
  const codecNote = MEASURED_CODECS.includes(indexCodec)
    ? ""
    : `; ${indexCodec} could not be measured (the local node lacks the custom-codecs plugin, which Maven Central does not carry), so it is priced at best_compression's ratio`;
  const basis: Record<keyof Assumptions, string> = {
    keepEventOriginal: given("keepEventOriginal")
      ? givenBy("keepEventOriginal")
      : "the stack's default (transform.keepEventOriginal); GDPR environments turn it off",
    indexEventOriginal: given("indexEventOriginal")
      ? givenBy("indexEventOriginal")
      : "the stack's default (transform.indexEventOriginal): stored in _source, not indexed; the archive is the evidence",
    indexCodec: given("indexCodec") ? givenBy("indexCodec") : "the stack's default (search.indexCodec)",
    documentExpansion: given("documentExpansion")
      ? givenBy("documentExpansion")
      : `measured: ECS documents over raw input on the benchmark mix (${mix.description})${corpusNote(
          keepEventOriginal ? corpus?.documentExpansion : corpus?.documentExpansionWithoutOriginal,
          "×",
        )}; ${source}`,
    averageRecordBytes: given("averageRecordBytes")
      ? givenBy("averageRecordBytes")
      : `measured on the benchmark mix${corpusNote(corpus?.averageRecordBytes, " B")}; ${source}`,
    firehoseBilledPerRawByte: given("averageRecordBytes")
      ? "from the given record size, rounded up to 5 KB"
      : `measured: each record of the benchmark mix rounded up to 5 KB${corpusNote(corpus?.firehoseBilledPerRawByte, "×")}; ${source}`,
    replicas: given("replicas")
      ? givenBy("replicas")
      : "AWS recommends at least one replica; zone awareness needs one",
    indexSizeRatio: given("indexSizeRatio")
      ? givenBy("indexSizeRatio")
      : `measured: primary store after a force-merge over the documents' bytes, index variant ${storeVariant} (${fixed(storeRatio, 3)}× raw${corpusNote(corpusStoreRatio, "× raw")})${codecNote}; ${source}`,
    archiveCompression: given("archiveCompression")
      ? givenBy("archiveCompression")
      : "the stack's default: Firehose writes the backup GZIP-compressed, and the archiver copies it byte for byte",
    archiveBytesPerRawByte:
      archiveCompression === "gzip"
        ? `measured: the documents as NDJSON, gzip level 6, over raw input on the benchmark mix${corpusNote(
            keepEventOriginal ? corpus?.archiveGzipPerRawByte : corpus?.archiveGzipPerRawByteWithoutOriginal,
            "×",
          )}; ${source}`
        : "uncompressed: the documents' own bytes",
    shardSizeGiB: given("shardSizeGiB")
      ? givenBy("shardSizeGiB")
      : "middle of AWS's 30–50 GiB for log analytics",
    peakFactor: given("peakFactor")
      ? givenBy("peakFactor")
      : "assumed; measure your busiest hour: peak factor = busiest hour's volume × 24 / the day's volume",
    transformMBPerSecondPerVcpu:
      "measured: transform with rule tagging on, 38.9 MB/s on one core (bench/results.json, 2026-11-23, `npm run bench`, Node 20, AMD EPYC)",
    concurrencyHeadroom:
      "assumed: room for cold starts, retries, the Graviton CPU the benchmark did not run on, and a growing rule pack",
  };
  return { assumptions, basis, storeVariant };
}

/** The defaults with `overrides` applied, each override checked against its range. */
export function resolveAssumptions(
  overrides: AssumptionOverrides = {},
  measurements: StorageMeasurements = STORAGE_MEASUREMENTS,
): Assumptions {
  return resolveAssumptionsWithBasis(overrides, measurements).assumptions;
}
