import { Match } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { type Synthesized, synthesizeShipped } from "../fixtures.js";

type LambdaFunction = { Properties: Record<string, unknown> };

describe("the Lambda factory", () => {
  let prod: Synthesized;
  let ours: LambdaFunction[];

  beforeAll(() => {
    prod = synthesizeShipped("prod");
    ours = (Object.values(prod.template.findResources("AWS::Lambda::Function")) as LambdaFunction[]).filter(
      (fn) => String(fn.Properties.Description ?? "").startsWith("mesh-audit-trail"),
    );
  });

  it("builds the six handlers", () => {
    expect(ours.map((fn) => fn.Properties.Description)).toEqual([
      expect.stringContaining("Firehose transform"),
      expect.stringContaining("OpenSearch bootstrap"),
      expect.stringContaining("Object Lock archive"),
      expect.stringContaining("signed, chained archive digest"),
      expect.stringContaining("detector"),
      expect.stringContaining("scheduled weekly audit review"),
    ]);
  });

  it("runs every function on Node.js 22, ARM64, with X-Ray tracing and reserved concurrency", () => {
    for (const fn of ours) {
      expect(fn.Properties).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
        TracingConfig: { Mode: "Active" },
        ReservedConcurrentExecutions: expect.any(Number),
      });
      expect(fn.Properties.Environment).toMatchObject({
        Variables: { NODE_OPTIONS: expect.stringMatching(/^--enable-source-maps( |$)/) },
      });
    }
  });

  it("encrypts every function's environment with the data key", () => {
    for (const fn of ours) {
      expect(fn.Properties.KmsKeyArn).toEqual({
        "Fn::GetAtt": [expect.stringMatching(/^KeysDataKey/), "Arn"],
      });
    }
  });

  it("gives every function an explicit CMK-encrypted log group with the configured retention", () => {
    for (const fn of ours) {
      const logGroup = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      prod.template.hasResource("AWS::Logs::LogGroup", {
        DeletionPolicy: "Retain",
        Properties: {
          RetentionInDays: 400,
          KmsKeyId: { "Fn::GetAtt": [Match.stringLikeRegexp("^KeysLogsKey"), "Arn"] },
        },
      });
      expect(prod.template.toJSON().Resources[logGroup]).toMatchObject({ Type: "AWS::Logs::LogGroup" });
    }
  });

  it("gives every function its own role without AWS managed policies", () => {
    const roles = new Set(ours.map((fn) => JSON.stringify(fn.Properties.Role)));
    expect(roles.size).toBe(ours.length);
    for (const fn of ours) {
      const roleId = (fn.Properties.Role as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
      expect(prod.template.toJSON().Resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it("gives the transform the largest memory and the archiver a bounded concurrency", () => {
    const byDescription = (text: string) =>
      ours.find((fn) => String(fn.Properties.Description).includes(text));
    expect(byDescription("Firehose transform")?.Properties).toMatchObject({
      MemorySize: 1024,
      Timeout: 180,
      ReservedConcurrentExecutions: 20,
    });
    expect(byDescription("Object Lock archive")?.Properties).toMatchObject({
      ReservedConcurrentExecutions: 5,
    });
    expect(byDescription("OpenSearch bootstrap")?.Properties).toMatchObject({
      Timeout: 840,
      ReservedConcurrentExecutions: 1,
    });
  });
});
