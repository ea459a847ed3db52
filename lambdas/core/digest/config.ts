/**
 * The archiver's and the digest writer's settings, read once from the environment at start-up. A missing or
 * malformed variable fails loudly, naming it.
 */
import { ARCHIVER_ENV, DIGEST_WRITER_ENV } from "../contracts.js";
import { errorMessage } from "../errors.js";
import { periodMsFromMinutes } from "./period.js";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`environment variable ${name} is required but not set`);
  return value;
}

function periodMs(env: Env, name: string): number {
  const text = required(env, name);
  const minutes = Number(text);
  if (!Number.isInteger(minutes)) {
    throw new ConfigError(`environment variable ${name}: expected whole minutes (e.g. 60), got '${text}'`);
  }
  try {
    return periodMsFromMinutes(minutes, `environment variable ${name}`);
  } catch (error: unknown) {
    throw new ConfigError(errorMessage(error));
  }
}

export interface ArchiverConfig {
  readonly archiveBucketName: string;
  readonly ledgerTableName: string;
  readonly periodMs: number;
}

export function loadArchiverConfig(env: Env): ArchiverConfig {
  return {
    archiveBucketName: required(env, ARCHIVER_ENV.archiveBucketName),
    ledgerTableName: required(env, ARCHIVER_ENV.ledgerTableName),
    periodMs: periodMs(env, ARCHIVER_ENV.digestPeriodMinutes),
  };
}

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
