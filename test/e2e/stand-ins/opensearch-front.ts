/**
 * The domain endpoint in front of a real OpenSearch node: HTTPS on 127.0.0.1 (an Amazon OpenSearch Service domain
 * is reached over HTTPS only, and the handlers build `https://<endpoint>`), every request required to carry a SigV4
 * signature for the `es` service, then passed to the plain-HTTP node unchanged and its answer passed back.
 */
import { request as httpRequest } from "node:http";
import { createServer } from "node:https";
import { credentialScope, listenOnLoopback, type StandInServer } from "./aws-http.js";
import type { TlsMaterial } from "./tls.js";

export interface OpenSearchFront extends StandInServer {
  /** `127.0.0.1:PORT`, what the stack's `AUDIT_TRAIL_DOMAIN_ENDPOINT` holds (a host name, no scheme). */
  readonly endpoint: string;
  /** Requests passed to the node, and requests refused for want of a signature. */
  readonly counters: { forwarded: number; unsigned: number };
}

export async function startOpenSearchFront(options: {
  tls: TlsMaterial;
  nodeUrl: string;
}): Promise<OpenSearchFront> {
  const node = new URL(options.nodeUrl);
  const counters = { forwarded: 0, unsigned: 0 };
  const server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    if (credentialScope(req.headers.authorization)?.service !== "es") {
      counters.unsigned++;
      res.writeHead(403, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: "Request not signed for the es service" }));
      return;
    }
    counters.forwarded++;
    const headers = { ...req.headers, host: node.host };
    const upstream = httpRequest(
      { host: node.hostname, port: node.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", (error) => {
      res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: `node unreachable: ${error.message}` }));
    });
    req.pipe(upstream);
  });
  const listening = await listenOnLoopback(server);
  return { ...listening, endpoint: `127.0.0.1:${listening.port}`, counters };
}
