import { describe, expect, it } from "vitest";
import { ALERTS_INDEX } from "../../../../lambdas/core/contracts.js";
import { DAILY_AUDIT_INDEX_PATTERN } from "../../../../lambdas/core/opensearch/ism-policy.js";
import { buildSecurityRoles, roleMappingBody } from "../../../../lambdas/core/opensearch/security.js";

const arns = {
  firehoseRoleArn: "arn:aws:iam::123456789012:role/firehose",
  detectorRoleArn: "arn:aws:iam::123456789012:role/detector",
};

describe("buildSecurityRoles", () => {
  it("lets Firehose only create the daily indices, index documents into them and read their state", () => {
    // Act
    const firehose = buildSecurityRoles(arns).find((role) => role.name === "audit_trail_firehose");

    // Assess
    expect(firehose?.body.cluster_permissions).toEqual(["cluster_composite_ops", "cluster_monitor"]);
    expect(firehose?.body.index_permissions).toEqual([
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
    ]);
    expect(firehose?.backendRoles).toEqual([arns.firehoseRoleArn]);
  });

  it("gives Firehose nothing that deletes, updates or administers an index", () => {
    // Act
    const actions = buildSecurityRoles(arns)
      .filter((role) => role.name === "audit_trail_firehose")
      .flatMap((role) => role.body.index_permissions.flatMap((permission) => permission.allowed_actions));

    // Assess: no action group that includes them (manage, crud, write, delete, indices_all) and no such action
    for (const forbidden of ["manage", "crud", "write", "delete", "indices_all", "*", "data_access"]) {
      expect(actions).not.toContain(forbidden);
    }
    expect(
      actions.filter(
        (action) =>
          /delete|update|admin\/(delete|close|settings\/update)|\*$/.test(action) &&
          action !== "indices:data/write/bulk*",
      ),
    ).toEqual([]);
  });

  it("lets the detector read audit documents and write only the alerts index", () => {
    // Act
    const detector = buildSecurityRoles(arns).find((role) => role.name === "audit_trail_detector");

    // Assess
    expect(detector?.body.index_permissions).toEqual([
      { index_patterns: [DAILY_AUDIT_INDEX_PATTERN], allowed_actions: ["read"] },
      { index_patterns: [ALERTS_INDEX], allowed_actions: ["read", "crud", "indices:admin/refresh*"] },
    ]);
  });

  it("gives the optional analyst read-only access, and no role at all when unset", () => {
    // Act
    const withAnalyst = buildSecurityRoles({
      ...arns,
      analystRoleArn: "arn:aws:iam::123456789012:role/analyst",
    });
    const without = buildSecurityRoles({ ...arns, analystRoleArn: "" });

    // Assess
    const analyst = withAnalyst.find((role) => role.name === "audit_trail_analyst");
    expect(analyst?.body.cluster_permissions).toEqual(["cluster_composite_ops_ro"]);
    expect(analyst?.body.index_permissions.flatMap((permission) => permission.allowed_actions)).toEqual([
      "read",
    ]);
    expect(without.map((role) => role.name)).toEqual(["audit_trail_firehose", "audit_trail_detector"]);
  });

  it("maps IAM role ARNs as backend roles", () => {
    // Act
    const [firehose] = buildSecurityRoles(arns);

    // Assess
    expect(firehose && roleMappingBody(firehose)).toEqual({
      backend_roles: [arns.firehoseRoleArn],
      hosts: [],
      users: [],
    });
  });
});
