import { describe, expect, it } from "vitest";
import {
  AUDIT_READ_WATCHED_FIELDS,
  AUDIT_WRITE_WATCHED_INDICES,
  AuditConfigError,
  sameAuditConfig,
  withAuditReadHistory,
} from "../../../../lambdas/core/opensearch/index.js";
import { DEFAULT_AUDIT_CONFIG } from "./fake-transport.js";

describe("audit read history", () => {
  it("records reads of the daily audit indices and the alerts index, as metadata only", () => {
    // Act
    const config = withAuditReadHistory(DEFAULT_AUDIT_CONFIG);

    // Assess
    expect(AUDIT_READ_WATCHED_FIELDS).toEqual({ "audit-2*": ["*"], "audit-alerts": ["*"] });
    expect(config).toEqual({
      ...DEFAULT_AUDIT_CONFIG,
      enabled: true,
      audit: {
        ...DEFAULT_AUDIT_CONFIG.audit,
        enable_rest: true,
        enable_transport: true,
        exclude_sensitive_headers: true,
      },
      compliance: {
        ...DEFAULT_AUDIT_CONFIG.compliance,
        enabled: true,
        read_metadata_only: true,
        read_watched_fields: { "audit-2*": ["*"], "audit-alerts": ["*"] },
        write_watched_indices: ["audit-2*", "audit-alerts"],
        write_metadata_only: true,
        write_log_diffs: false,
      },
    });
  });

  it("records writes and deletes of audit documents and alerts too, as metadata only", () => {
    // Act
    const config = withAuditReadHistory(DEFAULT_AUDIT_CONFIG) as { compliance: Record<string, unknown> };

    // Assess: compliance write history covers index, update and delete of documents in the watched indices
    expect(AUDIT_WRITE_WATCHED_INDICES).toEqual(["audit-2*", "audit-alerts"]);
    expect(config.compliance.write_watched_indices).toEqual(["audit-2*", "audit-alerts"]);
    expect(config.compliance.write_metadata_only).toBe(true);
    expect(config.compliance.write_log_diffs).toBe(false);
  });

  it("keeps what an operator configured: other watched indices, ignored users, disabled categories", () => {
    // Prepare
    const operator = {
      enabled: false,
      audit: {
        ...DEFAULT_AUDIT_CONFIG.audit,
        enable_rest: false,
        disabled_rest_categories: ["AUTHENTICATED"],
        ignore_users: ["kibanaserver", "monitoring"],
      },
      compliance: {
        ...DEFAULT_AUDIT_CONFIG.compliance,
        enabled: false,
        read_metadata_only: false,
        read_watched_fields: { "payments-*": ["card.*"], "audit-2*": ["user.name"] },
        write_watched_indices: ["payments-*"],
      },
    };

    // Act
    const config = withAuditReadHistory(operator) as typeof operator;

    // Assess
    expect(config.enabled).toBe(true);
    expect(config.audit.enable_rest).toBe(true);
    expect(config.audit.disabled_rest_categories).toEqual(["AUTHENTICATED"]);
    expect(config.audit.ignore_users).toEqual(["kibanaserver", "monitoring"]);
    expect(config.compliance.read_watched_fields).toEqual({
      "payments-*": ["card.*"],
      "audit-2*": ["*"],
      "audit-alerts": ["*"],
    });
    expect(config.compliance.write_watched_indices).toEqual(["payments-*", "audit-2*", "audit-alerts"]);
    expect([config.compliance.enabled, config.compliance.read_metadata_only]).toEqual([true, true]);
  });

  it("changes nothing in a configuration that already records the reads", () => {
    // Prepare
    const configured = withAuditReadHistory(DEFAULT_AUDIT_CONFIG);

    // Act
    const again = withAuditReadHistory(JSON.parse(JSON.stringify(configured)));

    // Assess
    expect(sameAuditConfig(again, configured)).toBe(true);
    expect(sameAuditConfig(DEFAULT_AUDIT_CONFIG, configured)).toBe(false);
  });

  it("compares configurations regardless of key order", () => {
    expect(sameAuditConfig({ a: 1, b: { c: [1, 2], d: true } }, { b: { d: true, c: [1, 2] }, a: 1 })).toBe(
      true,
    );
    expect(sameAuditConfig({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });

  it("refuses a configuration whose sections are not objects, naming the section", () => {
    expect(() => withAuditReadHistory({ compliance: { read_watched_fields: ["audit-*"] } })).toThrow(
      AuditConfigError,
    );
    expect(() => withAuditReadHistory({ audit: "on" })).toThrow('"audit" is not an object: "on"');
    expect(() => withAuditReadHistory({ compliance: { write_watched_indices: "audit-*" } })).toThrow(
      '"compliance.write_watched_indices" is not a list: "audit-*"',
    );
  });
});
