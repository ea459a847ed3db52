/**
 * Istio `AuthorizationPolicy` (security.istio.io/v1): reading policies from YAML or audit events, and an evaluator of
 * their semantics for HTTP requests, as Istio documents them:
 *
 * - policies apply to a workload when their `selector.matchLabels` match its labels (no selector: every workload of
 *   the policy's namespace; in the root namespace `istio-system`: every workload of the mesh);
 * - a request matching a `DENY` rule is denied; otherwise, if any `ALLOW` policy applies, it is allowed only when one
 *   of their rules matches; if none applies, it is allowed (`AUDIT` and `CUSTOM` are not evaluated);
 * - a rule matches when one of its `from` entries matches (OR), one of its `to` entries (OR) and every `when`
 *   (AND); a missing `from`/`to` matches anything; a policy without `rules` allows nothing (ALLOW) or denies nothing
 *   (DENY); within one source or operation every field set must match (AND), `not…` fields must not;
 * - string matches are exact, prefix (`abc*`), suffix (`*abc`) or presence (`*`).
 *
 * The logs do not carry pod labels: a workload's labels are taken to be `app: <service short name>` (the
 * convention `audit-trail policy suggest` writes its selectors with). Fields the logs cannot decide (`when`
 * conditions, `hosts`, `ports`, `requestPrincipals`, `ipBlocks`) make the rule "undecidable": the evaluator says so
 * rather than guessing.
 */
import { parseAllDocuments } from "yaml";
import { identityParts, istioPrincipal, type ObservedCall } from "./traffic.js";

export interface IstioSource {
  readonly principals?: readonly string[];
  readonly notPrincipals?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly notNamespaces?: readonly string[];
  readonly [other: string]: unknown;
}

export interface IstioOperation {
  readonly methods?: readonly string[];
  readonly notMethods?: readonly string[];
  readonly paths?: readonly string[];
  readonly notPaths?: readonly string[];
  readonly [other: string]: unknown;
}

export interface IstioRule {
  readonly from?: readonly { readonly source?: IstioSource }[];
  readonly to?: readonly { readonly operation?: IstioOperation }[];
  readonly when?: readonly unknown[];
}

export interface IstioPolicy {
  readonly name: string;
  readonly namespace: string;
  readonly action: "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";
  readonly selector: Readonly<Record<string, string>> | undefined;
  /** Undefined when the policy has no `rules` key. */
  readonly rules: readonly IstioRule[] | undefined;
  /** Where it came from (file, or audit event). */
  readonly origin: string;
}

export const ISTIO_ROOT_NAMESPACE = "istio-system";

export class PolicyInputError extends Error {
  override readonly name = "PolicyInputError";
}

/** An AuthorizationPolicy object (parsed YAML or an audit event's `requestObject`) as `IstioPolicy`. */
export function policyFromObject(object: unknown, origin: string): IstioPolicy | undefined {
  if (typeof object !== "object" || object === null) return undefined;
  const o = object as {
    kind?: unknown;
    apiVersion?: unknown;
    metadata?: { name?: unknown; namespace?: unknown };
    spec?: { action?: unknown; selector?: { matchLabels?: unknown }; rules?: unknown };
  };
  if (o.kind !== "AuthorizationPolicy" || typeof o.apiVersion !== "string") return undefined;
  if (!o.apiVersion.startsWith("security.istio.io/")) return undefined;
  const name = o.metadata?.name;
  if (typeof name !== "string")
    throw new PolicyInputError(`${origin}: an AuthorizationPolicy without metadata.name`);
  const action = o.spec?.action ?? "ALLOW";
  if (action !== "ALLOW" && action !== "DENY" && action !== "AUDIT" && action !== "CUSTOM")
    throw new PolicyInputError(
      `${origin}: AuthorizationPolicy ${name}: unknown spec.action '${String(action)}'`,
    );
  const rules = o.spec?.rules;
  if (rules !== undefined && !Array.isArray(rules))
    throw new PolicyInputError(`${origin}: AuthorizationPolicy ${name}: spec.rules is not a list`);
  const labels = o.spec?.selector?.matchLabels;
  return {
    name,
    namespace: typeof o.metadata?.namespace === "string" ? o.metadata.namespace : "default",
    action,
    selector: typeof labels === "object" && labels !== null ? (labels as Record<string, string>) : undefined,
    rules: rules as IstioRule[] | undefined,
    origin,
  };
}

