/**
 * The rule engine's error: says which file, which rule and which key are wrong, and why.
 */
export class RuleError extends Error {
  override readonly name = "RuleError";
  constructor(
    /** What is wrong and, where it helps, the fix. */
    readonly reason: string,
    readonly location: { readonly file?: string; readonly rule?: string; readonly key?: string } = {},
  ) {
    super(formatRuleError(reason, location));
  }
}

function formatRuleError(reason: string, location: { file?: string; rule?: string; key?: string }): string {
  const where = [
    location.file === undefined ? undefined : location.file,
    location.rule === undefined ? undefined : `rule '${location.rule}'`,
    location.key === undefined ? undefined : `key '${location.key}'`,
  ].filter((part): part is string => part !== undefined);
  return where.length === 0 ? reason : `${where.join(", ")}: ${reason}`;
}
