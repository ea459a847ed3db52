import type { z } from "zod";
import { ENVIRONMENTS_FILE } from "../../lambdas/core/contracts.js";
import { INDEXED_AT_MINIMUM_VERSION } from "../../lambdas/core/opensearch/audit-template.js";
import { applyCompliance } from "./compliance.js";
import { DEFAULTS } from "./defaults.js";
import { AuditTrailConfigError } from "./errors.js";
import { withApprovedNetworks, withCertificateRotation } from "./rule-overrides.js";
import {
  type EnvironmentConfig,
  type EnvironmentConfigInput,
  environmentConfigSchema,
  type ParsedEnvironmentConfig,
} from "./schema.js";

function keyOf(path: readonly PropertyKey[]): string {
  return path
    .map((part) => (typeof part === "number" ? `[${part}]` : String(part)))
    .join(".")
    .replace(/\.\[/g, "[");
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const part of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

function schemaError(environment: string, input: unknown, issue: z.core.$ZodIssue): AuditTrailConfigError {
  if (issue.code === "unrecognized_keys") {
    const parent = keyOf(issue.path);
    const keys = issue.keys.map((key) => (parent === "" ? key : `${parent}.${key}`));
    return new AuditTrailConfigError({
      environment,
      configKey: keys.join(", "),
      problem: "unknown config key (a typo?)",
      fix: `remove or rename it in ${ENVIRONMENTS_FILE}; the README lists every key`,
    });
  }
  const configKey = keyOf(issue.path) || "(root)";
  return new AuditTrailConfigError({
    environment,
    configKey,
    value: valueAt(input, issue.path),
    problem: issue.message,
    fix: `correct ${configKey} in ${ENVIRONMENTS_FILE}`,
  });
}

/** Whether `MAJOR.MINOR` is older than `major.minor`. */
function olderThan(version: string, major: number, minor: number): boolean {
  const [actualMajor = 0, actualMinor = 0] = version.split(".").map(Number);
  return actualMajor < major || (actualMajor === major && actualMinor < minor);
}

/** Rules that are not about compliance but about what AWS (or this stack) can build. */
function checkFeasibility(environment: string, config: ParsedEnvironmentConfig): void {
  const fail = (configKey: string, value: unknown, problem: string, fix: string): never => {
    throw new AuditTrailConfigError({
      environment,
      configKey,
      value,
      problem,
      fix: `${fix} in ${ENVIRONMENTS_FILE}`,
    });
  };
  const { search, retention, network } = config;
  if (search.indexCodec.startsWith("zstd") && olderThan(search.engineVersion, 2, 9)) {
    fail(
      "search.indexCodec",
      search.indexCodec,
      `needs OpenSearch 2.9 or later, and search.engineVersion is "${search.engineVersion}"`,
      'use "best_compression", or raise search.engineVersion to "2.9" or later',
    );
  }
  const { major, minor } = INDEXED_AT_MINIMUM_VERSION;
  if (olderThan(search.engineVersion, major, minor)) {
    fail(
      "search.engineVersion",
      search.engineVersion,
      `the audit indices' ingest pipeline stamps when each document was indexed with the copy processor, which needs OpenSearch ${major}.${minor} or later (the detector reads what arrived since its last run by that stamp)`,
      `raise search.engineVersion to "${major}.${minor}" or later ("${DEFAULTS.engineVersion}" is the version the tests run)`,
    );
  }
  if (search.coldStorage && search.ultraWarm === undefined) {
    fail(
      "search.coldStorage",
      true,
      "OpenSearch cold storage requires UltraWarm nodes",
      "add search.ultraWarm or set search.coldStorage to false",
    );
  }
  if (search.ultraWarm !== undefined && search.dedicatedMaster === undefined) {
    fail(
      "search.ultraWarm",
      search.ultraWarm,
      "OpenSearch UltraWarm requires dedicated master nodes",
      "add search.dedicatedMaster or remove search.ultraWarm",
    );
  }
  if (retention.coldDays > 0 && !search.coldStorage) {
    fail(
      "retention.coldDays",
      retention.coldDays,
      "indices can only spend time in a cold tier when cold storage is enabled",
      "set retention.coldDays to 0 or enable search.coldStorage",
    );
  }
  const zones = search.zoneAwareness?.availabilityZoneCount;
  if (zones !== undefined && search.instanceCount % zones !== 0) {
    fail(
      "search.instanceCount",
      search.instanceCount,
      `with zone awareness over ${zones} AZs the data node count must be a multiple of ${zones}`,
      `set search.instanceCount to a multiple of ${zones}`,
    );
  }
  if (network.type === "vpc" && network.existingVpc === undefined) {
    const pinned = config.account !== undefined && config.region !== undefined;
    const azs = network.availabilityZones;
    if (azs !== undefined && config.region === undefined) {
      fail(
        "network.availabilityZones",
        azs,
        "availability zone names belong to a region, and this environment has none",
        "set region (and account) for this environment, or remove network.availabilityZones",
      );
    }
    const foreign = azs?.find((zone) => config.region !== undefined && !zone.startsWith(config.region));
    if (foreign !== undefined) {
      fail(
        "network.availabilityZones",
        azs,
        `${foreign} is not in region ${config.region}`,
        `list availability zones of ${config.region}`,
      );
    }
    if (pinned && azs === undefined) {
      fail(
        "network.availabilityZones",
        undefined,
        "with account and region set, the new VPC's availability zones must be listed so synth needs no AWS lookup",
        `add network.availabilityZones, e.g. ["${config.region}a", "${config.region}b"]`,
      );
    }
    // An environment-agnostic stack only knows two AZs (Fn::GetAZs, indices 0 and 1).
    const available = azs?.length ?? Math.min(network.maxAzs, 2);
    if (zones !== undefined && available < zones) {
      fail(
        azs === undefined ? "search.zoneAwareness.availabilityZoneCount" : "network.availabilityZones",
        azs === undefined ? zones : azs,
        azs === undefined
          ? `an environment-agnostic stack can spread a new VPC over 2 AZs only, not ${zones}`
          : `zone awareness over ${zones} AZs needs ${zones} availability zones`,
        azs === undefined
          ? "set account, region and network.availabilityZones, or use 2 AZs"
          : `list ${zones} availability zones, or lower search.zoneAwareness.availabilityZoneCount`,
      );
    }
  }
  if (zones !== undefined && network.type === "vpc" && network.existingVpc !== undefined) {
    const available = network.existingVpc.privateSubnetIds.length;
    if (available < zones) {
      fail(
        "network.existingVpc.privateSubnetIds",
        available,
        `zone awareness over ${zones} AZs needs a private subnet in ${zones} AZs`,
        `list at least ${zones} private subnets or lower search.zoneAwareness.availabilityZoneCount`,
      );
    }
  }
  if (search.replicaCount !== undefined && zones !== undefined && search.replicaCount < 1) {
    fail(
      "search.replicaCount",
      search.replicaCount,
      "zone awareness only protects data that has a replica in another AZ",
      "set search.replicaCount to at least 1",
    );
  }
  const ordered = retention.archiveTransitions;
  if (ordered.glacierAfterDays <= ordered.infrequentAccessAfterDays) {
    fail(
      "retention.archiveTransitions.glacierAfterDays",
      ordered.glacierAfterDays,
      `must come after infrequentAccessAfterDays (${ordered.infrequentAccessAfterDays})`,
      "raise glacierAfterDays",
    );
  }
  if (ordered.deepArchiveAfterDays < ordered.glacierAfterDays + 90) {
    fail(
      "retention.archiveTransitions.deepArchiveAfterDays",
      ordered.deepArchiveAfterDays,
      `must be at least 90 days after glacierAfterDays (${ordered.glacierAfterDays}), Glacier's minimum storage duration`,
      "raise deepArchiveAfterDays",
    );
  }
  const names = [...config.eksClusters, ...config.producerClusters].map((cluster) => cluster.name);
  const repeatAt = names.findIndex((name, index) => names.indexOf(name) !== index);
  if (repeatAt >= 0) {
    fail(
      repeatAt < config.eksClusters.length ? "eksClusters[].name" : "producerClusters[].name",
      names[repeatAt],
      "each cluster may appear once, across eksClusters and producerClusters",
      "remove the duplicate cluster entry (eksClusters when the stack subscribes its CloudWatch audit log, else producerClusters)",
    );
  }
}

/**
 * Validates one environment's raw entry and returns the typed config with every default and compliance preset
 * applied. Throws `AuditTrailConfigError` with the config key, value, the rule and the fix.
 */
export function parseEnvironmentConfig(
  name: string,
  input: EnvironmentConfigInput | unknown,
): EnvironmentConfig {
  const result = environmentConfigSchema.safeParse(input);
  if (!result.success) {
    const first = result.error.issues[0];
    if (first === undefined)
      throw new AuditTrailConfigError({ environment: name, configKey: "(root)", fix: "check the entry" });
    throw schemaError(name, input, first);
  }
  const config = result.data;
  checkFeasibility(name, config);
  const compliance = applyCompliance(config, name);
  return {
    ...config,
    detection: {
      ...config.detection,
      // Only JSON goes in (strings and lists of strings), so the result is JSON too.
      ruleOverrides: withCertificateRotation(
        name,
        withApprovedNetworks(name, config.detection.ruleOverrides, config.detection.k8sApprovedNetworks),
        config.detection.certificateRotationHours,
      ) as typeof config.detection.ruleOverrides,
    },
    retention: { ...config.retention, archiveDays: compliance.archiveRetentionDays },
    search: {
      ...config.search,
      replicaCount: config.search.replicaCount ?? (config.search.zoneAwareness === undefined ? 0 : 1),
    },
    name,
    deleteAfterDays: config.retention.hotDays + config.retention.warmDays + config.retention.coldDays,
    warnings: compliance.warnings,
  };
}

/**
 * Picks the environment named by `-c env=NAME` from the shipped entries. A missing or unknown name fails with the
 * list of valid names.
 */
export function loadEnvironmentConfig(
  name: string | undefined,
  environments: Readonly<Record<string, EnvironmentConfigInput>>,
): EnvironmentConfig {
  const valid = Object.keys(environments).sort();
  if (name === undefined || name === "") {
    throw new AuditTrailConfigError({
      configKey: "env (CDK context)",
      problem: `no environment selected; valid environments: ${valid.join(", ")}`,
      fix: `pass one with -c env=NAME, e.g. npx cdk synth -c env=${valid[0] ?? "dev"}`,
    });
  }
  const entry = Object.hasOwn(environments, name) ? environments[name] : undefined;
  if (entry === undefined) {
    throw new AuditTrailConfigError({
      configKey: "env (CDK context)",
      value: name,
      problem: `unknown environment; valid environments: ${valid.join(", ")}`,
      fix: `pass one of them with -c env=NAME, or add an entry named "${name}" to ${ENVIRONMENTS_FILE}`,
    });
  }
  return parseEnvironmentConfig(name, entry);
}