/** Every AuthorizationPolicy of a YAML text (other kinds are skipped). */
export function parsePolicies(text: string, file: string): IstioPolicy[] {
  const policies: IstioPolicy[] = [];
  for (const [index, document] of parseAllDocuments(text).entries()) {
    if (document.errors.length > 0)
      throw new PolicyInputError(
        `${file}: document ${index + 1}: ${document.errors[0]?.message ?? "invalid YAML"}`,
      );
    const policy = policyFromObject(document.toJS(), `${file} (document ${index + 1})`);
    if (policy !== undefined) policies.push(policy);
  }
  return policies;
}

export function matchString(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith("*")) return value.endsWith(pattern.slice(1));
  return pattern === value;
}

const anyOf = (patterns: readonly string[] | undefined, value: string | undefined) =>
  patterns === undefined || patterns.some((pattern) => matchString(pattern, value));
const noneOf = (patterns: readonly string[] | undefined, value: string | undefined) =>
  patterns === undefined || !patterns.some((pattern) => matchString(pattern, value));

const SOURCE_KEYS = new Set(["principals", "notPrincipals", "namespaces", "notNamespaces"]);
const OPERATION_KEYS = new Set(["methods", "notMethods", "paths", "notPaths"]);

type Match = boolean | "undecidable";

function sourceMatches(source: IstioSource, call: ObservedCall): Match {
  if (Object.keys(source).some((key) => !SOURCE_KEYS.has(key))) return "undecidable";
  const principal = call.principal === undefined ? undefined : istioPrincipal(call.principal);
  const namespace = call.principal === undefined ? undefined : identityParts(call.principal).namespace;
  return (
    anyOf(source.principals, principal) &&
    noneOf(source.notPrincipals, principal) &&
    anyOf(source.namespaces, namespace) &&
    noneOf(source.notNamespaces, namespace)
  );
}

function operationMatches(operation: IstioOperation, call: ObservedCall): Match {
  if (Object.keys(operation).some((key) => !OPERATION_KEYS.has(key))) return "undecidable";
  return (
    anyOf(operation.methods, call.method) &&
    noneOf(operation.notMethods, call.method) &&
    anyOf(operation.paths, call.path) &&
    noneOf(operation.notPaths, call.path)
  );
}

function some(entries: readonly Match[]): Match {
  if (entries.includes(true)) return true;
  return entries.includes("undecidable") ? "undecidable" : false;
}

export function ruleMatches(rule: IstioRule, call: ObservedCall): Match {
  if (rule.when !== undefined && rule.when.length > 0) return "undecidable";
  const from =
    rule.from === undefined || rule.from.length === 0
      ? true
      : some(
          rule.from.map((entry) => (entry.source === undefined ? true : sourceMatches(entry.source, call))),
        );
  const to =
    rule.to === undefined || rule.to.length === 0
      ? true
      : some(
          rule.to.map((entry) =>
            entry.operation === undefined ? true : operationMatches(entry.operation, call),
          ),
        );
  if (from === false || to === false) return false;
  return from === true && to === true ? true : "undecidable";
}

/** Whether the policy applies to the call's destination workload (labels assumed `app: <short name>`). */
export function appliesTo(policy: IstioPolicy, call: ObservedCall): boolean {
  if (policy.namespace !== ISTIO_ROOT_NAMESPACE && policy.namespace !== call.namespace) return false;
  if (policy.selector === undefined) return true;
  const labels: Record<string, string> = { app: call.workload };
  return Object.entries(policy.selector).every(([key, value]) => labels[key] === value);
}

export interface Decision {
  readonly verdict: "allow" | "deny" | "undecidable";
  /** The policy and rule index that decided (the matching rule; for a default deny, the ALLOW policies that applied). */
  readonly by: readonly { readonly policy: IstioPolicy; readonly rule: number | undefined }[];
}

/** Istio's decision for the call under `policies`. */
export function evaluate(policies: readonly IstioPolicy[], call: ObservedCall): Decision {
  const applicable = policies.filter((policy) => appliesTo(policy, call));
  let undecidable = false;
  for (const policy of applicable.filter((p) => p.action === "DENY")) {
    for (const [index, rule] of (policy.rules ?? []).entries()) {
      const match = ruleMatches(rule, call);
      if (match === true) return { verdict: "deny", by: [{ policy, rule: index }] };
      if (match === "undecidable") undecidable = true;
    }
  }
  const allows = applicable.filter((p) => p.action === "ALLOW");
  if (allows.length === 0) return { verdict: undecidable ? "undecidable" : "allow", by: [] };
  for (const policy of allows) {
    for (const [index, rule] of (policy.rules ?? []).entries()) {
      const match = ruleMatches(rule, call);
      if (match === true && !undecidable) return { verdict: "allow", by: [{ policy, rule: index }] };
      if (match !== false) undecidable = true;
    }
  }
  return {
    verdict: undecidable ? "undecidable" : "deny",
    by: allows.map((policy) => ({ policy, rule: undefined })),
  };
}
