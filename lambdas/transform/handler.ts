/**
 * Transform: the Firehose data-transformation Lambda. Decodes each record, normalizes it to ECS (parsers,
 * Fluent Bit / CloudWatch Logs envelopes, GDPR pseudonymization), tags the single-event rules each document matches (`rule.name`),
 * and answers with Firehose's record contract (`core/firehose/transform.ts`). Documents beyond the first of a
 * multi-document record are re-ingested into the same delivery stream (`reingest.ts`).
 *
 * Logs carry counts and record ids only, never payloads.
 *
 * Cold start is kept to what every invocation needs (the bundle `npm run bench` measures):
 * - the rule pack is the precompiled JSON the stack writes into the bundle (`core/rules/precompiled.ts`), so neither
 *   a YAML parser nor zod is loaded; the rules are compiled by the same code as on a laptop;
 * - the AWS SDK v3 is the one the Node.js runtime ships (the stack leaves `@aws-sdk/*` out of this bundle), and it
 *   is imported on first use: the Firehose client when a record yields several documents, the Secrets Manager
 *   client for the re-ingest key (once per cold start) and, with pseudonymization, the Secrets Manager or SSM
 *   client for its key;
 * - no Powertools tracer: the function's X-Ray active tracing records each invocation without the X-Ray SDK (what
 *   is lost are subsegments around the rare re-ingestion and key calls).
 */
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { FirehoseClient } from "@aws-sdk/client-firehose";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SSMClient } from "@aws-sdk/client-ssm";
import middy from "@middy/core";
import type { FirehoseTransformationEvent, FirehoseTransformationResult } from "aws-lambda";
import { TRANSFORM_METRICS } from "../core/contracts.js";
import type { EcsDocument } from "../core/ecs.js";
import { settleOverflow, transformBatch, transformMetrics } from "../core/firehose/transform.js";
import { createPseudonymizer, type Pseudonymizer } from "../core/normalize/pseudonymize.js";
import { createReingestSealer, type ReingestSealer } from "../core/normalize/reingest.js";
import { loadPack } from "../core/rules/assemble.js";
import { PRECOMPILED_RULE_PACK_FILE, precompiledPack } from "../core/rules/precompiled.js";
import { loadTransformConfig, type TransformConfig } from "./config.js";
import { fetchPseudonymizationKey, fetchSecret } from "./key.js";
import { deliveryStreamName, reingest } from "./reingest.js";

export interface TransformDependencies {
  config: TransformConfig;
  /** The client that re-ingests extra documents, created on first use. */
  firehose: () => Promise<FirehoseClient>;
  /** Created on first use (the re-ingest key, and the pseudonymization key when it is a secret). */
  secretsManager: () => Promise<SecretsManagerClient>;
  /** Created on first use (only with pseudonymization). */
  ssm: () => Promise<SSMClient>;
  /** Stateless rule matching (the rule engine), written to `rule.name`. @default - documents are not tagged */
  tagger?: (doc: EcsDocument) => readonly string[];
  logger: Logger;
  metrics: Metrics;
}

const NOTHING_UNSENT: ReadonlySet<string> = new Set();

/** Builds the middy handler around its dependencies (the module's `handler` uses the real ones). */
export function buildHandler(deps: TransformDependencies) {
  const { config, logger, metrics } = deps;
  let pseudonymizer: Promise<Pseudonymizer | undefined> | undefined;
  const loadPseudonymizer = (): Promise<Pseudonymizer | undefined> => {
    const source = config.keySource;
    if (source === undefined) return Promise.resolve(undefined);
    pseudonymizer ??= fetchPseudonymizationKey(source, deps).then(
      (key) => createPseudonymizer(key, config.pseudonymizeFields),
      (error: unknown) => {
        pseudonymizer = undefined; // retried on the next invocation
        throw error;
      },
    );
    return pseudonymizer;
  };
  let sealer: Promise<ReingestSealer> | undefined;
  const loadSealer = (): Promise<ReingestSealer> => {
    sealer ??= fetchSecret(config.reingestKeySecretArn, deps).then(createReingestSealer, (error: unknown) => {
      sealer = undefined; // retried on the next invocation
      throw error;
    });
    return sealer;
  };

  return middy<FirehoseTransformationEvent, FirehoseTransformationResult>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (event) => {
      // Without the key, pseudonymization cannot be honoured: fail the invocation so Firehose retries it and,
      // once its retries are spent, keeps the raw records in S3 — never index unpseudonymized data.
      // Without the re-ingest key, sealed documents could be neither sent nor verified: fail the same way.
      const [p, reingestSealer] = await Promise.all([loadPseudonymizer(), loadSealer()]);
      const result = transformBatch(event, {
        keepOriginal: config.keepEventOriginal,
        multiDocument: "overflow",
        reingest: reingestSealer,
        ...(p === undefined ? {} : { pseudonymizer: p }),
        ...(deps.tagger === undefined ? {} : { tagger: deps.tagger }),
      });
      const unsent =
        result.overflow.length === 0
          ? NOTHING_UNSENT
          : await reingest(
              await deps.firehose(),
              deliveryStreamName(event.deliveryStreamArn),
              result.overflow,
            );
      const settled = settleOverflow(event, result, unsent);
      const stats = result.stats;
      for (const [name, count] of transformMetrics(stats, settled)) {
        metrics.addMetric(name, MetricUnit.Count, count);
      }
      logger.info("batch transformed", {
        invocationId: event.invocationId,
        records: stats.records,
        ok: stats.ok,
        failed: stats.failed,
        dropped: stats.dropped,
        documents: stats.documents,
        reingested: settled.reingested,
        oversize: stats.oversize,
        failuresByReason: stats.failuresByReason,
      });
      return settled.response;
    });
}

const config = loadTransformConfig(process.env);
// Loaded once per cold start; a missing or foreign pack fails the cold start naming the file.
const rulePack = loadPack({ source: precompiledPack(join(config.rulesDir, PRECOMPILED_RULE_PACK_FILE)) });

/** One client per cold start, from the runtime's SDK, imported the first time it is needed. */
function lazily<T>(create: () => Promise<T>): () => Promise<T> {
  let client: Promise<T> | undefined;
  return () => (client ??= create());
}

export const handler = buildHandler({
  config,
  firehose: lazily(async () => new (await import("@aws-sdk/client-firehose")).FirehoseClient({})),
  secretsManager: lazily(
    async () => new (await import("@aws-sdk/client-secrets-manager")).SecretsManagerClient({}),
  ),
  ssm: lazily(async () => new (await import("@aws-sdk/client-ssm")).SSMClient({})),
  tagger: (doc) => rulePack.matchSingleEvent(doc),
  logger: new Logger({ serviceName: "transform" }),
  metrics: new Metrics({ namespace: TRANSFORM_METRICS.namespace, serviceName: TRANSFORM_METRICS.service }),
});
