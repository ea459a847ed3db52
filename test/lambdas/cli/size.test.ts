import { describe, expect, it } from "vitest";
import { commands } from "../../../lambdas/cli/commands/index.js";
import { runSize } from "../../../lambdas/cli/commands/size.js";
import type { Sizing } from "../../../lambdas/core/sizing/index.js";
import { STORAGE_MEASUREMENTS } from "../../../lambdas/core/sizing/measurements.js";

/** Runs `audit-trail size` with `args` and returns its exit status and what it wrote. */
async function size(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runSize(
    args,
    (text) => void out.push(text),
    (text) => void err.push(text),
  );
  return { status, out: out.join(""), err: err.join("") };
}

async function sizeJson(...args: string[]): Promise<Sizing> {
  const { status, out, err } = await size(...args, "--json");
  expect(err).toBe("");
  expect(status).toBe(0);
  return JSON.parse(out) as Sizing;
}

describe("audit-trail size", () => {
  it("has a summary for the command list", () => {
    expect(commands.size?.summary).toMatch(/recommend instances, streams and concurrency/);
  });

  it("prints the tables for 100 GB a day under PCI DSS and HIPAA, exit 0", async () => {
    // Act
    const { status, out, err } = await size(
      "--gb-per-day",
      "100",
      "--framework",
      "pci-dss",
      "--framework",
      "hipaa",
    );

    // Assess
    expect(status).toBe(0);
    expect(err).toBe("");
    expect(out).toMatch(
      /^audit-trail size: 100 GB\/day of raw logs, us-east-1, pci-dss, hipaa; 2 AZs, VPC domain$/m,
    );
    expect(out).toMatch(/^ {2}warm +83 {2}UltraWarm +pci-dss: /m);
    expect(out).toMatch(/^ {2}archive +2192 {2}S3, Object Lock +hipaa: /m);
    expect(out).toMatch(/^ {2}hot \(data\) +6 {2}r6g\.large\.search/m);
    expect(out).toMatch(/^ +total +\$[\d,]+$/m);
    expect(out).toContain("Assumptions (override with the flags in --help)");
  });

  it("takes comma-separated frameworks like repeated ones", async () => {
    const repeated = await sizeJson("--gb-per-day", "10", "--framework", "pci-dss", "--framework", "hipaa");
    const listed = await sizeJson("--gb-per-day", "10", "--framework", "pci-dss,hipaa");

    expect(listed.retention).toEqual(repeated.retention);
  });

  it.each([
    ["1", 1],
    ["100", 100],
    ["5000", 5000],
  ])("sizes %s GB a day as JSON", async (volume, gbPerDay) => {
    const sizing = await sizeJson("--gb-per-day", volume, "--framework", "soc2");

    expect(sizing.input).toMatchObject({ gbPerDay, region: "us-east-1", frameworks: ["soc2"] });
    expect(sizing.retention.archive.days).toBe(366);
    expect(sizing.cost.monthlyUsd).toBeGreaterThan(0);
  });

  it("applies each override flag to the model", async () => {
    const sizing = await sizeJson(
      "--gb-per-day",
      "50",
      "--archive-days",
      "400",
      "--hot-days",
      "14",
      "--warm-days",
      "16",
      "--cold-days",
      "0",
      "--replicas",
      "2",
      "--azs",
      "3",
      "--network",
      "public",
      "--no-original",
      "--expansion",
      "2.5",
      "--record-bytes",
      "1000",
      "--index-ratio",
      "0.9",
      "--shard-size-gib",
      "30",
      "--peak-factor",
      "3",
    );

    expect([sizing.retention.hot.days, sizing.retention.warm.days, sizing.retention.cold.days]).toEqual([
      14, 16, 0,
    ]);
    expect(sizing.retention.hot.reason).toBe("--hot-days");
    expect(sizing.retention.archive.days).toBe(400);
    expect(sizing.assumptions).toMatchObject({
      keepEventOriginal: false,
      documentExpansion: 2.5,
      averageRecordBytes: 1000,
      replicas: 2,
      indexSizeRatio: 0.9,
      shardSizeGiB: 30,
      peakFactor: 3,
    });
    expect(sizing.input).toMatchObject({ availabilityZones: 3, network: "public" });
    expect(sizing.search.hot.nodes % 3).toBe(0);
  });

  it("reads frameworks, retention and settings from -c env=prod", async () => {
    const sizing = await sizeJson("--gb-per-day", "10", "-c", "env=prod");

    expect(sizing.input.frameworks).toEqual(["pci-dss", "hipaa", "soc2", "iso27001", "gdpr"]);
    expect([sizing.retention.hot.days, sizing.retention.warm.days, sizing.retention.cold.days]).toEqual([
      30, 60, 275,
    ]);
    expect(sizing.retention.hot.reason).toBe('environment "prod" (retention.hotDays)');
    expect(sizing.retention.archive.days).toBe(2192);
    expect(sizing.assumptions).toMatchObject({
      keepEventOriginal: false,
      indexEventOriginal: false,
      indexCodec: "best_compression",
      documentExpansion: Number(STORAGE_MEASUREMENTS.inputs.mix?.documentExpansionWithoutOriginal.toFixed(2)),
      replicas: 1,
    });
    expect(sizing.assumptionBasis.indexCodec).toBe('environment "prod" (search.indexCodec)');
    expect(sizing.assumptionBasis.keepEventOriginal).toBe('environment "prod" (transform.keepEventOriginal)');
  });

  it("lets a flag override the environment's days, and still holds them to its frameworks", async () => {
    const longer = await sizeJson("--gb-per-day", "10", "--env", "prod", "--hot-days", "45");
    const tooShort = await size("--gb-per-day", "10", "--env", "prod", "--hot-days", "20");

    expect(longer.retention.hot).toEqual({ days: 45, reason: "--hot-days" });
    expect(tooShort.status).toBe(2);
    expect(tooShort.err).toMatch(
      /--warm-days 60: pci-dss: .* requires hot \+ warm ≥ 90 days, and 20 \+ 60 is less/,
    );
  });

  it("with --framework, sizes for those frameworks rather than the environment's days", async () => {
    const sizing = await sizeJson("--gb-per-day", "10", "-c", "env=prod", "--framework", "soc2");

    expect(sizing.input.frameworks).toEqual(["soc2"]);
    expect(sizing.retention.hot).toEqual({ days: 7, reason: "default" });
    expect(sizing.retention.archive.days).toBe(366);
  });

  it("reads ISO 27001's policy from an environment that declares it", async () => {
    const sizing = await sizeJson("--gb-per-day", "10", "-c", "env=staging", "--framework", "iso27001");

    expect(sizing.retention.archive).toMatchObject({ days: 400 });
    expect(sizing.retention.archive.reason).toMatch(/^iso27001: /);
  });

  it.each([
    [["--framework", "pci-dss"], /--gb-per-day is required/],
    [["--gb-per-day", "lots"], /--gb-per-day "lots": not a number/],
    [
      ["--gb-per-day", "-3"],
      /^audit-trail size: --gb-per-day -3: must not be negative; pass the GB a day, e.g./,
    ],
    [
      ["--gb-per-day", "10", "--framework", "soc2", "--hot-days", "-1"],
      /^audit-trail size: --hot-days -1: must not/,
    ],
    [["--gb-per-day", "0", "--framework", "soc2"], /--gb-per-day 0: must be a number of GB/],
    [
      ["--gb-per-day", "10"],
      /--archive-days: no compliance framework sets the archive's retention.*--framework/,
    ],
    [["--gb-per-day", "10", "--framework", "pci"], /--framework pci: unknown; use one of pci-dss, hipaa/],
    [["--gb-per-day", "10", "--framework", "iso27001"], /--framework iso27001: .*pass -c env=NAME/],
    [
      ["--gb-per-day", "10", "--framework", "soc2", "--region", "eu-west-1"],
      /--region "eu-west-1": .*it has us-east-1/,
    ],
    [["--gb-per-day", "10", "--framework", "soc2", "--replicas", "0"], /--replicas 0: .*--azs 1/],
    [["--gb-per-day", "10", "--framework", "soc2", "--azs", "4"], /--azs 4: must be 1 \(single AZ\), 2 or 3/],
    [
      ["--gb-per-day", "10", "--framework", "soc2", "--network", "private"],
      /--network private: use vpc or public/,
    ],
    [
      ["--gb-per-day", "10", "--framework", "soc2", "--peak-factor", "30"],
      /--peak-factor 30: must be between 1 and 24/,
    ],
    [
      ["--gb-per-day", "10", "-c", "env=nowhere"],
      /unknown environment; valid environments: dev, prod, staging/,
    ],
    [["--gb-per-day", "10", "-c", "stage=prod"], /-c stage=prod: only -c env=NAME is understood/],
    [["--gb-per-day", "10", "--bogus"], /unknown option '--bogus'/],
  ])("refuses %j with exit 2 and a message naming the flag", async (args, message) => {
    const { status, out, err } = await size(...args);

    expect(status).toBe(2);
    expect(out).toBe("");
    expect(err).toMatch(/^audit-trail size: /);
    expect(err).toMatch(message);
  });

  it("names the setting to raise when the volume needs more transform concurrency than deployed", async () => {
    // Act
    const { status, out } = await size("--gb-per-day", "50000", "--framework", "soc2");

    // Assess
    expect(status).toBe(0);
    expect(out).not.toMatch(/transformConcurrency|lib\/ingestion\.ts/);
    expect(out).toMatch(
      /above the stack's 20: raise concurrency\.transform in lib\/config\/environments\.ts/,
    );
    expect(out).toMatch(
      /the transform's reserved concurrency is 20 \(concurrency\.transform in lib\/config\/environments\.ts\): raise it to \d+/,
    );
  });

  it("shows in its usage line that the archive's retention comes from a framework, an environment or a flag", async () => {
    // Act
    const { out } = await size("--help");

    // Assess
    expect(out.split("\n")[0]).toBe(
      "usage: audit-trail size --gb-per-day N (--framework F… | -c env=NAME | --archive-days N) [options]",
    );
  });

  it("prints its usage with --help, exit 0", async () => {
    const { status, out } = await size("--help");

    expect(status).toBe(0);
    expect(out).toMatch(/^usage: audit-trail size --gb-per-day N/);
    for (const flag of [
      "--framework",
      "--hot-days",
      "--peak-factor",
      "--shard-size-gib",
      "--json",
      "-c env=NAME",
    ]) {
      expect(out).toContain(flag);
    }
  });
});

