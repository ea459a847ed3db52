/**
 * Kubernetes API server audit events (`audit.k8s.io/v1` and `v1beta1` `Event`, also without `apiVersion` as older
 * clusters and Falco's traces have them), the `EventList` batches the API server's audit webhook posts, plus two
 * cloud wrappers: AKS diagnostic records (`properties.log`, an
 * object or an escaped JSON string) and GKE Cloud Audit Logs (`protoPayload`, mapped onto the same fields).
 */
import { ECS_VERSION, type EcsDocument, eventTypes, type KubernetesAuditFields } from "../ecs.js";
import { errorMessage } from "../errors.js";
import { MAX_OBJECT_DEPTH, type Redaction, redactAuditSecrets } from "./k8s-redact.js";
import { DATASETS, type ParseResult, reject } from "./types.js";
import { int, ipVersion, obj, str, stringMap, strings, timestamp, url } from "./values.js";

export function isAuditEvent(o: Record<string, unknown>): boolean {
  return (
    (typeof o.auditID === "string" && (typeof o.verb === "string" || typeof o.stage === "string")) ||
    (o.kind === "Event" && typeof o.verb === "string" && typeof o.requestURI === "string")
  );
}

/**
 * An `audit.k8s.io` `EventList`: what the API server's audit webhook backend posts (`--audit-webhook-config-file`),
 * one batch of events per request, which Fluent Bit's `http` input ships as one record.
 */
export function isAuditEventList(o: Record<string, unknown>): boolean {
  return (
    o.kind === "EventList" &&
    typeof o.apiVersion === "string" &&
    o.apiVersion.startsWith("audit.k8s.io/") &&
    "items" in o
  );
}

/** The events of an `EventList` (see `isAuditEventList`), or what is wrong with its `items`. */
export function auditEventListItems(o: Record<string, unknown>): unknown[] | { problem: string } {
  return Array.isArray(o.items) ? o.items : { problem: "EventList: items is not an array" };
}

/** The audit event inside an AKS diagnostic record, when the object is one. */
export function aksAuditEvent(o: Record<string, unknown>): Record<string, unknown> | undefined {
  const inner = aksInner(o);
  return inner !== undefined && "event" in inner ? inner.event : undefined;
}

/** AKS's `kube-audit` / `kube-audit-admin` diagnostic categories. */
function isAksAuditCategory(o: Record<string, unknown>): boolean {
  const category = str(o.category);
  return (
    category === "kube-audit" ||
    category === "kube-audit-admin" ||
    (str(o.operationName)?.startsWith("Microsoft.ContainerService/managedClusters/") ?? false)
  );
}

/**
 * An AKS diagnostic record's inner event, or what is wrong with it when the record is plainly an AKS audit
 * record (its category says so) but `properties.log` is not an audit event; `undefined` when the object is not
 * an AKS record at all.
 */
export function aksInner(
  o: Record<string, unknown>,
): { event: Record<string, unknown> } | { problem: string } | undefined {
  const properties = obj(o.properties);
  const declared = isAksAuditCategory(o);
  if (properties === undefined) {
    return declared ? { problem: "aks audit: the record has no properties object" } : undefined;
  }
  const log = properties.log;
  let inner: Record<string, unknown> | undefined;
  if (typeof log === "string") {
    if (log.charCodeAt(0) !== 123) {
      return declared ? { problem: "aks audit: properties.log is not a JSON object" } : undefined;
    }
    try {
      inner = obj(JSON.parse(log));
    } catch (error) {
      if (!declared) return undefined;
      return {
        problem: `aks audit: properties.log is not valid JSON: ${errorMessage(error)}`,
      };
    }
  } else {
    inner = obj(log);
  }
  if (inner !== undefined && isAuditEvent(inner)) return { event: inner };
  if (!declared) return undefined;
  if (inner === undefined) return { problem: "aks audit: properties.log is missing or not an object" };
  return {
    problem: `aks audit: properties.log is not an audit event (needs auditID with verb or stage; keys: ${Object.keys(
      inner,
    )
      .slice(0, 8)
      .join(", ")})`,
  };
}

/**
 * What is wrong with a Cloud Audit Logs record that is not a GKE Kubernetes audit event (`isGkeAudit` false):
 * `undefined` when the object is not a Cloud Audit Logs record at all.
 */
