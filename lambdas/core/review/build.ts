/**
 * The weekly review: what a reviewer signs off each week, from the trail itself. Alerts by rule and severity with
 * their state, exec sessions, changes to mesh security and RBAC resources (who, what, when, the change when the
 * audit level recorded it), top identities by denied requests, new service edges, the posture against the previous
 * period, and the pipeline's health. Pure: fed documents and alerts by the CLI (files) or the scheduled function
 * (indices); both paths give the builder the same documents, so the report is the same.
 */

import { isMeshPolicyChange, meshConfigChange } from "../alerts/changes.js";
import { kubernetesOperator } from "../alerts/fields.js";
import type { Alert, Severity } from "../alerts/index.js";
import type { EcsDocument, KubernetesAuditFields } from "../ecs.js";
import { destinationOf, isMeshTraffic, PostureBuilder, type PostureReport } from "../posture/build.js";
import { podExecDetails } from "../rules/k8s.js";

export interface ReviewOptions {
  readonly since: string;
  readonly until: string;
  readonly environment: string;
  /** Where the data came from, said in the report: `files: a.log, b.log` or `indices of env prod`. */
  readonly source: string;
  readonly rootNamespace?: string;
  readonly rotationPeriodMs?: number;
  /** How many identities to list by denied requests. @default 10 */
  readonly topDenied?: number;
}

/** An alert's state: `published`, `pending`, … from the alerts index; `replayed` from files. */
export interface AlertLine {
  readonly id: string;
  readonly time: string;
  readonly rule: string;
  readonly severity: Severity;
  readonly state: string;
  readonly count: number;
  readonly what: string;
  readonly who?: string;
  readonly runbook: string;
}

export interface AlertGroup {
  readonly rule: string;
  readonly severity: Severity;
  readonly alerts: number;
  readonly events: number;
  /** Alerts per state. */
  readonly states: Readonly<Record<string, number>>;
}

export interface ExecSession {
  readonly time: string;
  readonly who: string;
  readonly cluster?: string;
  readonly namespace?: string;
  readonly pod?: string;
  readonly container?: string;
  readonly command?: string;
  readonly subresource: string;
  readonly sourceIp?: string;
}

export interface ResourceChange {
  readonly time: string;
  readonly who: string;
  readonly verb: string;
  readonly kind: "mesh security" | "RBAC";
  readonly cluster?: string;
  /** `peerauthentications.security.istio.io shop/default`. */
  readonly resource: string;
  /** What changed, or why the audit level does not say. */
  readonly change: string;
  readonly auditLevel?: string;
}

export interface DeniedIdentity {
  readonly identity: string;
  /** `mesh` (401/403, gRPC PERMISSION_DENIED/UNAUTHENTICATED) or `kubernetes` (API 403). */
  readonly where: "mesh" | "kubernetes";
  readonly denied: number;
  readonly first: string;
  readonly last: string;
  /** Up to five of the services or resources it was denied on. */
  readonly targets: readonly string[];
}

export interface ServiceEdge {
  readonly cluster?: string;
  readonly source: string;
  readonly destination: string;
  readonly requests: number;
  readonly firstSeen: string;
}

export interface PostureChange {
  readonly cluster: string;
  readonly namespace: string;
  readonly what: string;
}

export interface PipelineHealth {
  /** Sources that went silent in the period (`pipeline_source_silent` alerts). */
  readonly silentSources: readonly string[];
  /** Records that could not be parsed: in the files read, or under the error prefix in the period. */
  readonly errorRecords: {
    readonly count: number;
    readonly basis: string;
    /** Objects per reason (the error prefix Firehose wrote them under), when read from the archive. */
    readonly byReason?: Readonly<Record<string, number>>;
  };
  /**
   * The digest chain of the period.
   */
  readonly digestChain: {
    /**
     * `verified` / `failed`: `audit-trail verify`'s check of the period (signatures, links, continuity, every
     * object's size and SHA-256); `not checked` (from files).
     */
    readonly status: "verified" | "failed" | "not checked";
    readonly detail: string;
  };
}

export interface ReviewReport {
  readonly title: string;
  readonly environment: string;
  readonly since: string;
  readonly until: string;
  readonly previousSince: string;
  readonly source: string;
  readonly basis: { readonly documents: number; readonly alerts: number; readonly firstEvent?: string };
  readonly alertsByRule: readonly AlertGroup[];
  readonly alerts: readonly AlertLine[];
  readonly execSessions: readonly ExecSession[];
  readonly changes: readonly ResourceChange[];
  readonly deniedIdentities: readonly DeniedIdentity[];
  readonly newEdges: readonly ServiceEdge[];
  /** Edges seen in the period, new or not. */
  readonly edgesInPeriod: number;
  /** What "new" rests on: the data before the period the builder saw. */
  readonly edgesBasis: string;
  readonly postureChanges: readonly PostureChange[];
  readonly posture: PostureReport;
  readonly pipeline: PipelineHealth;
  readonly signOff: readonly string[];
}

