/**
 * AWS glue for the detector: SNS publishing to each alert's topic, and the watermark in DynamoDB.
 *
 * The watermark lives in DynamoDB (not in an OpenSearch document) so that it survives an index being deleted or
 * restored, stays readable when the domain is degraded (the run then fails and keeps the old watermark), and
 * advances monotonically under a conditional write even if two runs overlap.
 */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { SnsAlertMessage } from "../core/alerts/render.js";
import type { AlertTopic } from "../core/contracts.js";
import type { AlertPublisher } from "../core/detection/ports.js";

export function snsPublisher(
  sns: SNSClient,
  topicArns: Readonly<Record<AlertTopic, string>>,
): AlertPublisher {
  return {
    async publish(topic: AlertTopic, message: SnsAlertMessage): Promise<string> {
      const attribute = (value: string) => ({ DataType: "String", StringValue: value });
      const output = await sns.send(
        new PublishCommand({
          TopicArn: topicArns[topic],
          Subject: message.subject,
          Message: message.message,
          MessageStructure: message.messageStructure,
          MessageAttributes: {
            severity: attribute(message.attributes.severity),
            rule: attribute(message.attributes.rule),
            environment: attribute(message.attributes.environment),
          },
        }),
      );
      if (output.MessageId === undefined) throw new Error(`SNS accepted no message for the ${topic} topic`);
      return output.MessageId;
    },
  };
}

/** What the detector keeps between runs. */
export interface DetectorState {
  /** The `now` of the last run; undefined before the first. */
  readonly watermarkMs: number | undefined;
  /** Rules behind the watermark, each with the point it resumes from (`DetectionReport.resumeFromMs`). */
  readonly resumeFromMs: Readonly<Record<string, number>>;
  /**
   * The newest index stamp the last run found (`DetectionReport.indexedThroughMs`, the node's clock); undefined
   * before a run found one.
   */
  readonly indexedThroughMs: number | undefined;
}

/**
 * The detector's watermark item: `pk = "detector"`, `sk = "watermark#<environment>"`, with `watermarkMs`, the map
 * `resumeFromMs` (rule name → epoch ms) of rules that failed or ran out of time and resume from their own point,
 * and `indexedThroughMs`, the newest index stamp the last run found.
 */
export class WatermarkStore {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
    private readonly environment: string,
  ) {}

  private key() {
    return { pk: { S: "detector" }, sk: { S: `watermark#${this.environment}` } };
  }

  /** The state the last run left, or no watermark and no lagging rules before the first. */
  async read(): Promise<DetectorState> {
    const output = await this.dynamodb.send(
      new GetItemCommand({ TableName: this.tableName, Key: this.key(), ConsistentRead: true }),
    );
    const raw = output.Item?.watermarkMs?.N;
    const watermarkMs = raw === undefined ? undefined : this.epochMs(raw, "watermark");
    const resumeFromMs: Record<string, number> = {};
    for (const [rule, value] of Object.entries(output.Item?.resumeFromMs?.M ?? {})) {
      if (value.N === undefined) {
        throw new Error(`${this.tableName} resumeFromMs.${rule} is not a number attribute`);
      }
      resumeFromMs[rule] = this.epochMs(value.N, `resumeFromMs.${rule}`);
    }
    const indexed = output.Item?.indexedThroughMs?.N;
    const indexedThroughMs = indexed === undefined ? undefined : this.epochMs(indexed, "indexedThroughMs");
    return { watermarkMs, resumeFromMs, indexedThroughMs };
  }

  private epochMs(raw: string, what: string): number {
    const value = Number(raw);
    if (!Number.isSafeInteger(value)) {
      throw new Error(`${this.tableName} ${what} item holds ${JSON.stringify(raw)}, not epoch milliseconds`);
    }
    return value;
  }

  /**
   * Moves the watermark forward to `ms` (never back) and records the rules that resume from their own point and the
   * newest index stamp the run found (kept as it was when the run found none); false when a later run already moved
   * it further.
   */
  async advance(
    ms: number,
    runId: string,
    resumeFromMs: Readonly<Record<string, number>> = {},
    indexedThroughMs?: number,
  ): Promise<boolean> {
    try {
      await this.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(),
          UpdateExpression: `SET watermarkMs = :ms, updatedAt = :at, runId = :run, resumeFromMs = :resume${
            indexedThroughMs === undefined ? "" : ", indexedThroughMs = :indexed"
          }`,
          ConditionExpression: "attribute_not_exists(watermarkMs) OR watermarkMs < :ms",
          ExpressionAttributeValues: {
            ":ms": { N: String(ms) },
            ":at": { S: new Date(ms).toISOString() },
            ":run": { S: runId },
            ":resume": {
              M: Object.fromEntries(
                Object.entries(resumeFromMs).map(([rule, at]) => [rule, { N: String(at) }]),
              ),
            },
            ...(indexedThroughMs === undefined ? {} : { ":indexed": { N: String(indexedThroughMs) } }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
