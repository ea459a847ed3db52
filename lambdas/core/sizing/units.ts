/**
 * The units the sizing model works in. Log volumes are decimal (1 GB = 10^9 bytes), as log shippers and the
 * project's benchmarks count them; storage is binary (1 GiB = 2^30 bytes), as OpenSearch Service sizes volumes.
 */

/** Bytes in a decimal gigabyte: the unit of `--gb-per-day`. */
export const GB = 1e9;
/** Bytes in a decimal megabyte: the unit of the benchmark's throughput figures. */
export const MB = 1e6;
/** Bytes in a gibibyte: the unit of every storage figure. */
export const GiB = 2 ** 30;
/** Bytes in a mebibyte: the unit of Firehose's throughput quota and of its processor buffer. */
export const MiB = 2 ** 20;
/** Bytes in a kibibyte. */
export const KiB = 2 ** 10;
/** Bytes in a tebibyte. */
export const TiB = 2 ** 40;

/** Seconds in a day. */
export const SECONDS_PER_DAY = 86_400;
/** Hours in a month, the convention of AWS's pricing pages and pricing calculator. */
export const HOURS_PER_MONTH = 730;
/** Days in an average month (365 / 12). */
export const DAYS_PER_MONTH = 365 / 12;
