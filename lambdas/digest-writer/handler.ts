/**
 * Digest writer: on an EventBridge schedule (every period; reserved concurrency 1, though the conditional
 * writes in `write-digests.ts` keep the chain linear even without it), closes every period whose end has
 * passed and writes its signed digest into the archive, catching up in order after an outage.
 */

import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import middy from "@middy/core";
import type { ScheduledEvent } from "aws-lambda";
import { DIGEST_WRITER_METRICS } from "../core/contracts.js";
import { loadDigestWriterConfig } from "./config.js";
import { kmsSigner } from "./kms-signer.js";
import { ChainConflictError, type WrittenDigest, writeDueDigests } from "./write-digests.js";

/** Leave this much of the invocation for the period in flight. */
const SAFETY_MARGIN_MS = 30_000;

const config = loadDigestWriterConfig(process.env);
const logger = new Logger({ serviceName: "digest-writer" });
const metrics = new Metrics({
  namespace: DIGEST_WRITER_METRICS.namespace,
  serviceName: DIGEST_WRITER_METRICS.service,
});
const tracer = new Tracer({ serviceName: "digest-writer" });
const s3 = tracer.captureAWSv3Client(new S3Client({}));
const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
const kms = tracer.captureAWSv3Client(new KMSClient({}));
const signer = kmsSigner(kms, config.signingKeyId);

export interface DigestWriterResult {
  readonly written: readonly WrittenDigest[];
}

export const handler = middy<ScheduledEvent, DigestWriterResult>()
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .handler(async (_event, context) => {
    let written: WrittenDigest[];
    try {
      written = await writeDueDigests({
        s3,
        dynamo,
        signer,
        ...config,
        now: () => Date.now(),
        hasTimeLeft: () => context.getRemainingTimeInMillis() > SAFETY_MARGIN_MS,
      });
    } catch (error: unknown) {
      // The chain cannot advance: say so in a metric of its own (alarmed on) before failing the invocation.
      if (error instanceof ChainConflictError) {
        metrics.addMetric(DIGEST_WRITER_METRICS.names.chainConflicts, MetricUnit.Count, 1);
        logger.error("the digest chain cannot advance", { error });
      }
      throw error;
    }
    for (const digest of written) {
      logger.info("digest written", { ...digest });
      metrics.addMetric(DIGEST_WRITER_METRICS.names.objectsDigested, MetricUnit.Count, digest.objectCount);
      for (const refused of digest.refused) {
        logger.error("ledger record left out of the digest", { digestKey: digest.key, ...refused });
      }
      if (digest.refused.length > 0)
        metrics.addMetric(
          DIGEST_WRITER_METRICS.names.objectsRefused,
          MetricUnit.Count,
          digest.refused.length,
        );
    }
    metrics.addMetric(DIGEST_WRITER_METRICS.names.digestsWritten, MetricUnit.Count, written.length);
    return { written };
  });
