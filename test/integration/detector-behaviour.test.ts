/**
 * Behavioural rules on a real OpenSearch node: the detector, run every few hours over documents that arrive up to
 * its look-back late (indexed as they arrive, between runs), raises exactly the first-seen alerts `replay`'s evaluator
 * raises over the same documents in arrival order (fast-check over random traffic, with and without a follow-up
 * condition and `known-for`). A baseline rebuilt from the indices gives the same decisions as the incremental one.
 * The `geo` rules (new country, impossible travel) raise the same alerts as replay with DB-IP's countries.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAlert } from "../../lambdas/core/alerts/build.js";
import type { AlertContext } from "../../lambdas/core/alerts/model.js";
import { ALERTS_INDEX } from "../../lambdas/core/contracts.js";
import { DETECTION_DEFAULTS } from "../../lambdas/core/detection/run.js";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import { GeoIpDatabase } from "../../lambdas/core/geo/index.js";
import { packagedGeoIpDir } from "../../lambdas/core/geo/packaged.js";
import { bootstrapDomain } from "../../lambdas/core/opensearch/index.js";
import { buildRulePack } from "../../lambdas/core/rules/index.js";
import type { RulePack } from "../../lambdas/core/rules/types.js";
import { type Arriving, detectorAsDocumentsArrive, replayInArrivalOrder } from "./arrival.js";
import { deleteIndices, TEST_BOOTSTRAP_OPTIONS, testClient, testSettings } from "./helpers.js";

const ENVIRONMENT = "behaviour-test";
const HOUR = 3_600_000;
const T0 = Date.parse("2030-01-01T00:00:00Z");
const LOOKBACK = DETECTION_DEFAULTS.lookbackMs;

const RULES = `title: call
id: call-id
name: call
level: informational
logsource: { product: mesh }
detection:
  sel:
    mesh.source.principal|exists: true
  condition: sel
---
title: post
id: post-id
name: post
level: informational
logsource: { product: mesh }
detection:
  sel:
    http.request.method: POST
  condition: sel
---
title: new edge
id: edge-id
name: edge
level: medium
tags: [attack.lateral_movement, attack.t1021]
correlation:
  type: new_value
  rules: [call]
  group-by: [mesh.source.principal]
  fields: [mesh.destination.service]
  learning: 1d
  timespan: 10m
---
title: new edge of an established caller
id: edge-known-id
name: edge_known
level: medium
correlation:
  type: new_value
  rules: [call]
  group-by: [mesh.source.principal]
  fields: [mesh.destination.service]
  learning: 1d
  known-for: 12h
  timespan: 10m
---
title: new caller posting
id: bulk-id
name: bulk
level: high
correlation:
  type: new_value
  rules: [call]
  group-by: [mesh.source.principal]
  learning: 1d
  follow-up: [post]
  timespan: 30m
  condition: { gte: 2 }
`;

const GEO_RULES = `title: person
id: person-id
name: person
level: informational
logsource: { product: kubernetes, service: audit }
detection:
  sel:
    user.username|exists: true
  condition: sel
---
title: new country
id: geo-new-id
name: geo_new_country
level: medium
correlation:
  type: geo
  check: new_country
  rules: [person]
  group-by: [kubernetes.audit.user.username]
  learning: 1d
  timespan: 10m
---
title: travel
id: geo-travel-id
name: geo_travel
level: high
correlation:
  type: geo
  check: impossible_travel
  rules: [person]
  group-by: [kubernetes.audit.user.username]
  learning: 1d
  timespan: 1h
`;

function plan(
  events: readonly { minute: number; principal: number; service: number; post: boolean; delay: number }[],
): Arriving[] {
  return events.map((e, i) => {
    const ms = T0 + e.minute * 60_000;
    const doc = {
      "@timestamp": new Date(ms).toISOString(),
      ecs: { version: "8.17.0" },
      event: { id: `evt-${String(i).padStart(4, "0")}`, kind: "event", dataset: "istio.access" },
      mesh: {
        name: "istio",
        source: { principal: `spiffe://cluster.local/ns/shop/sa/p${e.principal}` },
        destination: { service: `s${e.service}.shop.svc.cluster.local` },
      },
      http: { request: { method: e.post ? "POST" : "GET" }, response: { status_code: 200 } },
    } as unknown as EcsDocument;
    return { doc, arrivalMs: ms + e.delay };
  });
}

/** A Kubernetes API request by `user` from `ip` at `ms`, as the transform indexes it. */
function apiRequest(ms: number, user: string, ip: string, id: string): EcsDocument {
  return {
    "@timestamp": new Date(ms).toISOString(),
    ecs: { version: "8.17.0" },
    event: { id, kind: "event", dataset: "kubernetes.audit" },
    source: { ip },
    kubernetes: { audit: { stage: "ResponseComplete", verb: "get", user: { username: user } } },
  } as unknown as EcsDocument;
}