export function gkeProblem(o: Record<string, unknown>): string | undefined {
  const payload = o.protoPayload;
  const logName = str(o.logName);
  const cloudAudit = logName?.includes("cloudaudit.googleapis.com") ?? false;
  if (payload === undefined) return cloudAudit ? "gke audit: the record has no protoPayload" : undefined;
  const p = obj(payload);
  if (p === undefined) return "gke audit: protoPayload is not an object";
  const service = str(p.serviceName);
  return `gke audit: protoPayload.serviceName is ${service === undefined ? "missing" : JSON.stringify(service)}, not "k8s.io"`;
}

export function isGkeAudit(o: Record<string, unknown>): boolean {
  const payload = obj(o.protoPayload);
  return payload !== undefined && payload.serviceName === "k8s.io";
}

function verbType(verb: string | undefined): string {
  switch (verb) {
    case "create":
      return "creation";
    case "delete":
    case "deletecollection":
      return "deletion";
    case "update":
    case "patch":
      return "change";
    case "get":
    case "list":
    case "watch":
      return "access";
    default:
      return "info";
  }
}

/** Copies the present string fields of `from` listed in `keys`. */
function pick<T extends Record<string, unknown>>(
  from: Record<string, unknown> | undefined,
  keys: readonly string[],
): T | undefined {
  if (from === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const v = str(from[key]);
    if (v !== undefined) out[key] = v;
  }
  return Object.keys(out).length === 0 ? undefined : (out as T);
}

export function parseAuditEvent(e: Record<string, unknown>): ParseResult {
  if (!isAuditEvent(e))
    return reject("kubernetes_audit", "kubernetes audit: not an audit Event (no auditID/verb)");
  const ts =
    timestamp(e.requestReceivedTimestamp) ??
    timestamp(e.timestamp) ??
    timestamp(e.stageTimestamp) ??
    timestamp(obj(e.metadata)?.creationTimestamp);
  if (ts === undefined)
    return reject(
      "kubernetes_audit",
      "kubernetes audit: no valid requestReceivedTimestamp/timestamp/stageTimestamp",
    );
  const audit: KubernetesAuditFields = {};
  for (const key of [
    "auditID",
    "level",
    "stage",
    "verb",
    "requestURI",
    "apiVersion",
    "userAgent",
    "requestReceivedTimestamp",
    "stageTimestamp",
  ] as const) {
    const v = str(e[key]);
    if (v !== undefined) audit[key] = v;
  }
  const user = obj(e.user);
  if (user !== undefined) {
    const u: NonNullable<KubernetesAuditFields["user"]> = {};
    const username = str(user.username);
    if (username !== undefined) u.username = username;
    const uid = str(user.uid);
    if (uid !== undefined) u.uid = uid;
    const groups = strings(user.groups);
    if (groups !== undefined) u.groups = groups;
    const extra = obj(user.extra);
    if (extra !== undefined && Object.keys(extra).length > 0) u.extra = extra;
    if (Object.keys(u).length > 0) audit.user = u;
  }
  const imp = obj(e.impersonatedUser);
  if (imp !== undefined) {
    const u: NonNullable<KubernetesAuditFields["impersonatedUser"]> = {};
    const username = str(imp.username);
    if (username !== undefined) u.username = username;
    const groups = strings(imp.groups);
    if (groups !== undefined) u.groups = groups;
    if (Object.keys(u).length > 0) audit.impersonatedUser = u;
  }
  const sourceIPs = strings(e.sourceIPs);
  if (sourceIPs !== undefined) audit.sourceIPs = sourceIPs;
  const objectRef = pick<NonNullable<KubernetesAuditFields["objectRef"]>>(obj(e.objectRef), [
    "resource",
    "subresource",
    "namespace",
    "name",
    "apiGroup",
    "apiVersion",
    "uid",
    "resourceVersion",
  ]);
  if (objectRef !== undefined) audit.objectRef = objectRef;
  const rs = obj(e.responseStatus);
  if (rs !== undefined) {
    const status: NonNullable<KubernetesAuditFields["responseStatus"]> = {};
    const code = int(rs.code);
    if (code !== undefined) status.code = code;
    for (const key of ["status", "reason", "message"] as const) {
      const v = str(rs[key]);
      if (v !== undefined) status[key] = v;
    }
    if (Object.keys(status).length > 0) audit.responseStatus = status;
  }
  const annotations = stringMap(e.annotations);
  if (annotations !== undefined) audit.annotations = annotations;
  const redacted = redactAuditSecrets(e, ["requestObject", "responseObject"], objectRef?.resource);
  if (redacted.tooDeep !== undefined) return tooDeep(redacted.tooDeep);
  if (e.requestObject !== undefined && e.requestObject !== null) audit.requestObject = e.requestObject;
  if (e.responseObject !== undefined && e.responseObject !== null) audit.responseObject = e.responseObject;
  const doc = auditDocument(ts, audit);
  if (redacted.count > 0) markRedacted(doc, redacted, e);
  return { ok: true, document: doc };
}

