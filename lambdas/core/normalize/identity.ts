/**
 * Workload identities of every mesh, parsed into the shared `mesh.*` identity fields:
 * - Istio SPIFFE: `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`
 * - Consul SPIFFE: `spiffe://<trust-domain>/ns/<namespace>/dc/<datacenter>/svc/<service>` (optionally `/ap/<partition>` first)
 * - Cilium SPIFFE (mutual auth with SPIRE): `spiffe://<trust-domain>/identity/<numeric id>` (or any other SPIFFE path)
 * - Linkerd: `<service-account>.<namespace>.serviceaccount.identity.linkerd.<trust-domain>`
 * - Kubernetes service-account user names: `system:serviceaccount:<namespace>:<name>`
 */
import type { MeshIdentity } from "../ecs.js";

export function parseIdentity(principal: string): MeshIdentity | undefined {
  if (principal === "" || principal === "-") {
    return undefined;
  }
  if (principal.startsWith("spiffe://")) {
    return parseSpiffe(principal);
  }
  const linkerd = principal.indexOf(".serviceaccount.identity.linkerd.");
  if (linkerd > 0) {
    const head = principal.slice(0, linkerd);
    const dot = head.lastIndexOf(".");
    const trustDomain = principal.slice(linkerd + ".serviceaccount.identity.linkerd.".length);
    const identity: MeshIdentity = { principal };
    if (trustDomain !== "") identity.trust_domain = trustDomain;
    if (dot > 0) {
      identity.service_account = head.slice(0, dot);
      identity.namespace = head.slice(dot + 1);
    }
    return identity;
  }
  if (principal.startsWith("system:serviceaccount:")) {
    const [namespace, name] = principal.slice("system:serviceaccount:".length).split(":");
    const identity: MeshIdentity = { principal };
    if (namespace) identity.namespace = namespace;
    if (name) identity.service_account = name;
    return identity;
  }
  return { principal };
}

function parseSpiffe(principal: string): MeshIdentity {
  const rest = principal.slice("spiffe://".length);
  const slash = rest.indexOf("/");
  const identity: MeshIdentity = { principal };
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  if (trustDomain !== "") identity.trust_domain = trustDomain;
  if (slash === -1) {
    return identity;
  }
  const segments = rest.slice(slash + 1).split("/");
  for (let i = 0; i + 1 < segments.length; i += 2) {
    const key = segments[i];
    const value = segments[i + 1];
    if (value === undefined || value === "") continue;
    switch (key) {
      case "ns":
        identity.namespace = value;
        break;
      case "sa":
        identity.service_account = value;
        break;
      case "dc":
        identity.datacenter = value;
        break;
      case "svc":
        identity.service = value;
        break;
      case "identity":
        identity.workload = value;
        break;
      default:
        break;
    }
  }
  return identity;
}

/**
 * Istio's client-side SNI for ISTIO_MUTUAL (`outbound_.<port>_.<subset>_.<fqdn>`) and its cluster names
 * (`outbound|<port>|<subset>|<fqdn>`, `inbound|<port>||`): the destination service FQDN and its namespace.
 */
export function istioServiceFromFqdn(fqdn: string): MeshIdentity | undefined {
  if (fqdn === "") return undefined;
  const identity: MeshIdentity = { service: fqdn };
  const svc = fqdn.indexOf(".svc.");
  if (svc > 0) {
    const head = fqdn.slice(0, svc);
    const dot = head.lastIndexOf(".");
    if (dot > 0) identity.namespace = head.slice(dot + 1);
  }
  return identity;
}

/**
 * Consul's service SNI / upstream cluster name: `<svc>.<ns>.<dc>.internal.<trust-domain>.consul`, with partitions
 * `<svc>.<ns>.<ap>.<dc>.internal-v1.<trust-domain>.consul`.
 */
export function consulServiceFromSni(sni: string): MeshIdentity | undefined {
  if (!sni.endsWith(".consul")) return undefined;
  const parts = sni.split(".");
  const internal = parts.findIndex((p) => p === "internal" || p === "internal-v1");
  if (internal < 3) return undefined;
  const trustDomain = parts.slice(internal + 1, parts.length - 1).join(".");
  const identity: MeshIdentity = { service: parts[0] as string, namespace: parts[1] as string };
  identity.datacenter = parts[internal - 1] as string;
  if (trustDomain !== "") identity.trust_domain = trustDomain;
  return identity;
}
