import { join } from "node:path";
import { FirehoseClient, PutRecordBatchCommand } from "@aws-sdk/client-firehose";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TRANSFORM_ENV } from "../../../lambdas/core/contracts.js";
import { defaultRulesDir } from "../../../lambdas/core/rules/index.js";
import { PRECOMPILED_RULE_PACK_FILE } from "../../../lambdas/core/rules/precompiled.js";
import type { TransformConfig } from "../../../lambdas/transform/config.js";
import {
  firehoseEvent,
  lambdaContext,
  podExecAuditLine,
  REINGEST_SECRET_ARN,
  stubTransformEnvironment,
  useBundledRulesDir,
} from "./fixtures.js";

const context = lambdaContext;

const AUDIT = JSON.stringify({
  kind: "Event",
  auditID: "a-1",
  stage: "ResponseComplete",
  verb: "get",
  requestURI: "/api/v1/namespaces/x/secrets/y",
  user: { username: "erin" },
  sourceIPs: ["198.51.100.23"],
  responseStatus: { code: 200 },
  requestReceivedTimestamp: "2024-02-02T02:02:02Z",
});
const LINKERD = '10.9.0.1:4000 - - [2024-06-01T12:00:01Z] "GET /live HTTP/1.1" 200';

const event = firehoseEvent;
/** A re-ingested record's document: the JSON after its seal (`mat-reingest/v1 <43 characters> `). */
function unseal(data: Uint8Array | undefined): unknown {
  const text = Buffer.from(data ?? new Uint8Array()).toString("utf8");
  expect(text.startsWith("mat-reingest/v1 ")).toBe(true);
  return JSON.parse(text.slice(60));
}
function decode(data: string | undefined): string {
  return Buffer.from(data ?? "", "base64").toString("utf8");
}

const secrets = mockClient(SecretsManagerClient);
const ssm = mockClient(SSMClient);
const firehose = mockClient(FirehoseClient);

/** A bundle's rules directory: the default pack, precompiled as the stack writes it into the transform's bundle. */
const bundledRulesDir = useBundledRulesDir();

/** The transform's configuration with the bundled pack, `event.original` kept and nothing pseudonymized. */
function defaultConfig(): TransformConfig {
  return {
    rulesDir: bundledRulesDir(),
    keepEventOriginal: true,
    pseudonymizeFields: [],
    reingestKeySecretArn: REINGEST_SECRET_ARN,
  };
}

beforeEach(() => {
  vi.resetModules();
  secrets.reset();
  ssm.reset();
  firehose.reset();
  stubTransformEnvironment(bundledRulesDir());
  secrets
    .on(GetSecretValueCommand, { SecretId: REINGEST_SECRET_ARN })
    .resolves({ SecretString: "r".repeat(64) });
});

/** The Secrets Manager calls for anything but the re-ingest key. */
function pseudonymizationKeyCalls() {
  return secrets
    .commandCalls(GetSecretValueCommand)
    .filter((call) => call.args[0].input.SecretId !== REINGEST_SECRET_ARN);
}
afterEach(() => {
  vi.unstubAllEnvs();
});

