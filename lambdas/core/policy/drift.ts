/**
 * `audit-trail policy drift`: declared mesh authorization (YAML files, or the trail's own create/update/delete audit
 * events of the same objects) against the traffic the trail saw. Each call is judged by the policies of its own mesh
 * (`declared.ts` `meshOf`): Istio `AuthorizationPolicy` (`istio.ts`), Linkerd `Server` + `AuthorizationPolicy` +
 * `MeshTLSAuthentication`/`NetworkAuthentication` (`linkerd.ts`), Consul `ServiceIntentions` (`consul.ts`); a call of
 * a mesh with no declared policy is not judged.
 *
 * - **unused**: ALLOW rules (Istio), AuthorizationPolicies (Linkerd) and allowing source intentions (Consul) no
 *   observed allowed call used (edges allowed but never used);
 * - **denied**: calls the destination's policy refused (`rbac_access_denied` in the response details, HTTP 403);
 * - **not allowed**: calls that succeeded but that the declared policies would deny (policies not deployed yet,
 *   or traffic that bypassed them);
 * - **undecidable**: calls whose decision rests on what logs do not say (`when` conditions, hosts, ports).
 */
import type { EcsDocument } from "../ecs.js";
import { evaluateConsul } from "./consul.js";
import {
  addDeclaredObject,
  type DeclaredPolicies,
  declaredCount,
  emptyDeclared,
  meshOf,
} from "./declared.js";
import { appliesTo, evaluate, type IstioPolicy, ruleMatches } from "./istio.js";
import { evaluateLinkerd } from "./linkerd.js";
import { istioPrincipal, type ObservedCall } from "./traffic.js";

/** The audited resources that declare mesh authorization: API group → resources. */
const AUDITED: Readonly<Record<string, readonly string[]>> = {
  "security.istio.io": ["authorizationpolicies"],
  "policy.linkerd.io": [
    "servers",
    "authorizationpolicies",
    "meshtlsauthentications",
    "networkauthentications",
  ],
  "consul.hashicorp.com": ["serviceintentions"],
};

/**
 * Tracks the mesh authorization objects the audit log shows being created, replaced and deleted; the latest wins.
 */
export class AuditedPolicies {
  readonly #latest = new Map<string, { time: string; object: unknown; origin: string }>();
  readonly #untilMs: number;

  /** @param until events after it are not taken in (the end of the period judged). */
  constructor(until?: string) {
    this.#untilMs = until === undefined ? Number.POSITIVE_INFINITY : Date.parse(until);
  }

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
    if (audit === undefined || ref?.resource === undefined || ref.apiGroup === undefined) return;
    if (!(AUDITED[ref.apiGroup] ?? []).includes(ref.resource)) return;
    if (audit.stage === "RequestReceived" || (audit.responseStatus?.code ?? 200) >= 400) return;
    if (Date.parse(doc["@timestamp"]) > this.#untilMs) return;
    const key = `${ref.apiGroup}/${ref.resource}/${ref.namespace ?? "default"}/${ref.name ?? ""}`;
    const previous = this.#latest.get(key);
    if (previous !== undefined && previous.time > doc["@timestamp"]) return;
    const origin = `audit event ${doc["@timestamp"]} ${audit.verb ?? ""} ${ref.resource} ${ref.namespace ?? "default"}/${ref.name ?? ""}`;
    if (audit.verb === "delete") {
      this.#latest.set(key, { time: doc["@timestamp"], object: undefined, origin });
      return;
    }
    // A patch's requestObject is the patch: only the object the API server answered with is whole.
    const object =
      audit.verb === "patch" ? audit.responseObject : (audit.responseObject ?? audit.requestObject);
    if (addDeclaredObject(emptyDeclared(), object, origin))
      this.#latest.set(key, { time: doc["@timestamp"], object, origin });
  }

