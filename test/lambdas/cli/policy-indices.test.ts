/**
 * `audit-trail policy suggest|drift -c env=NAME`: the stack's outputs from CloudFormation (mocked with
 * aws-sdk-client-mock), then the calls as one paged composite aggregation (a recording fake search; the real node's
 * answers are checked in test/integration/policy-indices.test.ts).
 */
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { runPolicy } from "../../../lambdas/cli/commands/policy.js";
import { callsFromSearch, PolicyIndicesError } from "../../../lambdas/core/policy/indices.js";
import { parsePolicies } from "../../../lambdas/core/policy/istio.js";
import type { IndexSearch } from "../../../lambdas/core/review/indices.js";

const OUTPUTS = {
  DeliveryStreamName: "AuditTrail-dev-IngestionStream1A2B3C",
  Region: "eu-west-1",
  DomainEndpoint: "search-audit-trail-dev-abc123.eu-west-1.es.amazonaws.com",
  OpsTopicArn: "arn:aws:sns:eu-west-1:111122223333:AuditTrail-dev-OpsTopic",
  DetectorFunctionName: "AuditTrail-dev-DetectorFunction",
};
const cloudFormation = mockClient(CloudFormationClient);
const FRONTEND = "spiffe://cluster.local/ns/shop/sa/frontend";
const T = Date.parse("2026-03-02T10:00:00.000Z");

interface Request {
  readonly index: string;
  readonly body: Record<string, unknown>;
}

function bucket(key: Record<string, unknown>, count: number, firstMs: number, lastMs: number) {
  return { key, doc_count: count, first: { value: firstMs }, last: { value: lastMs } };
}

const KEY = {
  principal: FRONTEND,
  service: "orders.shop.svc.cluster.local",
  namespace: null,
  method: "GET",
  path: "/api/orders",
  port: 8080,
  mesh: "istio",
  direction: "inbound",
  status: 200,
  grpc: null,
  outcome: "success",
  details: "via_upstream",
};

/** Two pages of calls (1,000 item reads, then two more combinations), and one policy audit event. */
function fakeSearch(requests: Request[]): IndexSearch {
  return {
    async search(request) {
      requests.push(request);
      const body = request.body as { aggs?: { calls?: { composite?: { after?: unknown } } } };
      if (body.aggs?.calls === undefined) {
        return {
          _shards: { failed: 0 },
          hits: {
            hits: [
              {
                _source: {
                  "@timestamp": "2026-03-01T09:00:00.000Z",
                  event: { dataset: "kubernetes.audit" },
                  kubernetes: {
                    audit: {
                      verb: "create",
                      stage: "ResponseComplete",
                      responseStatus: { code: 201 },
                      objectRef: {
                        resource: "authorizationpolicies",
                        apiGroup: "security.istio.io",
                        namespace: "shop",
                        name: "orders",
                      },
                      requestObject: {
                        apiVersion: "security.istio.io/v1",
                        kind: "AuthorizationPolicy",
                        metadata: { name: "orders", namespace: "shop" },
                        spec: {
                          selector: { matchLabels: { app: "orders" } },
                          rules: [
                            { from: [{ source: { principals: ["cluster.local/ns/shop/sa/frontend"] } }] },
                          ],
                        },
                      },
                    },
                  },
                },
                sort: [1, "a"],
              },
            ],
          },
        };
      }
      if (body.aggs.calls.composite?.after === undefined) {
        const buckets = Array.from({ length: 1000 }, (_, i) =>
          bucket({ ...KEY, path: `/api/items/${i + 1}` }, 2, T + i * 1000, T + i * 1000 + 500),
        );
        return {
          _shards: { failed: 0 },
          aggregations: { calls: { buckets, after_key: { path: "/api/items/1000" } } },
        };
      }
      return {
        _shards: { failed: 0 },
        aggregations: {
          calls: {
            buckets: [
              bucket(KEY, 40, T - 60_000, T + 3_600_000),
              bucket(
                {
                  ...KEY,
                  principal: "spiffe://cluster.local/ns/marketing/sa/newsletter",
                  status: 403,
                  outcome: "failure",
                  details: "rbac_access_denied_matched_policy[none]",
                },
                7,
                T,
                T + 60_000,
              ),
            ],
            after_key: { path: "/api/orders" },
          },
        },
      };
    },
  };
}

