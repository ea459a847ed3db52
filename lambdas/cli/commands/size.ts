/**
 * `audit-trail size`: what a daily volume of logs needs and costs. Reads the flags (and, with `-c env=NAME`, an
 * environment's frameworks, policies and settings), turns the compliance presets of `lib/config` into retention
 * minimums, and hands everything to the pure sizing model, which prints a table or JSON. No AWS call.
 */

import {
  AuditTrailConfigError,
  ENVIRONMENTS,
  type EnvironmentConfig,
  environmentConfigSchema,
  loadEnvironmentConfig,
  rulesFor,
  yearsInDays,
} from "../../../lib/config/index.js";
import { FRAMEWORK_IDS, type FrameworkId } from "../../core/compliance/catalogue.js";
import { ENVIRONMENTS_FILE } from "../../core/contracts.js";
import { INDEX_CODECS, type IndexCodec } from "../../core/opensearch/audit-template.js";
import {
  DEFAULT_HOT_DAYS,
  PRICED_REGIONS,
  type RetentionRequirement,
  renderSizing,
  type SizingField,
  SizingInputError,
  type SizingRequest,
  sizeAuditTrail,
  sizingJson,
} from "../../core/sizing/index.js";
import {
  ENVIRONMENT_OPTIONS,
  frameworksOption,
  type OptionValues,
  optionValues,
  runVerb,
  selectedEnvironment,
  UsageError,
} from "../usage.js";
import type { VerbModule } from "./command.js";

/** The flag of each input of the sizing model. */
const FLAG: Readonly<Record<SizingField, string>> = {
  gbPerDay: "--gb-per-day",
  region: "--region",
  frameworks: "--framework",
  hotDays: "--hot-days",
  warmDays: "--warm-days",
  coldDays: "--cold-days",
  archiveDays: "--archive-days",
  replicas: "--replicas",
  availabilityZones: "--azs",
  documentExpansion: "--expansion",
  averageRecordBytes: "--record-bytes",
  indexSizeRatio: "--index-ratio",
  shardSizeGiB: "--shard-size-gib",
  peakFactor: "--peak-factor",
  indexCodec: "--codec",
};

const USAGE = `usage: audit-trail size --gb-per-day N (--framework F… | -c env=NAME | --archive-days N) [options]

Recommends the OpenSearch domain (data node type and count, EBS per node, dedicated masters, UltraWarm, cold
storage), the Firehose streams against the per-stream quotas, the transform Lambda's reserved concurrency, and the
S3 footprint for N GB of raw logs a day, and estimates the monthly cost from the documented price table (each
price with its region, date and source). Prints its assumptions, the AWS guidance it follows and what it leaves
out. Exit status 2 on a usage error.

  --gb-per-day N        raw log volume shipped per day, GB (10^9 bytes); required
  --framework F         ${FRAMEWORK_IDS.join(", ")}; repeatable or comma-separated: sets the archive's
                        retention and the searchable days as the compliance presets do
  -c env=NAME, --env NAME
                        take frameworks, their policies (iso27001, gdpr), retention, replicas, AZs, network and
                        event.original from an environment of ${ENVIRONMENTS_FILE}; flags override it
                        (with --framework, the retention follows those frameworks instead)
  --region R            price in R: ${PRICED_REGIONS.join(", ")} (default: the environment's, or ${PRICED_REGIONS[0]})
  --hot-days N          days on hot nodes (default ${DEFAULT_HOT_DAYS})
  --warm-days N         days warm (default: what the searchable minimum leaves after the hot days)
  --cold-days N         days in cold storage (default: indices stay in OpenSearch for the first year of the
                        archive's retention, or all of it if shorter)
  --archive-days N      archive retention (default: the longest the frameworks require; required without one)
  --replicas N          replicas per shard (default 1)
  --azs 1|2|3           availability zones of the domain (default 2)
  --network vpc|public  VPC domain (Firehose VPC delivery is charged) or public endpoint (default vpc)
  --no-original         documents without event.original (GDPR environments)
  --index-original      event.original indexed as full text, not only stored (default: stored only)
  --codec C             stored-fields codec of the audit indices: ${INDEX_CODECS.join(", ")}
                        (default: the environment's search.indexCodec, or best_compression)
  --uncompressed-archive
                        price the Firehose backup and the archive uncompressed (default: GZIP, as deployed)
  --expansion X         document bytes per input byte (default: measured, see the Assumptions section)
  --record-bytes N      average log line in bytes (default: measured); Firehose's 5 KB rounding follows it
  --index-ratio X       on-disk primary index over its documents (default: measured for the codec and layout)
  --shard-size-gib N    target primary shard size (default 40)
  --peak-factor X       busiest hour's rate over the day's average (default 2)
  --json                one JSON document instead of the tables`;

