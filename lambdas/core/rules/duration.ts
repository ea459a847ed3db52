import { RuleError } from "./errors.js";

const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^(\d+)([smhd])$/;

/**
 * Parses a Sigma duration (`30s`, `5m`, `1h`, `1d`) into milliseconds. Timespans are whole seconds, so half a
 * timespan (the window hop) is a whole number of milliseconds.
 */
export function parseDuration(
  text: string,
  location: { file?: string; rule?: string; key?: string } = {},
): number {
  const match = PATTERN.exec(text.trim());
  const unit = match?.[2] === undefined ? undefined : UNITS[match[2]];
  if (match === null || unit === undefined) {
    throw new RuleError(
      `'${text}' is not a duration: write a whole number and a unit s, m, h or d (e.g. 5m)`,
      location,
    );
  }
  return Number(match[1]) * unit;
}

/** Formats milliseconds back into the largest exact Sigma unit (`300000` → `5m`). */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m"] as const) {
    const size = UNITS[unit] ?? 1;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms / 1000}s`;
}