const SEVERITY_ORDER: readonly Severity[] = ["critical", "high", "medium", "low", "informational"];
const CHANGE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** Whether an audit event changed an RBAC object (roles, bindings), completed and not refused. */
export function isRbacChange(audit: KubernetesAuditFields | undefined): boolean {
  return (
    audit?.objectRef?.apiGroup === "rbac.authorization.k8s.io" &&
    CHANGE_VERBS.has(audit.verb ?? "") &&
    audit.objectRef.subresource === undefined
  );
}

function completedAndAllowed(audit: KubernetesAuditFields): boolean {
  if (audit.stage !== undefined && audit.stage !== "ResponseComplete") return false;
  const code = audit.responseStatus?.code;
  return code === undefined || code < 400;
}

/** Whether an audit event opened an exec or attach session into a pod. */
export function isExecSession(audit: KubernetesAuditFields | undefined): boolean {
  const ref = audit?.objectRef;
  return (
    ref?.resource === "pods" &&
    (ref.subresource === "exec" || ref.subresource === "attach") &&
    (audit?.verb === "create" || audit?.verb === "get") &&
    // A session is long-running: the API server logs it at ResponseStarted (101) and again when it ends.
    audit?.stage !== "RequestReceived" &&
    (audit?.responseStatus?.code === undefined || audit.responseStatus.code < 400)
  );
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** What an RBAC change grants or binds: `rules get,list:secrets; *:*` or `roleRef ClusterRole/admin → User alice`. */
export function rbacChange(audit: KubernetesAuditFields): string {
  const verb = audit.verb ?? "change";
  if (verb === "delete" || verb === "deletecollection") return `${verb}: the object no longer applies`;
  const object = record(audit.responseObject) ?? record(audit.requestObject);
  if (object === undefined) {
    if (Array.isArray(audit.requestObject))
      return `${verb}: JSON patch of ${audit.requestObject.length} operation(s)`;
    return `${verb}: content not recorded (audit level ${audit.level ?? "unknown"}; log RBAC at Request or RequestResponse to see what changed)`;
  }
  const parts: string[] = [];
  if (Array.isArray(object.rules)) {
    const rules = object.rules
      .map((rule) => {
        const r = record(rule) ?? {};
        const list = (value: unknown): string => (Array.isArray(value) ? value.map(String).join(",") : "");
        const what = [list(r.resources), list(r.nonResourceURLs)].filter(Boolean).join(",");
        return `${list(r.verbs)}:${what || "?"}`;
      })
      .slice(0, 8);
    parts.push(
      `rules ${rules.join("; ")}${object.rules.length > 8 ? ` +${object.rules.length - 8} more` : ""}`,
    );
  }
  const roleRef = record(object.roleRef);
  if (roleRef !== undefined) {
    const subjects = Array.isArray(object.subjects)
      ? object.subjects
          .map((subject) => {
            const s = record(subject) ?? {};
            return `${String(s.kind ?? "?")} ${s.namespace === undefined ? "" : `${String(s.namespace)}/`}${String(s.name ?? "?")}`;
          })
          .join(", ")
      : "no subjects";
    parts.push(`${String(roleRef.kind ?? "?")}/${String(roleRef.name ?? "?")} to ${subjects}`);
  }
  if (record(object.aggregationRule) !== undefined) parts.push("aggregation rule");
  return parts.length === 0
    ? `${verb}: no rules or bindings in the recorded object`
    : `${verb}: ${parts.join("; ")}`;
}

function resourceName(audit: KubernetesAuditFields): string {
  const ref = audit.objectRef;
  const kind = [ref?.resource, ref?.apiGroup].filter(Boolean).join(".");
  const name =
    ref?.name === undefined ? "" : ref.namespace === undefined ? ref.name : `${ref.namespace}/${ref.name}`;
  return [kind, name].filter(Boolean).join(" ");
}

/** A request a mesh refused for authorization: 401/403, or gRPC PERMISSION_DENIED (7) / UNAUTHENTICATED (16). */
function meshDenied(doc: EcsDocument): boolean {
  const status = doc.http?.response?.status_code;
  const grpc = doc.mesh?.grpc_status_code;
  return status === 401 || status === 403 || grpc === 7 || grpc === 16;
}

/** Keeps the documents it needs as they come, and the alerts it is given. */
export class ReviewBuilder {
  private readonly sinceMs: number;
  private readonly untilMs: number;
  private readonly previousMs: number;
  private readonly current: PostureBuilder;
  private readonly previous: PostureBuilder;
  private readonly execs: ExecSession[] = [];
  private readonly changes: ResourceChange[] = [];
  private readonly denied = new Map<string, DeniedIdentity & { targets: string[] }>();
  private readonly edges = new Map<string, ServiceEdge & { inPeriod: number }>();
  private readonly alerts: { alert: Alert; state: string }[] = [];
  private readonly seenAudit = new Set<string>();
  private documents = 0;
  private firstEvent: string | undefined;

  constructor(private readonly options: ReviewOptions) {
    this.sinceMs = Date.parse(options.since);
    this.untilMs = Date.parse(options.until);
    if (Number.isNaN(this.sinceMs) || Number.isNaN(this.untilMs) || this.sinceMs > this.untilMs)
      throw new RangeError(`review period: not an ISO 8601 range: ${options.since} .. ${options.until}`);
    this.previousMs = this.sinceMs - (this.untilMs - this.sinceMs);
    const common = {
      ...(options.rootNamespace === undefined ? {} : { rootNamespace: options.rootNamespace }),
      ...(options.rotationPeriodMs === undefined ? {} : { rotationPeriodMs: options.rotationPeriodMs }),
    };
    this.current = new PostureBuilder({ since: options.since, until: options.until, ...common });
    this.previous = new PostureBuilder({
      since: new Date(this.previousMs).toISOString(),
      until: new Date(this.sinceMs - 1).toISOString(),
      ...common,
    });
  }

  /** One alert of the period (or not: alerts outside it are ignored) with its state. */
  addAlert(alert: Alert, state: string): void {
    const ms = Date.parse(alert["@timestamp"]);
    if (ms < this.sinceMs || ms > this.untilMs) return;
    this.alerts.push({ alert, state });
  }

  /** One document of the trail, of any time up to the period's end. */
  add(doc: EcsDocument): void {
    const at = doc["@timestamp"];
    const ms = Date.parse(at);
    if (Number.isNaN(ms) || ms > this.untilMs) return;
    if (ms >= this.previousMs || doc.kubernetes?.audit !== undefined) this.documents++;
    if (this.firstEvent === undefined || at < this.firstEvent) this.firstEvent = at;
    this.current.add(doc);
    this.previous.add(doc);
    const audit = doc.kubernetes?.audit;
    if (audit !== undefined) {
      if (ms < this.sinceMs) return;
      // One request is logged at each stage under one audit ID: it counts once (the first stage the builder reads).
      const id = audit.auditID;
      if (id !== undefined) {
        if (this.seenAudit.has(id)) return;
        this.seenAudit.add(id);
      }
      this.addAudit(doc, audit);
      return;
    }
    if (!isMeshTraffic(doc)) return;
    const cluster = doc.orchestrator?.cluster?.name;
    if (ms >= this.sinceMs && meshDenied(doc)) {
      const identity =
        doc.mesh?.source?.principal ??
        (doc.source?.ip === undefined ? "(no identity)" : `ip ${doc.source.ip}`);
      const { service, namespace } = destinationOf(doc);
      const target =
        service === undefined
          ? "(service not named)"
          : namespace === undefined
            ? service
            : `${namespace}/${service}`;
      this.deny(`mesh\u0000${identity}`, identity, "mesh", at, target);
    }
    const source = doc.mesh?.source?.principal;
    const { service, namespace } = destinationOf(doc);
    if (source === undefined || service === undefined) return;
    const destination = namespace === undefined ? service : `${namespace}/${service}`;
    const key = `${cluster ?? ""}\u0000${source}\u0000${destination}`;
    const edge = this.edges.get(key);
    const inPeriod = ms >= this.sinceMs ? 1 : 0;
    if (edge === undefined) {
      this.edges.set(key, {
        ...(cluster === undefined ? {} : { cluster }),
        source,
        destination,
        requests: inPeriod,
        inPeriod,
        firstSeen: at,
      });
    } else {
      this.edges.set(key, {
        ...edge,
        requests: edge.requests + inPeriod,
        inPeriod: edge.inPeriod + inPeriod,
        firstSeen: at < edge.firstSeen ? at : edge.firstSeen,
      });
    }
  }

  /** An edge known from before the period without its documents (the indices path's aggregation). */
  addEdgeBaseline(edge: { cluster?: string; source: string; destination: string; firstSeen: string }): void {
    const key = `${edge.cluster ?? ""}\u0000${edge.source}\u0000${edge.destination}`;
    const known = this.edges.get(key);
    if (known === undefined) this.edges.set(key, { ...edge, requests: 0, inPeriod: 0 });
    else if (edge.firstSeen < known.firstSeen) this.edges.set(key, { ...known, firstSeen: edge.firstSeen });
    if (this.firstEvent === undefined || edge.firstSeen < this.firstEvent) this.firstEvent = edge.firstSeen;
  }

  private deny(
    key: string,
    identity: string,
    where: "mesh" | "kubernetes",
    at: string,
    target: string,
  ): void {
    const known = this.denied.get(key);
    if (known === undefined) {
      this.denied.set(key, { identity, where, denied: 1, first: at, last: at, targets: [target] });
      return;
    }
    if (!known.targets.includes(target) && known.targets.length < 5) known.targets.push(target);
    this.denied.set(key, {
      ...known,
      denied: known.denied + 1,
      first: at < known.first ? at : known.first,
      last: at > known.last ? at : known.last,
    });
  }

  private addAudit(doc: EcsDocument, audit: KubernetesAuditFields): void {
    const who = kubernetesOperator(audit) ?? audit.user?.username ?? "(unknown user)";
    const cluster = doc.orchestrator?.cluster?.name;
    const at = doc["@timestamp"];
    if (
      audit.responseStatus?.code === 403 &&
      (audit.stage === undefined || audit.stage === "ResponseComplete")
    ) {
      this.deny(
        `kubernetes\u0000${who}`,
        who,
        "kubernetes",
        at,
        resourceName(audit) || (audit.requestURI ?? "?"),
      );
    }
    if (isExecSession(audit)) {
      const exec = podExecDetails(doc);
      this.execs.push({
        time: at,
        who,
        ...(cluster === undefined ? {} : { cluster }),
        ...(exec.namespace === undefined ? {} : { namespace: exec.namespace }),
        ...(exec.pod === undefined ? {} : { pod: exec.pod }),
        ...(exec.container === undefined ? {} : { container: exec.container }),
        ...(exec.command === undefined ? {} : { command: exec.command }),
        subresource: exec.subresource ?? "exec",
        ...(audit.sourceIPs?.[0] === undefined ? {} : { sourceIp: audit.sourceIPs[0] }),
      });
      return;
    }
    if (!completedAndAllowed(audit)) return;
    const mesh = isMeshPolicyChange(audit);
    if (!mesh && !isRbacChange(audit)) return;
    this.changes.push({
      time: at,
      who,
      verb: audit.verb ?? "change",
      kind: mesh ? "mesh security" : "RBAC",
      ...(cluster === undefined ? {} : { cluster }),
      resource: resourceName(audit),
      change: mesh ? meshConfigChange(doc).summary : rbacChange(audit),
      ...(audit.level === undefined ? {} : { auditLevel: audit.level }),
    });
  }

  report(pipeline: Omit<PipelineHealth, "silentSources">): ReviewReport {
    const byTime = <T extends { time: string }>(a: T, b: T): number => a.time.localeCompare(b.time);
    const alerts: AlertLine[] = this.alerts
      .map(({ alert, state }) => ({
        id: alert.id,
        time: alert["@timestamp"],
        rule: alert.rule.name,
        severity: alert.severity,
        state,
        count: alert.count,
        what: alert.summary.what,
        ...(alert.summary.who === undefined ? {} : { who: alert.summary.who }),
        runbook: alert.rule.runbook,
      }))
      .sort((a, b) => byTime(a, b) || a.rule.localeCompare(b.rule) || a.id.localeCompare(b.id));
    const groups = new Map<
      string,
      { rule: string; severity: Severity; alerts: number; events: number; states: Record<string, number> }
    >();
    for (const line of alerts) {
      const key = `${line.rule}\u0000${line.severity}`;
      const group = groups.get(key) ?? {
        rule: line.rule,
        severity: line.severity,
        alerts: 0,
        events: 0,
        states: {},
      };
      group.alerts++;
      group.events += line.count;
      group.states[line.state] = (group.states[line.state] ?? 0) + 1;
      groups.set(key, group);
    }
    const alertsByRule = [...groups.values()].sort(
      (a, b) =>
        SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) ||
        a.rule.localeCompare(b.rule),
    );
    const silentSources = this.alerts
      .filter(({ alert }) => alert.rule.name === "pipeline_source_silent")
      .map(({ alert }) =>
        Object.entries(alert.group)
          .map(([key, value]) => `${key}=${value}`)
          .join(" "),
      );
    const posture = this.current.report();
    const previous = this.previous.report();
    const edgesInPeriod = [...this.edges.values()].filter((edge) => edge.inPeriod > 0);
    const newEdges = edgesInPeriod
      .filter((edge) => Date.parse(edge.firstSeen) >= this.sinceMs)
      .map(({ inPeriod: _inPeriod, ...edge }) => edge)
      .sort(
        (a, b) =>
          a.firstSeen.localeCompare(b.firstSeen) ||
          a.source.localeCompare(b.source) ||
          a.destination.localeCompare(b.destination),
      );
    const firstEvent = this.firstEvent;
    const edgesBasis =
      firstEvent === undefined || Date.parse(firstEvent) >= this.sinceMs
        ? "no data before the period: every edge of the period counts as new"
        : `first seen compared with the data from ${firstEvent} on`;
    return {
      title: `Weekly audit review: ${this.options.environment}`,
      environment: this.options.environment,
      since: new Date(this.sinceMs).toISOString(),
      until: new Date(this.untilMs).toISOString(),
      previousSince: new Date(this.previousMs).toISOString(),
      source: this.options.source,
      basis: {
        documents: this.documents,
        alerts: alerts.length,
        ...(firstEvent === undefined ? {} : { firstEvent }),
      },
      alertsByRule,
      alerts,
      execSessions: [...this.execs].sort(byTime),
      changes: [...this.changes].sort((a, b) => byTime(a, b) || a.resource.localeCompare(b.resource)),
      deniedIdentities: [...this.denied.values()]
        .sort((a, b) => b.denied - a.denied || a.identity.localeCompare(b.identity))
        .slice(0, this.options.topDenied ?? 10),
      newEdges,
      edgesInPeriod: edgesInPeriod.length,
      edgesBasis,
      postureChanges: postureChanges(previous, posture),
      posture,
      pipeline: { silentSources, ...pipeline },
      signOff: [
        "Every high and critical alert above has an owner and a closing note in the incident tracker.",
        "Every exec session and every change to mesh security or RBAC above was expected (a ticket or a deploy).",
        "The identities with the most denied requests are known callers, or are being investigated.",
        "Every new service edge is an intended dependency.",
        "Every namespace that carries traffic is STRICT, or on the documented allow list.",
        "The pipeline is healthy: no silent source, error records understood, digest chain verified.",
      ],
    };
  }
}

