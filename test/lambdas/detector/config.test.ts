import { describe, expect, it } from "vitest";
import { DETECTOR_ENV } from "../../../lambdas/core/contracts.js";
import { DetectorConfigError, loadDetectorConfig } from "../../../lambdas/detector/config.js";
import { TOPICS } from "./topics.js";

const complete = (): Record<string, string | undefined> => ({
  AWS_REGION: "eu-west-1",
  LAMBDA_TASK_ROOT: "/var/task",
  [DETECTOR_ENV.environmentName]: "prod",
  [DETECTOR_ENV.domainEndpoint]: "search-audit-abc.eu-west-1.es.amazonaws.com",
  [DETECTOR_ENV.rulesDir]: "/var/task/rules",
  [DETECTOR_ENV.topicArns]: JSON.stringify(TOPICS),
  [DETECTOR_ENV.stateTableName]: "detector-state",
  [DETECTOR_ENV.dashboardsUrl]: "https://search-audit-abc.eu-west-1.es.amazonaws.com/_dashboards",
});

describe("loadDetectorConfig", () => {
  it("reads every variable once, with the GeoIP directory defaulting next to the code", () => {
    const config = loadDetectorConfig(complete());
    expect(config).toMatchObject({
      environmentName: "prod",
      region: "eu-west-1",
      topicArns: TOPICS,
      stateTableName: "detector-state",
      runbookBaseUrl: undefined,
      ruleOverrides: undefined,
      geoIpDir: "/var/task/geoip",
    });
  });

  it.each([
    [DETECTOR_ENV.environmentName, /AUDIT_TRAIL_ENVIRONMENT is not set/],
    [DETECTOR_ENV.domainEndpoint, /AUDIT_TRAIL_DOMAIN_ENDPOINT is not set/],
    [DETECTOR_ENV.rulesDir, /AUDIT_TRAIL_RULES_DIR is not set/],
    [DETECTOR_ENV.topicArns, /AUDIT_TRAIL_TOPIC_ARNS is not set/],
    [DETECTOR_ENV.stateTableName, /AUDIT_TRAIL_DETECTOR_STATE_TABLE is not set/],
    ["AWS_REGION", /AWS_REGION is not set/],
  ])("names %s when it is missing", (name, message) => {
    expect(() => loadDetectorConfig({ ...complete(), [name]: undefined })).toThrowError(message);
  });

  it("rejects topic maps that are not JSON, miss a topic, or name an unknown one", () => {
    const withTopics = (value: string) => ({ ...complete(), [DETECTOR_ENV.topicArns]: value });
    expect(() => loadDetectorConfig(withTopics("{"))).toThrowError(/AUDIT_TRAIL_TOPIC_ARNS is not JSON/);
    expect(() => loadDetectorConfig(withTopics(JSON.stringify({ ...TOPICS, low: undefined })))).toThrowError(
      "AUDIT_TRAIL_TOPIC_ARNS.low is undefined: expected an SNS topic ARN",
    );
    expect(() => loadDetectorConfig(withTopics(JSON.stringify({ ...TOPICS, info: "x" })))).toThrowError(
      /unknown topics info: use critical, high, medium, low, ops/,
    );
    expect(() => loadDetectorConfig(withTopics(JSON.stringify({ ...TOPICS, ops: undefined })))).toThrowError(
      "AUDIT_TRAIL_TOPIC_ARNS.ops is undefined: expected an SNS topic ARN",
    );
    expect(() =>
      loadDetectorConfig(withTopics(JSON.stringify({ ...TOPICS, high: "audit-high" }))),
    ).toThrowError(DetectorConfigError);
  });

  it("rejects an endpoint with a scheme and a dashboards URL that is not https", () => {
    expect(() =>
      loadDetectorConfig({
        ...complete(),
        [DETECTOR_ENV.domainEndpoint]: "https://search-audit.example.com",
      }),
    ).toThrowError(/host name only/);
    expect(() =>
      loadDetectorConfig({ ...complete(), [DETECTOR_ENV.dashboardsUrl]: "http://x/_dashboards" }),
    ).toThrowError(/AUDIT_TRAIL_DASHBOARDS_URL is "http:\/\/x\/_dashboards": expected an https URL/);
  });
});
