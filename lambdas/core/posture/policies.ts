/**
 * The mesh security policies the trail declares: what each create/update/patch/delete audit event of a
 * `PeerAuthentication` or an authorization resource (Istio `AuthorizationPolicy`, Linkerd `Server` /
 * `AuthorizationPolicy` / `ServerAuthorization`, Cilium network policies, Consul `ServiceIntentions`) leaves in
 * force, replayed in event time. Pure: fed ECS documents, in any order; state is read as of an instant.
 *
 * What an audit event records depends on the cluster's audit policy: at `Metadata` there is no object, so the
 * mode or selector of a change is unknown (said so, never guessed); a merge patch carries only what it changed,
 * so the fields it leaves alone keep the value the trail last saw; a JSON Patch is read for the paths it sets.
 */
import type { EcsDocument, KubernetesAuditFields } from "../ecs.js";

/** The mTLS modes of `PeerAuthentication.spec.mtls.mode`, plus what the trail can say when it cannot read one. */
export type MtlsMode = "STRICT" | "PERMISSIVE" | "DISABLE" | "UNSET" | "unknown";

export type PolicyKind =
  | "PeerAuthentication"
  | "AuthorizationPolicy"
  | "LinkerdServer"
  | "LinkerdAuthorizationPolicy"
  | "LinkerdServerAuthorization"
  | "CiliumNetworkPolicy"
  | "CiliumClusterwideNetworkPolicy"
  | "ServiceIntentions";

/** `objectRef.resource` and API group of each kind. */
const KINDS: Readonly<Record<string, PolicyKind>> = {
  "peerauthentications.security.istio.io": "PeerAuthentication",
  "authorizationpolicies.security.istio.io": "AuthorizationPolicy",
  "servers.policy.linkerd.io": "LinkerdServer",
  "authorizationpolicies.policy.linkerd.io": "LinkerdAuthorizationPolicy",
  "serverauthorizations.policy.linkerd.io": "LinkerdServerAuthorization",
  "ciliumnetworkpolicies.cilium.io": "CiliumNetworkPolicy",
  "ciliumclusterwidenetworkpolicies.cilium.io": "CiliumClusterwideNetworkPolicy",
  "serviceintentions.consul.hashicorp.com": "ServiceIntentions",
};

const CHANGE_VERBS = new Set(["create", "update", "patch", "delete"]);

/** One policy object as the trail last saw it. */
export interface PolicyState {
  readonly kind: PolicyKind;
  readonly cluster: string;
  /** Empty for cluster-scoped kinds. */
  readonly namespace: string;
  readonly name: string;
  /** `PeerAuthentication` only: the mode it sets (`UNSET` inherits from the namespace or the mesh). */
  readonly mode?: MtlsMode;
  /** `PeerAuthentication` only: port-level modes (`8080=DISABLE`). */
  readonly portModes?: readonly string[];
  /**
   * The workload selector's labels (`spec.selector.matchLabels`, Linkerd `podSelector`, Cilium `endpointSelector`);
   * `{}` for none (the whole namespace, or the mesh in the root namespace); `undefined` when the audit event did
   * not record the object.
   */
  readonly selector?: Readonly<Record<string, string>>;
  /** What the policy names as its target, when it names one: `Service/payments`, `Server/web`, `Namespace/shop`, a Consul destination. */
  readonly targets?: readonly string[];
  /** The Istio action (`ALLOW`, `DENY`, `CUSTOM`, `AUDIT`) or Consul's default action. */
  readonly action?: string;
  /** When the trail last saw it change, who changed it, how (`patch`), and the audit level of that event. */
  readonly changedAt: string;
  readonly changedBy: string;
  readonly verb: string;
  readonly auditLevel?: string;
  /** False once a `delete` was seen: the object no longer applies. */
  readonly present: boolean;
}

