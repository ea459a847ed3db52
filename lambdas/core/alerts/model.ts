/**
 * The alert: what the detector indexes in `ALERTS_INDEX`, publishes to SNS, and what `audit-trail replay` prints.
 * Built only by `buildAlert`, so the laptop and Lambda agree byte for byte.
 */
import type { AlertSeverity, AlertTopic } from "../contracts.js";
import type { EcsDocument } from "../ecs.js";
import type { CountryLookup } from "../geo/index.js";
import type { CorrelationType, RuleLevel } from "../rules/types.js";

/** `informational` alerts are indexed but never paged. */
export type Severity = AlertSeverity | "informational";

/** Sigma level → severity (and SNS topic). One to one; kept as a function so routing has one definition. */
export function severityOf(level: RuleLevel): Severity {
  switch (level) {
    case "critical":
      return "critical";
    case "high":
      return "high";
    case "medium":
      return "medium";
    case "low":
      return "low";
    case "informational":
      return "informational";
  }
}

/** A responder detail: a label for people, a stable key for machines. */
export interface AlertDetail {
  readonly key: string;
  readonly label: string;
  readonly value: string | number | boolean;
}

export interface Alert {
  /** Deterministic: SHA-256 of rule name + group + window start (correlations) or rule name + event fingerprint. */
  readonly id: string;
  /** When it happened: the window start (correlations) or the event time (single-event rules). ISO 8601. */
  readonly "@timestamp": string;
  readonly environment: string;
  readonly severity: Severity;
  /** False for `informational` alerts (indexed, not published). */
  readonly paged: boolean;
  /** The topic a paged alert is published to: its severity's, or `ops` for rules with `topic: ops`. */
  readonly topic?: AlertTopic;
  readonly rule: {
    readonly id: string;
    readonly name: string;
    readonly title: string;
    readonly description: string;
    readonly level: RuleLevel;
    readonly type: "single" | "silence" | CorrelationType;
    readonly tags: readonly string[];
    /** Repository-relative runbook path. */
    readonly runbook: string;
  };
  readonly window: { readonly start: string; readonly end: string };
  /**
   * When the matching events happened: the first and last matched event (not the window, which can start before
   * the first), of every matched event of the alert's span and group (`complete: true`). `complete` is false when
   * only the kept events were known (a detection built without its summary, a silent source's window). `through`:
   * the summary (`first`, `last`, `values`, `distinct`) read every matched document Firehose received before this
   * time, and `indexedThrough` every one the node stamped before this one (`ArrivalMark`; the detector's, in
   * incremental evaluation), so the next one reads only the documents that arrived since.
   */
  readonly seen: {
    readonly first: string;
    readonly last: string;
    readonly complete: boolean;
    readonly through?: string;
    readonly indexedThrough?: string;
  };
  /** Group-by field path → value. */
  readonly group: Readonly<Record<string, string>>;
  readonly count: number;
  /** The correlation's value when it is not the count (distinct count, failure share, percentile, rules seen). */
  readonly value?: number;
  /** One-line answers to what / who / from where / to what. */
  readonly summary: {
    readonly what: string;
    readonly who?: string;
    readonly from?: string;
    readonly to?: string;
  };
  /** Values of the rule's `fields` (ECS path → first value found in the matched events). */
  readonly fields: Readonly<Record<string, string | number | boolean>>;
  /**
   * The distinct values of the group-by fields, the rule's `fields` and where it happened (cluster, namespace, pod),
   * at most `ALERT_VALUES_KEPT` per field. Over every matched event of the alert for the fields the index
   * aggregates (keyword, long, ip, boolean: in OpenSearch's term order, `alerts/matched.ts`), over the kept events
   * (first seen first) for the others. People get the first `ALERT_VALUES_SHOWN` and "+N more" (of `distinct`).
   */
  readonly values: Readonly<Record<string, readonly (string | number | boolean)[]>>;
  /** How many distinct values each field of `values` has (more than it lists when above `ALERT_VALUES_KEPT`). */
  readonly distinct: Readonly<Record<string, number>>;
  /** Derived details responders need (pod, command, operator, country, failure rate, …), in display order. */
  readonly details: readonly AlertDetail[];
  readonly links: { readonly runbook?: string; readonly discover?: string };
  /** Credits for third-party data shown in the alert (DB-IP for countries). */
  readonly attribution: readonly string[];
  /** The matched events (capped), in event-time order. */
  readonly events: readonly EcsDocument[];
}

/** What `buildAlert` needs besides the detection. Same values in the detector and in the CLI. */
export interface AlertContext {
  readonly environment: string;
  /** OpenSearch Dashboards base URL (ending in `/_dashboards` on Amazon OpenSearch Service). No link when unset. */
  readonly dashboardsUrl?: string;
  /** Base URL the repository-relative runbook path is appended to. No link when unset. */
  readonly runbookBaseUrl?: string;
  /** Index pattern (saved object id) Discover opens. @default "audit-*" */
  readonly indexPatternId?: string;
  /** GeoIP lookup for source countries. No country when unset. */
  readonly geo?: CountryLookup;
}
