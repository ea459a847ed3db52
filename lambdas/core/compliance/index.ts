export {
  type Control,
  FRAMEWORK_IDS,
  FRAMEWORKS,
  type Framework,
  type FrameworkId,
  isFrameworkId,
  type NotAddressed,
} from "./catalogue.js";
export type { Evidence, EvidenceContext, EvidenceStatus, Requirements } from "./evidence.js";
export { type OriginalsStatement, whereOriginalsLive } from "./originals.js";
export {
  type Assessment,
  assess,
  type ControlResult,
  type FrameworkAssessment,
  type FrameworkRequest,
  type ReportHeader,
  renderNoFramework,
  renderReport,
} from "./report.js";
export { asTemplate, type CfnTemplate, stackParts, TemplateShapeError } from "./template.js";
