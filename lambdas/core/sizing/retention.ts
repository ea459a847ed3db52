/**
 * How long data stays in each tier. The compliance frameworks set minimums (the archive's retention, the days
 * immediately searchable); the caller states what it chose, and the plan fills in the rest the way the shipped
 * environments do: warm covers the searchable window the hot tier leaves, and OpenSearch keeps each index (cold
 * after warm) for the first part of the retention up to a cap (one year by default), the archive for all of it.
 */
import { SizingInputError } from "./errors.js";

/** A minimum a compliance framework sets, as its preset states it. */
export interface RetentionRequirement {
  readonly framework: string;
  /** The rule in words, with its source. */
  readonly rule: string;
  /** What it constrains: the archive, or the days immediately searchable (hot + warm). */
  readonly applies: "archive" | "searchable";
  readonly minimumDays: number;
}

/** When archived objects move to cheaper S3 storage classes (days after creation). */
export interface ArchiveTransitions {
  readonly infrequentAccessAfterDays: number;
  readonly glacierAfterDays: number;
  readonly deepArchiveAfterDays: number;
}

/** What the caller chose, and what the frameworks require. */
export interface RetentionRequest {
  /** Days on hot nodes. @default 7 */
  readonly hotDays?: number;
  /** Days in the warm state. @default - what the searchable minimum leaves after the hot days */
  readonly warmDays?: number;
  /** Days in cold storage. @default - up to `indexLifetimeCapDays` in OpenSearch, within the archive's retention */
  readonly coldDays?: number;
  /** Object Lock retention of the archive. @default - the longest archive minimum of the requirements */
  readonly archiveDays?: number;
  /**
   * Where each given value comes from, for the printed reason (e.g. a flag, or an environment's config key).
   * @default "given"
   */
  readonly origin?: Readonly<Partial<Record<"hotDays" | "warmDays" | "coldDays" | "archiveDays", string>>>;
  readonly requirements: readonly RetentionRequirement[];
  /** Longest an index stays in OpenSearch when the cold days are derived. */
  readonly indexLifetimeCapDays: number;
  readonly transitions: ArchiveTransitions;
  /** Days the Firehose backup stays in the staging bucket. */
  readonly stagingDays: number;
}

/** The days of one tier and why. */
export interface TierDays {
  readonly days: number;
  readonly reason: string;
}

/** The days of every tier, each with its reason, checked against the requirements. */
export interface RetentionPlan {
  readonly hot: TierDays;
  readonly warm: TierDays;
  readonly cold: TierDays;
  readonly archive: TierDays;
  readonly transitions: ArchiveTransitions;
  readonly stagingDays: number;
}

/** Days on hot nodes when none are given. */
export const DEFAULT_HOT_DAYS = 7;

function wholeDays(field: "hotDays" | "warmDays" | "coldDays" | "archiveDays", value: number, min: number) {
  if (!Number.isInteger(value) || value < min) {
    throw new SizingInputError({
      field,
      value,
      problem: `must be a whole number of days, at least ${min}`,
      fix: `pass {${field}} as a whole number ≥ ${min}`,
    });
  }
  return value;
}

function strongest(requirements: readonly RetentionRequirement[], applies: RetentionRequirement["applies"]) {
  return requirements
    .filter((requirement) => requirement.applies === applies)
    .reduce<RetentionRequirement | undefined>(
      (best, requirement) =>
        best === undefined || requirement.minimumDays > best.minimumDays ? requirement : best,
      undefined,
    );
}

const cite = (requirement: RetentionRequirement) => `${requirement.framework}: ${requirement.rule}`;

/** The days of each tier, checked against every requirement. */
export function planRetention(request: RetentionRequest): RetentionPlan {
  const archiveRule = strongest(request.requirements, "archive");
  const searchableRule = strongest(request.requirements, "searchable");

  let archive: TierDays;
  if (request.archiveDays !== undefined) {
    const days = wholeDays("archiveDays", request.archiveDays, 1);
    if (archiveRule !== undefined && days < archiveRule.minimumDays) {
      throw new SizingInputError({
        field: "archiveDays",
        value: days,
        problem: `${cite(archiveRule)} requires at least ${archiveRule.minimumDays} days`,
        fix: `raise {archiveDays} to ${archiveRule.minimumDays} or more, or leave it out to use the minimum`,
      });
    }
    archive = { days, reason: request.origin?.archiveDays ?? "given" };
  } else if (archiveRule !== undefined) {
    archive = { days: archiveRule.minimumDays, reason: cite(archiveRule) };
  } else {
    throw new SizingInputError({
      field: "archiveDays",
      problem: "no compliance framework sets the archive's retention",
      fix: "pass {archiveDays} (days of Object Lock retention) or a compliance framework with {frameworks}",
    });
  }

  const hot: TierDays =
    request.hotDays === undefined
      ? { days: DEFAULT_HOT_DAYS, reason: "default" }
      : { days: wholeDays("hotDays", request.hotDays, 1), reason: request.origin?.hotDays ?? "given" };

  const searchableMinimum = searchableRule?.minimumDays ?? 0;
  let warm: TierDays =
    request.warmDays === undefined
      ? searchableRule !== undefined && searchableMinimum > hot.days
        ? {
            days: searchableMinimum - hot.days,
            reason: `${cite(searchableRule)}: ${searchableMinimum} searchable days less ${hot.days} hot`,
          }
        : { days: 0, reason: "no framework asks for more searchable days than the hot tier holds" }
      : { days: wholeDays("warmDays", request.warmDays, 0), reason: request.origin?.warmDays ?? "given" };
  if (searchableRule !== undefined && hot.days + warm.days < searchableMinimum) {
    throw new SizingInputError({
      field: "warmDays",
      value: warm.days,
      problem: `${cite(searchableRule)} requires hot + warm ≥ ${searchableMinimum} days, and ${hot.days} + ${warm.days} is less`,
      fix: `raise {hotDays} or {warmDays} so that together they reach ${searchableMinimum}`,
    });
  }

  let cold: TierDays;
  if (request.coldDays !== undefined) {
    cold = { days: wholeDays("coldDays", request.coldDays, 0), reason: request.origin?.coldDays ?? "given" };
  } else {
    const lifetime = Math.min(archive.days, request.indexLifetimeCapDays);
    cold = {
      days: Math.max(0, lifetime - hot.days - warm.days),
      reason: `indices stay in OpenSearch for the first ${lifetime} days of the archive's retention`,
    };
  }

  if (cold.days > 0 && warm.days === 0) {
    if (request.warmDays !== undefined) {
      throw new SizingInputError({
        field: "warmDays",
        value: 0,
        problem: `an index reaches cold storage only from UltraWarm, so ${cold.days} cold days need at least 1 warm day`,
        fix: "raise {warmDays} to 1 or more, or pass {coldDays} 0",
      });
    }
    warm = { days: 1, reason: "an index reaches cold storage only from UltraWarm" };
    if (request.coldDays === undefined) cold = { ...cold, days: cold.days - 1 };
  }

  return {
    hot,
    warm,
    cold,
    archive,
    transitions: request.transitions,
    stagingDays: request.stagingDays,
  };
}