describe("transform handler", () => {
  it("normalizes records without fetching a pseudonymization key when pseudonymization is off", async () => {
    // Prepare
    const { handler } = await import("../../../lambdas/transform/handler.js");
    // Act
    const result = await handler(event(AUDIT, "nonsense"), context);
    // Assess
    expect(result.records.map((r) => r.result)).toEqual(["Ok", "ProcessingFailed"]);
    expect(JSON.parse(decode(result.records[0]?.data)).user.name).toBe("erin");
    expect(pseudonymizationKeyCalls()).toHaveLength(0);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(0);
  });

  it("fetches the re-ingest key once per cold start", async () => {
    const { handler } = await import("../../../lambdas/transform/handler.js");
    await handler(event(AUDIT), context);
    await handler(event(AUDIT), context);
    expect(secrets.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId)).toEqual([
      REINGEST_SECRET_ARN,
    ]);
  });

  it("refuses to start without the re-ingest key's secret, naming the variable", async () => {
    vi.stubEnv(TRANSFORM_ENV.reingestKeySecretArn, "");
    await expect(import("../../../lambdas/transform/handler.js")).rejects.toThrow(
      /AUDIT_TRAIL_REINGEST_KEY_SECRET_ARN is not set/,
    );
  });

  it("fails the invocation when the re-ingest key cannot be fetched, and fetches again on the next one", async () => {
    secrets
      .on(GetSecretValueCommand, { SecretId: REINGEST_SECRET_ARN })
      .rejectsOnce(new Error("AccessDenied"))
      .resolves({ SecretString: "r".repeat(64) });
    const { handler } = await import("../../../lambdas/transform/handler.js");
    await expect(handler(event(AUDIT), context)).rejects.toThrow(/AccessDenied/);
    expect((await handler(event(AUDIT), context)).records[0]?.result).toBe("Ok");
  });

  it("tags each document with the single-event rules of the bundled pack that it matches", async () => {
    // Prepare: an exec into a pod, which the default pack's k8s_pod_exec rule matches, and a health probe
    const exec = podExecAuditLine({ sourceIPs: ["198.51.100.7"] });
    const { handler } = await import("../../../lambdas/transform/handler.js");
    // Act
    const result = await handler(event(exec, AUDIT), context);
    // Assess
    expect(JSON.parse(decode(result.records[0]?.data)).rule.name).toContain("k8s_pod_exec");
    expect(JSON.parse(decode(result.records[1]?.data)).rule?.name ?? []).not.toContain("k8s_pod_exec");
  });

  it("refuses to start with rule overrides at run time: they are compiled into its pack at synth", async () => {
    vi.stubEnv(TRANSFORM_ENV.ruleOverrides, JSON.stringify({ rules: { k8s_pod_exec: { enabled: false } } }));
    await expect(import("../../../lambdas/transform/handler.js")).rejects.toThrow(
      /AUDIT_TRAIL_RULE_OVERRIDES is set, but the transform takes no overrides at run time/,
    );
  });

  it("refuses to start without a precompiled rule pack, naming the file", async () => {
    // Prepare: the YAML sources, not a bundle's rules directory
    vi.stubEnv(TRANSFORM_ENV.rulesDir, defaultRulesDir());
    // Act / Assess
    await expect(import("../../../lambdas/transform/handler.js")).rejects.toThrow(
      `${join(defaultRulesDir(), PRECOMPILED_RULE_PACK_FILE)}: precompiled rule pack not found`,
    );
  });

  it("fetches the key from Secrets Manager once per cold start and pseudonymizes the listed fields", async () => {
    // Prepare
    vi.stubEnv(TRANSFORM_ENV.pseudonymizeFields, "user.name, kubernetes.audit.user.username");
    vi.stubEnv(
      TRANSFORM_ENV.pseudonymizationKeySecretArn,
      "arn:aws:secretsmanager:eu-west-1:111122223333:secret:hmac",
    );
    secrets.on(GetSecretValueCommand).resolves({ SecretString: "s".repeat(32) });
    const { handler } = await import("../../../lambdas/transform/handler.js");
    // Act
    const first = await handler(event(AUDIT), context);
    await handler(event(AUDIT), context);
    // Assess
    expect(pseudonymizationKeyCalls()).toHaveLength(1);
    expect(pseudonymizationKeyCalls()[0]?.args[0].input).toEqual({
      SecretId: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:hmac",
    });
    const doc = JSON.parse(decode(first.records[0]?.data));
    expect(doc.user.name).toMatch(/^hmac:/);
    expect(doc.kubernetes.audit.user.username).toBe(doc.user.name);
    expect(decode(first.records[0]?.data)).not.toContain("erin");
  });

  it("reads the key from an SSM SecureString with decryption", async () => {
    vi.stubEnv(TRANSFORM_ENV.pseudonymizeFields, "user.name");
    vi.stubEnv(TRANSFORM_ENV.pseudonymizationKeyParameterName, "/audit/hmac");
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: "p".repeat(32) } });
    const { handler } = await import("../../../lambdas/transform/handler.js");
    const result = await handler(event(AUDIT), context);
    expect(ssm.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({
      Name: "/audit/hmac",
      WithDecryption: true,
    });
    expect(JSON.parse(decode(result.records[0]?.data)).user.name).toMatch(/^hmac:/);
  });

  it("fails the invocation when the key cannot be fetched, and fetches again on the next one", async () => {
    vi.stubEnv(TRANSFORM_ENV.pseudonymizeFields, "user.name");
    vi.stubEnv(
      TRANSFORM_ENV.pseudonymizationKeySecretArn,
      "arn:aws:secretsmanager:eu-west-1:111122223333:secret:hmac",
    );
    secrets
      .on(GetSecretValueCommand)
      .rejectsOnce(new Error("throttled"))
      .resolves({ SecretString: "s".repeat(32) });
    const { handler } = await import("../../../lambdas/transform/handler.js");
    await expect(handler(event(AUDIT), context)).rejects.toThrow(/throttled/);
    const result = await handler(event(AUDIT), context);
    expect(result.records[0]?.result).toBe("Ok");
    expect(pseudonymizationKeyCalls()).toHaveLength(2);
  });

  it("re-ingests the documents beyond the first of a multi-document record", async () => {
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [{ RecordId: "x" }] });
    const { handler } = await import("../../../lambdas/transform/handler.js");
    const result = await handler(event(`${AUDIT}\n${LINKERD}\n`), context);
    expect(result.records[0]?.result).toBe("Ok");
    expect(JSON.parse(decode(result.records[0]?.data)).event.dataset).toBe("kubernetes.audit");
    const calls = firehose.commandCalls(PutRecordBatchCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.DeliveryStreamName).toBe("audit-trail");
    const sent = unseal(calls[0]?.args[0].input.Records?.[0]?.Data) as { event: { dataset: string } };
    expect(sent.event.dataset).toBe("linkerd.access");
  });

  it("returns the source record ProcessingFailed with its original data when re-ingestion keeps failing", async () => {
    firehose.on(PutRecordBatchCommand).rejects(new Error("AccessDenied"));
    const { handler } = await import("../../../lambdas/transform/handler.js");
    const input = event(`${AUDIT}\n${LINKERD}\n`, LINKERD);
    const result = await handler(input, context);
    expect(result.records.map((r) => r.result)).toEqual(["ProcessingFailed", "Ok"]);
    expect(result.records[0]?.data).toBe(input.records[0]?.data);
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(3);
  });

  it("re-ingests the documents of records that do not fit in the 6 MB response, answering those records Dropped", async () => {
    firehose.on(PutRecordBatchCommand).callsFake((input: { Records: unknown[] }) => ({
      FailedPutCount: 0,
      RequestResponses: input.Records.map((_, i) => ({ RecordId: `put-${i}` })),
    }));
    const { handler } = await import("../../../lambdas/transform/handler.js");
    const perRecord = Buffer.from(LINKERD).toString("base64").length + 60;
    const input = event(...Array.from({ length: Math.floor(6_000_000 / perRecord) }, () => LINKERD));
    const result = await handler(input, context);
    expect(Buffer.byteLength(JSON.stringify(result))).toBeLessThan(6 * 1024 * 1024);
    const dropped = result.records.filter((r) => r.result === "Dropped");
    expect(dropped.length).toBeGreaterThan(0);
    expect(result.records.filter((r) => r.result === "Ok").length + dropped.length).toBe(
      input.records.length,
    );
    const sent = firehose
      .commandCalls(PutRecordBatchCommand)
      .flatMap((call) => call.args[0].input.Records ?? [])
      .map((r) => unseal(r.Data) as { event: { dataset: string } });
    expect(sent).toHaveLength(dropped.length);
    expect(sent.every((doc) => doc.event.dataset === "linkerd.access")).toBe(true);
  });

  it("sends none of a record's documents when one is over Firehose's record limit, and returns the record as it came", async () => {
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [{ RecordId: "x" }] });
    const { handler } = await import("../../../lambdas/transform/handler.js");
    // The audit event's fields and its `event.original` make a document of about twice its ~600 KB.
    const huge = JSON.stringify({ ...JSON.parse(AUDIT), requestObject: { data: "x".repeat(600_000) } });
    const input = event(`${LINKERD}\n${huge}\n`, `${LINKERD}\n${AUDIT}\n`);
    const result = await handler(input, context);
    expect(result.records.map((r) => r.result)).toEqual(["ProcessingFailed", "Ok"]);
    expect(result.records[0]?.data).toBe(input.records[0]?.data);
    const sent = firehose
      .commandCalls(PutRecordBatchCommand)
      .flatMap((call) => call.args[0].input.Records ?? []);
    expect(sent).toHaveLength(1);
  });

  it("emits records per format and failures per reason, and logs no payload", async () => {
    // Prepare
    const { buildHandler } = await import("../../../lambdas/transform/handler.js");
    const { Logger } = await import("@aws-lambda-powertools/logger");
    const { Metrics } = await import("@aws-lambda-powertools/metrics");
    const metrics = new Metrics({ namespace: "Test", serviceName: "transform" });
    const logger = new Logger({ serviceName: "transform" });
    const added: [string, number][] = [];
    vi.spyOn(metrics, "addMetric").mockImplementation((name, _unit, value) => {
      added.push([name, value]);
      return metrics;
    });
    const logged: unknown[] = [];
    vi.spyOn(logger, "info").mockImplementation((...args: unknown[]) => {
      logged.push(args);
    });
    const handler = buildHandler({
      config: defaultConfig(),
      firehose: async () => new FirehoseClient({}),
      secretsManager: async () => new SecretsManagerClient({}),
      ssm: async () => new SSMClient({}),
      logger,
      metrics,
    });
    // Act
    await handler(event(AUDIT, LINKERD, LINKERD, "{broken"), context);
    // Assess
    expect(added).toEqual(
      expect.arrayContaining([
        ["Records.kubernetes.audit", 1],
        ["Records.linkerd.access", 2],
        ["Failures.invalid_json", 1],
        ["RecordsFailed", 1],
      ]),
    );
    expect(JSON.stringify(logged)).not.toContain("erin");
    expect(JSON.stringify(logged)).not.toContain("/live");
  });

  it("creates no client but Secrets Manager's (the re-ingest key) for single-document records without pseudonymization", async () => {
    // Prepare
    const { buildHandler } = await import("../../../lambdas/transform/handler.js");
    const { Logger } = await import("@aws-lambda-powertools/logger");
    const { Metrics } = await import("@aws-lambda-powertools/metrics");
    const clients = {
      firehose: vi.fn(async () => new FirehoseClient({})),
      secretsManager: vi.fn(async () => new SecretsManagerClient({})),
      ssm: vi.fn(async () => new SSMClient({})),
    };
    const handler = buildHandler({
      config: defaultConfig(),
      ...clients,
      logger: new Logger({ serviceName: "transform" }),
      metrics: new Metrics({ namespace: "Test", serviceName: "transform" }),
    });
    // Act
    const result = await handler(event(AUDIT, LINKERD, "{broken"), context);
    // Assess
    expect(result.records.map((r) => r.result)).toEqual(["Ok", "Ok", "ProcessingFailed"]);
    expect(clients.firehose).not.toHaveBeenCalled();
    expect(clients.secretsManager).toHaveBeenCalledTimes(1);
    expect(pseudonymizationKeyCalls()).toHaveLength(0);
    expect(clients.ssm).not.toHaveBeenCalled();
  });

  it("refuses to start without the rule pack directory", async () => {
    vi.stubEnv(TRANSFORM_ENV.rulesDir, "");
    await expect(import("../../../lambdas/transform/handler.js")).rejects.toThrow(TRANSFORM_ENV.rulesDir);
  });
});
