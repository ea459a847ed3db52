export { AlertBuildError, buildAlert, formatDuration } from "./build.js";
export { kubernetesOperator, valueAt } from "./fields.js";
export { canonicalJson, correlationAlertId, documentFingerprint, singleEventAlertId } from "./ids.js";
export { DEFAULT_INDEX_PATTERN_ID, discoverKql, discoverUrl } from "./links.js";
export type { Alert, AlertContext, AlertDetail, Severity } from "./model.js";
export { severityOf } from "./model.js";
export type { SnsAlertMessage } from "./render.js";
export {
  displayValue,
  renderJson,
  renderSms,
  renderSnsMessage,
  renderSubject,
  renderText,
  SMS_MAX_LENGTH,
  SUBJECT_MAX_LENGTH,
  VALUE_MAX_LENGTH,
} from "./render.js";
