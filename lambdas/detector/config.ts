/**
 * The detector's configuration, read once from its environment (names in `DETECTOR_ENV`). A missing or
 * malformed variable fails the cold start with a message naming the variable, its value and the fix.
 */
import { join } from "node:path";
import { ALERT_TOPICS, type AlertTopic, DETECTOR_ENV } from "../core/contracts.js";

/**
 * Directory of the DB-IP CSVs inside the bundle; when unset, `geoip/` next to the handler code
 * (`$LAMBDA_TASK_ROOT/geoip`), where the stack copies them.
 */
export const GEOIP_DIR_ENV = DETECTOR_ENV.geoIpDir;

export interface DetectorConfig {
  readonly environmentName: string;
  /** Domain endpoint host name (no scheme). */
  readonly domainEndpoint: string;
  readonly region: string;
  readonly rulesDir: string;
  /** Raw JSON overrides, validated by the rule engine when the pack loads. */
  readonly ruleOverrides: string | undefined;
  /** SNS topic per alert topic: one per severity, and `ops`. */
  readonly topicArns: Readonly<Record<AlertTopic, string>>;
  readonly stateTableName: string;
  readonly dashboardsUrl: string | undefined;
  readonly runbookBaseUrl: string | undefined;
  readonly geoIpDir: string;
  /** Incremental evaluation's ingest lag (ms); undefined evaluates the whole lookback every run. */
  readonly ingestLagMs: number | undefined;
}

export class DetectorConfigError extends Error {
  override readonly name = "DetectorConfigError";
}

export function loadDetectorConfig(env: Readonly<Record<string, string | undefined>>): DetectorConfig {
  const required = (name: string, fix: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new DetectorConfigError(`${name} is not set: ${fix}`);
    return value;
  };
  const optional = (name: string): string | undefined => env[name]?.trim() || undefined;

  const domainEndpoint = required(
    DETECTOR_ENV.domainEndpoint,
    "the stack sets it to the domain endpoint host name",
  );
  if (/^[a-z]+:\/\//i.test(domainEndpoint) || domainEndpoint.includes("/")) {
    throw new DetectorConfigError(
      `${DETECTOR_ENV.domainEndpoint} is "${domainEndpoint}": give the host name only, without scheme or path`,
    );
  }
  const taskRoot = optional("LAMBDA_TASK_ROOT");
  const geoIpDir = optional(GEOIP_DIR_ENV) ?? (taskRoot === undefined ? undefined : join(taskRoot, "geoip"));
  if (geoIpDir === undefined) {
    throw new DetectorConfigError(
      `${GEOIP_DIR_ENV} is not set (nor LAMBDA_TASK_ROOT): point it at the DB-IP CSVs`,
    );
  }
  return {
    environmentName: required(DETECTOR_ENV.environmentName, "the stack sets it to the environment name"),
    domainEndpoint,
    region: required("AWS_REGION", "Lambda sets it; set it when running elsewhere"),
    rulesDir: required(
      DETECTOR_ENV.rulesDir,
      "the stack sets it to the rule pack directory inside the bundle",
    ),
    ruleOverrides: optional(DETECTOR_ENV.ruleOverrides),
    topicArns: parseTopicArns(required(DETECTOR_ENV.topicArns, "the stack sets it to the alert topics")),
    stateTableName: required(
      DETECTOR_ENV.stateTableName,
      "the stack sets it to the detector state table name",
    ),
    dashboardsUrl: optionalUrl(DETECTOR_ENV.dashboardsUrl, optional(DETECTOR_ENV.dashboardsUrl)),
    runbookBaseUrl: optionalUrl(DETECTOR_ENV.runbookBaseUrl, optional(DETECTOR_ENV.runbookBaseUrl)),
    geoIpDir,
    ingestLagMs: optionalMilliseconds(DETECTOR_ENV.ingestLagMs, optional(DETECTOR_ENV.ingestLagMs)),
  };
}

function optionalMilliseconds(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new DetectorConfigError(
      `${name}: ${JSON.stringify(raw)} is not a whole number of milliseconds (>= 0)`,
    );
  }
  return value;
}

function parseTopicArns(raw: string): Record<AlertTopic, string> {
  const name = DETECTOR_ENV.topicArns;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new DetectorConfigError(
      `${name} is not JSON: expected {"critical": "arn:aws:sns:…", "high": …, "medium": …, "low": …, "ops": …}`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new DetectorConfigError(`${name} must be a JSON object of topic (severity or ops) → topic ARN`);
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !(ALERT_TOPICS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    throw new DetectorConfigError(
      `${name} has unknown topics ${unknown.join(", ")}: use ${ALERT_TOPICS.join(", ")}`,
    );
  }
  const arns = {} as Record<AlertTopic, string>;
  for (const topic of ALERT_TOPICS) {
    const arn = record[topic];
    if (typeof arn !== "string" || !/^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w.-]+$/.test(arn)) {
      throw new DetectorConfigError(`${name}.${topic} is ${JSON.stringify(arn)}: expected an SNS topic ARN`);
    }
    arns[topic] = arn;
  }
  return arns;
}

function optionalUrl(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DetectorConfigError(`${name} is "${value}": expected an absolute https URL`);
  }
  if (url.protocol !== "https:")
    throw new DetectorConfigError(`${name} is "${value}": expected an https URL`);
  return value;
}
