import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CorrelationRule,
  compareEvents,
  conditionHolds,
  DETECTION_EVENT_CAP,
  type Detection,
  detectionKey,
  groupKey,
  hopMs,
  inWindow,
  isSuppressed,
  keepEarliest,
  latestWindowStart,
  mergeDetections,
  windowStartsContaining,
} from "../../../../lambdas/core/rules/index.js";
import { meshDoc } from "./helpers.js";

const MINUTE = 60_000;

function correlation(timespanMs: number, suppressionMs = timespanMs): CorrelationRule {
  return {
    kind: "correlation",
    id: "c",
    name: "c_rule",
    title: "c",
    description: "",
    level: "medium",
    tags: [],
    fields: [],
    falsepositives: [],
    runbook: "docs/runbooks/c_rule.md",
    topic: "severity",
    generatesAlerts: true,
    suppression: { ms: suppressionMs, groupBy: [] },
    source: "test",
    type: "event_count",
    rules: ["x"],
    groupBy: ["mesh.source.principal"],
    timespanMs,
    condition: { gte: 1 },
    minCount: 0,
    generate: false,
  };
}

function firing(rule: CorrelationRule, startMs: number, count: number, group = "a"): Detection {
  return {
    rule,
    windowStart: new Date(startMs).toISOString(),
    windowEnd: new Date(startMs + rule.timespanMs).toISOString(),
    groupBy: { "mesh.source.principal": group },
    count,
    events: [meshDoc({ "@timestamp": new Date(startMs).toISOString() })],
  };
}

describe("hopping windows", () => {
  it("start every half timespan, aligned to the epoch", () => {
    // Prepare
    const t = Date.parse("2026-03-02T10:00:45Z");
    // Act
    const starts = windowStartsContaining(t, MINUTE);
    // Assess
    expect(hopMs(MINUTE)).toBe(30_000);
    expect(starts.map((s) => new Date(s).toISOString())).toEqual([
      "2026-03-02T10:00:00.000Z",
      "2026-03-02T10:00:30.000Z",
    ]);
    expect(latestWindowStart(t, MINUTE)).toBe(Date.parse("2026-03-02T10:00:30Z"));
  });

  it("put every timestamp in exactly the two windows it lies in", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.integer({ min: 1, max: 3600 }),
        (t, seconds) => {
          const timespan = seconds * 1000;
          const [early, late] = windowStartsContaining(t, timespan);
          expect(inWindow(t, early, timespan)).toBe(true);
          expect(inWindow(t, late, timespan)).toBe(true);
          expect(inWindow(t, early - hopMs(timespan), timespan)).toBe(false);
          expect(inWindow(t, late + hopMs(timespan), timespan)).toBe(false);
          expect(late % hopMs(timespan)).toBe(0);
        },
      ),
    );
  });
});

describe("the events an alert keeps", () => {
  const at = (second: number, id?: string) =>
    meshDoc({
      "@timestamp": new Date(Date.UTC(2026, 2, 2, 10, 0, second)).toISOString(),
      event: id === undefined ? {} : { id },
    });
  const kept = (events: readonly ReturnType<typeof at>[]) => {
    const held: ReturnType<typeof at>[] = [];
    const times: number[] = [];
    for (const event of events) keepEarliest(held, times, event, Date.parse(event["@timestamp"]));
    return held;
  };

  it("orders by event time, then event.id, events without an id last (the detector's sort)", () => {
    const events = [at(2, "b"), at(1), at(2), at(1, "z"), at(2, "a")];
    expect([...events].sort(compareEvents)).toEqual([at(1, "z"), at(1), at(2, "a"), at(2, "b"), at(2)]);
  });

  it("are the earliest ones, whatever order they arrive in", () => {
    const arrivals = Array.from({ length: 30 }, (_, k) => at(29 - k, `e${k}`));
    expect(kept(arrivals)).toEqual([...arrivals].reverse().slice(0, DETECTION_EVENT_CAP));
  });

  it("are the cap's worth of the sorted events, for any arrival order (property)", () => {
    const event = fc
      .tuple(fc.integer({ min: 0, max: 9 }), fc.option(fc.constantFrom("a", "b", "c"), { nil: undefined }))
      .map(([second, id]) => at(second, id));
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), (events) => {
        const expected = [...events].sort(compareEvents).slice(0, DETECTION_EVENT_CAP);
        expect(kept(events)).toEqual(expected);
      }),
    );
  });
});

describe("conditions", () => {
  it("hold when every bound holds and never when there is none", () => {
    expect(conditionHolds({ gte: 3 }, 3)).toBe(true);
    expect(conditionHolds({ gt: 3 }, 3)).toBe(false);
    expect(conditionHolds({ gte: 1, lt: 5 }, 5)).toBe(false);
    expect(conditionHolds({ eq: 2 }, 2)).toBe(true);
    expect(conditionHolds({ neq: 2 }, 2)).toBe(false);
    expect(conditionHolds({ lte: 0.5 }, 0.5)).toBe(true);
    expect(conditionHolds({}, 1)).toBe(false);
  });
});

describe("suppression", () => {
  it("folds firings that start within the suppression of the latest folded firing", () => {
    expect(isSuppressed(0, 30_000, MINUTE)).toBe(true);
    expect(isSuppressed(0, MINUTE, MINUTE)).toBe(false);
    expect(isSuppressed(0, 0, 0)).toBe(false);
  });

  it("merges overlapping windows of one group into one growing alert and keeps groups apart", () => {
    // Prepare
    const rule = correlation(MINUTE);
    const t0 = Date.parse("2026-03-02T10:00:00Z");
    const firings = [
      firing(rule, t0 + 30_000, 5),
      firing(rule, t0, 3),
      firing(rule, t0 + 60_000, 2),
      firing(rule, t0, 4, "b"),
      firing(rule, t0 + 150_000, 3),
    ];
    // Act
    const alerts = mergeDetections(firings);
    // Assess
    expect(
      alerts.map((a) => [a.groupBy["mesh.source.principal"], a.windowStart, a.windowEnd, a.count]),
    ).toEqual([
      ["a", "2026-03-02T10:00:00.000Z", "2026-03-02T10:02:00.000Z", 5],
      ["b", "2026-03-02T10:00:00.000Z", "2026-03-02T10:01:00.000Z", 4],
      ["a", "2026-03-02T10:02:30.000Z", "2026-03-02T10:03:30.000Z", 3],
    ]);
  });

  it("never loses a group and never produces more alerts than firings", () => {
    const rule = correlation(MINUTE, 2 * MINUTE);
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 40 }),
            fc.constantFrom("a", "b", "c"),
            fc.integer({ min: 1, max: 9 }),
          ),
          { maxLength: 30 },
        ),
        (items) => {
          const firings = items.map(([hop, group, count]) => firing(rule, hop * 30_000, count, group));
          const alerts = mergeDetections(firings);
          expect(alerts.length).toBeLessThanOrEqual(firings.length);
          expect(new Set(alerts.map((a) => groupKey(a.groupBy)))).toEqual(
            new Set(firings.map((f) => groupKey(f.groupBy))),
          );
          expect(new Set(alerts.map(detectionKey)).size).toBe(alerts.length);
        },
      ),
    );
  });
});
