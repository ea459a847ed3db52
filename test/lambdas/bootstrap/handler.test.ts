import { DescribeDomainCommand, OpenSearchClient } from "@aws-sdk/client-opensearch";
import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ALERTS_INDEX } from "../../../lambdas/core/contracts.js";
import { FakeOpenSearch, withAuditConfig } from "../core/opensearch/fake-transport.js";

vi.stubEnv("AWS_REGION", "eu-west-1");
vi.stubEnv("POWERTOOLS_DEV", "true");
vi.stubEnv("POWERTOOLS_LOG_LEVEL", "SILENT");
const { onEvent } = await import("../../../lambdas/bootstrap/handler.js");
const { DomainNotReadyError, domainNameOf } = await import("../../../lambdas/bootstrap/domain.js");
const { BootstrapPropertiesError } = await import("../../../lambdas/core/opensearch/settings.js");

const controlPlane = mockClient(OpenSearchClient);
const context = { getRemainingTimeInMillis: () => 14 * 60_000 };
const noWait = { intervalMs: 1, sleep: async () => undefined };

const properties = {
  ServiceToken: "arn:aws:lambda:eu-west-1:123456789012:function:provider",
  DomainEndpoint: "vpc-audit-trail-dev-abc.eu-west-1.es.amazonaws.com",
  DomainName: "audit-trail-dev",
  HotDays: "3",
  WarmDays: "0",
  ColdDays: "0",
  DeleteAfterDays: "30",
  UltraWarmEnabled: "false",
  ColdStorageEnabled: "false",
  IndexEventOriginal: "false",
  FirehoseRoleArn: "arn:aws:iam::123456789012:role/firehose",
  DetectorRoleArn: "arn:aws:iam::123456789012:role/detector",
  AnalystRoleArn: "",
  ReplicaCount: "0",
  ShardCount: "1",
};

function event(
  requestType: "Create" | "Update" | "Delete",
  resourceProperties: Record<string, string> = properties,
): CloudFormationCustomResourceEvent {
  const base = {
    ServiceToken: properties.ServiceToken,
    ResponseURL: "https://cloudformation-custom-resource-response.example/",
    StackId: "arn:aws:cloudformation:eu-west-1:123456789012:stack/audit-trail-dev/1",
    RequestId: "request-1",
    LogicalResourceId: "Bootstrap",
    ResourceType: "Custom::OpenSearchBootstrap",
    ResourceProperties: { ...resourceProperties, ServiceToken: properties.ServiceToken },
  };
  if (requestType === "Create") return { ...base, RequestType: "Create" };
  if (requestType === "Update") {
    return {
      ...base,
      RequestType: "Update",
      PhysicalResourceId: "existing-id",
      OldResourceProperties: base.ResourceProperties,
    };
  }
  return { ...base, RequestType: "Delete", PhysicalResourceId: "existing-id" };
}

const IMPORT_PATH = "/_dashboards/api/saved_objects/_import";

