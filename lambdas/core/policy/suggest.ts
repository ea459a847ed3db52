/**
 * `audit-trail policy suggest`: least-privilege authorization policies from the calls the trail saw succeed. One
 * policy per destination workload; each rule allows one caller identity exactly the methods and paths it used
 * (paths with an identifier segment become a prefix up to it: `/orders/123` → `/orders/*`), with comments counting
 * the calls each rule and operation allows. Istio `AuthorizationPolicy`, Linkerd `Server` +
 * `MeshTLSAuthentication` + `AuthorizationPolicy`, or Consul `ServiceIntentions`.
 *
 * Property (tested with the evaluators of each mesh's semantics, `istio.ts`, `linkerd.ts`, `consul.ts`): the
 * suggested policies applied to the same calls deny none that was allowed. Calls without a caller identity are kept
 * working by an explicit rule (Istio: any caller for those operations; Linkerd: a NetworkAuthentication of every
 * address), with a comment to remove it; Consul intentions cannot name such a caller (its `MutualTLSMode` decides).
 */
import { consulSource } from "./consul.js";
import { linkerdIdentity } from "./linkerd.js";
import { istioPrincipal, type ObservedCall } from "./traffic.js";

export type MeshKind = "istio" | "linkerd" | "consul";

/** The most distinct path patterns one caller and method keep before they are folded into their common prefix. */
export const MAX_PATHS_PER_OPERATION = 50;

interface Operation {
  readonly method: string | undefined;
  /** Path pattern → calls; the `undefined` key holds calls without a path (TCP, gRPC without path). */
  readonly paths: Map<string | undefined, number>;
  calls: number;
}

interface Caller {
  readonly principal: string | undefined;
  calls: number;
  readonly operations: Map<string, Operation>;
  readonly ports: Set<number>;
}

export interface Destination {
  readonly service: string;
  readonly namespace: string;
  readonly workload: string;
  calls: number;
  first: string;
  last: string;
  readonly callers: Map<string, Caller>;
  readonly ports: Set<number>;
}

const ID_SEGMENT =
  /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?=[0-9a-z]*\d)[0-9a-z]{16,}|(?=[0-9a-f]*\d)[0-9a-f]{8,})$/i;

/** `/orders/123/items` → `/orders/*`; a path without an identifier segment stays exact. */
export function pathPattern(path: string): string {
  const segments = path.split("/");
  const index = segments.findIndex((segment, i) => i > 0 && ID_SEGMENT.test(segment));
  return index < 0 ? path : `${segments.slice(0, index).join("/")}/*`;
}

/** A time as `toISOString` writes it (the files' own precision and the indices' milliseconds read the same). */
function isoTime(time: string): string {
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? time : new Date(ms).toISOString();
}

/** The allowed calls grouped by destination, caller and operation. */
export function groupCalls(calls: Iterable<ObservedCall>, namespace?: string): Destination[] {
  const destinations = new Map<string, Destination>();
  for (const call of calls) {
    if (!call.allowed) continue;
    if (namespace !== undefined && call.namespace !== namespace) continue;
    const key = `${call.namespace}/${call.workload}`;
    const n = call.count ?? 1;
    const first = isoTime(call.time);
    const last = isoTime(call.lastTime ?? call.time);
    let destination = destinations.get(key);
    if (destination === undefined) {
      destination = {
        service: call.service,
        namespace: call.namespace,
        workload: call.workload,
        calls: 0,
        first,
        last,
        callers: new Map(),
        ports: new Set(),
      };
      destinations.set(key, destination);
    }
    destination.calls += n;
    if (first < destination.first) destination.first = first;
    if (last > destination.last) destination.last = last;
    if (call.port !== undefined) destination.ports.add(call.port);
    const callerKey = call.principal ?? "";
    let caller = destination.callers.get(callerKey);
    if (caller === undefined) {
      caller = { principal: call.principal, calls: 0, operations: new Map(), ports: new Set() };
      destination.callers.set(callerKey, caller);
    }
    caller.calls += n;
    if (call.port !== undefined) caller.ports.add(call.port);
    const methodKey = call.method ?? "";
    let operation = caller.operations.get(methodKey);
    if (operation === undefined) {
      operation = { method: call.method, paths: new Map(), calls: 0 };
      caller.operations.set(methodKey, operation);
    }
    operation.calls += n;
    const pattern = call.path === undefined ? undefined : pathPattern(call.path);
    operation.paths.set(pattern, (operation.paths.get(pattern) ?? 0) + n);
  }
  for (const destination of destinations.values())
    for (const caller of destination.callers.values())
      for (const operation of caller.operations.values()) foldPaths(operation);
  return [...destinations.values()].sort((a, b) =>
    `${a.namespace}/${a.workload}`.localeCompare(`${b.namespace}/${b.workload}`),
  );
}

