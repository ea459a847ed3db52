/**
 * The per-rule state document of the stateful kinds (behavioural baselines in `behaviour.ts`, effective mTLS modes
 * in `mode.ts`, source sightings in `silence-search.ts`): one document per rule in the alerts index, `baseline.<rule>`, holding the state as JSON text under
 * `baseline.state`. Written with `op_type=create` the first time and with optimistic concurrency afterwards, so two
 * runs that raced cannot both advance it.
 */
import type { BehaviourRule, CompiledRule, Detection } from "../rules/types.js";
import type { BehaviourProgress } from "./behaviour.js";
import type { SearchClient, StoredDocument } from "./ports.js";
import { type RequestCounter, SearchResponseError } from "./responses.js";

/** The state document's `_id` in the alerts index. */
export function baselineId(rule: Pick<CompiledRule, "name">): string {
  return `baseline.${rule.name}`;
}

/** The rule's stored state document; `undefined` before its first run. */
export function readRuleState(
  client: SearchClient,
  alertsIndex: string,
  rule: Pick<CompiledRule, "name">,
): Promise<StoredDocument | undefined> {
  return client.get({ index: alertsIndex, id: baselineId(rule) });
}

/** The state's JSON text in a stored document; an error naming `what` and the rule when there is none. */
export function ruleStateText(
  source: Record<string, unknown>,
  what: string,
  rule: Pick<CompiledRule, "name">,
): string {
  const text = (source.baseline as { state?: unknown } | undefined)?.state;
  if (typeof text !== "string")
    throw new SearchResponseError(`${what} of ${rule.name}: no state in the document`);
  return text;
}

/**
 * Writes the advanced state over the one read (`stored`), or creates it when there was none. Resolves false when
 * another run wrote it in between.
 */
export async function writeRuleState(
  client: SearchClient,
  alertsIndex: string,
  rule: Pick<CompiledRule, "name">,
  stored: StoredDocument | undefined,
  state: unknown,
): Promise<boolean> {
  const id = baselineId(rule);
  const document = { baseline: { rule: rule.name, state: JSON.stringify(state) } };
  const result =
    stored === undefined
      ? await client.write({ index: alertsIndex, id, document, create: true })
      : await client.write({
          index: alertsIndex,
          id,
          document,
          ifSeqNo: stored.seqNo,
          ifPrimaryTerm: stored.primaryTerm,
        });
  return result.outcome === "written";
}

/**
 * A stateful rule's run as the detector takes it: its detections, the range it folded without judging, the searches
 * it sent (read when asked, so the commit's are not counted), and `commit`, which writes `state` over `stored`.
 */
export function ruleProgress(
  client: SearchClient,
  alertsIndex: string,
  rule: BehaviourRule,
  run: {
    readonly detections: Detection[];
    readonly skipped: { readonly fromMs: number; readonly toMs: number } | undefined;
    readonly counter: RequestCounter;
  },
  stored: StoredDocument | undefined,
  state: unknown,
): BehaviourProgress {
  return {
    detections: run.detections,
    skipped: run.skipped,
    get requests() {
      return run.counter.requests;
    },
    commit() {
      return writeRuleState(client, alertsIndex, rule, stored, state);
    },
  };
}
