import { describe, expect, it } from "vitest";
import { SizingInputError } from "../../../../lambdas/core/sizing/errors.js";
import { planRetention, type RetentionRequest } from "../../../../lambdas/core/sizing/retention.js";
import { DEFAULT_TRANSITIONS, HIPAA, PCI_DSS } from "./helpers.js";

function retention(overrides: Partial<RetentionRequest> = {}): RetentionRequest {
  return {
    requirements: [],
    indexLifetimeCapDays: 366,
    transitions: DEFAULT_TRANSITIONS,
    stagingDays: 14,
    ...overrides,
  };
}

function failure(request: RetentionRequest): SizingInputError {
  try {
    planRetention(request);
  } catch (error: unknown) {
    if (error instanceof SizingInputError) return error;
    throw error;
  }
  throw new Error("planRetention accepted the request");
}

describe("planRetention", () => {
  it("takes the archive's retention from the longest framework minimum and says which", () => {
    const plan = planRetention(retention({ requirements: [...PCI_DSS, ...HIPAA] }));

    expect(plan.archive.days).toBe(2192);
    expect(plan.archive.reason).toMatch(/^hipaa: documentation retained for 6 years/);
  });

  it("fills PCI DSS's 90 searchable days with warm days after the default 7 hot days", () => {
    const plan = planRetention(retention({ requirements: PCI_DSS }));

    expect(plan.hot.days).toBe(7);
    expect(plan.warm.days).toBe(83);
    expect(plan.warm.reason).toMatch(/^pci-dss: .*90 searchable days less 7 hot/);
  });

  it("keeps indices in OpenSearch, cold after warm, for the first year of a longer retention", () => {
    const plan = planRetention(retention({ requirements: [...PCI_DSS, ...HIPAA] }));

    expect(plan.hot.days + plan.warm.days + plan.cold.days).toBe(366);
    expect(plan.cold.days).toBe(276);
  });

  it("keeps indices no longer than the archive when the retention is shorter than the cap", () => {
    const plan = planRetention(retention({ archiveDays: 30 }));

    expect(plan.hot.days + plan.warm.days + plan.cold.days).toBe(30);
  });

  it("gives cold storage a warm day to pass through when none was asked for", () => {
    const plan = planRetention(retention({ archiveDays: 400, hotDays: 7 }));

    expect(plan.warm).toEqual({ days: 1, reason: "an index reaches cold storage only from UltraWarm" });
    expect(plan.cold.days).toBe(366 - 7 - 1);
  });

  it("uses the days it is given, with the origin it is told", () => {
    const plan = planRetention(
      retention({
        requirements: PCI_DSS,
        hotDays: 30,
        warmDays: 60,
        coldDays: 0,
        origin: { hotDays: "--hot-days" },
      }),
    );

    expect([plan.hot.days, plan.warm.days, plan.cold.days, plan.archive.days]).toEqual([30, 60, 0, 366]);
    expect(plan.hot.reason).toBe("--hot-days");
    expect(plan.warm.reason).toBe("given");
  });

  it("refuses an archive shorter than a framework requires, naming the framework and the minimum", () => {
    const error = failure(retention({ requirements: HIPAA, archiveDays: 365 }));

    expect(error.details.field).toBe("archiveDays");
    expect(error.message).toMatch(
      /^archiveDays 365: hipaa: documentation retained for 6 years requires at least 2192 days/,
    );
  });

  it("refuses a searchable window below PCI DSS's 90 days", () => {
    const error = failure(retention({ requirements: PCI_DSS, hotDays: 30, warmDays: 10 }));

    expect(error.details.field).toBe("warmDays");
    expect(error.message).toMatch(/requires hot \+ warm ≥ 90 days, and 30 \+ 10 is less/);
    expect(error.message).toMatch(/Fix: raise hotDays or warmDays so that together they reach 90\.$/);
  });

  it("asks for an archive retention when no framework sets one", () => {
    const error = failure(retention());

    expect(error.details.field).toBe("archiveDays");
    expect(error.message).toMatch(/no compliance framework sets the archive's retention/);
  });

  it("refuses cold days reached from no warm day when the warm days were given", () => {
    const error = failure(retention({ archiveDays: 400, warmDays: 0, coldDays: 100 }));

    expect(error.details.field).toBe("warmDays");
    expect(error.message).toMatch(/only from UltraWarm/);
  });

  it.each([
    ["hotDays", { hotDays: 0 }],
    ["warmDays", { warmDays: 1.5 }],
    ["coldDays", { coldDays: -1 }],
    ["archiveDays", { archiveDays: 0 }],
  ] as const)("refuses %s that is not a whole number of days in range", (field, days) => {
    const error = failure(retention({ archiveDays: 30, ...days }));

    expect(error.details.field).toBe(field);
    expect(error.message).toMatch(/must be a whole number of days/);
  });
});