/** More than `MAX_PATHS_PER_OPERATION` patterns: folded into their longest common prefix (`/api/*`). */
function foldPaths(operation: Operation): void {
  const patterns = [...operation.paths.keys()].filter((path): path is string => path !== undefined);
  if (patterns.length <= MAX_PATHS_PER_OPERATION) return;
  let prefix = patterns[0] as string;
  for (const path of patterns) while (!path.startsWith(prefix)) prefix = prefix.slice(0, -1);
  const cut = prefix.endsWith("*") ? prefix.slice(0, -1) : prefix;
  const folded = `${cut.slice(0, cut.lastIndexOf("/") + 1) || "/"}*`;
  let total = 0;
  for (const path of patterns) {
    total += operation.paths.get(path) ?? 0;
    operation.paths.delete(path);
  }
  operation.paths.set(folded, total);
}

const q = (value: string) => JSON.stringify(value);

/** The lines every suggested manifest starts with, up to its `spec:`. */
function manifestHead(apiVersion: string, kind: string, name: string, namespace: string): string[] {
  return [
    `apiVersion: ${apiVersion}`,
    `kind: ${kind}`,
    "metadata:",
    `  name: ${q(name)}`,
    `  namespace: ${q(namespace)}`,
    "spec:",
  ];
}

/** Callers, operations and paths in a fixed order (by principal, method, path), whatever order the calls came in. */
function sortedCallers(destination: Destination): Caller[] {
  return [...destination.callers.values()].sort((a, b) =>
    (a.principal ?? "").localeCompare(b.principal ?? ""),
  );
}

function sortedOperations(caller: Caller): Operation[] {
  return [...caller.operations.values()].sort((a, b) => (a.method ?? "").localeCompare(b.method ?? ""));
}

function sortedPaths(operation: Operation): [string | undefined, number][] {
  return [...operation.paths.entries()].sort(([a], [b]) => String(a).localeCompare(String(b)));
}
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

function header(destination: Destination, mesh: MeshKind): string[] {
  return [
    `# Suggested by audit-trail policy suggest (${mesh}) from ${plural(destination.calls, "allowed call")} to ${destination.service}`,
    `# between ${destination.first} and ${destination.last}. Review before applying: it allows exactly what was observed.`,
  ];
}

function operationLines(operation: Operation, indent: string): string[] {
  const paths = [...operation.paths.entries()];
  const anyPath = paths.some(([path]) => path === undefined);
  const lines = [`${indent}# ${operation.method ?? "any method"}: ${plural(operation.calls, "call")}`];
  lines.push(`${indent}- operation:`);
  if (operation.method !== undefined) lines.push(`${indent}    methods: [${q(operation.method)}]`);
  if (!anyPath) {
    lines.push(`${indent}    paths:`);
    for (const [path, count] of paths.sort(([a], [b]) => String(a).localeCompare(String(b))))
      lines.push(`${indent}      - ${q(path as string)} # ${plural(count, "call")}`);
  }
  if (operation.method === undefined && anyPath)
    lines.push(`${indent}    paths: ["*"] # calls without method or path (TCP)`);
  return lines;
}

