import { describe, expect, it } from "vitest";
import {
  isPublicIp,
  parseAuthorizationReason,
  parseCidr,
  podExecDetails,
  resolveK8sOperator,
} from "../../../../lambdas/core/rules/index.js";
import { auditDoc } from "./helpers.js";

const REASON =
  'RBAC: allowed by ClusterRoleBinding "oncall-admins" of ClusterRole "cluster-admin" to User "alice"';

describe("the operator behind an audit event", () => {
  it("resolves kubernetes-admin through the authorization reason", () => {
    expect(
      resolveK8sOperator({
        user: { username: "kubernetes-admin" },
        annotations: { "authorization.k8s.io/reason": REASON },
      }),
    ).toEqual({
      name: "alice",
      authenticatedAs: "kubernetes-admin",
      source: "authorization-reason",
      binding: 'ClusterRoleBinding "oncall-admins"',
    });
  });

  it("keeps kubernetes-admin when the reason names a group, and other users as they are", () => {
    const group =
      'RBAC: allowed by ClusterRoleBinding "kubeadm:cluster-admins" of ClusterRole "cluster-admin" to Group "kubeadm:cluster-admins"';
    expect(
      resolveK8sOperator({
        user: { username: "kubernetes-admin" },
        annotations: { "authorization.k8s.io/reason": group },
      })?.name,
    ).toBe("kubernetes-admin");
    expect(
      resolveK8sOperator({
        user: { username: "bob" },
        annotations: { "authorization.k8s.io/reason": REASON },
      }),
    ).toEqual({
      name: "bob",
      authenticatedAs: "bob",
      source: "user",
    });
    expect(resolveK8sOperator({ user: { username: "kubernetes-admin" } })?.name).toBe("kubernetes-admin");
    expect(resolveK8sOperator(undefined)).toBeUndefined();
  });

  it("prefers the impersonated user", () => {
    expect(
      resolveK8sOperator({ user: { username: "system:admin" }, impersonatedUser: { username: "bob" } }),
    ).toEqual({
      name: "bob",
      authenticatedAs: "system:admin",
      source: "impersonation",
    });
  });

  it("parses RoleBinding reasons and rejects other text", () => {
    expect(
      parseAuthorizationReason(
        'RBAC: allowed by RoleBinding "dev/shop" of Role "edit" to ServiceAccount "ci/shop"',
      ),
    ).toEqual({
      bindingKind: "RoleBinding",
      binding: "dev/shop",
      subjectKind: "ServiceAccount",
      subject: "ci/shop",
    });
    expect(parseAuthorizationReason("")).toBeUndefined();
  });
});

describe("exec details", () => {
  it("reads pod, container and command from the request URI", () => {
    const doc = auditDoc({
      kubernetes: {
        audit: {
          requestURI:
            "/api/v1/namespaces/shop/pods/web-1/exec?command=sh&command=-c&command=id&container=app&stdin=true",
          objectRef: { subresource: "exec" },
        },
      },
    });
    expect(podExecDetails(doc)).toEqual({
      namespace: "shop",
      pod: "web-1",
      subresource: "exec",
      container: "app",
      command: "sh -c id",
    });
  });
});

describe("addresses", () => {
  it("tells public from private, loopback, link-local and CGNAT", () => {
    expect(["203.0.113.5", "8.8.8.8", "2001:db8::1"].map(isPublicIp)).toEqual([true, true, true]);
    expect(
      [
        "10.1.1.1",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.1.1",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "garbage",
        "",
      ].map(isPublicIp),
    ).toEqual(new Array(11).fill(false));
  });

  it("parses CIDR blocks and refuses malformed ones", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({ family: 4, network: 0x0a000000, mask: 0xff000000 });
    expect(parseCidr("10.0.0.0/33")).toBeUndefined();
    expect(parseCidr("10.0.0/8")).toBeUndefined();
    expect(parseCidr("1:2:3::/48")?.family).toBe(6);
    expect(parseCidr("1:::2/8")).toBeUndefined();
  });
});
