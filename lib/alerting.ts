import { ArnFormat, Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";
import { ALERT_SEVERITIES, type AlertSeverity } from "../lambdas/core/contracts.js";

export interface TopicSubscribers {
  /** E-mail addresses (each confirms its subscription). @default [] */
  readonly emails?: readonly string[];
  /** HTTPS endpoints, e.g. a pager's webhook. @default [] */
  readonly httpsEndpoints?: readonly string[];
}

export interface AlertingProps {
  readonly encryptionKey: kms.IKey;
  /** Subscribers per alert severity. @default - none */
  readonly severities?: Partial<Record<AlertSeverity, TopicSubscribers>>;
  /** Subscribers of the pipeline (ops) topic. @default - none */
  readonly ops?: TopicSubscribers;
}

/**
 * One KMS-encrypted, TLS-only SNS topic per alert severity and one for the pipeline's own alarms, subscribed as
 * the config says, with delivery-status logging to CloudWatch for the protocols SNS logs (HTTP/S among them).
 */
export class Alerting extends Construct {
  public readonly topics: Readonly<Record<AlertSeverity, sns.Topic>>;
  public readonly opsTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlertingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // The topics name this role, so the trust names this account's topics rather than each topic (a cycle).
    const feedbackRole = new iam.Role(this, "DeliveryStatusRole", {
      assumedBy: new iam.ServicePrincipal("sns.amazonaws.com", {
        conditions: {
          StringEquals: { "aws:SourceAccount": stack.account },
          ArnLike: { "aws:SourceArn": stack.formatArn({ service: "sns", resource: "*" }) },
        },
      }),
      description: "mesh-audit-trail: SNS delivery-status logging to CloudWatch Logs",
    });
    // SNS writes delivery status into log groups it names itself: `sns/<region>/<account>/<topic>` and
    // `.../<topic>/Failure`. The role reaches those and nothing else.
    const snsLogGroups = stack.formatArn({
      service: "logs",
      resource: "log-group",
      resourceName: `sns/${stack.region}/${stack.account}/*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    feedbackRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          "logs:CreateLogGroup",
          "logs:CreateLogStream",
          "logs:PutLogEvents",
          "logs:PutMetricFilter",
          "logs:PutRetentionPolicy",
        ],
        resources: [snsLogGroups],
      }),
    );
    Validations.of(feedbackRole).acknowledge({
      id: "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:sns/<AWS::Region>/<AWS::AccountId>/*]",
      reason:
        "SNS delivery-status logging creates and writes log groups it names itself (sns/<region>/<account>/<topic>[/Failure]); the wildcard is the topic part of those names, in this account and region only.",
    });

    const topic = (topicId: string, displayName: string, subscribers: TopicSubscribers | undefined) => {
      const created = new sns.Topic(this, topicId, {
        displayName,
        masterKey: props.encryptionKey,
        enforceSSL: true,
        loggingConfigs: [
          {
            protocol: sns.LoggingProtocol.HTTP,
            failureFeedbackRole: feedbackRole,
            successFeedbackRole: feedbackRole,
            successFeedbackSampleRate: 100,
          },
        ],
      });
      for (const email of subscribers?.emails ?? []) {
        created.addSubscription(new subscriptions.EmailSubscription(email));
      }
      for (const url of subscribers?.httpsEndpoints ?? []) {
        created.addSubscription(
          new subscriptions.UrlSubscription(url, { protocol: sns.SubscriptionProtocol.HTTPS }),
        );
      }
      return created;
    };

    const topics = {} as Record<AlertSeverity, sns.Topic>;
    for (const severity of ALERT_SEVERITIES) {
      const name = severity[0]?.toUpperCase() + severity.slice(1);
      topics[severity] = topic(
        `${name}Alerts`,
        `Audit trail ${severity} alerts`,
        props.severities?.[severity],
      );
    }
    this.topics = topics;
    this.opsTopic = topic("OpsAlarms", "Audit trail pipeline alarms", props.ops);
  }
}
