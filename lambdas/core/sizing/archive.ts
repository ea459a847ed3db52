/**
 * What S3 holds once the archive is full: the Firehose backup in staging, and every document in the Object Lock
 * archive for its retention, moving through the storage classes of its lifecycle (transitions at or after the
 * retention are skipped, as `lib/archive.ts` skips them). The caller gives the bytes the backup stores a day
 * (GZIP-compressed documents by default).
 */
import type { RetentionPlan } from "./retention.js";
import { GiB } from "./units.js";

/** The S3 storage classes of the archive's lifecycle. */
export type StorageClass =
  | "S3 Standard"
  | "S3 Standard-IA"
  | "S3 Glacier Flexible Retrieval"
  | "S3 Glacier Deep Archive";

/** The archived documents of one storage class. */
export interface ArchiveBand {
  readonly storageClass: StorageClass;
  /** Object age (days) at which objects enter the class. */
  readonly fromDay: number;
  /** Object age (days) at which they leave it (the next transition, or expiry). */
  readonly toDay: number;
  readonly storageGiB: number;
}

/** Staging and the archive at steady state. */
export interface ArchiveSizing {
  readonly dailyGiB: number;
  readonly stagingGiB: number;
  /** The archive's bands, youngest first. */
  readonly bands: readonly ArchiveBand[];
  readonly archiveGiB: number;
}

/** Sizes staging and the archive at steady state for `dailyStoredBytes` a day. */
export function sizeArchive(dailyStoredBytes: number, retention: RetentionPlan): ArchiveSizing {
  const dailyGiB = dailyStoredBytes / GiB;
  const retentionDays = retention.archive.days;
  const { infrequentAccessAfterDays, glacierAfterDays, deepArchiveAfterDays } = retention.transitions;
  const starts: [StorageClass, number][] = [
    ["S3 Standard", 0],
    ["S3 Standard-IA", infrequentAccessAfterDays],
    ["S3 Glacier Flexible Retrieval", glacierAfterDays],
    ["S3 Glacier Deep Archive", deepArchiveAfterDays],
  ];
  const reached = starts.filter(([, fromDay]) => fromDay < retentionDays);
  const bands = reached.map(([storageClass, fromDay], index): ArchiveBand => {
    const toDay = reached[index + 1]?.[1] ?? retentionDays;
    return { storageClass, fromDay, toDay, storageGiB: dailyGiB * (toDay - fromDay) };
  });
  return {
    dailyGiB,
    stagingGiB: dailyGiB * retention.stagingDays,
    bands,
    archiveGiB: dailyGiB * retentionDays,
  };
}
