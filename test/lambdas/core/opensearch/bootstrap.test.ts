import { describe, expect, it } from "vitest";
import { ALERTS_INDEX, ISM_POLICY_ID } from "../../../../lambdas/core/contracts.js";
import {
  bootstrapDomain,
  buildIsmPolicy,
  OpenSearchBootstrapError,
  type TransportRequest,
} from "../../../../lambdas/core/opensearch/index.js";
import type { BootstrapSettings } from "../../../../lambdas/core/opensearch/settings.js";
import { bootstrapSettings } from "../../../fixtures/bootstrap-settings.js";
import { FakeOpenSearch, noHandler, withAuditConfig } from "./fake-transport.js";

const POLICY_PATH = `/_plugins/_ism/policies/${ISM_POLICY_ID}`;

const settings = bootstrapSettings({
  WarmDays: 30,
  ColdDays: 60,
  DeleteAfterDays: 97,
  UltraWarmEnabled: true,
  ColdStorageEnabled: true,
  AnalystRoleArn: "arn:aws:iam::123456789012:role/analyst",
  ShardCount: 2,
});

const policyFor = (values: BootstrapSettings) =>
  buildIsmPolicy({
    flavor: "aws",
    hot: values.HotDays,
    warm: values.WarmDays,
    cold: values.ColdDays,
    deleteAfter: values.DeleteAfterDays,
    ultraWarm: values.UltraWarmEnabled,
    coldStorage: values.ColdStorageEnabled,
  });

/** A fresh domain: no alerts index, no policy. */
function freshDomain(): FakeOpenSearch {
  return withAuditConfig(new FakeOpenSearch())
    .on("HEAD", `/${ALERTS_INDEX}`, { statusCode: 404 })
    .on("GET", POLICY_PATH, { statusCode: 404, body: { error: { type: "status_exception" } } });
}

const bodyOf = (fake: FakeOpenSearch, method: TransportRequest["method"], path: string) =>
  fake.requests.find((request) => request.method === method && request.path === path);

