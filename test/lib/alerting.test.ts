import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { ACCOUNT, REGION, regionalArn, shippedStacks, synthesize, variant } from "./fixtures.js";

describe("alerting", () => {
  const shipped = shippedStacks("prod");

  it("creates one KMS-encrypted topic per severity plus the ops topic, with HTTP/S delivery-status logging", () => {
    // Act
    const topics = Object.values(shipped.prod.template.findResources("AWS::SNS::Topic")) as {
      Properties: Record<string, unknown>;
    }[];

    // Assess
    expect(topics.map((topic) => topic.Properties.DisplayName).sort()).toEqual([
      "Audit trail critical alerts",
      "Audit trail high alerts",
      "Audit trail low alerts",
      "Audit trail medium alerts",
      "Audit trail pipeline alarms",
    ]);
    for (const topic of topics) {
      expect(topic.Properties).toMatchObject({
        KmsMasterKeyId: { "Fn::GetAtt": [expect.stringMatching(/^KeysDataKey/), "Arn"] },
        DeliveryStatusLogging: [
          expect.objectContaining({ Protocol: "http/s", FailureFeedbackRoleArn: expect.anything() }),
        ],
      });
    }
  });

  it("denies publishing to any topic without TLS", () => {
    // Act
    const policies = Object.values(shipped.prod.template.findResources("AWS::SNS::TopicPolicy"));

    // Assess
    expect(policies).toHaveLength(5);
    for (const policy of policies) {
      expect(JSON.stringify(policy)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it("lets SNS write delivery status only into its own log groups, and only for this account's topics", () => {
    // Act
    const roles = shipped.prod.template.findResources("AWS::IAM::Role", {
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [Match.objectLike({ Principal: { Service: "sns.amazonaws.com" } })],
        },
      },
    });
    const [roleId, role] = Object.entries(roles)[0] ?? [];
    const policies = Object.values(shipped.prod.template.findResources("AWS::IAM::Policy")).filter((policy) =>
      JSON.stringify(policy).includes(`{"Ref":"${roleId}"}`),
    );

    // Assess
    expect(Object.keys(roles)).toHaveLength(1);
    expect(JSON.stringify(role)).toContain('"aws:SourceAccount":{"Ref":"AWS::AccountId"}');
    expect(JSON.stringify(role)).toMatch(
      /"aws:SourceArn":\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":sns:",\{"Ref":"AWS::Region"\},":",\{"Ref":"AWS::AccountId"\},":\*"\]\]\}/,
    );
    const resources = policies.flatMap((policy) =>
      (
        policy as { Properties: { PolicyDocument: { Statement: { Resource: unknown }[] } } }
      ).Properties.PolicyDocument.Statement.map((statement) => statement.Resource),
    );
    expect(resources).toEqual([regionalArn("logs", ":log-group:sns/", REGION, "/", ACCOUNT, "/*")]);
  });

  it("subscribes the configured e-mail addresses and HTTPS endpoints per severity", () => {
    shipped.prod.template.resourceCountIs("AWS::SNS::Subscription", 6);
    shipped.prod.template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "https",
      Endpoint: "https://events.pagerduty.com/integration/example/enqueue",
      TopicArn: { Ref: Match.stringLikeRegexp("^AlertingCriticalAlerts") },
    });
    shipped.prod.template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "platform-oncall@example.com",
      TopicArn: { Ref: Match.stringLikeRegexp("^AlertingOpsAlarms") },
    });
    shipped.prod.template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "secops-triage@example.com",
      TopicArn: { Ref: Match.stringLikeRegexp("^AlertingLowAlerts") },
    });
  });

  it("creates no subscriptions when the config lists none", () => {
    // Prepare
    const input = variant("dev", { alerts: {} });

    // Act
    const { template } = synthesize("dev", input);

    // Assess
    template.resourceCountIs("AWS::SNS::Subscription", 0);
    template.resourceCountIs("AWS::SNS::Topic", 5);
  });
});
