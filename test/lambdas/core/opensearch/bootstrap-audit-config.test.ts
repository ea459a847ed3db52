import { describe, expect, it } from "vitest";
import {
  type BootstrapStep,
  bootstrapDomain,
  OpenSearchBootstrapError,
  withAuditReadHistory,
} from "../../../../lambdas/core/opensearch/index.js";
import { bootstrapSettings } from "../../../fixtures/bootstrap-settings.js";
import {
  AUDIT_CONFIG_PATH,
  DEFAULT_AUDIT_CONFIG,
  freshDomain,
  noHandler,
  withAuditConfig,
} from "./fake-transport.js";

const settings = bootstrapSettings();

const PUT_PATH = `${AUDIT_CONFIG_PATH}/config`;
const auditStep = (steps: BootstrapStep[]) =>
  steps.find((step) => step.step === "security audit configuration");

describe("bootstrapDomain: security audit configuration", () => {
  it("switches on read history for the audit indices after the role mappings, keeping the rest of the configuration", async () => {
    // Prepare
    const fake = freshDomain();

    // Act
    const steps = await bootstrapDomain(fake, settings);

    // Assess
    const calls = fake.calls();
    expect(calls.indexOf(`PUT ${PUT_PATH}`)).toBeGreaterThan(
      calls.indexOf("PUT /_plugins/_security/api/rolesmapping/audit_trail_detector"),
    );
    const put = fake.requests.find((request) => request.method === "PUT" && request.path === PUT_PATH);
    expect(put?.body).toEqual(withAuditReadHistory(DEFAULT_AUDIT_CONFIG));
    expect(auditStep(steps)).toEqual({
      step: "security audit configuration",
      outcome: "updated",
      detail: "compliance read and write history on for the audit indices (metadata only)",
    });
  });

  it("leaves a configuration that already records the reads alone", async () => {
    // Prepare
    const fake = withAuditConfig(freshDomain(), withAuditReadHistory(DEFAULT_AUDIT_CONFIG));

    // Act
    const steps = await bootstrapDomain(fake, settings);

    // Assess
    expect(fake.calls()).not.toContain(`PUT ${PUT_PATH}`);
    expect(auditStep(steps)?.outcome).toBe("unchanged");
  });

  it("fails naming the step when the security plugin refuses the configuration", async () => {
    // Prepare
    const fake = freshDomain().on("PUT", PUT_PATH, {
      statusCode: 403,
      body: { status: "FORBIDDEN", message: "No permission to access REST API: security_manager needed" },
    });

    // Act and assess
    await expect(bootstrapDomain(fake, settings)).rejects.toThrow(
      /bootstrap step "security audit configuration" failed \(HTTP 403\): PUT \/_plugins\/_security\/api\/audit\/config: .*security_manager/,
    );
  });

  it("fails on an answer without a configuration object instead of overwriting the audit settings", async () => {
    // Prepare
    const fake = freshDomain().on("GET", AUDIT_CONFIG_PATH, { statusCode: 200, body: { status: "OK" } });

    // Act
    const result = bootstrapDomain(fake, settings);

    // Assess
    await expect(result).rejects.toThrow(OpenSearchBootstrapError);
    await expect(bootstrapDomain(fake, settings)).rejects.toThrow(/answer has no "config" object/);
    expect(fake.calls()).not.toContain(`PUT ${PUT_PATH}`);
  });

  it("is skipped only when told the security plugin may be missing", async () => {
    // Prepare
    const fake = () =>
      freshDomain()
        .on("GET", AUDIT_CONFIG_PATH, noHandler)
        .on("PUT", /_security/, noHandler);

    // Act
    const skipped = await bootstrapDomain(fake(), settings, { allowMissingPlugins: ["security"] });

    // Assess
    expect(auditStep(skipped)).toEqual({
      step: "security audit configuration",
      outcome: "skipped",
      detail: "security plugin not installed",
    });
    await expect(bootstrapDomain(fake(), settings)).rejects.toThrow(/security role/);
  });
});
