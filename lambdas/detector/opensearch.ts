/**
 * The detection run's `SearchClient` over the OpenSearch client's transport (SigV4-signed in the handler):
 * `_search` and `_msearch`, real-time `GET _doc`, and `PUT _doc` or `_bulk` with `op_type=create` or
 * `if_seq_no`/`if_primary_term`, a 409 answered as a conflict rather than an error. `_msearch` and `_bulk` name the
 * index in the path only (never in their action lines), so the path the domain's access policy sees is the index
 * every search and write of the request goes to.
 */
import type {
  BulkResult,
  BulkWrite,
  MultiSearchAnswer,
  SearchClient,
  StoredDocument,
  WriteRequest,
  WriteResult,
} from "../core/detection/ports.js";

export interface TransportRequest {
  readonly method: "GET" | "POST" | "PUT";
  readonly path: string;
  readonly querystring?: Record<string, string | number | boolean>;
  readonly body?: Record<string, unknown>;
  /** NDJSON lines (`_msearch`, `_bulk`), one object a line. */
  readonly bulkBody?: Record<string, unknown>[];
}

/** What the detector uses of `@opensearch-project/opensearch`'s `Client`. */
export interface TransportClient {
  transport: {
    request(
      params: TransportRequest,
      options?: { ignore?: number[] },
    ): Promise<{ statusCode: number | null; body: unknown }>;
  };
}

/** An index expression in a path: encoded, but with the commas of a multi-target list (`a-*,-b`) kept. */
function indexPath(index: string): string {
  return encodeURIComponent(index).replaceAll("%2C", ",");
}

export class OpenSearchRequestError extends Error {
  override readonly name = "OpenSearchRequestError";
}

