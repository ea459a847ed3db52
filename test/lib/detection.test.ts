import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { App, type CfnElement, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as events from "aws-cdk-lib/aws-events";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as opensearch from "aws-cdk-lib/aws-opensearchservice";
import * as sns from "aws-cdk-lib/aws-sns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ALERT_TOPICS,
  type AlertTopic,
  DETECTOR_ENV,
  DETECTOR_METRICS,
} from "../../lambdas/core/contracts.js";
import { DBIP_FILES } from "../../lambdas/core/geo/index.js";
import { AuditTrailConfigError, ENVIRONMENTS } from "../../lib/config/index.js";
import { AuditDetection, type AuditDetectionProps } from "../../lib/detection.js";
import { geoIpPackageDir } from "../../lib/private/bundle.js";
import { build, cdkJsonContext, PK_SK_KEYS, shippedStacks } from "./fixtures.js";

type Resource = { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> };
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

function resourcesOf(template: Template): Record<string, Resource> {
  return template.toJSON().Resources as Record<string, Resource>;
}

/** The detector function's logical id and properties. */
function detectorOf(template: Template): [string, Record<string, unknown>] {
  const found = Object.entries(
    template.findResources("AWS::Lambda::Function", {
      Properties: { Description: Match.stringLikeRegexp("mesh-audit-trail: detector") },
    }),
  ) as [string, Resource][];
  if (found.length !== 1) throw new Error(`expected one detector function, found ${found.length}`);
  const [logicalId, resource] = found[0] as [string, Resource];
  return [logicalId, resource.Properties];
}

