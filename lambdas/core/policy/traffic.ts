/**
 * Mesh calls as the policy tools see them: who called which destination service, with what method and path, and
 * whether the destination's proxy let it through or its authorization policy refused it. Read from the server
 * side's access log (an `inbound` line, or one without a direction); client-side (`outbound`) lines describe the
 * same calls again and are left out.
 */
import type { EcsDocument } from "../ecs.js";

export interface ObservedCall {
  /** The caller's mesh identity (`mesh.source.principal`); undefined when the log has none (plaintext, no mTLS). */
  readonly principal: string | undefined;
  /** Destination service FQDN (`payments.shop.svc.cluster.local`) or name. */
  readonly service: string;
  /** The destination's namespace. */
  readonly namespace: string;
  /** The destination's short name: the first label of the FQDN (the assumed `app` label of its workload). */
  readonly workload: string;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly port: number | undefined;
  /** Answered by the application (no policy refusal, status below 400 and no failing gRPC status). */
  readonly allowed: boolean;
  /** Refused by the destination's authorization policy (`rbac_access_denied…` in the response details). */
  readonly deniedByPolicy: boolean;
  /** The policy Envoy names in the refusal (`ns[NS]-policy[NAME]-rule[N]`), when it does. */
  readonly denyingPolicy: string | undefined;
  readonly mesh: string;
  /** When it happened (ISO 8601); for a call standing for several (`count`), the first of them. */
  readonly time: string;
  /** How many identical calls this one stands for (an aggregation bucket of the indices). @default 1 */
  readonly count?: number;
  /** The last of the `count` calls. @default time */
  readonly lastTime?: string;
}

/**
 * The destination's namespace and short name: from its service FQDN (`name.ns.svc…`) or the mesh fields; without a
 * service (Linkerd's access log names only the `Host`), from the workload, the URL's host or Envoy's authority (an
 * address is no name), its namespace from the host (`name.ns`, `name.ns.svc…`), else from the pod that logged an
 * inbound line (the destination's own proxy), else, for a short host, the caller's namespace (Kubernetes resolves a
 * short name in the client's namespace). Undefined when neither name nor namespace can be told.
 */
export function destinationOf(
  doc: EcsDocument,
): { service: string; namespace: string; workload: string } | undefined {
  const service = doc.mesh?.destination?.service;
  if (service !== undefined && service !== "") {
    const labels = service.split(".");
    const workload = labels[0] as string;
    const namespace = doc.mesh?.destination?.namespace ?? labels[1] ?? "default";
    return { service, namespace, workload };
  }
  const named =
    doc.mesh?.destination?.workload ??
    doc.url?.domain ??
    (doc as { envoy?: { authority?: string } }).envoy?.authority;
  if (named === undefined || named === "") return undefined;
  const host = named.replace(/:\d+$/, "");
  const labels = host.split(".");
  if (/^\d+$/.test(labels[labels.length - 1] ?? "") || host.includes(":") || host.includes("["))
    return undefined;
  const fromHost = labels.length >= 2 && (labels.length === 2 || labels[2] === "svc") ? labels[1] : undefined;
  const caller = doc.mesh?.source?.principal;
  const namespace =
    doc.mesh?.destination?.namespace ??
    fromHost ??
    (doc.mesh?.direction === "inbound" ? doc.kubernetes?.namespace : undefined) ??
    (labels.length === 1 && caller !== undefined ? identityParts(caller).namespace : undefined);
  if (namespace === undefined) return undefined;
  return { service: host, namespace, workload: labels[0] as string };
}

const RBAC_DENIED = /^rbac_access_denied(?:_matched_policy\[(.*)\])?/;

/** The call a document records, or undefined for anything else (client-side lines, no destination service). */
export function observeCall(doc: EcsDocument): ObservedCall | undefined {
  if (doc.mesh === undefined || doc.mesh.direction === "outbound") return undefined;
  const destination = destinationOf(doc);
  if (destination === undefined) return undefined;
  const status = doc.http?.response?.status_code;
  const details = (doc as { envoy?: { response_code_details?: string } }).envoy?.response_code_details;
  const denied = details === undefined ? null : RBAC_DENIED.exec(details);
  const grpc = doc.mesh.grpc_status_code;
  const deniedByPolicy = denied !== null && (status === undefined || status === 403);
  const policy = denied?.[1];
  return {
    principal: doc.mesh.source?.principal,
    ...destination,
    method: doc.http?.request?.method?.toUpperCase(),
    path: doc.url?.path,
    port: doc.destination?.port,
    allowed:
      !deniedByPolicy &&
      (status === undefined || status < 400) &&
      (grpc === undefined || grpc === 0) &&
      doc.event.outcome !== "failure",
    deniedByPolicy,
    denyingPolicy: policy === undefined || policy === "none" ? undefined : policy,
    mesh: doc.mesh.name,
    time: doc["@timestamp"],
  };
}

/** Istio writes principals without the `spiffe://` scheme in policies (`cluster.local/ns/shop/sa/frontend`). */
export function istioPrincipal(principal: string): string {
  return principal.startsWith("spiffe://") ? principal.slice("spiffe://".length) : principal;
}

/** Namespace and service account of a mesh identity (SPIFFE Istio/Consul form, or Linkerd's DNS-like form). */
export function identityParts(principal: string): { namespace?: string; account?: string; service?: string } {
  const spiffe = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/(?:sa\/([^/]+)|dc\/[^/]+\/svc\/([^/]+))/.exec(principal);
  if (spiffe !== null) {
    return {
      ...(spiffe[1] === undefined ? {} : { namespace: spiffe[1] }),
      ...(spiffe[2] === undefined ? {} : { account: spiffe[2] }),
      ...(spiffe[3] === undefined ? {} : { service: spiffe[3] }),
    };
  }
  const linkerd = /^([^.]+)\.([^.]+)\.serviceaccount\.identity\.linkerd\./.exec(principal);
  if (linkerd !== null) return { account: linkerd[1] as string, namespace: linkerd[2] as string };
  return {};
}
