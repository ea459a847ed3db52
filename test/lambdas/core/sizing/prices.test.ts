import { describe, expect, it } from "vitest";
import { SizingInputError } from "../../../../lambdas/core/sizing/errors.js";
import {
  DATA_NODE_TYPES,
  FIREHOSE_STREAM_QUOTAS,
  MASTER_NODE_TYPES,
  ULTRAWARM_NODE_TYPES,
} from "../../../../lambdas/core/sizing/guidance.js";
import {
  PRICE_TABLE,
  pricesFor,
  type SourcedPrice,
  type TieredPrice,
  tieredCost,
} from "../../../../lambdas/core/sizing/prices.js";

const ISO_DATE = /^\d{4}(-\d{2}(-\d{2})?)?$/;

describe("the price table", () => {
  const regions = Object.values(PRICE_TABLE);

  it.each(regions.map((prices) => [prices.region, prices]))(
    "%s prices every instance type the model can recommend",
    (_region, prices) => {
      const types = [
        ...DATA_NODE_TYPES.map((type) => type.instanceType),
        ...MASTER_NODE_TYPES.map((type) => type.instanceType),
        ...ULTRAWARM_NODE_TYPES.map((type) => type.instanceType),
      ];
      for (const type of types) {
        expect(prices.openSearchInstanceHour[type], type).toBeDefined();
      }
    },
  );

  it.each(regions.map((prices) => [prices.region, prices]))(
    "%s gives every price a source page, a date and a note",
    (_region, prices) => {
      const entries: (SourcedPrice | TieredPrice)[] = [
        ...Object.values(prices.openSearchInstanceHour),
        ...Object.entries(prices)
          .filter(([key]) => !["region", "currency", "openSearchInstanceHour"].includes(key))
          .map(([, value]) => value as SourcedPrice | TieredPrice),
      ];
      for (const price of entries) {
        expect(price.source).toMatch(/^https:\/\/aws\.amazon\.com\//);
        expect(price.asOf).toMatch(ISO_DATE);
        expect(price.note.length).toBeGreaterThan(10);
        expect("usd" in price ? price.usd : price.tiers[0]?.usd).toBeGreaterThan(0);
      }
    },
  );

  it.each(regions.map((prices) => [prices.region]))(
    "%s has Firehose's per-stream quota on record",
    (region) => {
      expect(FIREHOSE_STREAM_QUOTAS[region]).toBeDefined();
    },
  );

  it("refuses a region it has no prices for, listing those it has", () => {
    expect(() => pricesFor("eu-west-1")).toThrow(SizingInputError);
    expect(() => pricesFor("eu-west-1")).toThrow(
      /^region "eu-west-1": the price table has no prices for this region; it has us-east-1\. Fix: pass region us-east-1/,
    );
  });
});

describe("tieredCost", () => {
  const price: TieredPrice = {
    per: "GB-month",
    tiers: [
      { upToGiB: 100, usd: 0.03 },
      { upToGiB: 300, usd: 0.02 },
      { upToGiB: null, usd: 0.01 },
    ],
    source: "https://aws.amazon.com/s3/pricing/",
    asOf: "2025-06",
    note: "test",
  };

  it("prices each band at its own rate", () => {
    expect(tieredCost(price, 50)).toBeCloseTo(1.5, 9);
    expect(tieredCost(price, 250)).toBeCloseTo(100 * 0.03 + 150 * 0.02, 9);
    expect(tieredCost(price, 1000)).toBeCloseTo(100 * 0.03 + 200 * 0.02 + 700 * 0.01, 9);
  });

  it("prices volume beyond a closed last band at that band's rate", () => {
    const closed: TieredPrice = { ...price, tiers: [{ upToGiB: 100, usd: 0.03 }] };

    expect(tieredCost(closed, 150)).toBeCloseTo(150 * 0.03, 9);
  });
});
