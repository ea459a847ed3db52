/**
 * `mtls_mode` rules (`mesh_namespace_not_strict`): mesh traffic judged against the effective mTLS mode of its
 * destination namespace, as the PeerAuthentication audit events left it. The team's single definition, shared by
 * replay (`ModeTracker`, fed event by event) and the detector (`detection/mode.ts`, fed by OpenSearch, the state kept
 * between runs in the alerts index). docs/rules.md "Effective mTLS mode" states the semantics; in short:
 *
 * - the **state** is every PeerAuthentication the trail saw change, per cluster (`applyPolicyChange`: what a create,
 *   update, patch or delete leaves), each marked mesh-wide when its event matched one of the rule's `mode.mesh`
 *   rules (the root namespace);
 * - the **effective mode** of a namespace is its own PeerAuthentication without a selector (the latest changed;
 *   one whose selector the audit level did not record counts as namespace-wide), unless it is UNSET; else the
 *   mesh-wide one (UNSET: Istio's default, PERMISSIVE); else, when the trail saw the mesh-wide one deleted, Istio's
 *   default PERMISSIVE; else `undeclared` (the trail holds no declaration: nothing to judge);
 * - a request of the rule's `rules` into a namespace (the group-by: cluster, destination namespace) **counts** when
 *   the effective mode at its time is PERMISSIVE or DISABLE, or when it matched a `mode.plaintext` rule (plaintext
 *   with positive evidence, whatever the declared mode). `unknown` (an audit level that did not record the mode) and
 *   `undeclared` never count on their own: a high alert needs positive evidence;
 * - a change at `t` applies to requests at `t` and after; events are judged in `(@timestamp, event.id)` order once
 *   no earlier event can still arrive (replay: the allowed lateness; the detector: its look-back);
 * - **one detection per group and UTC day**: its window runs from the day's first request that counts (which makes
 *   the alert's id) to its latest, with the count of that day's requests that count and the earliest
 *   `DETECTION_EVENT_CAP` of them; the rule's suppression is aligned to the UTC day, so days never fold together.
 */
import type { EcsDocument } from "../ecs.js";
import {
  applyPolicyChange,
  isPolicyChange,
  type MtlsMode,
  type PolicyState,
  policyKeyOf,
} from "../posture/policies.js";
import { firstString } from "./fields.js";
import type { BehaviourRule, Detection, ModeRoles } from "./types.js";
import { DETECTION_EVENT_CAP } from "./types.js";
import { compareEvents, keepEarliest } from "./windows.js";

export const DAY_MS = 86_400_000;

/** A PeerAuthentication as the trail last saw it, and whether it is the mesh-wide default. */
export interface ModePolicy extends PolicyState {
  readonly meshWide: boolean;
}

/** What an `mtls_mode` rule has learned, as JSON (the detector persists it between runs). */
export interface ModeState {
  readonly version: 1;
  readonly kind: "mtls_mode";
  /** Every event before this has been judged and folded in (detector; replay folds event by event). */
  throughMs: number;
  /** `policyKeyOf` → the PeerAuthentication's state. */
  policies: Record<string, ModePolicy>;
  /** Detector: the day of each group still being judged (`dayKey`): its running count, first and latest request, events held. */
  days: Record<string, DayTally>;
}

export interface DayTally {
  count: number;
  firstMs: number;
  lastMs: number;
  held: number;
}

export function emptyModeState(throughMs = Number.NEGATIVE_INFINITY): ModeState {
  return { version: 1, kind: "mtls_mode", throughMs, policies: {}, days: {} };
}

export function modeRoles(rule: BehaviourRule): ModeRoles {
  const roles = rule.behaviour.mode;
  if (roles === undefined) throw new Error(`rule ${rule.name}: an mtls_mode rule without 'mode'`);
  return roles;
}

/** Folds one PeerAuthentication change into the state; false for an event that is not one (refused, incomplete). */
export function foldModeChange(state: ModeState, doc: EcsDocument, ms: number, meshWide: boolean): boolean {
  if (!isPolicyChange(doc)) return false;
  const key = policyKeyOf(doc);
  const after = applyPolicyChange(state.policies[key], doc, ms);
  if (after.kind !== "PeerAuthentication") return false;
  state.policies[key] = { ...after, meshWide };
  return true;
}

export type EffectiveMode = MtlsMode | "undeclared";

function namespaceWide(policy: ModePolicy): boolean {
  return policy.selector === undefined || Object.keys(policy.selector).length === 0;
}

/** Latest change first; a policy whose selector was recorded before one whose selector was not. */
function preferred(a: ModePolicy, b: ModePolicy): number {
  return (
    Number(a.selector === undefined) - Number(b.selector === undefined) ||
    b.changedAt.localeCompare(a.changedAt)
  );
}

/** The effective mode of `namespace` in `cluster` (`""`: no cluster named), per the state. */
export function effectiveMode(state: ModeState, cluster: string, namespace: string): EffectiveMode {
  const policies = Object.values(state.policies).filter(
    (policy) => policy.cluster === cluster && namespaceWide(policy),
  );
  const own = policies
    .filter((policy) => policy.present && !policy.meshWide && policy.namespace === namespace)
    .sort(preferred)[0];
  if (own !== undefined && own.mode !== "UNSET") return own.mode ?? "unknown";
  const mesh = policies.filter((policy) => policy.present && policy.meshWide).sort(preferred)[0];
  if (mesh !== undefined) return mesh.mode === "UNSET" ? "PERMISSIVE" : (mesh.mode ?? "unknown");
  if (policies.some((policy) => policy.meshWide && !policy.present)) return "PERMISSIVE";
  return "undeclared";
}

