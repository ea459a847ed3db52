/**
 * `policy suggest` and `policy drift` from a real OpenSearch node and from the files give the same answer: the bundled
 * incident indexed as the transform makes it, read back by the code of `policy … -c env=NAME` (one paged composite
 * aggregation, `core/policy/indices.ts`), against the command over the files.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPolicy } from "../../lambdas/cli/commands/policy.js";
import { ALERTS_INDEX } from "../../lambdas/core/contracts.js";
import { bootstrapDomain } from "../../lambdas/core/opensearch/index.js";
import { parseDeclared } from "../../lambdas/core/policy/declared.js";
import { drift } from "../../lambdas/core/policy/drift.js";
import { auditedPoliciesFromSearch, callsFromSearch } from "../../lambdas/core/policy/indices.js";
import { type MeshKind, suggest } from "../../lambdas/core/policy/suggest.js";
import type { ObservedCall } from "../../lambdas/core/policy/traffic.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/load.js";
import { transportSearchClient } from "../../lambdas/detector/opensearch.js";
import { INCIDENT_DIR } from "../fixtures/incident.js";
import { TEST_BOOTSTRAP_OPTIONS, testClient, testSettings } from "./helpers.js";
import { incidentFiles, indexDocuments, transformedDocuments } from "./incident.js";

async function fromFiles(...argv: string[]): Promise<string> {
  const stdout: string[] = [];
  await runPolicy([...argv, INCIDENT_DIR], {
    out: { write: (text) => stdout.push(text) > 0 },
    err: { write: () => true },
  });
  return stdout.join("");
}

describe("policy suggest and drift from a real OpenSearch node and from the files (bundled incident)", () => {
  const client = testClient();
  let dailyIndices: string[] = [];
  let calls: ObservedCall[] = [];
  let drifted: ObservedCall[] = [];
  let requests = 0;

  beforeAll(async () => {
    const pack = await loadRulePack([defaultRulesDir()]);
    const documents = transformedDocuments(incidentFiles(), pack);
    const times = documents.map((doc) => Date.parse(doc["@timestamp"]));
    await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
    await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
    dailyIndices = await indexDocuments(client, documents);
    const period = {
      since: new Date(Math.min(...times)).toISOString(),
      until: new Date(Math.max(...times)).toISOString(),
    };
    const search = transportSearchClient(client);
    ({ calls, requests } = await callsFromSearch(search, { ...period, withDenied: false }));
    ({ calls: drifted } = await callsFromSearch(search, { ...period, withDenied: true }));
  }, 240_000);

  afterAll(async () => {
    await client.indices.delete({
      index: [...dailyIndices, ALERTS_INDEX].join(","),
      ignore_unavailable: true,
    });
  });

  it.each(["istio", "linkerd", "consul"] as MeshKind[])(
    "suggests the same %s policies from the node's aggregation as from the files",
    async (mesh) => {
      const files = await fromFiles("suggest", "--mesh", mesh);
      expect(files.length).toBeGreaterThan(1000);
      expect(suggest(calls, mesh)).toEqual(files);
    },
  );

  it("reads far fewer buckets than the calls they stand for", () => {
    const total = calls.reduce((sum, call) => sum + (call.count ?? 1), 0);
    expect(total).toBeGreaterThan(1000);
    expect(calls.length).toBeLessThan(total / 5);
    expect(requests).toBe(1);
  });

  it("finds the same drift from the node as from the files, against the suggested policies and the audited ones", async () => {
    // Prepare
    const declared = parseDeclared(await fromFiles("suggest"), "suggested.yaml");
    const audited = await auditedPoliciesFromSearch(transportSearchClient(client), "2100-01-01T00:00:00Z");
    const dir = await mkdtemp(join(tmpdir(), "policy-node-"));
    try {
      await writeFile(join(dir, "suggested.yaml"), await fromFiles("suggest"));
      // Act
      const files = JSON.parse(await fromFiles("drift", "--json", "--policies", dir));
      const node = drift(
        {
          ...declared,
          istio: [...declared.istio, ...audited.declared().istio],
        },
        drifted,
      );
      // Assess
      expect(JSON.parse(JSON.stringify(node))).toEqual(files);
      expect(node.denied.length).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
