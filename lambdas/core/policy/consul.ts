/**
 * Consul service intentions (`ServiceIntentions`, consul.hashicorp.com/v1alpha1, the `service-intentions` config
 * entry): reading them from YAML or audit events, and an evaluator of their semantics for the calls the logs show, as
 * Consul documents them:
 *
 * - one entry per destination service (`spec.destination.name`, `*` for every service); its `sources` are the
 *   intentions towards it;
 * - of the intentions matching a call, only the one of highest precedence applies: an exact source name before `*`,
 *   an exact destination before `*` (exact/exact 9, `*`/exact 8, exact/`*` 6, `*`/`*` 5);
 * - an L4 intention (`action`) allows or denies the connection; an L7 intention (`permissions`) applies its
 *   permissions in order, the first whose `http` match holds deciding (`pathExact`, `pathPrefix`, `methods`; every
 *   field set must match); a request no permission matches, or a call no intention matches, gets the default of the
 *   cluster (the ACL default policy, or the mesh's default intention), which the YAML does not say: undecidable
 *   unless given.
 *
 * Sources are Consul service names: a caller's is the `svc` of a Consul SPIFFE id, else the service account's name
 * (as `policy suggest` writes them). A caller without an mTLS identity never matches an intention: whether it reaches
 * the service at all depends on the service's `MutualTLSMode` (permissive lets plaintext through), which intentions do
 * not say: undecidable. What the logs cannot decide (`pathRegex`, `header`, peers, partitions and namespaces of
 * Consul Enterprise, `jwt`) makes the decision undecidable.
 */
import { PolicyInputError } from "./istio.js";
import { identityParts, type ObservedCall } from "./traffic.js";

export interface ConsulPermission {
  readonly action: "allow" | "deny";
  readonly http: Readonly<Record<string, unknown>> | undefined;
}

export interface ConsulSource {
  readonly name: string;
  /** L4 intention; undefined for an L7 one. */
  readonly action: "allow" | "deny" | undefined;
  readonly permissions: readonly ConsulPermission[] | undefined;
  /** Keys the evaluator cannot decide from logs (`peer`, `partition`, `samenessGroup`, `namespace`). */
  readonly undecidable: readonly string[];
}

export interface ConsulIntentions {
  readonly name: string;
  readonly namespace: string;
  readonly destination: string;
  readonly sources: readonly ConsulSource[];
  readonly origin: string;
}

const HTTP_KEYS = new Set(["pathExact", "pathPrefix", "methods"]);

function action(value: unknown, where: string): "allow" | "deny" {
  if (value !== "allow" && value !== "deny")
    throw new PolicyInputError(`${where}: action '${String(value)}' is not allow or deny`);
  return value;
}

/** A ServiceIntentions object (parsed YAML or an audit event's object), or undefined for any other kind. */
export function consulIntentionsFrom(object: unknown, origin: string): ConsulIntentions | undefined {
  if (typeof object !== "object" || object === null) return undefined;
  const o = object as {
    kind?: unknown;
    apiVersion?: unknown;
    metadata?: { name?: unknown; namespace?: unknown };
    spec?: { destination?: { name?: unknown }; sources?: unknown };
  };
  if (o.kind !== "ServiceIntentions" || typeof o.apiVersion !== "string") return undefined;
  if (!o.apiVersion.startsWith("consul.hashicorp.com/")) return undefined;
  const name = o.metadata?.name;
  if (typeof name !== "string")
    throw new PolicyInputError(`${origin}: a ServiceIntentions without metadata.name`);
  const where = `${origin}: ServiceIntentions ${name}`;
  const destination = o.spec?.destination?.name;
  if (typeof destination !== "string")
    throw new PolicyInputError(`${where}: spec.destination.name is missing`);
  const sources = o.spec?.sources ?? [];
  if (!Array.isArray(sources)) throw new PolicyInputError(`${where}: spec.sources is not a list`);
  return {
    name,
    namespace: typeof o.metadata?.namespace === "string" ? o.metadata.namespace : "default",
    destination,
    sources: sources.map((raw: Record<string, unknown>, i) => {
      const at = `${where}: spec.sources[${i}]`;
      if (typeof raw?.name !== "string") throw new PolicyInputError(`${at}: no name`);
      const permissions = raw.permissions;
      if (raw.action === undefined && permissions === undefined)
        throw new PolicyInputError(`${at}: neither action nor permissions`);
      if (raw.action !== undefined && permissions !== undefined)
        throw new PolicyInputError(`${at}: both action and permissions (an intention is L4 or L7)`);
      if (permissions !== undefined && !Array.isArray(permissions))
        throw new PolicyInputError(`${at}: permissions is not a list`);
      return {
        name: raw.name,
        action: raw.action === undefined ? undefined : action(raw.action, at),
        permissions: (permissions as Record<string, unknown>[] | undefined)?.map((p, j) => ({
          action: action(p?.action, `${at}.permissions[${j}]`),
          http:
            typeof p?.http === "object" && p.http !== null ? (p.http as Record<string, unknown>) : undefined,
        })),
        undecidable: ["peer", "partition", "samenessGroup", "namespace"].filter(
          (key) => raw[key] !== undefined,
        ),
      };
    }),
    origin,
  };
}

