import { describe, expect, it } from "vitest";
import { exactFieldsOf } from "../../../../lambdas/core/alerts/matched.js";
import { ALERTS_INDEX } from "../../../../lambdas/core/contracts.js";
import { countedAlertsPerRequest } from "../../../../lambdas/core/detection/queries.js";
import { runDetection } from "../../../../lambdas/core/detection/run.js";
import type { AlertDocument, StoredAlert } from "../../../../lambdas/core/detection/store.js";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import { extendDetection, planSuppression } from "../../../../lambdas/core/rules/suppression.js";
import type { Detection } from "../../../../lambdas/core/rules/types.js";
import { correlationRule, execEvent, meshRequest, singleDetection, singleRule } from "../alerts/factories.js";
import { FakeOpenSearch } from "./fake-opensearch.js";
import { EMPTY_SEARCH, packOf, RecordingPublisher, silentLogger } from "./scenario.js";

const at = (iso: string) => Date.parse(iso);
const PRINCIPAL = "spiffe://cluster.local/ns/web/sa/frontend";

const firing = (start: string, count = 3): Detection => ({
  rule: correlationRule(),
  windowStart: new Date(at(start)).toISOString(),
  windowEnd: new Date(at(start) + 60_000).toISOString(),
  groupBy: { "mesh.source.principal": PRINCIPAL },
  count,
  events: [],
});

const stored = (start: string, end: string): StoredAlert => ({
  id: "existing",
  seqNo: 7,
  primaryTerm: 1,
  document: {
    rule: { name: "mesh_auth_failure_burst" },
    group: { "mesh.source.principal": PRINCIPAL },
    window: { start, end },
  } as unknown as AlertDocument,
});

describe("planSuppression", () => {
  it("folds a burst's overlapping windows into one alert, as the in-memory evaluator does", () => {
    const plan = planSuppression([firing("2025-03-04T10:03:30Z"), firing("2025-03-04T10:03:00Z", 4)], []);
    expect(plan.fresh).toHaveLength(1);
    expect(plan.fresh[0]).toMatchObject({
      windowStart: "2025-03-04T10:03:00.000Z",
      windowEnd: "2025-03-04T10:04:30.000Z",
      count: 4,
    });
    expect(plan.suppressed).toBe(1);
  });

  it("opens a new alert after a quiet gap longer than the suppression", () => {
    const plan = planSuppression([firing("2025-03-04T10:03:00Z"), firing("2025-03-04T10:05:00Z")], []);
    expect(plan.fresh.map((detection) => detection.windowStart)).toEqual([
      "2025-03-04T10:03:00.000Z",
      "2025-03-04T10:05:00.000Z",
    ]);
  });

  it("folds later firings into an alert indexed by an earlier run instead of paging again", () => {
    const existing = stored("2025-03-04T10:03:00.000Z", "2025-03-04T10:04:30.000Z");
    const plan = planSuppression([firing("2025-03-04T10:04:00Z", 6)], [existing]);
    expect(plan.fresh).toEqual([]);
    expect(plan.extensions).toHaveLength(1);
    expect(plan.extensions[0]?.stored.id).toBe("existing");
  });

  it("covers a late firing just before an indexed alert (late records), but not one a gap earlier", () => {
    const existing = stored("2025-03-04T10:03:00.000Z", "2025-03-04T10:04:00.000Z");
    expect(planSuppression([firing("2025-03-04T10:02:30Z")], [existing]).fresh).toEqual([]);
    expect(planSuppression([firing("2025-03-04T10:01:30Z")], [existing]).fresh).toHaveLength(1);
  });

  it("never suppresses single events of a rule without suppression, but skips ones already alerted", () => {
    const rule = singleRule();
    const first = singleDetection(rule, execEvent());
    const second = singleDetection(
      rule,
      execEvent({ "@timestamp": "2025-03-04T10:15:50.000Z", event: { ...execEvent().event, id: "other" } }),
    );
    expect(planSuppression([first, second], []).fresh).toHaveLength(2);
  });

  describe("aligned to the UTC day (one alert per group per calendar day)", () => {
    const daily = singleRule({
      name: "daily_rule",
      suppression: { ms: 86_400_000, groupBy: [], aligned: true },
    });
    const indexedDay = (start: string, end: string): StoredAlert => ({
      id: "day-one",
      seqNo: 1,
      primaryTerm: 1,
      document: {
        rule: { name: "daily_rule" },
        group: {},
        window: { start, end },
      } as unknown as AlertDocument,
    });
    const at = (time: string) =>
      singleDetection(daily, execEvent({ "@timestamp": time, event: { ...execEvent().event, id: time } }));

    it("folds the same day's later firings into the day's indexed alert", () => {
      const existing = indexedDay("2025-03-04T00:10:00.000Z", "2025-03-04T20:00:00.000Z");
      const plan = planSuppression([at("2025-03-04T23:59:59.000Z")], [existing]);
      expect(plan.fresh).toEqual([]);
      expect(plan.extensions[0]?.stored.id).toBe("day-one");
    });

    it("opens the next day's alert a second after midnight, though within 24 hours of the last firing", () => {
      const existing = indexedDay("2025-03-04T00:10:00.000Z", "2025-03-04T23:59:59.000Z");
      const plan = planSuppression(
        [at("2025-03-05T00:00:00.000Z"), at("2025-03-05T09:00:00.000Z")],
        [existing],
      );
      expect(plan.extensions).toEqual([]);
      expect(plan.fresh).toHaveLength(1);
      expect(plan.fresh[0]).toMatchObject({
        windowStart: "2025-03-05T00:00:00.000Z",
        windowEnd: "2025-03-05T09:00:00.000Z",
        count: 2,
      });
    });
  });
});

