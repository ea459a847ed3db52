/**
 * The digest writer's settings, read once from the environment at start-up (names in `DIGEST_WRITER_ENV`): the
 * archiver's (`archiver/config.ts`) and its own. A missing or malformed variable fails loudly, naming it.
 */
import { type ArchiverConfig, type Env, periodMs, required } from "../archiver/config.js";
import { DIGEST_WRITER_ENV } from "../core/contracts.js";

export interface DigestWriterConfig extends ArchiverConfig {
  /** Firehose's staging bucket, where every object the digest writer seals must have been staged. */
  readonly stagingBucketName: string;
  /** KMS key ARN (recorded in each digest, so `verify` can fetch its public key). */
  readonly signingKeyId: string;
}

export function loadDigestWriterConfig(env: Env): DigestWriterConfig {
  return {
    archiveBucketName: required(env, DIGEST_WRITER_ENV.archiveBucketName),
    stagingBucketName: required(env, DIGEST_WRITER_ENV.stagingBucketName),
    ledgerTableName: required(env, DIGEST_WRITER_ENV.ledgerTableName),
    periodMs: periodMs(env, DIGEST_WRITER_ENV.digestPeriodMinutes),
    signingKeyId: required(env, DIGEST_WRITER_ENV.signingKeyId),
  };
}
