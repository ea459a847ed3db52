import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildAlert } from "../../../../lambdas/core/alerts/build.js";
import {
  compareIndexed,
  EventTally,
  exactTypeOf,
  indexedValue,
  mergeSummaries,
  partlyListed,
  storedSummary,
  summarizeTallies,
  withTotals,
} from "../../../../lambdas/core/alerts/matched.js";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import { mergeDetections, StreamEvaluator } from "../../../../lambdas/core/rules/index.js";
import type { Detection } from "../../../../lambdas/core/rules/types.js";
import { meshDoc, packOf, ruleYaml } from "../rules/helpers.js";

describe("the values an alert lists, as the index holds and orders them", () => {
  it("lists only fields the audit mapping aggregates, with their types", () => {
    expect(exactTypeOf("mesh.destination.service")).toBe("keyword");
    expect(exactTypeOf("http.response.status_code")).toBe("long");
    expect(exactTypeOf("source.ip")).toBe("ip");
    expect(exactTypeOf("mesh.mtls")).toBe("boolean");
    // Dates, flat objects, stored-only objects, unindexed and unmapped fields are listed from the kept events.
    expect(exactTypeOf("event.start")).toBeUndefined();
    expect(exactTypeOf("kubernetes.audit.annotations")).toBeUndefined();
    expect(exactTypeOf("kubernetes.audit.requestObject.spec")).toBeUndefined();
    expect(exactTypeOf("event.original")).toBeUndefined();
    expect(exactTypeOf("no.such.field")).toBeUndefined();
  });

  it("takes values as OpenSearch indexes them (observed on the test node)", () => {
    expect(indexedValue("long", "200")).toBe(200);
    expect(indexedValue("long", 1.7)).toBe(1);
    expect(indexedValue("long", "n/a")).toBeUndefined();
    expect(indexedValue("keyword", 403)).toBe("403");
    expect(indexedValue("keyword", "x".repeat(1025))).toBeUndefined();
    expect(indexedValue("boolean", "true")).toBe(true);
    expect(indexedValue("ip", "::ffff:10.0.0.2")).toBe("10.0.0.2");
    expect(indexedValue("ip", "2001:0db8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(indexedValue("ip", "not-an-ip")).toBeUndefined();
  });

  it("orders values as a terms aggregation does: code points, numbers, addresses, false first", () => {
    const sort = (type: Parameters<typeof compareIndexed>[0], values: (string | number | boolean)[]) =>
      [...values].sort(compareIndexed(type));
    expect(sort("keyword", ["\u{1F600}", "b", "\uFFFD", "a"])).toEqual(["a", "b", "\uFFFD", "\u{1F600}"]);
    expect(sort("long", [200, 3, 1])).toEqual([1, 3, 200]);
    expect(sort("ip", ["10.0.0.2", "::1", "9.0.0.1"])).toEqual(["::1", "9.0.0.1", "10.0.0.2"]);
    expect(sort("boolean", [true, false])).toEqual([false, true]);
  });

  it("unions the tallies of what an alert folds, keeping the first values and the total", () => {
    const fields = [{ path: "url.path", type: "keyword" as const }];
    const early = new EventTally(fields);
    const late = new EventTally(fields);
    for (let i = 0; i < 40; i++)
      early.add(meshDoc({ url: { path: `/p${String(i).padStart(2, "0")}` } }), 1000 + i);
    for (let i = 30; i < 70; i++)
      late.add(meshDoc({ url: { path: `/p${String(i).padStart(2, "0")}` } }), 5000 + i);
    const summary = summarizeTallies([early, late, early]);
    expect(summary?.firstMs).toBe(1000);
    expect(summary?.lastMs).toBe(5069);
    expect(summary?.values["url.path"]?.total).toBe(70);
    expect(summary?.values["url.path"]?.values).toHaveLength(50);
    expect(summary?.values["url.path"]?.values[49]).toBe("/p49");
  });
});

describe("a grown alert's summary from what its last summary had not read", () => {
  const fields = [
    { path: "url.path", type: "keyword" as const },
    { path: "http.response.status_code", type: "long" as const },
  ];
  const tally = (events: readonly { path: number; status: number; at: number }[]) => {
    const counted = new EventTally(fields);
    for (const { path, status, at } of events) {
      counted.add(meshDoc({ url: { path: `/p${path}` }, http: { response: { status_code: status } } }), at);
    }
    return counted;
  };
  const event = fc.record({
    path: fc.integer({ min: 0, max: 120 }),
    status: fc.constantFrom(200, 403, 503),
    at: fc.integer({ min: 0, max: 10_000 }),
  });

  it("is the summary of everything read, given the whole span's totals where a side lists only part", () => {
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 150 }),
        fc.array(event),
        fc.nat(),
        (known, later, overlap) => {
          // The unread documents may include some the last summary read too: a union counts them once.
          const unread = [...later, ...known.slice(0, overlap % (known.length + 1))];
          const whole = summarizeTallies([tally([...known, ...later])]);
          const totals = Object.fromEntries(
            Object.entries(whole?.values ?? {}).map(([path, v]) => [path, v.total]),
          );
          const before = summarizeTallies([tally(known)]);
          if (before === undefined) throw new Error("a known summary holds events");
          expect(mergeSummaries(fields, before, summarizeTallies([tally(unread)]), totals)).toEqual(whole);
        },
      ),
    );
  });

  it("needs no total while both sides list every value, and asks for the whole span when one does not", () => {
    const before = summarizeTallies([tally([{ path: 1, status: 200, at: 10 }])]);
    const few = summarizeTallies([tally([{ path: 2, status: 403, at: 20 }])]);
    const many = summarizeTallies([
      tally(Array.from({ length: 60 }, (_, i) => ({ path: i, status: 200, at: i }))),
    ]);
    if (before === undefined) throw new Error("unreachable");
    expect(mergeSummaries(fields, before, few, {})?.values["url.path"]).toEqual({
      values: ["/p1", "/p2"],
      total: 2,
    });
    expect(mergeSummaries(fields, before, many, {})).toBeUndefined();
    expect(mergeSummaries(fields, before, many, { "url.path": 60 })?.values["url.path"]?.total).toBe(60);
    expect(mergeSummaries(fields, before, undefined, {})).toBe(before);
  });

  it("completes a summary read without distinct counts with those of the fields it lists in part", () => {
    const many = summarizeTallies([
      tally(Array.from({ length: 60 }, (_, i) => ({ path: i, status: 200, at: i }))),
    ]);
    if (many === undefined) throw new Error("unreachable");
    // As read from the node without a distinct count: one value more than it keeps, so the total is unknown.
    const read = {
      ...many,
      values: { ...many.values, "url.path": { values: many.values["url.path"]?.values ?? [], total: 51 } },
    };
    expect(withTotals(fields, read, {})).toBeUndefined();
    expect(withTotals(fields, read, { "url.path": 60 })).toEqual(many);
  });

  it("asks for the whole span's count of the fields the known summary lists only in part", () => {
    const known = summarizeTallies([
      tally(Array.from({ length: 60 }, (_, i) => ({ path: i, status: 200, at: i }))),
    ]);
    if (known === undefined) throw new Error("unreachable");
    expect(partlyListed(fields, known)).toEqual([0]);
  });

  it("is read back from the alert the detector wrote, with the ingest time it read up to", () => {
    const pack = packOf([
      ruleYaml(
        "sel:\n  http.response.status_code: 403\ncondition: sel",
        "fields:\n  - url.path\n  - http.response.status_code",
        "paths",
      ),
    ]);
    const rule = pack.get("paths");
    if (rule === undefined) throw new Error("unreachable");
    const doc = meshDoc({ url: { path: "/p1" }, http: { response: { status_code: 403 } } });
    const matched = summarizeTallies([tally([{ path: 1, status: 403, at: Date.parse(doc["@timestamp"]) }])]);
    if (matched === undefined) throw new Error("unreachable");
    const readBefore = {
      ingestedFromMs: Date.parse("2026-06-01T10:00:00Z"),
      indexedFromMs: Date.parse("2026-06-01T10:02:00Z"),
    };
    const detection: Detection = {
      rule,
      windowStart: doc["@timestamp"],
      windowEnd: doc["@timestamp"],
      groupBy: {},
      count: 1,
      events: [doc],
      matched: { ...matched, readBefore },
    };
    const alert = buildAlert(detection, { environment: "test" });
    expect(alert.seen.through).toBe("2026-06-01T10:00:00.000Z");
    expect(alert.seen.indexedThrough).toBe("2026-06-01T10:02:00.000Z");
    expect(storedSummary(alert, fields)).toEqual({ ...matched, readBefore });
    // A summary before the index stamp was read by Firehose's receipt alone.
    const { indexedFromMs: _stamp, ...byReceipt } = readBefore;
    expect(
      storedSummary(
        buildAlert({ ...detection, matched: { ...matched, readBefore: byReceipt } }, { environment: "test" }),
        fields,
      ),
    ).toEqual({ ...matched, readBefore: byReceipt });
    // Without `through` (replay's, or a summary from the whole lookback), the next summary reads the whole span.
    expect(
      storedSummary(buildAlert({ ...detection, matched }, { environment: "test" }), fields),
    ).toBeUndefined();
  });
});

