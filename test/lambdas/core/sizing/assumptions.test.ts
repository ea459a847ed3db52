import { describe, expect, it } from "vitest";
import {
  ASSUMPTION_BASIS,
  EXPANSION_WITH_ORIGINAL,
  EXPANSION_WITHOUT_ORIGINAL,
  resolveAssumptions,
} from "../../../../lambdas/core/sizing/assumptions.js";
import { SizingInputError } from "../../../../lambdas/core/sizing/errors.js";

describe("resolveAssumptions", () => {
  it("defaults to the measured and documented figures", () => {
    expect(resolveAssumptions()).toEqual({
      keepEventOriginal: true,
      documentExpansion: EXPANSION_WITH_ORIGINAL,
      averageRecordBytes: 720,
      replicas: 1,
      indexSizeRatio: 1.1,
      shardSizeGiB: 40,
      peakFactor: 2,
      transformMBPerSecondPerVcpu: 38.9,
      concurrencyHeadroom: 2,
    });
  });

  it("expands documents less when event.original is dropped", () => {
    expect(resolveAssumptions({ keepEventOriginal: false }).documentExpansion).toBe(
      EXPANSION_WITHOUT_ORIGINAL,
    );
    expect(resolveAssumptions({ keepEventOriginal: false, documentExpansion: 1.9 }).documentExpansion).toBe(
      1.9,
    );
  });

  it("says where every default comes from", () => {
    for (const key of Object.keys(resolveAssumptions())) {
      expect(ASSUMPTION_BASIS[key as keyof typeof ASSUMPTION_BASIS].length, key).toBeGreaterThan(20);
    }
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
      resolveAssumptions(overrides);
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
