import type { FrameworkId } from "../../lambdas/core/compliance/catalogue.js";
import { ENVIRONMENTS_FILE } from "../../lambdas/core/contracts.js";
import { AuditTrailConfigError } from "./errors.js";
import type { ParsedEnvironmentConfig } from "./schema.js";

/**
 * Compliance presets: what each framework requires of the retention and privacy settings. Each rule is data
 * (framework, rule text, config key, minimum) plus a function reading the value from the config, so the error for
 * a broken rule can always name all of them.
 */

/** Calendar years as days, counting leap days (1 year = 366, 6 years = 2192, as CloudWatch counts them). */
export function yearsInDays(years: number): number {
  return Math.ceil(years * 365.25);
}

export interface ComplianceRule {
  readonly framework: FrameworkId;
  /** The rule in words, with its source. */
  readonly rule: string;
  /** Dotted config key the rule constrains. */
  readonly configKey: string;
  /** Minimum (days) the key must reach; computed from the config for policy-driven frameworks. */
  readonly minimumDays: number;
  /** Reads the value the rule checks. */
  readonly actual: (config: ParsedEnvironmentConfig, archiveDays: number) => number;
  /** How to fix a breach, in addition to raising the value. */
  readonly fix: string;
}

const archive = (config: ParsedEnvironmentConfig, archiveDays: number): number =>
  config.retention.archiveDays ?? archiveDays;
const searchable = (config: ParsedEnvironmentConfig): number =>
  config.retention.hotDays + config.retention.warmDays;

/** The rules a framework imposes, given the config (ISO 27001 and GDPR read their periods from it). */
export function rulesFor(framework: FrameworkId, config: ParsedEnvironmentConfig): ComplianceRule[] {
  switch (framework) {
    case "pci-dss":
      return [
        {
          framework,
          rule: "audit log history retained for at least 1 year (PCI DSS 10.5.1)",
          configKey: "retention.archiveDays",
          minimumDays: yearsInDays(1),
          actual: archive,
          fix: `raise retention.archiveDays to at least ${yearsInDays(1)} in ${ENVIRONMENTS_FILE}, or remove it to use the preset minimum`,
        },
        {
          framework,
          rule: "at least the last 90 days immediately available for analysis (PCI DSS 10.5.1)",
          configKey: "retention.hotDays + retention.warmDays",
          minimumDays: 90,
          actual: searchable,
          fix: `raise retention.hotDays and/or retention.warmDays in ${ENVIRONMENTS_FILE} so that together they reach 90`,
        },
      ];
    case "hipaa":
      return [
        {
          framework,
          rule: "documentation retained for 6 years (45 CFR 164.316(b)(2)(i))",
          configKey: "retention.archiveDays",
          minimumDays: yearsInDays(6),
          actual: archive,
          fix: `raise retention.archiveDays to at least ${yearsInDays(6)} in ${ENVIRONMENTS_FILE}, or remove it to use the preset minimum`,
        },
      ];
    case "soc2":
      return [
        {
          framework,
          rule: "audit evidence retained for at least 1 year (SOC 2 CC7.2 observation period)",
          configKey: "retention.archiveDays",
          minimumDays: yearsInDays(1),
          actual: archive,
          fix: `raise retention.archiveDays to at least ${yearsInDays(1)} in ${ENVIRONMENTS_FILE}, or remove it to use the preset minimum`,
        },
      ];
    case "iso27001": {
      const policy = config.compliance.iso27001;
      if (policy === undefined) {
        throw new AuditTrailConfigError({
          framework,
          rule: "log retention follows the organisation's policy (ISO/IEC 27001 Annex A 8.15)",
          configKey: "compliance.iso27001.archiveRetentionDays",
          problem: "ISO 27001 has no fixed period, so the policy's period must be configured",
          fix: `add compliance: { iso27001: { archiveRetentionDays: <days from your logging policy> } } in ${ENVIRONMENTS_FILE}`,
        });
      }
      return [
        {
          framework,
          rule: "logs retained for the period the logging policy sets (ISO/IEC 27001 Annex A 8.15)",
          configKey: "retention.archiveDays",
          minimumDays: policy.archiveRetentionDays,
          actual: archive,
          fix: `raise retention.archiveDays to at least ${policy.archiveRetentionDays}, or lower compliance.iso27001.archiveRetentionDays if the policy allows, in ${ENVIRONMENTS_FILE}`,
        },
        {
          framework,
          rule: "logs searchable for the period the logging policy sets (ISO/IEC 27001 Annex A 8.15)",
          configKey: "retention.hotDays + retention.warmDays",
          minimumDays: policy.searchableDays,
          actual: searchable,
          fix: `raise retention.hotDays and/or retention.warmDays to reach ${policy.searchableDays} in ${ENVIRONMENTS_FILE}`,
        },
      ];
    }
    case "gdpr": {
      const gdpr = config.compliance.gdpr;
      if (gdpr === undefined) {
        throw new AuditTrailConfigError({
          framework,
          rule: "retention is set per processing purpose (GDPR Art. 5(1)(e))",
          configKey: "compliance.gdpr.purposes",
          problem:
            "GDPR retention is per purpose, so at least one purpose with its retention must be configured",
          fix: `add compliance: { gdpr: { purposes: [{ name: "security-monitoring", retentionDays: 365 }] } } in ${ENVIRONMENTS_FILE}`,
        });
      }
      const longest = Math.max(...gdpr.purposes.map((purpose) => purpose.retentionDays));
      return [
        {
          framework,
          rule: "the archive covers the longest declared processing purpose (GDPR Art. 5(1)(e))",
          configKey: "retention.archiveDays",
          minimumDays: longest,
          actual: archive,
          fix: `raise retention.archiveDays to at least ${longest}, or shorten compliance.gdpr.purposes, in ${ENVIRONMENTS_FILE}`,
        },
      ];
    }
  }
}

