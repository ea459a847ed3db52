import { describe, expect, it } from "vitest";
import { ALERTS_INDEX, INDEXED_AT_FIELD } from "../../../../lambdas/core/contracts.js";
import { runDetection } from "../../../../lambdas/core/detection/run.js";
import type { CompiledRule } from "../../../../lambdas/core/rules/types.js";
import { correlationRule, publicAccessRule, silenceRule, singleRule } from "../alerts/factories.js";
import { FakeOpenSearch } from "./fake-opensearch.js";
import {
  EMPTY_SEARCH,
  fixture,
  isNewestStampSearch,
  NOW,
  packOf,
  RecordingPublisher,
  recordedAudit,
  recordedAuditStamped,
  silentLogger,
} from "./scenario.js";

const deps = (
  search: FakeOpenSearch,
  publisher: RecordingPublisher,
  rules: readonly CompiledRule[] = [singleRule()],
) => ({
  search,
  publisher,
  logger: silentLogger,
  pack: packOf(rules),
  alertContext: { environment: "prod" },
});

describe("runDetection", () => {
  it("pages through every single-event match, never stopping at a page", async () => {
    // Prepare: 2,500 matches of one rule, 1,000 per page, each page after the last one's sort values.
    const recorded = fixture("pod-exec.hits.json") as { hits: { hits: Record<string, unknown>[] } };
    const template = recorded.hits.hits[0] as { _source: { event: Record<string, unknown> } };
    const matches = Array.from({ length: 2500 }, (_, i) => ({
      ...template,
      _id: `doc-${i}`,
      sort: [NOW - 600_000 + i, `id-${String(i).padStart(5, "0")}`],
      _source: {
        ...template._source,
        "@timestamp": new Date(NOW - 600_000 + i).toISOString(),
        event: { ...template._source.event, id: `id-${String(i).padStart(5, "0")}` },
      },
    }));
    const search = new FakeOpenSearch(ALERTS_INDEX, (body) => {
      if (body.size === 0)
        return { ...EMPTY_SEARCH, hits: { total: { value: 2500, relation: "eq" }, hits: [] } };
      const after = body.search_after as [number, string] | undefined;
      const from = after === undefined ? 0 : matches.findIndex((hit) => hit.sort[1] === after[1]) + 1;
      return { ...EMPTY_SEARCH, hits: { hits: matches.slice(from, from + (body.size as number)) } };
    });
    // Act
    const report = await runDetection(
      deps(search, new RecordingPublisher(), [singleRule({ suppression: { ms: 3_600_000, groupBy: [] } })]),
      { nowMs: NOW, watermarkMs: NOW - 60_000, runId: "r" },
    );
    // Assess
    const pages = search.searches.filter((s) => s.index !== ALERTS_INDEX && s.body.size === 1000);
    expect(pages.map((page) => page.body.search_after)).toEqual([
      undefined,
      [NOW - 600_000 + 999, "id-00999"],
      [NOW - 600_000 + 1999, "id-01999"],
    ]);
    expect(report).toMatchObject({ firings: 2500, complete: true, partialRules: [] });
    const alert = [...search.documents.values()][0]?.source as { count: number };
    expect(alert.count).toBe(2500);
  });

  it("summarizes a new alert from the documents it fetched when the index holds no other of its group and span", async () => {
    // Prepare: three matches of one group; the index holds `held` documents of the alert's group and span.
    const recorded = fixture("pod-exec.hits.json") as { hits: { hits: Record<string, unknown>[] } };
    const template = recorded.hits.hits[0] as { _source: { event: Record<string, unknown> } };
    const documents = ["alice", "bob", "carol", "dave"].map((user, i) => ({
      ...template,
      _id: `doc-${i}`,
      sort: [NOW - 600_000 + i, `id-${i}`],
      _source: {
        ...template._source,
        "@timestamp": new Date(NOW - 600_000 + i).toISOString(),
        event: { ...template._source.event, id: `id-${i}` },
        user: { name: user },
      },
    }));
    const fetched = documents.slice(0, 3);
    const runWith = async (held: number) => {
      const search = new FakeOpenSearch(ALERTS_INDEX, (body) => {
        // Counts and summaries (size 0) see what the index holds; the run's pages fetch the first three.
        if (body.size === 0) {
          const hits = documents.slice(0, held);
          return { ...EMPTY_SEARCH, hits: { total: { value: hits.length, relation: "eq" }, hits } };
        }
        return { ...EMPTY_SEARCH, hits: { hits: body.search_after === undefined ? fetched : [] } };
      });
      const rule = singleRule({ suppression: { ms: 3_600_000, groupBy: [] }, fields: ["user.name"] });
      await runDetection(deps(search, new RecordingPublisher(), [rule]), {
        nowMs: NOW,
        watermarkMs: NOW - 60_000,
        runId: "r",
      });
      const summaries = search.searches.filter(
        (request) =>
          request.index !== ALERTS_INDEX && JSON.stringify(request.body.aggs ?? {}).includes("values_"),
      );
      const alert = [...search.documents.values()][0]?.source as { count: number };
      return { summaries: summaries.length, alert };
    };
    // Act: the index holds exactly the three fetched; then one more that arrived before what the run read.
    const fetchedAll = await runWith(3);
    const oneMore = await runWith(4);
    // Assess: no summary search when the counts agree, and the values come from the fetched documents.
    expect(fetchedAll.summaries).toBe(0);
    expect(fetchedAll.alert.count).toBe(3);
    expect(JSON.stringify(fetchedAll.alert)).toContain('"carol"');
    // The index's count differs: the alert is summarized from the index, with its count and values.
    expect(oneMore.summaries).toBeGreaterThan(0);
    expect(oneMore.alert.count).toBe(4);
    expect(JSON.stringify(oneMore.alert)).toContain('"dave"');
  });

  it("stops at the run's event budget and resumes the rule from the last document it read", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    const report = await runDetection(deps(search, new RecordingPublisher()), {
      nowMs: NOW,
      watermarkMs: NOW - 60_000,
      runId: "r",
      maxEventsPerRun: 1,
      singleEventPageSize: 1,
    });
    expect(report.partialRules).toEqual(["k8s_pod_exec"]);
    expect(report.resumeFromMs).toEqual({ k8s_pod_exec: Date.parse("2025-03-04T10:15:42.120Z") });
    expect(report.complete).toBe(false);
    expect(report.delivered.published).toBe(1);
  });

  it("never reads the alerts index as events (audit-* would match audit-alerts)", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    await runDetection(deps(search, new RecordingPublisher()), {
      nowMs: NOW,
      watermarkMs: NOW - 60_000,
      runId: "r",
    });
    const eventIndices = new Set(search.searches.filter((s) => s.index !== ALERTS_INDEX).map((s) => s.index));
    expect([...eventIndices]).toEqual(["audit-*,-audit-alerts"]);
  });

  it("indexes informational single-event alerts without paging them", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    const publisher = new RecordingPublisher();
    const report = await runDetection(deps(search, publisher, [singleRule({ level: "informational" })]), {
      nowMs: NOW,
      watermarkMs: undefined,
      runId: "r",
    });
    expect(report.delivered.not_paged).toBe(1);
    expect(publisher.published).toHaveLength(0);
    expect(Object.values(search.statuses())).toEqual(["not_paged"]);
  });

  it("publishes alerts of rules with topic ops to the ops topic, the others to their severity's", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    const publisher = new RecordingPublisher();
    const report = await runDetection(
      deps(search, publisher, [singleRule({ level: "low", topic: "ops" }), correlationRule()]),
      { nowMs: NOW, watermarkMs: undefined, runId: "r" },
    );
    expect(report.delivered.published).toBe(2);
    expect(publisher.published.map(({ topic, message }) => [message.attributes.rule, topic]).sort()).toEqual([
      ["k8s_pod_exec", "ops"],
      ["mesh_auth_failure_burst", "medium"],
    ]);
  });

  it("makes the alerts it wrote searchable before it ends, so the next run folds into them", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    await runDetection(deps(search, new RecordingPublisher()), {
      nowMs: NOW,
      watermarkMs: undefined,
      runId: "r",
    });
    expect(search.refreshes).toBe(1);
    const quiet = new FakeOpenSearch(ALERTS_INDEX, () => EMPTY_SEARCH);
    await runDetection(deps(quiet, new RecordingPublisher()), {
      nowMs: NOW,
      watermarkMs: undefined,
      runId: "r",
    });
    expect(quiet.refreshes).toBe(0);
  });

  it("skips rules that do not generate alerts (correlation building blocks)", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    const report = await runDetection(
      deps(search, new RecordingPublisher(), [singleRule({ generatesAlerts: false })]),
      {
        nowMs: NOW,
        watermarkMs: NOW - 60_000,
        runId: "r",
      },
    );
    expect(report.firings).toBe(0);
    expect(search.searches.filter((request) => request.index !== ALERTS_INDEX)).toHaveLength(0);
  });

  it("evaluates two correlation rules at once, and reports them in the pack's order whichever answers first", async () => {
    // Prepare: the first rule's searches answer late and fail, the second's at once.
    const first = correlationRule();
    const second = publicAccessRule();
    const inner = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    inner.failSearch = (index) => index !== ALERTS_INDEX;
    const ofRule = (body: Record<string, unknown>) =>
      [first, second].find((rule) => JSON.stringify(body).includes(`"${rule.rules.at(-1)}"`))?.name;
    const started: string[] = [];
    const answered: string[] = [];
    const search = Object.assign(Object.create(inner) as FakeOpenSearch, {
      async search(request: { index: string; body: Record<string, unknown> }) {
        const rule = ofRule(request.body);
        if (rule !== undefined) started.push(rule);
        try {
          if (rule === first.name) await new Promise((resolve) => setTimeout(resolve, 50));
          return await inner.search(request);
        } finally {
          if (rule !== undefined) answered.push(rule);
        }
      },
    });
    // Act
    const report = await runDetection(deps(search, new RecordingPublisher(), [first, second]), {
      nowMs: NOW,
      watermarkMs: undefined,
      runId: "r",
    });
    // Assess: the second rule was asked before the first answered, answered first, and is reported second.
    expect(started.slice(0, 2)).toEqual([first.name, second.name]);
    expect(answered[0]).toBe(second.name);
    expect(report.failedRules).toEqual([first.name, second.name]);
  });

  it("warns when the watermark is older than the catch-up limit and starts at the limit", async () => {
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    silentLogger.warnings.length = 0;
    const report = await runDetection(deps(search, new RecordingPublisher()), {
      nowMs: NOW,
      watermarkMs: NOW - 3 * 24 * 3600_000,
      runId: "r",
    });
    expect(report.range.catchUpTruncated).toBe(true);
    expect(report.range.fromMs).toBe(NOW - 24 * 3600_000);
    expect(silentLogger.warnings).toContain(
      "rule was behind by more than the catch-up limit; a range was not evaluated",
    );
    expect(report.skipped).toEqual([
      { rule: "k8s_pod_exec", fromMs: NOW - 3 * 24 * 3600_000 - 15 * 60_000, toMs: NOW - 24 * 3600_000 },
    ]);
  });
});

