/**
 * The Index State Management policy for the daily audit indices: hot → warm → cold → delete by index age
 * (`min_index_age`; Firehose names indices by date, so there is no rollover).
 *
 * Two variants:
 * - `aws` (Amazon OpenSearch Service): the warm state runs `warm_migration` when UltraWarm is on, the cold state
 *   runs `cold_migration` with `timestamp_field`, and an index in cold storage is removed with `cold_delete`
 *   (`delete` cannot reach a cold index). Shapes as in AWS's sample "hot to cold storage" policy, Amazon OpenSearch
 *   Service Developer Guide, "Index State Management in Amazon OpenSearch Service", Sample policies
 *   (https://docs.aws.amazon.com/opensearch-service/latest/developerguide/ism.html):
 *   `{ "warm_migration": {}, "retry": { "count": 5, "delay": "1h" } }`,
 *   `{ "cold_migration": { "timestamp_field": "<your timestamp field>" } }`, `{ "cold_delete": {} }`. The 24-hour
 *   `timeout` on `warm_migration` is ours: a large index can take hours to migrate.
 * - `plain` (any other OpenSearch): the same states with core actions only (`read_only`, `delete`); plain
 *   OpenSearch rejects `warm_migration`, `cold_migration` and `cold_delete` as unknown actions.
 */
import { createHash } from "node:crypto";
import { AUDIT_INDEX_PREFIX } from "../contracts.js";

/**
 * ISM attaches the policy to new indices matching this pattern. It is narrower than `audit-*` on purpose: the
 * alerts index (`audit-alerts`) also matches `audit-*` and must never be deleted by age; daily indices are
 * `audit-YYYY-MM-DD`, so `audit-2*` matches them all until the year 3000.
 */
export const DAILY_AUDIT_INDEX_PATTERN = `${AUDIT_INDEX_PREFIX}-2*`;

export type IsmFlavor = "aws" | "plain";

/** Unit of the ages: days in production; minutes let a test watch transitions happen. */
export type AgeUnit = "d" | "m";

export interface IsmPolicyOptions {
  readonly flavor: IsmFlavor;
  readonly hot: number;
  readonly warm: number;
  readonly cold: number;
  /** Index age at deletion; at least `hot + warm + cold`. */
  readonly deleteAfter: number;
  readonly ultraWarm: boolean;
  readonly coldStorage: boolean;
  /** @default "d" */
  readonly ageUnit?: AgeUnit;
}

export class IsmPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IsmPolicyError";
  }
}

interface State {
  name: string;
  actions: Record<string, unknown>[];
  transitions: { state_name: string; conditions: { min_index_age: string } }[];
}

/** Builds the `policy` object of `PUT _plugins/_ism/policies/<id>`. */
export function buildIsmPolicy(options: IsmPolicyOptions): Record<string, unknown> {
  validate(options);
  const unit = options.ageUnit ?? "d";
  const age = (value: number) => `${value}${unit}`;
  const aws = options.flavor === "aws";
  const useWarm = options.warm > 0;
  const useCold = options.cold > 0;

  const states: State[] = [{ name: "hot", actions: [], transitions: [] }];
  let current = states[0] as State;
  let reachedAt = options.hot;
  const moveTo = (next: State) => {
    current.transitions.push({ state_name: next.name, conditions: { min_index_age: age(reachedAt) } });
    states.push(next);
    current = next;
  };

  if (useWarm) {
    const warmActions: Record<string, unknown>[] =
      aws && options.ultraWarm
        ? [{ warm_migration: {}, timeout: "24h", retry: { count: 5, delay: "1h" } }]
        : [{ read_only: {} }];
    moveTo({ name: "warm", actions: warmActions, transitions: [] });
    reachedAt += options.warm;
  }
  if (useCold) {
    const coldActions: Record<string, unknown>[] =
      aws && options.coldStorage
        ? [{ cold_migration: { timestamp_field: "@timestamp" }, retry: { count: 5, delay: "1h" } }]
        : [{ read_only: {} }];
    moveTo({ name: "cold", actions: coldActions, transitions: [] });
  }
  reachedAt = options.deleteAfter;
  const deleteAction = aws && useCold && options.coldStorage ? { cold_delete: {} } : { delete: {} };
  moveTo({ name: "delete", actions: [deleteAction], transitions: [] });

  const body = {
    default_state: "hot",
    states,
    ism_template: [{ index_patterns: [DAILY_AUDIT_INDEX_PATTERN], priority: 100 }],
  };
  return {
    description: `mesh-audit-trail lifecycle of ${DAILY_AUDIT_INDEX_PATTERN} (${options.flavor}; fingerprint ${fingerprint(body)})`,
    ...body,
  };
}

/** A short digest of the policy content, kept in its description so an unchanged policy is not rewritten. */
function fingerprint(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
}

function validate(options: IsmPolicyOptions): void {
  for (const key of ["hot", "warm", "cold", "deleteAfter"] as const) {
    const value = options[key];
    if (!Number.isInteger(value) || value < 0) {
      throw new IsmPolicyError(`ISM age ${key} must be a non-negative whole number, got ${value}`);
    }
  }
  if (options.hot < 1) {
    throw new IsmPolicyError(`ISM age hot must be at least 1, got ${options.hot}`);
  }
  const last = options.hot + options.warm + options.cold;
  if (options.deleteAfter < last) {
    throw new IsmPolicyError(
      `ISM deleteAfter (${options.deleteAfter}) is below hot + warm + cold (${last}): raise deleteAfter`,
    );
  }
  if (options.flavor === "aws") {
    if (options.coldStorage && !options.ultraWarm) {
      throw new IsmPolicyError("cold storage needs UltraWarm on Amazon OpenSearch Service: enable UltraWarm");
    }
    if (options.cold > 0 && !options.coldStorage) {
      throw new IsmPolicyError(
        `cold age is ${options.cold} but cold storage is off: enable it or set cold to 0`,
      );
    }
    if (options.cold > 0 && options.warm === 0) {
      throw new IsmPolicyError(
        "cold_migration moves an index from UltraWarm to cold storage, so the warm age must be at least 1",
      );
    }
  }
}
