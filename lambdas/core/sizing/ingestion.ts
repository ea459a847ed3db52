/**
 * The way in for a daily volume: Firehose streams against the per-stream Direct PUT quotas at the busiest hour,
 * the bytes Firehose bills, and the transform Lambda's concurrency and compute from its measured throughput.
 */

import { ENVIRONMENTS_FILE } from "../contracts.js";
import { LAMBDA_RESPONSE_LIMIT_BYTES } from "../firehose/transform.js";
import type { Assumptions } from "./assumptions.js";
import {
  DEPLOYED_TRANSFORM,
  FIREHOSE_STREAM_QUOTAS,
  type FirehoseStreamQuota,
  LAMBDA_MB_PER_VCPU,
  PUT_RECORD_BATCH_MAX_RECORDS,
} from "./guidance.js";
import { DAYS_PER_MONTH, GiB, MB, MiB, SECONDS_PER_DAY } from "./units.js";

/** What comes in. */
export interface IngestionRequest {
  /** Raw log bytes shipped per day. */
  readonly dailyInputBytes: number;
  readonly region: string;
  readonly assumptions: Assumptions;
}

/** The per-stream quota that decides the stream count. */
export type QuotaLimit = "MiB/s" | "records/s" | "requests/s";

/** Firehose at the busiest hour, against its per-stream quota, and what it bills. */
export interface FirehoseSizing {
  readonly quota: FirehoseStreamQuota;
  readonly peakMiBPerSecond: number;
  readonly recordsPerDay: number;
  readonly peakRecordsPerSecond: number;
  /** PutRecordBatch calls per second at the peak if every call is full (the floor; small batches need more). */
  readonly peakRequestsPerSecond: number;
  /** Streams needed at the default quotas. */
  readonly streams: number;
  readonly limitedBy: QuotaLimit;
  /** With more than one stream: the per-stream throughput quota one stream would need instead (MiB/s). */
  readonly quotaIncreaseMiBPerSecond?: number;
  /** Bytes Firehose bills per month, each record rounded up to a multiple of 5 KB, in GiB. */
  readonly billedGiBPerMonth: number;
}

/** The transform Lambda at the busiest hour, and what it bills. */
export interface TransformSizing {
  readonly memoryMB: number;
  /** Input bytes one invocation transforms per second. */
  readonly inputBytesPerSecond: number;
  /** Seconds one invocation takes for a full processor buffer. */
  readonly secondsPerBuffer: number;
  /** Invocations running at once at the busiest hour. */
  readonly peakConcurrency: number;
  /** Reserved concurrency the peak needs, with headroom. */
  readonly neededConcurrency: number;
  /** Reserved concurrency the stack deploys. */
  readonly deployedConcurrency: number;
  /** Whether the deployed reserved concurrency covers the need. */
  readonly deployedConcurrencySuffices: boolean;
  readonly invocationsPerMonth: number;
  readonly gbSecondsPerMonth: number;
  /** A full buffer's response (documents, base64) in bytes, against the 6 MB Lambda response limit. */
  readonly responseBytesPerBuffer: number;
}

/** The way in, with findings to act on. */
export interface IngestionSizing {
  readonly averageInputBytesPerSecond: number;
  readonly peakInputBytesPerSecond: number;
  readonly firehose: FirehoseSizing;
  readonly transform: TransformSizing;
  readonly notes: readonly string[];
}

/** The default per-stream quota of a region; every priced region must have one. */
export function firehoseQuotaFor(region: string): FirehoseStreamQuota {
  const quota = Object.hasOwn(FIREHOSE_STREAM_QUOTAS, region) ? FIREHOSE_STREAM_QUOTAS[region] : undefined;
  if (quota === undefined) throw new Error(`no Firehose quota recorded for region ${region}`);
  return quota;
}

