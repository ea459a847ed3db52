/**
 * The sizing as a reader sees it: aligned tables for the tiers, the ingestion path, S3 and the bill, then the
 * assumptions (each with its basis), the guidance and prices it rests on, what it leaves out, and the config keys
 * to paste. `sizingJson` is the same content for machines.
 */

import { ENVIRONMENTS_FILE } from "../contracts.js";
import type { Assumptions } from "./assumptions.js";
import { INGESTION_GUIDELINES, OPENSEARCH_GUIDELINES } from "./guidance.js";
import type { Sizing } from "./size.js";
import { GB, MB } from "./units.js";

/** Rows as columns padded to their widest cell; the columns listed in `right` are right-aligned. */
export function table(rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      `  ${row
        .map((cell, index) =>
          right.includes(index) ? cell.padStart(widths[index] ?? 0) : cell.padEnd(widths[index] ?? 0),
        )
        .join("  ")}`.trimEnd(),
    )
    .join("\n");
}

const count = (value: number, digits = 0) =>
  value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** GiB with a sensible precision, or TiB from 10 TiB up. */
export function gib(value: number): string {
  if (value >= 10 * 1024) return `${count(value / 1024, 1)} TiB`;
  return `${count(value, value < 10 ? 1 : 0)} GiB`;
}

/** US dollars, cents below $1,000. */
export function dollars(value: number): string {
  return `$${count(value, value < 1000 ? 2 : 0)}`;
}

function rate(bytesPerSecond: number): string {
  if (bytesPerSecond >= MB) return `${count(bytesPerSecond / MB, 1)} MB/s`;
  return `${count(bytesPerSecond / 1000, 1)} KB/s`;
}

function assumptionRows(
  assumptions: Assumptions,
  basis: Readonly<Record<keyof Assumptions, string>>,
): string[][] {
  const value: Record<keyof Assumptions, string> = {
    keepEventOriginal: assumptions.keepEventOriginal ? "kept" : "dropped",
    indexEventOriginal: assumptions.indexEventOriginal ? "indexed" : "stored only",
    indexCodec: assumptions.indexCodec,
    documentExpansion: `${assumptions.documentExpansion}×`,
    averageRecordBytes: `${count(assumptions.averageRecordBytes)} B`,
    firehoseBilledPerRawByte: `${Number(assumptions.firehoseBilledPerRawByte.toFixed(2))}×`,
    replicas: String(assumptions.replicas),
    indexSizeRatio: `${assumptions.indexSizeRatio}×`,
    archiveCompression: assumptions.archiveCompression,
    archiveBytesPerRawByte: `${assumptions.archiveBytesPerRawByte}×`,
    shardSizeGiB: `${assumptions.shardSizeGiB} GiB`,
    peakFactor: `${assumptions.peakFactor}×`,
    transformMBPerSecondPerVcpu: `${assumptions.transformMBPerSecondPerVcpu} MB/s`,
    concurrencyHeadroom: `${assumptions.concurrencyHeadroom}×`,
  };
  const label: Record<keyof Assumptions, string> = {
    keepEventOriginal: "event.original",
    indexEventOriginal: "event.original in the index",
    indexCodec: "index codec",
    documentExpansion: "document expansion",
    averageRecordBytes: "average record",
    firehoseBilledPerRawByte: "Firehose billed / raw",
    replicas: "replicas",
    indexSizeRatio: "index on disk / documents",
    archiveCompression: "archive compression",
    archiveBytesPerRawByte: "archive / raw",
    shardSizeGiB: "target shard size",
    peakFactor: "peak factor",
    transformMBPerSecondPerVcpu: "transform throughput",
    concurrencyHeadroom: "concurrency headroom",
  };
  return (Object.keys(value) as (keyof Assumptions)[]).map((key) => [label[key], value[key], basis[key]]);
}

function section(title: string, body: string): string {
  return `${title}\n${body}`;
}

