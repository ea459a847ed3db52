import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import {
  onlyResource,
  regionalArn,
  type Synthesized,
  sameAccountCondition,
  shippedStacks,
  synthesize,
  variant,
} from "./fixtures.js";

function producerRole(synthesized: Synthesized): { AssumeRolePolicyDocument: { Statement: unknown[] } } {
  const roles = synthesized.template.findResources("AWS::IAM::Role", {
    Properties: { Description: Match.stringLikeRegexp("Fluent Bit producer") },
  });
  const [role] = Object.values(roles) as {
    Properties: { AssumeRolePolicyDocument: { Statement: unknown[] } };
  }[];
  if (role === undefined) throw new Error("no producer role");
  return role.Properties;
}

describe("producer access", () => {
  const shipped = shippedStacks("dev", "staging", "prod");

  it("allows the producer only PutRecord and PutRecordBatch on this stream", () => {
    for (const { template } of [shipped.dev, shipped.staging, shipped.prod]) {
      template.hasResourceProperties("AWS::IAM::Policy", {
        Roles: [{ Ref: Match.stringLikeRegexp("^ProducerRole") }],
        PolicyDocument: {
          Statement: [
            {
              Effect: "Allow",
              Action: ["firehose:PutRecord", "firehose:PutRecordBatch"],
              Resource: { "Fn::GetAtt": [Match.stringLikeRegexp("^IngestionDeliveryStream"), "Arn"] },
            },
          ],
        },
      });
    }
  });

  it("trusts an IRSA cluster's OIDC issuer for Fluent Bit's service account only", () => {
    // Act
    const role = producerRole(shipped.staging);

    // Assess
    const issuer = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: "Allow",
        Action: "sts:AssumeRoleWithWebIdentity",
        Principal: { Federated: { "Fn::Join": ["", expect.arrayContaining([`:oidc-provider/${issuer}`])] } },
        Condition: {
          StringEquals: {
            [`${issuer}:sub`]: "system:serviceaccount:logging:fluent-bit",
            [`${issuer}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ]);
  });

  it("trusts a producer-only cluster's issuer without subscribing any log group", () => {
    // Prepare
    const issuer = "my-oidc-bucket.s3.eu-west-1.amazonaws.com/onprem-1";

    // Act
    const onPrem = synthesize(
      "dev",
      variant("dev", {
        eksClusters: [],
        producerClusters: [{ name: "onprem-1", producerIdentity: { type: "irsa", oidcIssuer: issuer } }],
      }),
    );

    // Assess
    expect(producerRole(onPrem).AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${issuer}:sub`]: "system:serviceaccount:logging:fluent-bit",
            [`${issuer}:aud`]: "sts.amazonaws.com",
          },
        },
      }),
    ]);
    expect(Object.keys(onPrem.template.findResources("AWS::Logs::SubscriptionFilter"))).toEqual([]);
  });

  it("refuses a cluster listed in both eksClusters and producerClusters", () => {
    expect(() =>
      synthesize(
        "dev",
        variant("dev", {
          eksClusters: [{ name: "shared", producerIdentity: { type: "pod-identity" } }],
          producerClusters: [
            { name: "shared", producerIdentity: { type: "irsa", oidcIssuer: "issuer.example.com/shared" } },
          ],
        }),
      ),
    ).toThrow(
      /producerClusters\[\]\.name is "shared"; each cluster may appear once, across eksClusters and producerClusters/,
    );
  });

  it("trusts EKS Pod Identity for the configured cluster ARNs and creates the association", () => {
    // Act
    const role = producerRole(shipped.prod);
    const association = onlyResource(shipped.prod.template, "AWS::EKS::PodIdentityAssociation");

    // Assess
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Principal: { Service: "pods.eks.amazonaws.com" },
        Condition: {
          StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } },
          ArnEquals: {
            "aws:SourceArn": [{ "Fn::Join": ["", expect.arrayContaining([":cluster/prod-mesh"])] }],
          },
        },
      }),
    ]);
    expect(association.Properties).toMatchObject({
      ClusterName: "prod-mesh",
      Namespace: "logging",
      ServiceAccount: "fluent-bit",
      RoleArn: { "Fn::GetAtt": [expect.stringMatching(/^ProducerRole/), "Arn"] },
    });
  });

  it("uses the configured namespace and service account", () => {
    // Prepare
    const input = variant("staging", {
      producer: { namespace: "observability", serviceAccountName: "log-shipper" },
    });

    // Act
    const role = producerRole(synthesize("staging", input));

    // Assess
    expect(JSON.stringify(role)).toContain("system:serviceaccount:observability:log-shipper");
  });

  it("combines IRSA and Pod Identity clusters in one trust policy", () => {
    // Prepare
    const input = variant("prod", {
      eksClusters: [
        { name: "a", producerIdentity: { type: "pod-identity" } },
        {
          name: "b",
          producerIdentity: { type: "irsa", oidcIssuer: "oidc.eks.us-east-1.amazonaws.com/id/ABCDEF" },
        },
      ],
    });

    // Act
    const synthesized = synthesize("prod", input);

    // Assess
    expect(producerRole(synthesized).AssumeRolePolicyDocument.Statement).toHaveLength(2);
    synthesized.template.resourceCountIs("AWS::EKS::PodIdentityAssociation", 1);
  });

  it("without clusters, lets Pod Identity associations of this account's clusters use it (onboarding)", () => {
    // Act
    const role = producerRole(shipped.dev);

    // Assess
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: "pods.eks.amazonaws.com" },
        Condition: sameAccountCondition(regionalArn("eks", ":cluster/*")),
      }),
    ]);
    shipped.dev.template.resourceCountIs("AWS::EKS::PodIdentityAssociation", 0);
  });
});