function domain(fake: FakeOpenSearch) {
  return withAuditConfig(fake)
    .on("HEAD", `/${ALERTS_INDEX}`, { statusCode: 404 })
    .on("GET", /^\/_plugins\/_ism\/policies\//, { statusCode: 404 })
    .on("POST", IMPORT_PATH, { statusCode: 200, body: { success: true, successCount: 13 } });
}

describe("bootstrap custom resource onEvent", () => {
  beforeAll(() => {
    controlPlane.reset();
  });
  beforeEach(() => {
    controlPlane.reset();
  });

  it("waits until the domain stops processing, then applies the bootstrap to its endpoint", async () => {
    // Prepare
    controlPlane
      .on(DescribeDomainCommand)
      .resolvesOnce({ DomainStatus: { Processing: true, DomainName: "audit-trail-dev" } as never })
      .resolvesOnce({ DomainStatus: { Processing: false, UpgradeProcessing: true, Endpoint: "x" } as never })
      .resolves({ DomainStatus: { Processing: false, UpgradeProcessing: false, Endpoint: "x" } as never });
    const fake = domain(new FakeOpenSearch());
    const endpoints: string[] = [];

    // Act
    const response = await onEvent(event("Create"), context, {
      controlPlane: new OpenSearchClient({ region: "eu-west-1" }),
      dataPlane: (endpoint) => {
        endpoints.push(endpoint);
        return fake;
      },
      wait: noWait,
    });

    // Assess
    expect(controlPlane.commandCalls(DescribeDomainCommand)).toHaveLength(3);
    expect(controlPlane.commandCalls(DescribeDomainCommand)[0]?.args[0].input).toEqual({
      DomainName: "audit-trail-dev",
    });
    expect(endpoints).toEqual([properties.DomainEndpoint]);
    expect(fake.calls()).toContain("PUT /_index_template/audit-trail-events");
    expect(response.PhysicalResourceId).toBe("audit-trail-bootstrap-audit-trail-dev");
    expect(response.Data?.Steps).toContain("ISM policy audit-trail-lifecycle: created");
    expect(response.Data?.Steps).toContain("security audit configuration: updated");
    expect(response.Data?.Steps).toContain("dashboards saved objects: applied");
  });

  it("imports the Dashboards saved objects through the domain endpoint's /_dashboards, into the Global tenant", async () => {
    // Prepare
    controlPlane
      .on(DescribeDomainCommand)
      .resolves({ DomainStatus: { Processing: false, Endpoint: "x" } as never });
    const fake = domain(new FakeOpenSearch());

    // Act
    await onEvent(event("Update"), context, {
      controlPlane: new OpenSearchClient({ region: "eu-west-1" }),
      dataPlane: () => fake,
      wait: noWait,
    });

    // Assess
    const imports = fake.requests.filter((request) => request.path === IMPORT_PATH);
    expect(imports).toHaveLength(1);
    expect(imports[0]?.headers).toMatchObject({ "osd-xsrf": "true", securitytenant: "global" });
    expect(imports[0]?.querystring).toEqual({ overwrite: "true" });
  });

  it("keeps the physical resource id on update, so CloudFormation never replaces (or deletes) it", async () => {
    // Prepare
    controlPlane
      .on(DescribeDomainCommand)
      .resolves({ DomainStatus: { Processing: false, Endpoint: "x" } as never });

    // Act
    const response = await onEvent(event("Update"), context, {
      controlPlane: new OpenSearchClient({ region: "eu-west-1" }),
      dataPlane: () => domain(new FakeOpenSearch()),
      wait: noWait,
    });

    // Assess
    expect(response.PhysicalResourceId).toBe("existing-id");
  });

  it("deletes nothing on stack delete and succeeds without touching the domain", async () => {
    // Prepare
    const fake = new FakeOpenSearch();

    // Act
    const response = await onEvent(event("Delete"), context, {
      controlPlane: new OpenSearchClient({ region: "eu-west-1" }),
      dataPlane: () => fake,
      wait: noWait,
    });

    // Assess
    expect(response).toEqual({ PhysicalResourceId: "existing-id" });
    expect(fake.requests).toEqual([]);
    expect(controlPlane.calls()).toHaveLength(0);
  });

  it("rejects bad properties naming them, before any call", async () => {
    // Prepare
    const fake = new FakeOpenSearch();

    // Act
    const result = onEvent(event("Create", { ...properties, HotDays: "three" }), context, {
      controlPlane: new OpenSearchClient({ region: "eu-west-1" }),
      dataPlane: () => fake,
      wait: noWait,
    });

    // Assess
    await expect(result).rejects.toThrow('HotDays: must be a whole number, got "three"');
    expect(fake.requests).toEqual([]);
  });

  it("gives up with a clear error when the domain is still processing at the deadline", async () => {
    // Prepare
    controlPlane.on(DescribeDomainCommand).resolves({ DomainStatus: { Processing: true } as never });
    let clock = 0;

    // Act
    const result = onEvent(
      event("Create"),
      { getRemainingTimeInMillis: () => 61_000 },
      {
        controlPlane: new OpenSearchClient({ region: "eu-west-1" }),
        dataPlane: () => new FakeOpenSearch(),
        wait: {
          intervalMs: 10_000,
          sleep: async (ms) => {
            clock += ms;
          },
          now: () => Date.now() + clock,
        },
      },
    );

    // Assess
    await expect(result).rejects.toThrow(DomainNotReadyError);
    await expect(result).rejects.toThrow(/audit-trail-dev still processing/);
  });

  it("accepts a domain ARN where a domain name is expected", () => {
    // Act and assess
    expect(domainNameOf("arn:aws:es:eu-west-1:123456789012:domain/audit-trail-prod")).toBe(
      "audit-trail-prod",
    );
    expect(domainNameOf("audit-trail-prod")).toBe("audit-trail-prod");
    expect(() => domainNameOf("arn:aws:s3:::bucket")).toThrow(
      /DomainName: "arn:aws:s3:::bucket" is neither a domain name nor an OpenSearch domain ARN/,
    );
    expect(() => domainNameOf("arn:aws:s3:::bucket")).toThrow(BootstrapPropertiesError);
  });
});
