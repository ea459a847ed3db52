import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { DEPLOYED_TRANSFORM } from "../../../../lambdas/core/sizing/guidance.js";
import { firehoseQuotaFor, sizeIngestion } from "../../../../lambdas/core/sizing/ingestion.js";
import { GB, GiB } from "../../../../lambdas/core/sizing/units.js";
import { DEFAULTS } from "../../../../lib/config/defaults.js";
import { assumptions } from "./helpers.js";

const ingest = (gbPerDay: number, overrides: Parameters<typeof assumptions>[0] = {}) =>
  sizeIngestion({ dailyInputBytes: gbPerDay * GB, region: "us-east-1", assumptions: assumptions(overrides) });

describe("sizeIngestion: Firehose", () => {
  it("fits 1 GB a day in one stream and bills every 720-byte record as 5 KB", () => {
    const { firehose } = ingest(1);

    const records = 1e9 / 720;
    expect(firehose.streams).toBe(1);
    expect(firehose.quotaIncreaseMiBPerSecond).toBeUndefined();
    expect(firehose.recordsPerDay).toBeCloseTo(records, 3);
    expect(firehose.billedGiBPerMonth).toBeCloseTo((records * (365 / 12) * 5 * 1024) / GiB, 6);
  });

  it("needs 23 streams of 5 MiB/s for 5 TB a day at twice the average, or one stream with a 111 MiB/s quota", () => {
    const { firehose } = ingest(5000);

    expect(firehose.peakMiBPerSecond).toBeCloseTo(((5e12 / 86_400) * 2) / 2 ** 20, 6);
    expect(firehose.streams).toBe(23);
    expect(firehose.limitedBy).toBe("MiB/s");
    expect(firehose.quotaIncreaseMiBPerSecond).toBe(111);
  });

  it("counts records against the records quota when lines are tiny", () => {
    // 300 GB a day of 5-byte records: 1.39 million records/s at the peak against 500,000 per stream
    const { firehose } = ingest(300, { averageRecordBytes: 5 });

    expect(firehose.limitedBy).toBe("records/s");
    expect(firehose.streams).toBe(3);
    expect(firehose.quotaIncreaseMiBPerSecond).toBe(14);
  });

  it("scales the peak with the peak factor", () => {
    const flat = ingest(100, { peakFactor: 1 });
    const spiky = ingest(100, { peakFactor: 6 });

    expect(spiky.peakInputBytesPerSecond).toBeCloseTo(flat.peakInputBytesPerSecond * 6, 6);
    expect(spiky.firehose.peakRecordsPerSecond).toBeCloseTo(flat.firehose.peakRecordsPerSecond * 6, 6);
  });

  it("knows the per-stream quota of the high-throughput regions, and fails loudly on a region it lacks", () => {
    expect(firehoseQuotaFor("us-east-1")).toMatchObject({
      recordsPerSecond: 500_000,
      requestsPerSecond: 2_000,
      mibPerSecond: 5,
    });
    expect(() => firehoseQuotaFor("ap-south-2")).toThrow(/no Firehose quota recorded for region ap-south-2/);
  });
});

describe("sizeIngestion: transform Lambda", () => {
  it("runs at the benchmark's throughput scaled to the CPU share of 1024 MB", () => {
    const { transform } = ingest(5000);

    const bytesPerSecond = 38.9e6 * (1024 / 1769);
    expect(transform.inputBytesPerSecond).toBeCloseTo(bytesPerSecond, 3);
    expect(transform.peakConcurrency).toBeCloseTo(((5e12 / 86_400) * 2) / bytesPerSecond, 6);
    expect(transform.neededConcurrency).toBe(11);
    expect(transform.deployedConcurrencySuffices).toBe(true);
  });

  it("bills compute for every input byte and one request per 1 MiB buffer", () => {
    const { transform } = ingest(100);

    const monthlyBytes = 100e9 * (365 / 12);
    expect(transform.gbSecondsPerMonth).toBeCloseTo(monthlyBytes / transform.inputBytesPerSecond, 3);
    expect(transform.invocationsPerMonth).toBeCloseTo(monthlyBytes / 2 ** 20, 3);
  });

  it("counts at least one invocation per buffer interval when little data flows", () => {
    const { transform } = ingest(0.001);

    expect(transform.invocationsPerMonth).toBeCloseTo(1440 * (365 / 12), 6);
  });

  it("asks for more reserved concurrency than the stack's 20 at 20 TB a day", () => {
    const ingestion = ingest(20_000);

    expect(ingestion.transform.deployedConcurrencySuffices).toBe(false);
    expect(ingestion.notes.join("\n")).toMatch(
      new RegExp(`reserved concurrency is 20 .*raise it to ${ingestion.transform.neededConcurrency}`),
    );
  });

  it("warns when a full processor buffer's documents would exceed Lambda's 6 MB response", () => {
    expect(ingest(100, { documentExpansion: 5 }).notes.join("\n")).toMatch(
      /over Lambda's 6 MB response limit/,
    );
    expect(ingest(100).notes).toEqual([]);
  });
});

describe("DEPLOYED_TRANSFORM", () => {
  it("matches what lib/ingestion.ts deploys", async () => {
    const source = await readFile(new URL("../../../../lib/ingestion.ts", import.meta.url), "utf8");

    expect(source).toContain(`memorySize: ${DEPLOYED_TRANSFORM.memoryMB},`);
    // The construct falls back to the default the config schema fills in (lib/config/defaults.ts).
    expect(source).toContain(
      "reservedConcurrentExecutions: props.transformConcurrency ?? DEFAULTS.concurrency.transform,",
    );
    expect(DEPLOYED_TRANSFORM.reservedConcurrency).toBe(DEFAULTS.concurrency.transform);
    expect(source).toContain(
      `{ parameterName: "BufferSizeInMBs", parameterValue: "${DEPLOYED_TRANSFORM.processorBufferBytes / 2 ** 20}" }`,
    );
    expect(source).toContain(
      `{ parameterName: "BufferIntervalInSeconds", parameterValue: "${DEPLOYED_TRANSFORM.processorBufferIntervalSeconds}" }`,
    );
  });
});
