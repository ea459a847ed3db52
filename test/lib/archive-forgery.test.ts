/**
 * What each function role can write, tried against the chain, in every shipped environment's synthesized
 * template: the archive bucket's policy and each role's identity policies, evaluated offline. The forgeries the
 * code must also withstand (a forged object plus its ledger records, junk at a digest key, an overwritten chain
 * head) are tried against the real code in `test/lambdas/digest-writer/forgery.test.ts`.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../lib/config/index.js";
import { synthesizeShipped } from "./fixtures.js";
import { type Decision, decide, type PolicyView, policyView } from "./template-policies.js";

const ROLES = {
  archiver: "TamperEvidenceArchiverRole",
  digestWriter: "TamperEvidenceDigestWriterRole",
  transform: "IngestionTransformRole",
  detector: "DetectorRole",
} as const;
type RoleName = keyof typeof ROLES;

const DIGEST = "digests/2026/11/23/20261123T060000Z.json";
const DOCUMENT = "documents/2026/11/23/06/audit-stream-1-2026-11-23-06-00-00-abc";
const CONDITIONAL = { "s3:if-none-match": "*" };

describe.each(Object.keys(ENVIRONMENTS) as (keyof typeof ENVIRONMENTS)[])(
  "what each function role can write to the archive and the ledger (%s)",
  (env) => {
    let view: PolicyView;
    let bucket: string;
    let table: string;

    beforeAll(() => {
      view = policyView(synthesizeShipped(env).template);
      bucket = view.bucketName("ArchiveArchiveBucket");
      table = view.tableArn("TamperEvidenceLedger");
    });

    const s3 = (role: RoleName, action: string, key: string, context: Record<string, string> = {}) =>
      decide({
        roleArn: view.roleArn(ROLES[role]),
        identityPolicies: view.identityPolicies(ROLES[role]),
        resourcePolicy: view.bucketPolicy("ArchiveArchiveBucket"),
        action,
        resource: `arn:aws:s3:::${bucket}/${key}`,
        context,
      });
    const ledger = (role: RoleName, action: string, leadingKey: string) =>
      decide({
        roleArn: view.roleArn(ROLES[role]),
        identityPolicies: view.identityPolicies(ROLES[role]),
        action,
        resource: table,
        context: { "dynamodb:LeadingKeys": [leadingKey] },
      });

    it("lets only the archiver add an archive object, and only create-only (If-None-Match)", async () => {
      const decisions: Record<RoleName, Decision> = {
        archiver: await s3("archiver", "s3:PutObject", DOCUMENT, CONDITIONAL),
        digestWriter: await s3("digestWriter", "s3:PutObject", DOCUMENT, CONDITIONAL),
        transform: await s3("transform", "s3:PutObject", DOCUMENT, CONDITIONAL),
        detector: await s3("detector", "s3:PutObject", DOCUMENT, CONDITIONAL),
      };
      expect(decisions).toEqual({
        archiver: "Allowed",
        digestWriter: "ImplicitlyDenied",
        transform: "ImplicitlyDenied",
        detector: "ImplicitlyDenied",
      });
    });

    it("denies every role an overwrite of an archived object (a PUT without If-None-Match), in the bucket policy", async () => {
      for (const role of Object.keys(ROLES) as RoleName[]) {
        expect([role, await s3(role, "s3:PutObject", DOCUMENT)]).toEqual([
          role,
          role === "archiver" ? "ExplicitlyDenied" : expect.stringMatching(/Denied$/),
        ]);
      }
      expect(await s3("digestWriter", "s3:PutObject", DIGEST)).toBe("ExplicitlyDenied");
    });

    it("keeps the archiver out of digests/ and everything but documents/ and errors/", async () => {
      expect(await s3("archiver", "s3:PutObject", DIGEST, CONDITIONAL)).toBe("ExplicitlyDenied");
      expect(await s3("archiver", "s3:PutObject", "anything-else/x", CONDITIONAL)).toBe("ImplicitlyDenied");
      expect(await s3("archiver", "s3:PutObject", "errors/processing-failed/x", CONDITIONAL)).toBe("Allowed");
    });

    it("lets only the digest writer write a digest, create-only, and nowhere else", async () => {
      expect(await s3("digestWriter", "s3:PutObject", DIGEST, CONDITIONAL)).toBe("Allowed");
      for (const role of ["transform", "detector"] as const) {
        expect([role, await s3(role, "s3:PutObject", DIGEST, CONDITIONAL)]).toEqual([
          role,
          "ExplicitlyDenied",
        ]);
      }
    });

    it("gives no role a delete, a version delete or a retention change in the archive", async () => {
      for (const role of Object.keys(ROLES) as RoleName[]) {
        for (const action of [
          "s3:DeleteObject",
          "s3:DeleteObjectVersion",
          "s3:PutObjectRetention",
          "s3:BypassGovernanceRetention",
          "s3:PutObjectLegalHold",
        ]) {
          expect([role, action, await s3(role, action, DOCUMENT)]).toEqual([
            role,
            action,
            expect.stringMatching(/Denied$/),
          ]);
        }
      }
    });

    it("lets no role but the digest writer write the chain head, and no role delete or batch-write ledger items", async () => {
      for (const role of Object.keys(ROLES) as RoleName[]) {
        for (const action of ["dynamodb:PutItem", "dynamodb:UpdateItem"]) {
          expect([role, action, await ledger(role, action, "CHAIN")]).toEqual([
            role,
            action,
            role === "digestWriter" ? "Allowed" : "ImplicitlyDenied",
          ]);
        }
        for (const action of ["dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]) {
          for (const key of ["CHAIN", "PERIOD#1795413600000", "OBJECT#documents/a"]) {
            expect([role, action, key, await ledger(role, action, key)]).toEqual([
              role,
              action,
              key,
              "ImplicitlyDenied",
            ]);
          }
        }
      }
    });

    it("lets no function role write to the staging bucket (only Firehose stages objects)", async () => {
      const staging = view.bucketName("ArchiveStagingBucket");
      for (const role of Object.keys(ROLES) as RoleName[]) {
        const decision = await decide({
          roleArn: view.roleArn(ROLES[role]),
          identityPolicies: view.identityPolicies(ROLES[role]),
          resourcePolicy: view.bucketPolicy("ArchiveStagingBucket"),
          action: "s3:PutObject",
          resource: `arn:aws:s3:::${staging}/${DOCUMENT}`,
        });
        expect([role, decision]).toEqual([role, "ImplicitlyDenied"]);
      }
    });

    it("lets only the archiver record objects, and the digest writer only read the period records", async () => {
      expect(await ledger("archiver", "dynamodb:PutItem", "PERIOD#1795413600000")).toBe("Allowed");
      expect(await ledger("archiver", "dynamodb:PutItem", "OBJECT#documents/a")).toBe("Allowed");
      expect(await ledger("archiver", "dynamodb:ConditionCheckItem", "CHAIN")).toBe("Allowed");
      expect(await ledger("digestWriter", "dynamodb:PutItem", "PERIOD#1795413600000")).toBe(
        "ImplicitlyDenied",
      );
      expect(await ledger("digestWriter", "dynamodb:Query", "PERIOD#1795413600000")).toBe("Allowed");
      for (const role of ["transform", "detector"] as const) {
        expect([role, await ledger(role, "dynamodb:PutItem", "PERIOD#1795413600000")]).toEqual([
          role,
          "ImplicitlyDenied",
        ]);
      }
    });
  },
);