/** Sizes Firehose and the transform for the request's daily volume. */
export function sizeIngestion(request: IngestionRequest): IngestionSizing {
  const { assumptions } = request;
  const averageInputBytesPerSecond = request.dailyInputBytes / SECONDS_PER_DAY;
  const peakInputBytesPerSecond = averageInputBytesPerSecond * assumptions.peakFactor;
  const recordsPerDay = request.dailyInputBytes / assumptions.averageRecordBytes;
  const peakRecordsPerSecond = (recordsPerDay / SECONDS_PER_DAY) * assumptions.peakFactor;
  const peakRequestsPerSecond = Math.ceil(peakRecordsPerSecond / PUT_RECORD_BATCH_MAX_RECORDS);
  const peakMiBPerSecond = peakInputBytesPerSecond / MiB;

  const quota = firehoseQuotaFor(request.region);
  const needs: [QuotaLimit, number][] = [
    ["MiB/s", Math.ceil(peakMiBPerSecond / quota.mibPerSecond)],
    ["records/s", Math.ceil(peakRecordsPerSecond / quota.recordsPerSecond)],
    ["requests/s", Math.ceil(peakRequestsPerSecond / quota.requestsPerSecond)],
  ];
  const [limitedBy, needed] = needs.reduce((best, need) => (need[1] > best[1] ? need : best));
  const streams = Math.max(1, needed);
  const firehose: FirehoseSizing = {
    quota,
    peakMiBPerSecond,
    recordsPerDay,
    peakRecordsPerSecond,
    peakRequestsPerSecond,
    streams,
    limitedBy,
    ...(streams > 1
      ? {
          quotaIncreaseMiBPerSecond: Math.ceil(
            Math.max(
              peakMiBPerSecond,
              (peakRecordsPerSecond / quota.recordsPerSecond) * quota.mibPerSecond,
              (peakRequestsPerSecond / quota.requestsPerSecond) * quota.mibPerSecond,
            ),
          ),
        }
      : {}),
    billedGiBPerMonth:
      (request.dailyInputBytes * assumptions.firehoseBilledPerRawByte * DAYS_PER_MONTH) / GiB,
  };

  const vcpuShare = Math.min(1, DEPLOYED_TRANSFORM.memoryMB / LAMBDA_MB_PER_VCPU);
  const inputBytesPerSecond = assumptions.transformMBPerSecondPerVcpu * MB * vcpuShare;
  const peakConcurrency = peakInputBytesPerSecond / inputBytesPerSecond;
  const neededConcurrency = Math.max(1, Math.ceil(peakConcurrency * assumptions.concurrencyHeadroom));
  const monthlyInputBytes = request.dailyInputBytes * DAYS_PER_MONTH;
  // The stack deploys one stream; its processor flushes at least once per buffer interval while data flows.
  const flushesPerMonth =
    (SECONDS_PER_DAY / DEPLOYED_TRANSFORM.processorBufferIntervalSeconds) * DAYS_PER_MONTH;
  const responseBytesPerBuffer =
    (DEPLOYED_TRANSFORM.processorBufferBytes * assumptions.documentExpansion * 4) / 3;
  const transform: TransformSizing = {
    memoryMB: DEPLOYED_TRANSFORM.memoryMB,
    inputBytesPerSecond,
    secondsPerBuffer: DEPLOYED_TRANSFORM.processorBufferBytes / inputBytesPerSecond,
    peakConcurrency,
    neededConcurrency,
    deployedConcurrency: DEPLOYED_TRANSFORM.reservedConcurrency,
    deployedConcurrencySuffices: neededConcurrency <= DEPLOYED_TRANSFORM.reservedConcurrency,
    invocationsPerMonth: Math.max(
      monthlyInputBytes / DEPLOYED_TRANSFORM.processorBufferBytes,
      flushesPerMonth,
    ),
    gbSecondsPerMonth: (monthlyInputBytes / inputBytesPerSecond) * (DEPLOYED_TRANSFORM.memoryMB / 1024),
    responseBytesPerBuffer,
  };

  const notes: string[] = [];
  if (streams > 1) {
    notes.push(
      `the stack deploys one delivery stream: request a per-stream quota of ${firehose.quotaIncreaseMiBPerSecond} MiB/s for it (the three quotas scale together), or it throttles at the peak`,
    );
  }
  if (!transform.deployedConcurrencySuffices) {
    notes.push(
      `the transform's reserved concurrency is ${DEPLOYED_TRANSFORM.reservedConcurrency} (concurrency.transform in ${ENVIRONMENTS_FILE}): raise it to ${neededConcurrency}`,
    );
  }
  if (responseBytesPerBuffer > LAMBDA_RESPONSE_LIMIT_BYTES) {
    notes.push(
      `at ${assumptions.documentExpansion}× expansion a 1 MiB processor buffer returns ${(responseBytesPerBuffer / MiB).toFixed(1)} MiB, over Lambda's 6 MB response limit: the records that do not fit are re-ingested into the stream, a second pass for each (kept in S3 only if that fails); lower the processor buffer`,
    );
  }
  return { averageInputBytesPerSecond, peakInputBytesPerSecond, firehose, transform, notes };
}
