import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseJsonObject, parseTextLine } from "../../../../lambdas/core/parsers/index.js";

const ISTIO_FIELDS = [
  '"GET /a HTTP/1.1"',
  "200",
  "-",
  "via_upstream",
  "-",
  '"-"',
  "0",
  "10",
  "3",
  "2",
  '"-"',
  '"curl"',
  '"rid"',
  '"svc:80"',
  '"10.0.0.2:80"',
  "outbound|80||svc.ns.svc.cluster.local",
  "10.0.0.3:1",
  "10.0.0.4:80",
  "10.0.0.5:2",
  "-",
  "default",
];

const KEYS = [
  "start_time",
  "timestamp",
  "response_code",
  "method",
  "path",
  "protocol",
  "duration",
  "duration_ms",
  "bytes_sent",
  "upstream_cluster",
  "downstream_remote_address",
  "requested_server_name",
  "source_identity",
  "destination_service",
  "client.addr",
  "client.id",
  "status",
  "uri",
  "flow",
  "verdict",
  "IP",
  "l4",
  "auditID",
  "verb",
  "stage",
  "kind",
  "requestURI",
  "responseStatus",
  "objectRef",
  "user",
  "sourceIPs",
  "protoPayload",
  "properties",
  "mtls",
];

function noEmptyValues(value: unknown): boolean {
  return !/:null|:"-"|:""/.test(JSON.stringify(value));
}

describe("parsers under arbitrary input", () => {
  it("never throw on Istio-shaped lines with any field replaced, and never emit unset values", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.nat({ max: ISTIO_FIELDS.length - 1 }),
            fc.oneof(fc.string(), fc.constantFrom("-", '"-"', '""', "", "0", "[::1]:80", "1e3", "-1")),
          ),
          { maxLength: 5 },
        ),
        (replacements) => {
          const fields = [...ISTIO_FIELDS];
          for (const [i, v] of replacements) fields[i] = v;
          const result = parseTextLine(`[2024-01-01T00:00:00.000Z] ${fields.join(" ")}`);
          if (result.ok) expect(noEmptyValues(result.document)).toBe(true);
          else expect(result.reason.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("never throw on objects mixing every format's keys with arbitrary values, and never emit unset values", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(...KEYS),
          fc.oneof(fc.jsonValue(), fc.constantFrom("-", "", null, "2024-01-01T00:00:00Z", "200")),
        ),
        (o) => {
          const result = parseJsonObject(o as Record<string, unknown>);
          if (result?.ok) {
            const { kubernetes, ...rest } = result.document;
            expect(noEmptyValues(rest)).toBe(true);
            expect(kubernetes === undefined || typeof kubernetes === "object").toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
