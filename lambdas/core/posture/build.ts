/**
 * The mesh security posture as the trail shows it: per cluster, namespace and service, the mTLS mode the audit
 * events declare next to the traffic observed, the authorization policies that cover each service, and the age of
 * the peer certificates presented. Pure: fed ECS documents in any order (files or an index), read once at the end.
 *
 * Every line carries what it rests on and what it cannot know. The trail only sees what was logged: a policy
 * created before the first audit event it holds is invisible (the namespace is then "undeclared" as far as the
 * trail can tell, and the line says so), and a service's namespace is known only when a log line names it.
 */
import type { EcsDocument, MtlsEvidence } from "../ecs.js";
import { STRONG_MTLS_EVIDENCE } from "../ecs.js";
import { type MtlsMode, type PolicyChange, PolicyLedger, type PolicyState } from "./policies.js";

/** Istio's root namespace, where a PeerAuthentication without a selector applies to the whole mesh. */
export const DEFAULT_ROOT_NAMESPACE = "istio-system";
/** The label shown for a cluster no document names (`orchestrator.cluster.name` absent). */
export const UNNAMED_CLUSTER = "(cluster not named)";
export const UNKNOWN_NAMESPACE = "(namespace unknown)";

export interface PostureOptions {
  /** Traffic from this instant (inclusive), ISO 8601. Policy changes before it still set the state. */
  readonly since: string;
  /** Up to this instant (inclusive). */
  readonly until: string;
  /** @default DEFAULT_ROOT_NAMESPACE */
  readonly rootNamespace?: string;
  /** Certificates presented longer ago than this are flagged (the rotation period). @default 24 hours */
  readonly rotationPeriodMs?: number;
}

/** Requests by what the trail knows of their mTLS. */
export interface TrafficShare {
  readonly requests: number;
  readonly mtls: number;
  readonly plaintext: number;
  readonly unknown: number;
  /** Plaintext requests whose evidence is strong (`STRONG_MTLS_EVIDENCE`): a fact, not a hint. */
  readonly plaintextProven: number;
  /** Requests by `mesh.mtls_evidence` (`none` when the line carries none). */
  readonly evidence: Readonly<Record<string, number>>;
}

export interface DeclaredMode {
  /** The effective namespace-wide mode; `undeclared` when no PeerAuthentication in the trail applies. */
  readonly mode: MtlsMode | "undeclared";
  /** Where it comes from: the namespace's own PeerAuthentication, the mesh-wide one, or none. */
  readonly level: "namespace" | "mesh" | "none";
  readonly policy?: string;
  readonly changedAt?: string;
  readonly changedBy?: string;
  /** One sentence: what the mode rests on. */
  readonly basis: string;
}

export interface WorkloadMode {
  readonly policy: string;
  readonly selector: Readonly<Record<string, string>> | undefined;
  readonly mode: MtlsMode;
  readonly portModes?: readonly string[];
  readonly changedAt: string;
  readonly changedBy: string;
}

export interface Authorization {
  /** `covered`: a policy applies; `not covered`: none does; `unknown`: policies with selectors the trail cannot map. */
  readonly status: "covered" | "not covered" | "unknown";
  /** The policies that cover it (`AuthorizationPolicy shop/allow-frontend`), or might. */
  readonly policies: readonly string[];
  readonly basis: string;
}

export interface CertificateAges {
  /** Requests that carried the peer certificate's validity. */
  readonly requests: number;
  /** The oldest certificate presented: seconds between its `not_before` and the request. */
  readonly maxAgeSeconds: number;
  /** The longest validity (`not_after - not_before`) presented, in seconds. */
  readonly maxLifetimeSeconds: number;
  /** The identity that presented the oldest certificate. */
  readonly oldestPresentedBy?: string;
  /** Requests whose certificate was older than the rotation period. */
  readonly overdue: number;
}

