import { describe, expect, it } from "vitest";
import { meshConfigChange } from "../../../../lambdas/core/alerts/changes.js";
import type { EcsDocument, KubernetesAuditFields } from "../../../../lambdas/core/ecs.js";
import { execEvent } from "./factories.js";

/** An audit event for `verb` on an Istio security resource, at `level`, with the given objects. */
function change(audit: Partial<KubernetesAuditFields>, resource = "peerauthentications"): EcsDocument {
  return execEvent({
    kubernetes: {
      audit: {
        auditID: "a-1",
        level: "RequestResponse",
        stage: "ResponseComplete",
        verb: "patch",
        objectRef: { resource, apiGroup: "security.istio.io", namespace: "shop", name: "default" },
        responseStatus: { code: 200 },
        ...audit,
      },
    },
  });
}

describe("what a mesh_config_change changed", () => {
  it("shows a PeerAuthentication patched to PERMISSIVE from the merge patch", () => {
    const result = meshConfigChange(
      change({
        requestObject: { spec: { mtls: { mode: "PERMISSIVE" } } },
        responseObject: {
          metadata: { name: "default", resourceVersion: "9" },
          spec: { mtls: { mode: "PERMISSIVE" } },
        },
      }),
    );
    expect(result).toEqual({
      resource: "peerauthentications.security.istio.io shop/default",
      summary: "patch: spec.mtls.mode=PERMISSIVE",
    });
  });

  it("shows an AuthorizationPolicy rule removed by a JSON patch", () => {
    const result = meshConfigChange(
      change(
        {
          requestObject: [
            { op: "remove", path: "/spec/rules/0" },
            { op: "replace", path: "/spec/action", value: "ALLOW" },
          ],
        },
        "authorizationpolicies",
      ),
    );
    expect(result.summary).toBe("patch: remove spec.rules.0; replace spec.action=ALLOW");
  });

  it("shows an update that empties an AuthorizationPolicy's rules", () => {
    const result = meshConfigChange(
      change(
        {
          verb: "update",
          requestObject: { metadata: { name: "default" }, spec: { action: "ALLOW", rules: [] } },
        },
        "authorizationpolicies",
      ),
    );
    expect(result.summary).toBe("update: spec.action=ALLOW, spec.rules=[]");
  });

  it("says when the audit level did not record the object", () => {
    const result = meshConfigChange(change({ level: "Metadata" }));
    expect(result.summary).toBe(
      "patch: content not recorded (audit level Metadata; log peerauthentications.security.istio.io at Request or RequestResponse to see what changed)",
    );
  });

  it("says a deletion removes the resource", () => {
    expect(meshConfigChange(change({ verb: "delete" })).summary).toBe(
      "delete: the resource no longer applies",
    );
  });
});
