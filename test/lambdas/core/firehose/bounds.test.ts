/**
 * Bounds of the transform: a hostile or broken record fails alone, with a reason, and never makes a batch
 * (every producer's records in it) fail, nor the function run out of memory.
 */
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type FirehoseInputRecord, transformBatch } from "../../../../lambdas/core/firehose/transform.js";
import { normalizeRecord, type Pseudonymizer } from "../../../../lambdas/core/normalize/index.js";

const LINKERD = '10.9.0.1:4000 - - [2024-06-01T12:00:01Z] "GET /live HTTP/1.1" 200';

function record(recordId: string, payload: string | Buffer): FirehoseInputRecord {
  return {
    recordId,
    approximateArrivalTimestamp: 1_717_243_205_000,
    data: Buffer.from(payload).toString("base64"),
  };
}

function auditEvent(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    auditID: id,
    stage: "ResponseComplete",
    verb: "create",
    requestURI: "/api/v1/namespaces/shop/configmaps",
    objectRef: { resource: "configmaps", namespace: "shop" },
    responseStatus: { code: 201 },
    requestReceivedTimestamp: "2024-02-02T02:02:02Z",
    ...extra,
  };
}

/** `{"a":{"a":…}}` nested `depth` levels, as text (building it as an object would already need the stack). */
function nestedJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