export interface ServicePosture {
  readonly name: string;
  readonly traffic: TrafficShare;
  readonly authorization: Authorization;
  readonly certificates?: CertificateAges;
  /** No PeerAuthentication (namespace or mesh) and no authorization policy in the trail names it. */
  readonly undeclared: boolean;
  readonly notes: readonly string[];
}

export interface NamespacePosture {
  readonly name: string;
  readonly declared: DeclaredMode;
  readonly workloadModes: readonly WorkloadMode[];
  readonly traffic: TrafficShare;
  readonly services: readonly ServicePosture[];
  /** What the trail cannot know about this namespace. */
  readonly unknowns: readonly string[];
}

export interface ClusterPosture {
  readonly name: string;
  readonly mesh: DeclaredMode;
  readonly namespaces: readonly NamespacePosture[];
}

export interface IdentityCertificate {
  readonly cluster: string;
  readonly principal: string;
  readonly requests: number;
  readonly maxAgeSeconds: number;
  readonly maxLifetimeSeconds: number;
  readonly lastSeen: string;
  readonly overdue: number;
}

export interface PostureReport {
  readonly since: string;
  readonly until: string;
  readonly rootNamespace: string;
  readonly rotationPeriodSeconds: number;
  readonly clusters: readonly ClusterPosture[];
  readonly certificates: readonly IdentityCertificate[];
  /** The period's policy changes (PeerAuthentication and authorization), oldest first. */
  readonly changes: readonly PolicyChange[];
  /** Counts the report rests on. */
  readonly basis: {
    readonly trafficRequests: number;
    readonly policyEvents: number;
    readonly auditEvents: number;
  };
  /** What no line can know, for the whole report. */
  readonly unknowns: readonly string[];
}

interface MutableShare {
  requests: number;
  mtls: number;
  plaintext: number;
  unknown: number;
  plaintextProven: number;
  evidence: Record<string, number>;
}

function emptyShare(): MutableShare {
  return { requests: 0, mtls: 0, plaintext: 0, unknown: 0, plaintextProven: 0, evidence: {} };
}

interface MutableCerts {
  requests: number;
  maxAgeSeconds: number;
  maxLifetimeSeconds: number;
  oldestPresentedBy?: string;
  overdue: number;
}

interface ServiceAccumulator {
  cluster: string;
  /** As the lines name it: the FQDN's first label, or the short name. */
  service: string;
  namespace: string | undefined;
  /** Whether the namespace was read from the line itself (FQDN or mesh field) rather than the logging pod. */
  share: MutableShare;
  certs: MutableCerts | undefined;
}

const STRONG = new Set<string>(STRONG_MTLS_EVIDENCE);

/** A mesh traffic document: an access-log line or flow (not an audit event). */
export function isMeshTraffic(doc: EcsDocument): boolean {
  return doc.mesh !== undefined && doc.kubernetes?.audit === undefined;
}

/** The service a request reached and its namespace, as the line names them. */
export function destinationOf(doc: EcsDocument): { service?: string; namespace?: string } {
  const destination = doc.mesh?.destination;
  const named = destination?.service ?? destination?.workload ?? doc.url?.domain ?? doc.envoy?.authority;
  let service: string | undefined;
  let namespace = destination?.namespace;
  if (named !== undefined) {
    const host = named.replace(/:\d+$/, "");
    const parts = host.split(".");
    if (/^\d+$/.test(parts[parts.length - 1] ?? "") || host.includes(":")) {
      // An address, not a name.
      service = undefined;
    } else {
      service = parts[0];
      if (namespace === undefined && parts.length >= 2 && (parts[2] === "svc" || parts.length === 2))
        namespace = parts[1];
    }
  }
  // A server-side line is written by the destination's own proxy: its pod's namespace is the destination's.
  if (namespace === undefined && doc.mesh?.direction === "inbound") namespace = doc.kubernetes?.namespace;
  return {
    ...(service === undefined ? {} : { service }),
    ...(namespace === undefined ? {} : { namespace }),
  };
}

