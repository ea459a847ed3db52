/**
 * Fine-grained access control: the OpenSearch security roles this stack needs and the mappings of its IAM roles
 * onto them (security plugin REST API, `_plugins/_security/api/roles/<name>` and `.../rolesmapping/<name>`).
 * With an IAM master role, IAM roles are matched as backend roles.
 *
 * The Firehose role may do what delivery needs and nothing more: create the daily index, index documents into it
 * (`_bulk`), and read the cluster, mapping and index state Firehose checks (cluster `cluster_composite_ops`,
 * `cluster_monitor`; index `create_index`, `indices:data/write/index`, `indices:data/write/bulk*`,
 * `indices:admin/mappings/get`, `indices_monitor`), on the daily audit indices only. The AWS developer guide's
 * example grants `manage` and `crud` ("Fine-grained access control", Integrations), which would also let the
 * delivery role delete, update and reconfigure the audit indices; it never does.
 */
import { ALERTS_INDEX } from "../contracts.js";
import { DAILY_AUDIT_INDEX_PATTERN } from "./ism-policy.js";

export interface SecurityRole {
  readonly name: string;
  readonly body: {
    readonly description: string;
    readonly cluster_permissions: readonly string[];
    readonly index_permissions: readonly {
      index_patterns: readonly string[];
      allowed_actions: readonly string[];
    }[];
  };
  /** IAM role ARNs mapped to the role as backend roles. */
  readonly backendRoles: readonly string[];
}

export interface SecurityOptions {
  readonly firehoseRoleArn: string;
  readonly detectorRoleArn: string;
  /** Empty or absent: no analyst role. */
  readonly analystRoleArn?: string;
  /** The scheduled review function's role (reads audit documents and alerts). Empty or absent: none. */
  readonly reviewerRoleArn?: string;
}

export const FIREHOSE_SECURITY_ROLE = "audit_trail_firehose";
export const DETECTOR_SECURITY_ROLE = "audit_trail_detector";
export const ANALYST_SECURITY_ROLE = "audit_trail_analyst";
export const REVIEWER_SECURITY_ROLE = "audit_trail_reviewer";

/** The roles to create and map, in apply order. */
export function buildSecurityRoles(options: SecurityOptions): SecurityRole[] {
  const roles: SecurityRole[] = [
    {
      name: FIREHOSE_SECURITY_ROLE,
      body: {
        description: "mesh-audit-trail: Firehose delivers audit documents into the daily indices",
        cluster_permissions: ["cluster_composite_ops", "cluster_monitor"],
        index_permissions: [
          {
            index_patterns: [DAILY_AUDIT_INDEX_PATTERN],
            allowed_actions: [
              "create_index",
              "indices:data/write/index",
              "indices:data/write/bulk*",
              "indices:admin/mappings/get",
              "indices_monitor",
            ],
          },
        ],
      },
      backendRoles: [options.firehoseRoleArn],
    },
    {
      name: DETECTOR_SECURITY_ROLE,
      body: {
        description: "mesh-audit-trail: the detector reads audit documents and writes alerts",
        cluster_permissions: ["cluster_composite_ops", "cluster_monitor"],
        index_permissions: [
          { index_patterns: [DAILY_AUDIT_INDEX_PATTERN], allowed_actions: ["read"] },
          { index_patterns: [ALERTS_INDEX], allowed_actions: ["read", "crud", "indices:admin/refresh*"] },
        ],
      },
      backendRoles: [options.detectorRoleArn],
    },
  ];
  if (options.analystRoleArn !== undefined && options.analystRoleArn !== "") {
    roles.push(
      readOnlyRole(
        ANALYST_SECURITY_ROLE,
        "mesh-audit-trail: analysts search audit documents and alerts, read-only",
        options.analystRoleArn,
      ),
    );
  }
  if (options.reviewerRoleArn !== undefined && options.reviewerRoleArn !== "") {
    roles.push(
      readOnlyRole(
        REVIEWER_SECURITY_ROLE,
        "mesh-audit-trail: the scheduled review reads audit documents and alerts, read-only",
        options.reviewerRoleArn,
      ),
    );
  }
  return roles;
}

/** A role that searches the audit documents and the alerts and changes nothing (the analysts', the review's). */
function readOnlyRole(name: string, description: string, roleArn: string): SecurityRole {
  return {
    name,
    body: {
      description,
      cluster_permissions: ["cluster_composite_ops_ro"],
      index_permissions: [
        { index_patterns: [DAILY_AUDIT_INDEX_PATTERN, ALERTS_INDEX], allowed_actions: ["read"] },
      ],
    },
    backendRoles: [roleArn],
  };
}

/** Body of `PUT _plugins/_security/api/rolesmapping/<role>`. */
export function roleMappingBody(role: SecurityRole): Record<string, unknown> {
  return { backend_roles: [...role.backendRoles], hosts: [], users: [] };
}
