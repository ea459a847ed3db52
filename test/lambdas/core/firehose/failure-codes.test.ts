/**
 * Failure codes: each record that cannot be read is counted under the code its parser or envelope gives it, never
 * under one read back from the wording of its message, and the code names the `Failures.<code>` metric.
 */
import { describe, expect, it } from "vitest";
import { transformFailureMetric } from "../../../../lambdas/core/contracts.js";
import { transformBatch } from "../../../../lambdas/core/firehose/transform.js";
import { normalizeRecord } from "../../../../lambdas/core/normalize/index.js";
import { describeFailure, FAILURE_CODES } from "../../../../lambdas/core/parsers/types.js";
import { FAILURE_CASES } from "./failure-cases.js";

describe("failure codes", () => {
  it.each(FAILURE_CASES.map((c) => [c.name, c] as const))("%s: counted under its code", (_, failureCase) => {
    // Act
    const { response, stats } = transformBatch({ records: [{ recordId: "r", data: failureCase.data }] });
    // Assess
    expect(response.records).toEqual([{ recordId: "r", result: "ProcessingFailed", data: failureCase.data }]);
    expect(stats.failuresByReason).toEqual({ [failureCase.code]: 1 });
  });

  it("names the metrics alarms and dashboards may use, one per code", () => {
    expect(FAILURE_CASES.map((c) => transformFailureMetric(c.code))).toContain(
      "Failures.unrecognized_log_line",
    );
    expect(new Set(FAILURE_CODES).size).toBe(FAILURE_CODES.length);
    for (const code of FAILURE_CODES) expect(transformFailureMetric(code)).toMatch(/^Failures\.[a-z0-9_]+$/);
  });

  it("keeps the failure's text for people: the line, each envelope and the parser's words", () => {
    // Prepare: a Fluent Bit record inside Firehose error output, on the second line of a record
    const inner = JSON.stringify({ log: "garbage", kubernetes: { pod_name: "p" } });
    const line = (raw: string) =>
      JSON.stringify({ attemptsMade: 1, rawData: Buffer.from(raw).toString("base64") });
    const linkerd = '10.9.0.1:4000 - - [2024-06-01T12:00:01Z] "GET /live HTTP/1.1" 200';
    // Act
    const result = normalizeRecord(`${line(linkerd)}\n${line(inner)}`);
    // Assess
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure).toEqual({
      code: "unrecognized_log_line",
      line: 2,
      detail:
        'Firehose error output: in Fluent Bit record: unrecognized log line (not Envoy/Istio text, not Linkerd apache): "garbage"',
    });
    expect(result.reason).toBe(describeFailure(result.failure));
    expect(result.reason).toBe(`line 2: ${result.failure.detail}`);
  });
});