describe("suppression across runs", () => {
  /** A burst that keeps going: each run's composite shows the hop slots (30 s) seen so far. */
  function burstResponder(slots: { start: string; count: number }[]) {
    return (body: Record<string, unknown>): unknown => {
      if (body.size !== 0) {
        const events = [
          meshRequest(PRINCIPAL, "2025-03-04T10:03:05.000Z"),
          meshRequest(PRINCIPAL, "2025-03-04T10:03:35.000Z"),
        ];
        return {
          ...EMPTY_SEARCH,
          hits: {
            total: { value: events.length, relation: "eq" },
            max_score: null,
            hits: events.map((event, i) => ({
              _index: "audit-2025-03-04",
              _id: `e${i}`,
              _score: null,
              _source: event,
            })),
          },
        };
      }
      const bucket = (start: string, count: number) => ({
        key: at(start),
        key_as_string: start,
        doc_count: count,
      });
      return {
        ...EMPTY_SEARCH,
        aggregations: {
          groups: {
            buckets: [
              {
                key: { g0: PRINCIPAL },
                doc_count: 9,
                slots: { buckets: slots.map((slot) => bucket(slot.start, slot.count)) },
              },
            ],
          },
        },
      };
    };
  }

  it("pages a sustained burst once and extends the indexed alert as it grows", async () => {
    // Prepare
    // The window of 10:03 holds 4 failures (the rule fires at 3), those before and after it 2 each.
    const slots = [
      { start: "2025-03-04T10:03:00.000Z", count: 2 },
      { start: "2025-03-04T10:03:30.000Z", count: 2 },
    ];
    const search = new FakeOpenSearch(ALERTS_INDEX, burstResponder(slots));
    const publisher = new RecordingPublisher();
    const deps = {
      search,
      publisher,
      logger: silentLogger,
      pack: packOf([correlationRule()]),
      alertContext: { environment: "prod" },
    };
    const runAt = (iso: string) =>
      runDetection(deps, { nowMs: at(iso), watermarkMs: at(iso) - 60_000, runId: iso, clock: () => at(iso) });
    await runAt("2025-03-04T10:04:00Z");
    // Act: the burst continues into the next windows (10:03:30 with 7 failures, 10:04 with 5).
    slots.push({ start: "2025-03-04T10:04:00.000Z", count: 5 });
    const requests = { ...search.requests };
    const gets = search.searches.length;
    const second = await runAt("2025-03-04T10:05:00Z");
    // Assess: read, given its events and rewritten in one request each (a search by id, an _msearch, a _bulk).
    expect(publisher.published).toHaveLength(1);
    expect(second.extended).toBe(1);
    expect(search.requests.bulk - requests.bulk).toBe(1);
    expect(search.requests.msearch - requests.msearch).toBe(1);
    expect(
      search.searches.slice(gets).filter((request) => JSON.stringify(request.body).includes('"ids"')),
    ).toHaveLength(1);
    const [doc] = [...search.documents.values()];
    expect(doc?.source).toMatchObject({
      window: { start: "2025-03-04T10:03:00.000Z", end: "2025-03-04T10:05:00.000Z" },
      count: 7,
      outbox: { status: "published" },
    });
    // Act: a third run sees nothing new and writes nothing.
    const writes = search.writes.length;
    const third = await runAt("2025-03-04T10:06:00Z");
    expect(third.extended).toBe(0);
    expect(search.writes.length).toBe(writes);
  });

  /** `count` users each exec into a pod once (as many alerts), then once more a minute later (as many grown alerts). */
  function grownAlerts(
    count: number,
    settings: { writeBatchSize?: number } = {},
    through: (search: FakeOpenSearch) => FakeOpenSearch = (search) => search,
  ) {
    const rule = singleRule({ suppression: { ms: 3_600_000, groupBy: ["user.name"] } });
    const users = Array.from({ length: count }, (_, i) => `user-${String(i).padStart(3, "0")}`);
    const indexed: EcsDocument[] = [];
    let arriving: EcsDocument[] = [];
    const arrive = (iso: string) => {
      arriving = users.map((name, i) =>
        execEvent({
          "@timestamp": iso,
          user: { name },
          event: { ...execEvent().event, id: `${iso}-${i}` },
        } as Partial<EcsDocument>),
      );
      indexed.push(...arriving);
    };
    const hits = (documents: readonly EcsDocument[]) =>
      documents.map((source, i) => ({
        _index: "audit-2025-03-04",
        _id: `d${i}`,
        _score: null,
        sort: [Date.parse(source["@timestamp"]), source.event?.id],
        _source: source,
      }));
    const search = new FakeOpenSearch(ALERTS_INDEX, (body) => {
      if (body.size !== 0) {
        return { ...EMPTY_SEARCH, hits: { hits: body.search_after === undefined ? hits(arriving) : [] } };
      }
      // An alert's own count query: the user's documents so far, exactly.
      const user = /"user\.name":"([^"]+)"/.exec(JSON.stringify(body.query))?.[1];
      const own = indexed.filter((document) => document.user?.name === user);
      return { ...EMPTY_SEARCH, hits: { total: { value: own.length, relation: "eq" }, hits: hits(own) } };
    });
    const deps = {
      search: through(search),
      publisher: new RecordingPublisher(),
      logger: silentLogger,
      pack: packOf([rule]),
      alertContext: { environment: "prod" },
    };
    const runAt = (iso: string) =>
      runDetection(deps, {
        nowMs: at(iso),
        watermarkMs: at(iso) - 60_000,
        runId: iso,
        clock: () => at(iso),
        ...settings,
      });
    arrive("2025-03-04T10:03:30.000Z");
    return { rule, search, runAt, grow: () => arrive("2025-03-04T10:04:30.000Z") };
  }

  it("counts the grown alerts of a rule together: one search for a batch, not one per alert", async () => {
    // Prepare
    const { rule, search, runAt, grow } = grownAlerts(40);
    await runAt("2025-03-04T10:04:00Z");
    grow();
    const before = search.searches.length;
    // Act
    const second = await runAt("2025-03-04T10:05:00Z");
    // Assess: every alert grew to its exact count, from one count search for the rule's 40 alerts.
    expect(second.extended).toBe(40);
    const counts = search.searches
      .slice(before)
      .filter((request) => request.index !== ALERTS_INDEX && request.body.size === 0);
    expect(counts).toHaveLength(Math.ceil(40 / countedAlertsPerRequest(exactFieldsOf(rule))));
    expect(counts).toHaveLength(1);
    const alerts = [...search.documents.values()].map(
      (doc) => doc.source as { count: number; group: Record<string, string> },
    );
    expect(alerts).toHaveLength(40);
    expect(alerts.every((alert) => alert.count === 2)).toBe(true);
  });

  it("rewrites two batches of grown alerts at once, each to its exact count", async () => {
    // Prepare: batches of 20; the first batch's read of its alerts answers late.
    const reads: string[] = [];
    const slowFirstRead = (inner: FakeOpenSearch) =>
      Object.assign(Object.create(inner) as FakeOpenSearch, {
        async search(request: { index: string; body: Record<string, unknown> }) {
          if (!JSON.stringify(request.body.query).includes('"ids"')) return inner.search(request);
          const batch = reads.filter((read) => read.startsWith("read")).length + 1;
          reads.push(`read ${batch}`);
          if (batch === 1) await new Promise((resolve) => setTimeout(resolve, 50));
          const answer = await inner.search(request);
          reads.push(`answered ${batch}`);
          return answer;
        },
      });
    const { search, runAt, grow } = grownAlerts(40, { writeBatchSize: 20 }, slowFirstRead);
    await runAt("2025-03-04T10:04:00Z");
    grow();
    // Act
    const second = await runAt("2025-03-04T10:05:00Z");
    // Assess: the second batch was read while the first waited; every alert grew to its exact count.
    expect(reads).toEqual(["read 1", "read 2", "answered 2", "answered 1"]);
    expect(second.extended).toBe(40);
    const counts = [...search.documents.values()].map((doc) => (doc.source as { count: number }).count);
    expect(counts).toEqual(Array.from({ length: 40 }, () => 2));
  });

  it("looks for the alerts of many groups two requests at once, and finds every one", async () => {
    // Prepare: 450 grown alerts, more groups than one recent-alerts request holds (200).
    let inFlight = 0;
    let mostInFlight = 0;
    const counted = (inner: FakeOpenSearch) =>
      Object.assign(Object.create(inner) as FakeOpenSearch, {
        async search(request: { index: string; body: Record<string, unknown> }) {
          if (!JSON.stringify(request.body.sort ?? []).includes("window.end")) return inner.search(request);
          mostInFlight = Math.max(mostInFlight, ++inFlight);
          await new Promise((resolve) => setTimeout(resolve, 5));
          try {
            return await inner.search(request);
          } finally {
            inFlight--;
          }
        },
      });
    const { search, runAt, grow } = grownAlerts(450, {}, counted);
    await runAt("2025-03-04T10:04:00Z");
    grow();
    // Act
    const second = await runAt("2025-03-04T10:05:00Z");
    // Assess: every firing folded into its alert (none written as new), from requests two at a time.
    expect(mostInFlight).toBe(2);
    expect(second.extended).toBe(450);
    expect(second.delivered.published).toBe(0);
    expect(search.documents.size).toBe(450);
  });
});

describe("extendDetection", () => {
  it("does not count again a single event the alert already holds", () => {
    // Prepare: an alert holding one exec event, re-evaluated on the next run's overlapping lookback
    const rule = singleRule({ suppression: { ms: 10 * 60_000, groupBy: [] } });
    const held = singleDetection(rule, execEvent());
    // Act
    const extended = extendDetection(held, [singleDetection(rule, execEvent())]);
    // Assess: nothing changes, so nothing is rewritten
    expect(extended).toBeUndefined();
  });

  it("adds a new single event to the alert that suppresses it", () => {
    // Prepare
    const rule = singleRule({ suppression: { ms: 10 * 60_000, groupBy: [] } });
    const held = singleDetection(rule, execEvent());
    const later = execEvent({
      "@timestamp": "2025-03-04T10:17:00.000Z",
      event: { ...execEvent().event, id: "second-exec" },
    });
    // Act
    const extended = extendDetection(held, [
      singleDetection(rule, execEvent()),
      singleDetection(rule, later),
    ]);
    // Assess
    expect(extended?.count).toBe(2);
    expect(extended?.events.map((event) => event.event.id)).toEqual([execEvent().event.id, "second-exec"]);
  });
});
