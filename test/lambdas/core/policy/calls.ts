/** The observed calls the policy tests judge. */
import type { ObservedCall } from "../../../../lambdas/core/policy/traffic.js";

/**
 * A call that succeeded: shop's frontend (Istio) calling GET /api/orders on the orders workload's port 8080, no
 * policy denying it; `over` sets what the test is about.
 */
export function observedCall(over: Partial<ObservedCall> = {}): ObservedCall {
  return {
    principal: "spiffe://cluster.local/ns/shop/sa/frontend",
    service: "orders.shop.svc.cluster.local",
    namespace: "shop",
    workload: "orders",
    method: "GET",
    path: "/api/orders",
    port: 8080,
    allowed: true,
    deniedByPolicy: false,
    denyingPolicy: undefined,
    mesh: "istio",
    time: "2026-03-02T10:00:00.000Z",
    ...over,
  };
}