/** Istio `AuthorizationPolicy` documents, one per destination workload. */
export function suggestIstio(destinations: readonly Destination[]): string {
  const documents = destinations.map((destination) => {
    const lines = [
      ...header(destination, "istio"),
      `# The selector assumes the workload carries the label app=${destination.workload}; adjust it to its labels.`,
      ...manifestHead(
        "security.istio.io/v1",
        "AuthorizationPolicy",
        `${destination.workload}-allow-observed`,
        destination.namespace,
      ),
      "  selector:",
      "    matchLabels:",
      `      app: ${q(destination.workload)}`,
      "  action: ALLOW",
      "  rules:",
    ];
    const callers = sortedCallers(destination);
    for (const caller of callers) {
      const operations = sortedOperations(caller);
      // Calls without method or path (TCP): Istio matches them only by a rule without HTTP conditions.
      const tcp = operations.find(
        (operation) => operation.method === undefined && operation.paths.has(undefined),
      );
      const anonymous = caller.principal === undefined;
      if (caller.principal === undefined) {
        lines.push(
          `    # ${plural(caller.calls, "call")} without a caller identity (plaintext, or a log format without the peer's`,
          "    # identity): this rule keeps them working and allows any caller these operations; remove it once every",
          "    # caller uses mTLS.",
        );
      } else {
        lines.push(
          `    # ${caller.principal}: ${plural(caller.calls, "call")}`,
          "    - from:",
          "        - source:",
          `            principals: [${q(istioPrincipal(caller.principal))}]`,
        );
      }
      if (tcp !== undefined) {
        lines.push(
          `${anonymous ? "    " : "      "}# ${plural(tcp.calls, "call")} without method or path (TCP): every operation is allowed`,
        );
        if (anonymous) lines.push("    - {}");
        continue;
      }
      lines.push(anonymous ? "    - to:" : "      to:");
      for (const operation of operations) lines.push(...operationLines(operation, "        "));
    }
    return lines.join("\n");
  });
  return `${documents.join("\n---\n")}\n`;
}

/** A Linkerd `AuthorizationPolicy` that lets the callers of one authentication reach one `Server`. */
function linkerdAuthorizationPolicy(
  name: string,
  namespace: string,
  serverName: string,
  authentication: "MeshTLSAuthentication" | "NetworkAuthentication",
  authenticationName: string,
): string {
  return [
    ...manifestHead("policy.linkerd.io/v1alpha1", "AuthorizationPolicy", name, namespace),
    "  targetRef:",
    "    group: policy.linkerd.io",
    "    kind: Server",
    `    name: ${q(serverName)}`,
    "  requiredAuthenticationRefs:",
    "    - group: policy.linkerd.io",
    `      kind: ${authentication}`,
    `      name: ${q(authenticationName)}`,
  ].join("\n");
}

/** Linkerd `Server`, `MeshTLSAuthentication` and `AuthorizationPolicy` per destination workload and port. */
export function suggestLinkerd(destinations: readonly Destination[]): string {
  const documents: string[] = [];
  for (const destination of destinations) {
    const callers = sortedCallers(destination);
    const identities = callers.filter((caller) => caller.principal !== undefined);
    const anonymous = callers.find((caller) => caller.principal === undefined);
    const ports = [...destination.ports].sort((a, b) => a - b);
    const base = destination.workload;
    const authName = `${base}-observed-clients`;
    const intro = [
      ...header(destination, "linkerd"),
      "# Linkerd authorizes per Server (or per HTTPRoute): methods and paths are listed as comments; attach HTTPRoutes",
      "# to narrow them further.",
    ];
    const mtls = [
      ...manifestHead("policy.linkerd.io/v1alpha1", "MeshTLSAuthentication", authName, destination.namespace),
      "  identities:",
    ];
    const notIncluded: string[] = [];
    let included = 0;
    for (const caller of identities) {
      const identity = linkerdIdentity(caller.principal as string);
      const used = sortedOperations(caller)
        .map(
          (operation) =>
            `${operation.method ?? "any"} ${sortedPaths(operation)
              .map(([p]) => p ?? "*")
              .join(" ")}`,
        )
        .join("; ");
      if (identity === undefined) {
        notIncluded.push(
          `# ${caller.principal}: ${plural(caller.calls, "call")}, not a Linkerd or SPIFFE identity: not included`,
        );
        continue;
      }
      included++;
      mtls.push(`    - ${q(identity)} # ${plural(caller.calls, "call")}: ${used}`);
    }
    if (anonymous !== undefined) {
      intro.push(
        `# ${plural(anonymous.calls, "call")} came without a caller identity: the NetworkAuthentication ${q(`${base}-unauthenticated`)}`,
        "# keeps them working; remove it and its AuthorizationPolicies once every caller uses mTLS.",
      );
    }
    intro.push(...notIncluded);
    // A MeshTLSAuthentication needs at least one identity: without one, the comments go with the Server.
    if (included > 0) documents.push([...intro, ...mtls].join("\n"));
    const networkName = `${base}-unauthenticated`;
    if (anonymous !== undefined) {
      documents.push(
        [
          `# ${plural(anonymous.calls, "call")} without a caller identity (plaintext, or a log format without the peer's identity):`,
          "# this allows any unauthenticated caller. Remove it once every caller uses mTLS.",
          ...manifestHead(
            "policy.linkerd.io/v1alpha1",
            "NetworkAuthentication",
            networkName,
            destination.namespace,
          ),
          "  networks:",
          '    - cidr: "0.0.0.0/0"',
          '    - cidr: "::/0"',
        ].join("\n"),
      );
    }
    for (const port of ports.length === 0 ? [undefined] : ports) {
      const serverName = port === undefined ? base : `${base}-${port}`;
      documents.push(
        [
          ...(included === 0 && port === (ports[0] ?? undefined) ? intro : []),
          `# The podSelector assumes the workload carries the label app=${base}.`,
          ...manifestHead("policy.linkerd.io/v1beta3", "Server", serverName, destination.namespace),
          "  podSelector:",
          "    matchLabels:",
          `      app: ${q(base)}`,
          port === undefined
            ? "  port: 8080 # no destination port in the logs: set the workload's port"
            : `  port: ${port}`,
        ].join("\n"),
      );
      if (included > 0)
        documents.push(
          linkerdAuthorizationPolicy(
            `${serverName}-observed`,
            destination.namespace,
            serverName,
            "MeshTLSAuthentication",
            authName,
          ),
        );
      if (anonymous !== undefined)
        documents.push(
          linkerdAuthorizationPolicy(
            `${serverName}-unauthenticated`,
            destination.namespace,
            serverName,
            "NetworkAuthentication",
            networkName,
          ),
        );
    }
  }
  return `${documents.join("\n---\n")}\n`;
}