/** Seconds between a certificate's `not_before` and the request, and its lifetime; undefined without them. */
export function certificateAge(
  doc: EcsDocument,
): { ageSeconds: number; lifetimeSeconds?: number } | undefined {
  const client = doc.tls?.client;
  const notBefore = client?.not_before === undefined ? Number.NaN : Date.parse(client.not_before);
  const at = Date.parse(doc["@timestamp"]);
  if (Number.isNaN(notBefore) || Number.isNaN(at)) return undefined;
  const notAfter = client?.not_after === undefined ? Number.NaN : Date.parse(client.not_after);
  return {
    ageSeconds: Math.max(0, Math.round((at - notBefore) / 1000)),
    ...(Number.isNaN(notAfter) ? {} : { lifetimeSeconds: Math.round((notAfter - notBefore) / 1000) }),
  };
}

function count(share: MutableShare, doc: EcsDocument): void {
  share.requests++;
  const evidence: MtlsEvidence | "none" = doc.mesh?.mtls_evidence ?? "none";
  share.evidence[evidence] = (share.evidence[evidence] ?? 0) + 1;
  if (doc.mesh?.mtls === true) share.mtls++;
  else if (doc.mesh?.mtls === false) {
    share.plaintext++;
    if (STRONG.has(evidence)) share.plaintextProven++;
  } else share.unknown++;
}

function addShare(into: MutableShare, from: TrafficShare): void {
  into.requests += from.requests;
  into.mtls += from.mtls;
  into.plaintext += from.plaintext;
  into.unknown += from.unknown;
  into.plaintextProven += from.plaintextProven;
  for (const [key, n] of Object.entries(from.evidence)) into.evidence[key] = (into.evidence[key] ?? 0) + n;
}

/** Collects documents; `report()` reads the posture of the period. */
/** Why a service counts as covered by an authorization policy, or may be. */
const COVERED_BASIS =
  "a policy with no selector in the namespace (or mesh), one naming the service, or one selecting app=<service>";
const UNKNOWN_BASIS =
  "policies in the namespace select pods by labels the trail cannot map to this service (or the audit level did not record them)";

export class PostureBuilder {
  private readonly ledger = new PolicyLedger();
  private readonly services = new Map<string, ServiceAccumulator>();
  private readonly identities = new Map<string, IdentityCertificate & { overdue: number }>();
  private readonly sinceMs: number;
  private readonly untilMs: number;
  private readonly rootNamespace: string;
  private readonly rotationMs: number;
  private trafficRequests = 0;
  private auditEvents = 0;

  constructor(options: PostureOptions) {
    this.sinceMs = Date.parse(options.since);
    this.untilMs = Date.parse(options.until);
    if (Number.isNaN(this.sinceMs) || Number.isNaN(this.untilMs))
      throw new RangeError(`posture period: not ISO 8601 instants: ${options.since} .. ${options.until}`);
    this.rootNamespace = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
    this.rotationMs = options.rotationPeriodMs ?? 24 * 3_600_000;
  }