describe("audit-trail size: measured ratios and the alternatives", () => {
  it("prices PCI DSS at 500 GB a day at or under $1.50 per raw GB with the measured ratios", async () => {
    // Act
    const { status, out } = await size("--gb-per-day", "500", "--framework", "pci-dss", "--json");

    // Assess
    expect(status).toBe(0);
    const sizing = JSON.parse(out) as Sizing;
    expect(sizing.cost.usdPerRawGb).toBeLessThanOrEqual(1.5);
    expect(sizing.assumptionBasis.indexSizeRatio).toMatch(/^measured: .*best_compression/);
  });

  it("prints the alternatives beside the estimate, each with what it does not provide", async () => {
    // Act
    const { out } = await size("--gb-per-day", "500", "--framework", "pci-dss");

    // Assess
    for (const name of [
      "CloudWatch Logs Standard + Logs Insights",
      "CloudWatch Logs Infrequent Access + Logs Insights",
      "OpenSearch Serverless (time series)",
      "Security Lake (custom source) + Athena",
    ]) {
      expect(out).toMatch(
        new RegExp(
          `^ {2}${name.replace(/[()+]/g, "\\$&")} +\\$[\\d,]+ +\\$\\d+\\.\\d\\d  no signed, chained digests`,
          "m",
        ),
      );
    }
    expect(out).toMatch(/^ {2}this stack +\$[\d,]+ +\$\d\.\d\d {2}-$/m);
  });

  it("prices an index that indexes event.original higher, from its own measured variant", async () => {
    const stored = JSON.parse(
      (await size("--gb-per-day", "500", "--framework", "pci-dss", "--json")).out,
    ) as Sizing;
    const indexed = JSON.parse(
      (await size("--gb-per-day", "500", "--framework", "pci-dss", "--index-original", "--json")).out,
    ) as Sizing;

    expect(indexed.assumptionBasis.indexSizeRatio).toContain("best_compression+original_indexed");
    expect(indexed.search.dailyPrimaryGiB).toBeGreaterThan(stored.search.dailyPrimaryGiB);
  });

  it("says a zstd codec is priced at best_compression's ratio because the node could not measure it", async () => {
    const { status, out } = await size("--gb-per-day", "100", "--archive-days", "30", "--codec", "zstd");

    expect(status).toBe(0);
    expect(out).toMatch(/zstd could not be measured/);
  });

  it("refuses a codec OpenSearch does not have, naming the ones it has", async () => {
    const { status, err } = await size("--gb-per-day", "100", "--archive-days", "30", "--codec", "lz5");

    expect(status).toBe(2);
    expect(err).toBe(
      "audit-trail size: --codec lz5: unknown; use one of default, best_compression, zstd, zstd_no_dict\n",
    );
  });
});
