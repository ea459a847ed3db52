/**
 * The one error class for a configuration that cannot be deployed. Its message always says which config key is
 * wrong, the value it has, what is required, and how to fix it; for a compliance rule it also names the framework
 * and the rule.
 */
export interface ConfigErrorDetails {
  /** Environment whose config is wrong (the `-c env=NAME` value). */
  readonly environment?: string;
  /** Compliance framework whose rule is broken, when the error comes from a preset. */
  readonly framework?: string;
  /** The broken rule, in words (`archive retention ≥ 1 year`). */
  readonly rule?: string;
  /** Dotted path of the config key (`retention.archiveDays`). */
  readonly configKey: string;
  /** The value the config has (omitted when the key is missing). */
  readonly value?: unknown;
  /** The minimum (or required value) the rule asks for, with its unit. */
  readonly minimum?: string;
  /** What the reader should change. */
  readonly fix: string;
  /** A sentence saying what is wrong, when "value vs minimum" does not say it. */
  readonly problem?: string;
}

function render(details: ConfigErrorDetails): string {
  const where = details.environment === undefined ? "" : ` (environment "${details.environment}")`;
  const head =
    details.framework === undefined
      ? `Invalid audit-trail config${where}`
      : `Compliance framework ${details.framework}${where} rule "${details.rule ?? "unspecified"}" is not met`;
  const value =
    details.value !== undefined
      ? ` is ${JSON.stringify(details.value)}`
      : details.problem === undefined
        ? " is not set"
        : "";
  const parts = [`${head}: ${details.configKey}${value}`];
  if (details.minimum !== undefined) parts.push(`the minimum is ${details.minimum}`);
  if (details.problem !== undefined) parts.push(details.problem);
  const fix = /[.!]$/.test(details.fix) ? details.fix : `${details.fix}.`;
  return `${parts.join("; ")}. Fix: ${fix}`;
}

export class AuditTrailConfigError extends Error {
  public readonly details: ConfigErrorDetails;

  constructor(details: ConfigErrorDetails) {
    super(render(details));
    this.name = "AuditTrailConfigError";
    this.details = details;
  }
}
