/**
 * Calls AWS services make with a role of this stack, read from the template's configuration of the resource that
 * uses the role (never written per function): what Lambda does with an execution role (logs, X-Ray, VPC ENIs,
 * environment decryption, event source polling, dead-letter sends), what Firehose does with its delivery role
 * (from the stream's destination configuration, as the Amazon Data Firehose developer guide lists it for an
 * OpenSearch destination with S3 backup), and what SNS does with a delivery-status role.
 */
import type { AwsCall } from "./aws-calls.js";
import { ACCOUNT, asList, PARTITION, REGION, type ResolvedTemplate } from "./template.js";

const regional = (service: string, rest: string) =>
  `arn:${PARTITION}:${service}:${REGION}:${ACCOUNT}:${rest}`;
const LOG_STREAM = "2026/12/06/[$LATEST]0123456789abcdef";

function viaKms(service: string, keyArn: string | undefined, actions: string[], via: string): AwsCall[] {
  if (keyArn === undefined) return [];
  return actions.map((action) => ({
    via,
    action,
    resource: keyArn,
    context: { "kms:ViaService": `${service}.${REGION}.amazonaws.com`, "kms:CallerAccount": ACCOUNT },
  }));
}

/** What the Lambda service does with the function's execution role. */
export function lambdaServiceCalls(template: ResolvedTemplate, functionId: string): AwsCall[] {
  const props = template.properties(functionId);
  const name = template.physicalName(functionId);
  const calls: AwsCall[] = [];
  const logging = props.LoggingConfig as { LogGroup?: string } | undefined;
  const logGroup = logging?.LogGroup ?? `/aws/lambda/${name}`;
  if (logging?.LogGroup === undefined) {
    calls.push({
      via: "Lambda: create the default log group",
      action: "logs:CreateLogGroup",
      resource: regional("logs", `log-group:${logGroup}`),
    });
  }
  for (const action of ["logs:CreateLogStream", "logs:PutLogEvents"]) {
    calls.push({
      via: "Lambda: function logs",
      action,
      resource: regional("logs", `log-group:${logGroup}:log-stream:${LOG_STREAM}`),
    });
  }
  if ((props.TracingConfig as { Mode?: string } | undefined)?.Mode === "Active") {
    for (const action of ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]) {
      calls.push({ via: "Lambda: active tracing", action, resource: "*" });
    }
  }
  if (props.VpcConfig !== undefined) {
    for (const action of [
      "ec2:CreateNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]) {
      calls.push({ via: "Lambda: VPC network interfaces", action, resource: "*" });
    }
  }
  if (typeof props.KmsKeyArn === "string") {
    calls.push({
      via: "Lambda: decrypt the environment variables",
      action: "kms:Decrypt",
      resource: props.KmsKeyArn,
      context: { "kms:EncryptionContext:LambdaFunctionName": name },
    });
  }
  const deadLetter = (props.DeadLetterConfig as { TargetArn?: string } | undefined)?.TargetArn;
  if (deadLetter !== undefined) {
    const via = "Lambda: send a failed asynchronous event to the dead-letter queue";
    calls.push({
      via,
      action: "sqs:SendMessage",
      resource: deadLetter,
      context: { "aws:SecureTransport": "true" },
    });
    calls.push(
      ...viaKms(
        "sqs",
        template.encryptionKeyOf("sqs", deadLetter),
        ["kms:GenerateDataKey", "kms:Decrypt"],
        via,
      ),
    );
  }
  for (const mappingId of template.ofType("AWS::Lambda::EventSourceMapping")) {
    const mapping = template.properties(mappingId);
    if (mapping.FunctionName !== name && mapping.FunctionName !== template.arn(functionId)) continue;
    const source = String(mapping.EventSourceArn);
    if (!source.startsWith(`arn:${PARTITION}:sqs:`)) {
      throw new Error(
        `${mappingId}: event source ${source} is not a queue; add its calls to test/contract/service-calls.ts`,
      );
    }
    const via = "Lambda: poll the SQS event source";
    // The permissions the Lambda developer guide lists for an SQS event source mapping.
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]) {
      calls.push({ via, action, resource: source, context: { "aws:SecureTransport": "true" } });
    }
    calls.push(...viaKms("sqs", template.encryptionKeyOf("sqs", source), ["kms:Decrypt"], via));
  }
  return calls;
}

