/**
 * The canary's verdict and report: per source type when it was sent, when it became searchable and the latency;
 * when the canary alert was published (SNS message id) and the end-to-end latency; and, for whatever did not
 * arrive, the stage it stopped at and where to look (`docs/runbooks/pipeline_canary.md` explains each).
 */
import { ARCHIVE_PREFIXES } from "../contracts.js";
import type { CanaryIdentity, CanaryRecord, CanarySource } from "./records.js";
import { CANARY_RULE_NAME } from "./records.js";
import { alertDelivered, type CanaryObservations } from "./run.js";
import type { CanaryAlertObservation } from "./watch.js";

export const CANARY_RUNBOOK = "docs/runbooks/pipeline_canary.md";

/** What the canary does not prove, said in its help and in every report. */
export const CANARY_NOT_PROVEN =
  "Published means SNS accepted the alert (it has a message id). Delivery to the ops topic's subscribers " +
  "(e-mail subscriptions must be confirmed, HTTPS endpoints must answer) is not checked: the topic's " +
  "NumberOfNotificationsFailed metric and the subscribers themselves show it.";

/** Where the run went: the environment and the stack outputs the canary used. */
export interface CanaryContext {
  readonly environment: string;
  readonly stack: string;
  readonly region: string;
  readonly deliveryStream: string;
  readonly domainEndpoint: string;
  /** The ops topic the canary alert is published to. */
  readonly opsTopicArn: string;
  /** The detector function (its logs show each detection run). */
  readonly detectorFunctionName: string;
}

export type SourceStatus = "searchable" | "not_searchable" | "not_sent";

export interface CanarySourceReport {
  readonly source: CanarySource;
  readonly dataset: string;
  /** The `event.id` its document gets. */
  readonly eventId: string;
  readonly status: SourceStatus;
  readonly sendAttempts: number;
  /** When Firehose accepted it. */
  readonly sentAt?: string;
  readonly sendError?: string;
  /** When Firehose received it (`event.ingested` of the document). */
  readonly receivedAt?: string;
  /** The poll that first found it in OpenSearch. */
  readonly searchableAt?: string;
  /** searchableAt − sentAt. */
  readonly latencySeconds?: number;
  readonly index?: string;
  /** Whether the transform tagged it with the canary rule. */
  readonly taggedByCanaryRule?: boolean;
}

export type AlertStatus = "published" | "not_published" | "not_indexed";

export interface CanaryAlertReport {
  readonly status: AlertStatus;
  /**
   * The run's canary alerts, each with its outbox state and SNS message id: normally two, one for the records with
   * the canary client's user agent and one for the Hubble flow (grouped by the client workload).
   */
  readonly alerts: readonly CanaryAlertObservation[];
  /** When SNS accepted the last of them (the detector's clock), once all are published. */
  readonly publishedAt?: string;
  /** publishedAt − the first record's sentAt: from sending to every alert of the run on its topic. */
  readonly endToEndSeconds?: number;
}

export interface CanaryReport {
  /** Every record searchable and the canary alert published within the timeout. */
  readonly ok: boolean;
  readonly runId: string;
  readonly context: CanaryContext;
  readonly marker: CanaryIdentity;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly timeoutSeconds: number;
  readonly sources: readonly CanarySourceReport[];
  readonly alert: CanaryAlertReport;
  /** Set when a search failed and the canary stopped watching. */
  readonly watchError?: string;
  /** What did not arrive, one line each, with the stage and where to look. Empty when `ok`. */
  readonly problems: readonly string[];
  readonly notProven: string;
}