/**
 * A document whose event had secret values redacted: `event.original` is the redacted event (the raw line still
 * holds the values), and `labels.redacted` says how many values and where.
 */
function markRedacted(doc: EcsDocument, redaction: Redaction, event: Record<string, unknown>): void {
  doc.event.original = JSON.stringify(event);
  doc.labels = {
    ...doc.labels,
    redacted: `${redaction.count} secret values in ${redaction.roots.join(",")}`,
  };
}

function tooDeep(field: string): ParseResult {
  return reject(
    "object_too_deep",
    `object too deep: kubernetes audit ${field} nests deeper than ${MAX_OBJECT_DEPTH} levels`,
  );
}

/** The ECS document for audit fields, shared by native events and the GKE mapping. */
export function auditDocument(ts: string, audit: KubernetesAuditFields): EcsDocument {
  const code = audit.responseStatus?.code;
  const outcome = code === undefined ? "unknown" : code >= 400 ? "failure" : "success";
  const type = eventTypes(verbType(audit.verb), code);
  const doc: EcsDocument = {
    "@timestamp": ts,
    ecs: { version: ECS_VERSION },
    event: {
      kind: "event",
      category: ["configuration", "web"],
      type,
      outcome,
      dataset: DATASETS.audit,
      module: "kubernetes",
    },
  };
  if (audit.verb !== undefined) doc.event.action = audit.verb;
  if (audit.requestReceivedTimestamp !== undefined && audit.stageTimestamp !== undefined) {
    const start = Date.parse(audit.requestReceivedTimestamp);
    const end = Date.parse(audit.stageTimestamp);
    if (Number.isFinite(start) && Number.isFinite(end) && end >= start) {
      doc.event.start = new Date(start).toISOString();
      doc.event.end = new Date(end).toISOString();
      doc.event.duration = (end - start) * 1_000_000;
    }
  }
  if (audit.responseStatus?.reason !== undefined && outcome === "failure")
    doc.event.reason = audit.responseStatus.reason;
  const relatedUsers: string[] = [];
  if (audit.user !== undefined) {
    const user: NonNullable<EcsDocument["user"]> = {};
    if (audit.user.username !== undefined) {
      user.name = audit.user.username;
      relatedUsers.push(audit.user.username);
    }
    if (audit.user.uid !== undefined) user.id = audit.user.uid;
    if (audit.user.groups !== undefined) user.group = { name: audit.user.groups };
    if (audit.impersonatedUser?.username !== undefined) {
      user.effective = { name: audit.impersonatedUser.username };
      relatedUsers.push(audit.impersonatedUser.username);
    }
    doc.user = user;
  }
  if (audit.sourceIPs !== undefined) {
    const first = audit.sourceIPs[0] as string;
    if (ipVersion(first) !== 0) {
      doc.source = { ip: first, address: first };
      doc.network = { type: ipVersion(first) === 4 ? "ipv4" : "ipv6" };
    } else {
      doc.source = { address: first };
    }
    const ips = audit.sourceIPs.filter((ip) => ipVersion(ip) !== 0);
    if (ips.length > 0) doc.related = { ip: ips };
  }
  if (relatedUsers.length > 0) {
    doc.related ??= {};
    doc.related.user = relatedUsers;
  }
  if (audit.userAgent !== undefined) doc.user_agent = { original: audit.userAgent };
  if (audit.requestURI !== undefined) {
    const u = url(audit.requestURI);
    const target: NonNullable<EcsDocument["url"]> = { original: u.original };
    if (u.path !== undefined) target.path = u.path;
    if (u.query !== undefined) target.query = u.query;
    doc.url = target;
  }
  if (code !== undefined) doc.http = { response: { status_code: code } };
  const ref = audit.objectRef;
  const orchestrator: NonNullable<EcsDocument["orchestrator"]> = { type: "kubernetes" };
  if (ref?.namespace !== undefined) orchestrator.namespace = ref.namespace;
  if (ref?.resource !== undefined || ref?.name !== undefined) {
    orchestrator.resource = {};
    if (ref.name !== undefined) orchestrator.resource.name = ref.name;
    if (ref.resource !== undefined)
      orchestrator.resource.type =
        ref.subresource === undefined ? ref.resource : `${ref.resource}/${ref.subresource}`;
  }
  if (ref?.apiVersion !== undefined) {
    orchestrator.api_version =
      ref.apiGroup === undefined ? ref.apiVersion : `${ref.apiGroup}/${ref.apiVersion}`;
  }
  doc.orchestrator = orchestrator;
  doc.kubernetes = { audit };
  return doc;
}

