/**
 * Fine-grained access control: the OpenSearch security roles this stack needs and the mappings of its IAM roles
 * onto them (security plugin REST API, `_plugins/_security/api/roles/<name>` and `.../rolesmapping/<name>`).
 * With an IAM master role, IAM roles are matched as backend roles.
 *
 * The Firehose role's permissions are those AWS lists for a Firehose delivery role on a domain with fine-grained
 * access control (cluster `cluster_composite_ops`, `cluster_monitor`; index `create_index`, `manage`, `crud`:
 * Amazon OpenSearch Service Developer Guide, "Fine-grained access control", Integrations,
 * https://docs.aws.amazon.com/opensearch-service/latest/developerguide/fgac.html#fgac-integrations), restricted to
 * the daily audit indices.
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
}

export const FIREHOSE_SECURITY_ROLE = "audit_trail_firehose";
export const DETECTOR_SECURITY_ROLE = "audit_trail_detector";
export const ANALYST_SECURITY_ROLE = "audit_trail_analyst";

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
            allowed_actions: ["create_index", "manage", "crud"],
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
    roles.push({
      name: ANALYST_SECURITY_ROLE,
      body: {
        description: "mesh-audit-trail: analysts search audit documents and alerts, read-only",
        cluster_permissions: ["cluster_composite_ops_ro"],
        index_permissions: [
          { index_patterns: [DAILY_AUDIT_INDEX_PATTERN, ALERTS_INDEX], allowed_actions: ["read"] },
        ],
      },
      backendRoles: [options.analystRoleArn],
    });
  }
  return roles;
}

/** Body of `PUT _plugins/_security/api/rolesmapping/<role>`. */
export function roleMappingBody(role: SecurityRole): Record<string, unknown> {
  return { backend_roles: [...role.backendRoles], hosts: [], users: [] };
}