  add(doc: EcsDocument): void {
    const ms = Date.parse(doc["@timestamp"]);
    if (Number.isNaN(ms) || ms > this.untilMs) return;
    if (doc.kubernetes?.audit !== undefined) {
      this.ledger.add(doc);
      if (ms >= this.sinceMs) {
        this.auditEvents++;
      }
      return;
    }
    if (!isMeshTraffic(doc) || ms < this.sinceMs) return;
    this.trafficRequests++;
    const cluster = doc.orchestrator?.cluster?.name ?? "";
    const { service, namespace } = destinationOf(doc);
    const name = service ?? "(service not named)";
    const key = `${cluster}\u0000${namespace ?? ""}\u0000${name}`;
    let acc = this.services.get(key);
    if (acc === undefined) {
      acc = { cluster, service: name, namespace, share: emptyShare(), certs: undefined };
      this.services.set(key, acc);
    }
    count(acc.share, doc);
    const cert = certificateAge(doc);
    if (cert !== undefined) {
      const overdue = cert.ageSeconds * 1000 > this.rotationMs;
      acc.certs ??= { requests: 0, maxAgeSeconds: 0, maxLifetimeSeconds: 0, overdue: 0 };
      acc.certs.requests++;
      if (overdue) acc.certs.overdue++;
      const principal = doc.mesh?.source?.principal;
      if (cert.ageSeconds >= acc.certs.maxAgeSeconds) {
        acc.certs.maxAgeSeconds = cert.ageSeconds;
        if (principal !== undefined) acc.certs.oldestPresentedBy = principal;
      }
      if ((cert.lifetimeSeconds ?? 0) > acc.certs.maxLifetimeSeconds)
        acc.certs.maxLifetimeSeconds = cert.lifetimeSeconds ?? 0;
      if (principal !== undefined) {
        const idKey = `${cluster}\u0000${principal}`;
        const before = this.identities.get(idKey);
        this.identities.set(idKey, {
          cluster,
          principal,
          requests: (before?.requests ?? 0) + 1,
          maxAgeSeconds: Math.max(before?.maxAgeSeconds ?? 0, cert.ageSeconds),
          maxLifetimeSeconds: Math.max(before?.maxLifetimeSeconds ?? 0, cert.lifetimeSeconds ?? 0),
          lastSeen:
            before === undefined || before.lastSeen < doc["@timestamp"] ? doc["@timestamp"] : before.lastSeen,
          overdue: (before?.overdue ?? 0) + (overdue ? 1 : 0),
        });
      }
    }
  }

  report(): PostureReport {
    const { states, changes } = this.ledger.replay(this.sinceMs, this.untilMs);
    const live = states.filter((state) => state.present);
    const clusters = new Set<string>([
      ...[...this.services.values()].map((acc) => acc.cluster),
      ...states.map((state) => state.cluster),
    ]);
    // Short service names without a namespace take the namespace other lines of the cluster give the same name,
    // when exactly one does.
    const namespacesOf = new Map<string, Set<string>>();
    for (const acc of this.services.values()) {
      if (acc.namespace === undefined) continue;
      const key = `${acc.cluster}\u0000${acc.service}`;
      const set = namespacesOf.get(key) ?? new Set<string>();
      set.add(acc.namespace);
      namespacesOf.set(key, set);
    }
    const merged = new Map<string, ServiceAccumulator & { inferred: boolean }>();
    for (const acc of this.services.values()) {
      let namespace = acc.namespace;
      let inferred = false;
      if (namespace === undefined) {
        const known = namespacesOf.get(`${acc.cluster}\u0000${acc.service}`);
        if (known?.size === 1) {
          namespace = [...known][0];
          inferred = true;
        }
      }
      const key = `${acc.cluster}\u0000${namespace ?? UNKNOWN_NAMESPACE}\u0000${acc.service}`;
      const into = merged.get(key);
      if (into === undefined) {
        merged.set(key, {
          cluster: acc.cluster,
          service: acc.service,
          namespace: namespace ?? UNKNOWN_NAMESPACE,
          share: { ...acc.share, evidence: { ...acc.share.evidence } },
          certs: acc.certs === undefined ? undefined : { ...acc.certs },
          inferred,
        });
      } else {
        addShare(into.share, acc.share);
        into.inferred ||= inferred;
        if (acc.certs !== undefined) {
          if (into.certs === undefined) into.certs = { ...acc.certs };
          else {
            into.certs.requests += acc.certs.requests;
            into.certs.overdue += acc.certs.overdue;
            if (acc.certs.maxAgeSeconds > into.certs.maxAgeSeconds) {
              into.certs.maxAgeSeconds = acc.certs.maxAgeSeconds;
              if (acc.certs.oldestPresentedBy !== undefined)
                into.certs.oldestPresentedBy = acc.certs.oldestPresentedBy;
            }
            into.certs.maxLifetimeSeconds = Math.max(
              into.certs.maxLifetimeSeconds,
              acc.certs.maxLifetimeSeconds,
            );
          }
        }
      }
    }

    const out: ClusterPosture[] = [];
    for (const cluster of [...clusters].sort()) {
      const inCluster = live.filter((state) => state.cluster === cluster);
      const everInCluster = states.filter((state) => state.cluster === cluster);
      const mesh = this.meshMode(inCluster, everInCluster);
      const namespaces = new Set<string>();
      for (const acc of merged.values()) if (acc.cluster === cluster) namespaces.add(acc.namespace as string);
      for (const state of everInCluster)
        if (state.namespace !== "" && state.namespace !== this.rootNamespace) namespaces.add(state.namespace);
      const namespacePostures: NamespacePosture[] = [];
      for (const namespace of [...namespaces].sort()) {
        namespacePostures.push(
          this.namespacePosture(
            namespace,
            mesh,
            inCluster,
            everInCluster,
            [...merged.values()].filter((acc) => acc.cluster === cluster && acc.namespace === namespace),
          ),
        );
      }
      out.push({ name: cluster === "" ? UNNAMED_CLUSTER : cluster, mesh, namespaces: namespacePostures });
    }
    const unknowns: string[] = [];
    if (this.ledger.size === 0)
      unknowns.push(
        "no PeerAuthentication or authorization policy change in the audit events read: every declared mode is unknown to the trail (policies created before it began are invisible)",
      );
    if (this.auditEvents === 0)
      unknowns.push(
        "no audit event of a mesh security or RBAC change, an exec session or a refusal in the period: declared modes rest on earlier events only",
      );
    if (this.trafficRequests === 0) unknowns.push("no mesh traffic in the period: nothing observed");
    return {
      since: new Date(this.sinceMs).toISOString(),
      until: new Date(this.untilMs).toISOString(),
      rootNamespace: this.rootNamespace,
      rotationPeriodSeconds: Math.round(this.rotationMs / 1000),
      clusters: out,
      certificates: [...this.identities.values()]
        .map((identity) => ({
          ...identity,
          cluster: identity.cluster === "" ? UNNAMED_CLUSTER : identity.cluster,
        }))
        .sort((a, b) => b.maxAgeSeconds - a.maxAgeSeconds || a.principal.localeCompare(b.principal)),
      changes,
      basis: {
        trafficRequests: this.trafficRequests,
        policyEvents: this.ledger.size,
        auditEvents: this.auditEvents,
      },
      unknowns,
    };
  }

