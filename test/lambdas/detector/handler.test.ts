import { createRequire } from "node:module";
import { dirname } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { Context, ScheduledEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ALERTS_INDEX, DETECTOR_ENV, DETECTOR_METRICS } from "../../../lambdas/core/contracts.js";
import { defaultRulesDir } from "../../../lambdas/core/rules/load.js";
import type { DetectorConfig } from "../../../lambdas/detector/config.js";
import { correlationRule, singleRule } from "../core/alerts/factories.js";
import { FakeOpenSearch } from "../core/detection/fake-opensearch.js";
import {
  isNewestStampSearch,
  NOW,
  packOf,
  recordedAudit,
  recordedAuditStamped,
} from "../core/detection/scenario.js";
import { stubHandlerEnvironment } from "../handler-environment.js";
import { TOPICS } from "./topics.js";

const sns = mockClient(SNSClient);
const dynamodb = mockClient(DynamoDBClient);

const context = { awsRequestId: "req-1", functionName: "detector" } as unknown as Context;
const scheduled = {
  id: "e-1",
  "detail-type": "Scheduled Event",
  source: "aws.events",
  time: "2025-03-04T10:17:00Z",
} as unknown as ScheduledEvent;

const config: DetectorConfig = {
  environmentName: "prod",
  domainEndpoint: "search-audit.eu-west-1.es.amazonaws.com",
  region: "eu-west-1",
  rulesDir: "rules",
  ruleOverrides: undefined,
  topicArns: TOPICS,
  stateTableName: "detector-state",
  dashboardsUrl: "https://search.example.com/_dashboards",
  runbookBaseUrl: "https://github.com/example/mesh-audit-trail/blob/main",
  geoIpDir: "geoip",
  ingestLagMs: undefined,
};

beforeEach(() => {
  vi.resetModules();
  sns.reset();
  dynamodb.reset();
  stubHandlerEnvironment();
});
afterEach(() => {
  vi.unstubAllEnvs();
});

async function handlerWith(
  search: FakeOpenSearch,
  metrics = new Metrics({ namespace: "Test", serviceName: "detector" }),
  configured: DetectorConfig = config,
) {
  const { buildHandler } = await import("../../../lambdas/detector/build.js");
  return buildHandler({
    config: configured,
    pack: packOf([singleRule(), correlationRule()]),
    search,
    sns: new SNSClient({ region: "eu-west-1" }),
    dynamodb: new DynamoDBClient({ region: "eu-west-1" }),
    alertContext: { environment: "prod", dashboardsUrl: config.dashboardsUrl ?? "" },
    logger: new Logger({ serviceName: "detector" }),
    metrics,
    tracer: new Tracer({ serviceName: "detector", enabled: false }),
    clock: () => NOW,
  });
}

function stubCompleteEnvironment() {
  const require = createRequire(import.meta.url);
  vi.stubEnv(DETECTOR_ENV.environmentName, "prod");
  vi.stubEnv(DETECTOR_ENV.domainEndpoint, config.domainEndpoint);
  vi.stubEnv(DETECTOR_ENV.rulesDir, defaultRulesDir());
  vi.stubEnv(DETECTOR_ENV.topicArns, JSON.stringify(TOPICS));
  vi.stubEnv(DETECTOR_ENV.stateTableName, "detector-state");
  vi.stubEnv("AUDIT_TRAIL_GEOIP_DIR", dirname(require.resolve("@ip-location-db/dbip-country/package.json")));
}

