/**
 * What a `mesh_config_change` changed, for people: the security-relevant content of the request (or response)
 * object when the audit level recorded it, or a plain statement that it did not.
 *
 * The audit policy decides: at `Metadata` the event has no object; at `Request` it has `requestObject` (the
 * object for create/update, the patch for patch); at `RequestResponse` also `responseObject` (the object after the
 * change). The patch is shown as sent (merge patch leaves, or JSON Patch operations), since that is the change.
 */
import type { EcsDocument, KubernetesAuditFields } from "../ecs.js";

/** API groups whose resources decide who may talk to whom in a mesh (those of `mesh_config_change`). */
const MESH_POLICY_GROUPS = new Set([
  "security.istio.io",
  "networking.istio.io",
  "policy.linkerd.io",
  "cilium.io",
  "consul.hashicorp.com",
]);
const CHANGE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** Whether an audit event changes a mesh policy resource: then an alert shows what changed. */
export function isMeshPolicyChange(audit: KubernetesAuditFields | undefined): boolean {
  const group = audit?.objectRef?.apiGroup;
  return group !== undefined && MESH_POLICY_GROUPS.has(group) && CHANGE_VERBS.has(audit?.verb ?? "");
}

export interface ConfigChange {
  /** `peerauthentications.security.istio.io shop/default`. */
  readonly resource?: string;
  /** One line: `patch: spec.mtls.mode=PERMISSIVE`, `delete`, or why the content is missing. */
  readonly summary: string;
}

/** Keys whose leaves decide who may talk to whom; shown first. */
const SECURITY_KEY =
  /mtls|tls|mode|action|rules|principals|namespaces|ipblocks|from|to$|when|selector|ingress|egress|sources|authentication|authorization|identities|intentions|jwt|audiences|issuer|permissive|strict|allow|deny/i;
/** Leaves that never say anything about security. */
const NOISE_PATH =
  /^(metadata\.(managedFields|resourceVersion|uid|creationTimestamp|generation|annotations\.kubectl\.kubernetes\.io)|status)/;
/** Most leaves shown in one line. */
const MAX_LEAVES = 8;

export function meshConfigChange(doc: EcsDocument): ConfigChange {
  const audit = doc.kubernetes?.audit;
  const ref = audit?.objectRef;
  const kind =
    ref?.resource === undefined ? undefined : [ref.resource, ref.apiGroup].filter(Boolean).join(".");
  const name =
    ref?.name === undefined
      ? undefined
      : ref.namespace === undefined
        ? ref.name
        : `${ref.namespace}/${ref.name}`;
  const resource = [kind, name].filter(Boolean).join(" ") || undefined;
  const verb = audit?.verb ?? "change";
  const out = (summary: string): ConfigChange =>
    resource === undefined ? { summary } : { resource, summary };
  if (verb === "delete" || verb === "deletecollection") return out(`${verb}: the resource no longer applies`);

  const request = audit?.requestObject;
  const response = audit?.responseObject;
  if (request === undefined && response === undefined) {
    const level = audit?.level ?? "unknown";
    return out(
      `${verb}: content not recorded (audit level ${level}; log ${kind ?? "these resources"} at Request or RequestResponse to see what changed)`,
    );
  }
  if (verb === "patch" && Array.isArray(request)) return out(`patch: ${jsonPatch(request)}`);
  const source = verb === "patch" ? request : (request ?? response);
  const leaves = securityLeaves(source);
  if (leaves.length === 0) {
    const after = verb === "patch" && response !== undefined ? securityLeaves(response) : [];
    return out(
      after.length > 0
        ? `${verb}: now ${formatLeaves(after)}`
        : `${verb}: no security-relevant field in the recorded object`,
    );
  }
  return out(`${verb}: ${formatLeaves(leaves)}`);
}

/** JSON Patch operations as `remove spec.rules.0; replace spec.mtls.mode=PERMISSIVE`. */
function jsonPatch(operations: readonly unknown[]): string {
  const parts: string[] = [];
  for (const operation of operations.slice(0, MAX_LEAVES)) {
    if (typeof operation !== "object" || operation === null) continue;
    const { op, path, value } = operation as { op?: unknown; path?: unknown; value?: unknown };
    const where = typeof path === "string" ? path.replace(/^\//, "").replaceAll("/", ".") : "?";
    parts.push(
      value === undefined || op === "remove"
        ? `${String(op)} ${where}`
        : `${String(op)} ${where}=${brief(value)}`,
    );
  }
  const more = operations.length - Math.min(operations.length, MAX_LEAVES);
  return `${parts.join("; ")}${more > 0 ? `; +${more} more` : ""}`;
}

/** `path=value` leaves of an object, security-relevant first, without metadata noise. */
function securityLeaves(value: unknown): string[] {
  const relevant: string[] = [];
  const walk = (node: unknown, path: string, depth: number): void => {
    if (depth > 12 || relevant.length >= MAX_LEAVES * 4) return;
    if (NOISE_PATH.test(path)) return;
    if (Array.isArray(node)) {
      if (node.length === 0) {
        if (SECURITY_KEY.test(path)) relevant.push(`${path}=[]`);
        return;
      }
      node.forEach((item, index) => {
        walk(item, `${path}.${index}`, depth + 1);
      });
      return;
    }
    if (node !== null && typeof node === "object") {
      const entries = Object.entries(node as Record<string, unknown>);
      if (entries.length === 0 && SECURITY_KEY.test(path)) relevant.push(`${path}={}`);
      for (const [key, child] of entries) walk(child, path === "" ? key : `${path}.${key}`, depth + 1);
      return;
    }
    if (path.startsWith("spec") && SECURITY_KEY.test(path)) relevant.push(`${path}=${brief(node)}`);
    else if (node === null && path.startsWith("spec")) relevant.push(`${path}=null`);
  };
  walk(value, "", 0);
  return relevant;
}

function formatLeaves(leaves: readonly string[]): string {
  const shown = leaves.slice(0, MAX_LEAVES).join(", ");
  return leaves.length > MAX_LEAVES ? `${shown} +${leaves.length - MAX_LEAVES} more` : shown;
}

function brief(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
