/**
 * Field access and the logsource field mappings.
 *
 * A field path is dotted (`kubernetes.audit.objectRef.resource`). Access fans out over arrays (a value matches
 * when any element does), and where a key itself contains dots (`annotations.authorization.k8s.io/reason`) the
 * longest key present wins. Null and absent are the same thing.
 */
import type { EcsDocument } from "../ecs.js";
import type { LogSource } from "./types.js";

/** A predicate over one leaf value (string, number or boolean; never null or undefined). */
export type LeafPredicate = (value: unknown) => boolean;

/** Visits the leaf values of a field; returns true as soon as `predicate` does. */
export type FieldAccessor = (doc: unknown, predicate: LeafPredicate) => boolean;

/**
 * Maps whose keys contain dots (`authorization.k8s.io/reason`): only paths through them try joined keys, so a
 * missing field elsewhere costs one property read.
 */
const DOTTED_KEY_MAPS = new Set(["annotations", "labels", "extra"]);
const PLAIN_SEGMENT = /^[A-Za-z0-9_@$-]+$/;

/**
 * Compiles a dotted path into an accessor. Plain paths become a generated function with constant property names
 * (monomorphic property loads, no allocation); arrays along the way and dotted keys fall back to the generic walk.
 */
export function pathAccessor(path: string): FieldAccessor {
  const segments = path.split(".");
  const generic: FieldAccessor = (doc, predicate) => anyLeaf(doc, segments, 0, predicate);
  if (
    segments.length > 12 ||
    segments.some((segment) => DOTTED_KEY_MAPS.has(segment) || !PLAIN_SEGMENT.test(segment))
  ) {
    return generic;
  }
  const slow = (node: unknown, index: number, predicate: LeafPredicate): boolean =>
    anyLeaf(node, segments, index, predicate);
  let body = "let n = doc;\n";
  segments.forEach((segment, index) => {
    body += `if (n === null || n === undefined || typeof n !== "object") return false;\n`;
    body += `if (Array.isArray(n)) return slow(n, ${index}, p);\n`;
    body += `n = n[${JSON.stringify(segment)}];\n`;
  });
  body += `if (n === null || n === undefined) return false;\n`;
  body += `if (typeof n !== "object") return p(n);\n`;
  body += `return Array.isArray(n) ? slow(n, ${segments.length}, p) : false;`;
  const factory = new Function("slow", `return function access(doc, p) {\n${body}\n};`) as (
    slowPath: typeof slow,
  ) => FieldAccessor;
  return factory(slow);
}

function anyLeaf(
  node: unknown,
  segments: readonly string[],
  index: number,
  predicate: LeafPredicate,
): boolean {
  if (node === null || node === undefined) return false;
  if (Array.isArray(node)) {
    for (const element of node) {
      if (anyLeaf(element, segments, index, predicate)) return true;
    }
    return false;
  }
  if (index === segments.length) {
    return typeof node === "object" ? false : predicate(node);
  }
  if (typeof node !== "object") return false;
  const record = node as Record<string, unknown>;
  const segment = segments[index] as string;
  const direct = record[segment];
  if (direct !== undefined) return anyLeaf(direct, segments, index + 1, predicate);
  if (index === 0 || !DOTTED_KEY_MAPS.has(segments[index - 1] as string)) return false;
  // A key containing dots (inside annotations or labels): try the longer joined keys.
  let key = segment;
  for (let end = index + 1; end < segments.length; end++) {
    key = `${key}.${segments[end]}`;
    const value = record[key];
    if (value !== undefined) return anyLeaf(value, segments, end + 1, predicate);
  }
  return false;
}

/** The first leaf value of a path, or undefined. */
export function firstValue(doc: unknown, path: string): string | number | boolean | undefined {
  let found: string | number | boolean | undefined;
  pathAccessor(path)(doc, (value) => {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      found = value;
      return true;
    }
    return false;
  });
  return found;
}

/** How a logsource's rule fields land on our ECS documents. */
export interface FieldMapping {
  /** A stable key grouping rules that share the guard. */
  readonly key: string;
  /** Checked once per document before any rule of this logsource (e.g. `event.dataset`). */
  readonly guard?: (doc: EcsDocument) => boolean;
  /** The ECS path (or virtual accessor) for a rule field name. */
  resolve(field: string): { readonly path: string; readonly accessor: FieldAccessor };
}