/** The Consul service name of a caller: a Consul SPIFFE id's `svc`, else the service account's name. */
export function consulSource(principal: string): string | undefined {
  const parts = identityParts(principal);
  return parts.service ?? parts.account;
}

type Match = boolean | "undecidable";

function httpMatches(http: Readonly<Record<string, unknown>> | undefined, call: ObservedCall): Match {
  if (http === undefined) return true;
  if (Object.keys(http).some((key) => !HTTP_KEYS.has(key))) return "undecidable";
  if (typeof http.pathExact === "string" && call.path !== http.pathExact) return false;
  if (typeof http.pathPrefix === "string" && !(call.path ?? "").startsWith(http.pathPrefix)) return false;
  if (typeof http.pathPrefix === "string" && call.path === undefined) return false;
  if (Array.isArray(http.methods) && !http.methods.includes(call.method)) return false;
  return true;
}

export interface ConsulDecision {
  readonly verdict: "allow" | "deny" | "undecidable";
  /** The entry and source index that decided. */
  readonly by: { readonly intentions: ConsulIntentions; readonly source: number } | undefined;
}

export interface ConsulOptions {
  /** What a call no intention (or no permission) decides gets. @default undefined: undecidable */
  readonly defaultAction?: "allow" | "deny";
}

/** Consul's decision for the call under `entries`. The destination's Consul name is its workload's. */
export function evaluateConsul(
  entries: readonly ConsulIntentions[],
  call: ObservedCall,
  options: ConsulOptions = {},
): ConsulDecision {
  const fallback: ConsulDecision = { verdict: options.defaultAction ?? "undecidable", by: undefined };
  const source = call.principal === undefined ? undefined : consulSource(call.principal);
  if (source === undefined) return { verdict: "undecidable", by: undefined };
  // Candidates in precedence order: (exact destination, exact source), (exact, *), (*, exact), (*, *).
  const exactDestination = entries.filter((entry) => entry.destination === call.workload);
  const anyDestination = entries.filter((entry) => entry.destination === "*");
  if (exactDestination.length > 1 || anyDestination.length > 1)
    // Consul keeps one entry per destination: which of these it holds depends on the order they were applied.
    return { verdict: "undecidable", by: undefined };
  for (const entry of [...exactDestination, ...anyDestination]) {
    for (const wanted of [source, "*"]) {
      const index = entry.sources.findIndex((candidate) => candidate.name === wanted);
      if (index < 0) continue;
      const intention = entry.sources[index] as ConsulSource;
      if (intention.undecidable.length > 0)
        return { verdict: "undecidable", by: { intentions: entry, source: index } };
      const by = { intentions: entry, source: index };
      if (intention.action !== undefined) return { verdict: intention.action, by };
      for (const permission of intention.permissions ?? []) {
        const match = httpMatches(permission.http, call);
        if (match === "undecidable") return { verdict: "undecidable", by };
        if (match) return { verdict: permission.action, by };
      }
      return { ...fallback, by };
    }
  }
  return fallback;
}