export function transportSearchClient(client: TransportClient): SearchClient {
  return {
    async search({ index, body }) {
      const response = await client.transport.request({
        method: "POST",
        path: `/${indexPath(index)}/_search`,
        // The alerts index does not exist before the first alert: answer with no hits rather than an error.
        querystring: { ignore_unavailable: true, allow_no_indices: true },
        body,
      });
      return response.body;
    },

    async get({ index, id }): Promise<StoredDocument | undefined> {
      const response = await client.transport.request(
        { method: "GET", path: `/${encodeURIComponent(index)}/_doc/${encodeURIComponent(id)}` },
        { ignore: [404] },
      );
      if (response.statusCode === 404) return undefined;
      const body = response.body as {
        found?: boolean;
        _id?: string;
        _source?: Record<string, unknown>;
        _seq_no?: number;
        _primary_term?: number;
      };
      if (body.found !== true) return undefined;
      if (body._source === undefined || body._seq_no === undefined || body._primary_term === undefined) {
        throw new OpenSearchRequestError(
          `GET ${index}/_doc/${id}: response lacks _source, _seq_no or _primary_term`,
        );
      }
      return { id, source: body._source, seqNo: body._seq_no, primaryTerm: body._primary_term };
    },

    async msearch({ index, bodies }): Promise<MultiSearchAnswer[]> {
      if (bodies.length === 0) return [];
      // The alerts index does not exist before the first alert: each search answers no hits rather than an error.
      const header = { ignore_unavailable: true, allow_no_indices: true };
      const response = await client.transport.request({
        method: "POST",
        path: `/${indexPath(index)}/_msearch`,
        bulkBody: bodies.flatMap((body) => [header, body]),
      });
      const answers = (response.body as { responses?: unknown }).responses;
      if (!Array.isArray(answers) || answers.length !== bodies.length) {
        throw new OpenSearchRequestError(
          `POST ${index}/_msearch: ${bodies.length} searches sent, ${Array.isArray(answers) ? answers.length : "no"} responses`,
        );
      }
      return answers.map((answer: { error?: unknown; status?: number }) =>
        answer.error === undefined
          ? { ok: true, body: answer }
          : { ok: false, error: `status ${answer.status ?? "?"}: ${reasonOf(answer.error)}` },
      );
    },

    async bulk({ index, writes }): Promise<BulkResult[]> {
      if (writes.length === 0) return [];
      const response = await client.transport.request({
        method: "POST",
        path: `/${encodeURIComponent(index)}/_bulk`,
        bulkBody: writes.flatMap((write) => [actionOf(write), write.document]),
      });
      const items = (response.body as { items?: unknown }).items;
      if (!Array.isArray(items) || items.length !== writes.length) {
        throw new OpenSearchRequestError(
          `POST ${index}/_bulk: ${writes.length} writes sent, ${Array.isArray(items) ? items.length : "no"} results`,
        );
      }
      return items.map((item: Record<string, BulkItem | undefined>, position): BulkResult => {
        const result = item.create ?? item.index;
        const id = writes[position]?.id;
        if (result === undefined || result._id !== id) {
          throw new OpenSearchRequestError(
            `POST ${index}/_bulk: result ${position} is not the write of ${id} (${JSON.stringify(item)})`,
          );
        }
        if (result.status === 409) return { outcome: "conflict" };
        if (result.error !== undefined || result.status >= 300) {
          return { outcome: "failed", error: `status ${result.status}: ${reasonOf(result.error)}` };
        }
        if (result._seq_no === undefined || result._primary_term === undefined) {
          throw new OpenSearchRequestError(
            `POST ${index}/_bulk: the result of ${id} lacks _seq_no or _primary_term`,
          );
        }
        return { outcome: "written", seqNo: result._seq_no, primaryTerm: result._primary_term };
      });
    },

    async refresh({ index }): Promise<void> {
      await client.transport.request({ method: "POST", path: `/${encodeURIComponent(index)}/_refresh` });
    },

    async write(request: WriteRequest): Promise<WriteResult> {
      const querystring: Record<string, string | number> = {};
      if (request.create === true) querystring.op_type = "create";
      if (request.ifSeqNo !== undefined && request.ifPrimaryTerm !== undefined) {
        querystring.if_seq_no = request.ifSeqNo;
        querystring.if_primary_term = request.ifPrimaryTerm;
      }
      const response = await client.transport.request(
        {
          method: "PUT",
          path: `/${encodeURIComponent(request.index)}/_doc/${encodeURIComponent(request.id)}`,
          querystring,
          body: request.document,
        },
        { ignore: [409] },
      );
      if (response.statusCode === 409) return { outcome: "conflict" };
      const body = response.body as { _seq_no?: number; _primary_term?: number };
      if (body._seq_no === undefined || body._primary_term === undefined) {
        throw new OpenSearchRequestError(
          `PUT ${request.index}/_doc/${request.id}: response lacks _seq_no or _primary_term`,
        );
      }
      return { outcome: "written", seqNo: body._seq_no, primaryTerm: body._primary_term };
    },
  };
}

interface BulkItem {
  readonly _id?: string;
  readonly status: number;
  readonly error?: unknown;
  readonly _seq_no?: number;
  readonly _primary_term?: number;
}

/** A `_bulk` action line: `create` (fails on an existing id) or `index` guarded by the sequence number. */
function actionOf(write: BulkWrite): Record<string, unknown> {
  if (write.create === true) return { create: { _id: write.id } };
  return {
    index: {
      _id: write.id,
      ...(write.ifSeqNo === undefined || write.ifPrimaryTerm === undefined
        ? {}
        : { if_seq_no: write.ifSeqNo, if_primary_term: write.ifPrimaryTerm }),
    },
  };
}

/** The node's reason for refusing one search or write: its `type: reason`, else the error as JSON. */
function reasonOf(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const { type, reason } = error as { type?: unknown; reason?: unknown };
    if (typeof type === "string" || typeof reason === "string") {
      return [type, reason].filter((part) => typeof part === "string").join(": ");
    }
  }
  return typeof error === "string" ? error : JSON.stringify(error);
}
