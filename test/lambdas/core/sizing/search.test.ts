import { describe, expect, it } from "vitest";
import { DATA_NODE_TYPES } from "../../../../lambdas/core/sizing/guidance.js";
import { sizeSearch } from "../../../../lambdas/core/sizing/search.js";
import { GB, GiB } from "../../../../lambdas/core/sizing/units.js";
import { assumptions, plan, usEast1 } from "./helpers.js";

/** Documents a day whose primary index is exactly `gib` GiB at the default 1.1 index ratio. */
const documentsFor = (gib: number) => (gib * GiB) / 1.1;

describe("sizeSearch", () => {
  it("needs the hot storage AWS's formula gives: source × (1 + replicas) × 1.45", () => {
    // Prepare: 10 GiB of primary index a day, 7 hot days plus the index being written
    const sizing = sizeSearch({
      dailyDocumentBytes: documentsFor(10),
      retention: plan({ hot: 7 }),
      assumptions: assumptions(),
      availabilityZones: 2,
      prices: usEast1(),
    });

    // Assess
    const source = (10 / 1.1) * 8;
    expect(sizing.hot.indices).toBe(8);
    expect(sizing.hot.requiredStorageGiB).toBeCloseTo((source * 2 * 1.1) / 0.95 / 0.8, 6);
    expect(sizing.hot.requiredStorageGiB / (source * 2)).toBeCloseTo(1.45, 2);
  });

  it("sets the node count by storage when many days stay hot, within each node's EBS limit", () => {
    const sizing = sizeSearch({
      dailyDocumentBytes: documentsFor(50),
      retention: plan({ hot: 60 }),
      assumptions: assumptions(),
      availabilityZones: 2,
      prices: usEast1(),
    });

    const type = DATA_NODE_TYPES.find((candidate) => candidate.instanceType === sizing.hot.instanceType);
    expect(sizing.hot.limitedBy).toBe("storage");
    expect(sizing.hot.ebsGiBPerNode).toBeLessThanOrEqual(type?.maxEbsGiB ?? 0);
    expect(sizing.hot.ebsGiBPerNode * sizing.hot.nodes).toBeGreaterThanOrEqual(sizing.hot.requiredStorageGiB);
  });

  it("gives 1.5 vCPU to every shard being written, and takes fewer larger nodes when they cost about the same", () => {
    // Prepare: 297 GiB a day in 8 primary shards of 40 GiB: 16 active shards need 24 vCPUs
    const sizing = sizeSearch({
      dailyDocumentBytes: 290 * GB,
      retention: plan({ hot: 7 }),
      assumptions: assumptions(),
      availabilityZones: 2,
      prices: usEast1(),
    });

    expect(sizing.primaryShardsPerIndex).toBe(8);
    expect(sizing.hot.activeShards).toBe(16);
    expect(sizing.hot.limitedBy).toBe("vCPU per active shard");
    expect(sizing.hot.nodes * sizing.hot.vcpusPerNode).toBeGreaterThanOrEqual(24);
    // 12 × r6g.large cost within 1 % of 6 × r6g.xlarge; the fewer nodes win
    expect(sizing.hot).toMatchObject({ instanceType: "r6g.xlarge.search", nodes: 6 });
  });

  it.each([1, 2, 3])("spreads data nodes evenly over %i availability zone(s)", (zones) => {
    const sizing = sizeSearch({
      dailyDocumentBytes: documentsFor(500),
      retention: plan({ hot: 7 }),
      assumptions: assumptions(),
      availabilityZones: zones,
      prices: usEast1(),
    });

    expect(sizing.hot.nodes % zones).toBe(0);
    expect(sizing.hot.nodes).toBeGreaterThanOrEqual(Math.max(zones, 2));
  });

  it("keeps a small warm tier read-only on the hot nodes, where UltraWarm's two nodes would cost more", () => {
    const sizing = sizeSearch({
      dailyDocumentBytes: 2.9 * GB,
      retention: plan({ hot: 7, warm: 83 }),
      assumptions: assumptions(),
      availabilityZones: 2,
      prices: usEast1(),
    });

    expect(sizing.warm.placement).toBe("hot nodes");
    expect(sizing.warm.ultraWarm).toBeUndefined();
    expect(sizing.hot.indices).toBe(7 + 83 + 1);
    expect(sizing.warm.reason).toMatch(/cheaper than UltraWarm/);
  });

  it("moves a large warm tier to UltraWarm, storing primary shards only", () => {
    const sizing = sizeSearch({
      dailyDocumentBytes: 870 * GB,
      retention: plan({ hot: 7, warm: 83 }),
      assumptions: assumptions(),
      availabilityZones: 2,
      prices: usEast1(),
    });

    expect(sizing.warm.placement).toBe("ultrawarm");
    expect(sizing.warm.storageGiB).toBeCloseTo(sizing.dailyPrimaryGiB * 83, 6);
    expect(sizing.hot.indices).toBe(8);
    expect(sizing.warm.reason).toMatch(/cheaper than keeping warm indices read-only on hot nodes/);
  });

  it("puts UltraWarm in front of cold storage whatever it costs, and prices cold storage per GB-month", () => {
    const sizing = sizeSearch({
      dailyDocumentBytes: 2.9 * GB,
      retention: plan({ hot: 7, warm: 1, cold: 100 }),
      assumptions: assumptions(),
      availabilityZones: 2,
      prices: usEast1(),
    });

    expect(sizing.warm.ultraWarm).toMatchObject({ instanceType: "ultrawarm1.medium.search", nodes: 2 });
    expect(sizing.cold.storageGiB).toBeCloseTo(sizing.dailyPrimaryGiB * 100, 6);
    expect(sizing.cold.monthlyUsd).toBeCloseTo(sizing.cold.storageGiB * 0.024, 6);
  });

  it.each([
    [2.9, "m6g.large.search"],
    [870, "c6g.2xlarge.search"],
    [14_500, "r6g.xlarge.search"],
  ])("chooses three dedicated masters by data node count (%d GB of documents a day: %s)", (gb, master) => {
    const sizing = sizeSearch({
      dailyDocumentBytes: gb * GB,
      retention: plan({ hot: 7 }),
      assumptions: assumptions(),
      availabilityZones: 2,
      prices: usEast1(),
    });

    expect(sizing.masters).toMatchObject({ instanceType: master, nodes: 3 });
  });

  it("says when the data nodes exceed the default quota of 80 per domain", () => {
    const sizing = sizeSearch({
      dailyDocumentBytes: 14_500 * GB,
      retention: plan({ hot: 30 }),
      assumptions: assumptions(),
      availabilityZones: 2,
      prices: usEast1(),
    });

    expect(sizing.hot.aboveDefaultQuota).toBe(true);
    expect(sizing.notes.join("\n")).toMatch(/data nodes exceed the default quota of 80 per domain/);
  });

  it("warns that daily indices below 10 GiB make small shards", () => {
    const small = sizeSearch({
      dailyDocumentBytes: 2.9 * GB,
      retention: plan({ hot: 7 }),
      assumptions: assumptions(),
      availabilityZones: 2,
      prices: usEast1(),
    });
    const large = sizeSearch({
      dailyDocumentBytes: 290 * GB,
      retention: plan({ hot: 7 }),
      assumptions: assumptions(),
      availabilityZones: 2,
      prices: usEast1(),
    });

    expect(small.notes.join("\n")).toMatch(/smaller than AWS's 10 GiB floor/);
    expect(large.notes).toEqual([]);
  });
});
