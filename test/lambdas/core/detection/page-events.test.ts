import { describe, expect, it } from "vitest";
import type { SearchClient } from "../../../../lambdas/core/detection/ports.js";
import { pageEvents, searchEarliestEvents } from "../../../../lambdas/core/detection/responses.js";

/** A search of `total` numbered hits served in event order, recording each request body it is sent. */
function numberedHits(total: number, { sorted = true } = {}) {
  const bodies: Record<string, unknown>[] = [];
  const client = {
    async search({ body }: { readonly body: Record<string, unknown> }) {
      bodies.push(body);
      const from = (body.search_after as number[] | undefined)?.[0] ?? 0;
      const size = body.size as number;
      const hits = Array.from({ length: Math.max(0, Math.min(size, total - from)) }, (_, i) => ({
        _index: "audit-1",
        _id: String(from + i),
        _source: { n: from + i },
        ...(sorted ? { sort: [from + i + 1] } : {}),
      }));
      return { hits: { hits } };
    },
  } as unknown as SearchClient;
  return { bodies, client };
}

describe("pageEvents", () => {
  it("visits every hit once, in order, each page after the last hit's sort values, counting each search", async () => {
    // Prepare
    const { bodies, client } = numberedHits(5);
    const counter = { requests: 0 };
    const seen: unknown[] = [];

    // Act
    await pageEvents(
      client,
      { index: "audit-*", filter: [{ term: { a: 1 } }], pageSize: 2, purpose: "test" },
      counter,
      (hit) => void seen.push(hit._source.n),
    );

    // Assess
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(counter.requests).toBe(3);
    expect(bodies.map((body) => body.search_after)).toEqual([undefined, [2], [4]]);
    expect(bodies[0]).toMatchObject({
      size: 2,
      track_total_hits: false,
      query: { bool: { filter: [{ term: { a: 1 } }] } },
    });
  });

  it("fails naming the purpose when a full page's last hit has no sort values", async () => {
    const { client } = numberedHits(5, { sorted: false });
    await expect(
      pageEvents(
        client,
        { index: "audit-*", filter: [], pageSize: 2, purpose: "travel of r" },
        { requests: 0 },
        () => {},
      ),
    ).rejects.toThrow("travel of r: a hit without sort values");
  });
});

describe("searchEarliestEvents", () => {
  it("asks once for the earliest events in event order, with the exact total and exclusions only when asked", async () => {
    // Prepare
    const { bodies, client } = numberedHits(5);
    const counter = { requests: 0 };

    // Act
    const plain = await searchEarliestEvents(
      client,
      { index: "audit-*", filter: [{ term: { a: 1 } }], size: 3, purpose: "events of r" },
      counter,
    );
    await searchEarliestEvents(
      client,
      {
        index: "audit-*",
        filter: [],
        mustNot: [{ exists: { field: "c" } }],
        size: 2,
        exactTotal: true,
        purpose: "p",
      },
      counter,
    );

    // Assess
    expect(plain.hits.hits.map((hit) => hit._id)).toEqual(["0", "1", "2"]);
    expect(counter.requests).toBe(2);
    expect(bodies[0]).toEqual({
      size: 3,
      track_total_hits: false,
      sort: [{ "@timestamp": { order: "asc" } }, { "event.id": { order: "asc", missing: "_last" } }],
      query: { bool: { filter: [{ term: { a: 1 } }] } },
    });
    expect(bodies[1]).toMatchObject({
      size: 2,
      track_total_hits: true,
      query: { bool: { filter: [], must_not: [{ exists: { field: "c" } }] } },
    });
  });
});
