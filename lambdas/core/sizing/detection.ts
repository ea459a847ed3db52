/**
 * Whether the detector's one-minute schedule keeps up at a volume, from its cost per shard as
 * `npm run bench -- detector` measured it (`detector-measurements.json`: the default pack over generated mesh
 * traffic on one shard of the real node, `docs/sizing.md`).
 *
 * The detector runs once a minute and evaluates incrementally: a pass reads the documents the node stamped when it
 * indexed them (`audit_trail.indexed_at`) since the last pass's newest stamp minus the index lag, the correlation
 * windows holding one, and writes the alerts they raise. Its cost follows the event rate. Its searches run on every shard of the daily index at once
 * (OpenSearch searches a query's shards in parallel, and the domain has 1.5 vCPU per active shard by AWS's
 * guidance), so a pass with `shards` primary shards costs what the benchmark measured on one shard at
 * `events per 15 minutes / shards`: read off the measured curve (the slowest pass of the service counts measured
 * at each volume), linearly between the measured volumes, and beyond the largest one along the slope of the last two.
 *
 * The figure the issue sets for a pass is 20 s (the handler's request timeout); the schedule is one minute.
 */
import * as z from "zod";
import measured from "./detector-measurements.json" with { type: "json" };

const stepSchema = z.object({
  eventsPer15Minutes: z.number().positive(),
  services: z.number().int().positive(),
  principals: z.number().int().positive(),
  /** Median steady pass on one shard. */
  steadyPassSeconds: z.number().nonnegative(),
  /** Of it, the time spent writing alerts (summaries, `_bulk`, reads and writes of the alerts index). */
  alertWriteSeconds: z.number().nonnegative(),
  newAlertsPerPass: z.number().int().nonnegative(),
  searchesPerPass: z.number().int().nonnegative(),
  requestsPerPass: z.number().int().nonnegative(),
  heapHighWaterMB: z.number().nonnegative(),
  breakerTrips: z.number().int().nonnegative(),
});

const measurementsSchema = z.object({
  measuredAt: z.string(),
  command: z.string(),
  file: z.string(),
  opensearch: z.string(),
  machine: z.string(),
  notes: z.array(z.string()),
  steps: z.array(stepSchema).min(2),
});

export type DetectorStep = z.infer<typeof stepSchema>;
export type DetectorMeasurements = z.infer<typeof measurementsSchema>;

/** The committed benchmark figures (one shard). */
export const DETECTOR_MEASUREMENTS: DetectorMeasurements = measurementsSchema.parse(measured);

/** A point of the per-shard cost curve. */
export interface PassPoint {
  readonly eventsPer15Minutes: number;
  readonly seconds: number;
}

/** At each measured volume the slowest steady pass of the service counts measured there, by volume. */
export function passCurve(measurements: DetectorMeasurements = DETECTOR_MEASUREMENTS): PassPoint[] {
  const slowest = new Map<number, number>();
  for (const step of measurements.steps) {
    slowest.set(
      step.eventsPer15Minutes,
      Math.max(slowest.get(step.eventsPer15Minutes) ?? 0, step.steadyPassSeconds),
    );
  }
  const curve = [...slowest.entries()]
    .map(([eventsPer15Minutes, seconds]) => ({ eventsPer15Minutes, seconds }))
    .sort((a, b) => a.eventsPer15Minutes - b.eventsPer15Minutes);
  if (curve.length < 2) {
    throw new Error(`${measurements.file}: the detector benchmark must measure at least two volumes`);
  }
  return curve;
}

/** The per-shard curve of the committed figures. */
export const DETECTOR_PASS_CURVE: readonly PassPoint[] = passCurve();

/** The longest pass the sizing accepts: the detector's request timeout. */
export const DETECTOR_PASS_TARGET_SECONDS = 20;
/** The detector's schedule. */
export const DETECTOR_SCHEDULE_SECONDS = 60;

export interface DetectionSizing {
  /** Events per 15 minutes at the average rate (the benchmark's unit of volume). */
  readonly eventsPer15Minutes: number;
  /** Primary shards of the daily index the domain sizing chose. */
  readonly shards: number;
  /** The pass time the measured curve gives with those shards. */
  readonly passSeconds: number;
  /** Whether a pass fits the one-minute schedule. */
  readonly keepsUp: boolean;
  /** The fewest primary shards that bring a pass under `DETECTOR_PASS_TARGET_SECONDS`. */
  readonly recommendedShards: number;
  /** The pass time with `recommendedShards`. */
  readonly recommendedPassSeconds: number;
}

/** A pass over `eventsPer15Minutes` on `shards` primary shards: the one-shard curve at the volume per shard. */
export function passSeconds(
  eventsPer15Minutes: number,
  shards: number,
  curve: readonly PassPoint[] = DETECTOR_PASS_CURVE,
): number {
  const perShard = eventsPer15Minutes / Math.max(1, shards);
  const first = curve[0] as PassPoint;
  if (perShard <= first.eventsPer15Minutes) return first.seconds;
  for (let index = 1; index < curve.length; index++) {
    const right = curve[index] as PassPoint;
    const left = curve[index - 1] as PassPoint;
    if (perShard <= right.eventsPer15Minutes || index === curve.length - 1) {
      const slope = (right.seconds - left.seconds) / (right.eventsPer15Minutes - left.eventsPer15Minutes);
      return Math.max(left.seconds, left.seconds + slope * (perShard - left.eventsPer15Minutes));
    }
  }
  return first.seconds;
}

/** The detector at `recordsPerDay` (one event per record) with `shards` primary shards per daily index. */
export function sizeDetection(
  recordsPerDay: number,
  shards: number,
  curve: readonly PassPoint[] = DETECTOR_PASS_CURVE,
): DetectionSizing {
  const eventsPer15Minutes = recordsPerDay / 96;
  const predicted = passSeconds(eventsPer15Minutes, shards, curve);
  let recommendedShards = Math.max(1, shards);
  while (
    passSeconds(eventsPer15Minutes, recommendedShards, curve) > DETECTOR_PASS_TARGET_SECONDS &&
    recommendedShards < 10_000
  ) {
    recommendedShards++;
  }
  return {
    eventsPer15Minutes,
    shards,
    passSeconds: predicted,
    keepsUp: predicted <= DETECTOR_SCHEDULE_SECONDS,
    recommendedShards,
    recommendedPassSeconds: passSeconds(eventsPer15Minutes, recommendedShards, curve),
  };
}

/** What the pass model assumes, for the method the size command prints. */
export function detectionMethod(measurements: DetectorMeasurements = DETECTOR_MEASUREMENTS): string {
  const curve = passCurve(measurements);
  const points = curve
    .map((point) => `${point.seconds.toFixed(1)} s at ${compact(point.eventsPer15Minutes)}`)
    .join(", ");
  return `detector pass: the benchmark's steady pass on one shard (${points} events per 15 minutes; ${measurements.file}, ${measurements.measuredAt}, \`${measurements.command}\`) at the volume per primary shard, linear between the measured volumes and along the last slope beyond; assumes a pass evaluates incrementally by the index stamp every minute, the shards are searched in parallel with two vCPUs each as on the benchmark's node (1.5 vCPU per active shard gives a primary and its replica three; the detector sends two rules' searches at once), and the alerts a pass writes in all are no more than the benchmark's at the volume per shard (the alerts index is one shard and every alert's summary search reaches every shard: an alert storm costs more than the curve says)`;
}

function compact(events: number): string {
  return events >= 1e6 ? `${events / 1e6}M` : `${events / 1e3}k`;
}
