/**
 * Every ECS document the transform makes from the shared corpus, bulk-indexed into a real OpenSearch node through
 * the audit index template: no mapping error, no value dropped as malformed, and the fields rules and dashboards use
 * searchable (an `exists` count in OpenSearch equal to the number of documents that carry the field). The node is
 * started by `scripts/opensearch-node.sh`, or taken from `OPENSEARCH_URL`.
 */
import { readFileSync } from "node:fs";
import { extname, relative } from "node:path";
import { Client } from "@opensearch-project/opensearch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { normalizeRecord } from "../../lambdas/core/normalize/index.js";
import { bootstrapDomain } from "../../lambdas/core/opensearch/index.js";
import { bootstrapSettings } from "../fixtures/bootstrap-settings.js";
import { startTestNode, type TestNode } from "../integration/node.js";
import { corpusDir, walk } from "./corpus.js";

const INDEX = "audit-2099-03-01";

/**
 * Fields the rule pack and dashboards query that the corpus fills; each must be indexed wherever a document
 * carries it.
 */
const QUERIED_FIELDS = [
  "@timestamp",
  "event.dataset",
  "event.action",
  "event.outcome",
  "event.duration",
  "source.ip",
  "source.port",
  "destination.ip",
  "destination.port",
  "network.bytes",
  "http.request.method",
  "http.response.status_code",
  "url.path",
  "user_agent.original",
  "user.name",
  "mesh.name",
  "mesh.mtls",
  "mesh.source.principal",
  "mesh.response_flags",
  "cilium.verdict",
  "kubernetes.audit.verb",
  "kubernetes.audit.objectRef.resource",
  "kubernetes.audit.objectRef.namespace",
  "kubernetes.audit.user.username",
  "kubernetes.audit.sourceIPs",
  "kubernetes.audit.responseStatus.code",
];

/** Every document any corpus record normalizes to (records the transform rejects are the transform tests' concern). */
function corpusDocuments(): { file: string; document: EcsDocument }[] {
  const root = corpusDir();
  const out: { file: string; document: EcsDocument }[] = [];
  for (const path of walk(root)) {
    if (![".log", ".json", ".ndjson", ".txt"].includes(extname(path))) continue;
    const file = relative(root, path);
    const text = readFileSync(path, "utf8");
    const records = text.split("\n").filter((line) => line.trim() !== "");
    let fromLines = 0;
    for (const record of records) {
      const result = normalizeRecord(record, { receivedAt: "2099-03-01T00:00:00Z" });
      if (!result.ok) continue;
      fromLines += result.documents.length;
      for (const document of result.documents) out.push({ file, document });
    }
    if (fromLines === 0 && extname(path) === ".json") {
      try {
        const result = normalizeRecord(JSON.stringify(JSON.parse(text)));
        if (result.ok) for (const document of result.documents) out.push({ file, document });
      } catch {
        // Not one JSON document either: nothing of this file reaches OpenSearch.
      }
    }
  }
  return out;
}

function valueAt(document: unknown, path: string): unknown {
  if (path in (document as Record<string, unknown>)) return (document as Record<string, unknown>)[path];
  return path.split(".").reduce<unknown>((node, key) => {
    if (typeof node !== "object" || node === null) return undefined;
    return (node as Record<string, unknown>)[key];
  }, document);
}

const present = (value: unknown) =>
  value !== undefined && value !== null && value !== "" && !(Array.isArray(value) && value.length === 0);

describe("corpus documents in a real OpenSearch node", () => {
  let node: TestNode;
  let client: Client;
  const documents = corpusDocuments();

  beforeAll(async () => {
    node = await startTestNode();
    client = new Client({ node: node.url, requestTimeout: 120_000 });
    await client.indices.delete({ index: "audit-*", expand_wildcards: "all", ignore_unavailable: true });
    await bootstrapDomain(
      client,
      bootstrapSettings({
        DomainEndpoint: "localhost",
        DomainName: "audit-trail-acceptance",
        HotDays: 1,
        DeleteAfterDays: 60,
        ReplicaCount: 0,
      }),
      { ismFlavor: "plain", ageUnit: "m", allowMissingPlugins: ["security", "ism"] },
    );
  }, 900_000);

  afterAll(async () => {
    await client?.indices.delete({ index: "audit-*", expand_wildcards: "all", ignore_unavailable: true });
    await node?.stop();
  });

  it("bulk-indexes every document with no mapping error and no value ignored as malformed", async () => {
    // Prepare
    expect(documents.length).toBeGreaterThan(100);

    // Act
    const errors: string[] = [];
    for (let start = 0; start < documents.length; start += 500) {
      const chunk = documents.slice(start, start + 500);
      const response = await client.bulk({
        body: chunk.flatMap(({ document }, offset) => [
          { create: { _index: INDEX, _id: String(start + offset) } },
          document,
        ]),
      });
      (response.body.items as Record<string, { _id?: string; error?: unknown }>[]).forEach((item, offset) => {
        const result = Object.values(item)[0];
        if (result?.error !== undefined) {
          errors.push(`${chunk[offset]?.file}: ${JSON.stringify(result.error)}`);
        }
      });
    }
    await client.indices.refresh({ index: INDEX });

    // Assess
    expect(errors).toEqual([]);
    const ignored = await client.search({
      index: INDEX,
      body: { size: 20, query: { exists: { field: "_ignored" } }, _source: false, fields: ["_ignored"] },
    });
    const ignoredFields = ignored.body.hits.hits.map(
      (hit) => `${documents[Number(hit._id)]?.file}: ${JSON.stringify(hit.fields?._ignored ?? hit)}`,
    );
    expect(ignoredFields).toEqual([]);
    const count = await client.count({ index: INDEX });
    expect(count.body.count).toBe(documents.length);
  });

  it.each(QUERIED_FIELDS)("makes %s searchable in every document that carries it", async (field) => {
    // Prepare
    const expected = documents.filter(({ document }) => present(valueAt(document, field))).length;
    expect(expected, `no corpus document carries ${field}`).toBeGreaterThan(0);

    // Act
    const response = await client.count({ index: INDEX, body: { query: { exists: { field } } } });

    // Assess
    expect(response.body.count).toBe(expected);
  });
});
