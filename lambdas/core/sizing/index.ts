export {
  type Alternative,
  type AlternativeLine,
  type AlternativesRequest,
  priceAlternatives,
  QUERY_LOAD,
} from "./alternatives.js";
export { type ArchiveBand, type ArchiveSizing, type StorageClass, sizeArchive } from "./archive.js";
export {
  type ArchiveCompression,
  type AssumptionOverrides,
  type Assumptions,
  MEASURED_CODECS,
  type ResolvedAssumptions,
  resolveAssumptions,
  resolveAssumptionsWithBasis,
  storeVariantFor,
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
  type InputMeasurement,
  measurementSource,
  STORAGE_MEASUREMENTS,
  type StorageMeasurements,
  type StorageVariantId,
  storePerRawByte,
} from "./measurements.js";
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
