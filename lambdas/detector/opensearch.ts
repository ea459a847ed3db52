/**
 * The detection run's `SearchClient` over the OpenSearch client's transport (SigV4-signed in the handler):
 * `_search`, real-time `GET _doc`, and `PUT _doc` with `op_type=create` or `if_seq_no`/`if_primary_term`, a 409
 * answered as a conflict rather than an error.
 */
import type { SearchClient, StoredDocument, WriteRequest, WriteResult } from "../core/detection/ports.js";

export interface TransportRequest {
  readonly method: "GET" | "POST" | "PUT";
  readonly path: string;
  readonly querystring?: Record<string, string | number | boolean>;
  readonly body?: Record<string, unknown>;
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
