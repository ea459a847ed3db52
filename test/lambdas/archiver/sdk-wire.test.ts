/**
 * The archiver's copy through the real AWS SDK serializer, against an S3 stand-in on the loopback interface:
 * proves the request carries what Object Lock requires (`x-amz-sdk-checksum-algorithm`, a SHA-256 trailer),
 * `If-None-Match: *`, and a streamed (aws-chunked) body rather than a buffered one.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveObject } from "../../../lambdas/archiver/archive.js";
import { periodPartition } from "../../../lambdas/core/digest/ledger.js";
import { startChain } from "../../../lambdas/digest-writer/write-digests.js";
import { FakeLedger } from "./fake-aws.js";

const CONTENT = Buffer.alloc(300_000, '{"event":{"dataset":"cilium.hubble"}}\n');

/** Decodes an aws-chunked body: `<hex size>\r\n<data>\r\n` … `0\r\n<trailers>\r\n\r\n`. */
function decodeAwsChunked(raw: Buffer): { data: Buffer; trailers: Record<string, string> } {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", offset);
    const size = Number.parseInt(raw.subarray(offset, lineEnd).toString().split(";")[0] ?? "", 16);
    offset = lineEnd + 2;
    if (size === 0) break;
    parts.push(raw.subarray(offset, offset + size));
    offset += size + 2;
  }
  const trailers = Object.fromEntries(
    raw
      .subarray(offset)
      .toString()
      .split("\r\n")
      .filter((line) => line.includes(":"))
      .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1)]),
  );
  return { data: Buffer.concat(parts), trailers };
}

let server: Server;
let endpoint: string;
const received: { headers: IncomingHttpHeaders; data: Buffer; trailers: Record<string, string> }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.method === "GET" && req.url?.startsWith("/staging/")) {
        res.writeHead(200, {
          "content-length": String(CONTENT.length),
          "content-type": "application/octet-stream",
        });
        res.end(CONTENT);
        return;
      }
      if (req.method === "PUT" && req.url?.startsWith("/archive/")) {
        const { data, trailers } = decodeAwsChunked(Buffer.concat(chunks));
        received.push({ headers: req.headers, data, trailers });
        const sha = createHash("sha256").update(data).digest("base64");
        if (trailers["x-amz-checksum-sha256"] !== sha) {
          res.writeHead(400);
          res.end("<Error><Code>BadDigest</Code></Error>");
          return;
        }
        res.writeHead(200, { "x-amz-version-id": "3HL4kqtJlcpXroDTDmJ", "x-amz-checksum-sha256": sha });
        res.end();
        return;
      }
      res.writeHead(404);
      res.end("<Error><Code>NoSuchKey</Code></Error>");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe("archiver copy on the wire", () => {
  it("streams the object with a SHA-256 trailer, the checksum-algorithm header and If-None-Match", async () => {
    // Prepare
    const ledger = new FakeLedger();
    await startChain(new DynamoDBClient({ region: "eu-west-1" }), "ledger", 0);
    const s3 = new S3Client({
      region: "eu-west-1",
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "example" },
    });
    const now = Date.parse("2026-11-23T10:00:00Z");

    try {
      // Act
      const result = await archiveObject(
        {
          s3,
          dynamo: new DynamoDBClient({ region: "eu-west-1" }),
          archiveBucketName: "archive",
          ledgerTableName: "ledger",
          periodMs: 3_600_000,
          now: () => now,
        },
        { bucket: "staging", key: "documents/2026/11/23/10/part-0001" },
      );

      // Assess
      const [put] = received;
      expect(put?.headers).toMatchObject({
        "x-amz-sdk-checksum-algorithm": "SHA256",
        "if-none-match": "*",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": String(CONTENT.length),
        "x-amz-trailer": "x-amz-checksum-sha256",
      });
      expect(put?.data.equals(CONTENT)).toBe(true);
      const sha256 = createHash("sha256").update(CONTENT).digest("hex");
      expect(result).toMatchObject({
        outcome: "archived",
        record: { versionId: "3HL4kqtJlcpXroDTDmJ", sha256, size: CONTENT.length },
      });
      expect(ledger.partition(periodPartition(now))[0]?.sha256?.S).toBe(sha256);
    } finally {
      ledger.mock.restore();
    }
  });
});
