/**
 * Sending the canary records: one `PutRecordBatch`, then the entries Firehose refused (`FailedPutCount` > 0,
 * typically `ServiceUnavailableException` when the stream is throttled) again, with exponential backoff, until
 * every record is accepted or the attempts run out. A call that fails as a whole (access denied, no such stream)
 * is not retried here: the SDK has already retried what is retryable, and the error names the cause.
 */

import { errorDescription } from "../errors.js";
import type { CanaryClock, CanaryRecordSender, RecordFailure } from "./ports.js";
import type { CanaryRecord, CanarySource } from "./records.js";

export interface SendOptions {
  /** Attempts per record, the first included. @default 4 */
  readonly attempts?: number;
  /** Wait before the first retry; doubles on each further retry. @default 500 */
  readonly backoffMs?: number;
}

/** What became of one record. */
export type SendOutcome =
  | {
      readonly source: CanarySource;
      readonly sent: true;
      readonly sentAtMs: number;
      readonly attempts: number;
    }
  | {
      readonly source: CanarySource;
      readonly sent: false;
      readonly error: string;
      readonly attempts: number;
    };

/** Four attempts, 0.5 s, 1 s and 2 s apart: a throttled stream recovers within seconds. */
export const SEND_DEFAULTS = { attempts: 4, backoffMs: 500 } as const;

/** Sends the records, retrying refused ones; one outcome per record, in the records' order. */
export async function sendCanaryRecords(
  sender: CanaryRecordSender,
  records: readonly CanaryRecord[],
  clock: CanaryClock,
  options: SendOptions = {},
): Promise<SendOutcome[]> {
  const attempts = Math.max(1, options.attempts ?? SEND_DEFAULTS.attempts);
  const backoffMs = options.backoffMs ?? SEND_DEFAULTS.backoffMs;
  const outcomes = new Map<CanarySource, SendOutcome>();
  let pending = [...records];
  for (let attempt = 1; attempt <= attempts && pending.length > 0; attempt++) {
    if (attempt > 1) await clock.sleep(backoffMs * 2 ** (attempt - 2));
    let results: readonly (RecordFailure | undefined)[];
    try {
      results = await sender.putRecordBatch(pending.map((record) => record.data));
    } catch (error: unknown) {
      const reason = errorDescription(error);
      for (const record of pending) {
        outcomes.set(record.source, { source: record.source, sent: false, error: reason, attempts: attempt });
      }
      pending = [];
      break;
    }
    const acceptedAtMs = clock.now();
    const refused: CanaryRecord[] = [];
    pending.forEach((record, index) => {
      const failure: RecordFailure | undefined =
        index < results.length
          ? results[index]
          : { errorCode: "NoResponse", errorMessage: "Firehose returned no response entry for this record" };
      if (failure === undefined) {
        outcomes.set(record.source, {
          source: record.source,
          sent: true,
          sentAtMs: acceptedAtMs,
          attempts: attempt,
        });
        return;
      }
      const message = failure.errorMessage === "" ? "" : `: ${failure.errorMessage}`;
      outcomes.set(record.source, {
        source: record.source,
        sent: false,
        error: `${failure.errorCode}${message}`,
        attempts: attempt,
      });
      refused.push(record);
    });
    pending = refused;
  }
  return records.map((record) => outcomes.get(record.source) as SendOutcome);
}
