/** Shared pieces of the integration tests: a client for the test node and test-sized bootstrap settings. */
import { Client } from "@opensearch-project/opensearch";
import { inject } from "vitest";
import type { BootstrapSettings } from "../../lambdas/core/opensearch/settings.js";

export function testClient(): Client {
  return new Client({ node: inject("opensearchUrl"), requestTimeout: 60_000 });
}

/** Ages are minutes in these tests (`ageUnit: "m"`), so ISM transitions happen while the test watches. */
export function testSettings(overrides: Partial<BootstrapSettings> = {}): BootstrapSettings {
  return {
    DomainEndpoint: "localhost",
    DomainName: "audit-trail-test",
    HotDays: 1,
    WarmDays: 1,
    ColdDays: 0,
    DeleteAfterDays: 60,
    UltraWarmEnabled: false,
    ColdStorageEnabled: false,
    IndexEventOriginal: false,
    FirehoseRoleArn: "arn:aws:iam::123456789012:role/firehose",
    DetectorRoleArn: "arn:aws:iam::123456789012:role/detector",
    AnalystRoleArn: "",
    ReplicaCount: 0,
    ShardCount: 1,
    ...overrides,
  };
}

/** The options every integration test bootstraps with: plain ISM actions, minute ages, no security plugin. */
export const TEST_BOOTSTRAP_OPTIONS = {
  ismFlavor: "plain",
  ageUnit: "m",
  allowMissingPlugins: ["security", "ism"],
} as const;

export async function deleteIndices(client: Client, pattern: string): Promise<void> {
  await client.indices.delete({ index: pattern, expand_wildcards: "all", ignore_unavailable: true });
}
