/**
 * The defaults an environment config and the constructs share: each written once, here. The schema fills an
 * omitted config key with it, and the construct's optional prop falls back to the same value (its `@default`), so
 * a construct used on its own behaves like the stack built from a config that leaves the key out.
 */
export const DEFAULTS = {
  /** `network` (type `vpc`) and `NetworkProps`. */
  network: { cidr: "10.40.0.0/16", maxAzs: 2, natGateways: 1 },
  /** `firehose.*` and the ingestion construct's buffering and retry props. */
  firehose: { bufferingIntervalSeconds: 60, bufferingSizeMiB: 5, retryDurationSeconds: 300 },
  /** `retention.stagingExpirationDays` and `ArchiveProps.stagingExpiration`. */
  stagingExpirationDays: 14,
  /** `concurrency.*`: reserved concurrency of the transform (ingestion) and the archiver (tamper evidence). */
  concurrency: { transform: 20, archiver: 5 },
  /** `tamperEvidence.digestPeriodMinutes` and `TamperEvidenceProps.digestPeriod`. */
  digestPeriodMinutes: 60,
  /** `transform.keepEventOriginal` and `IngestionProps.keepEventOriginal`. */
  keepEventOriginal: true,
  /** `search.engineVersion` and `SearchDomainProps.engineVersion`. */
  engineVersion: "2.19",
  /** `search.coldStorage` and `SearchDomainProps.coldStorage`. */
  coldStorage: false,
  /** `search.indexCodec` and `SearchBootstrapProps.indexCodec`. */
  indexCodec: "best_compression",
  /** `producer.*` and `ProducerAccessProps`. */
  producer: { namespace: "logging", serviceAccountName: "fluent-bit" },
} as const;
