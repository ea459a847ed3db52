/**
 * Reading values out of matched events for alerts. Field access and the Kubernetes helpers are the rule engine's
 * (`rules/fields.ts`, `rules/k8s.ts`), so an alert shows exactly what a rule matched on.
 */
import type { EcsDocument, KubernetesAuditFields } from "../ecs.js";
import { type FieldAccessor, firstValue, pathAccessor } from "../rules/fields.js";
import { resolveK8sOperator } from "../rules/k8s.js";

export type Scalar = string | number | boolean;

/** The first scalar value at a dotted path (arrays fan out; dotted keys such as annotations are found). */
export function valueAt(doc: unknown, path: string): Scalar | undefined {
  return firstValue(doc, path);
}

/** Compiled accessors by path: alerts read the same few fields over and over. */
const accessors = new Map<string, FieldAccessor>();

/** Every scalar value at a dotted path (arrays fan out), in document order. */
export function valuesAt(doc: unknown, path: string): Scalar[] {
  const out: Scalar[] = [];
  let access = accessors.get(path);
  if (access === undefined) {
    access = pathAccessor(path);
    accessors.set(path, access);
  }
  access(doc, (value) => {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") out.push(value);
    return false;
  });
  return out;
}

/**
 * Who operated a Kubernetes API request, for people: `alice (authenticated as kubernetes-admin)` when the shared
 * admin credential is resolved through the RBAC reason, `bob (impersonated by system:admin)`, or the user name.
 */
export function kubernetesOperator(audit: KubernetesAuditFields | undefined): string | undefined {
  const operator = resolveK8sOperator(audit);
  if (operator === undefined) return undefined;
  switch (operator.source) {
    case "authorization-reason":
      return `${operator.name} (authenticated as ${operator.authenticatedAs ?? "?"})`;
    case "impersonation":
      return operator.authenticatedAs === undefined
        ? operator.name
        : `${operator.name} (impersonated by ${operator.authenticatedAs})`;
    case "user":
      return operator.name;
  }
}

/** The caller's address: ECS `source.ip`, else the first audit `sourceIPs` entry. */
export function sourceIp(doc: EcsDocument | undefined): string | undefined {
  return doc?.source?.ip ?? doc?.kubernetes?.audit?.sourceIPs?.[0] ?? doc?.client?.ip;
}

/** `namespace/name` of the audited object. */
export function kubernetesObject(audit: KubernetesAuditFields | undefined): string | undefined {
  const ref = audit?.objectRef;
  if (ref?.name === undefined && ref?.resource === undefined) return undefined;
  const kind = ref.subresource === undefined ? ref.resource : `${ref.resource}/${ref.subresource}`;
  const name = ref.namespace === undefined ? ref.name : `${ref.namespace}/${ref.name ?? "*"}`;
  return [kind, name].filter((part) => part !== undefined).join(" ");
}