  private meshMode(live: readonly PolicyState[], ever: readonly PolicyState[]): DeclaredMode {
    const wide = live.filter(
      (state) =>
        state.kind === "PeerAuthentication" &&
        state.namespace === this.rootNamespace &&
        state.selector !== undefined &&
        Object.keys(state.selector).length === 0,
    );
    const latest = wide.sort((a, b) => b.changedAt.localeCompare(a.changedAt))[0];
    if (latest !== undefined) {
      return {
        mode: latest.mode ?? "unknown",
        level: "mesh",
        policy: `${latest.namespace}/${latest.name}`,
        changedAt: latest.changedAt,
        changedBy: latest.changedBy,
        basis: `PeerAuthentication ${latest.namespace}/${latest.name} (no selector, root namespace), ${latest.verb} by ${latest.changedBy} at ${latest.changedAt}${latest.mode === "unknown" ? ` (audit level ${latest.auditLevel ?? "unknown"} did not record the mode)` : ""}${wide.length > 1 ? `; ${wide.length} mesh-wide PeerAuthentications: Istio applies the oldest, the trail shows the latest change` : ""}`,
      };
    }
    const deleted = ever.find(
      (state) =>
        state.kind === "PeerAuthentication" && state.namespace === this.rootNamespace && !state.present,
    );
    return {
      mode: "undeclared",
      level: "none",
      basis:
        deleted === undefined
          ? `no mesh-wide PeerAuthentication (root namespace ${this.rootNamespace}, no selector) in the audit events read`
          : `mesh-wide PeerAuthentication ${deleted.namespace}/${deleted.name} deleted by ${deleted.changedBy} at ${deleted.changedAt}`,
    };
  }

