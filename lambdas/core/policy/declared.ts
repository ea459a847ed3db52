/**
 * Declared mesh authorization of the three meshes `policy suggest` writes for, read from YAML (any mix of kinds in
 * any file) or from objects (the audit events' request/response objects): Istio `AuthorizationPolicy`; Linkerd
 * `Server`, `AuthorizationPolicy`, `MeshTLSAuthentication`, `NetworkAuthentication`; Consul `ServiceIntentions`.
 * Other kinds are skipped.
 */
import { parseAllDocuments } from "yaml";
import { type ConsulIntentions, consulIntentionsFrom } from "./consul.js";
import { type IstioPolicy, PolicyInputError, policyFromObject } from "./istio.js";
import {
  addLinkerdObject,
  emptyLinkerdPolicies,
  type LinkerdPolicies,
  linkerdObjectFrom,
} from "./linkerd.js";

export interface DeclaredPolicies {
  readonly istio: IstioPolicy[];
  readonly linkerd: ReturnType<typeof emptyLinkerdPolicies> & LinkerdPolicies;
  readonly consul: ConsulIntentions[];
}

export function emptyDeclared(): DeclaredPolicies {
  return { istio: [], linkerd: emptyLinkerdPolicies(), consul: [] };
}

/** How many declared objects of each mesh. */
export function declaredCount(declared: DeclaredPolicies): number {
  const l = declared.linkerd;
  return (
    declared.istio.length +
    l.servers.length +
    l.authorizationPolicies.length +
    l.meshTls.length +
    l.networks.length +
    declared.consul.length
  );
}

/** Adds the object when it is one of the kinds; false otherwise. */
export function addDeclaredObject(into: DeclaredPolicies, object: unknown, origin: string): boolean {
  const istio = policyFromObject(object, origin);
  if (istio !== undefined) {
    into.istio.push(istio);
    return true;
  }
  const linkerd = linkerdObjectFrom(object, origin);
  if (linkerd !== undefined) {
    addLinkerdObject(into.linkerd, linkerd);
    return true;
  }
  const consul = consulIntentionsFrom(object, origin);
  if (consul !== undefined) {
    into.consul.push(consul);
    return true;
  }
  return false;
}

/** Every declared object of a YAML text into `into`. */
export function parseDeclared(
  text: string,
  file: string,
  into: DeclaredPolicies = emptyDeclared(),
): DeclaredPolicies {
  for (const [index, document] of parseAllDocuments(text).entries()) {
    if (document.errors.length > 0)
      throw new PolicyInputError(
        `${file}: document ${index + 1}: ${document.errors[0]?.message ?? "invalid YAML"}`,
      );
    addDeclaredObject(into, document.toJS(), `${file} (document ${index + 1})`);
  }
  return into;
}

/** The mesh whose policies decide a call, by the log it came from (Envoy-based meshes other than Consul: Istio). */
export function meshOf(mesh: string): "istio" | "linkerd" | "consul" {
  if (mesh === "linkerd") return "linkerd";
  if (mesh === "consul") return "consul";
  return "istio";
}