/** Top-level ECS document keys, which pass through the Kubernetes audit mapping unchanged. */
const ECS_ROOTS = new Set([
  "@timestamp",
  "ecs",
  "event",
  "source",
  "destination",
  "client",
  "server",
  "network",
  "http",
  "url",
  "user_agent",
  "tls",
  "trace",
  "span",
  "related",
  "host",
  "orchestrator",
  "kubernetes",
  "cilium",
  "envoy",
  "mesh",
  "rule",
  "labels",
  "tags",
]);

const AUDIT_PREFIX = "kubernetes.audit.";

/** Containers of a pod spec that can carry a security context. */
const CONTAINER_LISTS = ["containers", "initContainers", "ephemeralContainers"] as const;

/** Every container of a pod spec (`CONTAINER_LISTS`, in that order). */
function containersOf(spec: Record<string, unknown>): unknown[] {
  return CONTAINER_LISTS.flatMap((list) => {
    const containers = spec[list];
    return Array.isArray(containers) ? containers : [];
  });
}

/**
 * Virtual field `capabilities`: the Linux capabilities the request asks for — every `securityContext.capabilities.add`
 * entry of the containers of the request's pod spec (a Pod's, or a pod template's: `requestPodSpec`), and `ALL` for a
 * privileged container (privileged implies every capability).
 */
const capabilitiesAccessor: FieldAccessor = (doc, predicate) => {
  const spec = requestPodSpec(doc);
  if (spec === undefined) return false;
  for (const container of containersOf(spec)) {
    const context = (
      container as { securityContext?: { privileged?: unknown; capabilities?: { add?: unknown } } }
    )?.securityContext;
    if (context === undefined || context === null) continue;
    if (context.privileged === true && predicate("ALL")) return true;
    const add = context.capabilities?.add;
    if (Array.isArray(add)) {
      for (const capability of add) {
        if (typeof capability === "string" && predicate(capability)) return true;
      }
    }
  }
  return false;
};

/** A value's property when the value is a plain object. */
function child(node: unknown, key: string): unknown {
  return typeof node === "object" && node !== null && !Array.isArray(node)
    ? (node as Record<string, unknown>)[key]
    : undefined;
}

/**
 * The pod spec a create/update request carries, wherever the object keeps it: a Pod's `spec`; the pod template of a
 * Deployment, DaemonSet, StatefulSet, ReplicaSet, ReplicationController, Job or PodTemplate (`spec.template.spec`,
 * `template.spec`); a CronJob's `spec.jobTemplate.spec.template.spec`. Undefined for anything else (a Service has a
 * `spec` too, so a bare `spec` counts only when the request is about pods).
 */
export function requestPodSpec(doc: unknown): Record<string, unknown> | undefined {
  const audit = child(child(doc, "kubernetes"), "audit");
  const object = child(audit, "requestObject");
  if (object === undefined || object === null) return undefined;
  const spec = child(object, "spec");
  const candidates = [
    child(child(child(child(spec, "jobTemplate"), "spec"), "template"), "spec"),
    child(child(spec, "template"), "spec"),
    child(child(object, "template"), "spec"),
  ];
  for (const candidate of candidates) {
    if (typeof candidate === "object" && candidate !== null && !Array.isArray(candidate)) {
      return candidate as Record<string, unknown>;
    }
  }
  const resource = child(child(audit, "objectRef"), "resource");
  if (resource === "pods" && typeof spec === "object" && spec !== null && !Array.isArray(spec)) {
    return spec as Record<string, unknown>;
  }
  return undefined;
}

/** Virtual `podSpec.<path>`: `<path>` inside the request's pod spec (see `requestPodSpec`). */
function podSpecAccessor(path: string): FieldAccessor {
  const inner = pathAccessor(path);
  return (doc, predicate) => {
    const spec = requestPodSpec(doc);
    return spec !== undefined && inner(spec, predicate);
  };
}

/**
 * Virtual `container.<path>`: `<path>` in each container of the request's pod spec (`containers`,
 * `initContainers`, `ephemeralContainers`), so one value matches when any container has it. Inside one container,
 * fields of that container only: `container.securityContext.privileged` never mixes two containers.
 */