describe("incremental evaluation by the index stamp", () => {
  const LAST_STAMP = NOW - 50_000;
  const stamped = (newest: number | null) => new FakeOpenSearch(ALERTS_INDEX, recordedAuditStamped(newest));
  const incremental = { nowMs: NOW, watermarkMs: NOW - 60_000, runId: "r", ingestLagMs: 180_000 };
  const singleEventSearch = (search: FakeOpenSearch) =>
    search.searches.find((request) => request.index !== ALERTS_INDEX && request.body.size === 1000);

  it("reads what was stamped since the last run's newest stamp less the index lag, and reports the newest now", async () => {
    // Prepare
    const search = stamped(NOW - 2_000);

    // Act
    const report = await runDetection(deps(search, new RecordingPublisher()), {
      ...incremental,
      indexedWatermarkMs: LAST_STAMP,
    });

    // Assess
    expect(report.complete).toBe(true);
    expect(report.indexedThroughMs).toBe(NOW - 2_000);
    const newest = search.searches.find((request) => isNewestStampSearch(request.body));
    expect(newest?.body.query).toEqual({
      range: { [INDEXED_AT_FIELD]: { gte: LAST_STAMP - 60_000, format: "epoch_millis" } },
    });
    const query = JSON.stringify(singleEventSearch(search)?.body.query);
    expect(query).toContain(`{"range":{"${INDEXED_AT_FIELD}":{"gte":${LAST_STAMP - 60_000}`);
    // Documents indexed before the pipeline existed are still read by when Firehose received them.
    expect(query).toContain(`{"range":{"event.ingested":{"gte":${NOW - 60_000 - 180_000}`);
  });

  it("reads everything by event.ingested until a run has found a stamp, and reports the first one", async () => {
    // Prepare
    const search = stamped(NOW - 2_000);

    // Act
    const report = await runDetection(deps(search, new RecordingPublisher()), incremental);

    // Assess
    expect(report.indexedThroughMs).toBe(NOW - 2_000);
    expect(search.searches.find((request) => request.body.aggs !== undefined)?.body).not.toHaveProperty(
      "query",
    );
    expect(JSON.stringify(singleEventSearch(search)?.body.query)).not.toContain(INDEXED_AT_FIELD);
  });

  it("keeps the last mark when nothing newer is searchable, or the newest stamp cannot be read", async () => {
    // Prepare
    const nothingNewer = stamped(null);
    const failing = stamped(NOW - 2_000);
    failing.failSearch = (_index, body) => isNewestStampSearch(body);
    const options = { ...incremental, indexedWatermarkMs: LAST_STAMP };

    // Act
    const quiet = await runDetection(deps(nothingNewer, new RecordingPublisher()), options);
    const unreadable = await runDetection(deps(failing, new RecordingPublisher()), options);

    // Assess
    expect(quiet.indexedThroughMs).toBe(LAST_STAMP);
    expect(unreadable.indexedThroughMs).toBe(LAST_STAMP);
    // The rules still read from the last mark.
    expect(unreadable.complete).toBe(true);
    expect(JSON.stringify(singleEventSearch(failing)?.body.query)).toContain(
      `{"range":{"${INDEXED_AT_FIELD}":{"gte":${LAST_STAMP - 60_000}`,
    );
  });

  it("does not look for stamps when every run evaluates its whole lookback", async () => {
    // Prepare
    const search = stamped(NOW - 2_000);

    // Act
    const report = await runDetection(deps(search, new RecordingPublisher()), {
      nowMs: NOW,
      watermarkMs: NOW - 60_000,
      runId: "r",
      indexedWatermarkMs: LAST_STAMP,
    });

    // Assess
    expect(report.indexedThroughMs).toBeUndefined();
    expect(JSON.stringify(search.searches.map((request) => request.body))).not.toContain(INDEXED_AT_FIELD);
  });
});