/** A change to one policy object, as the trail records it. */
export interface PolicyChange {
  readonly before?: PolicyState;
  readonly after: PolicyState;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function labels(value: unknown): Record<string, string> | undefined {
  const r = record(value);
  if (r === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(r)) if (typeof v === "string") out[key] = v;
  return out;
}

function upperMode(value: unknown): MtlsMode | undefined {
  if (typeof value !== "string") return undefined;
  const mode = value.toUpperCase();
  return mode === "STRICT" || mode === "PERMISSIVE" || mode === "DISABLE" || mode === "UNSET"
    ? mode
    : "unknown";
}

/** The kind of an audit event's object when it is a policy the posture reads. */
export function policyKindOf(audit: KubernetesAuditFields | undefined): PolicyKind | undefined {
  const ref = audit?.objectRef;
  if (ref?.resource === undefined || ref.apiGroup === undefined || ref.subresource !== undefined)
    return undefined;
  return KINDS[`${ref.resource}.${ref.apiGroup}`];
}

/** Whether an audit event changed a policy: a create/update/patch/delete that completed and was not refused. */
export function isPolicyChange(doc: EcsDocument): boolean {
  const audit = doc.kubernetes?.audit;
  if (policyKindOf(audit) === undefined || !CHANGE_VERBS.has(audit?.verb ?? "")) return false;
  if (audit?.stage !== undefined && audit.stage !== "ResponseComplete") return false;
  const code = audit?.responseStatus?.code;
  return code === undefined || code < 400;
}

/** The namespace a policy applies to: the object's, or none for cluster-scoped kinds. */
function namespaceOf(audit: KubernetesAuditFields): string {
  return audit.objectRef?.namespace ?? "";
}

export function policyKey(state: Pick<PolicyState, "kind" | "cluster" | "namespace" | "name">): string {
  return `${state.cluster}\u0000${state.kind}\u0000${state.namespace}\u0000${state.name}`;
}

/** Values a JSON Patch sets, by slash path (`/spec/mtls/mode`). */
function jsonPatchValues(patch: readonly unknown[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const operation of patch) {
    const op = record(operation);
    if (op === undefined || typeof op.path !== "string") continue;
    out.set(op.path, op.op === "remove" ? undefined : op.value);
  }
  return out;
}

interface Content {
  mode?: MtlsMode;
  portModes?: string[];
  selector?: Record<string, string>;
  targets?: string[];
  action?: string;
}

/** What a full object (the request of a create/update, the response of any change) declares. */
function fromObject(kind: PolicyKind, object: Record<string, unknown>): Content {
  const spec = record(object.spec) ?? {};
  const content: Content = {};
  if (kind === "PeerAuthentication") {
    content.mode = upperMode(record(spec.mtls)?.mode) ?? "UNSET";
    const ports = record(spec.portLevelMtls);
    if (ports !== undefined)
      content.portModes = Object.entries(ports).map(
        ([port, value]) => `${port}=${upperMode(record(value)?.mode) ?? "UNSET"}`,
      );
  }
  if (kind === "CiliumNetworkPolicy" || kind === "CiliumClusterwideNetworkPolicy") {
    const endpoint = record(spec.endpointSelector);
    content.selector = endpoint === undefined ? {} : (labels(endpoint.matchLabels) ?? {});
  } else if (kind === "LinkerdServer") {
    const pods = record(spec.podSelector);
    content.selector = pods === undefined ? {} : (labels(pods.matchLabels) ?? {});
  } else {
    const selector = record(spec.selector);
    content.selector = selector === undefined ? {} : (labels(selector.matchLabels) ?? {});
  }
  const targets: string[] = [];
  const refs = [spec.targetRef, ...(Array.isArray(spec.targetRefs) ? spec.targetRefs : [])];
  for (const ref of refs) {
    const r = record(ref);
    if (r !== undefined && typeof r.kind === "string" && typeof r.name === "string")
      targets.push(`${r.kind}/${r.name}`);
  }
  if (kind === "LinkerdServerAuthorization") {
    const server = record(spec.server);
    if (typeof server?.name === "string") targets.push(`Server/${server.name}`);
  }
  if (kind === "ServiceIntentions") {
    const destination = record(spec.destination);
    if (typeof destination?.name === "string") targets.push(`Service/${destination.name}`);
  }
  if (targets.length > 0) content.targets = targets;
  if (typeof spec.action === "string") content.action = spec.action.toUpperCase();
  return content;
}

/** What a patch sets, merged over what the trail knew before. */
function fromPatch(kind: PolicyKind, patch: unknown, before: PolicyState | undefined): Content | undefined {
  if (Array.isArray(patch)) {
    const values = jsonPatchValues(patch);
    const content: Content = {};
    if (kind === "PeerAuthentication") {
      if (values.has("/spec/mtls/mode")) content.mode = upperMode(values.get("/spec/mtls/mode")) ?? "UNSET";
      else if (values.has("/spec/mtls"))
        content.mode = upperMode(record(values.get("/spec/mtls"))?.mode) ?? "UNSET";
      else if (before?.mode !== undefined) content.mode = before.mode;
      else return undefined;
    }
    if (values.has("/spec/selector") || values.has("/spec/selector/matchLabels")) return undefined;
    if (before?.selector !== undefined) content.selector = { ...before.selector };
    return content;
  }
  const merge = record(patch);
  if (merge === undefined) return undefined;
  const spec = record(merge.spec);
  const content: Content = {};
  if (kind === "PeerAuthentication") {
    const mtls = spec === undefined ? undefined : spec.mtls;
    if (mtls === null) content.mode = "UNSET";
    else if (record(mtls) !== undefined && "mode" in (record(mtls) ?? {}))
      content.mode = upperMode(record(mtls)?.mode) ?? "UNSET";
    else if (before?.mode !== undefined) content.mode = before.mode;
    else return undefined;
    if (before?.portModes !== undefined) content.portModes = [...before.portModes];
  }
  const selectorKey =
    kind === "LinkerdServer" ? "podSelector" : kind.startsWith("Cilium") ? "endpointSelector" : "selector";
  if (spec !== undefined && selectorKey in spec) {
    const selector = record(spec[selectorKey]);
    content.selector = selector === undefined ? {} : (labels(selector.matchLabels) ?? {});
  } else if (before?.selector !== undefined) content.selector = { ...before.selector };
  else if (kind !== "PeerAuthentication") return undefined;
  if (before?.targets !== undefined) content.targets = [...before.targets];
  if (typeof spec?.action === "string") content.action = spec.action.toUpperCase();
  else if (before?.action !== undefined) content.action = before.action;
  return content;
}

/** The key of the policy object an audit event of a policy change names. */
export function policyKeyOf(doc: EcsDocument): string {
  const audit = doc.kubernetes?.audit as KubernetesAuditFields;
  return policyKey({
    kind: policyKindOf(audit) as PolicyKind,
    cluster: doc.orchestrator?.cluster?.name ?? "",
    namespace: namespaceOf(audit),
    name: audit.objectRef?.name ?? "(unnamed)",
  });
}

/**
 * What one policy change (`isPolicyChange`) at `ms` leaves of the object the trail last saw as `before`: the whole
 * object a create or update records, a patch read over `before`, a delete (`present: false`, the selector kept).
 */
export function applyPolicyChange(
  before: PolicyState | undefined,
  doc: EcsDocument,
  ms: number,
): PolicyState {
  const audit = doc.kubernetes?.audit as KubernetesAuditFields;
  const kind = policyKindOf(audit) as PolicyKind;
  const base = {
    kind,
    cluster: doc.orchestrator?.cluster?.name ?? "",
    namespace: namespaceOf(audit),
    name: audit.objectRef?.name ?? "(unnamed)",
  };
  const verb = audit.verb as string;
  const by = changedBy(doc);
  let content: Content | undefined;
  if (verb !== "delete") {
    const response = record(audit.responseObject);
    const request = audit.requestObject;
    if (response !== undefined && record(response.spec) !== undefined) content = fromObject(kind, response);
    else if (verb === "patch") content = fromPatch(kind, request, before);
    else if (record(request) !== undefined) content = fromObject(kind, record(request) ?? {});
  }
  return {
    ...base,
    ...(kind === "PeerAuthentication" ? { mode: content?.mode ?? "unknown" } : {}),
    ...(content?.portModes === undefined || content.portModes.length === 0
      ? {}
      : { portModes: content.portModes }),
    ...(content?.selector === undefined
      ? verb === "delete" && before?.selector !== undefined
        ? { selector: before.selector }
        : {}
      : { selector: content.selector }),
    ...(content?.targets === undefined ? {} : { targets: content.targets }),
    ...(content?.action === undefined ? {} : { action: content.action }),
    changedAt: new Date(ms).toISOString(),
    changedBy: by,
    verb,
    ...(audit.level === undefined ? {} : { auditLevel: audit.level }),
    present: verb !== "delete",
  };
}

/**
 * The policy objects the trail declares, replayed in event time. `apply` takes audit events in any order; `at`
 * replays those up to an instant.
 */
export class PolicyLedger {
  private readonly events: { ms: number; id: string; doc: EcsDocument }[] = [];
  private readonly seen = new Set<string>();