/** Every statement of the inline policies attached to the detector's role. */
function detectorStatements(template: Template): Statement[] {
  const [, detector] = detectorOf(template);
  const roleId = (detector.Role as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
  return Object.values(resourcesOf(template))
    .filter((resource) => resource.Type === "AWS::IAM::Policy")
    .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

function alarmsOf(template: Template): Map<string, Record<string, unknown>> {
  const byLabel = new Map<string, Record<string, unknown>>();
  for (const [logicalId, alarm] of Object.entries(template.findResources("AWS::CloudWatch::Alarm"))) {
    byLabel.set(
      logicalId.replace(/^Monitoring/, "").replace(/[0-9A-F]{8}$/, ""),
      (alarm as Resource).Properties,
    );
  }
  return byLabel;
}

/** A stack holding the detector alone, with stand-ins for the domain, topics and keys. */
function standalone(
  app: App,
  overrides: Partial<AuditDetectionProps> = {},
): { stack: Stack; detection: AuditDetection } {
  const stack = new Stack(app, "DetectorOnly");
  const topics = {} as Record<AlertTopic, sns.ITopic>;
  for (const topic of ALERT_TOPICS) topics[topic] = new sns.Topic(stack, `${topic}Topic`);
  const detection = new AuditDetection(stack, "Detection", {
    environmentName: "test",
    domain: opensearch.Domain.fromDomainEndpoint(
      stack,
      "Domain",
      "https://search-audit-trail-test-abc.eu-west-1.es.amazonaws.com",
    ),
    topics,
    encryptionKey: new kms.Key(stack, "DataKey"),
    logsKey: new kms.Key(stack, "LogsKey"),
    logRetention: logs.RetentionDays.ONE_WEEK,
    ...overrides,
  });
  return { stack, detection };
}

describe("detection", () => {
  const shipped = shippedStacks("dev", "prod");

  it("runs the detector handler with a 2-minute timeout, 1024 MB and one run at a time", () => {
    // Act
    const [, detector] = detectorOf(shipped.prod.template);

    // Assess
    expect(detector).toMatchObject({
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      Handler: "index.handler",
      Timeout: 120,
      MemorySize: 1024,
      ReservedConcurrentExecutions: 1,
      TracingConfig: { Mode: "Active" },
      KmsKeyArn: { "Fn::GetAtt": [expect.stringMatching(/^KeysDataKey/), "Arn"] },
    });
  });

  it("hands the detector its environment: name, endpoint host, rules, overrides, topics, state table, links", () => {
    // Act
    const [, detector] = detectorOf(shipped.prod.template);
    const variables = (detector.Environment as { Variables: Record<string, unknown> }).Variables;

    // Assess
    expect(variables).toEqual({
      NODE_OPTIONS: "--enable-source-maps",
      [DETECTOR_ENV.environmentName]: "prod",
      [DETECTOR_ENV.domainEndpoint]: {
        "Fn::GetAtt": [expect.stringMatching(/^SearchDomain/), "DomainEndpoint"],
      },
      [DETECTOR_ENV.rulesDir]: "/var/task/rules",
      [DETECTOR_ENV.ruleOverrides]: JSON.stringify(ENVIRONMENTS.prod.detection.ruleOverrides),
      [DETECTOR_ENV.topicArns]: {
        "Fn::Join": [
          "",
          [
            '{"critical":"',
            { Ref: expect.stringMatching(/^AlertingCriticalAlerts/) },
            '","high":"',
            { Ref: expect.stringMatching(/^AlertingHighAlerts/) },
            '","medium":"',
            { Ref: expect.stringMatching(/^AlertingMediumAlerts/) },
            '","low":"',
            { Ref: expect.stringMatching(/^AlertingLowAlerts/) },
            '","ops":"',
            { Ref: expect.stringMatching(/^AlertingOpsAlarms/) },
            '"}',
          ],
        ],
      },
      [DETECTOR_ENV.stateTableName]: { Ref: expect.stringMatching(/^DetectionState/) },
      [DETECTOR_ENV.dashboardsUrl]: {
        "Fn::Join": [
          "",
          [
            "https://",
            { "Fn::GetAtt": [expect.stringMatching(/^SearchDomain/), "DomainEndpoint"] },
            "/_dashboards/",
          ],
        ],
      },
      [DETECTOR_ENV.runbookBaseUrl]: ENVIRONMENTS.prod.alerts.runbookBaseUrl,
      // Incremental evaluation: a record is searchable at most buffering + retries + a minute after it arrived.
      [DETECTOR_ENV.ingestLagMs]: String(
        (ENVIRONMENTS.prod.firehose.bufferingIntervalSeconds +
          ENVIRONMENTS.prod.firehose.retryDurationSeconds +
          60) *
          1000,
      ),
    });
    // The handler's default ($LAMBDA_TASK_ROOT/geoip) is where the bundle puts the database.
    expect(variables).not.toHaveProperty(DETECTOR_ENV.geoIpDir);
  });

  it("leaves out the runbook link when alerts.runbookBaseUrl is unset", () => {
    // Act
    const [, detector] = detectorOf(shipped.dev.template);
    const variables = (detector.Environment as { Variables: Record<string, unknown> }).Variables;

    // Assess
    expect(variables).not.toHaveProperty(DETECTOR_ENV.runbookBaseUrl);
    expect(variables[DETECTOR_ENV.ruleOverrides]).toBe(
      JSON.stringify(ENVIRONMENTS.dev.detection.ruleOverrides),
    );
    expect(variables[DETECTOR_ENV.environmentName]).toBe("dev");
  });

  it("runs every minute from an EventBridge schedule and does not retry a failed run", () => {
    // Act
    const [logicalId] = detectorOf(shipped.prod.template);

    // Assess
    shipped.prod.template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [logicalId, "Arn"] } })],
    });
    // Not before the bootstrap has mapped the detector's role and created the alerts index template.
    const [schedule] = Object.values(
      shipped.prod.template.findResources("AWS::Events::Rule", {
        Properties: { ScheduleExpression: "rate(1 minute)" },
      }),
    ) as { DependsOn?: string[] }[];
    expect(schedule?.DependsOn).toEqual(
      expect.arrayContaining([expect.stringMatching(/^SearchBootstrap[0-9A-F]{8}$/)]),
    );
    shipped.prod.template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      Principal: "events.amazonaws.com",
      FunctionName: { "Fn::GetAtt": [logicalId, "Arn"] },
    });
    shipped.prod.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: logicalId },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 120,
    });
  });

  it("keeps the watermark in an on-demand, PITR, CMK-encrypted, retained table keyed pk/sk", () => {
    // Act
    const tables = shipped.prod.template.findResources("AWS::DynamoDB::Table");
    const state = Object.entries(tables).find(([logicalId]) => logicalId.startsWith("DetectionState"));

    // Assess
    expect(state?.[1]).toMatchObject({
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: {
        ...PK_SK_KEYS,
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
        SSESpecification: {
          SSEEnabled: true,
          SSEType: "KMS",
          KMSMasterKeyId: { "Fn::GetAtt": [expect.stringMatching(/^KeysDataKey/), "Arn"] },
        },
      },
    });
  });

  it("runs as the stack's detector role, the one the domain's access policy and the bootstrap name", () => {
    // Act
    const [, detector] = detectorOf(shipped.prod.template);

    // Assess
    const roleId = shipped.prod.stack.getLogicalId(
      shipped.prod.stack.detectorRole.node.defaultChild as CfnElement,
    );
    expect(detector.Role).toEqual({ "Fn::GetAtt": [roleId, "Arn"] });
    shipped.prod.template.hasResourceProperties("Custom::AuditTrailSearchBootstrap", {
      DetectorRoleArn: detector.Role,
    });
    const domain = Object.values(
      shipped.prod.template.findResources("AWS::OpenSearchService::Domain"),
    )[0] as Resource;
    expect(JSON.stringify(domain.Properties.AccessPolicies)).toContain(JSON.stringify(detector.Role));
  });

  it("may search the audit indices and read and write alert documents of this domain, nothing else", () => {
    // Act
    const statements = detectorStatements(shipped.prod.template).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith("es:")),
    );

    // Assess
    const onDomain = (suffix: string) => ({
      "Fn::Join": ["", [{ "Fn::GetAtt": [expect.stringMatching(/^SearchDomain/), "Arn"] }, suffix]],
    });
    expect(statements).toEqual([
      { Effect: "Allow", Action: "es:ESHttpPost", Resource: onDomain("/audit-*") },
      { Effect: "Allow", Action: ["es:ESHttpGet", "es:ESHttpPut"], Resource: onDomain("/audit-alerts/*") },
    ]);
  });

  it("may publish to the four severity topics and the ops topic, and use the data key", () => {
    // Act
    const statements = detectorStatements(shipped.prod.template);
    const publish = statements.filter((statement) => actionsOf(statement).includes("sns:Publish"));
    const kmsActions = statements
      .filter((statement) => JSON.stringify(statement.Resource).includes("KeysDataKey"))
      .flatMap(actionsOf);

    // Assess
    expect(publish).toHaveLength(1);
    const topics = ((publish[0]?.Resource ?? []) as { Ref: string }[]).map((ref) => ref.Ref).sort();
    expect(topics).toEqual([
      expect.stringMatching(/^AlertingCriticalAlerts/),
      expect.stringMatching(/^AlertingHighAlerts/),
      expect.stringMatching(/^AlertingLowAlerts/),
      expect.stringMatching(/^AlertingMediumAlerts/),
      expect.stringMatching(/^AlertingOpsAlarms/),
    ]);
    // Decrypt of the function's environment (Lambda), and the topics' and table's data key through SNS and DynamoDB.
    expect(kmsActions.sort()).toEqual(["kms:Decrypt", "kms:Decrypt", "kms:GenerateDataKey"]);
  });

  it("may read and update items of its state table only (no scan, query or delete)", () => {
    // Act
    const dynamo = detectorStatements(shipped.prod.template).filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith("dynamodb:")),
    );

    // Assess
    expect(dynamo).toEqual([
      {
        Effect: "Allow",
        Action: ["dynamodb:GetItem", "dynamodb:UpdateItem"],
        Resource: { "Fn::GetAtt": [expect.stringMatching(/^DetectionState/), "Arn"] },
      },
    ]);
  });

  it("runs in the VPC's private subnets with the client security group when the network is vpc", () => {
    // Act
    const [, inVpc] = detectorOf(shipped.prod.template);
    const [, publicDomain] = detectorOf(shipped.dev.template);

    // Assess
    expect(inVpc.VpcConfig).toEqual({
      SecurityGroupIds: [{ "Fn::GetAtt": [expect.stringMatching(/^NetworkClientSecurityGroup/), "GroupId"] }],
      SubnetIds: [
        { Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet1/) },
        { Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet2/) },
      ],
    });
    expect(publicDomain.VpcConfig).toBeUndefined();
  });

  it("records why the detector has no dead-letter queue for checkov", () => {
    // Act
    const [logicalId] = detectorOf(shipped.prod.template);
    const metadata = resourcesOf(shipped.prod.template)[logicalId]?.Metadata;

    // Assess
    expect(metadata?.checkov).toEqual({
      skip: [{ id: "CKV_AWS_116", comment: expect.stringContaining("watermark") }],
    });
  });

  it("alarms on the detector's errors, throttles and duration, failed deliveries and watermark lag", () => {
    // Act
    const alarms = alarmsOf(shipped.prod.template);
    const [logicalId] = detectorOf(shipped.prod.template);
    const opsTopic = [{ Ref: expect.stringMatching(/^AlertingOpsAlarms/) }];
    const detectorMetric = {
      Namespace: "MeshAuditTrail",
      Dimensions: [{ Name: "service", Value: "detector" }],
    };

    // Assess
    expect(alarms.get("DetectorErrors")).toMatchObject({
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: logicalId } }],
    });
    expect(alarms.get("DetectorThrottles")).toMatchObject({ MetricName: "Throttles" });
    expect(alarms.get("DetectorDuration")).toMatchObject({
      MetricName: "Duration",
      Threshold: 120_000 * 0.8,
    });
    for (const metricName of [
      "AlertsPublishFailed",
      "AlertsPersistFailed",
      "AlertsMarkFailed",
      "RulesFailed",
      "RangesSkipped",
    ]) {
      expect(alarms.get(`Detector${metricName}`), metricName).toMatchObject({
        ...detectorMetric,
        MetricName: metricName,
        Statistic: "Sum",
        Period: 300,
        Threshold: 0,
        ComparisonOperator: "GreaterThanThreshold",
        EvaluationPeriods: 1,
        TreatMissingData: "notBreaching",
        AlarmActions: opsTopic,
        OKActions: opsTopic,
      });
    }
    // A rule that keeps running out of the run's time or event budget falls behind while the watermark advances:
    // three five-minute periods running.
    expect(alarms.get("DetectorRulesPartial")).toMatchObject({
      ...detectorMetric,
      MetricName: "RulesPartial",
      Statistic: "Minimum",
      Period: 300,
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
      EvaluationPeriods: 3,
      TreatMissingData: "notBreaching",
      AlarmActions: opsTopic,
      OKActions: opsTopic,
    });
    expect(alarms.get("DetectorWatermarkLag")).toMatchObject({
      ...detectorMetric,
      MetricName: "WatermarkLag",
      Statistic: "Maximum",
      Period: 300,
      Threshold: 600,
      ComparisonOperator: "GreaterThanThreshold",
      EvaluationPeriods: 2,
      TreatMissingData: "breaching",
      AlarmActions: opsTopic,
    });
  });

  it("alarms only on metrics of the detector's contract, under its namespace and service", () => {
    // Prepare
    const template = shipped.prod.template.toJSON() as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const emitted: string[] = Object.values(DETECTOR_METRICS.names);

    // Act
    const onDetectorMetrics = Object.values(template.Resources)
      .filter((resource) => resource.Type === "AWS::CloudWatch::Alarm")
      .map((resource) => resource.Properties)
      .filter((alarm) => alarm.Namespace === DETECTOR_METRICS.namespace)
      .filter((alarm) =>
        (alarm.Dimensions as { Name: string; Value: unknown }[]).some(
          (dimension) => dimension.Name === "service" && dimension.Value === DETECTOR_METRICS.service,
        ),
      );

    // Assess
    expect(onDetectorMetrics.length).toBeGreaterThanOrEqual(6);
    for (const alarm of onDetectorMetrics) expect(emitted).toContain(alarm.MetricName);
  });

  it("outputs the detector function and state table names", () => {
    // Act
    const outputs = shipped.prod.template.toJSON().Outputs as Record<string, { Value: unknown }>;

    // Assess
    expect(outputs.DetectorFunctionName?.Value).toEqual({ Ref: expect.stringMatching(/^DetectionDetector/) });
    expect(outputs.DetectorStateTableName?.Value).toEqual({ Ref: expect.stringMatching(/^DetectionState/) });
  });

  it("takes a schedule, timeout, memory, Dashboards URL and watermark lag of the caller's choosing", () => {
    // Prepare
    const { stack } = build("dev", ENVIRONMENTS.dev);
    const shadow = new AuditDetection(stack, "ShadowDetection", {
      environmentName: "dev-shadow",
      domain: stack.search.domain,
      topics: { ...stack.alerting.topics, ops: stack.alerting.opsTopic },
      encryptionKey: new kms.Key(stack, "ShadowDataKey", { enableKeyRotation: true }),
      logsKey: new kms.Key(stack, "ShadowLogsKey", { enableKeyRotation: true }),
      logRetention: logs.RetentionDays.ONE_MONTH,
      schedule: events.Schedule.rate(Duration.minutes(5)),
      timeout: Duration.minutes(4),
      memorySize: 2048,
      dashboardsUrl: "https://dashboards.example.com/",
    });

    // Act
    stack.monitoring.addDetection(shadow, { label: "Shadow", maxWatermarkLag: Duration.minutes(30) });
    const template = Template.fromStack(stack);

    // Assess
    const fn = Object.values(
      template.findResources("AWS::Lambda::Function", {
        Properties: { Timeout: 240 },
      }),
    ) as Resource[];
    expect(fn).toHaveLength(1);
    expect(fn[0]?.Properties).toMatchObject({
      MemorySize: 2048,
      ReservedConcurrentExecutions: 1,
      Environment: {
        Variables: {
          [DETECTOR_ENV.environmentName]: "dev-shadow",
          [DETECTOR_ENV.dashboardsUrl]: "https://dashboards.example.com/",
        },
      },
    });
    // Without a role of the caller's, the detector gets its own.
    expect(fn[0]?.Properties.Role).toEqual({
      "Fn::GetAtt": [expect.stringMatching(/^ShadowDetectionDetectorRole/), "Arn"],
    });
    template.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(5 minutes)" });
    const alarms = alarmsOf(template);
    expect(alarms.get("ShadowWatermarkLag")).toMatchObject({ Threshold: 1800, EvaluationPeriods: 6 });
    expect(alarms.get("ShadowDuration")).toMatchObject({ Threshold: 240_000 * 0.8 });
    expect(alarms.has("ShadowAlertsPublishFailed")).toBe(true);
  });

  it.each([
    ["runbookBaseUrl", { runbookBaseUrl: "http://runbooks.example.com" }, /alerts\.runbookBaseUrl is "http:/],
    [
      "dashboardsUrl",
      { dashboardsUrl: "dashboards.example.com" },
      /dashboardsUrl \(AuditDetection prop\) is/,
    ],
  ] as const)("rejects a %s that is not an absolute https URL", (_name, overrides, message) => {
    // Act
    const act = () => standalone(new App(), overrides);

    // Assess
    expect(act).toThrow(AuditTrailConfigError);
    expect(act).toThrow(message);
  });

  describe("bundle", () => {
    let outdir: string;
    let assetDir: string;

    beforeAll(() => {
      // Prepare: real esbuild bundling with the after-bundling hook, into a throw-away cloud assembly.
      outdir = mkdtempSync(join(tmpdir(), "audit-trail-detector-"));
      const app = new App({ outdir, context: cdkJsonContext() });
      const { stack } = standalone(app);
      const assembly = app.synth();
      const template = assembly.getStackByName(stack.stackName).template as {
        Resources: Record<string, Resource>;
      };
      const detector = Object.values(template.Resources).find(
        (resource) => resource.Type === "AWS::Lambda::Function",
      );
      const key = String((detector?.Properties.Code as { S3Key?: unknown } | undefined)?.S3Key ?? "");
      assetDir = join(outdir, `asset.${key.replace(/\.zip$/, "")}`);
    }, 300_000);

    afterAll(() => {
      rmSync(outdir, { recursive: true, force: true });
    });

    it("holds the ESM handler with its source map", () => {
      const code = readFileSync(join(assetDir, "index.mjs"), "utf8");
      expect(code.startsWith("import { createRequire as __auditTrailCreateRequire }")).toBe(true);
      expect(existsSync(join(assetDir, "index.mjs.map"))).toBe(true);
    });

    it("holds the rule pack under rules/", () => {
      const rules = readdirSync(join(assetDir, "rules"), { recursive: true }).map(String);
      expect(rules.some((file) => file.endsWith(".yml") || file.endsWith(".yaml"))).toBe(true);
    });

    it("holds the DB-IP country CSVs (and their licence) under geoip/, copied whole", () => {
      const source = geoIpPackageDir();
      expect(readdirSync(join(assetDir, "geoip")).sort()).toEqual(
        ["DBIP-LICENSE", DBIP_FILES.ipv4, DBIP_FILES.ipv6].sort(),
      );
      for (const file of [DBIP_FILES.ipv4, DBIP_FILES.ipv6]) {
        expect(statSync(join(assetDir, "geoip", file)).size).toBe(statSync(join(source, file)).size);
      }
    });

    /** Imports the bundle in a fresh Node process with the environment the stack sets, rooted at `taskRoot`. */
    function coldStart(taskRoot: string) {
      const env = {
        PATH: process.env.PATH ?? "",
        LAMBDA_TASK_ROOT: taskRoot,
        AWS_REGION: "eu-west-1",
        [DETECTOR_ENV.environmentName]: "test",
        [DETECTOR_ENV.domainEndpoint]: "search-audit-trail-test-abc.eu-west-1.es.amazonaws.com",
        [DETECTOR_ENV.rulesDir]: join(assetDir, "rules"),
        [DETECTOR_ENV.ruleOverrides]: "{}",
        [DETECTOR_ENV.topicArns]: JSON.stringify(
          Object.fromEntries(
            ALERT_TOPICS.map((topic) => [topic, `arn:aws:sns:eu-west-1:123456789012:${topic}`]),
          ),
        ),
        [DETECTOR_ENV.stateTableName]: "state",
      };
      const entry = JSON.stringify(pathToFileURL(join(assetDir, "index.mjs")).href);
      const script = `const m = await import(${entry}); console.log(typeof m.handler);`;
      return spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        env,
        encoding: "utf8",
        timeout: 120_000,
      });
    }

    it("starts cold from its own directory: the rule pack and the default GeoIP directory load", () => {
      // Act: no AWS call is made at start-up.
      const run = coldStart(assetDir);

      // Assess
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout.trim()).toBe("function");
    });

    it("fails its cold start when the GeoIP database is not where the default points", () => {
      // Act
      const run = coldStart(join(assetDir, "elsewhere"));

      // Assess
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain(DBIP_FILES.ipv4);
    });
  });
});