function containerAccessor(path: string): FieldAccessor {
  const inner = pathAccessor(path);
  return (doc, predicate) => {
    const spec = requestPodSpec(doc);
    return spec !== undefined && containersOf(spec).some((container) => inner(container, predicate));
  };
}

/**
 * Virtual `rbacPermission`: what a Role or ClusterRole in the request grants, one `verb:resource` per verb and
 * resource of the same rule (`create:pods`, `get:pods/exec`, `*:*`, `delete:/healthz` for a non-resource URL).
 * Verbs and resources are paired inside each rule only, so a role that reads secrets and writes config maps
 * never reads as writing secrets.
 */
const rbacPermissionAccessor: FieldAccessor = (doc, predicate) => {
  const object = child(child(child(doc, "kubernetes"), "audit"), "requestObject");
  const rules = child(object, "rules");
  if (!Array.isArray(rules)) return false;
  for (const rule of rules) {
    const verbs = child(rule, "verbs");
    if (!Array.isArray(verbs)) continue;
    const targets = [child(rule, "resources"), child(rule, "nonResourceURLs")];
    for (const list of targets) {
      if (!Array.isArray(list)) continue;
      for (const target of list) {
        if (typeof target !== "string") continue;
        for (const verb of verbs) {
          if (typeof verb === "string" && predicate(`${verb}:${target}`)) return true;
        }
      }
    }
  }
  return false;
};

/**
 * Virtual `dataKey`: the keys (never the values) of the request object's `data`, `binaryData` and `stringData`
 * (ConfigMaps, Secrets). The transform may redact secret values; keys stay, so rules on them keep working.
 */
const dataKeyAccessor: FieldAccessor = (doc, predicate) => {
  const object = child(child(child(doc, "kubernetes"), "audit"), "requestObject");
  for (const map of ["data", "binaryData", "stringData"]) {
    const data = child(object, map);
    if (typeof data !== "object" || data === null || Array.isArray(data)) continue;
    for (const key of Object.keys(data)) {
      if (predicate(key)) return true;
    }
  }
  return false;
};

/**
 * Kubernetes audit (`product: kubernetes, service: audit`): SigmaHQ writes the audit event's own field names
 * (`verb`, `objectRef.resource`, `responseStatus.code`); our documents keep them under `kubernetes.audit.*`.
 * Special names: `apiGroup` → `objectRef.apiGroup`; `hostPath` → the `hostPath` volume paths of the request's pod
 * spec (a Pod's or a pod template's, `requestPodSpec`); `capabilities` → the virtual field above; our own virtual fields `podSpec.<path>`, `container.<path>`,
 * `rbacPermission` and `dataKey` (above). Fields starting with an ECS top-level key (except `user`, which is
 * also an audit field) pass through, so our own rules can mix in `source.ip`.
 */
const AUDIT_SPECIAL: Readonly<Record<string, string>> = {
  apiGroup: "kubernetes.audit.objectRef.apiGroup",
};

export const kubernetesAuditMapping: FieldMapping = {
  key: "kubernetes.audit",
  guard: (doc) => doc.event?.dataset === "kubernetes.audit",
  resolve(field) {
    if (field === "capabilities") return { path: "capabilities", accessor: capabilitiesAccessor };
    if (field === "hostPath") return { path: field, accessor: podSpecAccessor("volumes.hostPath.path") };
    if (field === "rbacPermission") return { path: field, accessor: rbacPermissionAccessor };
    if (field === "dataKey") return { path: field, accessor: dataKeyAccessor };
    if (field.startsWith("podSpec.")) {
      return { path: field, accessor: podSpecAccessor(field.slice("podSpec.".length)) };
    }
    if (field.startsWith("container.")) {
      return { path: field, accessor: containerAccessor(field.slice("container.".length)) };
    }
    const special = AUDIT_SPECIAL[field];
    if (special !== undefined) return { path: special, accessor: pathAccessor(special) };
    const root = field.split(".", 1)[0] ?? field;
    const path = ECS_ROOTS.has(root) ? field : `${AUDIT_PREFIX}${field}`;
    return { path, accessor: pathAccessor(path) };
  },
};