  /** Keeps a document when it is a policy change (others are ignored); the same audit event twice counts once. */
  add(doc: EcsDocument): boolean {
    if (!isPolicyChange(doc)) return false;
    const audit = doc.kubernetes?.audit as KubernetesAuditFields;
    const id =
      audit.auditID ?? doc.event.id ?? JSON.stringify([doc["@timestamp"], audit.requestURI, audit.verb]);
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    const ms = Date.parse(doc["@timestamp"]);
    if (Number.isNaN(ms)) return false;
    this.events.push({ ms, id, doc });
    return true;
  }

  /** How many policy change events the ledger holds. */
  get size(): number {
    return this.events.length;
  }

  /**
   * The state of every policy the trail has seen change at or before `untilMs`, and the changes (with the state
   * before each) made in `[sinceMs, untilMs]`.
   */
  replay(sinceMs: number, untilMs: number): { states: PolicyState[]; changes: PolicyChange[] } {
    const ordered = this.events
      .filter((event) => event.ms <= untilMs)
      .sort((a, b) => a.ms - b.ms || a.id.localeCompare(b.id));
    const states = new Map<string, PolicyState>();
    const changes: PolicyChange[] = [];
    for (const { ms, doc } of ordered) {
      const key = policyKeyOf(doc);
      const before = states.get(key);
      const after = applyPolicyChange(before, doc, ms);
      states.set(key, after);
      if (ms >= sinceMs) changes.push(before === undefined ? { after } : { before, after });
    }
    return { states: [...states.values()], changes };
  }
}

/** Who made a change: the user, with the impersonated user when there is one. */
export function changedBy(doc: EcsDocument): string {
  const audit = doc.kubernetes?.audit;
  const user = audit?.user?.username ?? doc.user?.name ?? "(unknown user)";
  const impersonated = audit?.impersonatedUser?.username;
  return impersonated === undefined ? user : `${user} as ${impersonated}`;
}
