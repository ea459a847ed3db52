import { describe, expect, it } from "vitest";
import {
  type Alternative,
  CLOUDWATCH_EVENT_OVERHEAD_BYTES,
  priceAlternatives,
  QUERY_LOAD,
  SERVERLESS_OCU_STORAGE_GB,
} from "../../../../lambdas/core/sizing/alternatives.js";
import type { InputMeasurement } from "../../../../lambdas/core/sizing/measurements.js";
import { DAYS_PER_MONTH, GiB, HOURS_PER_MONTH } from "../../../../lambdas/core/sizing/units.js";
import { assumptions, plan, usEast1 } from "./helpers.js";

const measured: InputMeasurement = {
  description: "test",
  records: 100,
  documents: 100,
  rawBytes: 72_000,
  averageRecordBytes: 720,
  documentBytes: 216_000,
  documentExpansion: 3,
  documentExpansionWithoutOriginal: 2,
  archiveGzipPerRawByte: 0.4,
  archiveGzipPerRawByteWithoutOriginal: 0.3,
  archiveBrotliPerRawByte: 0.3,
  rawGzipPerRawByte: 0.15,
  firehoseBilledPerRawByte: 7.1,
  variants: { default: { storeBytes: 115_200, perRawByte: 1.6, perDocumentByte: 0.533 } },
};

const retention = plan({ hot: 7, warm: 83, cold: 276, archive: 366 });
const dailyInputBytes = 500e9;
const alternatives = priceAlternatives({
  gbPerDay: 500,
  dailyInputBytes,
  retention,
  assumptions: { ...assumptions({ averageRecordBytes: 720 }), archiveBytesPerRawByte: 0.4 },
  measured,
  prices: usEast1(),
  firehoseAndTransformUsd: 3000,
  archiveUsd: 400,
});
const byName = (name: string): Alternative => {
  const found = alternatives.find((alternative) => alternative.name.startsWith(name));
  if (found === undefined) throw new Error(`no alternative ${name}`);
  return found;
};
const rawGiBPerDay = dailyInputBytes / GiB;
const scannedGiB =
  rawGiBPerDay * DAYS_PER_MONTH * QUERY_LOAD.detectionScansPerByte +
  rawGiBPerDay * 90 * QUERY_LOAD.windowScansPerMonth;

describe("priceAlternatives", () => {
  it("bills CloudWatch Logs each event plus 26 bytes, compressed storage for the archive's days, and every scan", () => {
    // Act
    const [ingestion, storage, insights] = byName("CloudWatch Logs Standard").lines;

    // Assess
    const records = dailyInputBytes / 720;
    expect(ingestion?.quantity).toBeCloseTo(
      ((dailyInputBytes + records * CLOUDWATCH_EVENT_OVERHEAD_BYTES) / GiB) * DAYS_PER_MONTH,
      6,
    );
    expect(ingestion?.monthlyUsd).toBeCloseTo((ingestion?.quantity ?? 0) * 0.5, 6);
    expect(storage?.quantity).toBeCloseTo(rawGiBPerDay * 0.15 * 366, 6);
    expect(insights?.quantity).toBeCloseTo(scannedGiB, 6);
  });

  it("charges Infrequent Access half the ingestion and says it has no subscription or metric filters", () => {
    const standard = byName("CloudWatch Logs Standard");
    const infrequent = byName("CloudWatch Logs Infrequent Access");

    expect(infrequent.lines[0]?.monthlyUsd).toBeCloseTo((standard.lines[0]?.monthlyUsd ?? 0) / 2, 6);
    expect(infrequent.lacks.join(" ")).toMatch(/no metric filters, subscription filters/);
  });

  it("caches OpenSearch Serverless's hot days on search OCUs of 120 GB, doubled, with indexing at its floor", () => {
    // Act
    const [, indexing, search, storage] = byName("OpenSearch Serverless").lines;

    // Assess
    const hotGb = (dailyInputBytes * 1.6 * 7) / 1e9;
    expect(search?.quantity).toBe(2 * Math.ceil(hotGb / SERVERLESS_OCU_STORAGE_GB) * HOURS_PER_MONTH);
    expect(indexing?.quantity).toBe(2 * HOURS_PER_MONTH);
    expect(storage?.quantity).toBeCloseTo(rawGiBPerDay * 1.6 * 366, 6);
  });

  it("has Athena scan the lake's Parquet at the archive's compression", () => {
    const athena = byName("Security Lake").lines.find((item) => item.priceKey === "athenaScan");

    expect(athena?.quantity).toBeCloseTo((scannedGiB * 0.4 * GiB) / 1e12, 6);
    expect(athena?.monthlyUsd).toBeCloseTo((athena?.quantity ?? 0) * 5, 6);
  });

  it("lists the cheapest first, each with its cost per raw GB and what it does not provide", () => {
    const costs = alternatives.map((alternative) => alternative.monthlyUsd);

    expect(costs).toEqual([...costs].sort((a, b) => a - b));
    for (const alternative of alternatives) {
      expect(alternative.usdPerRawGb).toBeCloseTo(alternative.monthlyUsd / (500 * DAYS_PER_MONTH), 9);
      expect(alternative.lacks[0]).toMatch(/^no signed, chained digests/);
    }
  });
});
