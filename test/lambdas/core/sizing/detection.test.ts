import { describe, expect, it } from "vitest";
import {
  DETECTOR_MEASUREMENTS,
  DETECTOR_PASS_CURVE,
  DETECTOR_PASS_TARGET_SECONDS,
  type DetectorMeasurements,
  detectionMethod,
  passCurve,
  passSeconds,
  sizeDetection,
} from "../../../../lambdas/core/sizing/detection.js";

const step = (eventsPer15Minutes: number, services: number, steadyPassSeconds: number) => ({
  eventsPer15Minutes,
  services,
  principals: 1000,
  steadyPassSeconds,
  alertWriteSeconds: 0,
  newAlertsPerPass: 0,
  searchesPerPass: 0,
  requestsPerPass: 0,
  heapHighWaterMB: 0,
  breakerTrips: 0,
});
const measurements: DetectorMeasurements = {
  ...DETECTOR_MEASUREMENTS,
  steps: [step(10_000, 200, 1), step(10_000, 1000, 2), step(100_000, 200, 3), step(1_000_000, 1000, 12)],
};
const curve = passCurve(measurements);

describe("the detector's pass curve", () => {
  it("takes the slowest pass of the service counts at each measured volume", () => {
    expect(curve).toEqual([
      { eventsPer15Minutes: 10_000, seconds: 2 },
      { eventsPer15Minutes: 100_000, seconds: 3 },
      { eventsPer15Minutes: 1_000_000, seconds: 12 },
    ]);
  });

  it("reads the volume per shard off the curve: linear between volumes, along the last slope beyond", () => {
    expect(passSeconds(5_000, 1, curve)).toBe(2);
    expect(passSeconds(55_000, 1, curve)).toBeCloseTo(2.5);
    expect(passSeconds(550_000, 1, curve)).toBeCloseTo(7.5);
    expect(passSeconds(2_000_000, 1, curve)).toBeCloseTo(22);
    expect(passSeconds(2_000_000, 2, curve)).toBeCloseTo(12);
  });

  it("is built from the committed benchmark figures, and the method names them", () => {
    expect(DETECTOR_PASS_CURVE.length).toBeGreaterThanOrEqual(2);
    expect(detectionMethod()).toContain("lambdas/core/sizing/detector-measurements.json");
    expect(detectionMethod()).toContain("by the index stamp");
  });
});

describe("sizeDetection", () => {
  it("keeps the shards the domain has when a pass already fits", () => {
    const sizing = sizeDetection(96 * 100_000, 1, curve);
    expect(sizing.eventsPer15Minutes).toBe(100_000);
    expect(sizing.recommendedShards).toBe(1);
    expect(sizing.keepsUp).toBe(true);
    expect(sizing.passSeconds).toBeCloseTo(3);
  });

  it("recommends the fewest shards that bring a pass under the target, and says when one shard falls behind", () => {
    const sizing = sizeDetection(96 * 20e6, 1, curve);
    expect(sizing.keepsUp).toBe(false);
    expect(sizing.recommendedPassSeconds).toBeLessThanOrEqual(DETECTOR_PASS_TARGET_SECONDS);
    expect(passSeconds(20e6, sizing.recommendedShards - 1, curve)).toBeGreaterThan(
      DETECTOR_PASS_TARGET_SECONDS,
    );
  });
});
