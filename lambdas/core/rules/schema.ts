/**
 * The YAML shapes of rules, placeholders and overrides, validated with zod. Sigma metadata we do not use
 * (`author`, `date`, `references`, …) is accepted and ignored; our extension keys are strict.
 */
import * as z from "zod";
import { RuleError } from "./errors.js";
import { CORRELATION_TYPES, RULE_LEVELS } from "./types.js";

const stringList = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : [value]));
const duration = z.union([z.string(), z.literal(0)]).transform((value) => String(value));

/** The bounds of a correlation condition (`gte: 20`), every one optional. */
const conditionBounds = {
  gt: z.number().optional(),
  gte: z.number().optional(),
  lt: z.number().optional(),
  lte: z.number().optional(),
  eq: z.number().optional(),
  neq: z.number().optional(),
};

export const conditionSchema = z
  .object(conditionBounds)
  .strict()
  .refine((condition) => Object.values(condition).some((value) => value !== undefined), {
    message: "a condition needs at least one of gt, gte, lt, lte, eq, neq",
  });

const common = {
  title: z.string().min(1),
  id: z.string().min(1),
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, "names are letters, digits, '_', '.' and '-'")
    .optional(),
  description: z.string().optional(),
  status: z.string().optional(),
  level: z.enum(RULE_LEVELS as [string, ...string[]]).default("medium"),
  tags: z.array(z.string()).default([]),
  fields: z.array(z.string()).default([]),
  falsepositives: stringList.default([]),
  /** Extension: repository-relative runbook path. */
  runbook: z.string().optional(),
  /** Extension: where alerts are published: the topic of their level (default) or the operators' `ops` topic. */
  topic: z.enum(["severity", "ops"]).default("severity"),
};

export const detectionRuleSchema = z
  .object({
    ...common,
    logsource: z
      .object({
        product: z.string().optional(),
        service: z.string().optional(),
        category: z.string().optional(),
      })
      .loose(),
    detection: z.record(z.string(), z.unknown()).refine((detection) => "condition" in detection, {
      message: "detection needs a 'condition'",
    }),
    /** Extension: fold repeated matches of the same group into one alert. */
    suppression: z
      .object({
        timespan: duration,
        "group-by": z.array(z.string()).default([]),
        /** Extension: fold only matches of the same epoch-aligned span (24h: the same UTC day). */
        aligned: z.boolean().default(false),
      })
      .strict()
      .optional(),
  })
  .loose();

export const correlationRuleSchema = z
  .object({
    ...common,
    correlation: z
      .object({
        type: z.enum(CORRELATION_TYPES as [string, ...string[]]),
        rules: stringList,
        "group-by": stringList.default([]),
        timespan: z.string(),
        condition: z
          .object({ field: z.string().optional(), ...conditionBounds })
          .strict()
          .optional(),
        generate: z.boolean().default(false),
        /** Extension (`percentile`): the numeric field. Sigma's `value_count` puts its field in `condition`. */
        field: z.string().optional(),
        /** Extension (`failure_ratio`): the rule whose matches are failures. */
        failures: z.string().optional(),
        /** Extension (`percentile`): which percentile, (0, 100]. */
        percentile: z.number().gt(0).lte(100).optional(),
        /** Extension: minimum events in the window and group before the condition is evaluated. */
        "min-count": z.number().int().nonnegative().optional(),
        /** Extension (`new_value`): the fields whose combination must be new for the group. */
        fields: stringList.optional(),
        /** Extension (`new_value`, `geo`): how long a value stays known; the quiet start of the trail. */
        learning: z.string().optional(),
        /** Extension (`new_value`): only groups known at least this long may fire. */
        "known-for": z.string().optional(),
        /** Extension (`new_value`): rules whose events in `[first, first + timespan)` are held to `condition`. */
        "follow-up": stringList.optional(),
        /** Extension (`geo`): what is judged. */
        check: z.enum(["new_country", "impossible_travel"]).optional(),
        /** Extension (`geo` impossible_travel): the fastest plausible travel in km/h (default 1000). */
        "max-speed-kmh": z.number().positive().optional(),
        /** Extension (`mtls_mode`): the rules that declare the mode and those that prove plaintext. */
        mode: z
          .object({
            namespace: stringList,
            mesh: stringList,
            plaintext: stringList.default([]),
          })
          .strict()
          .optional(),
      })
      .strict(),
    /** Extension: suppression window (default: the timespan). */
    suppression: z.object({ timespan: duration }).strict().optional(),
  })
  .loose();

export const silenceRuleSchema = z
  .object({
    ...common,
    /** Extension: a source that stops sending. */
    silence: z
      .object({
        "group-by": z.array(z.string()).min(1, "name at least one field that identifies a source"),
        timespan: z.string(),
        lookback: z.string().default("24h"),
        expected: z.array(z.record(z.string(), z.string())).default([]),
        "exclude-rules": z.array(z.string()).default([]),
      })
      .strict(),
    /** Extension: suppression window (default: the timespan). */
    suppression: z.object({ timespan: duration }).strict().optional(),
  })
  .loose();

export type DetectionRuleYaml = z.infer<typeof detectionRuleSchema>;
export type SilenceRuleYaml = z.infer<typeof silenceRuleSchema>;
export type CorrelationRuleYaml = z.infer<typeof correlationRuleSchema>;

const placeholderValue = z.union([z.array(z.string()), z.record(z.string(), z.array(z.string()))]);
export const placeholdersSchema = z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), placeholderValue);

export const ruleOverridesSchema = z
  .object({
    placeholders: placeholdersSchema.optional(),
    rules: z
      .record(
        z.string(),
        z
          .object({
            enabled: z.boolean().optional(),
            level: z.enum(RULE_LEVELS as [string, ...string[]]).optional(),
            timespan: z.string().optional(),
            condition: conditionSchema.optional(),
            minCount: z.number().int().nonnegative().optional(),
            suppression: duration.optional(),
            /** Silence rules: sources expected in this environment even when never seen. */
            expected: z.array(z.record(z.string(), z.string())).optional(),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();

/** Turns the first zod issue into a `RuleError` naming the file, rule and key. */
export function zodToRuleError(
  error: z.ZodError,
  location: { file?: string; rule?: string; prefix?: string },
): RuleError {
  const issue = error.issues[0];
  const path = issue === undefined ? "" : issue.path.map(String).join(".");
  const key = [location.prefix, path].filter((part) => part !== undefined && part !== "").join(".");
  const loc: { file?: string; rule?: string; key?: string } = {};
  if (location.file !== undefined) loc.file = location.file;
  if (location.rule !== undefined) loc.rule = location.rule;
  if (key !== "") loc.key = key;
  return new RuleError(issue?.message ?? "invalid", loc);
}
