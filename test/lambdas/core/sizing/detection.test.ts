import { describe, expect, it } from "vitest";
import {
  DETECTOR_PASS_MODEL,
  DETECTOR_PASS_TARGET_SECONDS,
  passSeconds,
  sizeDetection,
} from "../../../../lambdas/core/sizing/detection.js";

describe("sizeDetection", () => {
  it("keeps the shards the domain has when a pass already fits", () => {
    const sizing = sizeDetection(96 * 100_000, 1);
    expect(sizing.eventsPer15Minutes).toBe(100_000);
    expect(sizing.recommendedShards).toBe(1);
    expect(sizing.keepsUp).toBe(true);
    expect(sizing.passSeconds).toBeCloseTo(
      DETECTOR_PASS_MODEL.fixedSeconds + DETECTOR_PASS_MODEL.secondsPerMillionEvents * 0.1,
    );
  });

  it("recommends the fewest shards that bring a pass under the target, and says when one shard falls behind", () => {
    const events = 20e6;
    const sizing = sizeDetection(96 * events, 1);
    expect(sizing.keepsUp).toBe(passSeconds(events, 1) <= 60);
    expect(sizing.recommendedPassSeconds).toBeLessThanOrEqual(DETECTOR_PASS_TARGET_SECONDS);
    expect(passSeconds(events, sizing.recommendedShards - 1)).toBeGreaterThan(DETECTOR_PASS_TARGET_SECONDS);
  });
});
