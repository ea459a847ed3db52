/**
 * Value helpers shared by the parsers: Envoy prints `-` for unset, JSON encoders print `null` or `""`, and numbers
 * arrive as numbers or as numeric strings. Every helper returns `undefined` for "unknown", so that a field a
 * source does not know is absent from the document, never `null`, `"-"` or `""`.
 */
import { isIP } from "node:net";

/** A present, meaningful string: not `-`, not empty, not `null`/`undefined`, not a non-string. */
export function str(value: unknown): string | undefined {
  if (typeof value === "string") {
    return value === "" || value === "-" ? undefined : value;
  }
  if (typeof value === "number" && Number.isFinite(value)) {
    return String(value);
  }
  return undefined;
}

/**
 * A map of strings (Kubernetes labels, annotations): the entries whose value is a non-empty string; `undefined`
 * when none is.
 */
export function stringMap(value: unknown): Record<string, string> | undefined {
  const o = obj(value);
  if (o === undefined) return undefined;
  const out: Record<string, string> = {};
  let any = false;
  for (const key of Object.keys(o)) {
    const v = o[key];
    if (typeof v === "string" && v !== "") {
      out[key] = v;
      any = true;
    }
  }
  return any ? out : undefined;
}

/** A non-negative integer from a JSON number or a string of digits; anything else is unknown. */
export function int(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }
  if (typeof value !== "string" || value.length === 0 || value.length > 15) {
    return undefined;
  }
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) {
      return undefined;
    }
    n = n * 10 + c;
  }
  return n;
}

/** A boolean from `true`/`false` or the strings `"true"`/`"false"` (any case); anything else is unknown. */
export function bool(value: unknown): boolean | undefined {
  if (typeof value === "boolean") {
    return value;
  }
  if (typeof value === "string") {
    const lower = value.toLowerCase();
    if (lower === "true") return true;
    if (lower === "false") return false;
  }
  return undefined;
}

/** A plain JSON object (not an array, not null). */
export function obj(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The strings of an array, skipping unset values; `undefined` when none remain. */
export function strings(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) {
    return undefined;
  }
  const out: string[] = [];
  for (const item of value) {
    const s = str(item);
    if (s !== undefined) out.push(s);
  }
  return out.length === 0 ? undefined : out;
}

/** `4` or `6` for a valid IP address, `0` otherwise. */
export function ipVersion(value: string): 0 | 4 | 6 {
  if (isIPv4(value)) return 4;
  return value.indexOf(":") === -1 ? 0 : (isIP(value) as 0 | 6);
}

/** Dotted-quad IPv4 without leading zeros, scanned by hand (`net.isIP` runs a regular expression). */
export function isIPv4(value: string): boolean {
  const n = value.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let digits = 0;
  let octet = 0;
  let first = 0;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 46 : value.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || octet > 255 || (digits > 1 && first === 0)) return false;
      parts++;
      digits = 0;
      octet = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 0) first = c - 48;
      octet = octet * 10 + (c - 48);
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return parts === 4;
}

/** An endpoint from Envoy's `ip:port`, `[v6]:port`, a bare IP, or anything else (kept as `address`). */
export interface ParsedAddress {
  address: string;
  ip?: string;
  port?: number;
}

export function address(value: unknown): ParsedAddress | undefined {
  const text = str(value);
  if (text === undefined) {
    return undefined;
  }
  if (text.charCodeAt(0) === 91 /* [ */) {
    const close = text.indexOf("]");
    if (close > 0) {
      const ip = text.slice(1, close);
      const port = text.charCodeAt(close + 1) === 58 ? int(text.slice(close + 2)) : undefined;
      if (isIP(ip) === 6) {
        return port === undefined ? { address: text, ip } : { address: text, ip, port };
      }
    }
    return { address: text };
  }
  const colon = text.lastIndexOf(":");
  if (colon > 0 && text.indexOf(":") === colon) {
    const ip = text.slice(0, colon);
    const port = int(text.slice(colon + 1));
    if (port !== undefined && port <= 65535 && isIPv4(ip)) {
      return { address: text, ip, port };
    }
    return { address: text };
  }
  if (ipVersion(text) !== 0) {
    return { address: text, ip: text };
  }
  return { address: text };
}

/** `HTTP/1.1` → `1.1`, `HTTP/2` → `2`; `-` and unknown shapes → undefined. */
export function httpVersion(protocol: string | undefined): string | undefined {
  if (protocol === undefined) return undefined;
  const upper = protocol.toUpperCase();
  if (upper.startsWith("HTTP/") && upper.length > 5) {
    return protocol.slice(5);
  }
  return undefined;
}

/** Splits a request target into path and query; an absolute URI also yields scheme, domain and port. */
export interface ParsedUrl {
  original: string;
  path?: string;
  query?: string;
  scheme?: string;
  domain?: string;
  port?: number;
}

