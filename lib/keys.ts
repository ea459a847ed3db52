import { ArnFormat, DefaultStackSynthesizer, Fn, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as sns from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";

/** The key-administration calls only the break-glass role may make (CloudFormation may also update policies). */
export const GUARDED_KEY_ACTIONS = ["ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy"] as const;

export interface AuditKeysProps {
  /**
   * Name of the break-glass role (in the stack's account, no path): the only principal allowed to disable a key,
   * schedule its deletion or replace its policy.
   */
  readonly breakGlassRoleName: string;
  /**
   * ARN of the role CloudFormation deploys the stack with, allowed to update key policies (and nothing else of the
   * guarded calls), so that a deploy that changes a key policy is not locked out.
   * @default - the CDK bootstrap's CloudFormation execution role of the stack's synthesizer
   */
  readonly deployRoleArn?: string;
}

/**
 * The stack's customer-managed keys, with rotation: one for audit data at rest (archive, staging, ledger,
 * OpenSearch, Firehose, queues, topics) and one for CloudWatch Logs (the logs service must be allowed to use it).
 * Both are retained on stack deletion: deleting a key would make the retained archive unreadable.
 *
 * Every key it guards (these two, and any added with `guard`) carries key-policy denies: no principal but the
 * break-glass role may disable it or schedule its deletion, and none but the break-glass role and CloudFormation's
 * execution role may replace its policy. An explicit deny in the key policy holds against any IAM policy, an
 * account administrator's included.
 */
export class AuditKeys extends Construct {
  /** Encrypts audit data at rest. */
  public readonly dataKey: kms.Key;
  /** Encrypts the stack's log groups. */
  public readonly logsKey: kms.Key;
  /** ARN of the break-glass role the key policies name. */
  public readonly breakGlassRoleArn: string;
  /** ARN of the role allowed to update key policies on deploy. */
  public readonly deployRoleArn: string;
  private readonly guarded: kms.IKey[] = [];

  constructor(scope: Construct, id: string, props: AuditKeysProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.breakGlassRoleArn = stack.formatArn({
      service: "iam",
      region: "",
      resource: "role",
      resourceName: props.breakGlassRoleName,
    });
    this.deployRoleArn = props.deployRoleArn ?? cloudFormationExecutionRoleArn(stack);

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
    this.guard(this.dataKey);
    this.guard(this.logsKey);
  }

  /** Adds the break-glass denies to `key`'s policy, and watches it with `notifyKeyAdministration`. */
  public guard(key: kms.Key): void {
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "DenyDisablingOrDeletingTheKeyButBreakGlass",
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ["kms:ScheduleKeyDeletion", "kms:DisableKey"],
        resources: ["*"],
        conditions: { ArnNotEquals: { "aws:PrincipalArn": this.breakGlassRoleArn } },
      }),
    );
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "DenyKeyPolicyChangesButBreakGlassAndDeploys",
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ["kms:PutKeyPolicy"],
        resources: ["*"],
        conditions: { ArnNotEquals: { "aws:PrincipalArn": [this.breakGlassRoleArn, this.deployRoleArn] } },
      }),
    );
    this.guarded.push(key);
  }

  /**
   * Sends every guarded call (`GUARDED_KEY_ACTIONS`) on a guarded key to `topic`, allowed or denied, from the
   * "AWS API Call via CloudTrail" events EventBridge receives. Those events exist only when a CloudTrail trail
   * records the account's management (write) events in this region; the stack does not create one.
   */
  public notifyKeyAdministration(topic: sns.ITopic): events.Rule {
    return new events.Rule(this, "KeyAdministrationCalls", {
      description:
        "mesh-audit-trail: someone disabled, scheduled the deletion of or replaced the policy of a key",
      eventPattern: {
        source: ["aws.kms"],
        detailType: ["AWS API Call via CloudTrail"],
        detail: {
          eventSource: ["kms.amazonaws.com"],
          eventName: [...GUARDED_KEY_ACTIONS],
          // These three calls take a key id or a key ARN (no alias): match both spellings of every guarded key.
          requestParameters: { keyId: this.guarded.flatMap((key) => [key.keyArn, key.keyId]) },
        },
      },
      targets: [
        new targets.SnsTopic(topic, {
          message: events.RuleTargetInput.fromText(
            `mesh-audit-trail: KMS ${events.EventField.fromPath("$.detail.eventName")} on key ` +
              `${events.EventField.fromPath("$.detail.requestParameters.keyId")} by ` +
              `${events.EventField.fromPath("$.detail.userIdentity.arn")} at ${events.EventField.time} ` +
              `(error: ${events.EventField.fromPath("$.detail.errorCode")}). Only the break-glass role may do this; ` +
              "see lib/config/README.md, 'Keys and break-glass'.",
          ),
        }),
      ],
    });
  }
}

/** The CloudFormation execution role of the stack's bootstrap (what CloudFormation acts as during a deploy). */
function cloudFormationExecutionRoleArn(stack: Stack): string {
  const synthesizer = stack.synthesizer;
  if (!(synthesizer instanceof DefaultStackSynthesizer)) {
    throw new Error(
      "AuditKeys: the stack does not use the DefaultStackSynthesizer, so CloudFormation's execution role is unknown; " +
        "pass deployRoleArn (the role CloudFormation deploys with) so deploys may still update key policies",
    );
  }
  // The synthesizer writes account and region as ${AWS::AccountId}/${AWS::Region} when the stack is
  // environment-agnostic: let CloudFormation substitute them.
  return Fn.sub(synthesizer.cloudFormationExecutionRoleArn);
}
