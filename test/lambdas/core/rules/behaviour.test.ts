import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import {
  type BaselineState,
  emptyBaseline,
  MAX_TRAVEL_LOCATIONS,
  prune,
  travelStep,
  upgradeBaseline,
} from "../../../../lambdas/core/rules/behaviour.js";
import { type Detection, StreamEvaluator } from "../../../../lambdas/core/rules/index.js";
import { isBehaviourRule } from "../../../../lambdas/core/rules/types.js";
import { meshDoc, packOf, ruleYaml } from "./helpers.js";

const CALL = ruleYaml("sel:\n  mesh.source.principal|exists: true\ncondition: sel", "", "call");
const DAY = 86_400_000;
const T0 = Date.parse("2026-03-01T00:00:00Z");

function newValue(body: string, name = "edge"): string {
  return `title: ${name}\nid: ${name}-id\nname: ${name}\nlevel: medium\ncorrelation:\n${body
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n")}\n`;
}

const EDGE = newValue(
  "type: new_value\nrules: [call]\ngroup-by: [mesh.source.principal]\nfields: [mesh.destination.service]\nlearning: 2d\ntimespan: 10m",
);

function call(ms: number, principal: string, service: string, id?: string): EcsDocument {
  return meshDoc({
    "@timestamp": new Date(ms).toISOString(),
    event: { id: id ?? `${ms}-${principal}-${service}` },
    mesh: { source: { principal }, destination: { service } },
  });
}

function run(rules: string[], docs: readonly EcsDocument[], latenessMs = Number.POSITIVE_INFINITY) {
  const evaluator = new StreamEvaluator(packOf(rules), { allowedLatenessMs: latenessMs });
  const out: Detection[] = [];
  for (const doc of docs) out.push(...evaluator.push(doc));
  out.push(...evaluator.finish());
  return { detections: out, late: evaluator.stats.late };
}

const keyOf = (detection: Detection) =>
  `${detection.rule.name}|${detection.windowStart}|${JSON.stringify(detection.groupBy)}|${detection.count}`;

