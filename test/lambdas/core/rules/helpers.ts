import type { EcsDocument } from "../../../../lambdas/core/ecs.js";
import { buildRulePack, type RulePack } from "../../../../lambdas/core/rules/index.js";
import { deepMerge } from "../../../../lambdas/core/rules/testing.js";

/** Any subset of a document's keys, with values of any shape (tests build odd documents on purpose). */
type Over<T> = { [K in keyof T]?: unknown };

/** An Istio inbound access-log document; `over` is deep-merged. */
export function meshDoc(over: Over<EcsDocument> = {}): EcsDocument {
  return deepMerge(
    {
      "@timestamp": "2026-03-02T10:00:00.000Z",
      ecs: { version: "8.17.0" },
      event: {
        kind: "event",
        category: ["network", "web"],
        type: ["access"],
        action: "http_request",
        dataset: "istio.access",
      },
      source: { ip: "10.44.1.23" },
      mesh: {
        name: "istio",
        direction: "inbound",
        mtls: true,
        source: { principal: "spiffe://cluster.local/ns/shop/sa/frontend", trust_domain: "cluster.local" },
        destination: { service: "payments.shop.svc.cluster.local" },
      },
      http: { request: { method: "GET" }, response: { status_code: 200 } },
      url: { path: "/api/v1/payments" },
    },
    over as Record<string, unknown>,
  ) as unknown as EcsDocument;
}

/** A Kubernetes audit document (as the normalizer produces it); `over` is deep-merged. */
export function auditDoc(over: Over<EcsDocument> = {}): EcsDocument {
  return deepMerge(
    {
      "@timestamp": "2026-03-02T10:00:00.000Z",
      ecs: { version: "8.17.0" },
      event: {
        kind: "event",
        category: ["api"],
        type: ["creation"],
        action: "create",
        dataset: "kubernetes.audit",
      },
      source: { ip: "10.0.12.7" },
      kubernetes: {
        audit: {
          stage: "ResponseComplete",
          verb: "create",
          user: { username: "alice" },
          objectRef: { resource: "pods", namespace: "shop", name: "web-1" },
          responseStatus: { code: 201 },
        },
      },
    },
    over as Record<string, unknown>,
  ) as unknown as EcsDocument;
}

/** A pack from YAML texts named `test/<index>.yml`. */
export function packOf(rules: readonly string[], placeholders?: string, overrides?: unknown): RulePack {
  return buildRulePack(
    rules.map((text, index) => ({ file: `test/rule${index}.yml`, text })),
    placeholders === undefined ? [] : [{ file: "test/placeholders.yml", text: placeholders }],
    overrides,
  );
}

/** A single-event rule YAML around a detection block (indented by the caller as YAML under `detection:`). */
export function ruleYaml(
  detection: string,
  extra = "",
  name = "t_rule",
  logsource = "product: mesh",
): string {
  return `title: Test rule
id: ${name}-id
name: ${name}
level: high
logsource:
  ${logsource}
detection:
${detection
  .split("\n")
  .map((line) => `  ${line}`)
  .join("\n")}
${extra}`;
}