/**
 * Virtual `peerCertificateAgeSeconds`: how long before the request the certificate the peer presented became valid
 * (`@timestamp − tls.client.not_before`, whole seconds); absent without both times. The same number in the transform
 * and replay, since both evaluate single-event rules in memory.
 */
export function peerCertificateAgeSeconds(doc: unknown): number | undefined {
  const notBefore = firstValue(doc, "tls.client.not_before");
  const at = firstValue(doc, "@timestamp");
  if (typeof notBefore !== "string" || typeof at !== "string") return undefined;
  const age = Date.parse(at) - Date.parse(notBefore);
  return Number.isNaN(age) ? undefined : Math.floor(age / 1000);
}

const peerCertificateAgeAccessor: FieldAccessor = (doc, predicate) => {
  const age = peerCertificateAgeSeconds(doc);
  return age !== undefined && predicate(age);
};

/**
 * Mesh access logs and flows (`product: mesh`): ECS paths as they are, on documents that carry `mesh.*`; plus the
 * virtual `peerCertificateAgeSeconds` (above).
 */
export const meshMapping: FieldMapping = {
  key: "mesh",
  guard: (doc) => doc.mesh !== undefined && doc.mesh !== null,
  resolve(field) {
    if (field === "peerCertificateAgeSeconds") return { path: field, accessor: peerCertificateAgeAccessor };
    return { path: field, accessor: pathAccessor(field) };
  },
};

/**
 * Virtual `workloadSelector`: `true` when the audit event's recorded object (`responseObject`, else `requestObject`)
 * has a workload selector with labels (`spec.selector.matchLabels`: an Istio policy that applies to some pods, not
 * to the whole namespace), `false` when it has none; absent when no object was recorded or the request is a patch
 * that does not touch the selector. Sigma's `exists` reads leaves, and a selector is a map of arbitrary labels.
 */
export function workloadSelector(doc: unknown): boolean | undefined {
  const audit = (doc as EcsDocument | undefined)?.kubernetes?.audit;
  const spec = (object: unknown): Record<string, unknown> | undefined => {
    const value = (object as { spec?: unknown } | undefined)?.spec;
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  };
  const recorded = spec(audit?.responseObject) ?? spec(audit?.requestObject);
  if (recorded === undefined) return undefined;
  if (!("selector" in recorded))
    return audit?.verb === "patch" && spec(audit?.responseObject) === undefined ? undefined : false;
  const labels = (recorded.selector as { matchLabels?: unknown } | null)?.matchLabels;
  return typeof labels === "object" && labels !== null && Object.keys(labels).length > 0;
}

const workloadSelectorAccessor: FieldAccessor = (doc, predicate) => {
  const value = workloadSelector(doc);
  return value !== undefined && predicate(value);
};

/** Any other logsource: fields are ECS paths, no guard; plus the virtual `workloadSelector` (above). */
export const ecsMapping: FieldMapping = {
  key: "ecs",
  resolve(field) {
    if (field === "workloadSelector") return { path: field, accessor: workloadSelectorAccessor };
    return { path: field, accessor: pathAccessor(field) };
  },
};

/** Picks the mapping for a rule's logsource. */
export function mappingFor(logsource: LogSource): FieldMapping {
  const product = logsource.product?.toLowerCase();
  if (product === "kubernetes" && logsource.service?.toLowerCase() === "audit") return kubernetesAuditMapping;
  if (product === "mesh") return meshMapping;
  return ecsMapping;
}

const firstStringReaders = new Map<string, (doc: unknown) => string | undefined>();

/** A reader of a field's first scalar value as a string, compiled once per path. */
export function firstString(path: string): (doc: unknown) => string | undefined {
  const cached = firstStringReaders.get(path);
  if (cached !== undefined) return cached;
  const access = pathAccessor(path);
  let found: string | undefined;
  const sink = (value: unknown): boolean => {
    if (typeof value === "string") found = value;
    else if (typeof value === "number" || typeof value === "boolean") found = String(value);
    else return false;
    return true;
  };
  const reader = (doc: unknown): string | undefined => {
    found = undefined;
    access(doc, sink);
    return found;
  };
  firstStringReaders.set(path, reader);
  return reader;
}
