/**
 * The pipeline canary (`audit-trail canary`): synthetic records per source type with a run marker, the checks that
 * they would become exactly the canary alert, sending them, watching OpenSearch for them and for the alert, and the
 * report. Pure: the outside world comes in through `ports.ts`.
 */

export type { CanaryClock, CanaryRecordSender, CanarySearch, RecordFailure } from "./ports.js";
export type { PreflightOptions } from "./preflight.js";
export { preflightCanary } from "./preflight.js";
export type { CanaryIdentity, CanaryRecord, CanaryRecordOptions, CanarySource } from "./records.js";
export {
  buildCanaryRecords,
  CANARY_DATASETS,
  CANARY_MARKER,
  CANARY_MARKER_FIELDS,
  CANARY_RULE_NAME,
  CANARY_SOURCES,
  CanaryRecordError,
  canaryIdentity,
  canaryRunId,
  canaryTrustDomain,
} from "./records.js";
export type {
  AlertStatus,
  CanaryAlertReport,
  CanaryContext,
  CanaryReport,
  CanarySourceReport,
  SourceStatus,
} from "./report.js";
export {
  buildCanaryReport,
  CANARY_NOT_PROVEN,
  CANARY_RUNBOOK,
  renderCanaryReport,
  wrapParagraph,
} from "./report.js";
export type {
  CanaryDependencies,
  CanaryObservations,
  CanaryProgress,
  CanaryRunOptions,
  SearchableRecord,
} from "./run.js";
export { alertDelivered, runCanary } from "./run.js";
export type { SendOptions, SendOutcome } from "./send.js";
export { SEND_DEFAULTS, sendCanaryRecords } from "./send.js";
export type { CanaryAlertObservation, SearchableObservation } from "./watch.js";
export { canaryAlertsQuery, canaryEventsQuery, readCanaryAlerts, readCanaryEvents } from "./watch.js";
