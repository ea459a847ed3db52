/**
 * The index stamp on a real OpenSearch node. The audit indices' final pipeline stamps when the node indexed each
 * document (`INDEXED_AT_FIELD`): searchable, left out of `_source`, and not something a writer can set. The
 * detector's incremental reads go by it: a record Firehose received long before it became searchable (a delivery
 * retried for longer than the ingest lag, records sent again from the error prefix) still raises its alert, which
 * reading by `event.ingested` alone misses, and what was searchable at the last run is not read again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INDEXED_AT_FIELD } from "../../lambdas/core/contracts.js";
import type { SearchClient } from "../../lambdas/core/detection/ports.js";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/load.js";
import type { RulePack } from "../../lambdas/core/rules/types.js";
import { testClient } from "./helpers.js";
import {
  dailyIndex,
  detectorRun,
  freshNodeWith,
  InMemoryWatermark,
  indexDocuments,
  indexedAlerts,
  RecordingLogger,
  RecordingPublisher,
  removeFromNode,
  transformedLines,
} from "./incident.js";

const ENVIRONMENT = "index-stamp-test";
const NOW_MS = Date.parse("2026-05-07T12:00:00.000Z");
const INGEST_LAG_MS = 180_000;

/** A Kubernetes audit event at `atMs`, received by Firehose at `receivedMs`, as the transform indexes it. */
function auditEvent(
  pack: RulePack,
  options: { id: string; user: string; pod: string; subresource?: string; atMs: number; receivedMs: number },
): EcsDocument {
  const at = new Date(options.atMs).toISOString();
  const exec = options.subresource === "exec";
  const line = JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    auditID: options.id,
    stage: "ResponseComplete",
    requestURI: `/api/v1/namespaces/shop/pods/${options.pod}${exec ? "/exec?command=sh&container=app" : ""}`,
    verb: exec ? "create" : "get",
    user: { username: options.user, groups: ["system:authenticated"] },
    sourceIPs: ["10.0.12.9"],
    objectRef: {
      resource: "pods",
      ...(exec ? { subresource: "exec" } : {}),
      namespace: "shop",
      name: options.pod,
      apiVersion: "v1",
    },
    responseStatus: { metadata: {}, code: exec ? 101 : 200 },
    requestReceivedTimestamp: at,
    stageTimestamp: at,
  });
  const [doc] = transformedLines([line], pack, options.id, new Date(options.receivedMs).toISOString());
  if (doc === undefined) throw new Error(`${options.id}: no document`);
  return doc;
}

/** The production search client, noting the `event.id` of every document a search (or `_msearch`) returns. */
function noting(search: SearchClient, seen: Set<string>): SearchClient {
  const note = (answer: unknown) => {
    for (const hit of (answer as { hits?: { hits?: { _source?: EcsDocument }[] } }).hits?.hits ?? []) {
      const id = hit._source?.event?.id;
      if (id !== undefined) seen.add(id);
    }
  };
  return {
    ...search,
    async search(request) {
      const body = await search.search(request);
      note(body);
      return body;
    },
    async msearch(request) {
      const answers = await search.msearch(request);
      for (const answer of answers) if (answer.ok) note(answer.body);
      return answers;
    },
  };
}

