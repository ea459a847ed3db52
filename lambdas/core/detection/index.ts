export {
  bucketValue,
  evaluateCorrelation,
  evaluateCorrelationInChunks,
  fetchSingleEventPage,
  fetchWindowEvents,
} from "./correlations.js";
export type { DeliveryOutcome, OutboxOptions } from "./outbox.js";
export { errorMessage, Outbox } from "./outbox.js";
export type {
  AlertPublisher,
  DetectionLogger,
  SearchClient,
  StoredDocument,
  WriteRequest,
  WriteResult,
} from "./ports.js";
export type { EvaluationRange, RangeOptions, WindowRange } from "./queries.js";
export {
  correlationQuery,
  evaluationRange,
  firesOnOpenWindows,
  singleEventQuery,
  windowEventsQuery,
  windowRange,
} from "./queries.js";
export { SearchResponseError } from "./responses.js";
export type { DetectionDependencies, DetectionReport, DetectionRunOptions } from "./run.js";
export { AUDIT_EVENTS_INDICES, DETECTION_DEFAULTS, runDetection } from "./run.js";
export type { AlertDocument, OutboxState, OutboxStatus, StoredAlert } from "./store.js";
export { AlertStore, OUTBOX_MAPPING, OUTBOX_STATUSES } from "./store.js";
export { detectionAlertId, planSuppression } from "./suppression.js";
