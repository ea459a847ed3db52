/**
 * The archiver's settings, read once from the environment at start-up (names in `ARCHIVER_ENV`); the digest writer
 * reads the same ones and its own (`digest-writer/config.ts`). A missing or malformed variable fails loudly, naming
 * it.
 */
import { ARCHIVER_ENV } from "../core/contracts.js";
import { periodMsFromMinutes } from "../core/digest/period.js";
import { errorMessage } from "../core/errors.js";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export type Env = Readonly<Record<string, string | undefined>>;

export function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`environment variable ${name} is required but not set`);
  return value;
}

export function periodMs(env: Env, name: string): number {
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
