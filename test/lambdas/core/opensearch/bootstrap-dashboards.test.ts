import { describe, expect, it } from "vitest";
import {
  AMAZON_OPENSEARCH_DASHBOARDS,
  bootstrapDomain,
  buildDashboardsSavedObjects,
  IMPORT_FILE_NAME,
  renderSavedObjectsNdjson,
  type TransportRequest,
} from "../../../../lambdas/core/opensearch/index.js";
import { bootstrapSettings } from "../../../fixtures/bootstrap-settings.js";
import { freshDomain } from "./fake-transport.js";
import { parseMultipart } from "./multipart.js";

const settings = bootstrapSettings();

const IMPORT_PATH = "/_dashboards/api/saved_objects/_import";
const RESOLVE_PATH = "/_dashboards/api/saved_objects/_resolve_import_errors";
const objectCount = buildDashboardsSavedObjects().length;
const options = { dashboards: AMAZON_OPENSEARCH_DASHBOARDS };

function formOf(request: TransportRequest | undefined) {
  const contentType = request?.headers?.["content-type"];
  if (request === undefined || contentType === undefined || !Buffer.isBuffer(request.body)) {
    throw new Error("not a multipart request");
  }
  return parseMultipart(contentType, request.body);
}

describe("bootstrapDomain: OpenSearch Dashboards saved objects", () => {
  it("imports every saved object with overwrite into the Global tenant, after the templates and the ISM policy", async () => {
    // Prepare
    const fake = freshDomain().on("POST", IMPORT_PATH, {
      statusCode: 200,
      body: { success: true, successCount: objectCount, successResults: [] },
    });

    // Act
    const steps = await bootstrapDomain(fake, settings, options);

    // Assess
    const calls = fake.calls();
    expect(calls.filter((call) => call.includes("_dashboards"))).toEqual([`POST ${IMPORT_PATH}`]);
    expect(calls.indexOf(`POST ${IMPORT_PATH}`)).toBeGreaterThan(
      calls.indexOf("PUT /_plugins/_ism/policies/audit-trail-lifecycle"),
    );
    expect(calls.indexOf(`POST ${IMPORT_PATH}`)).toBeGreaterThan(
      calls.indexOf("PUT /_index_template/audit-trail-events"),
    );
    const request = fake.requests.find((candidate) => candidate.path === IMPORT_PATH);
    expect(request?.querystring).toEqual({ overwrite: "true" });
    expect(request?.headers).toMatchObject({ "osd-xsrf": "true", securitytenant: "global" });
    expect(request?.headers?.["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(formOf(request)).toEqual([
      {
        name: "file",
        fileName: IMPORT_FILE_NAME,
        contentType: "application/ndjson",
        value: renderSavedObjectsNdjson(buildDashboardsSavedObjects()),
      },
    ]);
    expect(steps.at(-1)).toEqual({
      step: "dashboards saved objects",
      outcome: "applied",
      detail: `${objectCount} of ${objectCount} saved objects imported into tenant global`,
    });
  });

  it("fails naming each object Dashboards did not import, and why", async () => {
    // Prepare
    const fake = freshDomain().on("POST", IMPORT_PATH, {
      statusCode: 200,
      body: {
        success: false,
        successCount: objectCount - 2,
        errors: [
          {
            id: "mesh-audit-trail-latency-p99",
            type: "visualization",
            meta: { title: "Mesh latency p99 by destination service" },
            error: { type: "missing_references", references: [{ type: "index-pattern", id: "audit-*" }] },
          },
          {
            id: "mesh-audit-trail-overview",
            type: "dashboard",
            title: "Mesh audit trail",
            error: { type: "unknown", message: "version conflict", statusCode: 409 },
          },
        ],
      },
    });

    // Act
    const result = bootstrapDomain(fake, settings, options);

    // Assess
    await expect(result).rejects.toThrow(
      'bootstrap step "dashboards saved objects" failed: OpenSearch Dashboards did not import 2 of 13 saved objects: visualization "mesh-audit-trail-latency-p99" ("Mesh latency p99 by destination service"): missing references index-pattern "audit-*"; dashboard "mesh-audit-trail-overview" ("Mesh audit trail"): version conflict (HTTP 409)',
    );
  });

  it("overwrites objects an import reported as conflicts through _resolve_import_errors", async () => {
    // Prepare
    const conflicts = [
      { id: "audit-*", type: "index-pattern", meta: {}, error: { type: "conflict" } },
      { id: "mesh-audit-trail-overview", type: "dashboard", meta: {}, error: { type: "conflict" } },
    ];
    const fake = freshDomain()
      .on("POST", IMPORT_PATH, {
        statusCode: 200,
        body: { success: false, successCount: objectCount - 2, errors: conflicts },
      })
      .on("POST", RESOLVE_PATH, { statusCode: 200, body: { success: true, successCount: 2 } });

    // Act
    const steps = await bootstrapDomain(fake, settings, options);

    // Assess
    const resolve = fake.requests.find((request) => request.path === RESOLVE_PATH);
    const fields = formOf(resolve);
    expect(fields.map((field) => field.name)).toEqual(["file", "retries"]);
    expect(fields[0]?.value).toBe(renderSavedObjectsNdjson(buildDashboardsSavedObjects()));
    expect(JSON.parse(fields[1]?.value ?? "")).toEqual([
      { type: "index-pattern", id: "audit-*", overwrite: true, replaceReferences: [] },
      { type: "dashboard", id: "mesh-audit-trail-overview", overwrite: true, replaceReferences: [] },
    ]);
    expect(resolve?.headers).toMatchObject({ "osd-xsrf": "true", securitytenant: "global" });
    expect(steps.at(-1)?.detail).toBe(
      `${objectCount} of ${objectCount} saved objects imported into tenant global`,
    );
  });

  it("fails with the HTTP status when Dashboards does not answer where expected", async () => {
    // Prepare
    const fake = freshDomain().on("POST", IMPORT_PATH, {
      statusCode: 404,
      body: { statusCode: 404, error: "Not Found", message: "Not Found" },
    });

    // Act and assess
    await expect(bootstrapDomain(fake, settings, options)).rejects.toThrow(
      /bootstrap step "dashboards saved objects" failed \(HTTP 404\): POST \/_dashboards\/api\/saved_objects\/_import/,
    );
  });

  it("fails on an answer that is not an import result", async () => {
    // Prepare
    const fake = freshDomain().on("POST", IMPORT_PATH, { statusCode: 200, body: "<html>Sign in</html>" });

    // Act and assess
    await expect(bootstrapDomain(fake, settings, options)).rejects.toThrow(
      /not an import answer: <html>Sign in<\/html>/,
    );
  });

  it("uses the base path and tenant it is given", async () => {
    // Prepare
    const fake = freshDomain().on("POST", "/dashboards/api/saved_objects/_import", {
      statusCode: 200,
      body: { success: true, successCount: objectCount },
    });

    // Act
    await bootstrapDomain(fake, settings, { dashboards: { basePath: "/dashboards/", tenant: "security" } });

    // Assess
    const request = fake.requests.find(
      (candidate) => candidate.method === "POST" && candidate.path.includes("_import"),
    );
    expect(request?.path).toBe("/dashboards/api/saved_objects/_import");
    expect(request?.headers?.securitytenant).toBe("security");
  });
});
