import { describe, expect, it } from "vitest";
import { AlertStore, OUTBOX_MAPPING } from "../../../../lambdas/core/detection/store.js";
import { alertsProperties } from "../../../../lambdas/core/opensearch/alerts-template.js";
import { searchOnly } from "./fake-opensearch.js";

/** Answers every search with `response`. */
const recording = (response: unknown) => searchOnly(() => response);

const hitsOf = (hits: unknown[]) => ({
  took: 1,
  timed_out: false,
  _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
  hits: { total: { value: hits.length, relation: "eq" }, max_score: null, hits },
});

const alertSource = {
  id: "a1",
  rule: { name: "k8s_pod_exec" },
  window: { start: "2025-03-04T10:15:42.120Z", end: "2025-03-04T10:15:42.120Z" },
  group: {},
  outbox: {
    status: "pending",
    attempts: 1,
    createdAt: "2025-03-04T10:16:00.000Z",
    updatedAt: "2025-03-04T10:16:00.000Z",
  },
};

/** Every field path a query body filters or sorts on. */
function queriedFields(body: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(body)) for (const item of body) queriedFields(item, out);
  else if (body !== null && typeof body === "object") {
    for (const [key, value] of Object.entries(body)) {
      if (["term", "terms", "range"].includes(key))
        for (const field of Object.keys(value as object)) out.add(field);
      else if (key === "sort")
        for (const entry of value as object[]) for (const field of Object.keys(entry)) out.add(field);
      else queriedFields(value, out);
    }
  }
  return out;
}

describe("AlertStore", () => {
  it("looks for pending alerts and expired claims, oldest first, with sequence numbers", async () => {
    // Prepare
    const { client, bodies } = recording(
      hitsOf([
        {
          _index: "audit-alerts",
          _id: "a1",
          _score: null,
          _seq_no: 5,
          _primary_term: 1,
          _source: alertSource,
        },
      ]),
    );
    // Act
    const found = await new AlertStore(client, "audit-alerts").findRetryable(
      Date.parse("2025-03-04T10:20:00Z"),
      50,
    );
    // Assess
    expect(found).toEqual([{ id: "a1", document: alertSource, seqNo: 5, primaryTerm: 1 }]);
    expect(bodies[0]).toMatchObject({
      size: 50,
      seq_no_primary_term: true,
      query: {
        bool: {
          should: [
            { term: { "outbox.status": "pending" } },
            {
              bool: {
                filter: [
                  { term: { "outbox.status": "publishing" } },
                  { range: { "outbox.leaseUntil": { lt: "2025-03-04T10:20:00.000Z" } } },
                ],
              },
            },
          ],
          minimum_should_match: 1,
        },
      },
    });
  });

  it("rejects a hit that is not an alert document, naming it", async () => {
    const { client } = recording(
      hitsOf([{ _index: "audit-alerts", _id: "x", _seq_no: 1, _primary_term: 1, _source: { id: "x" } }]),
    );
    await expect(new AlertStore(client, "audit-alerts").findRecent(["r"], 0, 10)).rejects.toThrowError(
      "audit-alerts/x: not an alert document (needs id, rule.name, window.start/end, outbox.status)",
    );
  });

  it("queries and sorts only on fields the alerts index template maps (with the outbox mapping)", async () => {
    // Prepare
    const { client, bodies } = recording(hitsOf([]));
    const store = new AlertStore(client, "audit-alerts");
    await store.findRetryable(0, 10);
    await store.findRecent(["r"], 0, 10);
    const mapped = new Set<string>();
    const walk = (properties: Record<string, unknown>, prefix: string) => {
      for (const [name, mapping] of Object.entries(properties)) {
        const nested = (mapping as { properties?: Record<string, unknown> }).properties;
        if (nested === undefined) mapped.add(`${prefix}${name}`);
        else walk(nested, `${prefix}${name}.`);
      }
    };
    walk({ ...alertsProperties(), outbox: OUTBOX_MAPPING }, "");
    // Act
    const used = [...queriedFields(bodies)];
    // Assess
    expect(used.sort()).toEqual([
      "id",
      "outbox.createdAt",
      "outbox.leaseUntil",
      "outbox.status",
      "rule.name",
      "window.end",
    ]);
    for (const field of used) expect(mapped.has(field), field).toBe(true);
  });

  it("reads back only the alerts of the firings' groups when it is given them", async () => {
    // Prepare
    const { client, bodies } = recording(hitsOf([]));
    // Act
    await new AlertStore(client, "audit-alerts").findRecent(["burst", "exec"], 0, 10, [
      { rule: "burst", group: { "mesh.source.principal": "spiffe://a" } },
      { rule: "exec", group: {} },
    ]);
    // Assess: the group-by values are searchable under `group.<path>` (flat_object).
    const query = bodies[0]?.query as { bool: { filter: unknown[] } } | undefined;
    expect(query?.bool.filter[2]).toEqual({
      bool: {
        should: [
          {
            bool: {
              filter: [
                { term: { "rule.name": "burst" } },
                { term: { "group.mesh.source.principal": "spiffe://a" } },
              ],
            },
          },
          { bool: { filter: [{ term: { "rule.name": "exec" } }] } },
        ],
        minimum_should_match: 1,
      },
    });
  });
});
