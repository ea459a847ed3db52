/**
 * The weekly review of the bundled incident from a real OpenSearch node and from the files gives the same content:
 * the documents indexed as the transform makes them, the alerts the detector writes into `audit-alerts`, read back
 * by the code of `review -c env=NAME` and of the scheduled function (`reviewFromSearch`), against `review FILE…`
 * (`reviewFromFiles`). Only where the content came from differs: the source line, and each alert's state (the
 * index's `published` against replay's `replayed`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseReviewArgs, reviewFromFiles } from "../../lambdas/cli/commands/review.js";
import { ALERTS_INDEX } from "../../lambdas/core/contracts.js";
import { bootstrapDomain } from "../../lambdas/core/opensearch/index.js";
import { PostureBuilder, type PostureReport } from "../../lambdas/core/posture/index.js";
import type { ReviewReport } from "../../lambdas/core/review/index.js";
import { postureFromSearch, reviewFromSearch } from "../../lambdas/core/review/indices.js";
import { reviewRelevant } from "../../lambdas/core/review/relevant.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/load.js";
import { transportSearchClient } from "../../lambdas/detector/opensearch.js";
import { INCIDENT_DIR, INCIDENT_RULES } from "../fixtures/incident.js";
import { parsedArgs } from "../lambdas/cli/helpers.js";
import { TEST_BOOTSTRAP_OPTIONS, testClient, testSettings } from "./helpers.js";
import {
  detectorRun,
  InMemoryWatermark,
  incidentFiles,
  indexDocuments,
  judgedAllMs,
  QUIET_SOURCES,
  RecordingLogger,
  RecordingPublisher,
  transformedDocuments,
} from "./incident.js";

const ENVIRONMENT = "incident-review";

/** The content both paths must agree on: everything but where it came from and the alerts' delivery state. */
function content(report: ReviewReport) {
  const { source: _source, alerts, alertsByRule, ...rest } = report;
  return {
    ...rest,
    alerts: alerts.map(({ state: _state, ...alert }) => alert),
    alertsByRule: alertsByRule.map(({ states, ...group }) => ({
      ...group,
      alertsWithAState: Object.values(states).reduce((a, b) => a + b, 0),
    })),
  };
}

describe("the weekly review from a real OpenSearch node and from the files (bundled incident)", () => {
  const client = testClient();
  let dailyIndices: string[] = [];
  let fromFiles: ReviewReport;
  let fromNode: ReviewReport;
  let postureNode: PostureReport;
  let postureFiles: PostureReport;

  beforeAll(async () => {
    const files = incidentFiles();
    const pack = await loadRulePack([defaultRulesDir()], QUIET_SOURCES);
    const documents = transformedDocuments(files, pack);
    const times = documents.map((doc) => Date.parse(doc["@timestamp"]));
    const startMs = Math.floor(Math.min(...times) / 60_000) * 60_000;
    const lastMs = Math.max(...times);
    const nowMs = judgedAllMs(pack, lastMs);
    await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
    // The bootstrap creates the alerts index with its template.
    await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
    dailyIndices = await indexDocuments(client, documents);
    const report = await detectorRun({
      client,
      pack,
      alertContext: { environment: ENVIRONMENT },
      publisher: new RecordingPublisher(),
      logger: new RecordingLogger(),
      watermark: new InMemoryWatermark(startMs),
      nowMs,
      runId: "review",
    });
    if (!report.complete) throw new Error("the detector run did not complete");
    await client.indices.refresh({ index: ALERTS_INDEX });

    const args = parsedArgs(parseReviewArgs([INCIDENT_DIR, "--environment", ENVIRONMENT]));
    ({ report: fromFiles } = await reviewFromFiles(args, { write: () => true }));
    const search = transportSearchClient(client);
    fromNode = await reviewFromSearch(
      search,
      { since: fromFiles.since, until: fromFiles.until, environment: ENVIRONMENT, source: "node" },
      fromFiles.pipeline,
    );
    postureNode = await postureFromSearch(search, { since: fromFiles.since, until: fromFiles.until });
    const builder = new PostureBuilder({ since: fromFiles.since, until: fromFiles.until });
    for (const doc of documents) {
      const relevant = reviewRelevant(doc);
      if (relevant !== undefined) builder.add(relevant);
    }
    postureFiles = builder.report();
  }, 240_000);

  afterAll(async () => {
    await client.indices.delete({
      index: [...dailyIndices, ALERTS_INDEX].join(","),
      ignore_unavailable: true,
    });
  });

  it("gives the same review, section by section", () => {
    const node = content(fromNode);
    const files = content(fromFiles);
    expect(node.alerts).toEqual(files.alerts);
    expect(node.alertsByRule).toEqual(files.alertsByRule);
    expect(node.execSessions).toEqual(files.execSessions);
    expect(node.changes).toEqual(files.changes);
    expect(node.deniedIdentities).toEqual(files.deniedIdentities);
    expect(node.newEdges).toEqual(files.newEdges);
    expect(node.postureChanges).toEqual(files.postureChanges);
    expect(node).toEqual(files);
  });

  it("names each of the incident's actions from the node", () => {
    expect(fromNode.changes.map((c) => `${c.who}: ${c.change}`)).toEqual([
      "alice (authenticated as kubernetes-admin): patch: spec.mtls.mode=PERMISSIVE",
    ]);
    expect(fromNode.execSessions.map((e) => `${e.who}: ${e.pod} ${e.command}`)).toEqual([
      "alice (authenticated as kubernetes-admin): payments-7d9c8b6f5-x2k4q sh -c env",
    ]);
    expect(fromNode.deniedIdentities[0]?.identity).toBe("spiffe://cluster.local/ns/marketing/sa/newsletter");
    expect(fromNode.alerts.map((a) => a.rule).sort()).toEqual(INCIDENT_RULES);
    expect(new Set(fromNode.alerts.map((a) => a.state))).toEqual(new Set(["published"]));
  });

  it("gives the same posture from the node as from the documents", () => {
    expect(postureNode).toEqual(postureFiles);
  });
});
