/**
 * Envoy's text access logs, by a hand-written scanner (no regular expression over the whole line):
 * - Istio ≥ 1.9 default (`%UPSTREAM_CLUSTER_RAW%` or, 1.9–1.23, `%UPSTREAM_CLUSTER%`): 21 fields after the time;
 * - Istio ≤ 1.8 (mixer status + transport failure reason, optional route name) and Istio 1.1 (no transport
 *   failure reason);
 * - Envoy's default format (plain Envoy, Ambassador/Emissary with an `ACCESS ` prefix, Contour, …).
 * Quoted fields may hold spaces; a quoted field ends at a `"` followed by a space or the end of the line.
 */
import { buildEnvoyDocument, type EnvoyAccess, type EnvoyFlavor, looksLikeConsul } from "./envoy.js";
import { type ParseResult, reject } from "./types.js";
import { int, str } from "./values.js";

const MAX_FIELDS = 32;

interface Tokens {
  values: string[];
  quoted: boolean[];
}

/** Splits the part after `[time] ` into fields; `undefined` when a quote is never closed. */
function tokenize(line: string, start: number): Tokens | undefined {
  const values: string[] = [];
  const quoted: boolean[] = [];
  let i = start;
  const n = line.length;
  while (i < n && values.length < MAX_FIELDS) {
    if (line.charCodeAt(i) === 34 /* " */) {
      let end = i + 1;
      for (;;) {
        end = line.indexOf('"', end);
        if (end === -1) return undefined;
        if (end + 1 >= n || line.charCodeAt(end + 1) === 32) break;
        end++;
      }
      values.push(line.slice(i + 1, end));
      quoted.push(true);
      i = end + 2;
    } else {
      let end = line.indexOf(" ", i);
      if (end === -1) end = n;
      values.push(line.slice(i, end));
      quoted.push(false);
      i = end + 1;
    }
    while (i < n && line.charCodeAt(i) === 32) i++;
  }
  return { values, quoted };
}

function allQuoted(t: Tokens, from: number, to: number): boolean {
  for (let i = from; i <= to; i++) if (!t.quoted[i]) return false;
  return true;
}
function noneQuoted(t: Tokens, from: number, to: number): boolean {
  for (let i = from; i <= to; i++) if (t.quoted[i]) return false;
  return true;
}

/** Whether a line looks like an Envoy text access log at all (cheap, for format detection). */
export function looksLikeEnvoyText(line: string): boolean {
  return line.charCodeAt(0) === 91 /* [ */ || line.startsWith("ACCESS [");
}