describe("one deep record fails alone", () => {
  it("fails an audit event whose requestObject nests 5,000 levels, and keeps its neighbours", () => {
    // Prepare: JSON.parse takes it; JSON.stringify of the document would throw past V8's stack
    const deep = JSON.stringify(auditEvent("deep-1")).replace(
      '"verb":"create"',
      `"verb":"create","requestObject":${nestedJson(5_000)}`,
    );
    const records = [record("a", LINKERD), record("b", deep), record("c", LINKERD)];
    // Act
    const { response, stats } = transformBatch({ records });
    // Assess
    expect(response.records.map((r) => r.result)).toEqual(["Ok", "ProcessingFailed", "Ok"]);
    expect(response.records[1]?.data).toBe(records[1]?.data);
    expect(stats.failuresByReason).toEqual({ object_too_deep: 1 });
  });

  it("fails a deep record in every path a producer can reach: Fluent Bit, CloudWatch Logs, error output", () => {
    const deep = JSON.stringify(auditEvent("deep-2")).replace(
      '"verb":"create"',
      `"verb":"create","responseObject":${nestedJson(5_000)}`,
    );
    const payloads = [
      JSON.stringify({ log: deep, kubernetes: { pod_name: "p" } }),
      gzipSync(
        JSON.stringify({
          messageType: "DATA_MESSAGE",
          logEvents: [{ id: "1", timestamp: 1, message: deep }],
        }),
      ),
      JSON.stringify({ attemptsMade: 1, arrivalTimestamp: 0, rawData: Buffer.from(deep).toString("base64") }),
    ];
    const { response } = transformBatch({
      records: [...payloads.map((p, i) => record(`r${i}`, p)), record("ok", LINKERD)],
    });
    expect(response.records.map((r) => r.result)).toEqual([
      "ProcessingFailed",
      "ProcessingFailed",
      "ProcessingFailed",
      "Ok",
    ]);
  });

  it("answers a record ProcessingFailed, never throws, whatever goes wrong inside it (property)", () => {
    // Deep arrays and objects at every nesting level a producer might try, mixed with good records.
    const hostile = fc.oneof(
      fc
        .integer({ min: 1, max: 12_000 })
        .map((depth) =>
          JSON.stringify(auditEvent("h")).replace(
            '"verb":"create"',
            `"verb":"create","requestObject":${nestedJson(depth)}`,
          ),
        ),
      fc.integer({ min: 1, max: 12_000 }).map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`),
      fc.constant(LINKERD),
    );
    fc.assert(
      fc.property(fc.array(hostile, { minLength: 1, maxLength: 6 }), (payloads) => {
        const records = payloads.map((p, i) => record(`id-${i}`, p));
        const { response } = transformBatch({ records });
        expect(response.records.map((r) => r.recordId)).toEqual(records.map((r) => r.recordId));
        for (const [i, r] of response.records.entries()) {
          if (payloads[i] === LINKERD) expect(r.result).toBe("Ok");
          if (r.result === "ProcessingFailed") expect(r.data).toBe(records[i]?.data);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe("a record fails alone, always", () => {
  it("answers ProcessingFailed with the original data for a record whose processing throws, and keeps the rest", () => {
    // Prepare: a pseudonymizer with a bug that only audit events reach
    const pseudonymizer: Pseudonymizer = {
      fields: ["user.name"],
      token: (value) => value,
      apply: (doc) => {
        if (doc.event.dataset === "kubernetes.audit") throw new Error("bug");
        return [];
      },
    };
    const records = [
      record("a", LINKERD),
      record("b", JSON.stringify(auditEvent("t"))),
      record("c", LINKERD),
    ];
    // Act
    const { response, stats } = transformBatch({ records }, { pseudonymizer });
    // Assess
    expect(response.records.map((r) => r.result)).toEqual(["Ok", "ProcessingFailed", "Ok"]);
    expect(response.records[1]?.data).toBe(records[1]?.data);
    expect(stats.failuresByReason).toEqual({ internal_error: 1 });
  });
});

describe("amplification", () => {
  it("fails a gzip record that expands beyond the per-record limit, alone, with a reason code", () => {
    // Prepare: 620 KiB of gzip can hold ~600 MB of text; 40 MB of one repeated line is enough to show the bound
    const line = `${LINKERD}\n`;
    const bomb = gzipSync(Buffer.from(line.repeat(Math.ceil(40_000_000 / line.length))));
    // Act
    const { response, stats } = transformBatch({ records: [record("bomb", bomb), record("ok", LINKERD)] });
    // Assess
    expect(response.records.map((r) => r.result)).toEqual(["ProcessingFailed", "Ok"]);
    expect(stats.failuresByReason).toEqual({ decompressed_size_limit: 1 });
  });

  it("fails a record that would yield more documents than the per-record limit, before building them", () => {
    // Prepare: a CloudWatch Logs payload of 20,000 small audit events (~2.4 MB of text)
    const message = JSON.stringify(auditEvent("x"));
    const logEvents = Array.from({ length: 20_000 }, (_, i) => ({ id: String(i), timestamp: i, message }));
    const payload = gzipSync(JSON.stringify({ messageType: "DATA_MESSAGE", logEvents }));
    // Act
    const { response, stats, overflow } = transformBatch({
      records: [record("many", payload), record("ok", LINKERD)],
    });
    // Assess
    expect(response.records.map((r) => r.result)).toEqual(["ProcessingFailed", "Ok"]);
    expect(overflow).toEqual([]);
    expect(stats.failuresByReason).toEqual({ document_limit: 1 });
    expect(normalizeRecord(Array.from({ length: 10_001 }, () => LINKERD).join("\n"))).toMatchObject({
      ok: false,
      reason: "document limit: the record yields more than 10000 documents",
    });
  });

  it("fails the records past the batch's decompressed budget, each alone, and reads those before it", () => {
    // Prepare: five records of ~7 MiB of text each (each under the per-record limit, together over the batch's)
    const line = `${LINKERD}\n`;
    const big = gzipSync(Buffer.from(line.repeat(Math.floor((7 * 1024 * 1024) / line.length))));
    // Act: documents per record are limited too, so count failures only
    const { response, stats } = transformBatch({
      records: Array.from({ length: 5 }, (_, i) => record(`big-${i}`, big)),
    });
    // Assess
    expect(response.records).toHaveLength(5);
    expect(stats.failuresByReason.batch_decompressed_size_limit).toBeGreaterThanOrEqual(1);
  });

  it("counts the text nested in Firehose error output against the batch's budget", () => {
    // Prepare: five error-output records, each a few hundred bytes holding ~7 MiB of gzipped text
    const line = `${LINKERD}\n`;
    const big = gzipSync(Buffer.from(line.repeat(Math.floor((7 * 1024 * 1024) / line.length))));
    const wrapped = JSON.stringify({ attemptsMade: 1, arrivalTimestamp: 0, rawData: big.toString("base64") });
    // Act
    const { response, stats } = transformBatch({
      records: Array.from({ length: 5 }, (_, i) => record(`wrapped-${i}`, wrapped)),
    });
    // Assess: the first four are read (and fail on their document count), the fifth is past the budget
    expect(response.records.map((r) => r.result)).toEqual(Array(5).fill("ProcessingFailed"));
    expect(stats.failuresByReason).toEqual({ document_limit: 4, decompressed_size_limit: 1 });
  });
});
