/**
 * An SNS stand-in serving `Publish` in SNS's query protocol (form-encoded request, XML answer), SigV4 required.
 * Enforced as SNS documents it (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html): the topic must exist;
 * the message and its attributes at most 256 KiB; at most 10 message attributes; a subject of at most 100 printable
 * ASCII characters without line breaks; with `MessageStructure=json` a JSON object with a string `default`.
 * Every accepted message is kept, in order, for the test to read.
 */
import { AwsError, type SignedRequest, type StandInServer, serveAws } from "./aws-http.js";
import type { TlsMaterial } from "./tls.js";

export const SNS_MAX_MESSAGE_BYTES = 256 * 1024;

export interface PublishedMessage {
  readonly messageId: string;
  readonly topicArn: string;
  readonly subject: string | undefined;
  readonly message: string;
  readonly messageStructure: string | undefined;
  readonly attributes: Readonly<Record<string, string>>;
  /** When the stand-in accepted it, epoch ms. */
  readonly publishedMs: number;
  /** The SDK's attempt number (`amz-sdk-request: attempt=N`): above 1, the client retried a request it saw fail. */
  readonly attempt: number;
}

export interface SnsStandIn extends StandInServer {
  readonly published: PublishedMessage[];
  /** Publishes answered with an error (validation, unknown topic). */
  readonly refused: { code: string; message: string }[];
}

function invalid(message: string): AwsError {
  return new AwsError(400, "InvalidParameter", `Invalid parameter: ${message}`);
}

function publish(
  params: URLSearchParams,
  topics: ReadonlySet<string>,
): Omit<PublishedMessage, "messageId" | "publishedMs" | "attempt"> {
  const topicArn = params.get("TopicArn") ?? params.get("TargetArn");
  if (topicArn === null) throw invalid("TopicArn or TargetArn Reason: no value for required parameter");
  if (!topics.has(topicArn)) throw new AwsError(404, "NotFound", "Topic does not exist");
  const message = params.get("Message");
  if (message === null || message === "") throw invalid("Message Reason: Empty message");
  const subject = params.get("Subject") ?? undefined;
  if (subject !== undefined) {
    if (subject.length > 100) throw invalid("Subject Reason: Subject must be less than 100 characters long");
    if (!/^[\x20-\x7e]+$/.test(subject)) {
      throw invalid("Subject Reason: must be ASCII text without line breaks or control characters");
    }
  }
  const messageStructure = params.get("MessageStructure") ?? undefined;
  if (messageStructure !== undefined && messageStructure !== "json") {
    throw invalid(`MessageStructure Reason: ${messageStructure} is not json`);
  }
  if (messageStructure === "json") {
    let bodies: unknown;
    try {
      bodies = JSON.parse(message);
    } catch {
      throw invalid("Message Structure - JSON message body failed to parse");
    }
    if (
      typeof bodies !== "object" ||
      bodies === null ||
      typeof (bodies as { default?: unknown }).default !== "string"
    ) {
      throw invalid("Message Structure - No default entry in JSON message body");
    }
  }
  const attributes: Record<string, string> = {};
  let attributeBytes = 0;
  for (let n = 1; params.has(`MessageAttributes.entry.${n}.Name`); n++) {
    const name = params.get(`MessageAttributes.entry.${n}.Name`) as string;
    const type = params.get(`MessageAttributes.entry.${n}.Value.DataType`);
    const value = params.get(`MessageAttributes.entry.${n}.Value.StringValue`);
    if (type === null || value === null) {
      throw invalid(`Message attribute '${name}' Reason: needs a DataType and a StringValue`);
    }
    attributes[name] = value;
    attributeBytes += Buffer.byteLength(name) + Buffer.byteLength(type) + Buffer.byteLength(value);
  }
  if (Object.keys(attributes).length > 10) {
    throw invalid(
      "MessageAttributes Reason: Number of message attributes [11] exceeds the allowed maximum [10].",
    );
  }
  const size = Buffer.byteLength(message) + attributeBytes;
  if (size > SNS_MAX_MESSAGE_BYTES) {
    throw invalid(`Message too long: ${size} bytes, the most is ${SNS_MAX_MESSAGE_BYTES}`);
  }
  return { topicArn, subject, message, messageStructure, attributes };
}

export async function startSnsStandIn(options: {
  tls: TlsMaterial;
  /** The ARNs of the topics that exist. */
  topicArns: readonly string[];
}): Promise<SnsStandIn> {
  const topics = new Set(options.topicArns);
  const published: PublishedMessage[] = [];
  const refused: { code: string; message: string }[] = [];
  const handle = async (request: SignedRequest) => {
    const params = new URLSearchParams(request.body.toString("utf8"));
    const action = params.get("Action");
    try {
      if (action !== "Publish")
        throw new AwsError(400, "InvalidAction", `the stand-in does not serve ${action}`);
      const attempt = Number(
        /attempt=(\d+)/.exec(String(request.headers["amz-sdk-request"] ?? ""))?.[1] ?? 1,
      );
      const message = {
        ...publish(params, topics),
        messageId: crypto.randomUUID(),
        publishedMs: Date.now(),
        attempt,
      };
      published.push(message);
      return {
        contentType: "text/xml",
        body: `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${message.messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
      };
    } catch (error) {
      if (error instanceof AwsError) refused.push({ code: error.code, message: error.message });
      throw error;
    }
  };
  const server = await serveAws({
    tls: options.tls,
    signingName: "sns",
    // The form-encoded request of a 256 KiB message can triple in size.
    maxBodyBytes: 1024 * 1024,
    protocol: "query",
    handle,
  });
  return { ...server, published, refused };
}
