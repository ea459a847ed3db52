/** A scripted stand-in for the `@opensearch-project/opensearch` transport: records requests, answers by route. */
import type {
  OpenSearchTransportClient,
  TransportRequest,
} from "../../../../lambdas/core/opensearch/bootstrap.js";

export interface FakeReply {
  statusCode: number;
  body?: unknown;
}

export type Route = (request: TransportRequest) => FakeReply | undefined;

export class FakeOpenSearch implements OpenSearchTransportClient {
  readonly requests: TransportRequest[] = [];
  private readonly routes: Route[] = [];

  /** Later routes take precedence; an unrouted request answers 200 `{ acknowledged: true }`. */
  on(
    method: TransportRequest["method"],
    path: string | RegExp,
    reply: FakeReply | ((r: TransportRequest) => FakeReply),
  ) {
    this.routes.unshift((request) => {
      const pathMatches = typeof path === "string" ? request.path === path : path.test(request.path);
      if (request.method !== method || !pathMatches) return undefined;
      return typeof reply === "function" ? reply(request) : reply;
    });
    return this;
  }

  readonly transport = {
    request: async (request: TransportRequest) => {
      this.requests.push(request);
      for (const route of this.routes) {
        const reply = route(request);
        if (reply !== undefined) return { statusCode: reply.statusCode, body: reply.body ?? {} };
      }
      return { statusCode: 200, body: { acknowledged: true } };
    },
  };

  /** `METHOD path` of every request, in order. */
  calls(): string[] {
    return this.requests.map((request) => `${request.method} ${request.path}`);
  }
}

/** What a node without the security or ISM plugin answers for their routes. */
export function noHandler(request: TransportRequest): FakeReply {
  return {
    statusCode: 400,
    body: { error: `no handler found for uri [${request.path}] and method [${request.method}]` },
  };
}
