/**
 * The storage ratios `audit-trail size` uses by default, as `npm run bench -- storage` measured them on a real
 * OpenSearch node (`bench/storage.bench.ts`): primary store bytes per raw input byte for each index variant, the
 * documents' expansion, the archive's compression and the bytes Firehose bills, on the benchmark mix and on the
 * shared corpus of real logs. The file is committed with its date, the command and the node's version, so every
 * ratio the estimate prints says where it came from.
 */
import * as z from "zod";
import measured from "./storage-measurements.json" with { type: "json" };

/** The index variants the benchmark measures (codec, `event.original` indexed, fields left out of `_source`). */
export type StorageVariantId =
  | "default+original_indexed"
  | "default"
  | "default-original"
  | "best_compression+original_indexed"
  | "best_compression"
  | "best_compression-objects"
  | "best_compression-original"
  | "best_compression-original-objects"
  | "zstd"
  | "zstd_no_dict";

/** One variant's measurement, or why the node could not measure it. */
export type VariantMeasurement =
  | {
      /** Primary store size after a force-merge to one segment. */
      readonly storeBytes: number;
      readonly perRawByte: number;
      readonly perDocumentByte: number;
    }
  | { readonly unavailable: string };

/** What one input measured. */
export interface InputMeasurement {
  readonly description: string;
  readonly records: number;
  readonly documents: number;
  readonly rawBytes: number;
  readonly averageRecordBytes: number;
  readonly documentBytes: number;
  /** Document bytes (NDJSON, `event.original` kept) per raw byte. */
  readonly documentExpansion: number;
  /** The same documents without `event.original` (`transform.keepEventOriginal: false`). */
  readonly documentExpansionWithoutOriginal: number;
  /** The documents as NDJSON, gzip level 6, per raw byte: the compressed archive. */
  readonly archiveGzipPerRawByte: number;
  /** The documents without `event.original`, gzip level 6, per raw byte. */
  readonly archiveGzipPerRawByteWithoutOriginal: number;
  /** The same with brotli (quality 5), for comparison. */
  readonly archiveBrotliPerRawByte: number;
  /** The raw records gzipped, per raw byte (the error prefix). */
  readonly rawGzipPerRawByte: number;
  /** Bytes Firehose bills (each record rounded up to 5 KB) per raw byte. */
  readonly firehoseBilledPerRawByte: number;
  readonly variants: Readonly<Record<string, VariantMeasurement>>;
}

/** The committed measurement file. */
export interface StorageMeasurements {
  /** ISO date of the run. */
  measuredAt: string;
  /** The command that wrote the file. */
  command: string;
  /** The file, relative to the repository root. */
  file: string;
  /** The node's version. */
  opensearch: string;
  machine: string;
  notes: string[];
  inputs: Partial<Record<"mix" | "corpus", InputMeasurement>>;
}

const ratio = z.number().positive();
const variantSchema = z.union([
  z.strictObject({ storeBytes: z.number().int().positive(), perRawByte: ratio, perDocumentByte: ratio }),
  z.strictObject({ unavailable: z.string().min(1) }),
]);
const inputSchema = z.strictObject({
  description: z.string(),
  records: z.number().int().positive(),
  documents: z.number().int().positive(),
  rawBytes: z.number().int().positive(),
  averageRecordBytes: z.number().int().positive(),
  documentBytes: z.number().int().positive(),
  documentExpansion: ratio,
  documentExpansionWithoutOriginal: ratio,
  archiveGzipPerRawByte: ratio,
  archiveGzipPerRawByteWithoutOriginal: ratio,
  archiveBrotliPerRawByte: ratio,
  rawGzipPerRawByte: ratio,
  firehoseBilledPerRawByte: ratio,
  variants: z.record(z.string(), variantSchema),
});
const measurementsSchema = z.strictObject({
  measuredAt: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  command: z.string().min(1),
  file: z.string().min(1),
  opensearch: z.string().min(1),
  machine: z.string(),
  notes: z.array(z.string()),
  inputs: z.strictObject({ mix: inputSchema.optional(), corpus: inputSchema.optional() }),
});

/** Checks a measurement file's shape; throws naming the file and the first bad field. */
export function parseStorageMeasurements(input: unknown, file: string): StorageMeasurements {
  const result = measurementsSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(
      `${file}: ${issue?.path.join(".") ?? "(root)"}: ${issue?.message ?? "invalid"}; rerun npm run bench -- storage`,
    );
  }
  return result.data;
}

/** The measurements as committed. */
export const STORAGE_MEASUREMENTS: StorageMeasurements = parseStorageMeasurements(
  measured,
  "lambdas/core/sizing/storage-measurements.json",
);

/** Where a ratio came from, in words: file, date and command. */
export function measurementSource(measurements: StorageMeasurements = STORAGE_MEASUREMENTS): string {
  return `${measurements.file}, ${measurements.measuredAt}, \`${measurements.command}\` on ${measurements.opensearch}`;
}

/** A variant's store bytes per raw byte on one input; `undefined` when it was not measured. */
export function storePerRawByte(
  id: StorageVariantId,
  input: "mix" | "corpus" = "mix",
  measurements: StorageMeasurements = STORAGE_MEASUREMENTS,
): number | undefined {
  const variant = measurements.inputs[input]?.variants[id];
  return variant !== undefined && "perRawByte" in variant ? variant.perRawByte : undefined;
}