/** `sender`: the flavor the shipper's metadata names (an `istio-proxy` container is Istio whatever the line shows). */
export function parseEnvoyText(input: string, sender?: EnvoyFlavor): ParseResult {
  let line = input;
  if (line.startsWith("ACCESS ")) line = line.slice(7);
  let n = line.length;
  while (
    n > 0 &&
    (line.charCodeAt(n - 1) === 10 || line.charCodeAt(n - 1) === 13 || line.charCodeAt(n - 1) === 32)
  )
    n--;
  if (n !== line.length) line = line.slice(0, n);
  if (line.charCodeAt(0) !== 91) return reject("envoy_text", "envoy text: line does not start with '[time]'");
  const close = line.indexOf("]");
  if (close === -1 || line.charCodeAt(close + 1) !== 32 || line.charCodeAt(close + 2) !== 34) {
    return reject(
      "envoy_text",
      "envoy text: expected '[time] \"METHOD PATH PROTOCOL\"' (an Envoy application log line?)",
    );
  }
  const startTime = line.slice(1, close);
  const t = tokenize(line, close + 2);
  if (t === undefined) return reject("envoy_text", "envoy text: unterminated quoted field");
  const v = t.values;
  const request = v[0] as string;
  const s1 = request.indexOf(" ");
  const s2 = request.lastIndexOf(" ");
  if (s1 <= 0 || s2 === s1) return reject("envoy_text", `envoy text: malformed request line "${request}"`);
  const method = request.slice(0, s1);
  const path = request.slice(s1 + 1, s2);
  const protocol = request.slice(s2 + 1);
  const httpProtocol = protocol.startsWith("HTTP/");
  if (!httpProtocol && !(protocol === "-" && method === "-" && path === "-")) {
    return reject("envoy_text", `envoy text: malformed request line "${request}"`);
  }

  const count = v.length;
  // The layout follows from the quoted-field pattern; `b` is the index of BYTES_RECEIVED in each.
  let layout: "istio" | "istio-1.8" | "istio-1.1" | "envoy";
  let b: number;
  if (count >= 21 && t.quoted[5] && noneQuoted(t, 1, 4) && allQuoted(t, 10, 14)) {
    layout = "istio";
    b = 6;
  } else if (count >= 19 && t.quoted[3] && t.quoted[4] && allQuoted(t, 9, 13)) {
    layout = "istio-1.8";
    b = 5;
  } else if (count >= 18 && t.quoted[3] && !t.quoted[4] && allQuoted(t, 8, 12)) {
    layout = "istio-1.1";
    b = 4;
  } else if (count >= 12 && noneQuoted(t, 1, 6) && allQuoted(t, 7, 11)) {
    layout = "envoy";
    b = 3;
  } else {
    return reject("envoy_text", `envoy text: unrecognized layout (${count} fields)`);
  }
  const code = int(v[1]);
  if (code === undefined) return reject("envoy_text", `envoy text: response code "${v[1]}" is not a number`);
  for (let k = b; k < b + 3; k++) {
    if (int(v[k]) === undefined && str(v[k]) !== undefined) {
      return reject("envoy_text", `envoy text: field ${k + 2} "${v[k]}" is not a number`);
    }
  }
  const mesh = layout !== "envoy";
  // One object literal with every field, so all entries share one hidden class.
  const access: EnvoyAccess = {
    startTime,
    method: str(method),
    path: str(path),
    protocol: str(protocol),
    responseCode: code,
    responseFlags: str(v[2]),
    responseCodeDetails: layout === "istio" ? str(v[3]) : undefined,
    connectionTerminationDetails: layout === "istio" ? str(v[4]) : undefined,
    upstreamTransportFailureReason:
      layout === "istio" ? str(v[5]) : layout === "istio-1.8" ? str(v[4]) : undefined,
    bytesReceived: int(v[b]),
    bytesSent: int(v[b + 1]),
    durationMs: int(v[b + 2]),
    upstreamServiceTimeMs: int(v[b + 3]),
    xForwardedFor: str(v[b + 4]),
    userAgent: str(v[b + 5]),
    requestId: str(v[b + 6]),
    authority: str(v[b + 7]),
    upstreamHost: str(v[b + 8]),
    upstreamCluster: mesh ? str(v[b + 9]) : undefined,
    upstreamLocalAddress: mesh ? str(v[b + 10]) : undefined,
    downstreamLocalAddress: mesh ? str(v[b + 11]) : undefined,
    downstreamRemoteAddress: mesh ? str(v[b + 12]) : undefined,
    requestedServerName: mesh ? str(v[b + 13]) : undefined,
    routeName: mesh ? str(v[b + 14]) : undefined,
    sourcePrincipal: undefined,
    destinationService: undefined,
    mtls: undefined,
    mtlsEvidence: undefined,
    connectionSecurityPolicy: undefined,
    grpcStatus: undefined,
    upstreamRequestAttemptCount: undefined,
    requestDurationMs: undefined,
    responseDurationMs: undefined,
    traceId: undefined,
  };
  const flavor = sender ?? (layout === "envoy" ? "envoy" : looksLikeConsul(access) ? "consul" : "istio");
  return buildEnvoyDocument(access, flavor);
}
