/**
 * One record per failure code the transform can report for a record on its own, with the code it is counted under
 * (the `Failures.<code>` metric): names alarms and dashboards may use, so a test holds each of them.
 */
import { gzipSync } from "node:zlib";
import type { FailureCode } from "../../../../lambdas/core/parsers/types.js";

const LINKERD = '10.9.0.1:4000 - - [2024-06-01T12:00:01Z] "GET /live HTTP/1.1" 200';
const ISTIO =
  '[2024-05-02T08:00:01.250Z] "GET /items HTTP/1.1" 503 UH no_healthy_upstream - "-" 0 19 1 - "-" "curl/8" "rid-1" "items:80" "-" outbound|80||items.shop.svc.cluster.local - 10.96.0.20:80 10.1.9.9:51000 - default';
const AUDIT = {
  kind: "Event",
  apiVersion: "audit.k8s.io/v1",
  auditID: "a-1",
  stage: "ResponseComplete",
  verb: "get",
  requestURI: "/api/v1/namespaces/shop/pods",
  requestReceivedTimestamp: "2024-06-01T12:00:01Z",
};

function json(value: unknown): string {
  return JSON.stringify(value);
}
function base64(data: string | Uint8Array): string {
  return Buffer.from(data).toString("base64");
}
/** A line of Firehose's error output holding `rawData`. */
function errorOutput(rawData: string): string {
  return json({ attemptsMade: 1, arrivalTimestamp: 1_717_243_205_000, rawData });
}
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}
/** A Fluent Bit record wrapped in itself `depth` times. */
function fluentBitNested(depth: number): string {
  let line = LINKERD;
  for (let i = 0; i < depth; i++) line = json({ log: line, kubernetes: { pod_name: "p" } });
  return line;
}

export interface FailureCase {
  readonly name: string;
  /** The record's data as Firehose delivers it (base64). */
  readonly data: string;
  readonly code: FailureCode;
}

