/**
 * A scripted stand-in for the `@opensearch-project/opensearch` transport: records requests (with the headers passed
 * as request options), answers by route.
 */
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
    request: async (
      params: Omit<TransportRequest, "headers">,
      options?: { headers?: Record<string, string> },
    ) => {
      const request: TransportRequest =
        options?.headers === undefined ? params : { ...params, headers: options.headers };
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

/**
 * The audit configuration of a domain whose audit log was just enabled: the security plugin's defaults (successful
 * requests and reads not recorded).
 */
export const DEFAULT_AUDIT_CONFIG = {
  enabled: true,
  audit: {
    enable_rest: true,
    disabled_rest_categories: ["AUTHENTICATED", "GRANTED_PRIVILEGES"],
    enable_transport: true,
    disabled_transport_categories: ["AUTHENTICATED", "GRANTED_PRIVILEGES"],
    resolve_bulk_requests: false,
    log_request_body: true,
    resolve_indices: true,
    exclude_sensitive_headers: true,
    ignore_users: ["kibanaserver"],
    ignore_requests: [],
  },
  compliance: {
    enabled: true,
    internal_config: true,
    external_config: false,
    read_metadata_only: true,
    read_watched_fields: {},
    read_ignore_users: ["kibanaserver"],
    write_metadata_only: true,
    write_log_diffs: false,
    write_watched_indices: [],
    write_ignore_users: ["kibanaserver"],
  },
} as const;

export const AUDIT_CONFIG_PATH = "/_plugins/_security/api/audit";

/** Answers `GET _plugins/_security/api/audit` with `config` (the security plugin's answer shape). */
export function withAuditConfig(fake: FakeOpenSearch, config: object = DEFAULT_AUDIT_CONFIG): FakeOpenSearch {
  return fake.on("GET", AUDIT_CONFIG_PATH, { statusCode: 200, body: { _readonly: [], config } });
}

/** A domain bootstrapped for the first time: no alerts index, no ISM policy, the default audit configuration. */
export function freshDomain(): FakeOpenSearch {
  return withAuditConfig(new FakeOpenSearch())
    .on("HEAD", "/audit-alerts", { statusCode: 404 })
    .on("GET", /^\/_plugins\/_ism\/policies\//, {
      statusCode: 404,
      body: { error: { type: "status_exception" } },
    });
}
