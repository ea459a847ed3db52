import { describe, expect, it } from "vitest";
import { type CompositePage, pageComposite } from "../../../../lambdas/core/detection/responses.js";

/** A composite of `total` numbered buckets served `pageSize` at a time, recording each `after` it is asked for. */
function numbered(total: number, pageSize: number) {
  const asked: (Record<string, unknown> | undefined)[] = [];
  const fetch = async (after: Record<string, unknown> | undefined): Promise<CompositePage<number>> => {
    asked.push(after);
    const from = after === undefined ? 0 : (after.next as number);
    const buckets = Array.from({ length: Math.max(0, Math.min(pageSize, total - from)) }, (_, i) => from + i);
    return buckets.length === 0 ? { buckets } : { buckets, after_key: { next: from + buckets.length } };
  };
  return { asked, fetch };
}

describe("pageComposite", () => {
  it("visits every bucket once, in order, asking each page after the previous page's key", async () => {
    const { asked, fetch } = numbered(7, 3);
    const seen: number[] = [];
    await pageComposite("test", 3, fetch, (buckets) => void seen.push(...buckets));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(asked).toEqual([undefined, { next: 3 }, { next: 6 }]);
  });

  it("stops after a full last page at the empty page OpenSearch answers with", async () => {
    const { asked, fetch } = numbered(6, 3);
    const seen: number[] = [];
    await pageComposite("test", 3, fetch, (buckets) => void seen.push(...buckets));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect(asked).toHaveLength(3);
  });

  it("visits nothing when there is nothing to page (no index matched)", async () => {
    let visits = 0;
    await pageComposite(
      "test",
      3,
      async () => undefined,
      () => void visits++,
    );
    expect(visits).toBe(0);
  });

  it("refuses a composite that would page forever, naming the query", async () => {
    const endless = async (): Promise<CompositePage<number>> => ({
      buckets: [1, 2],
      after_key: { again: true },
    });
    await expect(pageComposite("correlation some_rule", 2, endless, () => undefined, 5)).rejects.toThrow(
      "correlation some_rule: composite paging did not end",
    );
  });
});
