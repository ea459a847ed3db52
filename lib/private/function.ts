import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, type OutputFormat, SourceMapMode } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { type FunctionPlacement, placementOf } from "../network.js";
import { externalModules, LAMBDA_BUNDLE_SETTINGS, semiSpaceFlag } from "./bundle.js";
import {
  acknowledgeAll,
  acknowledgeLambdaRuntime,
  compliancePackIds,
  defaultPolicyOf,
  skipCheckov,
} from "./nag.js";

/**
 * The package root: the nearest directory above this module holding a `package.json`. That is the repository root
 * for the sources (`lib/private/function.ts`) and the installed package's root for the CLI bundle (`dist/cli.mjs`),
 * which inlines this module.
 */
export const PROJECT_ROOT = packageRoot(dirname(fileURLToPath(import.meta.url)));

function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json in ${from} or any directory above it`);
  }
}

/**
 * The lock file the functions are bundled against. The installed npm package has none (npm never packs
 * `package-lock.json`); there only `audit-trail compliance` synthesizes, without bundling, and NodejsFunction only
 * checks that the file exists, so `package.json` stands in.
 */
const LOCK_FILE = existsSync(join(PROJECT_ROOT, "package-lock.json"))
  ? join(PROJECT_ROOT, "package-lock.json")
  : join(PROJECT_ROOT, "package.json");

/** Where a Lambda bundle is unpacked at run time; files copied next to the handler are under it. */
export const LAMBDA_TASK_ROOT = "/var/task";

/** What a construct gives each function it creates: its keys, log retention and placement. */
export interface FunctionSetup extends FunctionPlacement {
  /** Key encrypting the function's log group. */
  readonly logsKey: kms.IKey;
  /** Key encrypting the function's environment variables at rest. */
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
}

/** Just the function set-up of a construct's props (to spread into `auditFunction`'s). */
export function functionSetup(props: FunctionSetup): FunctionSetup {
  return {
    logsKey: props.logsKey,
    encryptionKey: props.encryptionKey,
    logRetention: props.logRetention,
    ...placementOf(props),
  };
}

export interface AuditFunctionProps extends FunctionSetup {
  /** Handler file relative to the repository root (`lambdas/transform/handler.ts`); it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  /** Environment variables (names from `lambdas/core/contracts.ts`). */
  readonly environment: Record<string, string>;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** V8's semi-space size in MiB (`--max-semi-space-size`), for allocation-heavy handlers. @default - V8's, from the memory size */
  readonly semiSpaceMiB?: number;
  /** Reserved concurrency: a ceiling on what the function can consume (and on its blast radius). */
  readonly reservedConcurrentExecutions: number;
  /** Dead-letter queue for asynchronous invocations. @default - none (synchronously invoked functions) */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * Leave the AWS SDK v3 (`@aws-sdk/*`) out of the bundle and import the one the Node.js runtime ships. Smaller
   * bundle and faster cold start where the SDK is rarely called; the SDK's version is then the runtime's, not the
   * lock file's. @default false - the SDK is bundled, tree-shaken and pinned by the lock file
   */
  readonly useRuntimeAwsSdk?: boolean;
  /** Shell commands run after esbuild, given the input (repository root) and output (bundle) directories. */
  readonly afterBundling?: (inputDir: string, outputDir: string) => string[];
  /** Why the function needs no DLQ (how its failures surface instead); required when `deadLetterQueue` is absent. */
  readonly noDeadLetterQueueReason?: string;
  /** Execution role to use (e.g. one other resources must name before the function exists). @default - a new role */
  readonly role?: iam.Role;
  /**
   * Why the function is not in a VPC, recorded on the cdk-nag and checkov findings when `vpc` is absent.
   * @default - the environment has no VPC (public endpoint with fine-grained access control, calls over TLS with SigV4)
   */
  readonly outsideVpcReason?: string;
}