describe("new_value rules", () => {
  it("refuses a rule without a learning period, and known-for longer than learning", () => {
    // Act and assess
    expect(() =>
      packOf([
        CALL,
        newValue("type: new_value\nrules: [call]\ngroup-by: [mesh.source.principal]\ntimespan: 1m"),
      ]),
    ).toThrow(/key 'correlation.learning': a new_value rule needs 'learning'/);
    expect(() =>
      packOf([
        CALL,
        newValue(
          "type: new_value\nrules: [call]\ngroup-by: [mesh.source.principal]\nlearning: 1d\nknown-for: 2d\ntimespan: 1m",
        ),
      ]),
    ).toThrow(/known-for \(2d\) may not exceed learning \(1d\)/);
    expect(() =>
      packOf([
        CALL,
        newValue(
          "type: event_count\nrules: [call]\ngroup-by: [mesh.source.principal]\nlearning: 1d\ntimespan: 1m\ncondition: { gte: 1 }",
        ),
      ]),
    ).toThrow(/'learning' applies to new_value and geo rules only/);
    expect(() =>
      packOf([
        CALL,
        newValue("type: geo\nrules: [call]\ngroup-by: [mesh.source.principal]\nlearning: 1d\ntimespan: 1m"),
      ]),
    ).toThrow(/geo needs 'check'/);
    expect(() => packOf([CALL, EDGE], undefined, { rules: { edge: { minCount: 3 } } })).toThrow(
      /'minCount' does not apply to new_value and geo rules/,
    );
  });

  it("stays quiet until the learning period has passed since the first event, then fires once per new key", () => {
    // Prepare
    const docs = [
      call(T0, "a", "orders"),
      call(T0 + DAY, "a", "payments"), // in the learning period: learned, not judged
      call(T0 + 2 * DAY, "a", "users"), // the first moment the rule may fire
      call(T0 + 2 * DAY + 1000, "a", "users"), // the same key again
      call(T0 + 3 * DAY, "a", "payments"), // last seen two days ago: still known (learning is 2d, inclusive)
    ];
    // Act
    const { detections } = run([CALL, EDGE], docs);
    // Assess
    expect(detections.map((d) => [d.windowStart, d.groupBy])).toEqual([
      [
        new Date(T0 + 2 * DAY).toISOString(),
        { "mesh.source.principal": "a", "mesh.destination.service": "users" },
      ],
    ]);
  });

  it("judges on event time: any arrival order within the allowed lateness gives the same detections", () => {
    // Prepare: a few principals and services over five days, each event delayed by up to the lateness.
    const lateness = 10 * 60_000;
    const event = fc.record({
      at: fc.integer({ min: 0, max: 5 * 24 * 60 }),
      principal: fc.constantFrom("a", "b", "c"),
      service: fc.constantFrom("orders", "payments", "users", "cart"),
      delay: fc.integer({ min: 0, max: lateness - 1 }),
    });
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 60 }), (events) => {
        const docs = events.map((e, i) => ({
          doc: call(T0 + e.at * 60_000, e.principal, e.service, `id-${i}`),
          arrival: T0 + e.at * 60_000 + e.delay,
        }));
        const inTimeOrder = [...docs].sort(
          (x, y) => Date.parse(x.doc["@timestamp"]) - Date.parse(y.doc["@timestamp"]),
        );
        const inArrivalOrder = [...docs].sort((x, y) => x.arrival - y.arrival);
        // Act
        const sorted = run(
          [CALL, EDGE],
          inTimeOrder.map((d) => d.doc),
          lateness,
        );
        const arrived = run(
          [CALL, EDGE],
          inArrivalOrder.map((d) => d.doc),
          lateness,
        );
        // Assess
        expect(arrived.late).toBe(0);
        expect(arrived.detections.map(keyOf).sort()).toEqual(sorted.detections.map(keyOf).sort());
      }),
      { numRuns: 200 },
    );
  });

  it("leaves an event later than the allowed lateness out of the baseline and of the decisions, and counts it", () => {
    // Prepare: the learned edge a→payments arrives an hour after a later event was seen.
    const lateness = 2 * 60_000;
    const docs = [
      call(T0, "a", "orders"),
      call(T0 + 1.5 * DAY, "a", "orders"),
      call(T0 + 3 * DAY, "a", "orders"),
      call(T0 + 2 * DAY + 3_600_000, "a", "payments"), // late by a day: not judged, not learned
      call(T0 + 3 * DAY + 60_000, "a", "payments"),
    ];
    // Act
    const { detections, late } = run([CALL, EDGE], docs, lateness);
    // Assess
    expect(late).toBe(1);
    expect(detections.map((d) => d.windowStart)).toEqual([new Date(T0 + 3 * DAY + 60_000).toISOString()]);
  });

  it("counts follow-up events in [first, first + timespan) and fires only when the condition holds", () => {
    // Prepare
    const create = ruleYaml("sel:\n  http.request.method: POST\ncondition: sel", "", "create");
    const rule = newValue(
      "type: new_value\nrules: [call]\ngroup-by: [mesh.source.principal]\nlearning: 1d\nfollow-up: [create]\ntimespan: 10m\ncondition: { gt: 2 }",
      "bulk",
    );
    const post = (ms: number, principal: string) =>
      meshDoc({
        "@timestamp": new Date(ms).toISOString(),
        mesh: { source: { principal } },
        http: { request: { method: "POST" } },
      });
    const start = T0 + 2 * DAY;
    const docs = [
      call(T0, "known", "orders"),
      call(start, "x", "orders"),
      post(start + 60_000, "x"),
      post(start + 120_000, "x"),
      post(start + 599_999, "x"),
      post(start + 600_000, "x"), // outside the window
      call(start, "y", "orders"),
      post(start + 60_000, "y"),
      post(start + 120_000, "y"),
      post(start + 700_000, "y"),
    ];
    // Act
    const { detections } = run([CALL, create, rule], docs);
    // Assess
    expect(detections.map((d) => [d.groupBy, d.count, d.windowStart, d.windowEnd])).toEqual([
      [
        { "mesh.source.principal": "x" },
        3,
        new Date(start).toISOString(),
        new Date(start + 600_000).toISOString(),
      ],
    ]);
  });
});

