/**
 * Linkerd authorization policy (`policy.linkerd.io`): reading `Server`, `AuthorizationPolicy`,
 * `MeshTLSAuthentication` and `NetworkAuthentication` from YAML or audit events, and an evaluator of their semantics
 * for the calls the logs show, as Linkerd documents them:
 *
 * - a `Server` selects a port of the pods its `podSelector` matches, in its own namespace; traffic to a pod's port no
 *   Server selects follows the default inbound policy (cluster-wide, or the `config.linkerd.io/default-inbound-policy`
 *   annotation; Linkerd's install default is `all-unauthenticated`: allow);
 * - traffic to a port a Server selects is denied unless an `AuthorizationPolicy` authorizes it (the Server's
 *   `accessPolicy`, `deny` by default, names what happens otherwise);
 * - an `AuthorizationPolicy` targets a Server (or every Server of its namespace, `kind: Namespace`, or a route) and
 *   authorizes a request when **every** one of its `requiredAuthenticationRefs` is satisfied; any one such policy
 *   suffices;
 * - a `MeshTLSAuthentication` is satisfied by a meshed client whose mTLS identity is one of `identities` (`*` for any,
 *   `*.suffix` for a suffix) or whose service account is one of `identityRefs`; a `NetworkAuthentication` by a client
 *   whose address is in one of its `networks` (a `ServiceAccount` ref: by that account's identity).
 *
 * Methods and paths do not matter at the Server level. What the logs cannot decide makes a decision "undecidable"
 * rather than a guess: policies targeting an HTTPRoute or GRPCRoute (route matching), Servers selecting by
 * `matchExpressions` or a named port, NetworkAuthentications other than "every address" (the calls carry no client
 * address here), and a Server's port when the log has no destination port and the workload's Servers disagree.
 * Workload labels are taken to be `app: <service short name>`, as for Istio.
 */
import { PolicyInputError } from "./istio.js";
import { identityParts, type ObservedCall } from "./traffic.js";

export type LinkerdDefaultPolicy =
  | "all-unauthenticated"
  | "all-authenticated"
  | "cluster-authenticated"
  | "cluster-unauthenticated"
  | "deny"
  | "audit";

const DEFAULT_POLICIES: readonly string[] = [
  "all-unauthenticated",
  "all-authenticated",
  "cluster-authenticated",
  "cluster-unauthenticated",
  "deny",
  "audit",
];

export interface LinkerdServer {
  readonly name: string;
  readonly namespace: string;
  /** `matchLabels`; undefined when the selector uses `matchExpressions` (not decidable from logs). */
  readonly matchLabels: Readonly<Record<string, string>> | undefined;
  /** A port number, or a port name (not decidable from logs). */
  readonly port: number | string;
  /** What happens to traffic no AuthorizationPolicy authorizes (v1beta3 `accessPolicy`). */
  readonly accessPolicy: LinkerdDefaultPolicy;
  readonly origin: string;
}