describe("bootstrapDomain", () => {
  it("applies the index-stamp pipeline, templates, alerts index, ISM policy, roles and role mappings on a fresh domain", async () => {
    // Prepare
    const fake = freshDomain();

    // Act
    const steps = await bootstrapDomain(fake, settings);

    // Assess
    expect(fake.calls()).toEqual([
      "PUT /_ingest/pipeline/audit-trail-indexed-at",
      "PUT /_index_template/audit-trail-events",
      "PUT /_index_template/audit-alerts-template",
      `HEAD /${ALERTS_INDEX}`,
      `PUT /${ALERTS_INDEX}`,
      `GET ${POLICY_PATH}`,
      `PUT ${POLICY_PATH}`,
      "POST /_plugins/_ism/add/audit-2*",
      "PUT /_plugins/_security/api/roles/audit_trail_firehose",
      "PUT /_plugins/_security/api/rolesmapping/audit_trail_firehose",
      "PUT /_plugins/_security/api/roles/audit_trail_detector",
      "PUT /_plugins/_security/api/rolesmapping/audit_trail_detector",
      "PUT /_plugins/_security/api/roles/audit_trail_analyst",
      "PUT /_plugins/_security/api/rolesmapping/audit_trail_analyst",
      "GET /_plugins/_security/api/audit",
      "PUT /_plugins/_security/api/audit/config",
    ]);
    expect(steps.at(-1)).toEqual({
      step: "dashboards saved objects",
      outcome: "skipped",
      detail: "no OpenSearch Dashboards endpoint given",
    });
    expect(steps.find((step) => step.step === `ISM policy ${ISM_POLICY_ID}`)?.outcome).toBe("created");
    expect(bodyOf(fake, "PUT", POLICY_PATH)?.body).toEqual({ policy: policyFor(settings) });
    expect(bodyOf(fake, "PUT", "/_plugins/_security/api/rolesmapping/audit_trail_firehose")?.body).toEqual({
      backend_roles: [settings.FirehoseRoleArn],
      hosts: [],
      users: [],
    });
  });

  it("leaves an unchanged policy alone and does not move managed indices", async () => {
    // Prepare
    const fake = withAuditConfig(new FakeOpenSearch()).on("GET", POLICY_PATH, {
      statusCode: 200,
      body: { _id: ISM_POLICY_ID, _seq_no: 4, _primary_term: 1, policy: policyFor(settings) },
    });

    // Act
    const steps = await bootstrapDomain(fake, settings);

    // Assess
    expect(steps.find((step) => step.step === `ISM policy ${ISM_POLICY_ID}`)?.outcome).toBe("unchanged");
    expect(fake.calls().filter((call) => call.startsWith(`PUT ${POLICY_PATH}`))).toEqual([]);
    expect(fake.calls().some((call) => call.includes("change_policy"))).toBe(false);
  });

  it("updates a changed policy with if_seq_no/if_primary_term and switches managed indices to it", async () => {
    // Prepare
    const previous = { ...settings, DeleteAfterDays: 365 };
    const fake = withAuditConfig(new FakeOpenSearch()).on("GET", POLICY_PATH, {
      statusCode: 200,
      body: { _id: ISM_POLICY_ID, _seq_no: 12, _primary_term: 3, policy: policyFor(previous) },
    });

    // Act
    const steps = await bootstrapDomain(fake, settings);

    // Assess
    const update = bodyOf(fake, "PUT", POLICY_PATH);
    expect(update?.querystring).toEqual({ if_seq_no: 12, if_primary_term: 3 });
    expect(update?.body).toEqual({ policy: policyFor(settings) });
    expect(fake.calls()).toContain("POST /_plugins/_ism/change_policy/audit-2*");
    expect(steps.find((step) => step.step === `ISM policy ${ISM_POLICY_ID}`)?.outcome).toBe("updated");
  });

  it("creates the policy on a domain with no daily index yet, leaving attachment to ism_template", async () => {
    // Prepare
    const fake = freshDomain().on("POST", "/_plugins/_ism/add/audit-2*", {
      statusCode: 404,
      body: { error: { type: "index_not_found_exception" } },
    });

    // Act
    const steps = await bootstrapDomain(fake, settings);

    // Assess
    expect(steps.find((step) => step.step === "ISM add policy")).toEqual({
      step: "ISM add policy",
      outcome: "unchanged",
      detail: "no daily index yet",
    });
  });

  it("keeps an existing alerts index and only adds missing fields to its mapping", async () => {
    // Prepare
    const fake = withAuditConfig(new FakeOpenSearch()).on("GET", POLICY_PATH, { statusCode: 404 });

    // Act
    await bootstrapDomain(fake, settings);

    // Assess
    expect(fake.calls()).toContain(`PUT /${ALERTS_INDEX}/_mapping`);
    expect(fake.calls()).not.toContain(`PUT /${ALERTS_INDEX}`);
    expect(fake.calls().filter((call) => call.startsWith("DELETE"))).toEqual([]);
  });

  it("maps no analyst role when none is configured, and removes a mapping left from an earlier configuration", async () => {
    // Prepare
    const fake = freshDomain();

    // Act
    const steps = await bootstrapDomain(fake, { ...settings, AnalystRoleArn: "" });

    // Assess
    expect(fake.calls().filter((call) => call.includes("audit_trail_analyst"))).toEqual([
      "DELETE /_plugins/_security/api/rolesmapping/audit_trail_analyst",
    ]);
    expect(steps.find((step) => step.step === "role mapping audit_trail_analyst")?.outcome).toBe("updated");
  });

  it("treats a missing analyst mapping as already removed", async () => {
    // Prepare
    const fake = freshDomain().on("DELETE", "/_plugins/_security/api/rolesmapping/audit_trail_analyst", {
      statusCode: 404,
    });

    // Act
    const steps = await bootstrapDomain(fake, { ...settings, AnalystRoleArn: "" });

    // Assess
    expect(steps.find((step) => step.step === "role mapping audit_trail_analyst")).toEqual({
      step: "role mapping audit_trail_analyst",
      outcome: "unchanged",
      detail: "no analyst role configured",
    });
  });

  it("fails on a domain without the security plugin unless told to skip it", async () => {
    // Prepare
    const fake = () =>
      freshDomain()
        .on("PUT", /^\/_plugins\/_security\//, noHandler)
        .on("GET", /^\/_plugins\/_security\//, noHandler);

    // Act
    const rejected = bootstrapDomain(fake(), settings);
    const skipped = await bootstrapDomain(fake(), settings, { allowMissingPlugins: ["security"] });

    // Assess
    await expect(rejected).rejects.toThrow(OpenSearchBootstrapError);
    await expect(bootstrapDomain(fake(), settings)).rejects.toThrow(
      /security role audit_trail_firehose.*HTTP 400.*no handler found/,
    );
    expect(skipped.filter((step) => step.outcome === "skipped")).toEqual([
      { step: "security", outcome: "skipped", detail: "security plugin not installed" },
      { step: "security audit configuration", outcome: "skipped", detail: "security plugin not installed" },
      {
        step: "dashboards saved objects",
        outcome: "skipped",
        detail: "no OpenSearch Dashboards endpoint given",
      },
    ]);
  });

  it("fails on a domain without index management unless told to skip it", async () => {
    // Prepare
    const fake = () => freshDomain().on("GET", POLICY_PATH, noHandler);

    // Act and assess
    await expect(bootstrapDomain(fake(), settings)).rejects.toThrow(/ISM policy audit-trail-lifecycle/);
    const steps = await bootstrapDomain(fake(), settings, { allowMissingPlugins: ["ism"] });
    expect(steps.find((step) => step.step.startsWith("ISM"))?.outcome).toBe("skipped");
  });

  it("reports the step, status and OpenSearch's reason when a template is refused", async () => {
    // Prepare
    const fake = freshDomain().on("PUT", "/_index_template/audit-trail-events", {
      statusCode: 400,
      body: { error: { type: "mapper_parsing_exception", reason: "No handler for type [wildcard]" } },
    });

    // Act and assess
    await expect(bootstrapDomain(fake, settings)).rejects.toThrow(
      /index template audit-trail-events.*HTTP 400.*mapper_parsing_exception/,
    );
  });

  it("decides on the status of an error the client throws for a 4xx answer", async () => {
    // Prepare: the real client throws ResponseError (with meta) instead of returning a 404
    const fake = freshDomain();
    const answer = fake.transport.request;
    fake.transport.request = async (request: TransportRequest) => {
      if (
        request.method === "HEAD" ||
        (request.method === "GET" && request.path.startsWith("/_plugins/_ism"))
      ) {
        const error = Object.assign(new Error("Response Error"), { meta: { statusCode: 404, body: {} } });
        throw error;
      }
      return answer(request);
    };

    // Act
    const steps = await bootstrapDomain(fake, settings);

    // Assess
    expect(steps.find((step) => step.step === `index ${ALERTS_INDEX}`)?.outcome).toBe("created");
    expect(steps.find((step) => step.step === `ISM policy ${ISM_POLICY_ID}`)?.outcome).toBe("created");
  });

  it("refuses an impossible lifecycle before writing anything", async () => {
    // Prepare
    const fake = freshDomain();

    // Act
    const result = bootstrapDomain(fake, { ...settings, WarmDays: 0, DeleteAfterDays: 67 });

    // Assess
    await expect(result).rejects.toThrow(/warm age must be at least 1/);
    expect(fake.requests).toEqual([]);
  });

  it("wraps a connection failure with the step it interrupted", async () => {
    // Prepare
    const fake = freshDomain();
    fake.transport.request = async () => {
      throw new Error("connect ECONNREFUSED");
    };

    // Act and assess
    await expect(bootstrapDomain(fake, settings)).rejects.toThrow(
      'bootstrap step "ingest pipeline audit-trail-indexed-at" failed: PUT /_ingest/pipeline/audit-trail-indexed-at: connect ECONNREFUSED',
    );
  });
});
