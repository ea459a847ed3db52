/**
 * Secret values out of Kubernetes audit events, whatever the cluster's audit policy logs. Rewrites the event's
 * `requestObject`/`responseObject` in place (they are the parser's own copies, parsed from the line):
 *
 * - on `secrets` (and in any object of `kind: Secret`, a generic `List`'s items included): every value of `data`
 *   and `stringData` becomes `[redacted: N bytes]` (N the decoded size), the
 *   `kubectl.kubernetes.io/last-applied-configuration` annotation (the whole object, values included) becomes
 *   `[redacted: N bytes]`, and a JSON patch's `value` under `/data` or `/stringData` is redacted the same way;
 * - on `configmaps` (and in any object of `kind: ConfigMap`): the values of `data`/`binaryData` that hold
 *   credentials — under a key named like one (`password`, `token`, `secret`, `*.key`, `*.pem`, …) or holding a
 *   private key block or a `password=`/`token:` assignment — the same way; other values stay (feature flags, log
 *   levels), as do every key and the rest of the object.
 *
 * No hash of the value is kept: a password's hash can be brute-forced, and the key and size already show that a
 * value was set or changed. The same walk measures nesting: an object deeper than `MAX_OBJECT_DEPTH` is reported
 * (the parser refuses the event) and not walked further.
 */
import { obj } from "./values.js";

/**
 * How deep a free-form object kept in a document (an audit event's `requestObject`/`responseObject`/`user.extra`)
 * may nest; the normalizer refuses deeper records. Kubernetes objects stay far below, and JSON.stringify and every
 * walk over a document stay far from the stack limit.
 */
export const MAX_OBJECT_DEPTH = 64;

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
/** Key names of config map entries that hold credentials. */
const CREDENTIAL_KEY =
  /pass(word|wd|phrase)?|secret|token|credential|api[-_.]?key|access[-_.]?key|private[-_.]?key|auth|kubeconfig|connection[-_.]?string|dsn|\.(key|pem|p12|pfx|jks|keystore)$/i;
/** Values that hold credentials whatever their key: a private key block, a password or token assignment. */
const CREDENTIAL_VALUE =
  /-----BEGIN [A-Z ]*PRIVATE KEY-----|(pass(word|wd)?|secret|token|api[-_.]?key|credentials?)["']?\s*[:=]/i;

type Mode = "secret" | "configmap" | undefined;

export interface Redaction {
  /** How many values were redacted. */
  count: number;
  /** The keys of the holder (`requestObject`, …) that held them. */
  roots: string[];
  /** The first key whose object nests deeper than the bound, if any. */
  tooDeep?: string;
}

interface Walk {
  count: number;
  tooDeep: boolean;
  readonly max: number;
}

/** Redacts the audit event's secret values in place (`keys` of `holder`); see the module comment. */
export function redactAuditSecrets(
  holder: Record<string, unknown>,
  keys: readonly [string, string],
  resource: string | undefined,
  maxDepth = MAX_OBJECT_DEPTH,
): Redaction {
  const mode: Mode = resource === "secrets" ? "secret" : resource === "configmaps" ? "configmap" : undefined;
  const result: Redaction = { count: 0, roots: [] };
  for (const key of keys) {
    const value = holder[key];
    if (typeof value !== "object" || value === null) continue;
    const w: Walk = { count: 0, tooDeep: false, max: maxDepth };
    walk(value, mode, 1, w);
    if (w.count > 0) {
      result.count += w.count;
      result.roots.push(key);
    }
    if (w.tooDeep && result.tooDeep === undefined) result.tooDeep = key;
  }
  return result;
}

function walk(value: object, inherited: Mode, depth: number, w: Walk): void {
  if (depth > w.max) {
    w.tooDeep = true;
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      if (typeof item !== "object" || item === null) continue;
      if (inherited === "secret" && isPatchOp(item)) redactPatchOp(item, depth, w);
      else walk(item, inherited, depth + 1, w);
    }
    return;
  }
  const o = value as Record<string, unknown>;
  const mode: Mode = o.kind === "Secret" ? "secret" : o.kind === "ConfigMap" ? "configmap" : inherited;
  for (const key in o) {
    const child = o[key];
    if (typeof child !== "object" || child === null) continue;
    if (mode === "secret" && (key === "data" || key === "stringData") && !Array.isArray(child)) {
      w.count += redactValues(child as Record<string, unknown>, key === "data", always);
    } else if (mode === "configmap" && (key === "data" || key === "binaryData") && !Array.isArray(child)) {
      w.count += redactValues(child as Record<string, unknown>, key === "binaryData", holdsCredential);
    } else {
      if (mode === "secret" && key === "annotations" && !Array.isArray(child)) {
        const annotations = child as Record<string, unknown>;
        const applied = annotations[LAST_APPLIED];
        if (typeof applied === "string") {
          annotations[LAST_APPLIED] = marker(Buffer.byteLength(applied));
          w.count++;
        }
      }
      walk(child, mode, depth + 1, w);
    }
  }
}

function always(): boolean {
  return true;
}

/** Redacts the chosen values of a `data`-like map; returns how many. */
function redactValues(
  values: Record<string, unknown>,
  base64: boolean,
  redact: (key: string, value: string) => boolean,
): number {
  let n = 0;
  for (const key of Object.keys(values)) {
    const v = values[key];
    if (typeof v === "string") {
      if (!redact(key, v)) continue;
      values[key] = marker(base64 ? Buffer.from(v, "base64").length : Buffer.byteLength(v));
    } else if (v !== null && v !== undefined) {
      values[key] = marker(Buffer.byteLength(JSON.stringify(v) ?? ""));
    } else {
      continue;
    }
    n++;
  }
  return n;
}

function holdsCredential(key: string, value: string): boolean {
  return CREDENTIAL_KEY.test(key) || CREDENTIAL_VALUE.test(value);
}

function marker(bytes: number): string {
  return `[redacted: ${bytes} bytes]`;
}

/** A JSON patch (RFC 6902) operation. */
function isPatchOp(item: unknown): item is { op: string; path: string; value?: unknown } {
  const o = obj(item);
  return o !== undefined && typeof o.op === "string" && typeof o.path === "string";
}

function redactPatchOp(op: { path: string; value?: unknown }, depth: number, w: Walk): void {
  if (!("value" in op)) return;
  const target = op.path;
  const value = op.value;
  if (target === "/" || target === "") {
    // The whole object replaced: redact inside it as a Secret.
    if (typeof value === "object" && value !== null) walk(value, "secret", depth + 1, w);
    return;
  }
  const isData = target.startsWith("/data") || target.startsWith("/stringData");
  const isApplied =
    target.startsWith("/metadata/annotations") && target.includes("last-applied-configuration");
  if (!isData && !isApplied) {
    if (typeof value === "object" && value !== null) walk(value, "secret", depth + 1, w);
    return;
  }
  if (typeof value === "string") {
    const base64 = target.startsWith("/data/");
    op.value = marker(base64 ? Buffer.from(value, "base64").length : Buffer.byteLength(value));
    w.count++;
  } else if (obj(value) !== undefined) {
    w.count += redactValues(value as Record<string, unknown>, target === "/data", always);
  } else if (value !== null && value !== undefined) {
    op.value = marker(Buffer.byteLength(JSON.stringify(value) ?? ""));
    w.count++;
  }
}
