/**
 * A function of the cloud assembly run as Lambda runs it: its bundle imported once in its own Node process
 * (`lambda-host.mjs`) with the environment the template gives it (intrinsics resolved against the stand-ins,
 * `/var/task` meaning the bundle folder) plus what the Lambda runtime sets (`AWS_REGION`, `LAMBDA_TASK_ROOT`,
 * `AWS_LAMBDA_FUNCTION_*`, credentials), and the stand-ins' endpoints through the SDK's `AWS_ENDPOINT_URL_<SERVICE>`
 * variables. Nothing of the test's own environment leaks in (no real credentials, no endpoint the test did not set).
 * One invocation at a time; an invocation past the function's timeout fails, as Lambda's would.
 */
import { type ChildProcess, fork } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Assembly, FunctionAsset, Resolution } from "./assembly.js";

const HOST = join(dirname(fileURLToPath(import.meta.url)), "lambda-host.mjs");

export const FAKE_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: "AKIDAUDITTRAILE2E",
  AWS_SECRET_ACCESS_KEY: "audit-trail-e2e-not-a-secret",
  AWS_SESSION_TOKEN: "audit-trail-e2e-session",
} as const;

export interface LambdaOptions {
  readonly assembly: Assembly;
  readonly asset: FunctionAsset;
  readonly resolution: Resolution;
  readonly functionName: string;
  /** `AWS_ENDPOINT_URL_<SERVICE>` → URL of its stand-in. */
  readonly endpoints: Readonly<Record<string, string>>;
  /** The stand-ins' certificate (`NODE_EXTRA_CA_CERTS`). */
  readonly caFile: string;
  /** Where the function's own log lines (stdout, stderr) go. */
  readonly logFile: string;
}

export class LambdaFunction {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private requests = 0;
  readonly invocations = { ok: 0, failed: 0, durationsMs: [] as number[] };
  /** The resolved environment the function runs with. */
  readonly environment: Record<string, string>;

  constructor(private readonly options: LambdaOptions) {
    const { asset, assembly, resolution } = options;
    const resolved = assembly.resolve(asset.environment, resolution) as Record<string, unknown>;
    const environment: Record<string, string> = {};
    for (const [name, value] of Object.entries(resolved)) {
      environment[name] = String(value).replaceAll("/var/task", asset.dir);
    }
    this.environment = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      TZ: "UTC",
      LANG: "en_US.UTF-8",
      AWS_REGION: resolution.region,
      AWS_DEFAULT_REGION: resolution.region,
      AWS_LAMBDA_FUNCTION_NAME: options.functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(asset.memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${options.functionName}`,
      LAMBDA_TASK_ROOT: asset.dir,
      ...FAKE_CREDENTIALS,
      // No shared config or credentials files of this machine.
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
      NODE_EXTRA_CA_CERTS: options.caFile,
      ...options.endpoints,
      ...environment,
    };
  }

  /** Starts the execution environment (the cold start); fails with the bundle's own error if its init fails. */
  async start(): Promise<number> {
    const started = Date.now();
    this.log = createWriteStream(this.options.logFile, { flags: "a" });
    const child = fork(HOST, [], {
      env: {
        ...this.environment,
        AUDIT_TRAIL_E2E_ENTRY: this.options.asset.entry,
        AUDIT_TRAIL_E2E_EXPORT: this.options.asset.exportName,
        AUDIT_TRAIL_E2E_TIMEOUT_MS: String(this.options.asset.timeoutSeconds * 1000),
        AUDIT_TRAIL_E2E_FUNCTION_ARN: `arn:aws:lambda:${this.options.resolution.region}:${this.options.resolution.accountId}:function:${this.options.functionName}`,
      },
      cwd: this.options.asset.dir,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      execArgv: [],
    });
    this.child = child;
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    await new Promise<void>((resolve, reject) => {
      child.once("message", (message: { type: string; message?: string }) => {
        if (message.type === "ready") resolve();
        else reject(new Error(`${this.options.functionName} failed its cold start: ${message.message}`));
      });
      child.once("exit", (code) =>
        reject(
          new Error(
            `${this.options.functionName} exited (${code}) during its cold start; see ${this.options.logFile}`,
          ),
        ),
      );
    });
    return Date.now() - started;
  }

  /** One invocation, after the previous one finished. */
  invoke<T>(event: unknown): Promise<T> {
    const next = this.queue.then(() => this.invokeNow<T>(event));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private invokeNow<T>(event: unknown): Promise<T> {
    const child = this.child;
    if (child === undefined) return Promise.reject(new Error(`${this.options.functionName} is not started`));
    const requestId = `e2e-${this.options.functionName}-${++this.requests}`;
    const started = Date.now();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off("message", onMessage);
        this.invocations.failed++;
        reject(
          new Error(`${this.options.functionName} timed out after ${this.options.asset.timeoutSeconds} s`),
        );
      }, this.options.asset.timeoutSeconds * 1000);
      const onMessage = (message: { type: string; requestId?: string; result?: T; message?: string }) => {
        if (message.requestId !== requestId) return;
        clearTimeout(timer);
        child.off("message", onMessage);
        this.invocations.durationsMs.push(Date.now() - started);
        if (message.type === "result") {
          this.invocations.ok++;
          resolve(message.result as T);
        } else {
          this.invocations.failed++;
          reject(new Error(`${this.options.functionName}: ${message.message}`));
        }
      };
      child.on("message", onMessage);
      child.send({ requestId, event });
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child !== undefined && child.exitCode === null) {
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    }
    this.log?.end();
  }
}
