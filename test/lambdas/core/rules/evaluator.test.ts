import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import {
  type Detection,
  mergeDetections,
  percentile,
  StreamEvaluator,
  SuppressionMerger,
} from "../../../../lambdas/core/rules/index.js";
import { meshDoc, packOf, ruleYaml } from "./helpers.js";

const REQUEST = ruleYaml("sel:\n  http.response.status_code|exists: true\ncondition: sel", "", "req");
const ERROR = ruleYaml("sel:\n  http.response.status_code|gte: 400\ncondition: sel", "", "err");
const LOGIN = ruleYaml("sel:\n  url.path: /login\ncondition: sel", "", "login");
const ADMIN = ruleYaml("sel:\n  url.path: /admin\ncondition: sel", "", "admin");

function correlation(name: string, body: string): string {
  return `title: ${name}\nid: ${name}-id\nname: ${name}\nlevel: high\ncorrelation:\n${body
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n")}\n`;
}

function at(seconds: number, over: Record<string, unknown> = {}): EcsDocument {
  return meshDoc({
    "@timestamp": new Date(Date.parse("2026-03-02T10:00:00Z") + seconds * 1000).toISOString(),
    ...over,
  });
}

function run(rules: string[], docs: EcsDocument[], latenessMs = Number.POSITIVE_INFINITY): Detection[] {
  const evaluator = new StreamEvaluator(packOf(rules), { allowedLatenessMs: latenessMs });
  const out: Detection[] = [];
  for (const doc of docs) out.push(...evaluator.push(doc));
  out.push(...evaluator.finish());
  return out;
}

describe("correlation types", () => {
  it("event_count fires per window and group and reports the count", () => {
    // Prepare
    const rule = correlation(
      "burst",
      "type: event_count\nrules: [err]\ngroup-by: [mesh.source.principal]\ntimespan: 1m\ncondition: { gte: 3 }",
    );
    const denied = { http: { response: { status_code: 403 } } };
    // Act
    const detections = run([ERROR, rule], [at(5, denied), at(10, denied), at(20, denied), at(25)]);
    // Assess
    expect(detections.map((d) => [d.rule.name, d.windowStart, d.count, d.groupBy])).toEqual([
      [
        "burst",
        "2026-03-02T09:59:30.000Z",
        3,
        { "mesh.source.principal": "spiffe://cluster.local/ns/shop/sa/frontend" },
      ],
      [
        "burst",
        "2026-03-02T10:00:00.000Z",
        3,
        { "mesh.source.principal": "spiffe://cluster.local/ns/shop/sa/frontend" },
      ],
    ]);
    expect(detections[0]?.events).toHaveLength(3);
    expect(mergeDetections(detections)).toHaveLength(1);
  });

  it("value_count counts distinct values of the field", () => {
    const rule = correlation(
      "scan",
      "type: value_count\nrules: [req]\ngroup-by: [mesh.source.principal]\ntimespan: 1m\ncondition: { field: mesh.destination.service, gt: 2 }",
    );
    const docs = ["a", "b", "b", "c"].map((svc, i) => at(i, { mesh: { destination: { service: svc } } }));
    const fired = mergeDetections(run([REQUEST, rule], docs));
    expect(fired.map((d) => [d.count, d.value])).toEqual([[4, 3]]);
    expect(run([REQUEST, rule], docs.slice(0, 3))).toEqual([]);
  });

  it("temporal fires when every referenced rule matched in the window", () => {
    const rule = correlation(
      "login_then_admin",
      "type: temporal\nrules: [login, admin]\ngroup-by: [mesh.source.principal]\ntimespan: 2m",
    );
    expect(
      mergeDetections(
        run([LOGIN, ADMIN, rule], [at(1, { url: { path: "/login" } }), at(50, { url: { path: "/admin" } })]),
      ).map((d) => d.value),
    ).toEqual([2]);
    expect(
      run([LOGIN, ADMIN, rule], [at(1, { url: { path: "/login" } }), at(400, { url: { path: "/admin" } })]),
    ).toEqual([]);
  });

  it("failure_ratio needs the minimum volume and compares the failure share", () => {
    const rule = correlation(
      "ratio",
      "type: failure_ratio\nrules: [req]\nfailures: err\ngroup-by: [mesh.destination.service]\ntimespan: 5m\nmin-count: 10\ncondition: { gt: 0.5 }",
    );
    const docs = (failures: number, total: number) =>
      Array.from({ length: total }, (_, i) =>
        at(i, { http: { response: { status_code: i < failures ? 503 : 200 } } }),
      );
    expect(mergeDetections(run([REQUEST, ERROR, rule], docs(6, 10))).map((d) => [d.count, d.value])).toEqual([
      [10, 0.6],
    ]);
    expect(run([REQUEST, ERROR, rule], docs(5, 10))).toEqual([]);
    expect(run([REQUEST, ERROR, rule], docs(9, 9))).toEqual([]);
  });

  it("percentiles interpolate at rank n·p/100 − 0.5, clamped to the ends (OpenSearch's t-digest on small sets)", () => {
    const samples = () => [1000, 10, 40, 20, 30];
    expect(percentile(samples(), 50)).toBe(30);
    expect(percentile(samples(), 80)).toBe(520);
    expect(percentile(samples(), 90)).toBe(1000);
    expect(percentile(samples(), 5)).toBe(10);
    expect(percentile([7], 99)).toBe(7);
  });

  it("percentile rules fire on the window's percentile and honour min-count", () => {
    const rule = correlation(
      "slow",
      "type: percentile\nrules: [req]\ngroup-by: [mesh.destination.service]\ntimespan: 5m\nfield: event.duration\npercentile: 80\nmin-count: 5\ncondition: { gt: 100 }",
    );
    const docs = [10, 20, 30, 40, 1000].map((duration, i) => at(i, { event: { duration } }));
    const fired = mergeDetections(run([REQUEST, rule], docs));
    expect(fired.map((d) => d.value)).toEqual([520]);
    expect(run([REQUEST, rule], docs.slice(1))).toEqual([]);
  });

  it("leaves documents without a group-by value out of the correlation", () => {
    const rule = correlation(
      "burst",
      "type: event_count\nrules: [req]\ngroup-by: [mesh.source.principal]\ntimespan: 1m\ncondition: { gte: 2 }",
    );
    expect(
      run([REQUEST, rule], [at(1, { mesh: { source: null } }), at(2, { mesh: { source: null } })]),
    ).toEqual([]);
  });
});