type Options = OptionValues<typeof OPTIONS>;

/** `--flag value` as a number; anything but a plain non-negative decimal is refused. */
function numberFlag(values: Options, name: keyof Options): number | undefined {
  const text = values[name];
  if (text === undefined || typeof text !== "string") return undefined;
  if (/^-\d/.test(text)) {
    throw new UsageError(
      `--${name} ${text}: must not be negative; pass the ${UNITS[name] ?? "number"}, e.g. --${name} 7`,
    );
  }
  if (!/^\d+(\.\d+)?$/.test(text)) {
    throw new UsageError(`--${name} ${JSON.stringify(text)}: not a number; pass digits, e.g. --${name} 7`);
  }
  return Number(text);
}

const UNITS: Partial<Record<keyof Options, string>> = {
  "gb-per-day": "GB a day",
  "hot-days": "days",
  "warm-days": "days",
  "cold-days": "days",
  "archive-days": "days",
};

/**
 * The minimums each framework sets, read from the compliance presets (`rulesFor`, what synth enforces). ISO 27001
 * and GDPR take their periods from an environment's policy.
 */
function retentionRequirements(
  frameworks: readonly FrameworkId[],
  environment: EnvironmentConfig | undefined,
): RetentionRequirement[] {
  // rulesFor reads only `compliance` from the config; its parameter is typed as the (mutable) parsed config.
  const config = (environment ?? { compliance: { frameworks } }) as unknown as Parameters<typeof rulesFor>[1];
  return frameworks.flatMap((framework) => {
    let rules: ReturnType<typeof rulesFor>;
    try {
      rules = rulesFor(framework, config);
    } catch (error: unknown) {
      if (!(error instanceof AuditTrailConfigError)) throw error;
      const where =
        environment === undefined
          ? "pass -c env=NAME for an environment that declares it"
          : `declare it in environment "${environment.name}" of ${ENVIRONMENTS_FILE}`;
      throw new UsageError(
        `--framework ${framework}: ${error.details.problem ?? error.message}; its minimums come from ${error.details.configKey}: ${where}`,
      );
    }
    return rules.map((rule): RetentionRequirement => {
      if (
        rule.configKey !== "retention.archiveDays" &&
        rule.configKey !== "retention.hotDays + retention.warmDays"
      ) {
        throw new Error(
          `compliance preset ${framework} constrains ${rule.configKey}, which size does not model`,
        );
      }
      return {
        framework: rule.framework,
        rule: rule.rule,
        applies: rule.configKey === "retention.archiveDays" ? "archive" : "searchable",
        minimumDays: rule.minimumDays,
      };
    });
  });
}

const retentionDefaults = environmentConfigSchema.shape.retention.shape;

/** The verb's options. */
const OPTIONS = {
  "gb-per-day": { type: "string" },
  framework: { type: "string", multiple: true },
  ...ENVIRONMENT_OPTIONS,
  region: { type: "string" },
  "hot-days": { type: "string" },
  "warm-days": { type: "string" },
  "cold-days": { type: "string" },
  "archive-days": { type: "string" },
  replicas: { type: "string" },
  azs: { type: "string" },
  network: { type: "string" },
  "no-original": { type: "boolean" },
  "index-original": { type: "boolean" },
  codec: { type: "string" },
  "uncompressed-archive": { type: "boolean" },
  expansion: { type: "string" },
  "record-bytes": { type: "string" },
  "index-ratio": { type: "string" },
  "shard-size-gib": { type: "string" },
  "peak-factor": { type: "string" },
  json: { type: "boolean" },
} as const;

function codecFrom(value: string | undefined): IndexCodec | undefined {
  if (value === undefined) return undefined;
  if (!(INDEX_CODECS as readonly string[]).includes(value)) {
    throw new UsageError(`--codec ${value}: unknown; use one of ${INDEX_CODECS.join(", ")}`);
  }
  return value as IndexCodec;
}

type DayKey = "hotDays" | "warmDays" | "coldDays" | "archiveDays";