describe("detector handler", () => {
  it("emits every metric of its contract in a run, the ones the stack alarms on included", async () => {
    // Prepare
    dynamodb.on(GetItemCommand).resolves({ Item: { watermarkMs: { N: String(NOW - 60_000) } } });
    dynamodb.on(UpdateItemCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    const metrics = new Metrics({
      namespace: DETECTOR_METRICS.namespace,
      serviceName: DETECTOR_METRICS.service,
    });
    const emitted = vi.spyOn(metrics, "addMetric");
    const handler = await handlerWith(new FakeOpenSearch(ALERTS_INDEX, recordedAudit), metrics);

    // Act
    await handler(scheduled, context);

    // Assess
    const names = emitted.mock.calls.map(([name]) => name);
    expect(names.sort()).toEqual(Object.values(DETECTOR_METRICS.names).sort());
  });

  it("pages each alert on its severity's topic with routing attributes, then advances the watermark", async () => {
    // Prepare
    dynamodb.on(GetItemCommand).resolves({ Item: { watermarkMs: { N: String(NOW - 60_000) } } });
    dynamodb.on(UpdateItemCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    const handler = await handlerWith(new FakeOpenSearch(ALERTS_INDEX, recordedAudit));
    // Act
    const result = await handler(scheduled, context);
    // Assess
    expect(result).toMatchObject({
      complete: true,
      published: 2,
      pending: 0,
      to: "2025-03-04T10:17:00.000Z",
    });
    expect(result.from).toBe("2025-03-04T10:01:00.000Z");
    const inputs = sns.commandCalls(PublishCommand).map((call) => call.args[0].input);
    expect(inputs.map((input) => input.TopicArn).sort()).toEqual([TOPICS.high, TOPICS.medium]);
    const exec = inputs.find((input) => input.TopicArn === TOPICS.high);
    expect(exec?.MessageStructure).toBe("json");
    expect(exec?.MessageAttributes).toEqual({
      severity: { DataType: "String", StringValue: "high" },
      rule: { DataType: "String", StringValue: "k8s_pod_exec" },
      environment: { DataType: "String", StringValue: "prod" },
    });
    expect((exec?.Subject ?? "").length).toBeLessThanOrEqual(99);
    expect(Object.keys(JSON.parse(exec?.Message ?? "{}")).sort()).toEqual([
      "default",
      "email",
      "https",
      "sms",
    ]);
    const update = dynamodb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(update).toMatchObject({
      TableName: "detector-state",
      Key: { pk: { S: "detector" }, sk: { S: "watermark#prod" } },
      ConditionExpression: "attribute_not_exists(watermarkMs) OR watermarkMs < :ms",
      ExpressionAttributeValues: { ":ms": { N: String(NOW) } },
    });
  });

  it("never pages twice when the invocation is retried", async () => {
    dynamodb.on(GetItemCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    const handler = await handlerWith(new FakeOpenSearch(ALERTS_INDEX, recordedAudit));
    await handler(scheduled, context);
    await handler(scheduled, context);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(2);
  });

  it("keeps alerts pending when SNS fails, still advances, and publishes them on the next run", async () => {
    // Prepare
    dynamodb.on(GetItemCommand).resolves({});
    sns
      .on(PublishCommand)
      .rejectsOnce(new Error("Throttling"))
      .rejectsOnce(new Error("Throttling"))
      .resolves({ MessageId: "m-2" });
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    const handler = await handlerWith(search);
    // Act
    const first = await handler(scheduled, context);
    const second = await handler(scheduled, context);
    // Assess
    expect(first).toMatchObject({ complete: true, published: 0, pending: 2 });
    expect(second).toMatchObject({ published: 2 });
    expect(Object.values(search.statuses())).toEqual(["published", "published"]);
    expect(dynamodb.commandCalls(UpdateItemCommand)).toHaveLength(2);
  });

  it("advances past a failing rule, records where it resumes, and reads that back next run", async () => {
    // Prepare: the burst rule's aggregation fails; the exec rule works.
    dynamodb.on(GetItemCommand).resolves({ Item: { watermarkMs: { N: String(NOW - 60_000) } } });
    dynamodb.on(UpdateItemCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAudit);
    search.failSearch = (_index, body) => isWindowAggregation(body);
    const handler = await handlerWith(search);
    // Act
    const result = await handler(scheduled, context);
    // Assess
    expect(result).toMatchObject({ complete: false, failedRules: ["mesh_auth_failure_burst"], published: 1 });
    const topics = sns.commandCalls(PublishCommand).map((call) => call.args[0].input.TopicArn);
    expect(topics.sort()).toEqual([TOPICS.high, TOPICS.ops]);
    const update = dynamodb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(update?.ExpressionAttributeValues).toMatchObject({
      ":ms": { N: String(NOW) },
      ":resume": { M: { mesh_auth_failure_burst: { N: String(NOW - 60_000 - 15 * 60_000) } } },
    });
    // The next run reads the resume point back: the failing rule's range starts there, alone.
    dynamodb.on(GetItemCommand).resolves({
      Item: {
        watermarkMs: { N: String(NOW) },
        resumeFromMs: { M: { mesh_auth_failure_burst: { N: String(NOW - 60_000 - 15 * 60_000) } } },
      },
    });
    search.searches.length = 0;
    await handler(scheduled, context);
    const burst = search.searches.find((request) => isWindowAggregation(request.body));
    expect(JSON.stringify(burst?.body)).toContain(`"gte":${NOW - 60_000 - 15 * 60_000 - 30_000}`);
  });

  it("reads from the newest index stamp the last run found, and saves the one this run found", async () => {
    // Prepare
    dynamodb.on(GetItemCommand).resolves({
      Item: { watermarkMs: { N: String(NOW - 60_000) }, indexedThroughMs: { N: String(NOW - 65_000) } },
    });
    dynamodb.on(UpdateItemCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    const search = new FakeOpenSearch(ALERTS_INDEX, recordedAuditStamped(NOW - 3_000));
    const handler = await handlerWith(search, undefined, { ...config, ingestLagMs: 180_000 });

    // Act
    await handler(scheduled, context);

    // Assess
    const stampSearch = search.searches.find((request) => isNewestStampSearch(request.body));
    expect(JSON.stringify(stampSearch?.body.query)).toContain(`"gte":${NOW - 65_000 - 60_000}`);
    const update = dynamodb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(update?.UpdateExpression).toContain("indexedThroughMs = :indexed");
    expect(update?.ExpressionAttributeValues).toMatchObject({ ":indexed": { N: String(NOW - 3_000) } });
  });

  it("holds outbox claims longer than the invocation can run", async () => {
    const { leaseFor } = await import("../../../lambdas/detector/build.js");
    expect(leaseFor({ getRemainingTimeInMillis: () => 600_000 })).toBe(660_000);
    expect(leaseFor({ getRemainingTimeInMillis: () => 30_000 })).toBe(300_000);
  });

  it("stops evaluating 20 s and writing alerts 5 s before the invocation's timeout", async () => {
    const { deadlineFor, DETECTOR_STATE_SAVE_MS } = await import("../../../lambdas/detector/build.js");
    const remaining = { getRemainingTimeInMillis: () => 60_000 };
    expect(deadlineFor(remaining, () => NOW)).toBe(NOW + 40_000);
    expect(deadlineFor(remaining, () => NOW, DETECTOR_STATE_SAVE_MS)).toBe(NOW + 55_000);
  });

  it("rejects a corrupt watermark item naming the table", async () => {
    dynamodb.on(GetItemCommand).resolves({ Item: { watermarkMs: { N: "soon" } } });
    const handler = await handlerWith(new FakeOpenSearch(ALERTS_INDEX, recordedAudit));
    await expect(handler(scheduled, context)).rejects.toThrowError(
      /detector-state watermark item holds "soon"/,
    );
  });

  it("cold-starts from the environment with the shipped rule pack and GeoIP database", async () => {
    stubCompleteEnvironment();
    const module = await import("../../../lambdas/detector/handler.js");
    expect(typeof module.handler).toBe("function");
  });

  it("fails the cold start naming a missing variable", async () => {
    stubCompleteEnvironment();
    vi.stubEnv(DETECTOR_ENV.stateTableName, "");
    await expect(import("../../../lambdas/detector/handler.js")).rejects.toThrowError(
      /AUDIT_TRAIL_DETECTOR_STATE_TABLE is not set/,
    );
  });
});

/** The correlation's window aggregation (a composite of groups), not an alert's events or count query. */
function isWindowAggregation(body: Record<string, unknown>): boolean {
  return (body.aggs as Record<string, unknown> | undefined)?.groups !== undefined;
}
