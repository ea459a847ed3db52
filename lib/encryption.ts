import { ArnFormat, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";

/**
 * The stack's customer-managed keys, with rotation: one for audit data at rest (archive, staging, ledger,
 * OpenSearch, Firehose, queues, topics) and one for CloudWatch Logs (the logs service must be allowed to use it).
 * Both are retained on stack deletion: deleting a key would make the retained archive unreadable.
 */
export class AuditKeys extends Construct {
  /** Encrypts audit data at rest. */
  public readonly dataKey: kms.Key;
  /** Encrypts the stack's log groups. */
  public readonly logsKey: kms.Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const stack = Stack.of(this);

    this.dataKey = new kms.Key(this, "DataKey", {
      description:
        "mesh-audit-trail: audit data at rest (archive, staging, ledger, search, stream, queues, topics)",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Services that write into encrypted queues and topics on the stack's behalf.
    this.dataKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "AllowAwsServicesToUseTheKeyForThisAccount",
        principals: [
          new iam.ServicePrincipal("cloudwatch.amazonaws.com"),
          new iam.ServicePrincipal("events.amazonaws.com"),
          new iam.ServicePrincipal("s3.amazonaws.com"),
        ],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
        conditions: { StringEquals: { "aws:SourceAccount": stack.account } },
      }),
    );

    this.logsKey = new kms.Key(this, "LogsKey", {
      description: "mesh-audit-trail: CloudWatch Logs of the pipeline",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.logsKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "AllowCloudWatchLogsOfThisAccount",
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        resources: ["*"],
        conditions: {
          ArnLike: {
            "kms:EncryptionContext:aws:logs:arn": stack.formatArn({
              service: "logs",
              resource: "log-group",
              resourceName: "*",
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
  }
}