describe("silence rules that fail", () => {
  const CLUSTER = "prod-eu-1";
  /** Sending until 09:40, silent until 10:20 (the detector failing meanwhile), sending again from 10:20. */
  const STOPPED = Date.parse("2026-03-02T09:40:00.000Z");
  const RESUMED = Date.parse("2026-03-02T10:20:00.000Z");
  const FAILED_AT = Date.parse("2026-03-02T09:50:00.000Z");
  const RECOVERED_AT = Date.parse("2026-03-02T10:21:00.000Z");
  const lastBefore = (t: number) => (t >= RESUMED ? Math.min(t, RESUMED + 30_000) : STOPPED);
  const doc = (ms: number) => ({
    "@timestamp": new Date(ms).toISOString(),
    event: { kind: "event", dataset: "kubernetes.audit" },
    orchestrator: { cluster: { name: CLUSTER } },
  });
  /** Answers a silence rule's queries as of the time they name (`lte`). */
  function node(failUntil: number) {
    return new FakeOpenSearch(ALERTS_INDEX, (body) => {
      const text = JSON.stringify(body);
      const asOf = Number(/"lte":(\d+)/.exec(text)?.[1]);
      if (asOf < failUntil) throw new Error("search_phase_execution_exception");
      const last = lastBefore(asOf);
      if (body.aggs !== undefined) {
        return {
          ...EMPTY_SEARCH,
          aggregations: {
            sources: {
              buckets: [
                { key: { g0: CLUSTER, g1: "kubernetes.audit" }, doc_count: 5, last: { value: last } },
              ],
            },
          },
        };
      }
      return {
        ...EMPTY_SEARCH,
        hits: { hits: [{ _index: "audit-2026-03-02", _id: "d", _source: doc(last) }] },
      };
    });
  }

  it("resumes from the time it failed, so a source silent only while it failed is still alerted", async () => {
    // Prepare: the first run fails (OpenSearch refuses the silence query); the source goes silent and comes back
    // before the rule works again.
    const rules = [silenceRule()];
    const failing = node(RECOVERED_AT);
    const first = await runDetection(deps(failing, new RecordingPublisher(), rules), {
      nowMs: FAILED_AT,
      watermarkMs: FAILED_AT - 60_000,
      runId: "r1",
    });
    const publisher = new RecordingPublisher();

    // Act
    const second = await runDetection(deps(node(0), publisher, rules), {
      nowMs: RECOVERED_AT,
      watermarkMs: FAILED_AT,
      resumeFromMs: first.resumeFromMs,
      runId: "r2",
    });

    // Assess
    expect(first.failedRules).toEqual(["pipeline_source_silent"]);
    expect(first.resumeFromMs).toEqual({ pipeline_source_silent: FAILED_AT });
    expect(second).toMatchObject({ complete: true, failedRules: [], resumeFromMs: {} });
    expect(publisher.rules()).toEqual(["pipeline_source_silent"]);
    const alert = JSON.parse(JSON.parse(publisher.published[0]?.message.message ?? "{}").https) as {
      window: { start: string; end: string };
    };
    expect(alert.window).toEqual({
      start: new Date(STOPPED).toISOString(),
      end: new Date(STOPPED + 15 * 60_000).toISOString(),
    });
  });
});
