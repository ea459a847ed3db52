/**
 * What the canary needs from the outside world, as small interfaces: the CLI wires them to Firehose
 * `PutRecordBatch` and to the SigV4-signed OpenSearch client; tests pass fakes, a fake clock and a sleep that
 * advances it.
 */
import type { SearchClient } from "../detection/ports.js";

/** Why Firehose refused one record of a batch (`RequestResponses[i].ErrorCode` / `ErrorMessage`). */
export interface RecordFailure {
  readonly errorCode: string;
  readonly errorMessage: string;
}

/** Sends records to the delivery stream in one `PutRecordBatch`. */
export interface CanaryRecordSender {
  /**
   * One entry per record, in order: `undefined` when the stream accepted it, the failure otherwise. Rejects when
   * the whole call fails (no access, no such stream): no record of the batch was accepted then.
   */
  putRecordBatch(records: readonly string[]): Promise<readonly (RecordFailure | undefined)[]>;
}

/** The one OpenSearch operation the canary uses: `POST /{index}/_search`, resolving to the response body. */
export type CanarySearch = Pick<SearchClient, "search">;

/** Time, injected so tests neither wait nor depend on the wall clock. */
export interface CanaryClock {
  /** Epoch milliseconds. */
  now(): number;
  sleep(ms: number): Promise<void>;
}
