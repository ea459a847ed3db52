/**
 * Format detection per record: one entry point for a text line and one for a parsed JSON object. Detection is by
 * cheap structural checks (first character, distinguishing keys), never by trying every parser in turn.
 */
import type { EnvoyFlavor } from "./envoy.js";
import {
  isEnvoyCustomJson,
  isEnvoyDefaultJson,
  looksLikeEnvoyAccessJson,
  parseEnvoyJson,
} from "./envoy-json.js";
import { looksLikeEnvoyText, parseEnvoyText } from "./envoy-text.js";
import { hubbleFlow, parseHubble } from "./hubble.js";
import {
  aksInner,
  gkeProblem,
  isAuditEvent,
  isGkeAudit,
  parseAuditEvent,
  parseGkeAudit,
} from "./k8s-audit.js";
import { isLinkerdJson, looksLikeLinkerdApache, parseLinkerdApache, parseLinkerdJson } from "./linkerd.js";
import { type ParseResult, reject } from "./types.js";

export {
  DATASETS,
  type Dataset,
  describeFailure,
  FAILURE_CODES,
  type Failure,
  type FailureCode,
  type ParseResult,
  type Rejected,
} from "./types.js";

/**
 * Who sent a line, by the shipper's metadata (the container, the tail path), never by the line's content:
 * `istio` for an `istio-proxy` container, `consul` for Consul's dataplane, `linkerd` for `linkerd-proxy`.
 */
export type Sender = EnvoyFlavor | "linkerd";

function envoySender(sender: Sender | undefined): EnvoyFlavor | undefined {
  return sender === "linkerd" ? undefined : sender;
}

/** Parses one non-JSON log line (Envoy/Istio text, Linkerd apache). */
export function parseTextLine(line: string, sender?: Sender): ParseResult {
  if (looksLikeEnvoyText(line)) return parseEnvoyText(line, envoySender(sender));
  if (looksLikeLinkerdApache(line)) return parseLinkerdApache(line);
  return reject(
    "unrecognized_log_line",
    `unrecognized log line (not Envoy/Istio text, not Linkerd apache): ${preview(line)}`,
  );
}

/**
 * Parses one JSON object of a known format; `undefined` when the object is none of them (the caller then tries
 * the Fluent Bit envelope).
 */
export function parseJsonObject(o: Record<string, unknown>, sender?: Sender): ParseResult | undefined {
  const proxy = envoySender(sender);
  if (proxy !== undefined && looksLikeEnvoyAccessJson(o)) return parseEnvoyJson(o, proxy);
  if (isAuditEvent(o)) return parseAuditEvent(o);
  if (hubbleFlow(o) !== undefined) return parseHubble(o);
  if (isLinkerdJson(o)) return parseLinkerdJson(o);
  if (isEnvoyDefaultJson(o) || isEnvoyCustomJson(o)) return parseEnvoyJson(o, proxy);
  if (isGkeAudit(o)) return parseGkeAudit(o);
  // A cloud wrapper names the problem of its inner event, never "unrecognized JSON record".
  const aks = aksInner(o);
  if (aks !== undefined) {
    if ("problem" in aks) return reject("aks_audit", aks.problem);
    const parsed = parseAuditEvent(aks.event);
    return parsed.ok ? parsed : reject("aks_audit", `aks audit: properties.log: ${parsed.reason}`);
  }
  const gke = gkeProblem(o);
  if (gke !== undefined) return reject("gke_audit", gke);
  if (o.kind === "Event" || "auditID" in o)
    return reject("kubernetes_audit", "kubernetes audit: event without auditID/verb/requestURI");
  return undefined;
}

export function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
