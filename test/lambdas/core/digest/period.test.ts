import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  isoUtc,
  PeriodError,
  parseInstant,
  parsePeriod,
  periodEndFor,
  periodStartFor,
} from "../../../../lambdas/core/digest/period.js";

describe("period arithmetic", () => {
  it.each([
    ["15m", 900_000],
    ["1h", 3_600_000],
    ["6h", 21_600_000],
    ["1d", 86_400_000],
    ["30", 1_800_000],
  ])("parses %s", (text, ms) => {
    expect(parsePeriod(text)).toBe(ms);
  });

  it.each(["0m", "7m", "2d", "1.5h", "hour", ""])("rejects %j, naming the option", (text) => {
    expect(() => parsePeriod(text, "--period")).toThrow(PeriodError);
    expect(() => parsePeriod(text, "--period")).toThrow(/--period/);
  });

  it("continues an unaligned chain head with a shorter period up to the next boundary", () => {
    const start = Date.parse("2026-11-23T10:30:00Z");
    expect(isoUtc(periodEndFor(start, 3_600_000))).toBe("2026-11-23T11:00:00Z");
  });

  it("rejects a time that is not ISO 8601, naming the option and value", () => {
    expect(() => parseInstant("yesterday", "--from")).toThrow(
      "--from: expected an ISO 8601 time such as 2026-11-23T09:00:00Z, got 'yesterday'",
    );
  });

  it("places every instant in exactly one period (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.constantFrom(60_000, 300_000, 900_000, 3_600_000, 21_600_000, 86_400_000),
        (t, periodMs) => {
          const start = periodStartFor(t, periodMs);
          expect(start).toBeLessThanOrEqual(t);
          expect(periodEndFor(start, periodMs)).toBeGreaterThan(t);
          expect(periodEndFor(start, periodMs) - start).toBe(periodMs);
        },
      ),
    );
  });
});
