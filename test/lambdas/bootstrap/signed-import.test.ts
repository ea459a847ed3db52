/**
 * The real `@opensearch-project/opensearch` client with the SigV4 signer the bootstrap Lambda uses, against a local
 * HTTP server standing in for the domain: the multipart import reaches it byte for byte, and the signature covers
 * its body, content type and Dashboards headers (recomputed here from the received request, independently of the
 * signer).
 */
import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@opensearch-project/opensearch";
import { AwsSigv4Signer } from "@opensearch-project/opensearch/aws-v3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AMAZON_OPENSEARCH_DASHBOARDS,
  bootstrapDomain,
  buildDashboardsSavedObjects,
  renderSavedObjectsNdjson,
} from "../../../lambdas/core/opensearch/index.js";
import { bootstrapSettings } from "../../fixtures/bootstrap-settings.js";
import { DEFAULT_AUDIT_CONFIG } from "../core/opensearch/fake-transport.js";
import { parseMultipart } from "../core/opensearch/multipart.js";

const REGION = "eu-west-1";
const CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};

const settings = bootstrapSettings({
  DomainEndpoint: "localhost",
  DomainName: "audit-trail-dev",
  HotDays: 3,
  DeleteAfterDays: 30,
  ReplicaCount: 0,
});

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: Buffer;
}

function answer(method: string, url: string): { status: number; body?: unknown } {
  if (method === "HEAD" && url === "/audit-alerts") return { status: 404 };
  if (method === "GET" && url.startsWith("/_plugins/_ism/policies/"))
    return { status: 404, body: { error: "none" } };
  if (method === "GET" && url === "/_plugins/_security/api/audit")
    return { status: 200, body: { config: DEFAULT_AUDIT_CONFIG } };
  if (method === "POST" && url.startsWith("/_dashboards/api/saved_objects/_import")) {
    return { status: 200, body: { success: true, successCount: buildDashboardsSavedObjects().length } };
  }
  return { status: 200, body: { acknowledged: true } };
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

/** SigV4 of a received request, from its signed headers as they arrived. */
function expectedSignature(request: Received, signedHeaders: string[], amzDate: string): string {
  const [path, query = ""] = request.url.split("?");
  const canonicalHeaders = signedHeaders
    .map((name) => `${name}:${String(request.headers[name]).trim().replace(/\s+/g, " ")}\n`)
    .join("");
  const canonicalRequest = [
    request.method,
    path,
    query.split("&").sort().join("&"),
    canonicalHeaders,
    signedHeaders.join(";"),
    sha256(request.body),
  ].join("\n");
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${REGION}/es/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${CREDENTIALS.secretAccessKey}`, day), REGION), "es"), "aws4_request");
  return createHmac("sha256", key).update(stringToSign).digest("hex");
}

describe("the bootstrap's signed client sending the Dashboards import", () => {
  const received: Received[] = [];
  let server: Server;
  let client: Client;

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const method = request.method ?? "";
        const url = request.url ?? "";
        received.push({ method, url, headers: request.headers, body: Buffer.concat(chunks) });
        const { status, body } = answer(method, url);
        response.writeHead(status, { "content-type": "application/json" });
        response.end(method === "HEAD" || body === undefined ? undefined : JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    client = new Client({
      ...AwsSigv4Signer({ region: REGION, service: "es", getCredentials: async () => CREDENTIALS }),
      node: `http://127.0.0.1:${port}`,
    });
    await bootstrapDomain(client, settings, { dashboards: AMAZON_OPENSEARCH_DASHBOARDS });
  });

  afterAll(async () => {
    await client.close();
    await new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
  });

  it("sends the NDJSON as the multipart file field, unchanged, with Dashboards' headers", () => {
    // Act
    const request = received.find((candidate) => candidate.url.startsWith("/_dashboards/"));

    // Assess
    expect(request?.method).toBe("POST");
    expect(request?.url).toBe("/_dashboards/api/saved_objects/_import?overwrite=true");
    expect(request?.headers["osd-xsrf"]).toBe("true");
    expect(request?.headers.securitytenant).toBe("global");
    const fields = parseMultipart(String(request?.headers["content-type"]), request?.body ?? Buffer.alloc(0));
    expect(fields.map((field) => [field.name, field.fileName])).toEqual([
      ["file", "mesh-audit-trail.ndjson"],
    ]);
    expect(fields[0]?.value).toBe(renderSavedObjectsNdjson(buildDashboardsSavedObjects()));
  });

  it("signs the request body, its multipart content type and the Dashboards headers with SigV4", () => {
    // Prepare
    const request = received.find((candidate) => candidate.url.startsWith("/_dashboards/"));
    if (request === undefined) throw new Error("no import request arrived");
    const authorization = String(request.headers.authorization);
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    if (match === null) throw new Error(`not a SigV4 authorization header: ${authorization}`);
    const [, credential, signedHeaderList, signature] = match as unknown as [string, string, string, string];
    const signedHeaders = signedHeaderList.split(";");
    const amzDate = String(request.headers["x-amz-date"]);

    // Act
    const recomputed = expectedSignature(request, signedHeaders, amzDate);

    // Assess
    expect(credential).toBe(`${CREDENTIALS.accessKeyId}/${amzDate.slice(0, 8)}/${REGION}/es/aws4_request`);
    expect(request.headers["x-amz-content-sha256"]).toBe(sha256(request.body));
    expect(signedHeaders).toEqual(
      expect.arrayContaining([
        "content-type",
        "host",
        "osd-xsrf",
        "securitytenant",
        "x-amz-content-sha256",
        "x-amz-date",
      ]),
    );
    expect(signature).toBe(recomputed);
  });
});
