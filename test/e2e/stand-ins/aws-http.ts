/**
 * What every AWS API stand-in shares: an HTTPS server on 127.0.0.1 (a free port), the request body read with a
 * size bound, the SigV4 `Authorization` header required and its credential scope checked against the service
 * (a client signing for the wrong service, or not at all, is refused as AWS refuses it), and AWS's error shapes
 * for the JSON protocols (`__type`, `message`) and the query protocol (`<ErrorResponse>`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TlsMaterial } from "./tls.js";

export class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SignedRequest {
  readonly target: string | undefined;
  readonly body: Buffer;
  readonly headers: IncomingMessage["headers"];
  readonly path: string;
  readonly method: string;
}

export interface StandInServer {
  /** `https://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The credential scope of a SigV4 `Authorization` header: `<key>/<date>/<region>/<service>/aws4_request`. */
export function credentialScope(
  authorization: string | undefined,
): { region: string; service: string } | undefined {
  const match =
    /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/.exec(
      authorization ?? "",
    );
  return match === null ? undefined : { region: match[1] as string, service: match[2] as string };
}

/** Reads the body, refusing one over `maxBytes` (the service's own request limit) with `413`. */
export async function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes)
      throw new AwsError(413, "RequestEntityTooLarge", `request body over ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export interface ServeOptions {
  readonly tls: TlsMaterial;
  /** The SigV4 service name the requests must be signed for (`firehose`, `sns`, `secretsmanager`, …). */
  readonly signingName: string;
  /** The largest request body the service accepts. */
  readonly maxBodyBytes: number;
  /** `json` (X-Amz-Target protocols) or `query` (form-encoded, XML answers: SNS). */
  readonly protocol: "json" | "query";
  readonly handle: (
    request: SignedRequest,
  ) => Promise<{ status?: number; body: string; contentType?: string }>;
}

function errorBody(protocol: "json" | "query", error: AwsError): { body: string; contentType: string } {
  if (protocol === "json") {
    return {
      body: JSON.stringify({ __type: error.code, message: error.message }),
      contentType: "application/x-amz-json-1.1",
    };
  }
  const escaped = error.message.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return {
    body: `<ErrorResponse><Error><Type>${error.status >= 500 ? "Receiver" : "Sender"}</Type><Code>${error.code}</Code><Message>${escaped}</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`,
    contentType: "text/xml",
  };
}

/** Starts the HTTPS server; every request is checked for a SigV4 signature for `signingName` first. */
export async function serveAws(options: ServeOptions): Promise<StandInServer> {
  const server: Server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    void respond(options, req, res);
  });
  return listenOnLoopback(server);
}

/**
 * Serves `server` on a free port of 127.0.0.1, keeping idle connections as AWS's endpoints do: about a minute.
 * Node's 5 s default would reset the clients' pooled sockets between calls, and a request caught in that race is
 * retried by the SDK (a second delivery).
 */
export async function listenOnLoopback(server: Server): Promise<StandInServer> {
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function respond(options: ServeOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const scope = credentialScope(req.headers.authorization);
    if (scope === undefined) {
      throw new AwsError(400, "MissingAuthenticationTokenException", "Missing Authentication Token");
    }
    if (scope.service !== options.signingName) {
      throw new AwsError(
        403,
        "InvalidSignatureException",
        `Credential should be scoped to correct service: '${options.signingName}', not '${scope.service}'`,
      );
    }
    const body = await readBody(req, options.maxBodyBytes);
    const target = req.headers["x-amz-target"];
    const out = await options.handle({
      target: Array.isArray(target) ? target[0] : target,
      body,
      headers: req.headers,
      path: req.url ?? "/",
      method: req.method ?? "GET",
    });
    res.writeHead(out.status ?? 200, {
      "content-type": out.contentType ?? "application/x-amz-json-1.1",
      "x-amzn-requestid": crypto.randomUUID(),
    });
    res.end(out.body);
  } catch (caught) {
    const error =
      caught instanceof AwsError
        ? caught
        : new AwsError(500, "InternalFailure", caught instanceof Error ? caught.message : String(caught));
    const { body, contentType } = errorBody(options.protocol, error);
    res.writeHead(error.status, { "content-type": contentType, "x-amzn-requestid": crypto.randomUUID() });
    res.end(body);
  }
}

/** The JSON body of a JSON-protocol request, or a `SerializationException` as the service answers. */
export function jsonBody(request: SignedRequest): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(request.body.toString("utf8"));
    if (typeof value === "object" && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new AwsError(400, "SerializationException", "the request body is not a JSON object");
}

/** AWS's answer to a member that breaks a documented constraint. */
export function validation(message: string): AwsError {
  return new AwsError(400, "ValidationException", `1 validation error detected: ${message}`);
}
