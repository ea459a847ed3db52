import { type AssumptionOverrides, resolveAssumptions } from "../../../../lambdas/core/sizing/assumptions.js";
import { pricesFor } from "../../../../lambdas/core/sizing/prices.js";
import type { RetentionPlan } from "../../../../lambdas/core/sizing/retention.js";
import type { SizingRequest } from "../../../../lambdas/core/sizing/size.js";

/** The lifecycle transitions the config schema defaults to. */
export const DEFAULT_TRANSITIONS = {
  infrequentAccessAfterDays: 30,
  glacierAfterDays: 90,
  deepArchiveAfterDays: 180,
} as const;

/** A retention plan with the given days (reasons do not matter to the sizing of tiers). */
export function plan(days: { hot: number; warm?: number; cold?: number; archive?: number }): RetentionPlan {
  return {
    hot: { days: days.hot, reason: "test" },
    warm: { days: days.warm ?? 0, reason: "test" },
    cold: { days: days.cold ?? 0, reason: "test" },
    archive: { days: days.archive ?? 366, reason: "test" },
    transitions: DEFAULT_TRANSITIONS,
    stagingDays: 14,
  };
}

export const usEast1 = () => pricesFor("us-east-1");
/**
 * Assumptions with fixed storage ratios (AWS's 1.1 index ratio, 2.9× documents, 720-byte records), so the tests
 * of the model's mechanics do not move when the measurements are rerun; `assumptions.test.ts` tests the defaults.
 */
export const FIXED_RATIOS = { indexSizeRatio: 1.1, documentExpansion: 2.9, averageRecordBytes: 720 } as const;
export const assumptions = (overrides: AssumptionOverrides = {}) =>
  resolveAssumptions({ ...FIXED_RATIOS, ...overrides });

/** PCI DSS's minimums as the compliance preset states them. */
export const PCI_DSS = [
  {
    framework: "pci-dss",
    rule: "audit log history retained for at least 1 year",
    applies: "archive",
    minimumDays: 366,
  },
  {
    framework: "pci-dss",
    rule: "at least the last 90 days immediately available",
    applies: "searchable",
    minimumDays: 90,
  },
] as const;

/** HIPAA's minimum as the compliance preset states it. */
export const HIPAA = [
  { framework: "hipaa", rule: "documentation retained for 6 years", applies: "archive", minimumDays: 2192 },
] as const;

/** A request for `gbPerDay` under PCI DSS and HIPAA, in us-east-1, 2 AZs, VPC. */
export function request(gbPerDay: number, overrides: Partial<SizingRequest> = {}): SizingRequest {
  return {
    gbPerDay,
    region: "us-east-1",
    frameworks: ["pci-dss", "hipaa"],
    retention: {
      requirements: [...PCI_DSS, ...HIPAA],
      indexLifetimeCapDays: 366,
      transitions: DEFAULT_TRANSITIONS,
      stagingDays: 14,
    },
    availabilityZones: 2,
    network: "vpc",
    ...overrides,
    assumptions: { ...FIXED_RATIOS, ...overrides.assumptions },
  };
}
