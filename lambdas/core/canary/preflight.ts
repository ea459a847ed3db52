/**
 * Before sending anything: would the environment's transform and detector turn these records into the canary
 * alert, and into nothing else? Each record is normalized and pseudonymized as the environment's transform does it
 * (same code; the key is a local stand-in, only which fields get replaced matters) and evaluated with the
 * environment's rule pack (its overrides applied). A canary that cannot succeed, or that would page on-call, is
 * refused with the reason.
 */
import { createPseudonymizer, normalizeRecord } from "../normalize/index.js";
import { singleDetection } from "../rules/evaluator.js";
import type { RulePack } from "../rules/types.js";
import { CANARY_RULE_NAME, type CanaryIdentity, type CanaryRecord } from "./records.js";

export interface PreflightOptions {
  /** The environment's `pseudonymization.fields` (none when it does not pseudonymize). */
  readonly pseudonymizedFields?: readonly string[];
}

/** Stands in for the environment's HMAC key: only which fields are replaced matters here, not the tokens. */
const LOCAL_STAND_IN_KEY = "audit-trail canary preflight: not a secret";

/** Why the canary cannot run in this environment; empty when it can. */
export function preflightCanary(
  pack: RulePack,
  identity: CanaryIdentity,
  records: readonly CanaryRecord[],
  options: PreflightOptions = {},
): string[] {
  const rule = pack.get(CANARY_RULE_NAME);
  if (rule === undefined) {
    return [
      `rule ${CANARY_RULE_NAME} is not in the environment's rule pack (disabled in detection.ruleOverrides, or ` +
        "missing from rules/): the canary alert could never be raised",
    ];
  }
  const problems: string[] = [];
  if (rule.level === "informational") {
    problems.push(
      `rule ${CANARY_RULE_NAME} has level informational in this environment: its alerts are indexed but never ` +
        "published, so the canary could not see one reach its topic; remove the level override",
    );
  }
  if (rule.topic !== "ops") {
    problems.push(
      `rule ${CANARY_RULE_NAME} publishes to the topic of its level, not ops: the canary would page on-call; ` +
        "set topic: ops in its rule file",
    );
  }
  const fields = options.pseudonymizedFields ?? [];
  const pseudonymizer = fields.length === 0 ? undefined : createPseudonymizer(LOCAL_STAND_IN_KEY, fields);
  const alerting = new Set(pack.rules.filter((candidate) => candidate.generatesAlerts).map((r) => r.name));
  for (const record of records) {
    const normalized = normalizeRecord(record.data, pseudonymizer === undefined ? {} : { pseudonymizer });
    const document = normalized.ok ? normalized.documents[0] : undefined;
    if (document === undefined) {
      problems.push(
        `${record.source}: the transform would fail the record: ${normalized.ok ? "no document" : normalized.reason}`,
      );
      continue;
    }
    const matched = pack.matchSingleEvent(document);
    if (!matched.includes(CANARY_RULE_NAME)) {
      problems.push(
        `${record.source}: its document would not match ${CANARY_RULE_NAME}` +
          (fields.length === 0 ? "" : ` once pseudonymized (pseudonymization.fields: ${fields.join(", ")})`),
      );
    }
    const group = rule.kind === "single" ? Object.values(singleDetection(rule, document).groupBy) : [];
    if (!group.includes(identity.userAgent) && !group.includes(identity.clientPod)) {
      problems.push(
        `${record.source}: its alert would not be grouped by the run's client (${identity.userAgent} or ` +
          `${identity.clientPod}), by which the canary tells its alerts from other runs'; check ` +
          `${CANARY_RULE_NAME}'s suppression.group-by` +
          (fields.length === 0 ? "" : ` and pseudonymization.fields (${fields.join(", ")})`),
      );
    }
    const others = matched.filter((name) => name !== CANARY_RULE_NAME && alerting.has(name));
    if (others.length > 0) {
      problems.push(
        `${record.source}: its document would also fire ${others.join(", ")}, which pages on-call; the canary ` +
          "refuses to run (check the environment's placeholders, e.g. trust_domains)",
      );
    }
  }
  return problems;
}
