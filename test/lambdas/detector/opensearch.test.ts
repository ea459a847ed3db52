import { describe, expect, it } from "vitest";
import {
  type TransportClient,
  type TransportRequest,
  transportSearchClient,
} from "../../../lambdas/detector/opensearch.js";

/** A transport answering with recorded OpenSearch responses and recording requests. */
function transport(...responses: { statusCode: number; body: unknown }[]) {
  const requests: { params: TransportRequest; ignore: number[] | undefined }[] = [];
  const client: TransportClient = {
    transport: {
      async request(params, options) {
        requests.push({ params, ignore: options?.ignore });
        const next = responses.shift();
        if (next === undefined) throw new Error("no recorded response");
        return next;
      },
    },
  };
  return { client, requests };
}

describe("transportSearchClient", () => {
  it("creates with op_type=create and reports a 409 as a conflict", async () => {
    // Prepare
    const { client, requests } = transport(
      {
        statusCode: 201,
        body: {
          _index: "audit-alerts",
          _id: "a1",
          _version: 1,
          result: "created",
          _seq_no: 12,
          _primary_term: 1,
        },
      },
      {
        statusCode: 409,
        body: {
          error: {
            type: "version_conflict_engine_exception",
            reason: "[a1]: version conflict, document already exists",
          },
          status: 409,
        },
      },
    );
    const search = transportSearchClient(client);
    // Act
    const created = await search.write({
      index: "audit-alerts",
      id: "a1",
      document: { id: "a1" },
      create: true,
    });
    const again = await search.write({
      index: "audit-alerts",
      id: "a1",
      document: { id: "a1" },
      create: true,
    });
    // Assess
    expect(created).toEqual({ outcome: "written", seqNo: 12, primaryTerm: 1 });
    expect(again).toEqual({ outcome: "conflict" });
    expect(requests[0]).toEqual({
      params: {
        method: "PUT",
        path: "/audit-alerts/_doc/a1",
        querystring: { op_type: "create" },
        body: { id: "a1" },
      },
      ignore: [409],
    });
  });

  it("writes with if_seq_no and if_primary_term for compare-and-set", async () => {
    const { client, requests } = transport({
      statusCode: 200,
      body: { result: "updated", _seq_no: 13, _primary_term: 1 },
    });
    await transportSearchClient(client).write({
      index: "audit-alerts",
      id: "a1",
      document: {},
      ifSeqNo: 12,
      ifPrimaryTerm: 1,
    });
    expect(requests[0]?.params.querystring).toEqual({ if_seq_no: 12, if_primary_term: 1 });
  });

  it("refreshes an index with POST _refresh", async () => {
    const { client, requests } = transport({
      statusCode: 200,
      body: { _shards: { total: 1, successful: 1, failed: 0 } },
    });
    await transportSearchClient(client).refresh({ index: "audit-alerts" });
    expect(requests[0]?.params).toMatchObject({ method: "POST", path: "/audit-alerts/_refresh" });
  });

  it("gets a document with its sequence number, and undefined when it does not exist", async () => {
    const { client } = transport(
      {
        statusCode: 200,
        body: {
          _index: "audit-alerts",
          _id: "a1",
          found: true,
          _seq_no: 4,
          _primary_term: 2,
          _source: { id: "a1" },
        },
      },
      { statusCode: 404, body: { _index: "audit-alerts", _id: "a2", found: false } },
    );
    const search = transportSearchClient(client);
    expect(await search.get({ index: "audit-alerts", id: "a1" })).toEqual({
      id: "a1",
      source: { id: "a1" },
      seqNo: 4,
      primaryTerm: 2,
    });
    expect(await search.get({ index: "audit-alerts", id: "a2" })).toBeUndefined();
  });

  it("searches tolerating a missing alerts index and returns the body as is", async () => {
    const body = { took: 1, timed_out: false, hits: { hits: [] } };
    const { client, requests } = transport({ statusCode: 200, body });
    const result = await transportSearchClient(client).search({
      index: "audit-*,-audit-alerts",
      body: { size: 0 },
    });
    expect(result).toBe(body);
    expect(requests[0]?.params).toEqual({
      method: "POST",
      path: "/audit-*,-audit-alerts/_search",
      querystring: { ignore_unavailable: true, allow_no_indices: true },
      body: { size: 0 },
    });
  });

  it("rejects a write response without a sequence number", async () => {
    const { client } = transport({ statusCode: 201, body: { result: "created" } });
    await expect(
      transportSearchClient(client).write({ index: "audit-alerts", id: "a1", document: {} }),
    ).rejects.toThrowError("PUT audit-alerts/_doc/a1: response lacks _seq_no or _primary_term");
  });

  it("sends a batch of writes as one _bulk request and reads each item's result", async () => {
    // Prepare: a created alert, an existing one (409), a mark, and a write the node rejects alone.
    const { client, requests } = transport({
      statusCode: 200,
      body: {
        took: 3,
        errors: true,
        items: [
          { create: { _index: "audit-alerts", _id: "a1", status: 201, _seq_no: 4, _primary_term: 1 } },
          {
            create: {
              _index: "audit-alerts",
              _id: "a2",
              status: 409,
              error: { type: "version_conflict_engine_exception", reason: "[a2]: document already exists" },
            },
          },
          { index: { _index: "audit-alerts", _id: "a3", status: 200, _seq_no: 5, _primary_term: 1 } },
          {
            index: {
              _index: "audit-alerts",
              _id: "a4",
              status: 429,
              error: { type: "es_rejected_execution_exception", reason: "rejected execution" },
            },
          },
        ],
      },
    });
    // Act
    const results = await transportSearchClient(client).bulk({
      index: "audit-alerts",
      writes: [
        { id: "a1", document: { id: "a1" }, create: true },
        { id: "a2", document: { id: "a2" }, create: true },
        { id: "a3", document: { id: "a3" }, ifSeqNo: 2, ifPrimaryTerm: 1 },
        { id: "a4", document: { id: "a4" }, ifSeqNo: 3, ifPrimaryTerm: 1 },
      ],
    });
    // Assess
    expect(results).toEqual([
      { outcome: "written", seqNo: 4, primaryTerm: 1 },
      { outcome: "conflict" },
      { outcome: "written", seqNo: 5, primaryTerm: 1 },
      { outcome: "failed", error: "status 429: es_rejected_execution_exception: rejected execution" },
    ]);
    expect(requests[0]?.params).toEqual({
      method: "POST",
      path: "/audit-alerts/_bulk",
      bulkBody: [
        { create: { _id: "a1" } },
        { id: "a1" },
        { create: { _id: "a2" } },
        { id: "a2" },
        { index: { _id: "a3", if_seq_no: 2, if_primary_term: 1 } },
        { id: "a3" },
        { index: { _id: "a4", if_seq_no: 3, if_primary_term: 1 } },
        { id: "a4" },
      ],
    });
  });

  it("refuses a _bulk answer whose items do not match the writes sent", async () => {
    const { client } = transport({
      statusCode: 200,
      body: { took: 1, errors: false, items: [{ create: { _id: "other", status: 201 } }] },
    });
    await expect(
      transportSearchClient(client).bulk({
        index: "audit-alerts",
        writes: [{ id: "a1", document: {}, create: true }],
      }),
    ).rejects.toThrow("POST audit-alerts/_bulk: result 0 is not the write of a1");
  });

  it("sends searches as one _msearch on the index of the path, and a search's own error answers it alone", async () => {
    // Prepare
    const { client, requests } = transport({
      statusCode: 200,
      body: {
        took: 7,
        responses: [
          { took: 2, timed_out: false, hits: { hits: [] }, status: 200 },
          {
            error: { type: "search_phase_execution_exception", reason: "all shards failed" },
            status: 500,
          },
        ],
      },
    });
    // Act
    const answers = await transportSearchClient(client).msearch({
      index: "audit-*,-audit-alerts",
      bodies: [{ size: 0 }, { size: 1 }],
    });
    // Assess
    expect(answers).toEqual([
      { ok: true, body: { took: 2, timed_out: false, hits: { hits: [] }, status: 200 } },
      { ok: false, error: "status 500: search_phase_execution_exception: all shards failed" },
    ]);
    const header = { ignore_unavailable: true, allow_no_indices: true };
    expect(requests[0]?.params).toEqual({
      method: "POST",
      path: "/audit-*,-audit-alerts/_msearch",
      bulkBody: [header, { size: 0 }, header, { size: 1 }],
    });
  });
});
