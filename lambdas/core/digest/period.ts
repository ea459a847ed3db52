/**
 * Period arithmetic. Periods are half-open `[start, end)` intervals in UTC milliseconds, aligned on multiples
 * of the period length since the Unix epoch. A chain whose head is not aligned (the length changed in the
 * configuration) continues with a shorter period up to the next aligned boundary.
 */
export class PeriodError extends Error {
  override readonly name = "PeriodError";
}

const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
const MAX_PERIOD_MS = 86_400_000;

/** Parses `15m`, `1h`, `1d` (or a bare number of minutes) into milliseconds. */
export function parsePeriod(text: string, source = "period"): number {
  const match = /^(\d+)\s*([mhd]?)$/.exec(text.trim());
  const amount = match ? Number(match[1]) : Number.NaN;
  const unit = match?.[2] === "" || match?.[2] === undefined ? "m" : match[2];
  const ms = amount * (UNIT_MS[unit] ?? Number.NaN);
  return validatePeriodMs(ms, `${source} '${text}'`);
}

/** Validates a period length: whole minutes, at least 1 minute, at most 1 day, dividing a day evenly. */
export function validatePeriodMs(ms: number, source: string): number {
  if (!Number.isSafeInteger(ms) || ms < 60_000 || ms > MAX_PERIOD_MS || ms % 60_000 !== 0) {
    throw new PeriodError(`${source}: expected whole minutes between 1m and 1d (e.g. 15m, 1h), got ${ms}ms`);
  }
  if (MAX_PERIOD_MS % ms !== 0) {
    throw new PeriodError(
      `${source}: the period must divide a day evenly (e.g. 5m, 15m, 1h, 6h), got ${ms}ms`,
    );
  }
  return ms;
}

export function periodMsFromMinutes(minutes: number, source: string): number {
  return validatePeriodMs(minutes * 60_000, source);
}

/** Start of the aligned period containing `timeMs`. */
export function periodStartFor(timeMs: number, periodMs: number): number {
  return Math.floor(timeMs / periodMs) * periodMs;
}

/** End of the period that starts at `startMs` (the next aligned boundary after it). */
export function periodEndFor(startMs: number, periodMs: number): number {
  return periodStartFor(startMs, periodMs) + periodMs;
}

/** ISO 8601 with seconds, always UTC (`2026-11-23T09:00:00Z`). */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Parses an ISO 8601 instant (or a date); throws naming the source on anything else. */
export function parseInstant(text: string, source: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw new PeriodError(`${source}: expected an ISO 8601 time such as 2026-11-23T09:00:00Z, got '${text}'`);
  }
  return ms;
}