describe("impossible_travel state", () => {
  const TRAVEL = newValue(
    "type: geo\ncheck: impossible_travel\nrules: [call]\ngroup-by: [mesh.source.principal]\nlearning: 1d\ntimespan: 1h",
    "travel",
  );
  const rule = packOf([CALL, TRAVEL]).correlationRules.find((r) => r.name === "travel");
  if (rule === undefined || !isBehaviourRule(rule)) throw new Error("no travel rule");
  const step = (state: BaselineState, ms: number, country: string) =>
    travelStep(
      rule,
      state,
      { key: "[]", groupKey: '["alice"]', groupBy: {}, groupValues: { user: "alice" }, country },
      ms,
      meshDoc({ "@timestamp": new Date(ms).toISOString() }),
    );

  it("keeps at most MAX_TRAVEL_LOCATIONS countries per identity, most recent first, and forgets them after learning", () => {
    // Prepare
    const state = emptyBaseline();
    const countries = ["DE", "FR", "ES", "IT", "PT", "NL", "BE", "AT", "CH", "PL"];
    // Act: ten countries an hour apart.
    for (const [i, country] of countries.entries()) step(state, T0 + i * 3_600_000, country);
    // Assess
    expect(state.located['["alice"]']?.map((event) => event.country)).toEqual(
      [...countries].reverse().slice(0, MAX_TRAVEL_LOCATIONS),
    );
    prune(rule, state, T0 + 9 * 3_600_000 + DAY + 1);
    expect(state.located).toEqual({});
  });

  it("reads a baseline stored with one located event per identity (version 1) as the latest of the list", () => {
    // Prepare
    const stored = {
      version: 1,
      trailStartMs: T0,
      throughMs: T0 + 60_000,
      keys: {},
      groups: {},
      located: { '["alice"]': { ms: T0, country: "DE" } },
      pending: [],
    };
    // Act
    const state = upgradeBaseline(JSON.parse(JSON.stringify(stored)));
    // Assess
    expect(state?.version).toBe(2);
    expect(state?.located).toEqual({ '["alice"]': [{ ms: T0, country: "DE" }] });
    expect(step(state as BaselineState, T0 + 20 * 60_000, "US")?.groupBy).toMatchObject({
      "previous.source.geo.country_iso_code": "DE",
      "source.geo.country_iso_code": "US",
    });
    expect(upgradeBaseline({ version: 7, throughMs: 0 })).toBeUndefined();
  });
});

describe("impossible_travel in replay", () => {
  // DE, RU (0 km from DE and US in the table), US, FR (DE's neighbour), JP, BR.
  const IPS = ["5.9.0.1", "77.88.8.8", "8.8.8.8", "62.210.0.1", "133.242.0.1", "200.160.0.8"];
  const TRAVEL = newValue(
    "type: geo\ncheck: impossible_travel\nrules: [call]\ngroup-by: [mesh.source.principal]\nlearning: 1d\ntimespan: 1h",
    "travel",
  );
  const located = (ms: number, principal: string, ip: string, id: string) =>
    meshDoc({
      "@timestamp": new Date(ms).toISOString(),
      event: { id },
      source: { ip },
      mesh: { source: { principal }, destination: { service: "orders" } },
    });

  it("judges on event time: any arrival order within the allowed lateness gives the same travel alerts, each one move too fast", () => {
    const lateness = 10 * 60_000;
    const event = fc.record({
      at: fc.integer({ min: 0, max: 36 * 60 }),
      principal: fc.constantFrom("a", "b"),
      ip: fc.constantFrom(...IPS),
      delay: fc.integer({ min: 0, max: lateness - 1 }),
    });
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 40 }), (events) => {
        // Prepare
        const docs = events.map((e, i) => ({
          doc: located(T0 + e.at * 60_000, e.principal, e.ip, `id-${String(i).padStart(3, "0")}`),
          arrival: T0 + e.at * 60_000 + e.delay,
        }));
        const inTimeOrder = [...docs].sort(
          (x, y) => Date.parse(x.doc["@timestamp"]) - Date.parse(y.doc["@timestamp"]),
        );
        const inArrivalOrder = [...docs].sort((x, y) => x.arrival - y.arrival);
        // Act
        const sorted = run(
          [CALL, TRAVEL],
          inTimeOrder.map((d) => d.doc),
          lateness,
        );
        const arrived = run(
          [CALL, TRAVEL],
          inArrivalOrder.map((d) => d.doc),
          lateness,
        );
        // Assess
        expect(arrived.late).toBe(0);
        expect(arrived.detections.map(keyOf).sort()).toEqual(sorted.detections.map(keyOf).sort());
        for (const detection of sorted.detections) {
          const previous = detection.groupBy["previous.source.geo.country_iso_code"];
          const current = detection.groupBy["source.geo.country_iso_code"];
          expect(previous).not.toBe(current);
          expect(detection.value).toBeGreaterThanOrEqual(1000);
        }
      }),
      { numRuns: 150 },
    );
  });
});