/** gRPC status codes of Cloud Audit Logs mapped to the HTTP status the API server would have answered. */
const GRPC_TO_HTTP: Record<number, number> = {
  0: 200,
  3: 400,
  5: 404,
  6: 409,
  7: 403,
  9: 400,
  10: 409,
  16: 401,
};

/** GKE `protoPayload` (Cloud Audit Logs) mapped onto the native audit fields. */
export function parseGkeAudit(o: Record<string, unknown>): ParseResult {
  const p = obj(o.protoPayload);
  if (p === undefined) return reject("gke_audit", "gke audit: no protoPayload");
  const ts = timestamp(o.timestamp) ?? timestamp(o.receiveTimestamp);
  if (ts === undefined) return reject("gke_audit", "gke audit: missing timestamp");
  const audit: KubernetesAuditFields = {};
  const method = str(p.methodName);
  if (method !== undefined) {
    const verb = method.slice(method.lastIndexOf(".") + 1);
    if (verb !== "") audit.verb = verb;
  }
  const auth = obj(p.authenticationInfo);
  const principal = str(auth?.principalEmail);
  if (principal !== undefined) audit.user = { username: principal };
  const meta = obj(p.requestMetadata);
  const ip = str(meta?.callerIp);
  if (ip !== undefined) audit.sourceIPs = [ip];
  const ua = str(meta?.callerSuppliedUserAgent);
  if (ua !== undefined) audit.userAgent = ua;
  const resourceName = str(p.resourceName);
  if (resourceName !== undefined) {
    audit.requestURI = resourceName.startsWith("/") ? resourceName : `/${resourceName}`;
    // `core/v1/namespaces/<ns>/pods/<name>[/<sub>]` or `<group>/<version>/…`
    const parts = resourceName.split("/");
    const ref: NonNullable<KubernetesAuditFields["objectRef"]> = {};
    let i = 0;
    if (parts.length >= 3 && /^v\d/.test(parts[1] ?? "")) {
      if (parts[0] !== "core") ref.apiGroup = parts[0] as string;
      ref.apiVersion = parts[1] as string;
      i = 2;
    }
    if (parts[i] === "namespaces" && parts.length > i + 2) {
      ref.namespace = parts[i + 1] as string;
      i += 2;
    }
    if (parts[i] !== undefined && parts[i] !== "") ref.resource = parts[i] as string;
    if (parts[i + 1] !== undefined && parts[i + 1] !== "") ref.name = parts[i + 1] as string;
    if (parts[i + 2] !== undefined && parts[i + 2] !== "") ref.subresource = parts[i + 2] as string;
    if (Object.keys(ref).length > 0) audit.objectRef = ref;
  }
  const status = obj(p.status);
  const grpc = int(status?.code) ?? (status === undefined ? undefined : 0);
  if (grpc !== undefined) {
    audit.responseStatus = { code: GRPC_TO_HTTP[grpc] ?? 500 };
    const message = str(status?.message);
    if (message !== undefined) audit.responseStatus.message = message;
  }
  const labels = stringMap(o.labels);
  if (labels !== undefined) audit.annotations = labels;
  const insert = str(o.insertId);
  if (insert !== undefined) audit.auditID = insert;
  const redacted = redactAuditSecrets(p, ["request", "response"], audit.objectRef?.resource);
  if (redacted.tooDeep !== undefined) return tooDeep(`protoPayload.${redacted.tooDeep}`);
  if (p.request !== undefined && p.request !== null) audit.requestObject = p.request;
  if (p.response !== undefined && p.response !== null) audit.responseObject = p.response;
  const doc = auditDocument(ts, audit);
  if (redacted.count > 0) markRedacted(doc, redacted, o);
  const cluster = str(obj(obj(o.resource)?.labels)?.cluster_name);
  if (cluster !== undefined) {
    doc.orchestrator ??= { type: "kubernetes" };
    doc.orchestrator.cluster = { name: cluster };
  }
  return { ok: true, document: doc };
}