/**
 * The one way this project builds a Lambda function: Node 22 on ARM64, a minified ESM bundle with source maps
 * (`LAMBDA_BUNDLE_SETTINGS`) and the AWS SDK v3 bundled (tree-shaken, pinned by the lock file) unless the caller
 * chooses the runtime's, esbuild run locally (no Docker), an explicit CMK-encrypted log group with retention, X-Ray
 * tracing, and a role holding only what the caller grants.
 */
export function auditFunction(scope: Construct, id: string, props: AuditFunctionProps): NodejsFunction {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: props.logRetention,
    encryptionKey: props.logsKey,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const role =
    props.role ??
    new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `Execution role of ${props.description}`,
    });
  logGroup.grantWrite(role);
  if (props.vpc !== undefined) grantVpcNetworkInterfaces(role);

  const fn = new NodejsFunction(scope, id, {
    entry: join(PROJECT_ROOT, props.entry),
    handler: "handler",
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: LOCK_FILE,
    description: props.description,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: props.memorySize ?? 512,
    timeout: props.timeout ?? Duration.seconds(30),
    environment: {
      NODE_OPTIONS: [
        "--enable-source-maps",
        ...(props.semiSpaceMiB === undefined ? [] : [semiSpaceFlag(props.semiSpaceMiB)]),
      ].join(" "),
      ...props.environment,
    },
    environmentEncryption: props.encryptionKey,
    logGroup,
    role,
    tracing: lambda.Tracing.ACTIVE,
    reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    vpc: props.vpc,
    vpcSubnets: props.vpc === undefined ? undefined : props.vpcSubnets,
    securityGroups: props.securityGroups,
    deadLetterQueue: props.deadLetterQueue,
    bundling: {
      forceDockerBundling: false,
      format: LAMBDA_BUNDLE_SETTINGS.format as OutputFormat,
      target: LAMBDA_BUNDLE_SETTINGS.target,
      platform: LAMBDA_BUNDLE_SETTINGS.platform,
      mainFields: [...LAMBDA_BUNDLE_SETTINGS.mainFields],
      banner: LAMBDA_BUNDLE_SETTINGS.banner,
      minify: LAMBDA_BUNDLE_SETTINGS.minify,
      sourceMap: true,
      sourceMapMode: SourceMapMode.EXTERNAL,
      sourcesContent: false,
      externalModules: externalModules(props.useRuntimeAwsSdk ?? false),
      commandHooks:
        props.afterBundling === undefined
          ? undefined
          : {
              beforeBundling: () => [],
              beforeInstall: () => [],
              afterBundling: props.afterBundling,
            },
    },
  });

  props.encryptionKey.grantDecrypt(role);

  if (props.deadLetterQueue === undefined) {
    const reason = props.noDeadLetterQueueReason;
    if (reason === undefined) {
      throw new Error(
        `${fn.node.path}: a function without a dead-letter queue must say why (noDeadLetterQueueReason)`,
      );
    }
    acknowledgeAll(fn, compliancePackIds("LambdaDLQ"), reason);
    skipCheckov(fn, "CKV_AWS_116", reason);
  }
  const wildcardReason =
    "X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) and, in a VPC, EC2 network-interface actions do not support resource-level permissions; nothing else in this role uses a wildcard resource.";
  if (props.vpc === undefined) {
    const reason =
      props.outsideVpcReason ??
      "This environment has no VPC (public OpenSearch endpoint with fine-grained access control); the function only calls AWS APIs over TLS with SigV4.";
    acknowledgeAll(fn, compliancePackIds("LambdaInsideVPC"), reason);
    skipCheckov(fn, "CKV_AWS_117", reason);
  } else {
    skipCheckov(defaultPolicyOf(role), "CKV_AWS_111", wildcardReason);
  }
  Validations.of(role).acknowledge({ id: "AwsSolutions-IAM5[Resource::*]", reason: wildcardReason });
  acknowledgeLambdaRuntime(fn);
  return fn;
}

/**
 * What AWSLambdaVPCAccessExecutionRole grants, without the managed policy: the network interfaces a function in a
 * VPC needs. ENI actions do not support resource-level permissions (Resource "*" is the only valid value).
 */
export function grantVpcNetworkInterfaces(role: iam.IRole): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ],
      resources: ["*"],
    }),
  );
}
