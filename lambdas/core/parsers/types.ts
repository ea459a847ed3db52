import type { EcsDocument } from "../ecs.js";

/**
 * Why a record could not be read, one code per kind of failure. The transform counts failed records per code in the
 * `Failures.<code>` metric (`transformFailureMetric`), so a code is a name alarms and dashboards may use: add codes,
 * never rename one. The wording of a failure's `detail` may change freely.
 */
export const FAILURE_CODES = [
  // The parsers: the source whose line or object could not be read.
  "unrecognized_log_line",
  "unrecognized_json_record",
  "envoy_json",
  "envoy_text",
  "invalid_start_time",
  "linkerd",
  "linkerd_apache",
  "linkerd_json",
  "hubble",
  "kubernetes_audit",
  "aks_audit",
  "gke_audit",
  "eventlist",
  "audit_event_from_a_workload_container",
  "object_too_deep",
  // The record and its envelopes (Fluent Bit, CloudWatch Logs, Firehose's error output, sealed re-ingested documents).
  "empty_record",
  "invalid_json",
  "json_record_is_not_an_object",
  "envelopes_nested_too_deeply",
  "cloudwatch_logs_data_message_without_logevents",
  "cloudwatch_logs_event_without_message",
  "firehose_error_output_without_rawdata",
  "rawdata",
  "record_data_is_not_a_base64_string",
  "gzip",
  "zstd",
  "snappy",
  "re_ingested_document",
  "unauthenticated_ecs_document",
  // Bounds, each failing the record alone.
  "record_has_more_than_100000_lines",
  "document_limit",
  "decompressed_size_limit",
  "batch_decompressed_size_limit",
  "response_size_limit",
  "internal_error",
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

/**
 * A record that could not be read: `code` for machines (metrics), `detail` for people (what was wrong, with the
 * value), `line` the record's line when it holds several.
 */
export interface Failure {
  readonly code: FailureCode;
  readonly detail: string;
  /** The 1-based line of a multi-line record the failure is on. @default - the record is one line */
  readonly line?: number;
}

/**
 * A failed result. `reason` is the failure as a person reads it (`describeFailure`): what the CLI prints and the
 * transform logs; never parse it, read `failure.code`.
 */
export interface Rejected {
  readonly ok: false;
  readonly failure: Failure;
  readonly reason: string;
}

/** What a parser returns for one log line or one JSON object. */
export type ParseResult = { ok: true; document: EcsDocument } | Rejected;

/** The failure as text: its detail, after `line N: ` when it names a line. */
export function describeFailure(failure: Failure): string {
  return failure.line === undefined ? failure.detail : `line ${failure.line}: ${failure.detail}`;
}

export function rejected(failure: Failure): Rejected {
  return { ok: false, failure, reason: describeFailure(failure) };
}

export function reject(code: FailureCode, detail: string): Rejected {
  return rejected({ code, detail });
}

/**
 * The failure of something nested in an envelope, as the envelope's: same code, the detail after `context: `
 * (a line the inner failure named becomes part of the detail).
 */
export function rejectWithin(context: string, failure: Failure): Rejected {
  return reject(failure.code, `${context}: ${describeFailure(failure)}`);
}

/** The failure on line `line` of a multi-line record (a line the inner failure named becomes part of the detail). */
export function rejectAtLine(line: number, failure: Failure): Rejected {
  return rejected({ code: failure.code, detail: describeFailure(failure), line });
}

/** The data sets, one per source; `event.dataset` takes exactly these values. */
export const DATASETS = {
  istio: "istio.access",
  envoy: "envoy.access",
  linkerd: "linkerd.access",
  consul: "consul.access",
  cilium: "cilium.flow",
  audit: "kubernetes.audit",
} as const;
export type Dataset = (typeof DATASETS)[keyof typeof DATASETS];
