/**
 * The composable index template for the daily audit indices (`audit-YYYY-MM-DD`): an explicit mapping for every
 * field of `EcsDocument` (`../ecs.ts`), with ECS's types. The root is `dynamic: false`, so a field no parser should
 * produce is kept in `_source` but never added to the mapping (no mapping explosion, no rejected document), and
 * `index.mapping.ignore_malformed` keeps a document whose value does not fit its type (a non-IP in `source.ip`)
 * instead of refusing it: the bad field is listed in `_ignored` and the rest stays searchable.
 */
import {
  AUDIT_INDEX_PATTERN,
  AUDIT_INDEX_PREFIX,
  INDEXED_AT_FIELD,
  INDEXED_AT_PIPELINE,
} from "../contracts.js";
import {
  bool,
  date,
  type FieldMapping,
  ip,
  keyword,
  keywordWithText,
  long,
  object,
  openMap,
  type Properties,
  storedOnly,
  textWithKeyword,
} from "./mappings.js";

/** Template name (`PUT _index_template/<name>`). */
export const AUDIT_TEMPLATE_NAME = `${AUDIT_INDEX_PREFIX}-trail-events`;
/** Below the alerts template, whose pattern (`audit-alerts`) also matches `audit-*`: the higher priority wins. */
export const AUDIT_TEMPLATE_PRIORITY = 100;

export interface AuditTemplateOptions {
  readonly shardCount: number;
  readonly replicaCount: number;
  /** `true`: `event.original` is full-text searchable. `false`: stored in `_source` only (ECS default). */
  readonly indexEventOriginal: boolean;
  /**
   * Stored-fields codec (`index.codec`, static: it applies to indices created after the template changes).
   * @default "default" - LZ4, OpenSearch's own default
   */
  readonly codec?: IndexCodec;
  /**
   * Fields left out of `_source` (still indexed as mapped, never returned by a search). Only fields the index
   * does not need to return belong here: the archive keeps every document whole.
   * @default [] - `_source` keeps the whole document
   */
  readonly sourceExcludes?: readonly SourceExcludableField[];
}

/**
 * The stored-fields codecs of Amazon OpenSearch Service: `default` (LZ4) and `best_compression` (DEFLATE) in every
 * version, `zstd` and `zstd_no_dict` from 2.9 (locally they need the custom-codecs plugin).
 */
export const INDEX_CODECS = ["default", "best_compression", "zstd", "zstd_no_dict"] as const;
export type IndexCodec = (typeof INDEX_CODECS)[number];

/**
 * Fields that may be left out of `_source`: large stored-only values nothing in the stack reads back from the
 * index (the detector, alerts and Dashboards read neither), and which the archive keeps in every document.
 */
export const SOURCE_EXCLUDABLE_FIELDS = [
  "event.original",
  "kubernetes.audit.requestObject",
  "kubernetes.audit.responseObject",
] as const;
export type SourceExcludableField = (typeof SOURCE_EXCLUDABLE_FIELDS)[number];

const endpoint: FieldMapping = object({
  ip,
  port: long,
  address: keyword,
  domain: keyword,
  bytes: long,
  packets: long,
  geo: object({ country_iso_code: keyword, country_name: keyword }),
});

const meshIdentity: FieldMapping = object({
  principal: keyword,
  trust_domain: keyword,
  namespace: keyword,
  service_account: keyword,
  service: keyword,
  datacenter: keyword,
  workload: keyword,
});

const kubernetesAudit: FieldMapping = object({
  auditID: keyword,
  level: keyword,
  stage: keyword,
  verb: keyword,
  requestURI: keywordWithText,
  apiVersion: keyword,
  user: object({ username: keyword, uid: keyword, groups: keyword, extra: storedOnly }),
  impersonatedUser: object({ username: keyword, groups: keyword }),
  sourceIPs: ip,
  userAgent: keywordWithText,
  objectRef: object({
    resource: keyword,
    subresource: keyword,
    namespace: keyword,
    name: keyword,
    apiGroup: keyword,
    apiVersion: keyword,
    uid: keyword,
    resourceVersion: keyword,
  }),
  responseStatus: object({ code: long, status: keyword, reason: keyword, message: textWithKeyword }),
  annotations: openMap,
  requestObject: storedOnly,
  responseObject: storedOnly,
  requestReceivedTimestamp: date,
  stageTimestamp: date,
});

/** `event.original`: ECS stores it unindexed (`index: false`, no doc values); indexed, it is full text. */
function eventOriginal(indexed: boolean): FieldMapping {
  return indexed ? { type: "text" } : { type: "keyword", index: false, doc_values: false };
}