/** Judges a run: `ok` only when every record was sent and found, tagged, and the run's alert published. */
export function buildCanaryReport(
  context: CanaryContext,
  identity: CanaryIdentity,
  records: readonly CanaryRecord[],
  observations: CanaryObservations,
): CanaryReport {
  const timeoutSeconds = Math.round(observations.timeoutMs / 1000);
  const sources = records.map((record): CanarySourceReport => {
    const sent = observations.sent.find((outcome) => outcome.source === record.source);
    const found = observations.searchable.get(record.source);
    const base = { source: record.source, dataset: record.dataset, eventId: record.eventId };
    if (sent === undefined || !sent.sent) {
      return {
        ...base,
        status: "not_sent",
        sendAttempts: sent?.attempts ?? 0,
        sendError: sent !== undefined && !sent.sent ? sent.error : "not attempted",
      };
    }
    if (found === undefined) {
      return { ...base, status: "not_searchable", sendAttempts: sent.attempts, sentAt: iso(sent.sentAtMs) };
    }
    return {
      ...base,
      status: "searchable",
      sendAttempts: sent.attempts,
      sentAt: iso(sent.sentAtMs),
      ...(found.receivedAt === undefined ? {} : { receivedAt: found.receivedAt }),
      searchableAt: iso(found.searchableAtMs),
      latencySeconds: seconds(found.searchableAtMs - sent.sentAtMs),
      index: found.index,
      taggedByCanaryRule: found.taggedByCanaryRule,
    };
  });

  const alert = alertReport(observations.alerts, observations.sent);
  const problems = [
    ...sourceProblems(sources, context, timeoutSeconds),
    ...alertProblems(alert, sources, context, timeoutSeconds),
    ...(observations.watchError === undefined
      ? []
      : [
          `stopped watching after a failed search: ${observations.watchError}; the records sent are still in the pipeline`,
        ]),
  ];
  return {
    ok: problems.length === 0,
    runId: identity.runId,
    context,
    marker: identity,
    startedAt: iso(observations.startedAtMs),
    finishedAt: iso(observations.finishedAtMs),
    timeoutSeconds,
    sources,
    alert,
    ...(observations.watchError === undefined ? {} : { watchError: observations.watchError }),
    problems,
    notProven: CANARY_NOT_PROVEN,
  };
}

function alertReport(
  alerts: readonly CanaryAlertObservation[],
  sent: CanaryObservations["sent"],
): CanaryAlertReport {
  if (alerts.length === 0) return { status: "not_indexed", alerts };
  if (!alertDelivered(alerts)) return { status: "not_published", alerts };
  const lastPublishedMs = Math.max(...alerts.map((alert) => Date.parse(alert.publishedAt ?? "")));
  const firstSentMs = Math.min(...sent.flatMap((outcome) => (outcome.sent ? [outcome.sentAtMs] : [])));
  if (!Number.isFinite(lastPublishedMs)) return { status: "published", alerts };
  return {
    status: "published",
    alerts,
    publishedAt: iso(lastPublishedMs),
    ...(Number.isFinite(firstSentMs) ? { endToEndSeconds: seconds(lastPublishedMs - firstSentMs) } : {}),
  };
}

function sourceProblems(
  sources: readonly CanarySourceReport[],
  context: CanaryContext,
  timeoutSeconds: number,
): string[] {
  const problems: string[] = [];
  for (const source of sources) {
    if (source.status === "not_sent") {
      problems.push(
        `${source.source}: not sent to ${context.deliveryStream} (${source.sendError}, ${source.sendAttempts} attempt(s)): ` +
          "stopped at the producer; check that your credentials may firehose:PutRecordBatch on the stream and its throughput",
      );
    } else if (source.status === "not_searchable") {
      problems.push(
        `${source.source}: sent at ${source.sentAt} but not searchable within ${timeoutSeconds} s: stopped between ` +
          `Firehose and OpenSearch; look in the staging bucket under ${ARCHIVE_PREFIXES.processingFailed} (the ` +
          `transform failed it) and ${ARCHIVE_PREFIXES.deliveryFailed} (OpenSearch refused it), and at the ` +
          "FirehoseOpenSearchDelivery, TransformErrors and ClusterRed alarms",
      );
    } else if (source.taggedByCanaryRule === false) {
      problems.push(
        `${source.source}: searchable in ${source.index} but not tagged ${CANARY_RULE_NAME}: the deployed transform's ` +
          "rule pack lacks the canary rule (deployed before it existed, or disabled); redeploy the stack",
      );
    }
  }
  return problems;
}

