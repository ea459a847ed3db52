import { describe, expect, it } from "vitest";
import { dollars, gib, renderSizing, sizingJson, table } from "../../../../lambdas/core/sizing/render.js";
import { sizeAuditTrail } from "../../../../lambdas/core/sizing/size.js";
import { request } from "./helpers.js";

describe("renderSizing", () => {
  const sizing = sizeAuditTrail(request(100));
  const text = renderSizing(sizing);

  it("opens with the volume, region and frameworks", () => {
    expect(text.split("\n")[0]).toBe(
      "audit-trail size: 100 GB/day of raw logs, us-east-1, pci-dss, hipaa; 2 AZs, VPC domain",
    );
  });

  it("has a section for every part of the answer, in reading order", () => {
    const headings = text.split("\n").filter((row) => /^[A-Z]/.test(row) && !row.startsWith("audit-trail"));

    expect(headings).toEqual([
      "Retention (days)",
      "Volume",
      "OpenSearch",
      "Firehose (Direct PUT)",
      "Transform Lambda",
      "S3",
      "Detection (a pass a minute over what arrived since the last, by the index stamp)",
      "Monthly cost (USD, on-demand, us-east-1)",
      "Beside the alternatives (same volume, retention and query load; the same price table)",
      // The notes (the detector's shards follow the committed benchmark figures).
      ...(sizing.notes.length > 0 ? ["Act on"] : []),
      "Assumptions (override with the flags in --help)",
      "Method",
      "AWS guidance and quotas used",
      "Prices (us-east-1)",
      "Not included",
      "As config (an entry of lib/config/environments.ts)",
    ]);
  });

  it("prints the data nodes, the total and each price's date and source", () => {
    expect(text).toMatch(/^ {2}hot \(data\) +6 {2}r6g\.xlarge\.search +EBS gp3 /m);
    expect(text).toMatch(new RegExp(`^ +total +\\${dollars(sizing.cost.monthlyUsd)}$`, "m"));
    expect(text).toMatch(
      /openSearchInstanceHour\.r6g\.xlarge\.search: \$0\.335\/instance-hour; as of 2026-10-01; https:\/\/aws\.amazon\.com\/opensearch-service\/pricing\//,
    );
  });

  it("prints every assumption with its value and basis", () => {
    expect(text).toMatch(/^ {2}document expansion +2\.9× {2}given$/m);
    expect(text).toMatch(
      /^ {2}archive \/ raw +[\d.]+× {2}measured: .* lambdas\/core\/sizing\/storage-measurements\.json, \d{4}-\d\d-\d\d, `npm run bench -- storage`/m,
    );
    expect(text).toMatch(/^ {2}target shard size +40 GiB {2}middle of AWS's 30–50 GiB/m);
    expect(text).toMatch(/^ {2}peak factor +2× {2}assumed; /m);
  });

  it("prints the suggested config as JSON", () => {
    const json = text.slice(text.indexOf("As config")).split("\n").slice(1).join("\n");

    expect(JSON.parse(json)).toEqual(sizing.config);
  });

  it("has a JSON form with the same figures and the guidance", () => {
    const parsed = JSON.parse(sizingJson(sizing));

    expect(parsed.cost.monthlyUsd).toBeCloseTo(sizing.cost.monthlyUsd, 6);
    expect(parsed.search.hot.instanceType).toBe(sizing.search.hot.instanceType);
    expect(parsed.guidance.length).toBeGreaterThan(5);
    expect(parsed.assumptionBasis.documentExpansion).toBe("given");
    expect(parsed.assumptionBasis.archiveBytesPerRawByte).toMatch(/^measured: /);
    expect(parsed.alternatives).toHaveLength(4);
  });
});

describe("formatting", () => {
  it("right-aligns the columns it is told to and trims trailing space", () => {
    expect(
      table(
        [
          ["a", "1", "x"],
          ["bbb", "100", ""],
        ],
        [1],
      ),
    ).toBe("  a      1  x\n  bbb  100");
  });

  it("writes storage in GiB, switching to TiB from 10 TiB", () => {
    expect(gib(3.04)).toBe("3.0 GiB");
    expect(gib(6255.2)).toBe("6,255 GiB");
    expect(gib(24_659)).toBe("24.1 TiB");
  });

  it("writes dollars with cents below $1,000", () => {
    expect(dollars(0.016)).toBe("$0.02");
    expect(dollars(989.876)).toBe("$989.88");
    expect(dollars(10_515.4)).toBe("$10,515");
  });
});