/** The mapping of every `EcsDocument` field. */
export function auditProperties(options: Pick<AuditTemplateOptions, "indexEventOriginal">): Properties {
  return {
    "@timestamp": date,
    ecs: object({ version: keyword }),
    event: object({
      kind: keyword,
      category: keyword,
      type: keyword,
      action: keyword,
      outcome: keyword,
      dataset: keyword,
      module: keyword,
      duration: long,
      start: date,
      end: date,
      id: keyword,
      ingested: date,
      original: eventOriginal(options.indexEventOriginal),
      reason: keyword,
      severity: long,
    }),
    source: endpoint,
    destination: endpoint,
    client: endpoint,
    server: endpoint,
    network: object({
      protocol: keyword,
      transport: keyword,
      direction: keyword,
      type: keyword,
      bytes: long,
    }),
    http: object({
      version: keyword,
      request: object({ method: keyword, id: keyword, bytes: long, body: object({ bytes: long }) }),
      response: object({ status_code: long, bytes: long, body: object({ bytes: long }) }),
    }),
    url: object({
      original: keywordWithText,
      path: keyword,
      query: keyword,
      domain: keyword,
      scheme: keyword,
      port: long,
    }),
    user_agent: object({ original: keywordWithText }),
    tls: object({
      established: bool,
      version: keyword,
      version_protocol: keyword,
      cipher: keyword,
      client: object({ server_name: keyword, not_before: date, not_after: date }),
    }),
    trace: object({ id: keyword }),
    span: object({ id: keyword }),
    user: object({
      name: keyword,
      id: keyword,
      group: object({ name: keyword }),
      effective: object({ name: keyword }),
      roles: keyword,
    }),
    related: object({ ip, user: keyword, hosts: keyword }),
    host: object({ name: keyword }),
    orchestrator: object({
      type: keyword,
      cluster: object({ name: keyword }),
      namespace: keyword,
      resource: object({ name: keyword, type: keyword, parent: object({ type: keyword }) }),
      api_version: keyword,
    }),
    kubernetes: object({
      pod: object({ name: keyword, uid: keyword, ip }),
      namespace: keyword,
      node: object({ name: keyword }),
      container: object({ name: keyword, image: keyword }),
      labels: openMap,
      audit: kubernetesAudit,
    }),
    cilium: object({
      verdict: keyword,
      drop_reason: keyword,
      auth_type: keyword,
      encrypted: bool,
      traffic_direction: keyword,
      source_identity: long,
      destination_identity: long,
      source_labels: keyword,
      destination_labels: keyword,
      node_name: keyword,
      type: keyword,
      is_reply: bool,
      trace_reason: keyword,
      source_pod: keyword,
      destination_pod: keyword,
    }),
    envoy: object({
      response_code_details: keyword,
      connection_termination_details: keyword,
      upstream_transport_failure_reason: keyword,
      upstream_cluster: keyword,
      upstream_host: keyword,
      route_name: keyword,
      requested_server_name: keyword,
      authority: keyword,
      upstream_service_time_ms: long,
      upstream_request_attempt_count: long,
      request_duration_ms: long,
      response_duration_ms: long,
      downstream_local_address: keyword,
      upstream_local_address: keyword,
    }),
    mesh: object({
      name: keyword,
      mtls: bool,
      mtls_evidence: keyword,
      grpc_status_code: long,
      grpc_status: keyword,
      direction: keyword,
      source: meshIdentity,
      destination: meshIdentity,
      response_flags: keyword,
    }),
    rule: object({ name: keyword }),
    labels: openMap,
    tags: keyword,
  };
}

/**
 * Body of `PUT _ingest/pipeline/audit-trail-indexed-at`: stamps `INDEXED_AT_FIELD` with the time the node indexes
 * the document (`_ingest.timestamp`), overwriting any value a writer sent. The audit indices run it as their
 * `index.final_pipeline`, which applies to every write and which a request cannot skip (`pipeline=_none` skips only
 * a default pipeline). The `copy` processor (OpenSearch 2.12+) reads the timestamp without a template engine.
 */
export function buildIndexedAtPipeline(): Record<string, unknown> {
  return {
    description:
      "mesh-audit-trail: when the node indexed the document, for the detector's incremental reads (kept out of _source)",
    processors: [
      {
        copy: {
          source_field: "_ingest.timestamp",
          target_field: INDEXED_AT_FIELD,
          override_target: true,
          tag: "indexed-at",
        },
      },
    ],
  };
}

/** The oldest OpenSearch whose ingest pipelines have the `copy` processor `buildIndexedAtPipeline` uses. */
export const INDEXED_AT_MINIMUM_VERSION = { major: 2, minor: 12 } as const;

/**
 * The object holding the fields the node adds to a document (`INDEXED_AT_FIELD`): mapped, and left out of `_source`
 * whole (excluding only the leaf would leave an empty object in every document).
 */
export const INDEX_ONLY_NAMESPACE = INDEXED_AT_FIELD.split(".")[0] as string;

/** The mapping of `INDEXED_AT_FIELD`, beside the document's own fields. */
const indexedAtProperty = (): Properties => ({
  [INDEX_ONLY_NAMESPACE]: object({ [INDEXED_AT_FIELD.slice(INDEX_ONLY_NAMESPACE.length + 1)]: date }),
});

/** Body of `PUT _index_template/audit-trail-events`. */
export function buildAuditIndexTemplate(options: AuditTemplateOptions): Record<string, unknown> {
  return {
    index_patterns: [AUDIT_INDEX_PATTERN],
    priority: AUDIT_TEMPLATE_PRIORITY,
    template: {
      settings: {
        "index.number_of_shards": options.shardCount,
        "index.number_of_replicas": options.replicaCount,
        "index.mapping.ignore_malformed": true,
        "index.mapping.total_fields.limit": 1000,
        "index.refresh_interval": "5s",
        "index.final_pipeline": INDEXED_AT_PIPELINE,
        ...(options.codec === undefined || options.codec === "default"
          ? {}
          : { "index.codec": options.codec }),
      },
      mappings: {
        // The index stamp is searchable only: `_source` stays the document Firehose delivered.
        _source: { excludes: [INDEX_ONLY_NAMESPACE, ...(options.sourceExcludes ?? [])] },
        dynamic: false,
        date_detection: false,
        properties: { ...auditProperties(options), ...indexedAtProperty() },
      },
    },
    _meta: { managed_by: "mesh-audit-trail", description: "ECS audit events, one index per day" },
  };
}