/** What aws-cdk-lib's custom-resource provider framework function calls: it invokes the user handler and waits for it to be active. */
export function providerFrameworkCalls(template: ResolvedTemplate, functionId: string): AwsCall[] {
  const variables = (
    template.properties(functionId).Environment as { Variables?: Record<string, string> } | undefined
  )?.Variables;
  const onEvent = variables?.USER_ON_EVENT_FUNCTION_ARN;
  if (onEvent === undefined) throw new Error(`${functionId} has no USER_ON_EVENT_FUNCTION_ARN`);
  return [
    { via: "provider framework: invoke onEvent", action: "lambda:InvokeFunction", resource: onEvent },
    {
      via: "provider framework: wait until onEvent is active",
      action: "lambda:GetFunction",
      resource: onEvent,
    },
  ];
}

interface OpenSearchDestination {
  DomainARN: string;
  IndexName: string;
  RoleARN: string;
  S3Configuration: {
    BucketARN: string;
    RoleARN?: string;
    Prefix?: string;
    ErrorOutputPrefix?: string;
    EncryptionConfiguration?: { KMSEncryptionConfig?: { AWSKMSKeyARN: string } };
    CloudWatchLoggingOptions?: { LogGroupName?: string; LogStreamName?: string };
  };
  ProcessingConfiguration?: {
    Processors?: { Type: string; Parameters: { ParameterName: string; ParameterValue: string }[] }[];
  };
  CloudWatchLoggingOptions?: { LogGroupName?: string; LogStreamName?: string };
  VpcConfiguration?: unknown;
}

/** The literal part of a Firehose prefix (`documents/!{timestamp:…}/` → `documents/`). */
function literalPrefix(prefix: string | undefined): string {
  return (prefix ?? "").split("!{")[0] ?? "";
}

/**
 * What Firehose does with its delivery role for a Direct PUT stream delivering to OpenSearch with S3 backup: the
 * domain calls (describe, `_bulk` writes that create the daily index, the cluster and index reads it checks before
 * delivering), the S3 backup writes under the configured prefixes and their KMS data keys, the transform
 * invocation and the error logging; with a VPC destination, its network interfaces.
 */
