import { Stack } from "aws-cdk-lib";
import * as eks from "aws-cdk-lib/aws-eks";
import * as iam from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import { DEFAULTS } from "./config/defaults.js";

/** How Fluent Bit on a cluster obtains the producer role. */
export type ProducerCluster =
  | { readonly name: string; readonly identity: "irsa"; readonly oidcIssuer: string }
  | { readonly name: string; readonly identity: "pod-identity" };

export interface ProducerAccessProps {
  /** Clusters whose Fluent Bit may assume the role. */
  readonly clusters: readonly ProducerCluster[];
  /** Kubernetes namespace of Fluent Bit's service account. @default - `DEFAULTS.producer.namespace` ("logging") */
  readonly namespace?: string;
  /** Fluent Bit's service account. @default - `DEFAULTS.producer.serviceAccountName` ("fluent-bit") */
  readonly serviceAccountName?: string;
  /** Grants the role what it may do (put records into the stream). */
  readonly grant: (grantee: iam.IGrantable) => void;
}

/**
 * The IAM role Fluent Bit ships with: assumable only by the configured service account on the configured clusters
 * (IRSA web identity per cluster OIDC issuer, or EKS Pod Identity scoped to the cluster ARNs), allowed only what
 * `grant` adds (`firehose:PutRecord`/`PutRecordBatch` on this stream). Pod Identity associations are created here.
 * With no clusters configured, Pod Identity associations of this account's clusters may use it (create them to onboard).
 */
export class ProducerAccess extends Construct {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: ProducerAccessProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const namespace = props.namespace ?? DEFAULTS.producer.namespace;
    const serviceAccount = props.serviceAccountName ?? DEFAULTS.producer.serviceAccountName;
    const podIdentityClusters = props.clusters.filter((cluster) => cluster.identity === "pod-identity");
    const clusterArn = (name: string) =>
      stack.formatArn({ service: "eks", resource: "cluster", resourceName: name });

    const principals: iam.IPrincipal[] = [];
    for (const cluster of props.clusters) {
      if (cluster.identity !== "irsa") continue;
      const providerArn = stack.formatArn({
        service: "iam",
        region: "",
        resource: "oidc-provider",
        resourceName: cluster.oidcIssuer,
      });
      principals.push(
        new iam.WebIdentityPrincipal(providerArn, {
          StringEquals: {
            [`${cluster.oidcIssuer}:sub`]: `system:serviceaccount:${namespace}:${serviceAccount}`,
            [`${cluster.oidcIssuer}:aud`]: "sts.amazonaws.com",
          },
        }),
      );
    }
    if (podIdentityClusters.length > 0 || props.clusters.length === 0) {
      principals.push(
        new iam.SessionTagsPrincipal(
          new iam.ServicePrincipal("pods.eks.amazonaws.com", {
            conditions: {
              StringEquals: { "aws:SourceAccount": stack.account },
              // The configured clusters, or (none configured yet) any cluster of this account.
              ...(podIdentityClusters.length > 0
                ? {
                    ArnEquals: {
                      "aws:SourceArn": podIdentityClusters.map((cluster) => clusterArn(cluster.name)),
                    },
                  }
                : { ArnLike: { "aws:SourceArn": clusterArn("*") } }),
            },
          }),
        ),
      );
    }
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.CompositePrincipal(...principals),
      description:
        "mesh-audit-trail: Fluent Bit producer (firehose:PutRecord/PutRecordBatch on the audit stream only)",
    });
    for (const cluster of podIdentityClusters) {
      new eks.CfnPodIdentityAssociation(this, `PodIdentity${cluster.name.replace(/[^A-Za-z0-9]/g, "")}`, {
        clusterName: cluster.name,
        namespace,
        serviceAccount,
        roleArn: this.role.roleArn,
      });
    }
    props.grant(this.role);
  }
}