  private namespacePosture(
    namespace: string,
    mesh: DeclaredMode,
    live: readonly PolicyState[],
    ever: readonly PolicyState[],
    services: readonly (ServiceAccumulator & { inferred: boolean })[],
  ): NamespacePosture {
    const peer = live.filter((state) => state.kind === "PeerAuthentication" && state.namespace === namespace);
    // A PeerAuthentication whose selector the audit level did not record is taken as namespace-wide (the common
    // case, `default` without a selector), and the basis says so.
    const namespaceWide = peer
      .filter((state) => state.selector === undefined || Object.keys(state.selector).length === 0)
      .sort(
        (a, b) =>
          Number(a.selector === undefined) - Number(b.selector === undefined) ||
          b.changedAt.localeCompare(a.changedAt),
      );
    const selectorUnknown = peer.filter((state) => state.selector === undefined);
    const workloadModes: WorkloadMode[] = peer
      .filter((state) => state.selector !== undefined && Object.keys(state.selector).length > 0)
      .map((state) => ({
        policy: `${state.namespace}/${state.name}`,
        selector: state.selector,
        mode: state.mode ?? "unknown",
        ...(state.portModes === undefined ? {} : { portModes: state.portModes }),
        changedAt: state.changedAt,
        changedBy: state.changedBy,
      }));
    const own = namespaceWide[0];
    let declared: DeclaredMode;
    if (own !== undefined && own.mode !== "UNSET") {
      declared = {
        mode: own.mode ?? "unknown",
        level: "namespace",
        policy: `${own.namespace}/${own.name}`,
        changedAt: own.changedAt,
        changedBy: own.changedBy,
        basis: `PeerAuthentication ${own.namespace}/${own.name} (${own.selector === undefined ? "selector not recorded: taken as namespace-wide" : "no selector"}), ${own.verb} by ${own.changedBy} at ${own.changedAt}${own.mode === "unknown" ? ` (audit level ${own.auditLevel ?? "unknown"} did not record the mode)` : ""}`,
      };
    } else if (mesh.level === "mesh") {
      declared = {
        ...mesh,
        basis: `${own === undefined ? "no namespace PeerAuthentication in the trail" : `PeerAuthentication ${own.namespace}/${own.name} is UNSET`}: inherits the mesh-wide mode (${mesh.basis})`,
      };
    } else {
      const deleted = ever.find(
        (state) =>
          state.kind === "PeerAuthentication" &&
          state.namespace === namespace &&
          !state.present &&
          state.selector !== undefined &&
          Object.keys(state.selector).length === 0,
      );
      declared = {
        mode: "undeclared",
        level: "none",
        basis: `${deleted === undefined ? "no PeerAuthentication for this namespace or the mesh in the audit events read" : `PeerAuthentication ${deleted.namespace}/${deleted.name} deleted by ${deleted.changedBy} at ${deleted.changedAt}, and none for the mesh`}: Istio's default then is PERMISSIVE`,
      };
    }
    const unknowns: string[] = [];
    if (!ever.some((state) => state.kind === "PeerAuthentication" && state.namespace === namespace))
      unknowns.push(
        `no PeerAuthentication audit events for namespace ${namespace} in the trail: a policy older than the trail would not show`,
      );
    if (selectorUnknown.length > 0)
      unknowns.push(
        `${selectorUnknown.map((state) => state.name).join(", ")}: the audit level did not record the selector; taken as namespace-wide, but it may select only some workloads`,
      );
    if (workloadModes.some((mode) => mode.selector !== undefined))
      unknowns.push(
        "workload-level PeerAuthentications apply to pods by label; the trail does not record pod labels, so which services they cover is not known",
      );
    if (namespace === UNKNOWN_NAMESPACE)
      unknowns.push("these lines name no namespace (a short host name from a client-side or TEXT log)");

    const namespaceShare = emptyShare();
    const servicePostures: ServicePosture[] = [];
    const authz = live.filter((state) => state.kind !== "PeerAuthentication");
    const authzEver = ever.filter((state) => state.kind !== "PeerAuthentication");
    for (const acc of [...services].sort((a, b) => a.service.localeCompare(b.service))) {
      addShare(namespaceShare, acc.share);
      const authorization = this.authorizationOf(acc.service, namespace, authz, authzEver);
      const notes: string[] = [];
      if (acc.inferred)
        notes.push(`namespace inferred: other lines of the cluster name ${acc.service}.${namespace}`);
      if (acc.certs === undefined) notes.push("no peer certificate validity in these lines' format");
      const undeclared = declared.level === "none" && authorization.status === "not covered";
      servicePostures.push({
        name: acc.service,
        traffic: acc.share,
        authorization,
        ...(acc.certs === undefined ? {} : { certificates: acc.certs }),
        undeclared,
        notes,
      });
    }
    return {
      name: namespace,
      declared,
      workloadModes,
      traffic: namespaceShare,
      services: servicePostures,
      unknowns,
    };
  }