export interface ComplianceOutcome {
  /** Object Lock default retention in days: the configured value, or the longest any framework requires. */
  readonly archiveRetentionDays: number;
  /** Soft findings to report as synth warnings. */
  readonly warnings: string[];
}

/**
 * Checks every enabled framework's rules and returns the effective archive retention. Throws
 * `AuditTrailConfigError` naming framework, rule, key, value and minimum for the first broken rule.
 */
export function applyCompliance(config: ParsedEnvironmentConfig, environment: string): ComplianceOutcome {
  const frameworks = [...new Set(config.compliance.frameworks)];
  const rules = frameworks.flatMap((framework) => rulesFor(framework, config));
  const archiveMinimum = Math.max(
    0,
    ...rules.filter((rule) => rule.configKey === "retention.archiveDays").map((rule) => rule.minimumDays),
  );
  const configured = config.retention.archiveDays;
  if (configured === undefined && archiveMinimum === 0) {
    throw new AuditTrailConfigError({
      environment,
      configKey: "retention.archiveDays",
      problem: "no enabled compliance framework sets a minimum archive retention",
      fix: `set retention.archiveDays (days of Object Lock retention) in ${ENVIRONMENTS_FILE}, or enable a framework in compliance.frameworks`,
    });
  }
  const archiveRetentionDays = configured ?? archiveMinimum;

  for (const rule of rules) {
    const value = rule.actual(config, archiveRetentionDays);
    if (value < rule.minimumDays) {
      throw new AuditTrailConfigError({
        environment,
        framework: rule.framework,
        rule: rule.rule,
        configKey: rule.configKey,
        value,
        minimum: `${rule.minimumDays} days`,
        fix: rule.fix,
      });
    }
  }

  const warnings: string[] = [];
  if (frameworks.includes("gdpr")) {
    const pseudonymization = config.pseudonymization;
    if (pseudonymization === undefined || pseudonymization.fields.length === 0) {
      throw new AuditTrailConfigError({
        environment,
        framework: "gdpr",
        rule: "personal data fields are pseudonymized (GDPR Art. 25 and 32(1)(a))",
        configKey: "pseudonymization.fields",
        value: pseudonymization?.fields,
        minimum: "1 field",
        fix: `add pseudonymization: { fields: ["user.name", "source.ip"], key: { source: "ssm-parameter", parameterName: "/audit-trail/<env>/pseudonymization-key" } } in ${ENVIRONMENTS_FILE}`,
      });
    }
    if (config.transform.keepEventOriginal) {
      throw new AuditTrailConfigError({
        environment,
        framework: "gdpr",
        rule: "pseudonymized fields are not also kept in clear text (GDPR Art. 4(5))",
        configKey: "transform.keepEventOriginal",
        value: true,
        minimum: "false (the raw line in event.original still holds the personal data)",
        fix: `set transform: { keepEventOriginal: false } in ${ENVIRONMENTS_FILE}`,
      });
    }
    const longestPurpose = Math.max(...(config.compliance.gdpr?.purposes ?? []).map((p) => p.retentionDays));
    if (archiveRetentionDays > longestPurpose) {
      warnings.push(
        `GDPR storage limitation: the archive keeps data ${archiveRetentionDays} days, longer than the longest declared purpose (${longestPurpose} days); declare the purpose that needs it in compliance.gdpr.purposes`,
      );
    }
  }
  return { archiveRetentionDays, warnings };
}
