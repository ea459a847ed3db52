import { describe, expect, it } from "vitest";
import { SizingInputError } from "../../../../lambdas/core/sizing/errors.js";
import { type Sizing, sizeAuditTrail } from "../../../../lambdas/core/sizing/size.js";
import { ENVIRONMENTS, parseEnvironmentConfig } from "../../../../lib/config/index.js";
import { request } from "./helpers.js";

const VOLUMES = [1, 10, 100, 1000, 5000] as const;

function failure(run: () => unknown): SizingInputError {
  try {
    run();
  } catch (error: unknown) {
    if (error instanceof SizingInputError) return error;
    throw error;
  }
  throw new Error("the sizing was accepted");
}

const line = (sizing: Sizing, item: RegExp) =>
  sizing.cost.lines.find((candidate) => item.test(candidate.item));

describe("sizeAuditTrail from 1 GB to 5 TB a day (PCI DSS and HIPAA)", () => {
  const sizings = VOLUMES.map((gbPerDay) => sizeAuditTrail(request(gbPerDay)));

  it("totals its cost lines", () => {
    for (const sizing of sizings) {
      const sum = sizing.cost.lines.reduce((total, costLine) => total + costLine.monthlyUsd, 0);
      expect(sizing.cost.monthlyUsd).toBeCloseTo(sum, 6);
    }
  });

  it("costs more, and needs at least as many data nodes, the more it ingests", () => {
    for (let index = 1; index < sizings.length; index++) {
      const [smaller, larger] = [sizings[index - 1], sizings[index]] as [Sizing, Sizing];
      expect(larger.cost.monthlyUsd).toBeGreaterThan(smaller.cost.monthlyUsd);
      expect(larger.search.hot.nodes * larger.search.hot.vcpusPerNode).toBeGreaterThanOrEqual(
        smaller.search.hot.nodes * smaller.search.hot.vcpusPerNode,
      );
    }
  });

  it("sizes 1 GB a day as the smallest production domain: two data nodes, three masters, two UltraWarm nodes", () => {
    const [small] = sizings as [Sizing];

    expect(small.search.hot).toMatchObject({ instanceType: "r6g.large.search", nodes: 2 });
    expect(small.search.masters).toMatchObject({ instanceType: "m6g.large.search", nodes: 3 });
    expect(small.search.warm.ultraWarm).toMatchObject({ instanceType: "ultrawarm1.medium.search", nodes: 2 });
    expect(small.ingestion.firehose.streams).toBe(1);
    expect(small.notes.join("\n")).toMatch(/smaller than AWS's 10 GiB floor/);
  });

  it("prices 5 TB a day with the stream quota it needs and the nodes it takes", () => {
    const large = sizings.at(-1) as Sizing;

    expect(large.ingestion.firehose.quotaIncreaseMiBPerSecond).toBe(111);
    expect(large.notes.join("\n")).toMatch(/request a per-stream quota of 111 MiB\/s/);
    expect(large.search.hot.aboveDefaultQuota).toBe(false);
    expect(large.search.warm.ultraWarm?.instanceType).toBe("ultrawarm1.large.search");
    // Firehose bills past its first band of 500 TB a month
    const ingestion = line(large, /Direct PUT ingestion/);
    expect(ingestion?.monthlyUsd).toBeLessThan((ingestion?.quantity ?? 0) * 0.029);
  });

  it("lists every price it used, with its source and date", () => {
    for (const sizing of sizings) {
      const keys = new Set(sizing.prices.map((price) => price.key));
      for (const costLine of sizing.cost.lines) expect(keys).toContain(costLine.priceKey);
      for (const price of sizing.prices) {
        expect(price.source).toMatch(/^https:\/\//);
        expect(price.asOf).toMatch(/^\d{4}/);
      }
    }
  });

  it("suggests config that lib/config accepts for an environment with these frameworks", () => {
    for (const sizing of sizings) {
      const entry = {
        ...ENVIRONMENTS.prod,
        retention: { ...ENVIRONMENTS.prod.retention, ...sizing.config.retention },
        search: sizing.config.search,
      };

      const config = parseEnvironmentConfig(`sized-${sizing.input.gbPerDay}`, entry);

      expect(config.search.instanceCount).toBe(sizing.search.hot.nodes);
      expect(config.retention.archiveDays).toBe(2192);
    }
  });
});

describe("sizeAuditTrail choices", () => {
  it("charges Firehose's VPC delivery only for a VPC domain", () => {
    const vpc = sizeAuditTrail(request(100));
    const open = sizeAuditTrail(request(100, { network: "public" }));

    expect(line(vpc, /VPC delivery, documents/)?.quantity).toBeCloseTo((290e9 * (365 / 12)) / 2 ** 30, 3);
    expect(line(open, /VPC delivery/)).toBeUndefined();
    expect(open.cost.monthlyUsd).toBeLessThan(vpc.cost.monthlyUsd);
  });

  it("leaves zone awareness out of the config of a single-AZ domain", () => {
    const single = sizeAuditTrail(request(10, { availabilityZones: 1 }));

    expect(single.config.search.zoneAwareness).toBeUndefined();
    expect(single.config.search.replicaCount).toBe(1);
  });

  it("prices no cold storage when indices leave OpenSearch after their searchable days", () => {
    const base = request(100);
    const sizing = sizeAuditTrail({ ...base, retention: { ...base.retention, coldDays: 0 } });

    expect(line(sizing, /cold storage/)).toBeUndefined();
    expect(sizing.config.search.coldStorage).toBe(false);
  });

  it("refuses zone awareness without a replica", () => {
    const error = failure(() => sizeAuditTrail(request(10, { assumptions: { replicas: 0 } })));

    expect(error.details.field).toBe("replicas");
  });

  it.each([0, -5, Number.NaN, 2_000_000])("refuses %d GB a day", (gbPerDay) => {
    expect(failure(() => sizeAuditTrail(request(gbPerDay))).details.field).toBe("gbPerDay");
  });

  it("refuses an availability zone count OpenSearch does not offer", () => {
    expect(failure(() => sizeAuditTrail(request(10, { availabilityZones: 4 }))).details.field).toBe(
      "availabilityZones",
    );
  });

  it("refuses a region the price table lacks", () => {
    const error = failure(() => sizeAuditTrail(request(10, { region: "eu-central-1" })));

    expect(error.details).toMatchObject({ field: "region", value: "eu-central-1" });
  });
});
