/**
 * Archiver: SQS batch of S3 ObjectCreated notifications from the staging bucket. Each staging object is
 * streamed into the Object-Lock archive and recorded in the ledger (see `archive.ts`). Failed messages are
 * returned as batch item failures, so only they are redelivered.
 */

import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import middy from "@middy/core";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { ARCHIVER_METRICS } from "../core/contracts.js";
import { archiveObject } from "./archive.js";
import { loadArchiverConfig } from "./config.js";
import { stagingObjectsFromMessage } from "./notification.js";

const config = loadArchiverConfig(process.env);
const logger = new Logger({ serviceName: "archiver" });
const metrics = new Metrics({ namespace: ARCHIVER_METRICS.namespace, serviceName: ARCHIVER_METRICS.service });
const tracer = new Tracer({ serviceName: "archiver" });
const s3 = tracer.captureAWSv3Client(new S3Client({}));
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));

const deps = { s3, dynamo, ...config, now: () => Date.now() };

async function processMessage(messageId: string, body: string): Promise<void> {
  for (const object of stagingObjectsFromMessage(body, messageId)) {
    const result = await archiveObject(deps, object);
    if (result.outcome === "already-recorded") {
      metrics.addMetric(ARCHIVER_METRICS.names.objectsAlreadyRecorded, MetricUnit.Count, 1);
      logger.info("object already recorded", { key: object.key });
    } else {
      metrics.addMetric(ARCHIVER_METRICS.names.objectsArchived, MetricUnit.Count, 1);
      metrics.addMetric(ARCHIVER_METRICS.names.bytesArchived, MetricUnit.Bytes, result.record.size);
      logger.info("object archived", { ...result.record, outcome: result.outcome });
    }
  }
}

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .handler(async (event) => {
    const results = await Promise.allSettled(
      event.Records.map((record) => processMessage(record.messageId, record.body)),
    );
    const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
    results.forEach((result, index) => {
      const record = event.Records[index];
      if (result.status === "rejected" && record !== undefined) {
        metrics.addMetric(ARCHIVER_METRICS.names.archiveFailures, MetricUnit.Count, 1);
        logger.error("archiving failed", { messageId: record.messageId, error: result.reason as Error });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    });
    return { batchItemFailures };
  });