  /** The objects in force at the end of the events seen. */
  declared(): DeclaredPolicies {
    const declared = emptyDeclared();
    for (const entry of this.#latest.values())
      if (entry.object !== undefined) addDeclaredObject(declared, entry.object, entry.origin);
    return declared;
  }

  /** The Istio AuthorizationPolicies in force. */
  policies(): IstioPolicy[] {
    return this.declared().istio;
  }
}

/** Both sets together. */
export function mergeDeclared(a: DeclaredPolicies, b: DeclaredPolicies): DeclaredPolicies {
  return {
    istio: [...a.istio, ...b.istio],
    linkerd: {
      servers: [...a.linkerd.servers, ...b.linkerd.servers],
      authorizationPolicies: [...a.linkerd.authorizationPolicies, ...b.linkerd.authorizationPolicies],
      meshTls: [...a.linkerd.meshTls, ...b.linkerd.meshTls],
      networks: [...a.linkerd.networks, ...b.linkerd.networks],
    },
    consul: [...a.consul, ...b.consul],
  };
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
  /** Calls that succeeded or that a policy refused (the others say nothing about authorization). */
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
  const first = new Date(Date.parse(call.time)).toISOString();
  const last = new Date(Date.parse(call.lastTime ?? call.time)).toISOString();
  if (entry === undefined) {
    map.set(key, {
      principal,
      service: call.service,
      method,
      path,
      count: call.count ?? 1,
      first,
      last,
      ...(policy === undefined ? {} : { policy }),
    });
    return;
  }
  entry.count += call.count ?? 1;
  if (first < entry.first) entry.first = first;
  if (last > entry.last) entry.last = last;
}

/** The verdict on one call by its mesh's declared policies (undefined: its mesh has none), and the rules it used. */
function judge(
  declared: DeclaredPolicies,
  call: ObservedCall,
  used: Set<string>,
): "allow" | "deny" | "undecidable" | undefined {
  switch (meshOf(call.mesh)) {
    case "istio": {
      const policies = declared.istio;
      if (policies.length === 0) return undefined;
      const decision = evaluate(policies, call);
      if (decision.verdict === "allow") {
        // Every ALLOW rule that would let the call through is in use, not only the first one Istio stops at.
        for (const policy of policies) {
          if (policy.action !== "ALLOW" || !appliesTo(policy, call)) continue;
          for (const [index, rule] of (policy.rules ?? []).entries())
            if (ruleMatches(rule, call) === true)
              used.add(`istio:${policy.namespace}/${policy.name}#${index}`);
        }
      }
      return decision.verdict;
    }
    case "linkerd": {
      if (declared.linkerd.servers.length === 0 && declared.linkerd.authorizationPolicies.length === 0)
        return undefined;
      const decision = evaluateLinkerd(declared.linkerd, call);
      for (const policy of decision.by) used.add(`linkerd:${policy.namespace}/${policy.name}#0`);
      return decision.verdict;
    }
    case "consul": {
      if (declared.consul.length === 0) return undefined;
      const decision = evaluateConsul(declared.consul, call);
      if (decision.verdict === "allow" && decision.by !== undefined)
        used.add(
          `consul:${decision.by.intentions.namespace}/${decision.by.intentions.name}#${decision.by.source}`,
        );
      return decision.verdict;
    }
  }
}

/** Every rule that allows something, with the callers it names. */
function allowingRules(declared: DeclaredPolicies): (DriftReport["unused"][number] & { key: string })[] {
  const rules: (DriftReport["unused"][number] & { key: string })[] = [];
  for (const policy of declared.istio) {
    if (policy.action !== "ALLOW") continue;
    for (const [index, rule] of (policy.rules ?? []).entries()) {
      const principals = (rule.from ?? []).flatMap((entry) => [...(entry.source?.principals ?? [])]);
      rules.push({
        key: `istio:${policy.namespace}/${policy.name}#${index}`,
        policy: `${policy.namespace}/${policy.name}`,
        rule: index,
        principals,
      });
    }
  }
  for (const policy of declared.linkerd.authorizationPolicies) {
    const principals = policy.requiredAuthenticationRefs.flatMap((ref) => {
      if (ref.kind === "ServiceAccount")
        return [`serviceaccount ${ref.namespace ?? policy.namespace}/${ref.name}`];
      if (ref.kind === "NetworkAuthentication") return [`networks of ${ref.name}`];
      const auth = declared.linkerd.meshTls.find(
        (m) => m.name === ref.name && m.namespace === (ref.namespace ?? policy.namespace),
      );
      return auth === undefined ? [`${ref.kind} ${ref.name} (not declared)`] : [...auth.identities];
    });
    rules.push({
      key: `linkerd:${policy.namespace}/${policy.name}#0`,
      policy: `${policy.namespace}/${policy.name}`,
      rule: 0,
      principals,
    });
  }
  for (const entry of declared.consul) {
    for (const [index, source] of entry.sources.entries()) {
      const allows =
        source.action === "allow" || (source.permissions ?? []).some((p) => p.action === "allow");
      if (!allows) continue;
      rules.push({
        key: `consul:${entry.namespace}/${entry.name}#${index}`,
        policy: `${entry.namespace}/${entry.name}`,
        rule: index,
        principals: [source.name],
      });
    }
  }
  return rules;
}

export function drift(
  policies: DeclaredPolicies | readonly IstioPolicy[],
  calls: Iterable<ObservedCall>,
): DriftReport {
  const declared: DeclaredPolicies = Array.isArray(policies)
    ? { ...emptyDeclared(), istio: [...(policies as readonly IstioPolicy[])] }
    : (policies as DeclaredPolicies);
  const used = new Set<string>();
  const denied = new Map<string, EdgeCount>();
  const notAllowed = new Map<string, EdgeCount>();
  const undecidable = new Map<string, EdgeCount>();
  let total = 0;
  for (const call of calls) {
    if (call.deniedByPolicy || call.allowed) total += call.count ?? 1;
    if (call.deniedByPolicy) {
      count(denied, call, call.denyingPolicy);
      continue;
    }
    if (!call.allowed) continue;
    const verdict = judge(declared, call, used);
    if (verdict === "deny") count(notAllowed, call);
    else if (verdict === "undecidable") count(undecidable, call);
  }
  const unused = allowingRules(declared)
    .filter((rule) => !used.has(rule.key))
    .map(({ key: _key, ...rule }) => rule);
  // A total order, so that the files (in time order) and the indices (in bucket order) list the same edges alike.
  const sorted = (map: Map<string, EdgeCount>) =>
    [...map.values()].sort(
      (a, b) =>
        b.count - a.count ||
        a.principal.localeCompare(b.principal) ||
        a.service.localeCompare(b.service) ||
        a.method.localeCompare(b.method) ||
        a.path.localeCompare(b.path) ||
        (a.policy ?? "").localeCompare(b.policy ?? ""),
    );
  return {
    policies: declaredCount(declared),
    calls: total,
    unused,
    denied: sorted(denied),
    notAllowed: sorted(notAllowed),
    undecidable: sorted(undecidable),
  };
}

/** The report as text, one finding a line. */
export function renderDrift(report: DriftReport): string {
  const lines = [
    `${report.policies} declared policy objects, ${report.calls} calls that succeeded or were denied by policy`,
  ];
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
      `\nundecidable from logs (when conditions, hosts, ports, routes, cluster defaults): ${report.undecidable.length} edge(s)`,
    );
    lines.push(...report.undecidable.map(edge));
  }
  return `${lines.join("\n")}\n`;
}
