import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll } from "vitest";
import { AuditTrailStack } from "../../lib/audit-trail-stack.js";
import { ENVIRONMENTS, type EnvironmentConfigInput, parseEnvironmentConfig } from "../../lib/config/index.js";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The feature flags from cdk.json, so tests build exactly what `cdk synth` builds. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, "cdk.json"), "utf8")) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export interface Synthesized {
  readonly app: App;
  readonly stack: AuditTrailStack;
  readonly template: Template;
}

/**
 * Builds one environment's stack. Asset bundling is skipped (`aws:cdk:bundling-stacks: []`): the template is the same,
 * and `test/bin/app.test.ts` runs the real `cdk synth` with esbuild for every environment.
 */
export function synthesize(name: string, input: EnvironmentConfigInput): Synthesized {
  const { app, stack } = build(name, input);
  return { app, stack, template: Template.fromStack(stack) };
}

/** Builds the stack without synthesizing it, for tests that add constructs first. */
export function build(name: string, input: EnvironmentConfigInput): { app: App; stack: AuditTrailStack } {
  const app = new App({ context: { ...cdkJsonContext(), "aws:cdk:bundling-stacks": [] } });
  const config = parseEnvironmentConfig(name, input);
  const stack = new AuditTrailStack(app, `AuditTrail-${name}`, {
    config,
    env: config.account === undefined ? undefined : { account: config.account, region: config.region },
  });
  return { app, stack };
}

export function synthesizeShipped(name: keyof typeof ENVIRONMENTS): Synthesized {
  return synthesize(name, ENVIRONMENTS[name]);
}

/**
 * The shipped environments' stacks, synthesized once before the suite's tests run (call it in a `describe`; read
 * the stacks inside the tests: `shipped.prod.template`).
 */
export function shippedStacks<N extends keyof typeof ENVIRONMENTS>(
  ...names: N[]
): Readonly<Record<N, Synthesized>> {
  const stacks = {} as Record<N, Synthesized>;
  beforeAll(() => {
    for (const name of names) stacks[name] = synthesizeShipped(name);
  });
  return stacks;
}

/** A shipped entry with some top-level keys replaced (for override tests). */
export function variant(
  name: keyof typeof ENVIRONMENTS,
  patch: Partial<EnvironmentConfigInput>,
): EnvironmentConfigInput {
  return { ...ENVIRONMENTS[name], ...patch } as EnvironmentConfigInput;
}

/** The single resource of `type` in the template (fails when there are zero or several). */
export function onlyResource(template: Template, type: string): { Properties: Record<string, unknown> } {
  const found = Object.values(template.findResources(type));
  if (found.length !== 1) throw new Error(`expected exactly one ${type}, found ${found.length}`);
  return found[0] as { Properties: Record<string, unknown> };
}

/** The account and region as a synthesized template refers to them. */
export const ACCOUNT = { Ref: "AWS::AccountId" } as const;
export const REGION = { Ref: "AWS::Region" } as const;

/** `arn:<partition>:<service>:<region>:<account><resource…>` as a synthesized template joins it. */
export function regionalArn(service: string, ...resource: (string | { readonly Ref: string })[]): unknown {
  return {
    "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, `:${service}:`, REGION, ":", ACCOUNT, ...resource]],
  };
}

/** The confused-deputy guard of a service principal's trust: this account, and a source ARN like `sourceArn`. */
export function sameAccountCondition(sourceArn: unknown): Record<string, unknown> {
  return {
    StringEquals: { "aws:SourceAccount": ACCOUNT },
    ArnLike: { "aws:SourceArn": sourceArn },
  };
}

/** The key of the stack's DynamoDB tables (ledger, detector state): string `pk` (hash) and `sk` (range). */
export const PK_SK_KEYS = {
  KeySchema: [
    { AttributeName: "pk", KeyType: "HASH" },
    { AttributeName: "sk", KeyType: "RANGE" },
  ],
  AttributeDefinitions: [
    { AttributeName: "pk", AttributeType: "S" },
    { AttributeName: "sk", AttributeType: "S" },
  ],
};

/**
 * Asserts that the inline policy of the role whose logical id starts with `rolePrefix` holds `statements` (each as
 * given: wrap one in `Match.objectLike` to match only some of its fields), among others.
 */
export function hasRoleStatements(
  template: Template,
  rolePrefix: string,
  statements: readonly unknown[],
): void {
  template.hasResourceProperties("AWS::IAM::Policy", {
    Roles: [{ Ref: Match.stringLikeRegexp(`^${rolePrefix}`) }],
    PolicyDocument: { Statement: Match.arrayWith([...statements]) },
  });
}

/** What `act` throws (undefined when it returns): for asserting both the error's class and its message. */
export function thrownBy(act: () => unknown): unknown {
  try {
    act();
  } catch (error) {
    return error;
  }
  return undefined;
}
