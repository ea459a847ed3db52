/** Shared pieces of the integration tests: a client for the test node and test-sized bootstrap settings. */
import { Client } from "@opensearch-project/opensearch";
import { inject } from "vitest";
import type { BootstrapSettings } from "../../lambdas/core/opensearch/settings.js";
import { bootstrapSettings } from "../fixtures/bootstrap-settings.js";

export function testClient(): Client {
  return new Client({ node: inject("opensearchUrl"), requestTimeout: 60_000 });
}

/** Ages are minutes in these tests (`ageUnit: "m"`), so ISM transitions happen while the test watches. */
export function testSettings(overrides: Partial<BootstrapSettings> = {}): BootstrapSettings {
  return bootstrapSettings({
    DomainEndpoint: "localhost",
    DomainName: "audit-trail-test",
    HotDays: 1,
    WarmDays: 1,
    DeleteAfterDays: 60,
    ReplicaCount: 0,
    ...overrides,
  });
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
