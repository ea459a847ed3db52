/**
 * What the transform handler's tests share: a Lambda context, a Firehose event factory, the bundle's rule directory
 * (the default pack precompiled as the stack writes it) and the environment the stack sets.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Context, FirehoseTransformationEvent } from "aws-lambda";
import { afterAll, beforeAll } from "vitest";
import { TRANSFORM_ENV } from "../../../lambdas/core/contracts.js";
import { defaultRulesDir } from "../../../lambdas/core/rules/index.js";
import { precompileRulePack } from "../../../lambdas/core/rules/load.js";
import { PRECOMPILED_RULE_PACK_FILE } from "../../../lambdas/core/rules/precompiled.js";
import { stubHandlerEnvironment } from "../handler-environment.js";

export const lambdaContext = {
  functionName: "transform",
  functionVersion: "1",
  invokedFunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:transform",
  memoryLimitInMB: "1024",
  awsRequestId: "req-1",
  logGroupName: "/aws/lambda/transform",
  logStreamName: "stream",
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

export const STREAM_ARN = "arn:aws:firehose:eu-west-1:111122223333:deliverystream/audit-trail";
export const REINGEST_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:reingest";

/** One Firehose record per payload (`r0`, `r1`, …), as Firehose invokes the transform. */
export function firehoseEvent(...payloads: (string | Buffer)[]): FirehoseTransformationEvent {
  return {
    invocationId: "inv-1",
    deliveryStreamArn: STREAM_ARN,
    region: "eu-west-1",
    records: payloads.map((payload, i) => ({
      recordId: `r${i}`,
      approximateArrivalTimestamp: 1_700_000_000_000,
      data: Buffer.from(payload).toString("base64"),
    })),
  };
}

/**
 * A bundle's rules directory for the file's tests (made before them, removed after): the default pack,
 * precompiled as the stack writes it into the transform's bundle. Returns the directory once the tests run.
 */
export function useBundledRulesDir(): () => string {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "transform-rules-"));
    const rules = defaultRulesDir();
    await writeFile(join(dir, PRECOMPILED_RULE_PACK_FILE), precompileRulePack([rules], {}, dirname(rules)));
  });
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (dir === undefined) throw new Error("the bundled rules directory is made before the tests run");
    return dir;
  };
}

/** The environment the stack gives the transform (quiet Powertools, no metrics flushed). */
export function stubTransformEnvironment(rulesDir: string): void {
  stubHandlerEnvironment({
    [TRANSFORM_ENV.rulesDir]: rulesDir,
    [TRANSFORM_ENV.reingestKeySecretArn]: REINGEST_SECRET_ARN,
  });
}

/**
 * The API server's audit line of alice's `kubectl exec` into shop/cart-0 (the response started: the stream is open),
 * which the default pack's `k8s_pod_exec` matches; `extra` adds or replaces fields of the event.
 */
export function podExecAuditLine(extra: Readonly<Record<string, unknown>> = {}): string {
  return JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    auditID: "e-1",
    stage: "ResponseStarted",
    verb: "create",
    requestURI: "/api/v1/namespaces/shop/pods/cart-0/exec?command=sh&container=cart",
    user: { username: "alice" },
    objectRef: { resource: "pods", subresource: "exec", namespace: "shop", name: "cart-0" },
    responseStatus: { code: 101 },
    requestReceivedTimestamp: "2024-02-02T02:02:02Z",
    ...extra,
  });
}
