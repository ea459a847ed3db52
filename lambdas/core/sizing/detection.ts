/**
 * Whether the detector's one-minute schedule keeps up at a volume, from its measured cost per shard
 * (`npm run bench -- detector`: the default pack over generated mesh traffic on one shard, `docs/sizing.md`).
 *
 * A pass evaluates what arrived since the last one (incremental evaluation, a few minutes of arrivals with the dev
 * stack's lag) and writes the alerts it raises, so its cost follows the event rate. Its aggregations run on
 * every shard of the daily index at once (OpenSearch searches a query's shards in parallel, and the domain has
 * 1.5 vCPU per active shard by AWS's guidance), so a pass takes about
 *
 *     fixedSeconds + secondsPerMillionEvents × (events per 15 minutes / shards) / 10^6
 *
 * The figure the issue sets for a pass is 20 s (the handler's request timeout); the schedule is one minute.
 */

/**
 * The pass model, fitted to the benchmark's steady passes on one shard (2026-12-07: incremental evaluation with a
 * 180 s ingest lag, traffic at a steady rate, 1,000 callers × 1,000 services: 0.38 s at 10k events per 15 minutes,
 * 4.2 s at 100k, 30.4 s at 1M).
 */
export const DETECTOR_PASS_MODEL = {
  /** Seconds a pass takes whatever the volume (a search or two per rule, the recent alerts). */
  fixedSeconds: 0.4,
  /**
   * Seconds per million events per 15 minutes, on one shard: the 10k → 1M slope (0.38 s → 30.4 s). Most of it is
   * writing the alerts the generated traffic raises every minute (0.6 % of its requests are plaintext, each pair of
   * caller and service a new alert: about 700 new alerts a pass at 1M, each a summary search, a create and a mark),
   * not reading the events: the model charges that per shard as measured, which holds while the alerts a pass
   * writes per shard stay at or under the benchmark's.
   */
  secondsPerMillionEvents: 30,
  source:
    "npm run bench -- detector (bench/results.json): median steady pass of the default pack on one shard, 768 MB heap, 2 vCPU shared; docs/sizing.md",
} as const;

/** The longest pass the sizing accepts: the detector's request timeout. */
export const DETECTOR_PASS_TARGET_SECONDS = 20;
/** The detector's schedule. */
export const DETECTOR_SCHEDULE_SECONDS = 60;

export interface DetectionSizing {
  /** Events in the detector's 15-minute lookback at the average rate. */
  readonly eventsPer15Minutes: number;
  /** Primary shards of the daily index the domain sizing chose. */
  readonly shards: number;
  /** The pass time the model predicts with those shards. */
  readonly passSeconds: number;
  /** Whether a pass fits the one-minute schedule. */
  readonly keepsUp: boolean;
  /** The fewest primary shards that bring a pass under `DETECTOR_PASS_TARGET_SECONDS`. */
  readonly recommendedShards: number;
  /** The pass time with `recommendedShards`. */
  readonly recommendedPassSeconds: number;
}

export function passSeconds(eventsPer15Minutes: number, shards: number): number {
  const { fixedSeconds, secondsPerMillionEvents } = DETECTOR_PASS_MODEL;
  return fixedSeconds + (secondsPerMillionEvents * eventsPer15Minutes) / Math.max(1, shards) / 1e6;
}

/** The detector at `recordsPerDay` (one event per record) with `shards` primary shards per daily index. */
export function sizeDetection(recordsPerDay: number, shards: number): DetectionSizing {
  const eventsPer15Minutes = recordsPerDay / 96;
  const predicted = passSeconds(eventsPer15Minutes, shards);
  let recommendedShards = Math.max(1, shards);
  while (passSeconds(eventsPer15Minutes, recommendedShards) > DETECTOR_PASS_TARGET_SECONDS) {
    recommendedShards++;
  }
  return {
    eventsPer15Minutes,
    shards,
    passSeconds: predicted,
    keepsUp: predicted <= DETECTOR_SCHEDULE_SECONDS,
    recommendedShards,
    recommendedPassSeconds: passSeconds(eventsPer15Minutes, recommendedShards),
  };
}
