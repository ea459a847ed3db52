/**
 * `posture -c env=NAME` and `review -c env=NAME` reach the environment's indices: the stack's outputs from
 * CloudFormation (aws-sdk-client-mock), then the real SigV4-signed OpenSearch client with the credentials the SDK's
 * default chain resolves (here: the environment variables), against a local HTTP server standing in for the domain.
 * Nothing is sent to AWS.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { GetPublicKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { parsePostureArgs, command as postureCommand } from "../../../lambdas/cli/commands/posture.js";
import { parseReviewArgs, command as reviewCommand } from "../../../lambdas/cli/commands/review.js";
import { postureFromEnvironment, reviewFromEnvironment } from "../../../lambdas/cli/indices.js";
import { EnvironmentAccessError } from "../../../lambdas/cli/indices-errors.js";
import { writeDueDigests } from "../../../lambdas/digest-writer/write-digests.js";
import { FakeLedger, FakeS3 } from "../archiver/fake-aws.js";
import { HOUR, keyPair } from "../core/digest/local-archive-helpers.js";
import { digestWriterDeps, kmsPublicKey, stageAndArchive } from "../digest-writer/chain-on-fake-aws.js";
import { parsedArgs } from "./helpers.js";

const REGION = "eu-central-1";
const ACCESS_KEY = "AKIDINDICESTEST";
const SESSION_TOKEN = "session-token-of-the-test";

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: Record<string, unknown>;
}

/** 1,500 mesh requests into namespace shop: two pages of the traffic search (1,000 a page). */
const TRAFFIC = Array.from({ length: 1500 }, (_, i) => ({
  "@timestamp": new Date(Date.parse("2026-03-02T10:00:00Z") + i * 1000).toISOString(),
  event: { id: `req-${String(i).padStart(5, "0")}`, dataset: "istio.access", kind: "event" },
  orchestrator: { cluster: { name: "prod" } },
  mesh: {
    name: "istio",
    direction: "inbound",
    mtls: true,
    mtls_evidence: "peer_certificate",
    destination: { namespace: "shop", service: "cart.shop.svc.cluster.local" },
  },
}));

function answer(request: Received): unknown {
  const body = request.body;
  const after = body.search_after as unknown[] | undefined;
  const isTraffic = JSON.stringify(body.query).includes('"mesh.name"');
  if (!isTraffic || body.size === 0) return { _shards: { failed: 0 }, hits: { hits: [] } };
  const from = after === undefined ? 0 : TRAFFIC.findIndex((doc) => doc.event.id === after[1]) + 1;
  const page = TRAFFIC.slice(from, from + (body.size as number));
  return {
    _shards: { failed: 0 },
    hits: {
      hits: page.map((doc) => ({ _source: doc, sort: [Date.parse(doc["@timestamp"]), doc.event.id] })),
    },
  };
}

let server: Server;
let endpoint: string;
const received: Received[] = [];
const cloudFormation = mockClient(CloudFormationClient);
const saved = { ...process.env };

function stackWith(domainEndpoint: string) {
  return {
    Stacks: [
      {
        StackName: "AuditTrail-dev",
        StackStatus: "UPDATE_COMPLETE" as const,
        CreationTime: new Date(),
        Outputs: [
          { OutputKey: "DeliveryStreamName", OutputValue: "audit-trail-dev" },
          { OutputKey: "Region", OutputValue: REGION },
          { OutputKey: "DomainEndpoint", OutputValue: domainEndpoint },
          { OutputKey: "OpsTopicArn", OutputValue: `arn:aws:sns:${REGION}:111122223333:ops` },
          { OutputKey: "DetectorFunctionName", OutputValue: "detector" },
        ],
      },
    ],
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const request = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown>,
      };
      received.push(request);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(answer(request)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  received.length = 0;
  cloudFormation.reset();
  for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
  process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = "secret-of-the-test";
  process.env.AWS_SESSION_TOKEN = SESSION_TOKEN;
  process.env.AWS_REGION = REGION;
  process.env.AWS_EC2_METADATA_DISABLED = "true";
});

afterEach(() => {
  vi.restoreAllMocks();
  process.env = { ...saved };
});

function postureArgs(argv: string[]) {
  return parsedArgs(parsePostureArgs(argv));
}

const sink = { write: () => true };
/** The stand-in speaks plain HTTP; the CLI sends HTTPS to the real endpoint. */
const plainHttp = { nodeUrl: (domain: string) => `http://${domain}` };

