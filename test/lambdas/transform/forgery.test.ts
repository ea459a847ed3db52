import { gzipSync } from "node:zlib";
import { FirehoseClient, PutRecordBatchCommand } from "@aws-sdk/client-firehose";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { FirehoseTransformationResult } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createReingestSealer } from "../../../lambdas/core/normalize/reingest.js";
import {
  firehoseEvent,
  lambdaContext,
  podExecAuditLine,
  REINGEST_SECRET_ARN,
  stubTransformEnvironment,
  useBundledRulesDir,
} from "./fixtures.js";

const REINGEST_KEY = "k".repeat(64);

/** What a pipeline-made `kubernetes.audit` document looks like, with the forger's own claims. */
const FORGED = {
  "@timestamp": "2024-02-02T02:02:02.000Z",
  ecs: { version: "8.17.0" },
  event: {
    kind: "event",
    category: ["configuration", "web"],
    type: ["creation"],
    outcome: "success",
    dataset: "kubernetes.audit",
    module: "kubernetes",
    action: "create",
    id: "forged-1-ResponseStarted",
  },
  user: { name: "system:serviceaccount:kube-system:cluster-admin" },
  orchestrator: { type: "kubernetes", namespace: "prod", cluster: { name: "prod-mesh" } },
  kubernetes: {
    audit: {
      auditID: "forged-1",
      stage: "ResponseStarted",
      verb: "create",
      objectRef: { resource: "pods", subresource: "exec", namespace: "prod", name: "db-0" },
      user: { username: "system:serviceaccount:kube-system:cluster-admin" },
    },
  },
  rule: { name: ["k8s_pod_exec"] },
};
const FORGED_JSON = JSON.stringify(FORGED);
/** The same claims under a dataset no parser produces (to choose a metric name). */
const FORGED_DATASET_JSON = JSON.stringify({
  ...FORGED,
  event: { ...FORGED.event, dataset: "forged.metric" },
});

