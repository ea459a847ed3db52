import type { Client } from "@opensearch-project/opensearch";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ALERTS_INDEX, ISM_POLICY_ID } from "../../lambdas/core/contracts.js";
import type { EcsDocument } from "../../lambdas/core/ecs.js";
import {
  ALERTS_TEMPLATE_NAME,
  AUDIT_TEMPLATE_NAME,
  bootstrapDomain,
} from "../../lambdas/core/opensearch/index.js";
import { deleteIndices, TEST_BOOTSTRAP_OPTIONS, testClient, testSettings } from "./helpers.js";

const DAY_INDEX = "audit-2099-01-01";
const INDEXED_ORIGINAL_INDEX = "audit-2099-01-02";
const CODEC_INDEX = "audit-2099-01-03";

function istioRequest(overrides: Partial<EcsDocument> = {}): EcsDocument {
  return {
    "@timestamp": "2099-01-01T10:00:00.123456Z",
    ecs: { version: "8.17.0" },
    event: {
      kind: "event",
      category: ["network", "web"],
      type: ["access", "connection"],
      action: "http_request",
      outcome: "failure",
      dataset: "istio.access",
      duration: 12_500_000,
      original: `{"authority":"payments","path":"/v1/charge","x":"${"y".repeat(40_000)}"}`,
    },
    source: { ip: "10.1.2.3", port: 44312, address: "10.1.2.3" },
    destination: { ip: "2001:db8::7", port: 8080 },
    network: { protocol: "http", transport: "tcp", direction: "inbound", type: "ipv4", bytes: 1234 },
    http: {
      version: "1.1",
      request: { method: "POST", bytes: 200 },
      response: { status_code: 403, bytes: 19 },
    },
    url: { original: "/v1/charge?id=7", path: "/v1/charge", query: "id=7", domain: "payments" },
    user_agent: { original: "curl/8.5.0" },
    tls: { established: true, version: "1.3", version_protocol: "tls" },
    trace: { id: "4bf92f3577b34da6a3ce929d0e0e4736" },
    related: { ip: ["10.1.2.3", "2001:db8::7"], user: ["alice"] },
    mesh: {
      name: "istio",
      mtls: false,
      direction: "inbound",
      source: {
        principal: "spiffe://cluster.local/ns/shop/sa/web",
        trust_domain: "cluster.local",
        namespace: "shop",
      },
      destination: {
        principal: "spiffe://cluster.local/ns/pay/sa/api",
        namespace: "pay",
        service_account: "api",
      },
      response_flags: ["UAEX"],
    },
    kubernetes: {
      namespace: "pay",
      pod: { name: "api-7d9", ip: "10.1.9.9" },
      labels: { app: "api", team: "payments" },
    },
    rule: { name: ["mesh_plaintext_to_sensitive", "http_forbidden_burst"] },
    labels: { pseudonymized: "user.name" },
    tags: ["pci"],
    ...overrides,
  };
}

function kubernetesAudit(): EcsDocument {
  return {
    "@timestamp": "2099-01-01T10:05:00.000001Z",
    ecs: { version: "8.17.0" },
    event: {
      kind: "event",
      category: ["iam"],
      type: ["access"],
      action: "create",
      outcome: "success",
      dataset: "kubernetes.audit",
    },
    user: { name: "system:serviceaccount:ci:deployer", group: { name: ["system:serviceaccounts"] } },
    source: { ip: "192.168.4.20" },
    orchestrator: {
      type: "kubernetes",
      namespace: "kube-system",
      resource: { name: "admin-binding", type: "clusterrolebindings" },
    },
    kubernetes: {
      audit: {
        auditID: "0d5b0c3c-0f3b-4e1a-9a77-2f6a2c3b1e55",
        verb: "create",
        stage: "ResponseComplete",
        level: "RequestResponse",
        requestURI: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        user: {
          username: "system:serviceaccount:ci:deployer",
          groups: ["system:serviceaccounts"],
          extra: { "authentication.kubernetes.io/pod-name": ["runner"] },
        },
        sourceIPs: ["192.168.4.20"],
        objectRef: {
          resource: "clusterrolebindings",
          name: "admin-binding",
          apiGroup: "rbac.authorization.k8s.io",
        },
        responseStatus: { code: 201 },
        annotations: { "authorization.k8s.io/decision": "allow" },
        requestObject: {
          kind: "ClusterRoleBinding",
          roleRef: { name: "cluster-admin" },
          subjects: [{ kind: "User", name: "mallory" }],
        },
        responseObject: { kind: "ClusterRoleBinding", metadata: { uid: "abc" } },
        requestReceivedTimestamp: "2099-01-01T10:05:00.000001Z",
        stageTimestamp: "2099-01-01T10:05:00.104211Z",
      },
    },
    rule: { name: ["k8s_cluster_admin_binding"] },
  };
}

async function search(client: Client, index: string, query: Record<string, unknown>): Promise<string[]> {
  const response = await client.search({ index, body: { query, size: 100 } });
  return response.body.hits.hits.map((hit) => String(hit._id));
}

