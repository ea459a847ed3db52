/**
 * `audit-trail policy drift`: declared Istio authorization policies (YAML files, or the trail's own
 * AuthorizationPolicy create/update/delete audit events) against the traffic the trail saw:
 *
 * - **unused**: ALLOW rules no observed allowed call matched (edges allowed but never used);
 * - **denied**: calls the destination's policy refused (`rbac_access_denied` in the response details, HTTP 403);
 * - **not allowed**: calls that succeeded but that the declared policies would deny (policies not deployed yet,
 *   or traffic that bypassed them);
 * - **undecidable**: calls whose decision rests on what logs do not say (`when` conditions, hosts, ports).
 */
import type { EcsDocument } from "../ecs.js";
import { appliesTo, evaluate, type IstioPolicy, policyFromObject, ruleMatches } from "./istio.js";
import { istioPrincipal, type ObservedCall } from "./traffic.js";

/** Tracks the AuthorizationPolicies the audit log shows being created, replaced and deleted; the latest wins. */
export class AuditedPolicies {
  readonly #latest = new Map<string, { time: string; policy: IstioPolicy | undefined }>();

  observe(doc: EcsDocument): void {
    const audit = doc.kubernetes?.audit as
      | {
          verb?: string;
          stage?: string;
          objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string };
          responseStatus?: { code?: number };
          requestObject?: unknown;
          responseObject?: unknown;
        }
      | undefined;
    const ref = audit?.objectRef;
    if (
      audit === undefined ||
      ref?.resource !== "authorizationpolicies" ||
      ref.apiGroup !== "security.istio.io"
    )
      return;
    if (audit.stage === "RequestReceived" || (audit.responseStatus?.code ?? 200) >= 400) return;
    const key = `${ref.namespace ?? "default"}/${ref.name ?? ""}`;
    const previous = this.#latest.get(key);
    if (previous !== undefined && previous.time > doc["@timestamp"]) return;
    const origin = `audit event ${doc["@timestamp"]} ${audit.verb ?? ""} ${key}`;
    if (audit.verb === "delete") {
      this.#latest.set(key, { time: doc["@timestamp"], policy: undefined });
      return;
    }
    // A patch's requestObject is the patch: only the object the API server answered with is whole.
    const object =
      audit.verb === "patch" ? audit.responseObject : (audit.responseObject ?? audit.requestObject);
    const policy = policyFromObject(object, origin);
    if (policy !== undefined) this.#latest.set(key, { time: doc["@timestamp"], policy });
  }

  policies(): IstioPolicy[] {
    return [...this.#latest.values()].flatMap((entry) => (entry.policy === undefined ? [] : [entry.policy]));
  }
}

export interface EdgeCount {
  readonly principal: string;
  readonly service: string;
  readonly method: string;
  readonly path: string;
  count: number;
  first: string;
  last: string;
  readonly policy?: string;
}

export interface DriftReport {
  readonly policies: number;
  readonly calls: number;
  readonly unused: {
    readonly policy: string;
    readonly rule: number;
    readonly principals: readonly string[];
  }[];
  readonly denied: EdgeCount[];
  readonly notAllowed: EdgeCount[];
  readonly undecidable: EdgeCount[];
}

function count(map: Map<string, EdgeCount>, call: ObservedCall, policy?: string): void {
  const principal = call.principal === undefined ? "(no identity)" : istioPrincipal(call.principal);
  const method = call.method ?? "-";
  const path = call.path ?? "-";
  const key = `${principal}\u0000${call.service}\u0000${method}\u0000${path}\u0000${policy ?? ""}`;
  const entry = map.get(key);
  if (entry === undefined) {
    map.set(key, {
      principal,
      service: call.service,
      method,
      path,
      count: 1,
      first: call.time,
      last: call.time,
      ...(policy === undefined ? {} : { policy }),
    });
    return;
  }
  entry.count++;
  if (call.time < entry.first) entry.first = call.time;
  if (call.time > entry.last) entry.last = call.time;
}

export function drift(policies: readonly IstioPolicy[], calls: Iterable<ObservedCall>): DriftReport {
  const used = new Set<string>();
  const denied = new Map<string, EdgeCount>();
  const notAllowed = new Map<string, EdgeCount>();
  const undecidable = new Map<string, EdgeCount>();
  let total = 0;
  for (const call of calls) {
    total++;
    if (call.deniedByPolicy) {
      count(denied, call, call.denyingPolicy);
      continue;
    }
    if (!call.allowed) continue;
    const decision = evaluate(policies, call);
    if (decision.verdict === "allow") {
      // Every ALLOW rule that would let the call through is in use, not only the first one Istio stops at.
      for (const policy of policies) {
        if (policy.action !== "ALLOW" || !appliesTo(policy, call)) continue;
        for (const [index, rule] of (policy.rules ?? []).entries())
          if (ruleMatches(rule, call) === true) used.add(`${policy.namespace}/${policy.name}#${index}`);
      }
    } else if (decision.verdict === "deny") count(notAllowed, call);
    else count(undecidable, call);
  }
  const unused: DriftReport["unused"][number][] = [];
  for (const policy of policies) {
    if (policy.action !== "ALLOW") continue;
    for (const [index, rule] of (policy.rules ?? []).entries()) {
      if (used.has(`${policy.namespace}/${policy.name}#${index}`)) continue;
      const principals = (rule.from ?? []).flatMap((entry) => [...(entry.source?.principals ?? [])]);
      unused.push({ policy: `${policy.namespace}/${policy.name}`, rule: index, principals });
    }
  }
  const sorted = (map: Map<string, EdgeCount>) =>
    [...map.values()].sort((a, b) => b.count - a.count || a.principal.localeCompare(b.principal));
  return {
    policies: policies.length,
    calls: total,
    unused,
    denied: sorted(denied),
    notAllowed: sorted(notAllowed),
    undecidable: sorted(undecidable),
  };
}

/** The report as text, one finding a line. */
export function renderDrift(report: DriftReport): string {
  const lines = [`${report.policies} AuthorizationPolicies, ${report.calls} calls`];
  const edge = (e: EdgeCount) =>
    `  ${e.principal} -> ${e.service} ${e.method} ${e.path}: ${e.count} (${e.first} .. ${e.last})${e.policy === undefined ? "" : ` by ${e.policy}`}`;
  lines.push(`\nallowed but never used: ${report.unused.length} rule(s)`);
  for (const u of report.unused)
    lines.push(
      `  ${u.policy} rule ${u.rule}${u.principals.length === 0 ? "" : ` (${u.principals.join(", ")})`}`,
    );
  lines.push(`\ndenied by policy (rbac_access_denied): ${report.denied.length} edge(s)`);
  lines.push(...report.denied.map(edge));
  lines.push(`\nsucceeded but the policies would deny: ${report.notAllowed.length} edge(s)`);
  lines.push(...report.notAllowed.map(edge));
  if (report.undecidable.length > 0) {
    lines.push(
      `\nundecidable from logs (when conditions, hosts, ports): ${report.undecidable.length} edge(s)`,
    );
    lines.push(...report.undecidable.map(edge));
  }
  return `${lines.join("\n")}\n`;
}