  private authorizationOf(
    service: string,
    namespace: string,
    live: readonly PolicyState[],
    ever: readonly PolicyState[],
  ): Authorization {
    const covering: string[] = [];
    const maybe: string[] = [];
    const label = (state: PolicyState): string =>
      `${state.kind} ${state.namespace === "" ? "" : `${state.namespace}/`}${state.name}`;
    const servers = live.filter((state) => state.kind === "LinkerdServer" && state.namespace === namespace);
    const serverCovers = (name: string): boolean | undefined => {
      const server = servers.find((state) => state.name === name);
      if (server?.selector === undefined) return undefined;
      return selectsService(server.selector, service);
    };
    for (const state of live) {
      const wideScope =
        state.kind === "CiliumClusterwideNetworkPolicy" ||
        (state.kind === "AuthorizationPolicy" && state.namespace === this.rootNamespace);
      if (state.namespace !== namespace && !wideScope && state.kind !== "ServiceIntentions") continue;
      if (state.kind === "ServiceIntentions") {
        const target = state.targets?.[0];
        if (target === `Service/${service}` || target === "Service/*") covering.push(label(state));
        else if (target === undefined && state.namespace === namespace) maybe.push(label(state));
        continue;
      }
      if (state.targets !== undefined && state.targets.length > 0) {
        for (const target of state.targets) {
          if (target === `Service/${service}` || target === `Namespace/${namespace}`)
            covering.push(label(state));
          else if (target.startsWith("Server/")) {
            const covers = serverCovers(target.slice("Server/".length));
            if (covers === true) covering.push(label(state));
            else if (covers === undefined) maybe.push(label(state));
          }
        }
        continue;
      }
      if (state.selector === undefined) {
        maybe.push(label(state));
        continue;
      }
      if (Object.keys(state.selector).length === 0 || selectsService(state.selector, service))
        covering.push(label(state));
      else if (!selectsOtherService(state.selector)) maybe.push(label(state));
    }
    if (covering.length > 0)
      return {
        status: "covered",
        policies: [...new Set(covering)],
        basis: COVERED_BASIS,
      };
    if (maybe.length > 0) return { status: "unknown", policies: [...new Set(maybe)], basis: UNKNOWN_BASIS };
    const removed = ever.filter((state) => !state.present && state.namespace === namespace);
    return {
      status: "not covered",
      policies: [],
      basis:
        removed.length > 0
          ? `no authorization policy in force in the trail (${removed.map(label).join(", ")} deleted)`
          : "no authorization policy for this namespace or the mesh in the audit events read (one older than the trail would not show)",
    };
  }
}

/** The usual convention: a workload's `app` (or `app.kubernetes.io/name`) label is its service's name. */
const APP_LABELS = ["app", "app.kubernetes.io/name", "k8s:app", "service"];

function selectsService(selector: Readonly<Record<string, string>>, service: string): boolean {
  return APP_LABELS.some((key) => selector[key] === service);
}

function selectsOtherService(selector: Readonly<Record<string, string>>): boolean {
  return APP_LABELS.some((key) => selector[key] !== undefined);
}
