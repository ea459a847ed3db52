import { describe, expect, it } from "vitest";
import {
  buildCanaryRecords,
  type CanaryRecordSender,
  canaryRunId,
  type RecordFailure,
  sendCanaryRecords,
} from "../../../../lambdas/core/canary/index.js";
import { FakeClock } from "./fake-pipeline.js";

const NOW = Date.parse("2026-03-02T14:00:00.000Z");
const records = buildCanaryRecords({ runId: canaryRunId(NOW, "3f9a1c"), nowMs: NOW });
const THROTTLED: RecordFailure = { errorCode: "ServiceUnavailableException", errorMessage: "Slow down." };

/** A sender answering each call with the next answer (per record: refused when the predicate says so). */
function scriptedSender(
  ...answers: ((index: number) => boolean)[]
): CanaryRecordSender & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async putRecordBatch(batch) {
      calls.push([...batch]);
      const refuse = answers[calls.length - 1] ?? (() => false);
      return batch.map((_, index) => (refuse(index) ? THROTTLED : undefined));
    },
  };
}

describe("sendCanaryRecords", () => {
  it("sends every record in one batch and stamps them with the time Firehose accepted them", async () => {
    const clock = new FakeClock(NOW);
    const sender = scriptedSender();

    const outcomes = await sendCanaryRecords(sender, records, clock);

    expect(sender.calls).toEqual([records.map((record) => record.data)]);
    expect(
      outcomes.every((outcome) => outcome.sent && outcome.sentAtMs === NOW && outcome.attempts === 1),
    ).toBe(true);
    expect(clock.sleeps).toEqual([]);
  });

  it("resends only the refused records, waiting twice as long before each retry", async () => {
    const clock = new FakeClock(NOW);
    const sender = scriptedSender(
      (index) => index === 0 || index === 4,
      (index) => index === 1,
    );

    const outcomes = await sendCanaryRecords(sender, records, clock, { backoffMs: 200 });

    expect(sender.calls.map((call) => call.length)).toEqual([5, 2, 1]);
    expect(sender.calls[1]).toEqual([records[0]?.data, records[4]?.data]);
    expect(sender.calls[2]).toEqual([records[4]?.data]);
    expect(clock.sleeps).toEqual([200, 400]);
    expect(outcomes.map((outcome) => [outcome.source, outcome.sent, outcome.attempts])).toEqual([
      ["istio", true, 2],
      ["linkerd", true, 1],
      ["hubble", true, 1],
      ["consul", true, 1],
      ["k8s-audit", true, 3],
    ]);
  });

  it("gives up on a record after the last attempt and says why", async () => {
    const clock = new FakeClock(NOW);
    const sender = scriptedSender(
      (index) => index === 2,
      () => true,
    );

    const outcomes = await sendCanaryRecords(sender, records, clock, { attempts: 2 });

    expect(sender.calls).toHaveLength(2);
    expect(outcomes[2]).toEqual({
      source: "hubble",
      sent: false,
      attempts: 2,
      error: "ServiceUnavailableException: Slow down.",
    });
    expect(outcomes.filter((outcome) => outcome.sent)).toHaveLength(4);
  });

  it("does not retry a call that failed as a whole, and marks every record with its error", async () => {
    const clock = new FakeClock(NOW);
    let calls = 0;
    const sender: CanaryRecordSender = {
      async putRecordBatch() {
        calls++;
        throw Object.assign(new Error("User is not authorized to perform: firehose:PutRecordBatch"), {
          name: "AccessDeniedException",
        });
      },
    };

    const outcomes = await sendCanaryRecords(sender, records, clock);

    expect(calls).toBe(1);
    expect(outcomes.map((outcome) => (outcome.sent ? "sent" : outcome.error))).toEqual(
      records.map(() => "AccessDeniedException: User is not authorized to perform: firehose:PutRecordBatch"),
    );
  });

  it("counts a record Firehose gave no answer for as refused", async () => {
    const clock = new FakeClock(NOW);
    const sender: CanaryRecordSender = {
      putRecordBatch: async (batch) => batch.slice(0, 3).map(() => undefined),
    };

    const outcomes = await sendCanaryRecords(sender, records, clock, { attempts: 1 });

    expect(outcomes.map((outcome) => outcome.sent)).toEqual([true, true, true, false, false]);
    expect(outcomes[3]).toMatchObject({ error: expect.stringMatching(/^NoResponse: /) });
  });
});