function percent(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((1000 * part) / whole) / 10;
}

/** What moved between the previous period's posture and this one's, per namespace. */
export function postureChanges(before: PostureReport, after: PostureReport): PostureChange[] {
  const index = (report: PostureReport) => {
    const map = new Map<string, PostureReport["clusters"][number]["namespaces"][number]>();
    for (const cluster of report.clusters)
      for (const ns of cluster.namespaces) map.set(`${cluster.name}\u0000${ns.name}`, ns);
    return map;
  };
  const was = index(before);
  const now = index(after);
  const out: PostureChange[] = [];
  for (const key of [...new Set([...was.keys(), ...now.keys()])].sort()) {
    const [cluster, namespace] = key.split("\u0000") as [string, string];
    const a = was.get(key);
    const b = now.get(key);
    const modeA = a?.declared.mode ?? "not seen";
    const modeB = b?.declared.mode ?? "not seen";
    if (modeA !== modeB) out.push({ cluster, namespace, what: `declared mTLS ${modeA} -> ${modeB}` });
    const plainA = a === undefined ? 0 : percent(a.traffic.plaintext, a.traffic.requests);
    const plainB = b === undefined ? 0 : percent(b.traffic.plaintext, b.traffic.requests);
    if (plainA !== plainB && ((a?.traffic.requests ?? 0) > 0 || (b?.traffic.requests ?? 0) > 0))
      out.push({ cluster, namespace, what: `plaintext share ${plainA}% -> ${plainB}%` });
    if ((a?.traffic.requests ?? 0) === 0 && (b?.traffic.requests ?? 0) > 0)
      out.push({ cluster, namespace, what: "carries mesh traffic (none in the previous period)" });
    const covered = (ns: typeof a) =>
      new Set(
        (ns?.services ?? []).filter((s) => s.authorization.status === "not covered").map((s) => s.name),
      );
    const uncoveredA = covered(a);
    for (const service of covered(b))
      if (!uncoveredA.has(service) && a?.services.some((s) => s.name === service))
        out.push({
          cluster,
          namespace,
          what: `service ${service} no longer covered by an authorization policy`,
        });
  }
  return out;
}
