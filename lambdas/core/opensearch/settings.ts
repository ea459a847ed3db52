/**
 * The bootstrap custom resource's properties, validated and coerced. CloudFormation delivers every
 * `ResourceProperties` value as a string, so numbers and booleans are parsed here (never with `Boolean("false")`).
 */
import * as z from "zod";
import type { BootstrapProperties } from "../contracts.js";
import { INDEX_CODECS, SOURCE_EXCLUDABLE_FIELDS } from "./audit-template.js";

/** A boolean as CloudFormation sends it (`"true"`/`"false"`), or a real boolean. */
const flag = z
  .union([z.boolean(), z.string()], { error: 'must be "true" or "false"' })
  .transform((value, context) => {
    if (typeof value === "boolean") return value;
    if (value === "true" || value === "false") return value === "true";
    context.addIssue({ code: "custom", message: `must be "true" or "false", got "${value}"` });
    return z.NEVER;
  });

/** A non-negative integer as CloudFormation sends it (`"30"`), or a real number. */
function integer(min: number) {
  return z
    .union([z.number(), z.string()], { error: "must be a whole number" })
    .transform((value, context) => {
      if (typeof value === "number") return value;
      if (/^\d+$/.test(value)) return Number(value);
      context.addIssue({ code: "custom", message: `must be a whole number, got "${value}"` });
      return z.NEVER;
    })
    .pipe(z.number().int("must be a whole number").min(min, `must be at least ${min}`));
}

const roleArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, "must be an IAM role ARN");

export const bootstrapPropertiesSchema = z
  .object({
    DomainEndpoint: z
      .string()
      .min(1)
      .regex(/^[^/:\s]+$/, "must be a host name without scheme, port or path"),
    DomainName: z.string().min(1),
    HotDays: integer(1),
    WarmDays: integer(0),
    ColdDays: integer(0),
    DeleteAfterDays: integer(1),
    UltraWarmEnabled: flag,
    ColdStorageEnabled: flag,
    IndexEventOriginal: flag,
    IndexCodec: z.enum(INDEX_CODECS, { error: `must be one of ${INDEX_CODECS.join(", ")}` }).optional(),
    SourceExcludes: z
      .array(
        z.enum(SOURCE_EXCLUDABLE_FIELDS, { error: `must be one of ${SOURCE_EXCLUDABLE_FIELDS.join(", ")}` }),
      )
      .optional(),
    FirehoseRoleArn: roleArn,
    DetectorRoleArn: roleArn,
    AnalystRoleArn: z.union([z.literal(""), roleArn]),
    ReviewerRoleArn: z.union([z.literal(""), roleArn]).optional(),
    ReplicaCount: integer(0),
    ShardCount: integer(1),
    AuditReadHistory: flag.optional(),
  })
  .superRefine((value, context) => {
    if (value.ColdStorageEnabled && !value.UltraWarmEnabled) {
      context.addIssue({
        code: "custom",
        path: ["ColdStorageEnabled"],
        message: "cold storage needs UltraWarm: set UltraWarmEnabled to true or ColdStorageEnabled to false",
      });
    }
    if (value.ColdDays > 0 && !value.ColdStorageEnabled) {
      context.addIssue({
        code: "custom",
        path: ["ColdDays"],
        message: `ColdDays is ${value.ColdDays} but ColdStorageEnabled is false: enable cold storage or set ColdDays to 0`,
      });
    }
    const lastTransition = value.HotDays + value.WarmDays + value.ColdDays;
    if (value.DeleteAfterDays < lastTransition) {
      context.addIssue({
        code: "custom",
        path: ["DeleteAfterDays"],
        message: `DeleteAfterDays is ${value.DeleteAfterDays}, below HotDays + WarmDays + ColdDays = ${lastTransition}: an index would be deleted before it reached its last tier`,
      });
    }
  });

/** Validated bootstrap properties. */
export type BootstrapSettings = BootstrapProperties;

export class BootstrapPropertiesError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`invalid bootstrap custom resource properties: ${issues.join("; ")}`);
    this.name = "BootstrapPropertiesError";
  }
}

/** Parses `ResourceProperties` (strings from CloudFormation); throws naming every bad property. */
export function parseBootstrapProperties(input: unknown): BootstrapSettings {
  const result = bootstrapPropertiesSchema.safeParse(input);
  if (!result.success) {
    throw new BootstrapPropertiesError(
      result.error.issues.map((issue) => `${issue.path.join(".") || "(properties)"}: ${issue.message}`),
    );
  }
  return result.data;
}
