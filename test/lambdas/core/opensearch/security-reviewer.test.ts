import { describe, expect, it } from "vitest";
import { buildSecurityRoles, REVIEWER_SECURITY_ROLE } from "../../../../lambdas/core/opensearch/security.js";

const base = {
  firehoseRoleArn: "arn:aws:iam::111122223333:role/firehose",
  detectorRoleArn: "arn:aws:iam::111122223333:role/detector",
};

describe("the scheduled review's OpenSearch role", () => {
  it("maps the review function's role read-only on the audit indices and the alerts", () => {
    const role = buildSecurityRoles({
      ...base,
      reviewerRoleArn: "arn:aws:iam::111122223333:role/reviewer",
    }).find((r) => r.name === REVIEWER_SECURITY_ROLE);
    expect(role?.backendRoles).toEqual(["arn:aws:iam::111122223333:role/reviewer"]);
    expect(role?.body.cluster_permissions).toEqual(["cluster_composite_ops_ro"]);
    expect(role?.body.index_permissions.flatMap((p) => p.allowed_actions)).toEqual(["read"]);
  });

  it("is not created without a reviewer role", () => {
    expect(buildSecurityRoles(base).map((r) => r.name)).not.toContain(REVIEWER_SECURITY_ROLE);
    expect(buildSecurityRoles({ ...base, reviewerRoleArn: "" }).map((r) => r.name)).not.toContain(
      REVIEWER_SECURITY_ROLE,
    );
  });
});
