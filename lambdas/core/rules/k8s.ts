/**
 * Pure helpers the alert builder uses to render Kubernetes audit detections (no AWS, no I/O).
 */
import type { EcsDocument, KubernetesAuditFields } from "../ecs.js";

/** The annotation the RBAC authorizer writes with the binding that allowed the request. */
export const AUTHORIZATION_REASON_ANNOTATION = "authorization.k8s.io/reason";

/** Shared admin credentials whose real operator is only known from the authorization reason. */
export const SHARED_ADMIN_USERS: readonly string[] = ["kubernetes-admin"];

export interface K8sOperator {
  /** Who acted: the person or service account a responder should talk to. */
  readonly name: string;
  /** The authenticated user name as the audit event records it. */
  readonly authenticatedAs?: string;
  /** How `name` was found. */
  readonly source: "user" | "impersonation" | "authorization-reason";
  /** The binding named by the authorization reason, when there is one (`ClusterRoleBinding "x"`). */
  readonly binding?: string;
}

const REASON =
  /allowed by (ClusterRoleBinding|RoleBinding) "([^"]*)"(?: of (?:ClusterRole|Role) "[^"]*")? to (User|Group|ServiceAccount) "([^"]*)"/;

/**
 * Parses an RBAC authorization reason, e.g.
 * `RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "alice"`.
 */
export function parseAuthorizationReason(reason: string):
  | {
      readonly bindingKind: string;
      readonly binding: string;
      readonly subjectKind: string;
      readonly subject: string;
    }
  | undefined {
  const match = REASON.exec(reason);
  if (match === null) return undefined;
  return {
    bindingKind: match[1] as string,
    binding: match[2] as string,
    subjectKind: match[3] as string,
    subject: match[4] as string,
  };
}

/**
 * The operator behind an audit event: the impersonated user when there is one; for shared admin credentials
 * (`kubernetes-admin`), the user the authorization reason names (`… to User "alice"`); otherwise the user name.
 * Undefined when the event names no user.
 */
export function resolveK8sOperator(audit: KubernetesAuditFields | undefined): K8sOperator | undefined {
  const username = audit?.user?.username;
  const impersonated = audit?.impersonatedUser?.username;
  if (impersonated !== undefined && impersonated !== "") {
    return {
      name: impersonated,
      source: "impersonation",
      ...(username === undefined ? {} : { authenticatedAs: username }),
    };
  }
  if (username === undefined || username === "") return undefined;
  if (SHARED_ADMIN_USERS.includes(username)) {
    const reason = audit?.annotations?.[AUTHORIZATION_REASON_ANNOTATION];
    const parsed = reason === undefined ? undefined : parseAuthorizationReason(reason);
    if (parsed !== undefined && parsed.subjectKind === "User" && parsed.subject !== "") {
      return {
        name: parsed.subject,
        authenticatedAs: username,
        source: "authorization-reason",
        binding: `${parsed.bindingKind} "${parsed.binding}"`,
      };
    }
  }
  return { name: username, authenticatedAs: username, source: "user" };
}

export interface PodExecDetails {
  readonly namespace?: string;
  readonly pod?: string;
  /** `exec` or `attach`. */
  readonly subresource?: string;
  readonly container?: string;
  /** The command, its arguments joined with spaces (exec only). */
  readonly command?: string;
}

/** What an exec/attach audit event says about the target and the command (from `requestURI`). */
export function podExecDetails(doc: EcsDocument): PodExecDetails {
  const audit = doc.kubernetes?.audit;
  const ref = audit?.objectRef;
  const uri = audit?.requestURI;
  let container: string | undefined;
  const command: string[] = [];
  if (uri !== undefined) {
    const query = uri.indexOf("?");
    if (query >= 0) {
      const params = new URLSearchParams(uri.slice(query + 1));
      container = params.get("container") ?? undefined;
      command.push(...params.getAll("command"));
    }
  }
  return {
    ...(ref?.namespace === undefined ? {} : { namespace: ref.namespace }),
    ...(ref?.name === undefined ? {} : { pod: ref.name }),
    ...(ref?.subresource === undefined ? {} : { subresource: ref.subresource }),
    ...(container === undefined ? {} : { container }),
    ...(command.length === 0 ? {} : { command: command.join(" ") }),
  };
}