describe("bootstrapDomain on a real OpenSearch node", () => {
  const client = testClient();

  beforeAll(async () => {
    await deleteIndices(client, "audit-*");
  });
  afterAll(async () => {
    await deleteIndices(client, "audit-*");
  });

  it("applies both index templates and the alerts index, then re-applies them without change", async () => {
    // Act
    const first = await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
    const second = await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);

    // Assess
    expect(first.find((step) => step.step === `index ${ALERTS_INDEX}`)?.outcome).toBe("created");
    expect(second.find((step) => step.step === `index ${ALERTS_INDEX}`)?.outcome).toBe("updated");
    const templates = await client.transport.request({ method: "GET", path: "/_index_template/audit-*" });
    const names = (templates.body as { index_templates: { name: string }[] }).index_templates.map(
      (t) => t.name,
    );
    expect(names).toEqual(expect.arrayContaining([AUDIT_TEMPLATE_NAME, ALERTS_TEMPLATE_NAME]));
    const ism = second.find((step) => step.step === `ISM policy ${ISM_POLICY_ID}`);
    expect(ism?.outcome).toBe(inject("ismUnavailableReason") === "" ? "unchanged" : "skipped");
    // This node has neither the security plugin nor Dashboards: both steps say so instead of failing.
    expect(
      second.filter(
        (step) => step.step === "security audit configuration" || step.step.startsWith("dashboards"),
      ),
    ).toEqual([
      { step: "security audit configuration", outcome: "skipped", detail: "security plugin not installed" },
      {
        step: "dashboards saved objects",
        outcome: "skipped",
        detail: "no OpenSearch Dashboards endpoint given",
      },
    ]);
  });

  it("keeps alerts already written when bootstrap runs again", async () => {
    // Prepare
    await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
    await client.index({
      index: ALERTS_INDEX,
      id: "alert-1",
      refresh: true,
      body: {
        id: "alert-1",
        "@timestamp": "2099-01-01T10:00:00Z",
        severity: "high",
        outbox: {
          status: "pending",
          attempts: 0,
          createdAt: "2099-01-01T10:00:00Z",
          updatedAt: "2099-01-01T10:00:00Z",
        },
        rule: { name: "k8s_cluster_admin_binding", level: "high", tags: ["attack.privilege_escalation"] },
        window: { start: "2099-01-01T10:00:00Z", end: "2099-01-01T10:05:00Z" },
        group: { "source.ip": "192.168.4.20", "user.name": "deployer" },
        fields: { "kubernetes.audit.verb": "create", "http.response.status_code": 403, "mesh.mtls": false },
        count: 3,
        events: [kubernetesAudit()],
      },
    });

    // Act
    await bootstrapDomain(client, testSettings({ ReplicaCount: 0 }), TEST_BOOTSTRAP_OPTIONS);

    // Assess
    await client.indices.refresh({ index: ALERTS_INDEX });
    expect(await search(client, ALERTS_INDEX, { term: { "group.source.ip": "192.168.4.20" } })).toEqual([
      "alert-1",
    ]);
    expect(await search(client, ALERTS_INDEX, { term: { "outbox.status": "pending" } })).toEqual(["alert-1"]);
    expect(await search(client, ALERTS_INDEX, { range: { count: { gte: 3 } } })).toEqual(["alert-1"]);
  });

  it("bulk-indexes ECS documents with no mapping error and nothing ignored", async () => {
    // Prepare
    await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
    const documents = [
      istioRequest(),
      kubernetesAudit(),
      istioRequest({ "@timestamp": "2099-01-01T11:00:00Z" }),
    ];

    // Act
    const response = await client.bulk({
      refresh: true,
      body: documents.flatMap((document, index) => [
        { create: { _index: DAY_INDEX, _id: `doc-${index}` } },
        document,
      ]),
    });

    // Assess
    const errors = (response.body.items as Record<string, { error?: unknown }>[])
      .map((item) => Object.values(item)[0]?.error)
      .filter((error) => error !== undefined);
    expect(errors).toEqual([]);
    expect(await search(client, DAY_INDEX, { exists: { field: "_ignored" } })).toEqual([]);
  });

  it("makes the fields rules and dashboards use searchable with their ECS types", async () => {
    // Prepare: the documents of the previous test are in DAY_INDEX
    const byId = async (query: Record<string, unknown>) => (await search(client, DAY_INDEX, query)).sort();

    // Act and assess: ip (CIDR), long (range), boolean, date (range), keyword (term), multi-valued keyword
    expect(await byId({ term: { "source.ip": "10.0.0.0/8" } })).toEqual(["doc-0", "doc-2"]);
    expect(await byId({ term: { "destination.ip": "2001:db8::/32" } })).toEqual(["doc-0", "doc-2"]);
    expect(await byId({ term: { "kubernetes.audit.sourceIPs": "192.168.0.0/16" } })).toEqual(["doc-1"]);
    expect(await byId({ range: { "http.response.status_code": { gte: 400, lt: 500 } } })).toEqual([
      "doc-0",
      "doc-2",
    ]);
    expect(await byId({ term: { "mesh.mtls": false } })).toEqual(["doc-0", "doc-2"]);
    expect(await byId({ range: { "@timestamp": { gte: "2099-01-01T10:30:00Z" } } })).toEqual(["doc-2"]);
    expect(await byId({ term: { "kubernetes.audit.objectRef.resource": "clusterrolebindings" } })).toEqual([
      "doc-1",
    ]);
    expect(await byId({ term: { "rule.name": "http_forbidden_burst" } })).toEqual(["doc-0", "doc-2"]);
    expect(
      await byId({ term: { "mesh.source.principal": "spiffe://cluster.local/ns/shop/sa/web" } }),
    ).toEqual(["doc-0", "doc-2"]);
    expect(await byId({ term: { "kubernetes.labels.team": "payments" } })).toEqual(["doc-0", "doc-2"]);
    expect(
      await byId({ term: { "kubernetes.audit.annotations.authorization.k8s.io/decision": "allow" } }),
    ).toEqual(["doc-1"]);
    expect(await byId({ match: { "user_agent.original.text": "curl" } })).toEqual(["doc-0", "doc-2"]);
    const aggregation = await client.transport.request({
      method: "POST",
      path: `/${DAY_INDEX}/_search`,
      body: { size: 0, aggs: { datasets: { terms: { field: "event.dataset" } } } },
    });
    const buckets = (
      (aggregation.body as { aggregations: unknown }).aggregations as {
        datasets: { buckets: { key: string; doc_count: number }[] };
      }
    ).datasets.buckets;
    expect(buckets).toEqual(
      expect.arrayContaining([
        { key: "istio.access", doc_count: 2 },
        { key: "kubernetes.audit", doc_count: 1 },
      ]),
    );
  });

  it("stores event.original and the audit request/response objects without indexing them", async () => {
    // Act
    const stored = await client.get({ index: DAY_INDEX, id: "doc-1" });
    const original = await client
      .search({ index: DAY_INDEX, body: { query: { term: { "event.original": "anything" } } } })
      .then(
        () => "searchable",
        (error: { meta?: { body?: unknown } }) => JSON.stringify(error.meta?.body),
      );

    // Assess
    const source = stored.body._source as EcsDocument;
    expect(source.kubernetes?.audit?.requestObject).toEqual(
      kubernetesAudit().kubernetes?.audit?.requestObject,
    );
    expect(await search(client, DAY_INDEX, { exists: { field: "kubernetes.audit.requestObject" } })).toEqual(
      [],
    );
    expect(original).toContain("not indexed");
    const mapping = await client.indices.getMapping({ index: DAY_INDEX });
    const properties = JSON.stringify(mapping.body);
    expect(properties).not.toContain("roleRef");
  });

  it("indexes event.original as full text when IndexEventOriginal is on", async () => {
    // Prepare
    await bootstrapDomain(client, testSettings({ IndexEventOriginal: true }), TEST_BOOTSTRAP_OPTIONS);

    // Act
    await client.index({ index: INDEXED_ORIGINAL_INDEX, id: "doc-0", refresh: true, body: istioRequest() });

    // Assess
    expect(await search(client, INDEXED_ORIGINAL_INDEX, { match: { "event.original": "charge" } })).toEqual([
      "doc-0",
    ]);
    await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
  });

  it("creates the next daily index with the codec and the _source exclusions the settings give", async () => {
    // Prepare
    await bootstrapDomain(
      client,
      testSettings({ IndexCodec: "best_compression", SourceExcludes: ["kubernetes.audit.responseObject"] }),
      TEST_BOOTSTRAP_OPTIONS,
    );

    // Act
    await client.index({ index: CODEC_INDEX, id: "doc-0", refresh: true, body: kubernetesAudit() });

    // Assess
    const settings = await client.indices.getSettings({ index: CODEC_INDEX });
    expect(settings.body[CODEC_INDEX]?.settings?.index?.codec).toBe("best_compression");
    const stored = (await client.get({ index: CODEC_INDEX, id: "doc-0" })).body._source as EcsDocument;
    expect(stored.kubernetes?.audit?.requestObject).toEqual(
      kubernetesAudit().kubernetes?.audit?.requestObject,
    );
    expect(stored.kubernetes?.audit?.responseObject).toBeUndefined();
    await bootstrapDomain(client, testSettings(), TEST_BOOTSTRAP_OPTIONS);
  });

  it("keeps a document whose value does not fit its type, listing the field in _ignored", async () => {
    // Act
    const response = await client.index({
      index: DAY_INDEX,
      id: "malformed",
      refresh: true,
      body: { ...istioRequest(), source: { ip: "not-an-ip" }, unknown: { field: "kept in _source only" } },
    });

    // Assess
    expect(response.body.result).toBe("created");
    expect(await search(client, DAY_INDEX, { term: { _ignored: "source.ip" } })).toEqual(["malformed"]);
    const mapping = JSON.stringify((await client.indices.getMapping({ index: DAY_INDEX })).body);
    expect(mapping).not.toContain('"unknown"');
  });
});