describe("replay's alerts over more events than they keep", () => {
  const DENIED = ruleYaml("sel:\n  http.response.status_code: 403\ncondition: sel", "", "denied");
  const BURST = `title: burst\nid: burst-id\nname: burst\nlevel: high\ncorrelation:\n  type: event_count\n  rules: [denied]\n  group-by: [mesh.source.principal]\n  timespan: 1m\n  condition: { gte: 3 }\nfields: [mesh.destination.service]\n`;
  const services = ["payments", "users", "orders", "billing", "auth"];
  const start = Date.parse("2026-03-02T10:00:00Z");
  /** 20 denials to two services, then 10 to three others, 1.5 s apart. */
  const docs: EcsDocument[] = Array.from({ length: 30 }, (_, i) =>
    meshDoc({
      "@timestamp": new Date(start + 5_000 + i * 1_500).toISOString(),
      event: { id: `e${String(i).padStart(2, "0")}` } as EcsDocument["event"],
      http: { response: { status_code: 403 } },
      mesh: {
        source: { principal: "spiffe://cluster.local/ns/shop/sa/frontend" },
        destination: { service: i < 20 ? services[i % 2] : services[2 + (i % 3)] },
      } as EcsDocument["mesh"],
    }),
  );

  it("names every destination and the last event time, not those of the 20 events kept", () => {
    // Prepare
    const evaluator = new StreamEvaluator(packOf([DENIED, BURST]));
    const firings: Detection[] = [];
    // Act
    for (const doc of docs) firings.push(...evaluator.push(doc));
    firings.push(...evaluator.finish());
    const [alert] = mergeDetections(firings.filter((firing) => firing.rule.name === "burst")).map(
      (detection) => buildAlert(detection, { environment: "test" }),
    );
    // Assess
    expect(alert?.events).toHaveLength(20);
    expect(alert?.values["mesh.destination.service"]).toEqual([...services].sort());
    expect(alert?.distinct["mesh.destination.service"]).toBe(5);
    expect(alert?.seen).toEqual({
      first: new Date(start + 5_000).toISOString(),
      last: new Date(start + 5_000 + 29 * 1_500).toISOString(),
      complete: true,
    });
  });
});
