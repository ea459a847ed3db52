/**
 * Who read or changed the trail: the security plugin's audit configuration (`GET _plugins/_security/api/audit`,
 * `PUT _plugins/_security/api/audit/config`). By default the security audit log records failed logins and denied
 * requests, not successful reads or writes (the `GRANTED_PRIVILEGES` and `AUTHENTICATED` categories are off). Its
 * compliance read history records every read of a document of a watched index: who, when, which index and
 * document; its write history records every index, update and delete of a document of a watched index. With
 * `read_metadata_only`/`write_metadata_only` (and no diffs) it records no field values, so the audit log does not
 * become a second copy of the trail. Every document Firehose delivers is a write, so the audit log gets one record
 * per indexed document. Deleting a whole index (ISM's lifecycle, or an operator) is not a document write and is
 * not in this history.
 *
 * On Amazon OpenSearch Service the records go to the domain's `AUDIT_LOGS` CloudWatch group, which the search
 * domain construct always publishes (fine-grained access control is on). Everything else an operator set in the
 * audit configuration is kept: this only switches on what reading the trail needs.
 */
import { ALERTS_INDEX } from "../contracts.js";
import { DAILY_AUDIT_INDEX_PATTERN } from "./ism-policy.js";

/** The indices whose reads are recorded: the daily audit indices and the alerts index, every field. */
export const AUDIT_READ_WATCHED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  [DAILY_AUDIT_INDEX_PATTERN]: ["*"],
  [ALERTS_INDEX]: ["*"],
};

/** The indices whose document writes and deletes are recorded: the daily audit indices and the alerts index. */
export const AUDIT_WRITE_WATCHED_INDICES: readonly string[] = [DAILY_AUDIT_INDEX_PATTERN, ALERTS_INDEX];

export class AuditConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuditConfigError";
  }
}

function record(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AuditConfigError(
      `the current audit configuration's "${name}" is not an object: ${JSON.stringify(value)}`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * The audit configuration `current` (the `config` of `GET _plugins/_security/api/audit`) with read and write
 * history of the audit indices on: audit logging enabled on the REST and transport layers, sensitive headers
 * excluded, compliance logging enabled, reads and writes (index, update, delete) of the watched indices recorded as
 * metadata only. Other keys, and indices an operator watches besides, are kept as they are.
 */
export function withAuditReadHistory(current: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const audit = record(current.audit, "audit");
  const compliance = record(current.compliance, "compliance");
  const watched = record(compliance.read_watched_fields, "compliance.read_watched_fields");
  const readWatchedFields: Record<string, unknown> = { ...watched };
  for (const [pattern, fields] of Object.entries(AUDIT_READ_WATCHED_FIELDS))
    readWatchedFields[pattern] = [...fields];
  const writeWatched = compliance.write_watched_indices ?? [];
  if (!Array.isArray(writeWatched)) {
    throw new AuditConfigError(
      `the current audit configuration's "compliance.write_watched_indices" is not a list: ${JSON.stringify(writeWatched)}`,
    );
  }
  const writeWatchedIndices = [...writeWatched];
  for (const pattern of AUDIT_WRITE_WATCHED_INDICES) {
    if (!writeWatchedIndices.includes(pattern)) writeWatchedIndices.push(pattern);
  }
  return {
    ...current,
    enabled: true,
    audit: { ...audit, enable_rest: true, enable_transport: true, exclude_sensitive_headers: true },
    compliance: {
      ...compliance,
      enabled: true,
      read_metadata_only: true,
      read_watched_fields: readWatchedFields,
      write_watched_indices: writeWatchedIndices,
      write_metadata_only: true,
      write_log_diffs: false,
    },
  };
}

/** Whether two audit configurations are the same JSON (key order ignored). */
export function sameAuditConfig(
  a: Readonly<Record<string, unknown>>,
  b: Readonly<Record<string, unknown>>,
): boolean {
  return sortedJson(a) === sortedJson(b);
}

function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, item]) => `${JSON.stringify(key)}:${sortedJson(item)}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
