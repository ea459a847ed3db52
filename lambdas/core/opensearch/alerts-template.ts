/**
 * The composable index template for the alerts index (`ALERTS_INDEX`). The detector writes each alert with a
 * deterministic `_id` before publishing it (`outbox.status: pending`), then marks it `published`; the fields below
 * are those of `Alert` (`../alerts/model.ts`) plus the outbox bookkeeping (`../detection/store.ts`), which the
 * detector queries to retry unpublished alerts. Matched events and free-form details are kept in `_source` only, so
 * an alert never grows the mapping.
 */
import { ALERTS_INDEX } from "../contracts.js";
import { OUTBOX_MAPPING } from "../detection/store.js";
import {
  bool,
  date,
  double,
  keyword,
  long,
  object,
  openMap,
  storedOnly,
  textWithKeyword,
} from "./mappings.js";

export const ALERTS_TEMPLATE_NAME = `${ALERTS_INDEX}-template`;
/** Above the audit template (`audit-*` also matches the alerts index). */
export const ALERTS_TEMPLATE_PRIORITY = 200;

export interface AlertsTemplateOptions {
  readonly replicaCount: number;
}

export function alertsProperties(): Record<string, Record<string, unknown>> {
  return {
    id: keyword,
    "@timestamp": date,
    environment: keyword,
    severity: keyword,
    paged: bool,
    /** Publication state: the outbox the detector retries from (status, attempts, lease, SNS message id). */
    outbox: OUTBOX_MAPPING,
    rule: object({
      id: keyword,
      name: keyword,
      title: textWithKeyword,
      description: { type: "text" },
      level: keyword,
      type: keyword,
      tags: keyword,
      runbook: keyword,
    }),
    window: object({ start: date, end: date }),
    /**
     * First and last matched event of the alert (`complete: false` when only the kept events were known); `through`
     * and `indexedThrough`: the ingest time and index stamp before which its summary read every matched document.
     */
    seen: object({ first: date, last: date, complete: bool, through: date, indexedThrough: date }),
    /** Group-by field path → value (`group.source.ip`, …), searchable whatever the rule groups by. */
    group: openMap,
    count: long,
    value: double,
    summary: object({ what: textWithKeyword, who: keyword, from: keyword, to: keyword }),
    fields: openMap,
    /** Every distinct value of the alert's fields: for people and machines reading the alert, not for search. */
    values: storedOnly,
    /** How many distinct values each field of `values` has. */
    distinct: storedOnly,
    details: storedOnly,
    links: object({
      runbook: { type: "keyword", index: false },
      discover: { type: "keyword", index: false },
    }),
    attribution: { type: "keyword", index: false },
    events: storedOnly,
  };
}

/** Body of `PUT _index_template/audit-alerts-template`. One shard: alerts are few. */
export function buildAlertsIndexTemplate(options: AlertsTemplateOptions): Record<string, unknown> {
  return {
    index_patterns: [ALERTS_INDEX],
    priority: ALERTS_TEMPLATE_PRIORITY,
    template: {
      settings: {
        "index.number_of_shards": 1,
        "index.number_of_replicas": options.replicaCount,
        "index.refresh_interval": "1s",
      },
      mappings: { dynamic: false, date_detection: false, properties: alertsProperties() },
    },
    _meta: {
      managed_by: "mesh-audit-trail",
      description: "alerts written by the detector, one per deterministic id",
    },
  };
}
