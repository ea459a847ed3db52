/**
 * The CLI and the detector produce the same alerts on the same data: `audit-trail replay`'s path (in-memory
 * evaluation with the default pack, then `buildAlert`) against the detector's path (OpenSearch responses recorded
 * for the same events, after the transform tagged them).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildAlert } from "../../../../lambdas/core/alerts/build.js";
import { documentFingerprint } from "../../../../lambdas/core/alerts/ids.js";
import type { Alert } from "../../../../lambdas/core/alerts/model.js";
import { ALERTS_INDEX } from "../../../../lambdas/core/contracts.js";
import { runDetection } from "../../../../lambdas/core/detection/run.js";
import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import type { CountryLookup } from "../../../../lambdas/core/geo/index.js";
import { defaultRulesDir, loadRulePack } from "../../../../lambdas/core/rules/load.js";
import { replay } from "../../../../lambdas/core/rules/replay.js";
import type { Detection, RulePack } from "../../../../lambdas/core/rules/types.js";
import { meshRequest } from "../alerts/factories.js";
import { FakeOpenSearch } from "./fake-opensearch.js";
import { fixture, NOW, RecordingPublisher, recordedAudit, silentLogger } from "./scenario.js";

const RULES = ["k8s_pod_exec", "mesh_auth_failure_burst"];
const geo: CountryLookup = { country: () => undefined };
const context = {
  environment: "prod",
  dashboardsUrl: "https://search.example.com/_dashboards",
  runbookBaseUrl: "https://github.com/example/mesh-audit-trail/blob/main",
  geo,
};

interface Hits {
  hits: { hits: { _source: EcsDocument }[] };
}

/** The documents behind the recorded responses, as the normalizer produced them (before the transform's tags). */
function untagged(doc: EcsDocument): EcsDocument {
  const { rule: _rule, ...rest } = doc;
  const { ingested: _ingested, ...event } = rest.event;
  return { ...rest, event };
}

function recordedEvents(): EcsDocument[] {
  const burst = (fixture("auth-failure-burst.events.json") as Hits).hits.hits.map((hit) => hit._source);
  const exec = (fixture("pod-exec.hits.json") as Hits).hits.hits.map((hit) => hit._source);
  // The other principal's two failures (10:03:10, 10:03:20) behind the composite's non-firing group.
  const batch = ["2025-03-04T10:03:10.000Z", "2025-03-04T10:03:20.000Z"].map((time) =>
    meshRequest("spiffe://cluster.local/ns/tools/sa/batch", time),
  );
  return [...burst, ...batch, ...exec]
    .map(untagged)
    .sort((a, b) => Date.parse(a["@timestamp"]) - Date.parse(b["@timestamp"]));
}

/** Alert content minus the matched events, which differ only by the transform's tags; events by fingerprint. */
function comparable(alert: Alert) {
  const { events, ...rest } = alert;
  return { ...rest, events: events.map((event) => documentFingerprint(untagged(event))) };
}

describe("CLI and detector parity", () => {
  let pack: RulePack;
  beforeAll(async () => {
    // The default pack, reduced to the two rules the recordings cover and the building blocks they correlate.
    const full = await loadRulePack([defaultRulesDir()]);
    const kept = new Set(RULES);
    for (const rule of full.correlationRules)
      if (kept.has(rule.name)) for (const input of rule.rules) kept.add(input);
    const disabled = full.rules.map((rule) => rule.name).filter((name) => !kept.has(name));
    pack = await loadRulePack([defaultRulesDir()], {
      rules: Object.fromEntries(disabled.map((name) => [name, { enabled: false }])),
    });
  });

  it("gives the same alerts for the same events", async () => {
    // Prepare
    const events = recordedEvents();
    const cliDetections: Detection[] = [];
    async function* lines() {
      for (const [index, event] of events.entries())
        yield { file: "events.ndjson", line: index + 1, text: JSON.stringify(event) };
    }
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    const publisher = new RecordingPublisher();
    // Act
    await replay(
      [lines()],
      pack,
      (text) => ({ ok: true, documents: [JSON.parse(text) as EcsDocument] }),
      (d) => cliDetections.push(d),
    );
    const cli = cliDetections.map((detection) => buildAlert(detection, context));
    const report = await runDetection(
      { search, publisher, logger: silentLogger, pack, alertContext: context },
      { nowMs: NOW, watermarkMs: NOW - 60_000, runId: "parity", clock: () => NOW },
    );
    const detector = [...search.documents.values()].map((doc) => {
      const { outbox: _outbox, ...alert } = doc.source as unknown as Alert & { outbox: unknown };
      return alert as Alert;
    });
    // Assess
    expect(report.complete).toBe(true);
    expect(cli.map((alert) => alert.rule.name).sort()).toEqual(RULES);
    const byId = (alerts: Alert[]) => alerts.map(comparable).sort((a, b) => a.id.localeCompare(b.id));
    expect(byId(detector)).toEqual(byId(cli));
    expect(publisher.rules().sort()).toEqual(RULES);
  });
});
