import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { signedOpenSearchClient } from "../../../lambdas/shared/opensearch-client.js";

describe("signedOpenSearchClient", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("signs each request for the es service of the domain's region with the default credential chain", async () => {
    // Prepare: credentials from the environment (the chain's first source) and a loopback node
    vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ hits: { hits: [] } }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const client = signedOpenSearchClient({
      endpoint: "search-audit.eu-west-1.es.amazonaws.com",
      region: "eu-west-1",
      requestTimeoutMs: 5_000,
      node: `http://127.0.0.1:${port}`,
    });

    // Act
    try {
      await client.transport.request({ method: "POST", path: "/audit-*/_search", body: { size: 0 } });
    } finally {
      server.close();
    }

    // Assess
    expect(seen).toHaveLength(1);
    expect(seen[0]?.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/es\/aws4_request, /,
    );
  });
});
