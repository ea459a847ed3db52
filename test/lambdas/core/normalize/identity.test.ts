import { describe, expect, it } from "vitest";
import {
  consulServiceFromSni,
  istioServiceFromFqdn,
  parseIdentity,
} from "../../../../lambdas/core/normalize/identity.js";

describe("parseIdentity", () => {
  it.each([
    [
      "spiffe://cluster.local/ns/shop/sa/web",
      { trust_domain: "cluster.local", namespace: "shop", service_account: "web" },
    ],
    [
      "spiffe://a1b2.consul/ns/default/dc/dc1/svc/billing",
      { trust_domain: "a1b2.consul", namespace: "default", datacenter: "dc1", service: "billing" },
    ],
    [
      "spiffe://a1b2.consul/ap/team/ns/default/dc/dc1/svc/billing",
      { trust_domain: "a1b2.consul", namespace: "default", datacenter: "dc1", service: "billing" },
    ],
    ["spiffe://spiffe.cilium/identity/4242", { trust_domain: "spiffe.cilium", workload: "4242" }],
    [
      "web.shop.serviceaccount.identity.linkerd.cluster.local",
      { trust_domain: "cluster.local", namespace: "shop", service_account: "web" },
    ],
    ["system:serviceaccount:kube-system:admin", { namespace: "kube-system", service_account: "admin" }],
  ])("parses %s", (principal, expected) => {
    expect(parseIdentity(principal)).toEqual({ principal, ...expected });
  });

  it("treats '-' and empty as unknown and keeps an opaque identity as the principal only", () => {
    expect(parseIdentity("-")).toBeUndefined();
    expect(parseIdentity("")).toBeUndefined();
    expect(parseIdentity("bob")).toEqual({ principal: "bob" });
  });
});

describe("service names", () => {
  it("reads the namespace from an Istio service FQDN", () => {
    expect(istioServiceFromFqdn("cart.store.svc.cluster.local")).toEqual({
      service: "cart.store.svc.cluster.local",
      namespace: "store",
    });
    expect(istioServiceFromFqdn("example.com")).toEqual({ service: "example.com" });
  });

  it("reads Consul's service SNI, with and without partitions", () => {
    expect(consulServiceFromSni("web.default.dc2.internal.td-1.consul")).toEqual({
      service: "web",
      namespace: "default",
      datacenter: "dc2",
      trust_domain: "td-1",
    });
    expect(consulServiceFromSni("web.default.part.dc2.internal-v1.td-1.consul")).toMatchObject({
      service: "web",
      datacenter: "dc2",
    });
    expect(consulServiceFromSni("web.example.com")).toBeUndefined();
  });
});
