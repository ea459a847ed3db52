/**
 * The scheduled review verifies the week's digest chain as `audit-trail verify --bucket` does (signatures with the
 * KMS key's public key, links, continuity, every object the digests name), bounded to the digest day prefixes of the
 * week, and stores the verdict in the weekly report.
 */
import { GetPublicKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  GetObjectAttributesCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { Context, ScheduledEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeDueDigests } from "../../../lambdas/digest-writer/write-digests.js";
import { loadReviewerConfig } from "../../../lambdas/reviewer/build.js";
import { FakeLedger, FakeS3 } from "../archiver/fake-aws.js";
import { HOUR, keyPair } from "../core/digest/local-archive-helpers.js";
import { digestWriterDeps, kmsPublicKey, stageAndArchive } from "../digest-writer/chain-on-fake-aws.js";
import { reviewerWith } from "./fixtures.js";

const REGION = "eu-west-1";
const ARCHIVE = "audit-archive-prod";
const KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/digests";
const ENV = {
  AUDIT_TRAIL_STACK_NAME: "AuditTrail-prod",
  AUDIT_TRAIL_COMPLIANCE_REQUESTS: "[]",
  AUDIT_TRAIL_ENVIRONMENT: "prod",
  AUDIT_TRAIL_DOMAIN_ENDPOINT: "search-prod.eu-west-1.es.amazonaws.com",
  AUDIT_TRAIL_ARCHIVE_BUCKET: ARCHIVE,
  AUDIT_TRAIL_OPS_TOPIC_ARN: "arn:aws:sns:eu-west-1:111122223333:ops",
  AUDIT_TRAIL_DIGEST_PERIOD_MINUTES: "60",
  AUDIT_TRAIL_DIGEST_SIGNING_KEY_ARN: KEY_ARN,
  AWS_REGION: REGION,
};
// Three sealed periods across midnight; the review runs just after the last one closed.
const START = Date.parse("2026-03-08T22:00:00Z");
const SCHEDULED = "2026-03-09T01:10:00Z";

const keys = keyPair();
const kms = mockClient(KMSClient);
const sns = mockClient(SNSClient);
let s3: FakeS3;
let ledger: FakeLedger;

const archiveAt = (key: string, content: string, atMs: number) =>
  stageAndArchive(s3, ARCHIVE, key, content, atMs);

function reviewer() {
  return reviewerWith({
    config: loadReviewerConfig(ENV),
    search: { search: async () => ({ hits: { hits: [] }, aggregations: { edges: { buckets: [] } } }) },
  });
}

/** The digest chain section of the JSON report the function stored. */
function storedChain(): { status: string; detail: string } {
  const json = s3.versions(ARCHIVE, "reports/weekly/2026-03-09/review.json").at(-1);
  if (json === undefined) throw new Error("no weekly report stored");
  return (JSON.parse(Buffer.from(json.body).toString("utf8")) as { pipeline: { digestChain: never } })
    .pipeline.digestChain;
}

describe("the scheduled review verifies the week's digest chain", () => {
  beforeEach(async () => {
    s3 = new FakeS3();
    ledger = new FakeLedger();
    kms.reset();
    sns.reset();
    kms.on(GetPublicKeyCommand).resolves(kmsPublicKey(keys.publicPem));
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    s3.mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
    await archiveAt("documents/2026/03/08/22/a", "alpha", START + 60_000);
    await archiveAt("documents/2026/03/08/23/b", "bravo", START + HOUR + 60_000);
    await archiveAt("documents/2026/03/09/00/c", "charlie", START + 2 * HOUR + 60_000);
    await writeDueDigests(digestWriterDeps(ARCHIVE, keys.signer, () => START + 3 * HOUR + 5 * 60_000));
    s3.now = () => new Date(Date.parse(SCHEDULED) + 30_000);
  });

  afterEach(() => {
    s3.mock.restore();
    ledger.mock.restore();
  });

  it("stores an intact chain as verified, with the KMS key's public key, listing only the week's digest days", async () => {
    // Act
    await reviewer()({ time: SCHEDULED } as ScheduledEvent, {} as Context);

    // Assess
    const chain = storedChain();
    expect(chain.status).toBe("verified");
    expect(chain.detail).toContain("3 digests");
    expect(chain.detail).toContain("3 objects' size and SHA-256 match");
    expect(kms.commandCalls(GetPublicKeyCommand).map((c) => c.args[0].input.KeyId)).toEqual([KEY_ARN]);
    const listed = s3.mock.commandCalls(ListObjectVersionsCommand).map((c) => c.args[0].input.Prefix);
    // One listing per day of the week (2026-03-02T01:10Z .. 2026-03-09T01:10Z), pages included; no data prefix.
    expect([...new Set(listed)]).toEqual(
      ["02", "03", "04", "05", "06", "07", "08", "09"].map((day) => `digests/2026/03/${day}/`),
    );
    expect(s3.mock.commandCalls(GetObjectAttributesCommand).map((c) => c.args[0].input.Key)).toEqual(
      expect.arrayContaining([
        "documents/2026/03/08/22/a",
        "documents/2026/03/08/23/b",
        "documents/2026/03/09/00/c",
      ]),
    );
  });

  it.each([
    [
      "an archived object's bytes changed",
      () => {
        const [version] = s3.versions(ARCHIVE, "documents/2026/03/08/23/b");
        if (version === undefined) throw new Error("object not archived");
        Object.assign(version, { body: new TextEncoder().encode("tampered") });
      },
      /modified-object documents\/2026\/03\/08\/23\/b \(version v\d+\): .* recorded 5 bytes/,
    ],
    [
      "an archived object's version deleted",
      () => {
        s3.versions(ARCHIVE, "documents/2026/03/09/00/c").length = 0;
      },
      /missing-object documents\/2026\/03\/09\/00\/c \(version v\d+\): named by digests\/2026\/03\/09\//,
    ],
  ])("stores the chain as failed, naming the object, when %s", async (_case, tamper, finding) => {
    // Prepare
    tamper();

    // Act
    await reviewer()({ time: SCHEDULED } as ScheduledEvent, {} as Context);

    // Assess
    const chain = storedChain();
    expect(chain.status).toBe("failed");
    expect(chain.detail).toMatch(/1 finding\(s\) in 3 digests and 3 objects/);
    expect(chain.detail).toMatch(finding);
    const markdown = s3.versions(ARCHIVE, "reports/weekly/2026-03-09/review.md").at(-1);
    expect(Buffer.from(markdown?.body ?? []).toString("utf8")).toMatch(finding);
    expect(s3.mock.commandCalls(PutObjectCommand).length).toBeGreaterThanOrEqual(3);
  });
});
