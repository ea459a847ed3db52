/**
 * What the detection run needs from the outside world, as small interfaces: the handler wires them to the
 * SigV4-signed OpenSearch client and SNS; tests feed recorded OpenSearch responses and fakes.
 */

import type { SnsAlertMessage } from "../alerts/render.js";
import type { AlertTopic } from "../contracts.js";

/** The OpenSearch operations the detector uses, with the REST API's request and response bodies. */
export interface SearchClient {
  /** `POST /{index}/_search`; resolves to the response body (`took`, `_shards`, `hits`, `aggregations`). */
  search(request: { readonly index: string; readonly body: Record<string, unknown> }): Promise<unknown>;
  /** `GET /{index}/_doc/{id}` (real time); `undefined` when the document does not exist. */
  get(request: { readonly index: string; readonly id: string }): Promise<StoredDocument | undefined>;
  /**
   * `PUT /{index}/_doc/{id}` with `op_type=create` (`create: true`) or optimistic concurrency (`ifSeqNo` and
   * `ifPrimaryTerm`). A 409 resolves to `{ outcome: "conflict" }`; other failures reject.
   */
  write(request: WriteRequest): Promise<WriteResult>;
  /** `POST /{index}/_refresh`: what was written becomes searchable now rather than within the refresh interval. */
  refresh(request: { readonly index: string }): Promise<void>;
  /**
   * `POST /{index}/_msearch`: the searches in one request, all on `index`. Resolves to one answer per body, in
   * order: the search's response body, or the error the node gave that search alone; rejects when the request as
   * a whole fails.
   */
  msearch(request: {
    readonly index: string;
    readonly bodies: readonly Record<string, unknown>[];
  }): Promise<MultiSearchAnswer[]>;
  /**
   * `POST /{index}/_bulk`: the writes in one request, each as `write` makes it (`create`, or `ifSeqNo` and
   * `ifPrimaryTerm`). Resolves to one result per write, in order: a 409 is a `conflict`, any other refusal of that
   * write alone `failed` with the node's reason; rejects when the request as a whole fails.
   */
  bulk(request: { readonly index: string; readonly writes: readonly BulkWrite[] }): Promise<BulkResult[]>;
}

export type MultiSearchAnswer =
  | { readonly ok: true; readonly body: unknown }
  | { readonly ok: false; readonly error: string };

/** One write of a `_bulk` request: a `WriteRequest` on the request's index. */
export type BulkWrite = Omit<WriteRequest, "index">;

export type BulkResult = WriteResult | { readonly outcome: "failed"; readonly error: string };

export interface StoredDocument {
  readonly id: string;
  readonly source: Record<string, unknown>;
  readonly seqNo: number;
  readonly primaryTerm: number;
}

export interface WriteRequest {
  readonly index: string;
  readonly id: string;
  readonly document: Record<string, unknown>;
  /** Fail with a conflict when the id exists (`op_type=create`). */
  readonly create?: boolean;
  /** Fail with a conflict unless the stored document still has this sequence number and primary term. */
  readonly ifSeqNo?: number;
  readonly ifPrimaryTerm?: number;
}

export type WriteResult =
  | { readonly outcome: "written"; readonly seqNo: number; readonly primaryTerm: number }
  | { readonly outcome: "conflict" };

/** Publishes one alert to its topic (its severity's, or `ops`); resolves to the SNS message id. */
export interface AlertPublisher {
  publish(topic: AlertTopic, message: SnsAlertMessage): Promise<string>;
}

/** The Powertools logger satisfies this. */
export interface DetectionLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}