/** Consul `ServiceIntentions`, one per destination service. */
export function suggestConsul(destinations: readonly Destination[]): string {
  const documents = destinations.map((destination) => {
    const lines = [
      ...header(destination, "consul"),
      "# Sources are Consul service names (for non-Consul identities: the service account's name).",
      ...manifestHead(
        "consul.hashicorp.com/v1alpha1",
        "ServiceIntentions",
        destination.workload,
        destination.namespace,
      ),
      "  destination:",
      `    name: ${q(destination.workload)}`,
      "  sources:",
    ];
    const callers = sortedCallers(destination);
    for (const caller of callers) {
      const name = caller.principal === undefined ? undefined : consulSource(caller.principal);
      if (name === undefined) {
        lines.push(
          `    # ${plural(caller.calls, "call")} from ${caller.principal ?? "no caller identity"}: not expressible as an intention; not allowed`,
        );
        continue;
      }
      lines.push(`    # ${caller.principal}: ${plural(caller.calls, "call")}`, `    - name: ${q(name)}`);
      const tcp = [...caller.operations.values()].find(
        (operation) => operation.method === undefined && operation.paths.has(undefined),
      );
      if (tcp !== undefined) {
        // An intention is L4 or L7: calls without method or path need the L4 one, which allows everything.
        lines.push(
          `      action: allow # ${plural(tcp.calls, "call")} without method or path (TCP): every request is allowed`,
        );
        continue;
      }
      lines.push("      permissions:");
      for (const operation of sortedOperations(caller)) {
        for (const [path, count] of sortedPaths(operation)) {
          lines.push(
            `        - action: allow # ${operation.method ?? "any method"} ${path ?? ""}: ${plural(count, "call")}`,
          );
          const http: string[] = [];
          if (path !== undefined)
            http.push(path.endsWith("*") ? `pathPrefix: ${q(path.slice(0, -1))}` : `pathExact: ${q(path)}`);
          if (operation.method !== undefined) http.push(`methods: [${q(operation.method)}]`);
          if (http.length > 0) {
            lines.push("          http:");
            for (const entry of http) lines.push(`            ${entry}`);
          }
        }
      }
    }
    lines.push('    - name: "*"', "      action: deny");
    return lines.join("\n");
  });
  return `${documents.join("\n---\n")}\n`;
}

export function suggest(calls: Iterable<ObservedCall>, mesh: MeshKind, namespace?: string): string {
  const destinations = groupCalls(calls, namespace);
  if (destinations.length === 0) return "";
  switch (mesh) {
    case "istio":
      return suggestIstio(destinations);
    case "linkerd":
      return suggestLinkerd(destinations);
    case "consul":
      return suggestConsul(destinations);
  }
}