describe("posture -c env=NAME against the environment's domain", () => {
  it("reads the stack's outputs, then searches the domain endpoint with SigV4 and the resolved credentials", async () => {
    // Prepare
    cloudFormation.on(DescribeStacksCommand, { StackName: "AuditTrail-dev" }).resolves(stackWith(endpoint));

    // Act
    const report = await postureFromEnvironment(
      postureArgs(["-c", "env=dev", "--until", "2026-03-02T11:00:00Z", "--since", "1d"]),
      sink,
      plainHttp,
    );

    // Assess
    expect(cloudFormation.commandCalls(DescribeStacksCommand)).toHaveLength(1);
    expect(received.length).toBeGreaterThan(0);
    for (const request of received) {
      expect(request.method).toBe("POST");
      expect(request.url).toMatch(/^\/audit-\*[^/]*\/_search|^\/audit-alerts\/_search/);
      // Signed for the endpoint's host (the real one is on 443, which the header leaves out).
      expect(request.headers.host).toBe(endpoint.split(":")[0]);
      expect(request.headers.authorization).toContain("host");
      expect(request.headers["x-amz-security-token"]).toBe(SESSION_TOKEN);
      expect(request.headers.authorization).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/\\d{8}/${REGION}/es/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$`,
        ),
      );
      expect(request.headers["x-amz-content-sha256"]).toMatch(/^[0-9a-f]{64}$/);
    }
    const shop = report.clusters.find((c) => c.name === "prod")?.namespaces.find((n) => n.name === "shop");
    expect(shop?.traffic.requests).toBe(1500);
  });

  it("pages through the traffic with search_after until a page comes back short", async () => {
    // Prepare
    cloudFormation.on(DescribeStacksCommand).resolves(stackWith(endpoint));

    // Act
    await postureFromEnvironment(
      postureArgs(["-c", "env=dev", "--until", "2026-03-02T11:00:00Z", "--since", "1d"]),
      sink,
      plainHttp,
    );

    // Assess
    const traffic = received.filter((r) => JSON.stringify(r.body.query).includes('"mesh.name"'));
    expect(traffic.map((r) => r.body.search_after)).toEqual([
      undefined,
      [Date.parse(TRAFFIC[999]?.["@timestamp"] ?? ""), "req-00999"],
    ]);
    expect(traffic.every((r) => r.body.size === 1000)).toBe(true);
  });
});

describe("what the user sees when the environment cannot be reached", () => {
  let err: string[];
  beforeEach(() => {
    err = [];
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => err.push(String(chunk)) > 0);
  });

  it("a stack that is not deployed: which stack, where, and how to deploy it (exit status 2)", async () => {
    // Prepare
    const missing = new Error("Stack with id AuditTrail-dev does not exist");
    missing.name = "ValidationError";
    cloudFormation.on(DescribeStacksCommand).rejects(missing);

    // Act
    const status = await postureCommand.run(["-c", "env=dev"]);

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toBe(
      "audit-trail posture: stack AuditTrail-dev not found in the region of your AWS configuration: deploy it (npx cdk deploy -c env=dev), or pass --region where it is deployed\n",
    );
  });

  it("a stack without the domain's endpoint output: which output, and to deploy this version", async () => {
    // Prepare
    const stack = stackWith(endpoint);
    const outputs = stack.Stacks[0]?.Outputs.filter((o) => o.OutputKey !== "DomainEndpoint");
    cloudFormation
      .on(DescribeStacksCommand)
      .resolves({ Stacks: [{ ...stack.Stacks[0], Outputs: outputs }] } as never);

    // Act
    const status = await reviewCommand.run(["-c", "env=dev"]);

    // Assess
    expect(status).toBe(2);
    expect(err.join("")).toMatch(
      /^audit-trail review: stack AuditTrail-dev \(UPDATE_COMPLETE\) has no output DomainEndpoint: /,
    );
  });

  it("an endpoint nothing answers at: the address, and that a VPC domain needs its VPC", async () => {
    // Prepare: a port nothing listens on.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadEndpoint = `127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    cloudFormation.on(DescribeStacksCommand).resolves(stackWith(deadEndpoint));

    // Act
    const failure = await postureFromEnvironment(postureArgs(["-c", "env=dev"]), sink, plainHttp).catch(
      (error: unknown) => error as Error,
    );

    // Assess
    expect(failure).toBeInstanceOf(EnvironmentAccessError);
    expect((failure as Error).message).toMatch(
      new RegExp(
        `^cannot reach https://${deadEndpoint} \\(.*\\): a VPC domain is reachable only from inside its VPC`,
      ),
    );
  });
});

describe("review -c env=NAME reads the pipeline's health from the archive", () => {
  const ARCHIVE = "audit-archive-dev";
  const KEY_ARN = "arn:aws:kms:eu-central-1:111122223333:key/digests";
  const keys = keyPair();
  const kms = mockClient(KMSClient);
  let s3: FakeS3;
  let ledger: FakeLedger;
  const start = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
  const archiveClients = () => ({
    s3: new S3Client({ region: REGION }),
    kms: new KMSClient({ region: REGION }),
  });

  const archiveAt = (key: string, content: string, atMs: number) =>
    stageAndArchive(s3, ARCHIVE, key, content, atMs);

  const day = (ms: number) => new Date(ms).toISOString().slice(0, 13).replace(/-/g, "/").replace("T", "/");

  beforeEach(async () => {
    s3 = new FakeS3();
    ledger = new FakeLedger();
    kms.reset();
    kms.on(GetPublicKeyCommand).resolves(kmsPublicKey(keys.publicPem));
    // The archive's listing by prefix (what the scheduled review and this path read of the error prefixes).
    s3.mock.on(ListObjectsV2Command).callsFake(async (input) => {
      const objects = s3.buckets.get(input.Bucket ?? "") ?? new Map();
      const contents = [...objects.entries()]
        .filter(([key, versions]) => key.startsWith(input.Prefix ?? "") && versions.length > 0)
        .map(([key, versions]) => ({ Key: key, LastModified: versions.at(-1)?.lastModified }));
      return { Contents: contents, IsTruncated: false };
    });
    await archiveAt("documents/a", "alpha", start + 60_000);
    await archiveAt(`errors/processing-failed/${day(start)}/firehose-1`, "bad record", start + 2 * 60_000);
    await archiveAt(
      `errors/processing-failed/${day(start + HOUR)}/firehose-2`,
      "bad record",
      start + HOUR + 60_000,
    );
    await archiveAt(
      `errors/AmazonOpenSearchService-failed/${day(start + HOUR)}/firehose-3`,
      "refused",
      start + HOUR + 2 * 60_000,
    );
    await writeDueDigests(digestWriterDeps(ARCHIVE, keys.signer, () => Date.now()));
    s3.now = () => new Date();
    const stack = stackWith(endpoint);
    cloudFormation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          ...stack.Stacks[0],
          Outputs: [
            ...(stack.Stacks[0]?.Outputs ?? []),
            { OutputKey: "ArchiveBucketName", OutputValue: ARCHIVE },
            { OutputKey: "DigestSigningKeyArn", OutputValue: KEY_ARN },
          ],
        },
      ],
    } as never);
  });

  afterEach(() => {
    s3.mock.restore();
    ledger.mock.restore();
  });

  function reviewArgs() {
    return parsedArgs(parseReviewArgs(["-c", "env=dev", "--since", "1d"]));
  }

  it("counts the error prefix's objects of the period per reason and verifies the digest chain with KMS's key", async () => {
    // Act
    const report = await reviewFromEnvironment(reviewArgs(), sink, { ...plainHttp, archive: archiveClients });

    // Assess
    expect(report.pipeline.errorRecords).toMatchObject({
      count: 3,
      byReason: { "processing-failed": 2, "AmazonOpenSearchService-failed": 1 },
    });
    expect(report.pipeline.digestChain.status).toBe("verified");
    expect(report.pipeline.digestChain.detail).toMatch(
      /signatures, links and continuity verified; 4 objects/,
    );
    expect(kms.commandCalls(GetPublicKeyCommand)[0]?.args[0].input.KeyId).toBe(KEY_ARN);
  });

  it("reports a modified archived object as a failed chain, naming the object", async () => {
    // Prepare: a version written over an archived object.
    s3.put(ARCHIVE, "documents/a", "tampered", {
      checksum: true,
      lastModified: new Date(start + 70 * 60_000),
    });

    // Act
    const report = await reviewFromEnvironment(reviewArgs(), sink, { ...plainHttp, archive: archiveClients });

    // Assess
    expect(report.pipeline.digestChain.status).toBe("failed");
    expect(report.pipeline.digestChain.detail).toContain("documents/a");
  });

  it("a stack without the archive's outputs: which output, and to deploy this version", async () => {
    // Prepare
    cloudFormation.on(DescribeStacksCommand).resolves(stackWith(endpoint));

    // Act
    const failure = await reviewFromEnvironment(reviewArgs(), sink, {
      ...plainHttp,
      archive: archiveClients,
    }).catch((error: unknown) => error as Error);

    // Assess
    expect(failure).toBeInstanceOf(EnvironmentAccessError);
    expect((failure as Error).message).toMatch(
      /^stack AuditTrail-dev has no output ArchiveBucketName, DigestSigningKeyArn: /,
    );
  });
});