describe("behavioural rules: detector on a real node against replay", () => {
  const client = testClient();
  let pack: RulePack;
  const context: AlertContext = { environment: ENVIRONMENT };

  beforeAll(async () => {
    pack = buildRulePack([{ file: "test/behaviour.yml", text: RULES }], []);
    await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
    await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
  });

  afterAll(async () => {
    await deleteIndices(client, "audit-2030-*");
    await client.indices.delete({ index: ALERTS_INDEX, ignore_unavailable: true });
  });

  const replayIds = (planned: readonly Arriving[]): string[] => {
    const { detections, late } = replayInArrivalOrder(pack, planned);
    expect(late).toBe(0);
    return detections
      .filter((d) => d.rule.kind === "correlation")
      .map((d) => {
        const alert = buildAlert(d, context);
        return `${alert.id} ${alert.rule.name} ${alert.count}`;
      })
      .sort();
  };

  const detectorIds = async (
    planned: readonly Arriving[],
    runEveryMs: number,
    baselineRebuildEveryMs?: number,
  ) => {
    const lastMs = Math.max(...planned.map((item) => Date.parse(item.doc["@timestamp"])));
    const { alerts, failures } = await detectorAsDocumentsArrive({
      client,
      pack,
      alertContext: context,
      arriving: planned,
      auditIndices: "audit-2030-*",
      firstRunMs: T0 + runEveryMs,
      runEveryMs,
      endMs: lastMs + LOOKBACK + 2 * HOUR,
      ...(baselineRebuildEveryMs === undefined ? {} : { baselineRebuildEveryMs }),
    });
    expect(failures).toEqual([]);
    return alerts.map((alert) => `${alert._id} ${alert.document.rule.name} ${alert.document.count}`).sort();
  };

  it("raises the same first-seen alerts as replay, with records up to the look-back late", async () => {
    const event = fc.record({
      minute: fc.integer({ min: 0, max: 3 * 24 * 60 }),
      principal: fc.integer({ min: 0, max: 3 }),
      service: fc.integer({ min: 0, max: 4 }),
      post: fc.boolean(),
      delay: fc.integer({ min: 0, max: LOOKBACK - 1 }),
    });
    let alerts = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 5, maxLength: 80 }), async (events) => {
        const planned = plan(events);
        const expected = replayIds(planned);
        alerts += expected.length;
        expect(await detectorIds(planned, 6 * HOUR)).toEqual(expected);
      }),
      { numRuns: 12, endOnFailure: true },
    );
    // The cases are not all quiet: the comparison covers alerts of every kind.
    expect(alerts).toBeGreaterThan(0);
  });

  it("decides the same after its baseline is rebuilt from the indices at every run", async () => {
    // Prepare: steady edges for two days, then new ones, with a rebuild at every run.
    const events = [];
    for (let minute = 0; minute < 3 * 24 * 60; minute += 47) {
      events.push({
        minute,
        principal: minute % 3,
        service: minute % 2,
        post: false,
        delay: (minute * 7919) % LOOKBACK,
      });
    }
    events.push({ minute: 2 * 24 * 60 + 5, principal: 1, service: 4, post: false, delay: 0 });
    events.push({ minute: 2 * 24 * 60 + 9, principal: 3, service: 0, post: true, delay: 60_000 });
    events.push({ minute: 2 * 24 * 60 + 12, principal: 3, service: 0, post: true, delay: 0 });
    const planned = plan(events);
    // Act
    const expected = replayIds(planned);
    const rebuilt = await detectorIds(planned, 4 * HOUR, 1);
    // Assess
    expect(expected.length).toBeGreaterThan(0);
    expect(rebuilt).toEqual(expected);
  });
  /** Every document on the node before the first of the runs every 6 hours from `T0 + 6h` to `endMs`. */
  const geoDetector = async (
    geoPack: RulePack,
    context: AlertContext,
    docs: readonly EcsDocument[],
    endMs: number,
  ) => {
    const { alerts, failures } = await detectorAsDocumentsArrive({
      client,
      pack: geoPack,
      alertContext: context,
      arriving: docs.map((doc) => ({ doc, arrivalMs: T0 })),
      auditIndices: "audit-2030-*",
      firstRunMs: T0 + 6 * HOUR,
      runEveryMs: 6 * HOUR,
      endMs,
    });
    expect(failures).toEqual([]);
    return alerts;
  };

  it("judges new countries and impossible travel as replay does (DB-IP countries)", async () => {
    // Prepare: alice works from Germany daily; on day 2 she is in Brazil 30 minutes after a German request.
    const geoPack = buildRulePack([{ file: "test/geo.yml", text: GEO_RULES }], []);
    const geo = GeoIpDatabase.load(packagedGeoIpDir());
    const docs: EcsDocument[] = [];
    const request = (ms: number, user: string, ip: string) => apiRequest(ms, user, ip, `geo-${docs.length}`);
    for (let day = 0; day < 3; day++) {
      docs.push(request(T0 + day * 24 * HOUR + 8 * HOUR, "alice", "5.9.0.1"));
      docs.push(request(T0 + day * 24 * HOUR + 9 * HOUR, "bob", "62.210.0.1"));
    }
    docs.push(request(T0 + 2 * 24 * HOUR + 8.5 * HOUR, "alice", "200.160.0.8"));
    docs.push(request(T0 + 2 * 24 * HOUR + 10 * HOUR, "bob", "10.1.2.3"));
    docs.sort((a, b) => Date.parse(a["@timestamp"]) - Date.parse(b["@timestamp"]));
    const replayed = replayInArrivalOrder(
      geoPack,
      docs.map((doc) => ({ doc, arrivalMs: T0 })),
      geo,
    );
    const context = { environment: ENVIRONMENT, geo };
    const expected = replayed.detections.map((d) => `${buildAlert(d, context).id} ${d.rule.name}`).sort();
    // Act: a run every 6 hours.
    const alerts = await geoDetector(geoPack, context, docs, T0 + 4 * 24 * HOUR);
    // Assess
    expect(replayed.late).toBe(0);
    expect(expected.map((line) => line.split(" ")[1]).sort()).toEqual(["geo_new_country", "geo_travel"]);
    expect(alerts.map((alert) => `${alert._id} ${alert.document.rule.name}`).sort()).toEqual(expected);
  });

  it("remembers each person's recent countries across runs: a move hidden behind a neighbouring country fires once, as in replay", async () => {
    // Prepare: Germany, Russia 10 minutes later (0 km in the table), the US 10 minutes after that (4,000 km from
    // Germany), with a detector run judging between Russia and the US; then the US again (no second alert). Carol
    // makes the same hops with a flight's time before the US: no alert.
    const travelPack = buildRulePack([{ file: "test/geo.yml", text: GEO_RULES }], []);
    const geo = GeoIpDatabase.load(packagedGeoIpDir());
    const request = (ms: number, user: string, ip: string, i: number) =>
      apiRequest(ms, user, ip, `hop-${String(i).padStart(3, "0")}`);
    const judgedUpTo = T0 + 6 * HOUR - LOOKBACK;
    const docs = [
      request(judgedUpTo - 20 * 60_000, "alice", "5.9.0.1", 0),
      request(judgedUpTo - 10 * 60_000, "alice", "77.88.8.8", 1),
      request(judgedUpTo + 60_000, "alice", "8.8.8.8", 2),
      request(judgedUpTo + 11 * 60_000, "alice", "8.8.8.8", 3),
      request(judgedUpTo - 20 * 60_000, "carol", "5.9.0.1", 4),
      request(judgedUpTo - 10 * 60_000, "carol", "77.88.8.8", 5),
      request(judgedUpTo + 10 * HOUR, "carol", "8.8.8.8", 6),
    ].sort((a, b) => a["@timestamp"].localeCompare(b["@timestamp"]));
    const replayed = replayInArrivalOrder(
      travelPack,
      docs.map((doc) => ({ doc, arrivalMs: T0 })),
      geo,
    );
    const context = { environment: ENVIRONMENT, geo };
    const travels = replayed.detections.filter((d) => d.rule.name === "geo_travel");
    const expected = travels.map((d) => `${buildAlert(d, context).id} ${d.rule.name}`).sort();
    // Act: a run every 6 hours; the first judges up to the US request.
    const alerts = await geoDetector(travelPack, context, docs, T0 + 24 * HOUR);
    // Assess
    expect(replayed.late).toBe(0);
    expect(travels.map((d) => d.groupBy)).toEqual([
      {
        "kubernetes.audit.user.username": "alice",
        "previous.source.geo.country_iso_code": "DE",
        "source.geo.country_iso_code": "US",
      },
    ]);
    expect(
      alerts
        .filter((alert) => alert.document.rule.name === "geo_travel")
        .map((alert) => `${alert._id} ${alert.document.rule.name}`)
        .sort(),
    ).toEqual(expected);
  });
});
