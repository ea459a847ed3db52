export { type ArchiveBand, type ArchiveSizing, type StorageClass, sizeArchive } from "./archive.js";
export {
  ASSUMPTION_BASIS,
  type AssumptionOverrides,
  type Assumptions,
  EXPANSION_WITH_ORIGINAL,
  EXPANSION_WITHOUT_ORIGINAL,
  resolveAssumptions,
} from "./assumptions.js";
export { type SizingField, SizingInputError, type SizingInputErrorDetails } from "./errors.js";
export {
  DATA_NODE_TYPES,
  DEPLOYED_TRANSFORM,
  FIREHOSE_STREAM_QUOTAS,
  type Guideline,
  INGESTION_GUIDELINES,
  OPENSEARCH_GUIDELINES,
} from "./guidance.js";
export { type IngestionSizing, sizeIngestion } from "./ingestion.js";
export {
  PRICE_TABLE,
  PRICED_REGIONS,
  pricesFor,
  type RegionPrices,
  type SourcedPrice,
  type TieredPrice,
  tieredCost,
} from "./prices.js";
export { renderSizing, sizingJson } from "./render.js";
export {
  type ArchiveTransitions,
  DEFAULT_HOT_DAYS,
  planRetention,
  type RetentionPlan,
  type RetentionRequest,
  type RetentionRequirement,
} from "./retention.js";
export { type SearchSizing, sizeSearch } from "./search.js";
export {
  type CostLine,
  EXCLUDED_COSTS,
  type PriceUse,
  type Sizing,
  type SizingRequest,
  type SuggestedConfig,
  sizeAuditTrail,
} from "./size.js";