describe("the index stamp on a real OpenSearch node", () => {
  const client = testClient();
  let pack: RulePack;
  let indices: string[] = [];

  beforeAll(async () => {
    pack = await loadRulePack([defaultRulesDir()]);
    indices = await freshNodeWith(client, []);
  });

  afterAll(async () => {
    await removeFromNode(client, indices);
  });

  it("stamps every document when the node indexes it, overriding what the writer sent, out of _source", async () => {
    // Prepare: a writer that sends a stamp of its own
    const doc = auditEvent(pack, {
      id: "stamp-0000",
      user: "dave@example.com",
      pod: "web-0",
      atMs: NOW_MS,
      receivedMs: NOW_MS,
    });
    const index = dailyIndex(doc);
    indices.push(index);
    const before = Date.now();

    // Act
    await client.index({
      index,
      id: "forged",
      body: { ...doc, audit_trail: { indexed_at: "2001-01-01T00:00:00Z" } },
      refresh: true,
    });

    // Assess
    const stored = await client.get({ index, id: "forged" });
    expect(stored.body._source).not.toHaveProperty("audit_trail");
    expect(stored.body._source).toEqual(doc);
    const stampedSince = async (fromMs: number) =>
      (
        await client.count({
          index,
          body: {
            query: {
              bool: {
                filter: [
                  { ids: { values: ["forged"] } },
                  { range: { [INDEXED_AT_FIELD]: { gte: fromMs, format: "epoch_millis" } } },
                ],
              },
            },
          },
        })
      ).body.count;
    // The node's clock and this process's are the same machine's: the stamp is now, not the forged 2001.
    expect(await stampedSince(before - 60_000)).toBe(1);
    expect(await stampedSince(before + 60 * 60_000)).toBe(0);
    await client.delete({ index, id: "forged", refresh: true });
  });

  it("reads what became searchable since the last run, however long before Firehose received it", async () => {
    // Prepare: an exec searchable before the first run, then a document indexed after it
    const early = auditEvent(pack, {
      id: "stamp-0001",
      user: "bob@example.com",
      pod: "cart-0",
      subresource: "exec",
      atMs: NOW_MS - 5 * 60_000,
      receivedMs: NOW_MS - 5 * 60_000 + 5_000,
    });
    indices.push(...(await indexDocuments(client, [early])));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const other = auditEvent(pack, {
      id: "stamp-0002",
      user: "bob@example.com",
      pod: "cart-0",
      atMs: NOW_MS - 4 * 60_000,
      receivedMs: NOW_MS - 4 * 60_000 + 5_000,
    });
    indices.push(...(await indexDocuments(client, [other])));
    const watermark = new InMemoryWatermark(undefined);
    const run = (nowMs: number, wrapSearch?: (search: SearchClient) => SearchClient, state = watermark) =>
      detectorRun({
        client,
        pack,
        alertContext: { environment: ENVIRONMENT },
        publisher: new RecordingPublisher(),
        logger: new RecordingLogger(),
        watermark: state,
        nowMs,
        runId: `run-${nowMs}`,
        ingestLagMs: INGEST_LAG_MS,
        // Tests index within milliseconds of a run: no room for a bulk request's or refresh's delay is needed.
        indexLagMs: 0,
        ...(wrapSearch === undefined ? {} : { wrapSearch }),
      });
    const first = await run(NOW_MS);
    expect(first.complete).toBe(true);
    expect(first.indexedThroughMs).toBeGreaterThan(0);
    // Received by Firehose 19 minutes ago, searchable only now (sent again from the error prefix).
    const replayed = auditEvent(pack, {
      id: "stamp-0003",
      user: "carol@example.com",
      pod: "db-0",
      subresource: "exec",
      atMs: NOW_MS - 20 * 60_000,
      receivedMs: NOW_MS - 19 * 60_000,
    });
    indices.push(...(await indexDocuments(client, [replayed])));
    // A detector that has no index stamp to read from reads by event.ingested alone.
    const byIngestedOnly = new Set<string>();
    await run(NOW_MS + 60_000, (search) => noting(search, byIngestedOnly), new InMemoryWatermark(NOW_MS));

    // Act
    const read = new Set<string>();
    const second = await run(NOW_MS + 60_000, (search) => noting(search, read));

    // Assess
    const eventId = (auditId: string) => `${auditId}-ResponseComplete`;
    expect(second.failures).toEqual([]);
    expect(second.complete).toBe(true);
    expect(byIngestedOnly.has(eventId("stamp-0003"))).toBe(false);
    expect(read.has(eventId("stamp-0003"))).toBe(true);
    expect(read.has(eventId("stamp-0001"))).toBe(false);
    const execs = (await indexedAlerts(client))
      .map((hit) => hit.document)
      .filter((alert) => alert.rule.name === "k8s_pod_exec");
    expect(execs.map((alert) => alert.events.map((event) => event.event?.id)).sort()).toEqual([
      [eventId("stamp-0001")],
      [eventId("stamp-0003")],
    ]);
  });
});
