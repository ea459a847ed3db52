import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../lib/config/index.js";
import { type Synthesized, shippedStacks, synthesize, variant } from "./fixtures.js";

function buckets(synthesized: Synthesized) {
  const all = synthesized.template.findResources("AWS::S3::Bucket");
  const find = (prefix: string) => {
    const entry = Object.entries(all).find(([logicalId]) => logicalId.startsWith(prefix));
    if (entry === undefined) throw new Error(`no bucket ${prefix}`);
    return {
      logicalId: entry[0],
      properties: (entry[1] as { Properties: Record<string, unknown> }).Properties,
    };
  };
  return {
    archive: find("ArchiveArchiveBucket"),
    staging: find("ArchiveStagingBucket"),
    accessLogs: find("ArchiveAccessLogsBucket"),
    all,
  };
}

describe("archive", () => {
  const shipped = shippedStacks("prod", "dev");

  it("locks the archive in COMPLIANCE mode for the longest retention the frameworks require", () => {
    // Act
    const { archive } = buckets(shipped.prod);

    // Assess
    expect(archive.properties).toMatchObject({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: "Enabled",
        Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 2192 } },
      },
      VersioningConfiguration: { Status: "Enabled" },
    });
  });

  it("uses the configured retention when no framework applies (dev)", () => {
    // Act
    const { archive } = buckets(shipped.dev);

    // Assess
    expect(archive.properties).toMatchObject({
      ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 30 } } },
    });
  });

  it("encrypts archive and staging with the rotating customer-managed key", () => {
    // Act
    const { archive, staging } = buckets(shipped.prod);

    // Assess
    for (const bucket of [archive, staging]) {
      expect(bucket.properties.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: "aws:kms",
              KMSMasterKeyID: { "Fn::GetAtt": [expect.stringMatching(/^KeysDataKey/), "Arn"] },
            },
          },
        ],
      });
    }
    shipped.prod.template.hasResourceProperties("AWS::KMS::Key", {
      Description: Match.stringLikeRegexp("audit data at rest"),
      EnableKeyRotation: true,
    });
  });

  it("blocks public access, versions every bucket and retains them on delete", () => {
    // Act
    const { all } = buckets(shipped.prod);

    // Assess
    expect(Object.keys(all)).toHaveLength(3);
    for (const bucket of Object.values(all) as {
      Properties: Record<string, unknown>;
      DeletionPolicy: string;
    }[]) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: "Enabled" });
      expect(bucket.DeletionPolicy).toBe("Retain");
    }
  });

  it("denies non-TLS requests and TLS below 1.2 on every bucket", () => {
    // Act
    const policies = Object.values(shipped.prod.template.findResources("AWS::S3::BucketPolicy"));

    // Assess
    expect(policies).toHaveLength(3);
    for (const policy of policies as { Properties: { PolicyDocument: { Statement: unknown[] } } }[]) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Effect: "Deny",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
          expect.objectContaining({
            Effect: "Deny",
            Condition: { NumericLessThan: { "s3:TlsVersion": 1.2 } },
          }),
        ]),
      );
    }
  });

  it("tiers archived objects to colder classes and expires them after the retention", () => {
    // Act
    const { archive } = buckets(shipped.prod);

    // Assess
    expect(archive.properties.LifecycleConfiguration).toEqual({
      Rules: [
        expect.objectContaining({
          Status: "Enabled",
          ExpirationInDays: 2192,
          Transitions: [
            { StorageClass: "STANDARD_IA", TransitionInDays: 30 },
            { StorageClass: "GLACIER", TransitionInDays: 90 },
            { StorageClass: "DEEP_ARCHIVE", TransitionInDays: 180 },
          ],
        }),
      ],
    });
  });

  it("skips transitions that would come at or after the expiry (dev keeps 30 days)", () => {
    // Act
    const { archive } = buckets(shipped.dev);

    // Assess
    const rules = (archive.properties.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    expect(rules[0]?.ExpirationInDays).toBe(30);
    expect(rules[0]?.Transitions).toBeUndefined();
  });

  it("logs server access of archive and staging into the separate unlocked bucket", () => {
    // Act
    const { archive, staging, accessLogs } = buckets(shipped.prod);

    // Assess
    expect(archive.properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: accessLogs.logicalId },
      LogFilePrefix: "archive/",
    });
    expect(staging.properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: accessLogs.logicalId },
      LogFilePrefix: "staging/",
    });
    expect(accessLogs.properties.ObjectLockEnabled).toBeUndefined();
    expect(accessLogs.properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
    });
  });

  it("expires staged backups after days, not hours", () => {
    // Act
    const prodStaging = buckets(shipped.prod).staging;
    const devStaging = buckets(shipped.dev).staging;

    // Assess
    expect(prodStaging.properties.LifecycleConfiguration).toEqual({
      Rules: [expect.objectContaining({ ExpirationInDays: 14 })],
    });
    expect(devStaging.properties.LifecycleConfiguration).toEqual({
      Rules: [expect.objectContaining({ ExpirationInDays: 3 })],
    });
    expect(prodStaging.properties.ObjectLockEnabled).toBeUndefined();
  });

  it("notifies the archive queue of every object created in staging", () => {
    // Act
    const { staging } = buckets(shipped.prod);

    // Assess
    expect(staging.properties.NotificationConfiguration).toEqual({
      QueueConfigurations: [
        {
          Event: "s3:ObjectCreated:*",
          Queue: { "Fn::GetAtt": [expect.stringMatching(/^TamperEvidenceArchiveQueue/), "Arn"] },
        },
      ],
    });
  });

  it("raises the lock to a configured retention above the presets", () => {
    // Prepare
    const input = variant("prod", { retention: { ...ENVIRONMENTS.prod.retention, archiveDays: 3653 } });

    // Act
    const { archive } = buckets(synthesize("prod", input));

    // Assess
    expect(archive.properties).toMatchObject({
      ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 3653 } } },
      LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: 3653 })] },
    });
  });
});
