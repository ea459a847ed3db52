import { Duration } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../lib/config/index.js";
import { build, type Synthesized, shippedStacks } from "./fixtures.js";

type Alarm = { Properties: Record<string, unknown> };

function alarms(synthesized: Synthesized): Map<string, Record<string, unknown>> {
  const found = synthesized.template.findResources("AWS::CloudWatch::Alarm") as Record<string, Alarm>;
  const byLabel = new Map<string, Record<string, unknown>>();
  for (const [logicalId, alarm] of Object.entries(found)) {
    byLabel.set(logicalId.replace(/^Monitoring/, "").replace(/[0-9A-F]{8}$/, ""), alarm.Properties);
  }
  return byLabel;
}

describe("pipeline monitoring", () => {
  const shipped = shippedStacks("dev", "prod");

  it("alarms on every pipeline signal the issue lists", () => {
    // Act
    const labels = [...alarms(shipped.prod).keys()].sort();

    // Assess
    expect(labels).toEqual(
      [
        "FirehoseOpenSearchDelivery",
        "FirehoseS3Delivery",
        "FirehoseOpenSearchFreshness",
        "FirehoseS3Freshness",
        "TransformFailedRecords",
        "TransformReingestFailed",
        "TransformErrors",
        "TransformThrottles",
        "TransformDuration",
        "ArchiverErrors",
        "ArchiverThrottles",
        "ArchiverDuration",
        "DigestWriterErrors",
        "DigestWriterThrottles",
        "DigestWriterDuration",
        "DetectorErrors",
        "DetectorRangesSkipped",
        "DetectorRulesFailed",
        "DetectorRulesPartial",
        "DetectorThrottles",
        "DetectorDuration",
        "DetectorAlertsPublishFailed",
        "DetectorAlertsPersistFailed",
        "DetectorAlertsMarkFailed",
        "DetectorWatermarkLag",
        "ClusterRed",
        "ClusterYellow",
        "LowFreeStorage",
        "JvmMemoryPressure",
        "MasterJvmMemoryPressure",
        "IndexWritesBlocked",
        "KmsKeyError",
        "KmsKeyInaccessible",
        "ReviewErrors",
        "ReviewThrottles",
        "ReviewDuration",
        "ArchiveBacklog",
        "ArchiveDeadLetters",
        "DigestDeadLetters",
        "TamperEvidenceDigestObjectsRefusedAlarm",
        "TamperEvidenceDigestChainConflictAlarm",
      ].sort(),
    );
  });

  it("sends every alarm and its recovery to the ops topic", () => {
    for (const alarm of alarms(shipped.prod).values()) {
      const opsTopic = [{ Ref: expect.stringMatching(/^AlertingOpsAlarms/) }];
      expect(alarm.AlarmActions).toEqual(opsTopic);
      expect(alarm.OKActions).toEqual(opsTopic);
    }
  });

  it("watches Firehose delivery success and freshness on this stream", () => {
    // Act
    const byLabel = alarms(shipped.prod);

    // Assess
    expect(byLabel.get("FirehoseOpenSearchDelivery")).toMatchObject({
      Namespace: "AWS/Firehose",
      MetricName: "DeliveryToAmazonOpenSearchService.Success",
      ComparisonOperator: "LessThanThreshold",
      Dimensions: [
        { Name: "DeliveryStreamName", Value: { Ref: expect.stringMatching(/^IngestionDeliveryStream/) } },
      ],
    });
    expect(byLabel.get("FirehoseS3Delivery")).toMatchObject({
      MetricName: "DeliveryToS3.Success",
      Threshold: 1,
    });
    expect(byLabel.get("FirehoseOpenSearchFreshness")).toMatchObject({
      MetricName: "DeliveryToAmazonOpenSearchService.DataFreshness",
      Statistic: "Maximum",
      Threshold: 900,
    });
  });

  it("pages when records stop being indexed: a share that fails to parse, or documents that could not be re-ingested", () => {
    // Act
    const byLabel = alarms(shipped.prod);

    // Assess
    const failed = byLabel.get("TransformFailedRecords");
    expect(failed).toMatchObject({
      Threshold: 5,
      ComparisonOperator: "GreaterThanThreshold",
      EvaluationPeriods: 3,
      TreatMissingData: "notBreaching",
      AlarmDescription: expect.stringContaining("errors/processing-failed/"),
    });
    const queries = failed?.Metrics as { Id: string; Expression?: string; MetricStat?: unknown }[];
    expect(queries.find((q) => q.Expression !== undefined)?.Expression).toBe(
      "IF(records > 0, 100 * failed / records, 0)",
    );
    expect(queries.filter((q) => q.MetricStat !== undefined)).toEqual(
      expect.arrayContaining(
        ["RecordsFailed", "Records"].map((name) =>
          expect.objectContaining({
            MetricStat: expect.objectContaining({
              Metric: {
                Namespace: "MeshAuditTrail",
                MetricName: name,
                Dimensions: [{ Name: "service", Value: "transform" }],
              },
              Stat: "Sum",
            }),
          }),
        ),
      ),
    );
    expect(byLabel.get("TransformReingestFailed")).toMatchObject({
      Namespace: "MeshAuditTrail",
      MetricName: "ReingestFailedRecords",
      Dimensions: [{ Name: "service", Value: "transform" }],
      Statistic: "Sum",
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
    });
  });

  it("watches the domain: red, yellow, storage at 25 % of EBS, JVM pressure, blocked writes, KMS errors", () => {
    // Act
    const byLabel = alarms(shipped.prod);

    // Assess
    const domainDimensions = expect.arrayContaining([
      { Name: "DomainName", Value: { Ref: expect.stringMatching(/^SearchDomain/) } },
      { Name: "ClientId", Value: { Ref: "AWS::AccountId" } },
    ]);
    expect(byLabel.get("ClusterRed")).toMatchObject({
      MetricName: "ClusterStatus.red",
      Threshold: 1,
      Dimensions: domainDimensions,
    });
    expect(byLabel.get("ClusterYellow")).toMatchObject({
      MetricName: "ClusterStatus.yellow",
      EvaluationPeriods: 15,
    });
    expect(byLabel.get("LowFreeStorage")).toMatchObject({
      MetricName: "FreeStorageSpace",
      Statistic: "Minimum",
      Threshold: 512 * 1024 * 0.25,
      ComparisonOperator: "LessThanOrEqualToThreshold",
    });
    expect(byLabel.get("JvmMemoryPressure")).toMatchObject({
      MetricName: "JVMMemoryPressure",
      Threshold: 80,
    });
    expect(byLabel.get("IndexWritesBlocked")).toMatchObject({
      MetricName: "ClusterIndexWritesBlocked",
      Threshold: 1,
    });
    expect(byLabel.get("KmsKeyError")).toMatchObject({ MetricName: "KMSKeyError" });
    expect(byLabel.get("KmsKeyInaccessible")).toMatchObject({ MetricName: "KMSKeyInaccessible" });
  });

  it("alarms on function duration at 80 % of its timeout", () => {
    expect(alarms(shipped.prod).get("TransformDuration")).toMatchObject({
      MetricName: "Duration",
      ExtendedStatistic: "p99",
      Threshold: 180_000 * 0.8,
      Dimensions: [{ Name: "FunctionName", Value: { Ref: expect.stringMatching(/^IngestionTransform/) } }],
    });
  });

  it("skips the master JVM alarm without dedicated masters and scales storage to the EBS size", () => {
    // Act
    const byLabel = alarms(shipped.dev);

    // Assess
    expect(byLabel.has("MasterJvmMemoryPressure")).toBe(false);
    expect(byLabel.get("LowFreeStorage")).toMatchObject({ Threshold: 20 * 1024 * 0.25 });
  });

  it("takes further functions through addFunction", () => {
    // Prepare
    const { stack } = build("dev", ENVIRONMENTS.dev);
    const fn = new lambda.Function(stack, "Reporter", {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: "index.handler",
      code: lambda.Code.fromInline("export const handler = async () => {};"),
    });

    // Act
    stack.monitoring.addFunction({ label: "Reporter", function: fn, timeout: Duration.minutes(1) });

    // Assess
    expect(Object.keys(stack.monitoring.alarms)).toEqual(
      expect.arrayContaining(["ReporterErrors", "ReporterThrottles", "ReporterDuration"]),
    );
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "Duration",
      Threshold: 48_000,
      AlarmDescription: Match.stringLikeRegexp("^Reporter function p99 duration"),
    });
  });
});