describe("streaming", () => {
  const burst = correlation(
    "burst",
    "type: event_count\nrules: [req]\ngroup-by: [mesh.source.principal]\ntimespan: 1m\ncondition: { gte: 1000000 }",
  );

  it("keeps memory bounded by the open windows, not by the input", () => {
    // Prepare
    const evaluator = new StreamEvaluator(packOf([REQUEST, burst]), { allowedLatenessMs: 60_000 });
    // Act: a day of traffic, one request a second
    for (let s = 0; s < 86_400; s++) evaluator.push(at(s));
    evaluator.finish();
    // Assess: lateness 1m + timespan 1m keep at most a handful of windows open
    expect(evaluator.stats.maxOpenWindows).toBeLessThanOrEqual(6);
    expect(evaluator.stats.events).toBe(86_400);
  });

  it("counts documents as late when all their windows have closed", () => {
    const evaluator = new StreamEvaluator(packOf([REQUEST, burst]), { allowedLatenessMs: 0 });
    evaluator.push(at(600));
    evaluator.push(at(10));
    expect(evaluator.stats.late).toBe(1);
  });

  it("releases the same alerts through the streaming merger as mergeDetections", () => {
    const rule = correlation(
      "burst",
      "type: event_count\nrules: [req]\ngroup-by: [mesh.source.principal]\ntimespan: 1m\ncondition: { gte: 2 }",
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1200 }), fc.constantFrom("a", "b")), { maxLength: 60 }),
        (items) => {
          const docs = items
            .sort(([x], [y]) => x - y)
            .map(([second, who]) => at(second, { mesh: { source: { principal: who } } }));
          const detections = run([REQUEST, rule], docs, 0);
          const merger = new SuppressionMerger();
          const streamed = [...detections.flatMap((d) => merger.push(d)), ...merger.flush()];
          const key = (d: Detection) =>
            `${d.groupBy["mesh.source.principal"]}|${d.windowStart}|${d.windowEnd}|${d.count}`;
          expect(streamed.map(key).sort()).toEqual(mergeDetections(detections).map(key).sort());
        },
      ),
      { numRuns: 100 },
    );
  });
});
