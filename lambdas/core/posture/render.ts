/** The posture as text for people: one block per cluster, a line per namespace and service, each with its basis. */
import type { Authorization, DeclaredMode, PostureReport, TrafficShare } from "./build.js";

function percent(part: number, whole: number): string {
  if (whole === 0) return "-";
  const value = (100 * part) / whole;
  return `${value >= 10 || value === 0 ? value.toFixed(0) : value.toFixed(1)}%`;
}

/** `1,204 requests: mTLS 98%, plaintext 1% (12 proven), unknown 1%`. */
export function formatShare(share: TrafficShare): string {
  if (share.requests === 0) return "no requests observed";
  const proven = share.plaintext === 0 ? "" : ` (${share.plaintextProven} proven)`;
  return `${share.requests} requests: mTLS ${percent(share.mtls, share.requests)}, plaintext ${percent(share.plaintext, share.requests)}${proven}, unknown ${percent(share.unknown, share.requests)}`;
}

export function formatEvidence(share: TrafficShare): string {
  return Object.entries(share.evidence)
    .sort(([, a], [, b]) => b - a)
    .map(([evidence, n]) => `${evidence} ${n}`)
    .join(", ");
}

export function formatDeclared(declared: DeclaredMode): string {
  return declared.mode === "undeclared"
    ? "undeclared (Istio default PERMISSIVE)"
    : `${declared.mode} (${declared.level})`;
}

export function formatAuthorization(authorization: Authorization): string {
  return authorization.policies.length === 0
    ? authorization.status
    : `${authorization.status}: ${authorization.policies.join(", ")}`;
}

/** Seconds as `26h`, `3d 4h`, `45m`. */
export function formatAge(seconds: number): string {
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 72 * 3600) return `${(seconds / 3600).toFixed(seconds < 36_000 ? 1 : 0)}h`;
  const days = Math.floor(seconds / 86_400);
  return `${days}d ${Math.round((seconds - days * 86_400) / 3600)}h`;
}

export function renderPostureText(report: PostureReport): string {
  const lines: string[] = [];
  lines.push(`mesh security posture ${report.since} .. ${report.until}`);
  lines.push(
    `rests on: ${report.basis.trafficRequests} mesh requests, ${report.basis.auditEvents} audit events in the period (policy, RBAC, exec, refusals), ${report.basis.policyEvents} policy changes in the trail (root namespace ${report.rootNamespace}, rotation period ${formatAge(report.rotationPeriodSeconds)})`,
  );
  for (const unknown of report.unknowns) lines.push(`cannot know: ${unknown}`);
  for (const cluster of report.clusters) {
    lines.push("", `cluster ${cluster.name}`);
    lines.push(`  mesh-wide mTLS: ${formatDeclared(cluster.mesh)}; ${cluster.mesh.basis}`);
    for (const namespace of cluster.namespaces) {
      lines.push(
        "",
        `  namespace ${namespace.name}: declared ${formatDeclared(namespace.declared)}; observed ${formatShare(namespace.traffic)}`,
      );
      lines.push(`    declared rests on: ${namespace.declared.basis}`);
      if (namespace.traffic.requests > 0)
        lines.push(`    observed rests on: mesh.mtls_evidence ${formatEvidence(namespace.traffic)}`);
      for (const workload of namespace.workloadModes) {
        const selector =
          workload.selector === undefined
            ? "selector not recorded"
            : Object.entries(workload.selector)
                .map(([key, value]) => `${key}=${value}`)
                .join(",");
        lines.push(
          `    workload PeerAuthentication ${workload.policy} [${selector}]: ${workload.mode}${workload.portModes === undefined ? "" : ` ports ${workload.portModes.join(" ")}`}, ${workload.changedAt} by ${workload.changedBy}`,
        );
      }
      for (const unknown of namespace.unknowns) lines.push(`    cannot know: ${unknown}`);
      for (const service of namespace.services) {
        lines.push(
          `    service ${service.name}${service.undeclared ? " (UNDECLARED: traffic, but no policy in the trail)" : ""}: ${formatShare(service.traffic)}`,
        );
        lines.push(
          `      authorization: ${formatAuthorization(service.authorization)} (${service.authorization.basis})`,
        );
        if (service.certificates !== undefined) {
          const c = service.certificates;
          lines.push(
            `      peer certificates: oldest ${formatAge(c.maxAgeSeconds)}${c.oldestPresentedBy === undefined ? "" : ` (${c.oldestPresentedBy})`}, lifetime up to ${formatAge(c.maxLifetimeSeconds)}, ${c.overdue} of ${c.requests} requests past the rotation period`,
          );
        }
        for (const note of service.notes) lines.push(`      note: ${note}`);
      }
    }
  }
  if (report.certificates.length > 0) {
    lines.push("", "peer certificates by identity (oldest first)");
    for (const identity of report.certificates) {
      lines.push(
        `  ${identity.principal}: oldest ${formatAge(identity.maxAgeSeconds)}, lifetime ${formatAge(identity.maxLifetimeSeconds)}, ${identity.overdue}/${identity.requests} requests overdue, last seen ${identity.lastSeen}`,
      );
    }
  }
  if (report.changes.length > 0) {
    lines.push("", "policy changes in the period");
    for (const change of report.changes) {
      const after = change.after;
      const mode =
        after.mode === undefined
          ? ""
          : ` mode ${change.before?.mode ?? "?"} -> ${after.present ? after.mode : "(deleted)"}`;
      lines.push(
        `  ${after.changedAt} ${after.changedBy} ${after.verb} ${after.kind} ${after.namespace}/${after.name}${mode}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
