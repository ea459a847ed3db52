import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import {
  type FirehoseInputRecord,
  LAMBDA_RESPONSE_LIMIT_BYTES,
  settleOverflow,
  transformBatch,
} from "../../../../lambdas/core/firehose/transform.js";
import { createReingestSealer } from "../../../../lambdas/core/normalize/reingest.js";

const ISTIO =
  '[2024-05-02T08:00:01.250Z] "GET /items HTTP/1.1" 503 UH no_healthy_upstream - "-" 0 19 1 - "-" "curl/8" "rid-1" "items:80" "-" outbound|80||items.shop.svc.cluster.local - 10.96.0.20:80 10.1.9.9:51000 - default';
const LINKERD = '10.9.0.1:4000 - - [2024-06-01T12:00:01Z] "GET /live HTTP/1.1" 200';

function record(recordId: string, text: string | Buffer): FirehoseInputRecord {
  return {
    recordId,
    approximateArrivalTimestamp: 1_717_243_205_000,
    data: Buffer.from(text).toString("base64"),
  };
}
/** What the handler passes in overflow mode: the sealer of re-ingested documents. */
const reingest = createReingestSealer("test-reingest-key-".repeat(4));
/** A re-ingested document's JSON, its seal verified. */
function unseal(sealed: string | undefined): unknown {
  const opened = reingest.open(sealed ?? "");
  if (!opened.ok) throw new Error(opened.reason);
  return JSON.parse(opened.json);
}
function decodeData(data: string): string {
  return Buffer.from(data, "base64").toString("utf8");
}

/** Arbitrary record data: random bytes, random text, and a line the parsers read. */
const anyPayload = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.string().map((s) => Buffer.from(s)),
  fc.constant(Buffer.from(ISTIO)),
);