export function url(target: string): ParsedUrl {
  const out: ParsedUrl = { original: target };
  let rest = target;
  // The usual origin-form target (`/path?query`) cannot hold a scheme: no regular expression for it.
  const c0 = rest.charCodeAt(0);
  const scheme = c0 === 47 /* / */ ? null : /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(rest);
  if (scheme !== null && scheme[1] !== undefined) {
    out.scheme = scheme[1].toLowerCase();
    rest = rest.slice(scheme[0].length);
    const slash = rest.search(/[/?#]/);
    const authority = slash === -1 ? rest : rest.slice(0, slash);
    rest = slash === -1 ? "/" : rest.slice(slash);
    const hostPort = address(authority);
    if (hostPort !== undefined) {
      if (hostPort.ip !== undefined) {
        out.domain = hostPort.ip;
        if (hostPort.port !== undefined) out.port = hostPort.port;
      } else {
        const colon = authority.lastIndexOf(":");
        const port = colon > 0 ? int(authority.slice(colon + 1)) : undefined;
        out.domain = port === undefined ? authority : authority.slice(0, colon);
        if (port !== undefined) out.port = port;
      }
    }
  }
  const hash = rest.indexOf("#");
  if (hash !== -1) rest = rest.slice(0, hash);
  const q = rest.indexOf("?");
  if (q === -1) {
    if (rest !== "") out.path = rest;
  } else {
    const path = rest.slice(0, q);
    const query = rest.slice(q + 1);
    if (path !== "") out.path = path;
    if (query !== "") out.query = query;
  }
  return out;
}

/**
 * ECS `url.*` of a request target that may be absolute: `original`, then `path`, `query`, `scheme`, `domain` and
 * `port` where the target has them.
 */
export function ecsUrl(target: string): ParsedUrl {
  const u = url(target);
  const out: ParsedUrl = { original: u.original };
  if (u.path !== undefined) out.path = u.path;
  if (u.query !== undefined) out.query = u.query;
  if (u.scheme !== undefined) out.scheme = u.scheme;
  if (u.domain !== undefined) out.domain = u.domain;
  if (u.port !== undefined) out.port = u.port;
  return out;
}

/** An RFC 3339 timestamp normalized to ISO 8601 UTC with millisecond precision; `undefined` when unparseable. */
export function timestamp(value: unknown): string | undefined {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return undefined;
    // Seconds (Fluent Bit, float) or milliseconds (CloudWatch Logs).
    const ms = value < 1e11 ? value * 1000 : value;
    const date = new Date(ms);
    return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
  }
  const text = str(value);
  if (text === undefined || text.length < 10 || text.length > 40) {
    return undefined;
  }
  const fast = fastRfc3339(text);
  if (fast !== undefined) return fast;
  const c0 = text.charCodeAt(0);
  if (c0 < 48 || c0 > 57) {
    return undefined;
  }
  // A date-time without a zone is UTC here (every source prints UTC), whatever the host's time zone.
  const zoned = /T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(text) ? `${text}Z` : text;
  const date = new Date(zoned);
  if (Number.isNaN(date.getTime())) return undefined;
  const day = Number(text.slice(8, 10));
  if (text.charCodeAt(4) === 45 && day !== date.getUTCDate() && !/[+-]\d\d:?\d\d$/.test(text))
    return undefined;
  return date.toISOString();
}

const DIGIT_POSITIONS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];

/**
 * `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (the shape every source here prints in UTC) to millisecond precision by string
 * operations, without `Date`; `undefined` for any other shape (the caller falls back to `Date`).
 */
function fastRfc3339(text: string): string | undefined {
  const n = text.length;
  if (n < 20 || text.charCodeAt(n - 1) !== 90 /* Z */ || text.charCodeAt(10) !== 84 /* T */) return undefined;
  if (
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58
  ) {
    return undefined;
  }
  for (const i of DIGIT_POSITIONS) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  const month = (text.charCodeAt(5) - 48) * 10 + (text.charCodeAt(6) - 48);
  const day = (text.charCodeAt(8) - 48) * 10 + (text.charCodeAt(9) - 48);
  const hour = (text.charCodeAt(11) - 48) * 10 + (text.charCodeAt(12) - 48);
  const minute = (text.charCodeAt(14) - 48) * 10 + (text.charCodeAt(15) - 48);
  const second = (text.charCodeAt(17) - 48) * 10 + (text.charCodeAt(18) - 48);
  // Days 29–31 go through `Date`, which knows the month lengths.
  if (month < 1 || month > 12 || day < 1 || day > 28 || hour > 23 || minute > 59 || second > 59)
    return undefined;
  if (n === 20) return `${text.slice(0, 19)}.000Z`;
  if (text.charCodeAt(19) !== 46 /* . */ || n === 21) return undefined;
  for (let i = 20; i < n - 1; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  if (n === 24) return text;
  const fraction = text.slice(20, n - 1);
  return `${text.slice(0, 20)}${fraction.length >= 3 ? fraction.slice(0, 3) : fraction.padEnd(3, "0")}Z`;
}

/** gRPC status codes by name, in the spellings Envoy (`Unavailable`) and gRPC (`UNAVAILABLE`) use. */
const GRPC_CODES: Readonly<Record<string, number>> = {
  ok: 0,
  canceled: 1,
  cancelled: 1,
  unknown: 2,
  invalidargument: 3,
  deadlineexceeded: 4,
  notfound: 5,
  alreadyexists: 6,
  permissiondenied: 7,
  resourceexhausted: 8,
  failedprecondition: 9,
  aborted: 10,
  outofrange: 11,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
  dataloss: 15,
  unauthenticated: 16,
};
const GRPC_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/**
 * A logged gRPC status (`Unavailable`, `UNAVAILABLE`, `14`) as its code and gRPC's name; `undefined` for a value
 * that is neither (kept out of the document rather than guessed).
 */
export function grpcStatus(raw: string | undefined): { code: number; name: string } | undefined {
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  const numeric = /^\d{1,2}$/.test(trimmed) ? Number(trimmed) : undefined;
  const code = numeric ?? GRPC_CODES[trimmed.toLowerCase().replace(/[_\s-]/g, "")];
  if (code === undefined || code >= GRPC_NAMES.length) return undefined;
  return { code, name: GRPC_NAMES[code] as string };
}