/** Whether a mode lets plaintext in: the modes the rule pages on. */
export function allowsPlaintext(mode: EffectiveMode): boolean {
  return mode === "PERMISSIVE" || mode === "DISABLE";
}

/** A request's group: the cluster (`""` when absent) and the destination namespace; undefined without a namespace. */
export interface ModeGroup {
  readonly cluster: string;
  readonly namespace: string;
  readonly groupBy: Record<string, string>;
}

export function modeGroupOf(rule: BehaviourRule, doc: EcsDocument): ModeGroup | undefined {
  const [clusterField, namespaceField] = rule.groupBy as [string, string];
  const namespace = firstString(namespaceField)(doc);
  if (namespace === undefined) return undefined;
  const cluster = firstString(clusterField)(doc);
  return modeGroup(rule, cluster ?? "", namespace);
}

export function modeGroup(rule: BehaviourRule, cluster: string, namespace: string): ModeGroup {
  const [clusterField, namespaceField] = rule.groupBy as [string, string];
  return {
    cluster,
    namespace,
    groupBy: { ...(cluster === "" ? {} : { [clusterField]: cluster }), [namespaceField]: namespace },
  };
}

export function utcDayStart(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

export function dayKey(group: ModeGroup, dayStartMs: number): string {
  return JSON.stringify([group.cluster, group.namespace, dayStartMs]);
}

/** The detection of a group's day: the requests that counted so far (first, latest, count) and the earliest of them. */
export function modeDetection(
  rule: BehaviourRule,
  group: ModeGroup,
  firstMs: number,
  lastMs: number,
  count: number,
  events: readonly EcsDocument[],
): Detection {
  return {
    rule,
    windowStart: new Date(firstMs).toISOString(),
    windowEnd: new Date(lastMs).toISOString(),
    groupBy: { ...group.groupBy },
    count,
    events: [...events].sort(compareEvents).slice(0, DETECTION_EVENT_CAP),
  };
}

interface Item {
  readonly doc: EcsDocument;
  readonly time: number;
  readonly matched: readonly string[];
}

interface OpenDay {
  readonly group: ModeGroup;
  readonly dayStartMs: number;
  readonly firstMs: number;
  lastMs: number;
  count: number;
  readonly events: EcsDocument[];
  readonly times: number[];
}

/** One `mtls_mode` rule in replay: judges batches of one timestamp (changes first), emits days once they end. */
export class ModeTracker {
  readonly state = emptyModeState();
  readonly #rule: BehaviourRule;
  readonly #traffic: ReadonlySet<string>;
  readonly #namespace: ReadonlySet<string>;
  readonly #mesh: ReadonlySet<string>;
  readonly #plaintext: ReadonlySet<string>;
  readonly #open = new Map<string, OpenDay>();

  constructor(rule: BehaviourRule) {
    const roles = modeRoles(rule);
    this.#rule = rule;
    this.#traffic = new Set(rule.rules);
    this.#namespace = new Set(roles.namespaceRules);
    this.#mesh = new Set(roles.meshRules);
    this.#plaintext = new Set(roles.plaintextRules);
  }

  get name(): string {
    return this.#rule.name;
  }

  wants(matched: readonly string[]): boolean {
    return matched.some(
      (name) =>
        this.#traffic.has(name) ||
        this.#plaintext.has(name) ||
        this.#namespace.has(name) ||
        this.#mesh.has(name),
    );
  }

  judge(batch: readonly Item[], _out: Detection[]): void {
    for (const item of batch) {
      const mesh = item.matched.some((name) => this.#mesh.has(name));
      if (mesh || item.matched.some((name) => this.#namespace.has(name)))
        foldModeChange(this.state, item.doc, item.time, mesh);
    }
    for (const item of batch) {
      const plaintext = item.matched.some((name) => this.#plaintext.has(name));
      if (!plaintext && !item.matched.some((name) => this.#traffic.has(name))) continue;
      const group = modeGroupOf(this.#rule, item.doc);
      if (group === undefined) continue;
      if (!plaintext && !allowsPlaintext(effectiveMode(this.state, group.cluster, group.namespace))) continue;
      const dayStartMs = utcDayStart(item.time);
      const key = dayKey(group, dayStartMs);
      let day = this.#open.get(key);
      if (day === undefined) {
        day = { group, dayStartMs, firstMs: item.time, lastMs: item.time, count: 0, events: [], times: [] };
        this.#open.set(key, day);
      }
      day.count++;
      day.lastMs = item.time;
      keepEarliest(day.events, day.times, item.doc, item.time);
    }
  }

  /** Emits the days that ended at or before `until`. */
  close(until: number, out: Detection[]): void {
    for (const [key, day] of this.#open) {
      if (day.dayStartMs + DAY_MS > until) continue;
      out.push(modeDetection(this.#rule, day.group, day.firstMs, day.lastMs, day.count, day.events));
      this.#open.delete(key);
    }
  }
}
