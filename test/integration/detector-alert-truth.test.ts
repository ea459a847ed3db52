/**
 * Alerts that say what every matched event says, not only the `DETECTION_EVENT_CAP` events they keep, on a real
 * OpenSearch node: a 401/403 burst of 30 requests whose first 20 name two destinations and whose last 10 name three
 * more, and a scan over 70 services. The detector (its aggregations over the alert's span) and `audit-trail replay`
 * (its in-memory tallies) give the same alerts: first and last event time exact, every destination of the burst,
 * the scan's first `ALERT_VALUES_KEPT` services in term order and how many there are.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALERT_VALUES_KEPT } from "../../lambdas/core/alerts/matched.js";
import type { Alert } from "../../lambdas/core/alerts/model.js";
import { defaultRulesDir, loadRulePack } from "../../lambdas/core/rules/load.js";
import { DETECTION_EVENT_CAP, type RulePack } from "../../lambdas/core/rules/types.js";
import { testClient } from "./helpers.js";
import {
  comparable,
  detectorRun,
  freshNodeWith,
  InMemoryWatermark,
  indexedAlerts,
  RecordingLogger,
  RecordingPublisher,
  removeFromNode,
  replayLines,
  sortedById,
  transformedLines,
} from "./incident.js";

const ENVIRONMENT = "alert-truth-test";
const T0 = Date.parse("2026-06-01T08:00:00.000Z");
const PROBER = "spiffe://cluster.local/ns/marketing/sa/newsletter";
const SCANNER = "spiffe://cluster.local/ns/tools/sa/crawler";
const SCANNED = 70;

/** An Istio JSON access-log line (the incident's format) from `principal` to `service`. */
function line(principal: string, service: string, atMs: number, status: number, n: number): string {
  return JSON.stringify({
    authority: `${service}:8080`,
    bytes_received: 0,
    bytes_sent: 128,
    connection_security_policy: "mutual_tls",
    downstream_local_address: "10.44.1.27:8080",
    downstream_remote_address: `10.44.3.88:${40000 + n}`,
    duration: 3,
    method: "GET",
    path: `/api/v1/${service}`,
    protocol: "HTTP/1.1",
    request_id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    requested_server_name: `outbound_.8080_._.${service}.shop.svc.cluster.local`,
    response_code: status,
    response_code_details: status === 403 ? "rbac_access_denied_matched_policy[none]" : "via_upstream",
    response_flags: "-",
    route_name: "default",
    source_identity: principal,
    start_time: new Date(atMs).toISOString(),
    upstream_cluster: "inbound|8080||",
    upstream_host: "10.44.1.27:8080",
    upstream_local_address: "127.0.0.6:46198",
    upstream_service_time: "3",
    user_agent: "python-requests/2.31",
  });
}

/** 20 denials to two services, then 10 to three others: the kept events name two of the five. */
const BURST_SERVICES = ["payments", "users", "orders", "billing", "auth"];
const burst = Array.from({ length: 30 }, (_, i) => {
  const service = i < 20 ? (BURST_SERVICES[i % 2] as string) : (BURST_SERVICES[2 + (i % 3)] as string);
  return line(PROBER, service, T0 + 5_000 + i * 1_500, 403, i);
});
/** 70 calls to 70 services within half a minute, named so that term order is not call order. */
const scanService = (i: number) => `svc-${String((i * 37) % SCANNED).padStart(3, "0")}`;
const scan = Array.from({ length: SCANNED }, (_, i) =>
  line(SCANNER, scanService(i), T0 + 120_000 + i * 400, 404, 100 + i),
);

describe("alerts that summarize every matched event, on a real OpenSearch node", () => {
  const client = testClient();
  let pack: RulePack;
  let dailyIndices: string[] = [];
  let replayed: Alert[];

  beforeAll(async () => {
    pack = await loadRulePack([defaultRulesDir()]);
    const lines = [...burst, ...scan];
    replayed = await replayLines(lines, ENVIRONMENT, "istio-proxy.log");
    // Newest first: the queries, not the indexing order, decide what an alert lists.
    dailyIndices = await freshNodeWith(client, transformedLines(lines, pack).reverse());
  });

  afterAll(async () => {
    await removeFromNode(client, dailyIndices);
  });

  it("names every destination of a burst and its last event, beyond the events it keeps, as replay does", async () => {
    // Prepare
    const logger = new RecordingLogger();
    const publisher = new RecordingPublisher();

    // Act
    const report = await detectorRun({
      client,
      pack,
      alertContext: { environment: ENVIRONMENT },
      publisher,
      logger,
      watermark: new InMemoryWatermark(T0 - 60_000),
      nowMs: T0 + 5 * 60_000,
      runId: "truth",
    });

    // Assess
    expect(logger.entries).toEqual([]);
    expect(report.complete).toBe(true);
    const detector = (await indexedAlerts(client)).map((hit) => comparable(hit.document));
    const byRule = (name: string) => detector.find((alert) => alert.rule.name === name);
    const burstAlert = byRule("mesh_auth_failure_burst");
    expect(burstAlert).toMatchObject({
      count: 30,
      seen: {
        first: new Date(T0 + 5_000).toISOString(),
        last: new Date(T0 + 5_000 + 29 * 1_500).toISOString(),
        complete: true,
      },
      values: {
        "mesh.source.principal": [PROBER],
        "mesh.destination.service": BURST_SERVICES.map((name) => `${name}.shop.svc.cluster.local`).sort(),
      },
      distinct: { "mesh.destination.service": 5 },
    });
    expect(burstAlert?.events).toHaveLength(DETECTION_EVENT_CAP);
    const scanAlert = byRule("mesh_service_discovery_scan");
    const services = Array.from({ length: SCANNED }, (_, i) => `svc-${String(i).padStart(3, "0")}`);
    expect(scanAlert).toMatchObject({
      value: SCANNED,
      seen: {
        first: new Date(T0 + 120_000).toISOString(),
        last: new Date(T0 + 120_000 + (SCANNED - 1) * 400).toISOString(),
        complete: true,
      },
      distinct: { "mesh.destination.service": SCANNED },
    });
    expect(scanAlert?.values["mesh.destination.service"]).toEqual(
      services.slice(0, ALERT_VALUES_KEPT).map((name) => `${name}.shop.svc.cluster.local`),
    );
    expect(scanAlert?.summary.to).toBe(
      `${SCANNED} distinct destination services: ${services
        .slice(0, 5)
        .map((name) => `${name}.shop.svc.cluster.local`)
        .join(", ")} +${SCANNED - 5} more`,
    );
    // Replay says the same, field for field.
    expect(sortedById(detector)).toEqual(sortedById(replayed.map(comparable)));
  });
});
