/**
 * The fields of a document the posture and the weekly review read, so that the CLI keeps a week of traffic in
 * memory as small objects and the from-indices path asks OpenSearch for the same fields (`_source` includes): both
 * paths then feed the same documents to the same code.
 */
import type { EcsDocument } from "../ecs.js";

/** Dotted paths of a mesh traffic document the reports read. */
export const TRAFFIC_FIELDS = [
  "@timestamp",
  "event.id",
  "event.dataset",
  "event.outcome",
  "event.type",
  "orchestrator.cluster.name",
  "kubernetes.namespace",
  "kubernetes.pod.name",
  "mesh.name",
  "mesh.direction",
  "mesh.mtls",
  "mesh.mtls_evidence",
  "mesh.source",
  "mesh.destination",
  "mesh.grpc_status_code",
  "url.domain",
  "envoy.authority",
  "source.ip",
  "http.response.status_code",
  "tls.client.not_before",
  "tls.client.not_after",
  "rule.name",
] as const;

function getPath(doc: Record<string, unknown>, path: string): unknown {
  // "@timestamp" and other dotless keys; then nested objects.
  if (path in doc) return doc[path];
  let node: unknown = doc;
  for (const part of path.split(".")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  if (path === "@timestamp") {
    doc[path] = value;
    return;
  }
  const parts = path.split(".");
  let node = doc;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== "object" || next === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

/** A copy of `doc` with only `fields` (what OpenSearch's `_source` includes return). */
export function project(doc: EcsDocument, fields: readonly string[]): EcsDocument {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = getPath(doc as unknown as Record<string, unknown>, field);
    if (value !== undefined) setPath(out, field, value);
  }
  return out as unknown as EcsDocument;
}
