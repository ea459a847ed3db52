import { describe, expect, it } from "vitest";
import {
  resolveAssumptions,
  resolveAssumptionsWithBasis,
  storeVariantFor,
} from "../../../../lambdas/core/sizing/assumptions.js";
import { SizingInputError } from "../../../../lambdas/core/sizing/errors.js";
import {
  parseStorageMeasurements,
  STORAGE_MEASUREMENTS,
  type StorageMeasurements,
} from "../../../../lambdas/core/sizing/measurements.js";

/** A measurement file with round figures, so each default can be traced to the field it comes from. */
const measurements: StorageMeasurements = {
  measuredAt: "2026-12-01",
  command: "npm run bench -- storage",
  file: "lambdas/core/sizing/storage-measurements.json",
  opensearch: "OpenSearch 2.19.4",
  machine: "test",
  notes: [],
  inputs: {
    mix: {
      description: "bench/transform-mix.ts, 100 records",
      records: 100,
      documents: 100,
      rawBytes: 70_000,
      averageRecordBytes: 700,
      documentBytes: 210_000,
      documentExpansion: 3,
      documentExpansionWithoutOriginal: 2,
      archiveGzipPerRawByte: 0.4,
      archiveGzipPerRawByteWithoutOriginal: 0.3,
      archiveBrotliPerRawByte: 0.3,
      rawGzipPerRawByte: 0.15,
      firehoseBilledPerRawByte: 7.3,
      variants: {
        "default+original_indexed": { storeBytes: 252_000, perRawByte: 3.6, perDocumentByte: 1.2 },
        default: { storeBytes: 112_000, perRawByte: 1.6, perDocumentByte: 0.533 },
        "default-original": { storeBytes: 98_000, perRawByte: 1.4, perDocumentByte: 0.467 },
        "best_compression+original_indexed": { storeBytes: 175_000, perRawByte: 2.5, perDocumentByte: 0.833 },
        best_compression: { storeBytes: 75_600, perRawByte: 1.08, perDocumentByte: 0.36 },
        "best_compression-original": { storeBytes: 63_000, perRawByte: 0.9, perDocumentByte: 0.3 },
        zstd: { unavailable: "unknown value for [index.codec]" },
      },
    },
  },
};