async function policy(argv: string[], requests: Request[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const status = await runPolicy(
    argv,
    {
      out: { write: (text) => stdout.push(text) > 0 },
      err: { write: (text) => stderr.push(text) > 0 },
    },
    {
      cloudFormation: (region) => new CloudFormationClient({ region: region ?? "eu-west-1" }),
      search: () => fakeSearch(requests),
    },
  );
  return { status, stdout: stdout.join(""), stderr: stderr.join("") };
}

describe("audit-trail policy -c env=NAME", () => {
  beforeEach(() => {
    cloudFormation.reset();
    cloudFormation.on(DescribeStacksCommand, { StackName: "AuditTrail-dev" }).resolves({
      Stacks: [
        {
          StackName: "AuditTrail-dev",
          StackStatus: "UPDATE_COMPLETE",
          CreationTime: new Date(T - 86_400_000),
          Outputs: Object.entries(OUTPUTS).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
        },
      ],
    });
  });

  it("suggest: pages through the composite aggregation of the period, never asking for documents, counting each bucket's calls", async () => {
    // Prepare
    const requests: Request[] = [];
    // Act
    const result = await policy(
      [
        "suggest",
        "-c",
        "env=dev",
        "--since",
        "1d",
        "--until",
        "2026-03-03T00:00:00Z",
        "--region",
        "eu-west-1",
      ],
      requests,
    );
    // Assess
    expect(result.status).toBe(0);
    expect(requests).toHaveLength(2);
    for (const request of requests) {
      expect(request.index).toBe("audit-*,-audit-alerts");
      expect(request.body.size).toBe(0);
      expect(JSON.stringify(request.body.query)).toContain(
        '{"range":{"@timestamp":{"gte":"2026-03-02T00:00:00.000Z","lte":"2026-03-03T00:00:00.000Z"}}}',
      );
    }
    const second = requests[1]?.body as { aggs: { calls: { composite: { after: unknown } } } } | undefined;
    expect(second?.aggs.calls.composite.after).toEqual({
      path: "/api/items/1000",
    });
    const [suggested] = parsePolicies(result.stdout, "stdout");
    expect(suggested?.name).toBe("orders-allow-observed");
    expect(result.stdout).toContain("from 2040 allowed calls to orders.shop.svc.cluster.local");
    expect(result.stdout).toContain('- "/api/items/*" # 2000 calls');
    expect(result.stdout).toContain('- "/api/orders" # 40 calls');
    expect(result.stdout).toContain("between 2026-03-02T09:59:00.000Z and 2026-03-02T11:00:00.000Z");
    expect(result.stdout).not.toContain("newsletter");
    expect(result.stderr).toMatch(/1002 distinct calls in 2 aggregation page\(s\)/);
  });

  it("drift: judges the period's calls against the policies the audit events left in force, denied calls included", async () => {
    // Prepare
    const requests: Request[] = [];
    // Act
    const result = await policy(
      ["drift", "-c", "env=dev", "--json", "--until", "2026-03-03T00:00:00Z"],
      requests,
    );
    // Assess
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout) as {
      policies: number;
      calls: number;
      denied: { principal: string; count: number }[];
      notAllowed: unknown[];
    };
    expect(report.policies).toBe(1);
    expect(report.calls).toBe(2047);
    expect(report.denied.map((d) => [d.principal, d.count])).toEqual([
      ["cluster.local/ns/marketing/sa/newsletter", 7],
    ]);
    expect(report.notAllowed).toEqual([]);
    expect(JSON.stringify(requests[0]?.body.query)).toContain(
      '"prefix":{"envoy.response_code_details":"rbac_access_denied"}',
    );
    expect(JSON.stringify(requests[2]?.body.query)).toContain('"kubernetes.audit.objectRef.resource"');
  });

  it("refuses files and an environment together, and names a stack that is not deployed", async () => {
    expect((await policy(["suggest", "-c", "env=dev", "x.log"], [])).stderr).toMatch(
      /give either -c env=NAME or files, not both/,
    );
    cloudFormation
      .on(DescribeStacksCommand)
      .rejects(
        Object.assign(new Error("Stack with id AuditTrail-dev does not exist"), { name: "ValidationError" }),
      );
    const missing = await policy(["suggest", "-c", "env=dev", "--region", "eu-west-1"], []);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/stack AuditTrail-dev not found in eu-west-1/);
  });

  it("stops with a clear error past the bound on distinct combinations, instead of holding them all", async () => {
    const requests: Request[] = [];
    await expect(
      callsFromSearch(fakeSearch(requests), {
        since: "2026-03-02T00:00:00Z",
        until: "2026-03-03T00:00:00Z",
        withDenied: false,
        maxBuckets: 500,
      }),
    ).rejects.toThrow(PolicyIndicesError);
    expect(requests).toHaveLength(1);
  });
});
