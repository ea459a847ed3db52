/**
 * The ledger table's items (partition key `pk`, sort key `sk`, both strings). Pure key and item shapes shared
 * by the archiver and the digest writer; the DynamoDB calls live in the handlers.
 *
 * - `OBJECT#<key>` / `OBJECT`: one per archived key, written once (`attribute_not_exists`): the idempotency
 *   marker. Holds the period the object was recorded in.
 * - `PERIOD#<periodStartMs>` / `OBJ#<key>`: the object's record, queried when the period is sealed.
 * - `CHAIN` / `HEAD`: the head of the chain. `nextPeriodStartMs` is the first open period: the archiver's
 *   transaction checks `nextPeriodStartMs <= :period`, so nothing can be recorded into a period once the digest
 *   writer has closed it. `sequence` and `lastDigestKey`/`lastDigestSha256` name the last sealed digest;
 *   `sealing` (a period start) is set while a closed period's digest is being written.
 */
export const HEAD_KEY = { pk: "CHAIN", sk: "HEAD" } as const;

export function objectMarkerKey(objectKey: string): { pk: string; sk: string } {
  return { pk: `OBJECT#${objectKey}`, sk: "OBJECT" };
}

export function periodPartition(periodStartMs: number): string {
  return `PERIOD#${periodStartMs}`;
}

export const PERIOD_OBJECT_PREFIX = "OBJ#";

export function periodObjectKey(periodStartMs: number, objectKey: string): { pk: string; sk: string } {
  return { pk: periodPartition(periodStartMs), sk: `${PERIOD_OBJECT_PREFIX}${objectKey}` };
}

/** The head item's attributes (besides `pk`/`sk`). */
export interface HeadItem {
  readonly nextPeriodStartMs: number;
  readonly sequence: number;
  readonly lastDigestKey?: string;
  readonly lastDigestSha256?: string;
  /** Set between closing a period and recording its digest: the digest of this period must be written next. */
  readonly sealingPeriodStartMs?: number;
}

/** A period's object record. */
export interface LedgerObjectItem {
  readonly key: string;
  readonly versionId: string;
  readonly size: number;
  readonly sha256: string;
  readonly archivedAt: string;
  readonly periodStartMs: number;
}