/** The model's request from the flags and, with `-c env=NAME`, the environment's config. */
function sizingRequest(values: Options): SizingRequest {
  const gbPerDay = numberFlag(values, "gb-per-day");
  if (gbPerDay === undefined) {
    throw new UsageError(
      "--gb-per-day is required: pass the raw log volume your clusters ship a day, in GB, e.g. --gb-per-day 100",
    );
  }
  const network = values.network;
  if (network !== undefined && network !== "vpc" && network !== "public") {
    throw new UsageError(`--network ${network}: use vpc or public`);
  }

  const name = selectedEnvironment(values);
  const environment = name === undefined ? undefined : loadEnvironmentConfig(name, ENVIRONMENTS);
  const requested = frameworksOption(values.framework);
  const frameworks = requested ?? [...(environment?.compliance.frameworks ?? [])];
  // An environment's days answer its own frameworks; other frameworks get days of their own.
  const own = requested === undefined ? environment : undefined;
  const fromEnvironment: Record<DayKey, number | undefined> = {
    hotDays: own?.retention.hotDays,
    warmDays: own?.retention.warmDays,
    coldDays: own?.retention.coldDays,
    archiveDays: own?.retention.archiveDays,
  };
  const flagOf: Record<DayKey, keyof Options> = {
    hotDays: "hot-days",
    warmDays: "warm-days",
    coldDays: "cold-days",
    archiveDays: "archive-days",
  };
  const days: Partial<Record<DayKey, number>> = {};
  const origin: Partial<Record<DayKey, string>> = {};
  for (const key of Object.keys(flagOf) as DayKey[]) {
    const flag = numberFlag(values, flagOf[key]);
    if (flag !== undefined) {
      days[key] = flag;
      origin[key] = `--${flagOf[key]}`;
    } else if (fromEnvironment[key] !== undefined) {
      days[key] = fromEnvironment[key];
      origin[key] = `environment "${own?.name}" (retention.${key})`;
    }
  }

  const region = values.region ?? environment?.region ?? PRICED_REGIONS[0] ?? "us-east-1";
  return {
    gbPerDay,
    region,
    frameworks,
    retention: {
      ...days,
      origin,
      requirements: retentionRequirements(frameworks, environment),
      indexLifetimeCapDays: yearsInDays(1),
      transitions:
        environment?.retention.archiveTransitions ?? retentionDefaults.archiveTransitions.parse(undefined),
      stagingDays:
        environment?.retention.stagingExpirationDays ??
        retentionDefaults.stagingExpirationDays.parse(undefined),
    },
    assumptions: {
      keepEventOriginal: values["no-original"] ? false : environment?.transform.keepEventOriginal,
      indexEventOriginal: values["index-original"] ? true : environment?.transform.indexEventOriginal,
      indexCodec: codecFrom(values.codec) ?? environment?.search.indexCodec,
      archiveCompression: values["uncompressed-archive"] ? "none" : undefined,
      origin: {
        keepEventOriginal: values["no-original"]
          ? "--no-original"
          : `environment "${environment?.name}" (transform.keepEventOriginal)`,
        indexEventOriginal: values["index-original"]
          ? "--index-original"
          : `environment "${environment?.name}" (transform.indexEventOriginal)`,
        indexCodec:
          values.codec !== undefined ? "--codec" : `environment "${environment?.name}" (search.indexCodec)`,
        archiveCompression: "--uncompressed-archive",
        documentExpansion: "--expansion",
        averageRecordBytes: "--record-bytes",
        replicas:
          numberFlag(values, "replicas") !== undefined
            ? "--replicas"
            : `environment "${environment?.name}" (replicaCount)`,
        indexSizeRatio: "--index-ratio",
        shardSizeGiB: "--shard-size-gib",
        peakFactor: "--peak-factor",
      },
      documentExpansion: numberFlag(values, "expansion"),
      averageRecordBytes: numberFlag(values, "record-bytes"),
      replicas: numberFlag(values, "replicas") ?? environment?.search.replicaCount,
      indexSizeRatio: numberFlag(values, "index-ratio"),
      shardSizeGiB: numberFlag(values, "shard-size-gib"),
      peakFactor: numberFlag(values, "peak-factor"),
    },
    availabilityZones:
      numberFlag(values, "azs") ??
      (environment === undefined ? 2 : (environment.search.zoneAwareness?.availabilityZoneCount ?? 1)),
    network: network ?? environment?.network.type ?? "vpc",
  };
}

/** Runs the verb: output to `out`, errors to `err`; resolves to the exit status. */
export async function runSize(
  argv: readonly string[],
  out: (text: string) => void = (text) => void process.stdout.write(text),
  err: (text: string) => void = (text) => void process.stderr.write(text),
): Promise<number> {
  return runVerb(
    {
      name: "size",
      usage: USAGE,
      parse: optionValues(OPTIONS),
      run: async (values: Options) => {
        let sizing: ReturnType<typeof sizeAuditTrail>;
        try {
          sizing = sizeAuditTrail(sizingRequest(values));
        } catch (error: unknown) {
          if (error instanceof SizingInputError) throw new UsageError(error.describe((field) => FLAG[field]));
          throw error;
        }
        out(values.json ? sizingJson(sizing) : renderSizing(sizing));
        return 0;
      },
      userErrors: [AuditTrailConfigError],
    },
    argv,
    { out: { write: out }, err: { write: err } },
  );
}

/** The `size` verb. */
export const command: VerbModule = {
  run: (argv) => runSize(argv),
};