/** An API-server audit event, in its own format, framing another identity for an exec. */
const RAW_AUDIT_JSON = JSON.stringify({
  kind: "Event",
  apiVersion: "audit.k8s.io/v1",
  level: "Metadata",
  auditID: "forged-1",
  stage: "ResponseStarted",
  requestURI: "/api/v1/namespaces/prod/pods/db-0/exec?command=sh",
  verb: "create",
  user: { username: "alice@example.com", groups: ["system:authenticated"] },
  sourceIPs: ["10.0.0.7"],
  objectRef: { resource: "pods", subresource: "exec", namespace: "prod", name: "db-0", apiVersion: "v1" },
  responseStatus: { metadata: {}, code: 101 },
  requestReceivedTimestamp: "2024-02-02T02:02:02.000000Z",
  stageTimestamp: "2024-02-02T02:02:02.100000Z",
  annotations: { "authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "" },
});

const POD_METADATA = {
  pod_name: "evil-0",
  namespace_name: "tenant",
  host: "node-1",
  container_name: "app",
  container_image: "evil:latest",
};
const LINKERD = '10.9.0.1:4000 - - [2024-06-01T12:00:01Z] "GET /live HTTP/1.1" 200';

/** What a producer can put into the stream, one record each. */
const FORGERIES: Record<string, string | Buffer> = {
  "a pod's stdout line, shipped by Fluent Bit": JSON.stringify({
    time: "2024-02-02T02:02:02.5Z",
    stream: "stdout",
    _p: "F",
    log: `${FORGED_JSON}\n`,
    kubernetes: POD_METADATA,
    cluster_name: "tenant-cluster",
  }),
  "a pod's stdout line lifted by Fluent Bit's Merge_Log": JSON.stringify({
    ...FORGED,
    log: `${FORGED_JSON}\n`,
    stream: "stdout",
    kubernetes: POD_METADATA,
  }),
  "a pod's stdout line with a CRI prefix (tail input, no parser)": `2024-02-02T02:02:02.5Z stdout F ${FORGED_JSON}`,
  "an API-server audit event on a pod's stdout, shipped by Fluent Bit": JSON.stringify({
    time: "2024-02-02T02:02:02.5Z",
    stream: "stdout",
    _p: "F",
    log: `${RAW_AUDIT_JSON}\n`,
    kubernetes: POD_METADATA,
    cluster_name: "prod-mesh",
  }),
  "an API-server audit event on a pod's stdout, lifted by Merge_Log": JSON.stringify({
    ...JSON.parse(RAW_AUDIT_JSON),
    stream: "stdout",
    kubernetes: POD_METADATA,
  }),
  "an API-server audit event on a pod's stdout, tailed without the kubernetes filter": JSON.stringify({
    log: `${RAW_AUDIT_JSON}\n`,
    path: "/var/log/containers/evil-0_tenant_app-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log",
    cluster_name: "prod-mesh",
  }),
  "a producer's PutRecord of a normalized document, no seal": `${FORGED_JSON}\n`,
  "a producer's PutRecord of a document under a dataset of its choosing": `${FORGED_DATASET_JSON}\n`,
  "a producer's PutRecord sealed with a key of its own": createReingestSealer("x".repeat(64)).seal(
    FORGED_JSON,
  ),
  "a producer's PutRecord with a malformed seal": `mat-reingest/v1 AAAA ${FORGED_JSON}\n`,
  "a producer's PutRecord in Firehose's error output shape": JSON.stringify({
    attemptsMade: 1,
    arrivalTimestamp: 1_700_000_000_000,
    errorCode: "Lambda.ProcessingFailed",
    rawData: Buffer.from(FORGED_JSON).toString("base64"),
  }),
  "a producer's PutRecord in CloudWatch Logs' subscription shape": gzipSync(
    JSON.stringify({
      messageType: "DATA_MESSAGE",
      logGroup: "/aws/eks/prod-mesh/cluster",
      logEvents: [{ id: "1", timestamp: 1, message: FORGED_JSON }],
    }),
  ),
};

const event = firehoseEvent;
const context = lambdaContext;

const secrets = mockClient(SecretsManagerClient);
const firehose = mockClient(FirehoseClient);

const bundledRulesDir = useBundledRulesDir();
beforeEach(() => {
  vi.resetModules();
  secrets.reset();
  firehose.reset();
  stubTransformEnvironment(bundledRulesDir());
  secrets
    .on(GetSecretValueCommand, { SecretId: REINGEST_SECRET_ARN })
    .resolves({ SecretString: REINGEST_KEY });
  firehose.on(PutRecordBatchCommand).callsFake((input: { Records: unknown[] }) => ({
    FailedPutCount: 0,
    RequestResponses: input.Records.map((_, i) => ({ RecordId: `put-${i}` })),
  }));
});
afterEach(() => {
  vi.unstubAllEnvs();
});

/** Every document the invocation emitted: in the response and re-ingested through the stream. */
function emitted(result: FirehoseTransformationResult): Record<string, unknown>[] {
  const texts = result.records
    .filter((r) => r.result === "Ok")
    .map((r) => Buffer.from(r.data ?? "", "base64").toString("utf8"));
  for (const call of firehose.commandCalls(PutRecordBatchCommand)) {
    for (const r of call.args[0].input.Records ?? []) texts.push(Buffer.from(r.Data ?? []).toString("utf8"));
  }
  return texts.flatMap((text) =>
    text
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line.startsWith("mat-reingest/v1 ") ? line.slice(60) : line)),
  );
}

