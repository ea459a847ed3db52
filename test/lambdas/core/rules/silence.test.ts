import { describe, expect, it } from "vitest";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import { SilenceTracker, satisfies, silenceDetection } from "../../../../lambdas/core/rules/silence.js";
import type { Detection, SilenceRule } from "../../../../lambdas/core/rules/types.js";
import { silenceRule } from "../alerts/factories.js";
import { meshDoc } from "./helpers.js";

const MINUTE = 60_000;
const T0 = Date.parse("2026-03-02T10:00:00.000Z");

/** A document of `dataset` from `cluster` (none when undefined) at `minute` past T0, with an id. */
function from(
  cluster: string | undefined,
  dataset: string,
  minute: number,
  id = `${dataset}-${minute}`,
): EcsDocument {
  const doc = meshDoc({
    "@timestamp": new Date(T0 + minute * MINUTE).toISOString(),
    event: { dataset, id },
  });
  if (cluster !== undefined) doc.orchestrator = { type: "kubernetes", cluster: { name: cluster } };
  return doc;
}

/** Feeds the documents, advancing to each one's time, then finishes at the last. */
function track(rule: SilenceRule, docs: readonly EcsDocument[], finish = true): Detection[] {
  const tracker = new SilenceTracker([rule]);
  const out: Detection[] = [];
  let latest = Number.NEGATIVE_INFINITY;
  for (const doc of docs) {
    const time = Date.parse(doc["@timestamp"]);
    tracker.observe(doc, time, doc.rule?.name ?? []);
    latest = Math.max(latest, time);
    tracker.advance(latest, out);
  }
  if (finish) tracker.finish(latest, out);
  return out;
}

const minutes = (count: number, make: (minute: number) => EcsDocument) =>
  Array.from({ length: count }, (_, minute) => make(minute));

describe("source silence", () => {
  it("reports a source once it has sent nothing for the timespan, from its last document", () => {
    const docs = [
      from("prod", "kubernetes.audit", 0),
      from("prod", "kubernetes.audit", 2),
      ...minutes(30, (minute) => from("prod", "istio.access", minute)),
    ].sort((a, b) => Date.parse(a["@timestamp"]) - Date.parse(b["@timestamp"]));
    const detections = track(silenceRule(), docs);
    expect(detections).toHaveLength(1);
    expect(detections[0]).toMatchObject({
      windowStart: new Date(T0 + 2 * MINUTE).toISOString(),
      windowEnd: new Date(T0 + 17 * MINUTE).toISOString(),
      groupBy: { "orchestrator.cluster.name": "prod", "event.dataset": "kubernetes.audit" },
      count: 0,
    });
    expect(detections[0]?.events.map((doc) => doc.event.id)).toEqual(["kubernetes.audit-2"]);
  });

  it("reports each silence of a source that comes back and stops again, and nothing for a shorter pause", () => {
    const audit = [0, 20, 21, 30].map((minute) => from("prod", "kubernetes.audit", minute));
    const access = minutes(50, (minute) => from("prod", "istio.access", minute));
    const docs = [...audit, ...access].sort(
      (a, b) => Date.parse(a["@timestamp"]) - Date.parse(b["@timestamp"]),
    );
    expect(track(silenceRule(), docs).map((detection) => detection.windowStart)).toEqual([
      new Date(T0).toISOString(),
      new Date(T0 + 30 * MINUTE).toISOString(),
    ]);
  });

  it("names a source by the values it has: no cluster name is a source of its own, no value at all is none", () => {
    const docs = [
      from(undefined, "linkerd.access", 0),
      meshDoc({ "@timestamp": new Date(T0).toISOString(), event: { dataset: undefined } }),
      ...minutes(20, (minute) => from("prod", "istio.access", minute)),
    ];
    expect(track(silenceRule(), docs).map((detection) => detection.groupBy)).toEqual([
      { "event.dataset": "linkerd.access" },
    ]);
  });

  it("leaves out documents tagged with an excluded rule (the canary's)", () => {
    const canary = {
      ...from("mesh-audit-trail-canary", "istio.access", 0),
      rule: { name: ["pipeline_canary"] },
    };
    const docs = [canary, ...minutes(20, (minute) => from("prod", "istio.access", minute))];
    expect(track(silenceRule(), docs)).toEqual([]);
    expect(track(silenceRule({ excludeRules: [] }), docs).map((detection) => detection.groupBy)).toEqual([
      { "orchestrator.cluster.name": "mesh-audit-trail-canary", "event.dataset": "istio.access" },
    ]);
  });

  it("says nothing about sources at the end of an input shorter than the timespan", () => {
    expect(
      track(silenceRule({ expected: [{ "event.dataset": "kubernetes.audit" }] }), [from("a", "x", 0)]),
    ).toEqual([]);
  });

  it("reports an expected source never seen, over a day-aligned window, once the input spans the timespan", () => {
    const rule = silenceRule({
      expected: [
        { "orchestrator.cluster.name": "prod", "event.dataset": "kubernetes.audit" },
        { "event.dataset": "istio.access" },
      ],
    });
    const detections = track(
      rule,
      minutes(20, (minute) => from("prod", "istio.access", minute)),
    );
    expect(detections).toEqual([
      {
        rule,
        windowStart: "2026-03-02T00:00:00.000Z",
        windowEnd: "2026-03-02T00:15:00.000Z",
        groupBy: { "orchestrator.cluster.name": "prod", "event.dataset": "kubernetes.audit" },
        count: 0,
        events: [],
      },
    ]);
  });

  it("keeps the latest document by event time, then event.id, as the detector's query does", () => {
    const rule = silenceRule();
    const docs = [from("prod", "a", 0, "b"), from("prod", "a", 0, "c"), from("prod", "a", 0, "a")];
    const [detection] = track(rule, [...docs, from("prod", "z", 16)]);
    expect(detection?.events.map((doc) => doc.event.id)).toEqual(["c"]);
  });

  it("matches expected sources by the values they name", () => {
    expect(satisfies({ a: "1", b: "2" }, { a: "1" })).toBe(true);
    expect(satisfies({ b: "2" }, { a: "1" })).toBe(false);
    expect(silenceDetection(silenceRule(), { a: "1" }, undefined, T0 + 90 * MINUTE).windowStart).toBe(
      "2026-03-02T00:00:00.000Z",
    );
  });
});