describe("resolveAssumptions", () => {
  it("defaults every storage ratio to the measurement of the shipped layout (best_compression, original stored)", () => {
    // Act
    const resolved = resolveAssumptions({}, measurements);

    // Assess
    expect(resolved).toEqual({
      keepEventOriginal: true,
      indexEventOriginal: false,
      indexCodec: "best_compression",
      documentExpansion: 3,
      averageRecordBytes: 700,
      firehoseBilledPerRawByte: 7.3,
      replicas: 1,
      indexSizeRatio: 0.36,
      archiveCompression: "gzip",
      archiveBytesPerRawByte: 0.4,
      shardSizeGiB: 40,
      peakFactor: 2,
      transformMBPerSecondPerVcpu: 38.9,
      concurrencyHeadroom: 2,
    });
  });

  it.each([
    [{ indexCodec: "default" }, "default", 1.6],
    [{ indexEventOriginal: true }, "best_compression+original_indexed", 2.5],
    [{ indexCodec: "default", indexEventOriginal: true }, "default+original_indexed", 3.6],
    [{ keepEventOriginal: false }, "best_compression-original", 0.9],
    [{ keepEventOriginal: false, indexCodec: "default" }, "default-original", 1.4],
  ] as const)("reads the index ratio of the layout %j from variant %s", (overrides, variant, perRaw) => {
    // Act
    const { assumptions, storeVariant } = resolveAssumptionsWithBasis(overrides, measurements);

    // Assess
    expect(storeVariant).toBe(variant);
    expect(assumptions.documentExpansion * assumptions.indexSizeRatio).toBeCloseTo(perRaw, 2);
  });

  it("prices a codec the node could not measure at best_compression's ratio, and says so", () => {
    // Act
    const { assumptions, basis, storeVariant } = resolveAssumptionsWithBasis(
      { indexCodec: "zstd" },
      measurements,
    );

    // Assess
    expect(storeVariant).toBe("best_compression");
    expect(assumptions.indexSizeRatio).toBe(0.36);
    expect(basis.indexSizeRatio).toMatch(/zstd could not be measured .*custom-codecs plugin/);
  });

  it("expands and archives less when event.original is dropped", () => {
    // Act
    const dropped = resolveAssumptions({ keepEventOriginal: false }, measurements);

    // Assess
    expect(dropped.documentExpansion).toBe(2);
    expect(dropped.archiveBytesPerRawByte).toBe(0.3);
    expect(
      resolveAssumptions({ keepEventOriginal: false, documentExpansion: 1.9 }, measurements)
        .documentExpansion,
    ).toBe(1.9);
  });

  it("archives the documents' own bytes when the archive is uncompressed", () => {
    expect(resolveAssumptions({ archiveCompression: "none" }, measurements).archiveBytesPerRawByte).toBe(3);
  });

  it("bills Firehose from a given record size rounded up to 5 KB instead of the measured mix", () => {
    expect(resolveAssumptions({ averageRecordBytes: 1024 }, measurements).firehoseBilledPerRawByte).toBe(5);
    expect(
      resolveAssumptions({ averageRecordBytes: 6000 }, measurements).firehoseBilledPerRawByte,
    ).toBeCloseTo(10240 / 6000, 9);
  });

  it("says for every measured default the file, date and command it comes from", () => {
    // Act
    const { basis } = resolveAssumptionsWithBasis({}, measurements);

    // Assess
    for (const key of [
      "documentExpansion",
      "averageRecordBytes",
      "firehoseBilledPerRawByte",
      "indexSizeRatio",
      "archiveBytesPerRawByte",
    ] as const) {
      expect(basis[key], key).toContain(
        "lambdas/core/sizing/storage-measurements.json, 2026-12-01, `npm run bench -- storage` on OpenSearch 2.19.4",
      );
    }
    for (const text of Object.values(basis)) expect(text.length).toBeGreaterThan(4);
  });

  it("says 'given' for what the caller set", () => {
    const { basis } = resolveAssumptionsWithBasis(
      { indexSizeRatio: 0.5, documentExpansion: 2.5 },
      measurements,
    );

    expect(basis.indexSizeRatio).toBe("given");
    expect(basis.documentExpansion).toBe("given");
  });

  it.each([
    ["documentExpansion", { documentExpansion: 0 }, /between 0\.1 and 20/],
    ["averageRecordBytes", { averageRecordBytes: 700.5 }, /a whole number between 1 and 1024000/],
    ["averageRecordBytes", { averageRecordBytes: 2_000_000 }, /Firehose takes records up to 1,000 KiB/],
    ["replicas", { replicas: -1 }, /a whole number between 0 and 10/],
    ["indexSizeRatio", { indexSizeRatio: Number.NaN }, /pri\.store\.size/],
    ["shardSizeGiB", { shardSizeGiB: 500 }, /between 10 and 50 GiB/],
    ["peakFactor", { peakFactor: 0.5 }, /1 for a flat day, at most 24/],
  ] as const)("refuses %s out of range, with how to find the right value", (field, overrides, fix) => {
    let error: unknown;
    try {
      resolveAssumptions(overrides, measurements);
    } catch (caught: unknown) {
      error = caught;
    }

    expect(error).toBeInstanceOf(SizingInputError);
    expect((error as SizingInputError).details.field).toBe(field);
    expect((error as SizingInputError).message).toMatch(fix);
  });
});

describe("SizingInputError", () => {
  it("names inputs the way the caller names them", () => {
    const error = new SizingInputError({
      field: "warmDays",
      value: 10,
      problem: "{hotDays} + {warmDays} is below 90",
      fix: "raise {hotDays} or {warmDays}",
    });
    const flags = { hotDays: "--hot-days", warmDays: "--warm-days" } as Record<string, string>;

    expect(error.message).toBe(
      "warmDays 10: hotDays + warmDays is below 90. Fix: raise hotDays or warmDays.",
    );
    expect(error.describe((field) => flags[field] ?? field)).toBe(
      "--warm-days 10: --hot-days + --warm-days is below 90. Fix: raise --hot-days or --warm-days.",
    );
  });
});

describe("the committed measurements", () => {
  it("hold every index variant a shipped layout reads, on the mix", () => {
    for (const indexCodec of ["default", "best_compression"] as const) {
      for (const keepEventOriginal of [true, false]) {
        for (const indexEventOriginal of [true, false]) {
          if (!keepEventOriginal && indexEventOriginal) continue;
          const id = storeVariantFor({ indexCodec, keepEventOriginal, indexEventOriginal });
          expect(STORAGE_MEASUREMENTS.inputs.mix?.variants[id], id).toHaveProperty("perRawByte");
        }
      }
    }
  });

  it("refuses a measurement file without a ratio, naming the field", () => {
    const broken = {
      ...measurements,
      inputs: { mix: { ...measurements.inputs.mix, documentExpansion: -1 } },
    };

    expect(() => parseStorageMeasurements(broken, "x.json")).toThrow(
      /^x\.json: inputs\.mix\.documentExpansion: .*; rerun npm run bench -- storage$/,
    );
  });
});