export interface LinkerdRef {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

export interface LinkerdAuthorizationPolicy {
  readonly name: string;
  readonly namespace: string;
  readonly targetRef: LinkerdRef;
  readonly requiredAuthenticationRefs: readonly LinkerdRef[];
  readonly origin: string;
}

export interface LinkerdMeshTls {
  readonly name: string;
  readonly namespace: string;
  readonly identities: readonly string[];
  readonly identityRefs: readonly LinkerdRef[];
  readonly origin: string;
}

export interface LinkerdNetwork {
  readonly name: string;
  readonly namespace: string;
  readonly networks: readonly { readonly cidr: string; readonly except?: readonly string[] }[];
  readonly origin: string;
}

export interface LinkerdPolicies {
  readonly servers: readonly LinkerdServer[];
  readonly authorizationPolicies: readonly LinkerdAuthorizationPolicy[];
  readonly meshTls: readonly LinkerdMeshTls[];
  readonly networks: readonly LinkerdNetwork[];
}

export function emptyLinkerdPolicies(): {
  servers: LinkerdServer[];
  authorizationPolicies: LinkerdAuthorizationPolicy[];
  meshTls: LinkerdMeshTls[];
  networks: LinkerdNetwork[];
} {
  return { servers: [], authorizationPolicies: [], meshTls: [], networks: [] };
}

type LinkerdObject =
  | { readonly kind: "Server"; readonly value: LinkerdServer }
  | { readonly kind: "AuthorizationPolicy"; readonly value: LinkerdAuthorizationPolicy }
  | { readonly kind: "MeshTLSAuthentication"; readonly value: LinkerdMeshTls }
  | { readonly kind: "NetworkAuthentication"; readonly value: LinkerdNetwork };

interface RawObject {
  kind?: unknown;
  apiVersion?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
  spec?: Record<string, unknown>;
}

function ref(value: unknown, where: string): LinkerdRef {
  const r = value as { group?: unknown; kind?: unknown; name?: unknown; namespace?: unknown } | null;
  if (typeof r !== "object" || r === null || typeof r.kind !== "string")
    throw new PolicyInputError(`${where}: a reference without kind`);
  return {
    group: typeof r.group === "string" ? r.group : "",
    kind: r.kind,
    name: typeof r.name === "string" ? r.name : "",
    ...(typeof r.namespace === "string" ? { namespace: r.namespace } : {}),
  };
}

/** A Linkerd policy object (parsed YAML or an audit event's object), or undefined for any other kind. */
export function linkerdObjectFrom(object: unknown, origin: string): LinkerdObject | undefined {
  if (typeof object !== "object" || object === null) return undefined;
  const o = object as RawObject;
  if (typeof o.apiVersion !== "string" || !o.apiVersion.startsWith("policy.linkerd.io/")) return undefined;
  const kind = o.kind;
  if (
    kind !== "Server" &&
    kind !== "AuthorizationPolicy" &&
    kind !== "MeshTLSAuthentication" &&
    kind !== "NetworkAuthentication"
  )
    return undefined;
  const name = o.metadata?.name;
  if (typeof name !== "string") throw new PolicyInputError(`${origin}: a ${kind} without metadata.name`);
  const namespace = typeof o.metadata?.namespace === "string" ? o.metadata.namespace : "default";
  const spec = o.spec ?? {};
  const where = `${origin}: ${kind} ${name}`;
  switch (kind) {
    case "Server": {
      const selector = spec.podSelector as { matchLabels?: unknown; matchExpressions?: unknown } | undefined;
      const port = spec.port;
      if (typeof port !== "number" && typeof port !== "string")
        throw new PolicyInputError(`${where}: spec.port is missing`);
      const access = spec.accessPolicy ?? "deny";
      if (typeof access !== "string" || !DEFAULT_POLICIES.includes(access))
        throw new PolicyInputError(`${where}: unknown spec.accessPolicy '${String(access)}'`);
      const labels = selector?.matchLabels;
      const expressions = Array.isArray(selector?.matchExpressions) && selector.matchExpressions.length > 0;
      return {
        kind,
        value: {
          name,
          namespace,
          matchLabels:
            expressions || spec.externalWorkloadSelector !== undefined
              ? undefined
              : typeof labels === "object" && labels !== null
                ? (labels as Record<string, string>)
                : {},
          port,
          accessPolicy: access as LinkerdDefaultPolicy,
          origin,
        },
      };
    }
    case "AuthorizationPolicy": {
      if (spec.targetRef === undefined) throw new PolicyInputError(`${where}: spec.targetRef is missing`);
      const required = spec.requiredAuthenticationRefs;
      if (!Array.isArray(required))
        throw new PolicyInputError(`${where}: spec.requiredAuthenticationRefs is not a list`);
      return {
        kind,
        value: {
          name,
          namespace,
          targetRef: ref(spec.targetRef, `${where}: spec.targetRef`),
          requiredAuthenticationRefs: required.map((r, i) =>
            ref(r, `${where}: spec.requiredAuthenticationRefs[${i}]`),
          ),
          origin,
        },
      };
    }
    case "MeshTLSAuthentication": {
      const identities = spec.identities;
      const refs = spec.identityRefs;
      if (identities !== undefined && !Array.isArray(identities))
        throw new PolicyInputError(`${where}: spec.identities is not a list`);
      if (refs !== undefined && !Array.isArray(refs))
        throw new PolicyInputError(`${where}: spec.identityRefs is not a list`);
      return {
        kind,
        value: {
          name,
          namespace,
          identities: ((identities as unknown[] | undefined) ?? []).map(String),
          identityRefs: ((refs as unknown[] | undefined) ?? []).map((r, i) =>
            ref(r, `${where}: spec.identityRefs[${i}]`),
          ),
          origin,
        },
      };
    }
    case "NetworkAuthentication": {
      const networks = spec.networks;
      if (!Array.isArray(networks)) throw new PolicyInputError(`${where}: spec.networks is not a list`);
      return {
        kind,
        value: {
          name,
          namespace,
          networks: networks.map((n: { cidr?: unknown; except?: unknown }, i) => {
            if (typeof n?.cidr !== "string")
              throw new PolicyInputError(`${where}: spec.networks[${i}] has no cidr`);
            return {
              cidr: n.cidr,
              ...(Array.isArray(n.except) ? { except: n.except.map(String) } : {}),
            };
          }),
          origin,
        },
      };
    }
  }
}

/** Adds a parsed object to the collection. */
export function addLinkerdObject(into: ReturnType<typeof emptyLinkerdPolicies>, object: LinkerdObject): void {
  switch (object.kind) {
    case "Server":
      into.servers.push(object.value);
      return;
    case "AuthorizationPolicy":
      into.authorizationPolicies.push(object.value);
      return;
    case "MeshTLSAuthentication":
      into.meshTls.push(object.value);
      return;
    case "NetworkAuthentication":
      into.networks.push(object.value);
      return;
  }
}

/** The caller's Linkerd identity: Linkerd's own form as is, an Istio-form SPIFFE id mapped to it (as `suggest`). */
export function linkerdIdentity(principal: string): string | undefined {
  if (/\.serviceaccount\.identity\.linkerd\./.test(principal)) return principal;
  const parts = identityParts(principal);
  if (parts.account === undefined || parts.namespace === undefined) return undefined;
  return `${parts.account}.${parts.namespace}.serviceaccount.identity.linkerd.cluster.local`;
}

type Match = boolean | "undecidable";

function identityMatches(pattern: string, identity: string): boolean {
  if (pattern === "*") return true;
  if (pattern.startsWith("*.")) return identity.endsWith(pattern.slice(1));
  return pattern === identity;
}

const EVERY_ADDRESS = new Set(["0.0.0.0/0", "::/0"]);

function authenticationSatisfied(
  policies: LinkerdPolicies,
  namespace: string,
  reference: LinkerdRef,
  call: ObservedCall,
): Match {
  const identity = call.principal === undefined ? undefined : linkerdIdentity(call.principal);
  const refNamespace = reference.namespace ?? namespace;
  if (reference.kind === "ServiceAccount") {
    if (identity === undefined) return false;
    return identity.startsWith(`${reference.name}.${refNamespace}.serviceaccount.identity.linkerd.`);
  }
  if (reference.kind === "MeshTLSAuthentication") {
    const auth = policies.meshTls.find((m) => m.name === reference.name && m.namespace === refNamespace);
    if (auth === undefined) return false; // a reference to nothing authorizes nothing
    if (identity === undefined) return false;
    if (auth.identities.some((pattern) => identityMatches(pattern, identity))) return true;
    return auth.identityRefs.some(
      (r) =>
        r.kind === "ServiceAccount" &&
        identity.startsWith(`${r.name}.${r.namespace ?? auth.namespace}.serviceaccount.identity.linkerd.`),
    );
  }
  if (reference.kind === "NetworkAuthentication") {
    const auth = policies.networks.find((n) => n.name === reference.name && n.namespace === refNamespace);
    if (auth === undefined) return false;
    // Every IPv4 and every IPv6 address, without exceptions: any client. Anything narrower needs the client's
    // address, which the calls do not carry.
    const every = auth.networks.filter((n) => EVERY_ADDRESS.has(n.cidr) && (n.except ?? []).length === 0);
    if (every.length === EVERY_ADDRESS.size) return true;
    return "undecidable";
  }
  return "undecidable";
}

function defaultVerdict(policy: LinkerdDefaultPolicy, call: ObservedCall): "allow" | "deny" | "undecidable" {
  switch (policy) {
    case "all-unauthenticated":
    case "audit":
      return "allow";
    case "deny":
      return "deny";
    case "all-authenticated":
      return call.principal === undefined ? "deny" : "allow";
    // Same cluster or not: the calls do not say where the client runs.
    case "cluster-authenticated":
      return call.principal === undefined ? "deny" : "undecidable";
    case "cluster-unauthenticated":
      return "undecidable";
  }
}

export interface LinkerdDecision {
  readonly verdict: "allow" | "deny" | "undecidable";
  /** The Server the call reached (undefined: no Server, the default policy decided). */
  readonly server: LinkerdServer | undefined;
  /** The AuthorizationPolicies that authorized it. */
  readonly by: readonly LinkerdAuthorizationPolicy[];
}

export interface LinkerdOptions {
  /** The default inbound policy for ports no Server selects. @default "all-unauthenticated" (Linkerd's default) */
  readonly defaultPolicy?: LinkerdDefaultPolicy;
}

function serverSelects(server: LinkerdServer, call: ObservedCall): Match {
  if (server.namespace !== call.namespace) return false;
  if (server.matchLabels === undefined) return "undecidable";
  const labels: Record<string, string> = { app: call.workload };
  if (!Object.entries(server.matchLabels).every(([key, value]) => labels[key] === value)) return false;
  if (typeof server.port === "string") return "undecidable";
  return call.port === undefined ? "undecidable" : server.port === call.port;
}

function decideOnServer(
  policies: LinkerdPolicies,
  server: LinkerdServer,
  call: ObservedCall,
): { verdict: "allow" | "deny" | "undecidable"; by: LinkerdAuthorizationPolicy[] } {
  const by: LinkerdAuthorizationPolicy[] = [];
  let undecidable = false;
  for (const policy of policies.authorizationPolicies) {
    if (policy.namespace !== server.namespace) continue;
    const target = policy.targetRef;
    const onServer = target.kind === "Server" && target.name === server.name;
    const onNamespace =
      target.kind === "Namespace" && (target.name === "" || target.name === server.namespace);
    if (target.kind === "HTTPRoute" || target.kind === "GRPCRoute") {
      // Route-level authorization depends on which route the request matched.
      undecidable = true;
      continue;
    }
    if (!onServer && !onNamespace) continue;
    const results = policy.requiredAuthenticationRefs.map((r) =>
      authenticationSatisfied(policies, policy.namespace, r, call),
    );
    // No required authentication at all is not something the documentation defines: not guessed.
    if (results.length > 0 && results.every((r) => r === true)) by.push(policy);
    else if (!results.includes(false)) undecidable = true;
  }
  if (by.length > 0) return { verdict: "allow", by };
  if (undecidable) return { verdict: "undecidable", by };
  return { verdict: defaultVerdict(server.accessPolicy, call), by };
}

/** Linkerd's decision for the call under `policies`. */
export function evaluateLinkerd(
  policies: LinkerdPolicies,
  call: ObservedCall,
  options: LinkerdOptions = {},
): LinkerdDecision {
  const candidates: LinkerdServer[] = [];
  let unsure = false;
  for (const server of policies.servers) {
    const selects = serverSelects(server, call);
    if (selects === true) candidates.push(server);
    else if (selects === "undecidable") {
      // Without the call's port, every Server of the workload may be the one it reached.
      if (call.port === undefined && server.matchLabels !== undefined && typeof server.port === "number")
        candidates.push(server);
      else unsure = true;
    }
  }
  const exact = candidates.filter((server) => server.port === call.port);
  if (exact.length > 0) {
    // Servers may not overlap (Linkerd's admission check): the one selecting the call's port decides.
    const server = exact[0] as LinkerdServer;
    const decision = decideOnServer(policies, server, call);
    return { verdict: decision.verdict, server, by: decision.by };
  }
  if (candidates.length === 0) {
    const verdict = defaultVerdict(options.defaultPolicy ?? "all-unauthenticated", call);
    return { verdict: unsure ? "undecidable" : verdict, server: undefined, by: [] };
  }
  // No port in the log: the decision holds only when every Server the call may have reached gives it.
  const decisions = candidates.map((server) => ({ server, ...decideOnServer(policies, server, call) }));
  const verdicts = new Set(decisions.map((d) => d.verdict));
  const first = decisions[0] as (typeof decisions)[number];
  if (verdicts.size === 1 && !unsure) return { verdict: first.verdict, server: first.server, by: first.by };
  return { verdict: "undecidable", server: undefined, by: [] };
}