export const FAILURE_CASES: readonly FailureCase[] = [
  { name: "a line no parser reads", data: base64("garbage"), code: "unrecognized_log_line" },
  { name: "a JSON object no parser reads", data: base64(json({ a: 1 })), code: "unrecognized_json_record" },
  {
    name: "an Envoy text line with a bad response code",
    data: base64(ISTIO.replace('" 503 ', '" 5x3 ')),
    code: "envoy_text",
  },
  {
    name: "an Envoy JSON line with a bad field",
    data: base64(json({ start_time: "2024-06-01T12:00:01Z", response_code: "abc", upstream_cluster: "x" })),
    code: "envoy_json",
  },
  {
    name: "an Envoy JSON line with a start time that is not a time",
    data: base64(json({ start_time: "yesterday", response_code: 200, upstream_cluster: "x" })),
    code: "invalid_start_time",
  },
  {
    name: "a Linkerd apache line with a bad status",
    data: base64(LINKERD.replace('" 200', '" abc')),
    code: "linkerd_apache",
  },
  {
    name: "a Linkerd JSON line with a bad status",
    data: base64(json({ "client.addr": "10.0.0.1:1", status: "abc" })),
    code: "linkerd_json",
  },
  {
    name: "a Linkerd JSON line without a timestamp",
    data: base64(json({ "client.addr": "10.0.0.1:1", status: 200 })),
    code: "linkerd",
  },
  {
    name: "a Hubble flow without a verdict",
    data: base64(json({ flow: { time: "2024-06-01T12:00:01Z" } })),
    code: "hubble",
  },
  {
    name: "an audit event without a timestamp",
    data: base64(json({ ...AUDIT, requestReceivedTimestamp: undefined })),
    code: "kubernetes_audit",
  },
  {
    name: "an audit event without auditID",
    data: base64(json({ kind: "Event", verb: "get" })),
    code: "kubernetes_audit",
  },
  {
    name: "an AKS audit record whose log is not JSON",
    data: base64(json({ category: "kube-audit", properties: { log: "not json" } })),
    code: "aks_audit",
  },
  {
    name: "an AKS audit record whose log is a broken audit event",
    data: base64(
      json({
        category: "kube-audit",
        properties: { log: { ...AUDIT, requestReceivedTimestamp: "not a time" } },
      }),
    ),
    code: "aks_audit",
  },
  {
    name: "a Cloud Audit Logs record of another service",
    data: base64(
      json({
        logName: "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        protoPayload: { serviceName: "compute.googleapis.com" },
      }),
    ),
    code: "gke_audit",
  },
  {
    name: "an audit EventList whose items are not an array",
    data: base64(json({ kind: "EventList", apiVersion: "audit.k8s.io/v1", items: "x" })),
    code: "eventlist",
  },
  {
    name: "an audit EventList with a broken event (the event's code)",
    data: base64(
      json({
        kind: "EventList",
        apiVersion: "audit.k8s.io/v1",
        items: [AUDIT, { kind: "Event", verb: "get" }],
      }),
    ),
    code: "kubernetes_audit",
  },
  {
    name: "an audit EventList with an item that is not an object",
    data: base64(json({ kind: "EventList", apiVersion: "audit.k8s.io/v1", items: [AUDIT, 5] })),
    code: "eventlist",
  },
  {
    name: "an audit event a workload container logged",
    data: base64(
      json({
        log: json(AUDIT),
        kubernetes: { pod_name: "web-0", namespace_name: "shop", container_name: "app" },
      }),
    ),
    code: "audit_event_from_a_workload_container",
  },
  {
    name: "an audit event nesting too deep",
    data: base64(json({ ...AUDIT, requestObject: nested(80) })),
    code: "object_too_deep",
  },
  { name: "a record of blank lines", data: base64("\n \n"), code: "empty_record" },
  { name: "a record with no data", data: "", code: "empty_record" },
  { name: "a line of broken JSON", data: base64("{oops"), code: "invalid_json" },
  {
    name: "Fluent Bit records nested too deep",
    data: base64(fluentBitNested(7)),
    code: "envelopes_nested_too_deeply",
  },
  {
    name: "a CloudWatch Logs DATA_MESSAGE without logEvents",
    data: base64(json({ messageType: "DATA_MESSAGE" })),
    code: "cloudwatch_logs_data_message_without_logevents",
  },
  {
    name: "a CloudWatch Logs event without a message",
    data: base64(json({ messageType: "DATA_MESSAGE", logEvents: [{ message: LINKERD }, {}] })),
    code: "cloudwatch_logs_event_without_message",
  },
  {
    name: "a CloudWatch Logs event no parser reads (the inner code)",
    data: base64(gzipSync(json({ messageType: "DATA_MESSAGE", logEvents: [{ message: "garbage" }] }))),
    code: "unrecognized_log_line",
  },
  {
    name: "a Fluent Bit record whose log no parser reads (the inner code)",
    data: base64(json({ log: "garbage", kubernetes: { pod_name: "p" } })),
    code: "unrecognized_log_line",
  },
  {
    name: "Firehose error output without rawData",
    data: base64(json({ attemptsMade: 1 })),
    code: "firehose_error_output_without_rawdata",
  },
  {
    name: "Firehose error output that is not JSON",
    data: base64('{"attemptsMade":1,'),
    code: "invalid_json",
  },
  {
    name: "Firehose error output whose rawData is broken gzip",
    data: base64(errorOutput(base64(Uint8Array.from([0x1f, 0x8b, 1, 2, 3])))),
    code: "rawdata",
  },
  {
    name: "Firehose error output whose record no parser reads (the inner code)",
    data: base64(`${errorOutput(base64(LINKERD))}\n${errorOutput(base64("garbage"))}`),
    code: "unrecognized_log_line",
  },
  { name: "broken gzip", data: base64(Uint8Array.from([0x1f, 0x8b, 1, 2, 3])), code: "gzip" },
  { name: "broken zstd", data: base64(Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0])), code: "zstd" },
  {
    name: "snappy framing",
    data: base64(
      Buffer.concat([Buffer.from([0xff, 6, 0, 0]), Buffer.from("sNaPpY"), Buffer.from([1, 9, 0])]),
    ),
    code: "snappy",
  },
  {
    name: "a sealed record without a key to verify it",
    data: base64(`mat-reingest/v1 ${"A".repeat(43)} {}\n`),
    code: "re_ingested_document",
  },
  {
    name: "a line shaped like a finished document",
    data: base64(
      json({
        "@timestamp": "2024-06-01T12:00:01Z",
        ecs: { version: "8.11.0" },
        event: { kind: "event", dataset: "istio.access", category: ["network"], type: ["connection"] },
      }),
    ),
    code: "unauthenticated_ecs_document",
  },
  {
    name: "a record of more than 100,000 lines",
    data: base64(`${json({ messageType: "CONTROL_MESSAGE" })}\n`.repeat(100_001)),
    code: "record_has_more_than_100000_lines",
  },
  {
    name: "a record of more than 10,000 documents",
    data: base64(`${LINKERD}\n`.repeat(10_001)),
    code: "document_limit",
  },
  {
    name: "gzip expanding beyond 8 MiB",
    data: base64(gzipSync(Buffer.alloc(9 * 1024 * 1024, 97))),
    code: "decompressed_size_limit",
  },
];
