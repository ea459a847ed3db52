import type { EcsDocument } from "../ecs.js";

/** What a parser returns for one log line or one JSON object. */
export type ParseResult = { ok: true; document: EcsDocument } | { ok: false; reason: string };

export function reject(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

/** The data sets, one per source; `event.dataset` takes exactly these values. */
export const DATASETS = {
  istio: "istio.access",
  envoy: "envoy.access",
  linkerd: "linkerd.access",
  consul: "consul.access",
  cilium: "cilium.flow",
  audit: "kubernetes.audit",
} as const;
export type Dataset = (typeof DATASETS)[keyof typeof DATASETS];
