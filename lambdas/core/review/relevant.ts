/**
 * Which documents the weekly review and the posture read, and in what form: mesh traffic projected to the fields
 * the reports use, and the audit events that change mesh security or RBAC, open an exec session or were refused,
 * whole (without `event.original`). The CLI filters the files with it; the indices path asks OpenSearch for the
 * same documents (`REVIEW_AUDIT_QUERY`) and the same fields, so both feed the builder the same documents.
 */
import { isMeshPolicyChange } from "../alerts/changes.js";
import type { EcsDocument } from "../ecs.js";
import { isMeshTraffic } from "../posture/build.js";
import { isPolicyChange } from "../posture/policies.js";
import { project, TRAFFIC_FIELDS } from "../trail/project.js";
import { isExecSession, isRbacChange } from "./build.js";

/** The API groups whose changes the review lists (mesh security and RBAC). */
export const REVIEW_CHANGE_GROUPS = [
  "security.istio.io",
  "networking.istio.io",
  "policy.linkerd.io",
  "cilium.io",
  "consul.hashicorp.com",
  "rbac.authorization.k8s.io",
] as const;

export function isReviewAudit(doc: EcsDocument): boolean {
  const audit = doc.kubernetes?.audit;
  if (audit === undefined) return false;
  return (
    isPolicyChange(doc) ||
    isMeshPolicyChange(audit) ||
    isRbacChange(audit) ||
    isExecSession(audit) ||
    audit.responseStatus?.code === 403
  );
}

/** The document as the reports keep it, or `undefined` when they do not read it. */
export function reviewRelevant(doc: EcsDocument): EcsDocument | undefined {
  if (doc.kubernetes?.audit !== undefined) {
    if (!isReviewAudit(doc)) return undefined;
    const { original: _original, ...event } = doc.event;
    return { ...doc, event };
  }
  return isMeshTraffic(doc) ? project(doc, TRAFFIC_FIELDS) : undefined;
}

/**
 * The OpenSearch query for the audit events `isReviewAudit` keeps (a superset: the builder applies the same
 * predicates to what comes back): changes to the listed groups, pod exec/attach, and refusals.
 */
export function reviewAuditQuery(): Record<string, unknown> {
  return {
    bool: {
      filter: [{ term: { "event.dataset": "kubernetes.audit" } }],
      should: [
        {
          bool: {
            filter: [
              { terms: { "kubernetes.audit.objectRef.apiGroup": [...REVIEW_CHANGE_GROUPS] } },
              {
                terms: {
                  "kubernetes.audit.verb": ["create", "update", "patch", "delete", "deletecollection"],
                },
              },
            ],
          },
        },
        { terms: { "kubernetes.audit.objectRef.subresource": ["exec", "attach"] } },
        { term: { "kubernetes.audit.responseStatus.code": 403 } },
      ],
      minimum_should_match: 1,
    },
  };
}