describe("transformBatch", () => {
  it("returns every record once, Ok with the ECS document, ProcessingFailed with the original data", () => {
    // Prepare
    const records = [record("a", ISTIO), record("b", "garbage"), record("c", LINKERD)];
    // Act
    const { response, stats } = transformBatch({ records });
    // Assess
    expect(response.records.map((r) => [r.recordId, r.result])).toEqual([
      ["a", "Ok"],
      ["b", "ProcessingFailed"],
      ["c", "Ok"],
    ]);
    expect(response.records[1]?.data).toBe(records[1]?.data);
    const doc = JSON.parse(decodeData(response.records[0]?.data ?? ""));
    expect(doc.event).toMatchObject({
      dataset: "istio.access",
      outcome: "failure",
      ingested: "2024-06-01T12:00:05.000Z",
    });
    expect(decodeData(response.records[2]?.data ?? "").endsWith("}\n")).toBe(true);
    expect(stats).toMatchObject({
      records: 3,
      ok: 2,
      failed: 1,
      documents: 2,
      recordsByDataset: { "istio.access": 1, "linkerd.access": 1 },
    });
    expect(stats.failuresByReason).toEqual({ unrecognized_log_line: 1 });
  });

  it("gunzips CloudWatch Logs payloads: DATA_MESSAGE events become documents, CONTROL_MESSAGE is Dropped", () => {
    const audit = JSON.stringify({
      kind: "Event",
      auditID: "x1",
      stage: "ResponseComplete",
      verb: "list",
      requestURI: "/api/v1/pods",
      requestReceivedTimestamp: "2024-01-01T00:00:00Z",
      responseStatus: { code: 200 },
    });
    const data = {
      messageType: "DATA_MESSAGE",
      logEvents: [
        { id: "1", timestamp: 1, message: audit },
        { id: "2", timestamp: 2, message: audit.replace("x1", "x2") },
      ],
    };
    const control = {
      messageType: "CONTROL_MESSAGE",
      logEvents: [
        { id: "", timestamp: 1, message: "CWL CONTROL MESSAGE: Checking health of destination Firehose." },
      ],
    };
    const { response } = transformBatch({
      records: [record("d", gzipSync(JSON.stringify(data))), record("c", gzipSync(JSON.stringify(control)))],
    });
    expect(response.records.map((r) => r.result)).toEqual(["Ok", "Dropped"]);
    const lines = decodeData(response.records[0]?.data ?? "")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((d) => d.event.id)).toEqual(["x1-ResponseComplete", "x2-ResponseComplete"]);
  });

  it("in overflow mode keeps the first document in the record and returns the rest for re-ingestion", () => {
    const { response, overflow, stats } = transformBatch(
      { records: [record("m", `${ISTIO}\n${LINKERD}\n\n`)] },
      { multiDocument: "overflow", reingest },
    );
    expect(response.records[0]?.result).toBe("Ok");
    expect(JSON.parse(decodeData(response.records[0]?.data ?? "")).event.dataset).toBe("istio.access");
    expect(overflow).toHaveLength(1);
    expect(overflow[0]?.recordId).toBe("m");
    expect((unseal(overflow[0]?.documents[0]) as EcsDocument).event.dataset).toBe("linkerd.access");
    expect(stats.documents).toBe(2);
  });

  it("fails a corrupt gzip record and an empty record without affecting neighbours", () => {
    const corrupt = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.from("broken")]);
    const { response, stats } = transformBatch({
      records: [record("x", corrupt), record("y", ""), record("z", LINKERD)],
    });
    expect(response.records.map((r) => r.result)).toEqual(["ProcessingFailed", "ProcessingFailed", "Ok"]);
    expect(stats.failuresByReason).toMatchObject({ gzip: 1, empty_record: 1 });
  });

  it("writes the tagger's rule ids to rule.name and survives a throwing tagger", () => {
    const tagged = transformBatch(
      { records: [record("t", ISTIO)] },
      { tagger: (d) => (d.event.outcome === "failure" ? ["upstream-unhealthy"] : []) },
    );
    expect(JSON.parse(decodeData(tagged.response.records[0]?.data ?? "")).rule).toEqual({
      name: ["upstream-unhealthy"],
    });
    const broken = transformBatch(
      { records: [record("t", ISTIO)] },
      {
        tagger: () => {
          throw new Error("bug");
        },
      },
    );
    expect(broken.response.records[0]?.result).toBe("Ok");
    expect(broken.stats.taggerErrors).toBe(1);
  });

  it("returns a record ProcessingFailed with its original data when its documents would cross the response limit", () => {
    const records = [record("1", LINKERD), record("2", LINKERD), record("3", LINKERD)];
    const full = transformBatch({ records });
    const okSize = JSON.stringify(full.response.records[0]).length + 1;
    const failedSize =
      JSON.stringify({ recordId: "2", result: "ProcessingFailed", data: records[1]?.data }).length + 1;
    // A budget that fits one transformed record plus the other two at their original size.
    const budget = 14 + okSize + 2 * failedSize;
    const { response, stats } = transformBatch({ records }, { maxResponseBytes: budget });
    expect(response.records.map((r) => r.result)).toEqual(["Ok", "ProcessingFailed", "ProcessingFailed"]);
    expect(response.records[1]?.data).toBe(records[1]?.data);
    expect(stats.oversize).toBe(2);
    expect(JSON.stringify(response).length).toBeLessThanOrEqual(budget);
  });

  it("once the response is full, returns the remaining records as they came without parsing them", () => {
    const records = [record("1", LINKERD), record("2", "not even a log line"), record("3", LINKERD)];
    const failedSize = (r: FirehoseInputRecord) =>
      JSON.stringify({ recordId: r.recordId, result: "ProcessingFailed", data: r.data }).length + 1;
    const budget = 14 + records.reduce((sum, r) => sum + failedSize(r), 0);
    const { response, stats } = transformBatch({ records }, { maxResponseBytes: budget });
    expect(response.records.map((r) => r.result)).toEqual([
      "ProcessingFailed",
      "ProcessingFailed",
      "ProcessingFailed",
    ]);
    expect(stats.oversize).toBe(3);
    expect(stats.failuresByReason).toEqual({ response_size_limit: 3 });
  });

  it("keeps a full 6 MB batch of growing documents under the Lambda response limit, every record accounted for", () => {
    const line = ISTIO;
    const perRecord = Buffer.from(line).toString("base64").length + 60;
    const count = Math.floor((LAMBDA_RESPONSE_LIMIT_BYTES - 1000) / perRecord);
    const records = Array.from({ length: count }, (_, i) => record(`r${i}`, line));
    const { response, stats } = transformBatch({ records });
    expect(Buffer.byteLength(JSON.stringify(response))).toBeLessThan(LAMBDA_RESPONSE_LIMIT_BYTES);
    expect(response.records).toHaveLength(count);
    expect(stats.oversize).toBeGreaterThan(0);
    expect(stats.ok + stats.failed).toBe(count);
  });

  it("in overflow mode, answers a record that does not fit Dropped and sends all its documents through the stream", () => {
    const records = [record("1", LINKERD), record("2", `${LINKERD}\n${ISTIO}`), record("3", LINKERD)];
    const full = transformBatch({ records }, { multiDocument: "overflow", reingest });
    const okSize = JSON.stringify(full.response.records[0]).length + 1;
    const fallbackSize = (r: FirehoseInputRecord) =>
      JSON.stringify({ recordId: r.recordId, result: "ProcessingFailed", data: r.data }).length + 1;
    // A budget that fits one transformed record plus the other two at their original size.
    const budget =
      14 +
      okSize +
      fallbackSize(records[1] as FirehoseInputRecord) +
      fallbackSize(records[2] as FirehoseInputRecord);
    const { response, stats, overflow } = transformBatch(
      { records },
      { multiDocument: "overflow", reingest, maxResponseBytes: budget },
    );
    expect(response.records.map((r) => r.result)).toEqual(["Ok", "Dropped", "Dropped"]);
    expect(overflow.map((o) => [o.recordId, o.documents.length])).toEqual([
      ["2", 2],
      ["3", 1],
    ]);
    const sent = overflow.flatMap((o) => o.documents.map((d) => (unseal(d) as EcsDocument).event.dataset));
    expect(sent).toEqual(["linkerd.access", "istio.access", "linkerd.access"]);
    expect(overflow.every((o) => o.documents.every((d) => d.endsWith("}\n")))).toBe(true);
    expect(stats).toMatchObject({ ok: 1, dropped: 0, failed: 0, oversize: 2, documents: 4 });
    // Should the documents not be sent, the handler answers them ProcessingFailed with their data: that fits too.
    for (const r of response.records) {
      if (r.result !== "Dropped") continue;
      r.result = "ProcessingFailed";
      r.data = records.find((x) => x.recordId === r.recordId)?.data ?? "";
    }
    expect(JSON.stringify(response).length).toBeLessThanOrEqual(budget);
  });

  it("in overflow mode, keeps a full 6 MB batch under the limit and every document either in it or in overflow", () => {
    const perRecord = Buffer.from(ISTIO).toString("base64").length + 60;
    const count = Math.floor((LAMBDA_RESPONSE_LIMIT_BYTES - 1000) / perRecord);
    const records = Array.from({ length: count }, (_, i) => record(`r${i}`, ISTIO));
    const { response, stats, overflow } = transformBatch(
      { records },
      { multiDocument: "overflow", reingest },
    );
    expect(Buffer.byteLength(JSON.stringify(response))).toBeLessThan(LAMBDA_RESPONSE_LIMIT_BYTES);
    const results = response.records.map((r) => r.result);
    expect(results.filter((r) => r === "Ok")).toHaveLength(stats.ok);
    expect(results.filter((r) => r === "Dropped")).toHaveLength(stats.oversize);
    expect(stats.ok + stats.oversize).toBe(count);
    expect(stats.oversize).toBeGreaterThan(0);
    expect(overflow).toHaveLength(stats.oversize);
    expect(stats.documents).toBe(count);
  });

  it("returns every recordId exactly once and never throws, for arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.array(anyPayload, { maxLength: 30 }), (payloads) => {
        const records = payloads.map((p, i) => record(`id-${i}`, Buffer.from(p)));
        const { response } = transformBatch({ records });
        expect(response.records.map((r) => r.recordId)).toEqual(records.map((r) => r.recordId));
        for (const [i, r] of response.records.entries()) {
          if (r.result === "ProcessingFailed") expect(r.data).toBe(records[i]?.data);
          expect(r.result).not.toBe("Dropped");
        }
      }),
      { numRuns: 200 },
    );
  });

  it("returns every recordId exactly once, whatever overflow could not be sent, failed ones with their original data", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            anyPayload,
            fc.integer({ min: 2, max: 4 }).map((n) => Buffer.from(Array(n).fill(LINKERD).join("\n"))),
          ),
          { maxLength: 30 },
        ),
        fc.infiniteStream(fc.boolean()),
        (payloads, sendFails) => {
          // Prepare
          const records = payloads.map((p, i) => record(`id-${i}`, Buffer.from(p)));
          const event = { records };
          const result = transformBatch(event, { multiDocument: "overflow", reingest });
          const failures = sendFails.take(result.overflow.length);
          const unsent = new Set(result.overflow.filter(() => failures.next().value).map((o) => o.recordId));
          // Act
          const { response, reingested, reingestFailed } = settleOverflow(event, result, unsent);
          // Assess
          expect(response.records.map((r) => r.recordId)).toEqual(records.map((r) => r.recordId));
          for (const [i, r] of response.records.entries()) {
            const before = result.response.records[i];
            if (unsent.has(r.recordId))
              expect(r).toEqual({ ...before, result: "ProcessingFailed", data: records[i]?.data });
            else expect(r).toEqual(before);
            if (r.result === "ProcessingFailed") expect(r.data).toBe(records[i]?.data);
          }
          expect(reingestFailed).toBe(unsent.size);
          expect(reingested).toBe(
            result.overflow.reduce((sum, o) => sum + (unsent.has(o.recordId) ? 0 : o.documents.length), 0),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("stays under any response budget it can meet, whatever the input sizes and whatever overflow could not be sent", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.constantFrom("ndjson" as const, "overflow" as const),
        fc.infiniteStream(fc.boolean()),
        (repeats, slack, multiDocument, sendFails) => {
          const records = repeats.map((n, i) =>
            record(`r${i}`, Array.from({ length: n + 1 }, () => LINKERD).join("\n")),
          );
          const minimal =
            14 +
            records.reduce(
              (sum, r) =>
                sum +
                JSON.stringify({ recordId: r.recordId, result: "ProcessingFailed", data: r.data }).length +
                1,
              0,
            );
          const budget = minimal + slack;
          const event = { records };
          const result = transformBatch(event, { maxResponseBytes: budget, multiDocument, reingest });
          const { response, overflow } = result;
          expect(JSON.stringify(response).length).toBeLessThanOrEqual(budget);
          expect(response.records).toHaveLength(records.length);
          // Every line is a document in the response or in overflow, or its record came back as it was.
          const lines = (i: number) => (repeats[i] as number) + 1;
          const kept = response.records.reduce(
            (sum, r) => sum + (r.result === "Ok" ? decodeData(r.data).trimEnd().split("\n").length : 0),
            0,
          );
          const sent = overflow.reduce((sum, o) => sum + o.documents.length, 0);
          const failedLines = response.records.reduce(
            (sum, r, i) => sum + (r.result === "ProcessingFailed" ? lines(i) : 0),
            0,
          );
          expect(kept + sent + failedLines).toBe(repeats.reduce((sum, _, i) => sum + lines(i), 0));
          // Any part of the overflow, up to all of it, may fail to send: those records go back with their data.
          const failures = sendFails.take(overflow.length);
          const unsent = new Set(overflow.filter(() => failures.next().value).map((o) => o.recordId));
          const settled = settleOverflow(event, result, unsent);
          expect(JSON.stringify(settled.response).length).toBeLessThanOrEqual(budget);
          const all = settleOverflow(event, result, new Set(overflow.map((o) => o.recordId)));
          expect(JSON.stringify(all.response).length).toBeLessThanOrEqual(budget);
        },
      ),
      { numRuns: 200 },
    );
  });
});