function alertProblems(
  alert: CanaryAlertReport,
  sources: readonly CanarySourceReport[],
  context: CanaryContext,
  timeoutSeconds: number,
): string[] {
  if (alert.status === "published") return [];
  if (alert.status === "not_indexed") {
    const tagged = sources.some((source) => source.taggedByCanaryRule === true);
    return [
      tagged
        ? `canary alert: no ${CANARY_RULE_NAME} alert of this run in the alerts index within ${timeoutSeconds} s: ` +
          `stopped at the detector; check the logs of ${context.detectorFunctionName} and the DetectorWatermarkLag ` +
          "and DetectorErrors alarms"
        : `canary alert: none, since no record reached OpenSearch tagged ${CANARY_RULE_NAME}`,
    ];
  }
  return alert.alerts
    .filter((candidate) => candidate.status !== "published")
    .map((stuck) =>
      stuck.status === "not_paged"
        ? `canary alert ${stuck.id}: indexed but never published (not_paged): ${CANARY_RULE_NAME}'s level is ` +
          "informational in this environment; remove the level override from detection.ruleOverrides"
        : `canary alert ${stuck.id}: indexed but not published after ${timeoutSeconds} s (status ${stuck.status}, ` +
          `${stuck.attempts} publish attempt(s)${stuck.lastError === undefined ? "" : `, last error: ${stuck.lastError}`}): ` +
          `stopped at SNS; check that ${context.detectorFunctionName} may sns:Publish to ${context.opsTopicArn} ` +
          "(and use the topic's KMS key), and the DetectorAlertsPublishFailed alarm",
    );
}

/** The report for people. */
export function renderCanaryReport(report: CanaryReport): string {
  const { context, marker } = report;
  const lines: string[] = [
    `canary run ${report.runId}: environment ${context.environment} (stack ${context.stack}, ${context.region}), ` +
      `stream ${context.deliveryStream}`,
    `marker: namespace ${marker.namespace}, user agent ${marker.userAgent}, client workload ${marker.clientPod}`,
    "",
  ];
  const rows = report.sources.map((source) => [
    source.source,
    source.dataset,
    source.sentAt ?? "not sent",
    source.searchableAt ?? (source.status === "not_sent" ? "" : "not searchable"),
    source.latencySeconds === undefined ? "" : `${source.latencySeconds.toFixed(1)} s`,
  ]);
  lines.push(...table(["source", "dataset", "sent at", "searchable at", "latency"], rows), "");
  lines.push(...alertLines(report), "");
  if (report.ok) {
    lines.push(
      `OK: ${report.sources.length} records searchable and ${report.alert.alerts.length} canary alert(s) published ` +
        `within ${report.timeoutSeconds} s`,
    );
  } else {
    lines.push(`FAILED (see ${CANARY_RUNBOOK}):`, ...report.problems.map((problem) => `  - ${problem}`));
  }
  lines.push("", wrapParagraph(report.notProven, 116));
  return `${lines.join("\n")}\n`;
}

/** Breaks a paragraph into lines of at most `width` characters, at spaces. */
export function wrapParagraph(text: string, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  return [...lines, line].join("\n");
}

function alertLines(report: CanaryReport): string[] {
  const { alert } = report;
  if (alert.status === "not_indexed") {
    return [`canary alert: none in the alerts index within ${report.timeoutSeconds} s`];
  }
  const head =
    alert.status === "published"
      ? `canary alerts: ${alert.alerts.length} published` +
        (alert.endToEndSeconds === undefined ? "" : `; end to end ${alert.endToEndSeconds.toFixed(1)} s`)
      : `canary alerts: ${alert.alerts.filter((a) => a.status !== "published").length} of ${alert.alerts.length} not published`;
  const rows = alert.alerts.map((a) => [
    `${a.id.slice(0, 16)}…`,
    a.status,
    a.publishedAt ?? "",
    a.topic ?? "",
    a.messageId ?? "",
    a.datasets.join(", "),
  ]);
  return [
    head,
    ...table(["alert", "status", "published at", "topic", "SNS message id", "records"], rows).map(
      (l) => `  ${l}`,
    ),
  ];
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