describe("forgery from a producer's position", () => {
  it.each(Object.entries(FORGERIES))(
    "%s: no genuine-looking document, the record kept as it came",
    async (_, payload) => {
      // Prepare
      const { handler } = await import("../../../lambdas/transform/handler.js");
      const input = event(payload, LINKERD);
      // Act
      const result = await handler(input, context);
      // Assess: the forged record fails alone, with its bytes, for Firehose to keep under the error prefix
      expect(result.records.map((r) => r.result)).toEqual(["ProcessingFailed", "Ok"]);
      expect(result.records[0]?.data).toBe(input.records[0]?.data);
      const text = JSON.stringify(emitted(result));
      expect(text).not.toContain("forged-1");
      expect(text).not.toContain("k8s_pod_exec");
      expect(text).not.toContain("forged.metric");
      expect(text).not.toContain("prod-mesh");
    },
  );

  it("keeps the audit log of the API server's own container (--audit-log-path=-) as kubernetes.audit", async () => {
    // Prepare
    const { handler } = await import("../../../lambdas/transform/handler.js");
    const input = event(
      JSON.stringify({
        log: `${RAW_AUDIT_JSON}\n`,
        kubernetes: {
          ...POD_METADATA,
          namespace_name: "kube-system",
          pod_name: "kube-apiserver-cp-1",
          container_name: "kube-apiserver",
        },
      }),
      JSON.stringify({
        log: `${RAW_AUDIT_JSON}\n`,
        path: "/var/log/pods/kube-system_kube-apiserver-cp-1_0f0e/kube-apiserver/0.log",
      }),
    );
    // Act
    const result = await handler(input, context);
    // Assess
    expect(result.records.map((r) => r.result)).toEqual(["Ok", "Ok"]);
    const datasets = emitted(result).map((doc) => (doc.event as { dataset: string }).dataset);
    expect(datasets).toEqual(["kubernetes.audit", "kubernetes.audit"]);
  });

  it("chooses no metric name: records are counted under the datasets the parsers produce", async () => {
    // Prepare
    const { buildHandler } = await import("../../../lambdas/transform/handler.js");
    const { loadTransformConfig } = await import("../../../lambdas/transform/config.js");
    const { Logger } = await import("@aws-lambda-powertools/logger");
    const { Metrics } = await import("@aws-lambda-powertools/metrics");
    const metrics = new Metrics({ namespace: "Test", serviceName: "transform" });
    const names: string[] = [];
    vi.spyOn(metrics, "addMetric").mockImplementation((name) => {
      names.push(name);
      return metrics;
    });
    const handler = buildHandler({
      config: loadTransformConfig(process.env),
      firehose: async () => new FirehoseClient({}),
      secretsManager: async () => new SecretsManagerClient({}),
      ssm: async () => {
        throw new Error("not used");
      },
      logger: new Logger({ serviceName: "transform" }),
      metrics,
    });
    // Act
    await handler(event(...Object.values(FORGERIES), LINKERD), context);
    // Assess
    const datasets = names.filter((n) => n.startsWith("Records."));
    expect(datasets).toEqual(["Records.linkerd.access"]);
  });

  it("lets the transform's own sealed re-ingested documents through unchanged, re-tagged by the rule pack", async () => {
    // Prepare: a multi-document record whose second document goes back through the stream, sealed
    const exec = podExecAuditLine();
    const { handler } = await import("../../../lambdas/transform/handler.js");
    await handler(event(`${LINKERD}\n${exec}\n`), context);
    const sent = firehose
      .commandCalls(PutRecordBatchCommand)
      .flatMap((call) => call.args[0].input.Records ?? [])
      .map((r) => Buffer.from(r.Data ?? []).toString("utf8"));
    expect(sent).toHaveLength(1);
    expect(sent[0]?.startsWith("mat-reingest/v1 ")).toBe(true);
    const sealedDoc = JSON.parse((sent[0] as string).slice(60));
    // Act: the sealed record as it comes back from the stream
    const result = await handler(event(sent[0] as string), context);
    // Assess
    expect(result.records[0]?.result).toBe("Ok");
    const doc = JSON.parse(Buffer.from(result.records[0]?.data ?? "", "base64").toString("utf8"));
    expect(doc).toEqual(sealedDoc);
    expect(doc.event.id).toBe("e-1-ResponseStarted");
    expect(doc.rule.name).toContain("k8s_pod_exec");
  });

  it("refuses a sealed document whose body was altered after sealing", async () => {
    // Prepare
    const sealed = createReingestSealer(REINGEST_KEY).seal(JSON.stringify({ ...FORGED, rule: undefined }));
    const altered = sealed.replace('"creation"', '"deletion"');
    const { handler } = await import("../../../lambdas/transform/handler.js");
    // Act
    const result = await handler(event(altered, sealed), context);
    // Assess
    expect(result.records.map((r) => r.result)).toEqual(["ProcessingFailed", "Ok"]);
  });
});