export function firehoseServiceCalls(
  template: ResolvedTemplate,
  streamId: string,
): { roleArn: string; calls: AwsCall[] }[] {
  const props = template.properties(streamId);
  const destination = props.AmazonopensearchserviceDestinationConfiguration as
    | OpenSearchDestination
    | undefined;
  if (destination === undefined) throw new Error(`${streamId}: only the OpenSearch destination is modelled`);
  const calls: AwsCall[] = [];
  const domain = destination.DomainARN;
  const via = "Firehose: deliver to OpenSearch";
  for (const action of ["es:DescribeDomain", "es:DescribeDomains", "es:DescribeDomainConfig"]) {
    calls.push({ via, action, resource: domain });
  }
  const today = `${destination.IndexName}-2026-12-06`;
  calls.push({ via, action: "es:ESHttpPost", resource: `${domain}/_bulk` });
  calls.push({
    via: "Firehose: create the daily index",
    action: "es:ESHttpPut",
    resource: `${domain}/${today}`,
  });
  for (const path of [
    "_all/_settings",
    "_cluster/stats",
    `${today}/_mapping`,
    "_nodes",
    "_nodes/stats",
    "_nodes/node-1/stats",
    "_stats",
    `${today}/_stats`,
    "",
  ]) {
    calls.push({
      via: "Firehose: cluster and index checks",
      action: "es:ESHttpGet",
      resource: `${domain}/${path}`,
    });
  }
  const s3 = destination.S3Configuration;
  const bucket = s3.BucketARN;
  const bucketName = bucket.split(":::")[1] ?? "";
  for (const prefix of [literalPrefix(s3.Prefix), literalPrefix(s3.ErrorOutputPrefix)]) {
    const object = `${bucket}/${prefix}2026/12/06/21/stream-1-2026-12-06-21-00-00-0123`;
    for (const action of ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"]) {
      calls.push({
        via: `Firehose: S3 backup under ${prefix}`,
        action,
        resource: object,
        context: { "aws:SecureTransport": "true" },
      });
    }
  }
  for (const action of ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]) {
    calls.push({
      via: "Firehose: S3 backup",
      action,
      resource: bucket,
      context: { "aws:SecureTransport": "true" },
    });
  }
  const key = s3.EncryptionConfiguration?.KMSEncryptionConfig?.AWSKMSKeyARN;
  if (key !== undefined) {
    for (const action of ["kms:GenerateDataKey", "kms:Decrypt"]) {
      calls.push({
        via: "Firehose: S3 backup encryption",
        action,
        resource: key,
        context: {
          "kms:ViaService": `s3.${REGION}.amazonaws.com`,
          "kms:CallerAccount": ACCOUNT,
          "kms:EncryptionContext:aws:s3:arn": `arn:${PARTITION}:s3:::${bucketName}`,
        },
      });
    }
  }
  for (const processor of destination.ProcessingConfiguration?.Processors ?? []) {
    const arn = processor.Parameters.find((p) => p.ParameterName === "LambdaArn")?.ParameterValue;
    if (processor.Type !== "Lambda" || arn === undefined) continue;
    for (const action of ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"]) {
      calls.push({ via: "Firehose: invoke the transform", action, resource: arn });
    }
  }
  for (const logging of [destination.CloudWatchLoggingOptions, s3.CloudWatchLoggingOptions]) {
    if (logging?.LogGroupName === undefined) continue;
    calls.push({
      via: "Firehose: delivery error logging",
      action: "logs:PutLogEvents",
      resource: regional(
        "logs",
        `log-group:${logging.LogGroupName}:log-stream:${logging.LogStreamName ?? "*"}`,
      ),
    });
  }
  if (destination.VpcConfiguration !== undefined) {
    for (const action of [
      "ec2:DescribeVpcs",
      "ec2:DescribeVpcAttribute",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeNetworkInterfaces",
      "ec2:CreateNetworkInterface",
      "ec2:CreateNetworkInterfacePermission",
      "ec2:DeleteNetworkInterface",
    ]) {
      calls.push({ via: "Firehose: VPC delivery", action, resource: "*" });
    }
  }
  const roles = new Set([
    destination.RoleARN,
    ...asList(s3.RoleARN),
    ...asList((destination.VpcConfiguration as { RoleARN?: string } | undefined)?.RoleARN),
  ]);
  return [...roles].map((roleArn) => ({ roleArn, calls }));
}

/** What a producer (Fluent Bit's `kinesis_firehose` output, a CloudWatch Logs subscription) calls: put records into the stream. */
export function producerCalls(template: ResolvedTemplate, streamId: string): AwsCall[] {
  const stream = template.arn(streamId);
  return ["firehose:PutRecord", "firehose:PutRecordBatch"].map((action) => ({
    via: "producer: ship records",
    action,
    resource: stream,
  }));
}

/** What SNS does with a delivery-status role: create and write its own log groups `sns/<region>/<account>/<topic>[/Failure]`. */
export function snsDeliveryStatusCalls(template: ResolvedTemplate, roleArn: string): AwsCall[] {
  const calls: AwsCall[] = [];
  for (const topicId of template.ofType("AWS::SNS::Topic")) {
    const props = template.properties(topicId);
    const configs = asList(
      props.DeliveryStatusLogging as { SuccessFeedbackRoleArn?: string; FailureFeedbackRoleArn?: string }[],
    );
    if (!configs.some((c) => c.SuccessFeedbackRoleArn === roleArn || c.FailureFeedbackRoleArn === roleArn))
      continue;
    const topicName = template.physicalName(topicId);
    for (const group of [
      `sns/${REGION}/${ACCOUNT}/${topicName}`,
      `sns/${REGION}/${ACCOUNT}/${topicName}/Failure`,
    ]) {
      const via = `SNS: delivery status of ${topicName}`;
      const groupArn = regional("logs", `log-group:${group}`);
      for (const action of ["logs:CreateLogGroup", "logs:PutMetricFilter", "logs:PutRetentionPolicy"]) {
        calls.push({ via, action, resource: groupArn });
      }
      for (const action of ["logs:CreateLogStream", "logs:PutLogEvents"]) {
        calls.push({ via, action, resource: `${groupArn}:log-stream:0123` });
      }
    }
  }
  return calls;
}