/** The readable report. */
export function renderSizing(sizing: Sizing): string {
  const { input, retention, search, ingestion, archive, cost, assumptions } = sizing;
  const frameworks = input.frameworks.length === 0 ? "no compliance framework" : input.frameworks.join(", ");
  const { hot, masters, warm, cold } = search;
  const { firehose, transform } = ingestion;
  const parts: string[] = [];

  parts.push(
    `audit-trail size: ${count(input.gbPerDay, input.gbPerDay < 10 ? 1 : 0)} GB/day of raw logs, ${input.region}, ${frameworks}; ` +
      `${input.availabilityZones} AZ${input.availabilityZones > 1 ? "s" : ""}, ${input.network === "vpc" ? "VPC" : "public"} domain`,
  );

  parts.push(
    section(
      "Retention (days)",
      table(
        [
          ["tier", "days", "where", "why"],
          ["hot", String(retention.hot.days), "hot data nodes", retention.hot.reason],
          [
            "warm",
            String(retention.warm.days),
            { ultrawarm: "UltraWarm", "hot nodes": "hot data nodes, read-only", none: "-" }[warm.placement],
            retention.warm.reason,
          ],
          [
            "cold",
            String(retention.cold.days),
            retention.cold.days > 0 ? "cold storage" : "-",
            retention.cold.reason,
          ],
          ["archive", String(retention.archive.days), "S3, Object Lock", retention.archive.reason],
          [
            "staging",
            String(retention.stagingDays),
            "S3",
            "the Firehose backup, until the archiver has copied it",
          ],
        ],
        [1],
      ),
    ),
  );

  parts.push(
    section(
      "Volume",
      table(
        [
          [
            "raw input",
            `${count(sizing.volume.dailyInputBytes / GB, 1)} GB/day`,
            `${rate(ingestion.averageInputBytesPerSecond)} average, ${rate(ingestion.peakInputBytesPerSecond)} at the peak`,
          ],
          [
            "ECS documents",
            `${count(sizing.volume.dailyDocumentBytes / GB, 1)} GB/day`,
            `× ${assumptions.documentExpansion} (event.original ${assumptions.keepEventOriginal ? "kept" : "dropped"})`,
          ],
          [
            "records",
            `${count(sizing.volume.recordsPerDay / 1e6, 1)} M/day`,
            `${count(firehose.peakRecordsPerSecond)} records/s at the peak`,
          ],
          [
            "daily index",
            gib(search.dailyPrimaryGiB),
            `${search.primaryShardsPerIndex} primary shard(s) of ${gib(search.shardGiB)}, ${assumptions.replicas} replica(s)`,
          ],
        ],
        [1],
      ),
    ),
  );

  const opensearchRows = [
    ["tier", "nodes", "instance type", "storage", "why"],
    [
      "hot (data)",
      String(hot.nodes),
      hot.instanceType,
      `EBS gp3 ${count(hot.ebsGiBPerNode)} GiB/node (${gib(hot.requiredStorageGiB)} needed)`,
      `node count set by ${hot.limitedBy}; ${hot.indices} daily indices, ${count(hot.shards)} shards`,
    ],
    [
      "masters",
      String(masters.nodes),
      masters.instanceType,
      "-",
      "dedicated masters for the data node count",
    ],
  ];
  if (warm.ultraWarm !== undefined) {
    opensearchRows.push([
      "warm",
      String(warm.ultraWarm.nodes),
      warm.ultraWarm.instanceType,
      `${gib(warm.storageGiB)} managed storage, ${count(warm.shards)} shards`,
      warm.reason,
    ]);
  } else if (warm.placement === "hot nodes") {
    opensearchRows.push(["warm", "-", "on the hot nodes", `${gib(warm.storageGiB)} primary`, warm.reason]);
  }
  if (cold.storageGiB > 0) {
    opensearchRows.push(["cold", "-", "cold storage (S3)", gib(cold.storageGiB), "primary shards only"]);
  }
  parts.push(section("OpenSearch", table(opensearchRows, [1])));

  parts.push(
    section(
      "Firehose (Direct PUT)",
      table(
        [
          [
            "throughput at the peak",
            `${count(firehose.peakMiBPerSecond, 2)} MiB/s`,
            `quota ${firehose.quota.mibPerSecond} MiB/s per stream`,
          ],
          [
            "records at the peak",
            `${count(firehose.peakRecordsPerSecond)}/s`,
            `quota ${count(firehose.quota.recordsPerSecond)}/s per stream`,
          ],
          [
            "PutRecordBatch calls",
            `≥ ${count(firehose.peakRequestsPerSecond)}/s`,
            `quota ${count(firehose.quota.requestsPerSecond)}/s per stream; full batches of 500, more when pods send small ones`,
          ],
          [
            "streams",
            String(firehose.streams),
            firehose.quotaIncreaseMiBPerSecond === undefined
              ? `one stream at the default quota (closest: ${firehose.limitedBy})`
              : `at the default quota (limited by ${firehose.limitedBy}), or one stream with a ${firehose.quotaIncreaseMiBPerSecond} MiB/s quota`,
          ],
          ["billed", `${gib(firehose.billedGiBPerMonth)}/month`, "each record rounded up to 5 KB"],
        ],
        [1],
      ),
    ),
  );

  parts.push(
    section(
      "Transform Lambda",
      table(
        [
          [
            "throughput",
            `${rate(transform.inputBytesPerSecond)}`,
            `${count(transform.secondsPerBuffer * 1000)} ms per 1 MiB buffer at ${transform.memoryMB} MB`,
          ],
          ["concurrency at the peak", count(transform.peakConcurrency, 1), ""],
          [
            "reserved concurrency",
            String(transform.neededConcurrency),
            `needed with ${assumptions.concurrencyHeadroom}× headroom; ${
              transform.deployedConcurrencySuffices
                ? `the stack's ${transform.deployedConcurrency} covers it`
                : `above the stack's ${transform.deployedConcurrency}: raise concurrency.transform in ${ENVIRONMENTS_FILE}`
            }`,
          ],
          ["invocations", `${count(transform.invocationsPerMonth / 1e6, 2)} M/month`, ""],
        ],
        [1],
      ),
    ),
  );

  parts.push(
    section(
      "S3",
      table(
        [
          ["staging", gib(archive.stagingGiB), `S3 Standard, ${retention.stagingDays} days`],
          ...archive.bands.map((band) => [
            "archive",
            gib(band.storageGiB),
            `${band.storageClass}, days ${band.fromDay}–${band.toDay}`,
          ]),
          [
            "archive total",
            gib(archive.archiveGiB),
            `${gib(archive.dailyGiB)} a day for ${retention.archive.days} days`,
          ],
        ],
        [1],
      ),
    ),
  );

  const { detection } = sizing;
  parts.push(
    section(
      "Detection (a pass a minute over what arrived since the last, by the index stamp)",
      table(
        [
          ["events per 15 minutes (the benchmark's unit)", count(detection.eventsPer15Minutes, 0)],
          [
            `pass on ${detection.shards} primary shard(s)`,
            `about ${detection.passSeconds.toFixed(1)} s: ${detection.keepsUp ? "keeps up with the 1-minute schedule" : "does NOT keep up with the 1-minute schedule"}`,
          ],
          [
            "primary shards for a pass under 20 s",
            `${detection.recommendedShards} (about ${detection.recommendedPassSeconds.toFixed(1)} s)`,
          ],
        ],
        [1],
      ),
    ),
  );

  parts.push(
    section(
      `Monthly cost (${cost.currency}, on-demand, ${cost.region})`,
      `${table(
        [
          ["service", "item", "quantity", "rate", "per month"],
          ...cost.lines.map((line) => [
            line.service,
            line.item,
            `${count(line.quantity, line.quantity < 10 && !Number.isInteger(line.quantity) ? 2 : 0)} ${line.unit}`,
            line.rate,
            dollars(line.monthlyUsd),
          ]),
          ["", "total", "", "", dollars(cost.monthlyUsd)],
          ["", "per GB of raw input", "", "", dollars(cost.usdPerRawGb)],
        ],
        [2, 4],
      )}`,
    ),
  );

  if (sizing.alternatives.length > 0) {
    const rows = [
      ["option", "per month", "per raw GB", "what it does not provide"],
      ["this stack", dollars(cost.monthlyUsd), dollars(cost.usdPerRawGb), "-"],
      ...sizing.alternatives.map((alternative) => [
        alternative.name,
        dollars(alternative.monthlyUsd),
        dollars(alternative.usdPerRawGb),
        alternative.lacks.join("; "),
      ]),
    ];
    const details = sizing.alternatives.flatMap((alternative) => [
      `  ${alternative.name}:`,
      ...alternative.lines.map(
        (line) =>
          `    ${line.item}: ${line.unit === "" ? "" : `${count(line.quantity, line.quantity < 10 ? 2 : 0)} ${line.unit} × ${line.rate} = `}${dollars(line.monthlyUsd)}`,
      ),
      ...alternative.method.map((item) => `    - ${item}`),
    ]);
    parts.push(
      section(
        "Beside the alternatives (same volume, retention and query load; the same price table)",
        `${table(rows, [1, 2])}\n${details.join("\n")}`,
      ),
    );
  }

  if (sizing.notes.length > 0) {
    parts.push(section("Act on", sizing.notes.map((note) => `  - ${note}`).join("\n")));
  }

  parts.push(
    section(
      "Assumptions (override with the flags in --help)",
      table(assumptionRows(assumptions, sizing.assumptionBasis), [1]),
    ),
  );
  parts.push(section("Method", sizing.method.map((line) => `  - ${line}`).join("\n")));
  parts.push(
    section(
      "AWS guidance and quotas used",
      [...OPENSEARCH_GUIDELINES, ...INGESTION_GUIDELINES]
        .map((guideline) => `  - ${guideline.statement} (${guideline.source})`)
        .join("\n"),
    ),
  );
  parts.push(
    section(
      `Prices (${cost.region})`,
      sizing.prices
        .map(
          (price) => `  - ${price.key}: ${price.rate}; as of ${price.asOf}; ${price.source}; ${price.note}`,
        )
        .join("\n"),
    ),
  );
  parts.push(section("Not included", sizing.excluded.map((item) => `  - ${item}`).join("\n")));
  parts.push(
    section(
      `As config (an entry of ${ENVIRONMENTS_FILE})`,
      JSON.stringify(sizing.config, null, 2)
        .split("\n")
        .map((line) => `  ${line}`)
        .join("\n"),
    ),
  );
  return `${parts.join("\n\n")}\n`;
}

/** The sizing as one JSON document, with the guidance it rests on. */
export function sizingJson(sizing: Sizing): string {
  return `${JSON.stringify(
    {
      ...sizing,
      guidance: [...OPENSEARCH_GUIDELINES, ...INGESTION_GUIDELINES],
    },
    null,
    2,
  )}\n`;
}
