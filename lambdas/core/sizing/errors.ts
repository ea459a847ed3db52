/**
 * The one error of the sizing model: an input it cannot size. The message names the input, its value, what is
 * wrong and the fix. Inputs are named by field; a caller that exposes them under other names (the command line's
 * flags) renders the same error with its own names through `describe`.
 */

/** The inputs of a sizing, by the name the model gives them. */
export type SizingField =
  | "gbPerDay"
  | "region"
  | "frameworks"
  | "hotDays"
  | "warmDays"
  | "coldDays"
  | "archiveDays"
  | "replicas"
  | "availabilityZones"
  | "documentExpansion"
  | "averageRecordBytes"
  | "indexSizeRatio"
  | "shardSizeGiB"
  | "peakFactor"
  | "indexCodec";

/** The parts of a `SizingInputError`. */
export interface SizingInputErrorDetails {
  /** The input that is wrong. */
  readonly field: SizingField;
  /** Its value; omitted when it is missing. */
  readonly value?: unknown;
  /** What is wrong, in a sentence. May name other inputs as `{fieldName}`. */
  readonly problem: string;
  /** What to change. May name inputs as `{fieldName}`. */
  readonly fix: string;
}

function render(details: SizingInputErrorDetails, name: (field: SizingField) => string): string {
  const named = (text: string) => text.replace(/\{(\w+)\}/g, (_, field: SizingField) => name(field));
  const value = details.value === undefined ? "" : ` ${JSON.stringify(details.value)}`;
  const fix = named(details.fix);
  return `${name(details.field)}${value}: ${named(details.problem)}. Fix: ${/[.!]$/.test(fix) ? fix : `${fix}.`}`;
}

/** An input the sizing model cannot size; `details` holds its parts, `describe` renders it with other names. */
export class SizingInputError extends Error {
  public readonly details: SizingInputErrorDetails;

  constructor(details: SizingInputErrorDetails) {
    super(render(details, (field) => field));
    this.name = "SizingInputError";
    this.details = details;
  }

  /** The message with every input written as `name(field)`, e.g. a command-line flag. */
  public describe(name: (field: SizingField) => string): string {
    return render(this.details, name);
  }
}
