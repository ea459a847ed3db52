/**
 * The cloud assembly `cdk synth` produces, read the way CloudFormation and Lambda would use it: each function's
 * bundle folder (the asset), handler, timeout and environment, and the delivery stream's and bootstrap's
 * properties, with intrinsic functions resolved against the loopback stand-ins (`resolve`).
 *
 * The assembly is synthesized once into `.cache/e2e/assembly` (inside the clone, so the transform bundle finds the
 * AWS SDK the Lambda runtime would provide: the stack leaves `@aws-sdk/*` out of that bundle and Node resolves it
 * from the clone's `node_modules`, as the runtime resolves it from its own), and reused while no source it is built
 * from is newer.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const ASSEMBLY_DIR = join(REPO_ROOT, ".cache", "e2e", "assembly");

type Template = {
  Resources: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;
};

/** What intrinsic functions resolve to here: a value per `Ref`/`Fn::GetAtt` target, by logical id. */
export interface Resolution {
  readonly region: string;
  readonly accountId: string;
  /** `Ref` of a logical id (a topic's ARN, a table's name, a secret's ARN). */
  ref(logicalId: string, type: string): string;
  /** `Fn::GetAtt` of a logical id. */
  getAtt(logicalId: string, attribute: string, type: string): string;
}

export interface FunctionAsset {
  readonly logicalId: string;
  /** The bundle folder (what Lambda mounts at `/var/task`). */
  readonly dir: string;
  /** The module file and export `Handler` names (`index.handler` → `index.mjs`, `handler`). */
  readonly entry: string;
  readonly exportName: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly runtime: string;
  /** The template's `Environment.Variables`, unresolved. */
  readonly environment: Record<string, unknown>;
}

function newestMtime(dir: string): number {
  let newest = 0;
  const walk = (path: string) => {
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const name of readdirSync(path)) if (name !== "node_modules") walk(join(path, name));
    } else newest = Math.max(newest, stat.mtimeMs);
  };
  walk(dir);
  return newest;
}

/** Synthesizes `env` into `ASSEMBLY_DIR` unless the assembly there is newer than bin/, lib/, lambdas/ and rules/. */
export async function synthesize(env = "dev", onProgress?: (line: string) => void): Promise<string> {
  const template = join(ASSEMBLY_DIR, `AuditTrail-${env}.template.json`);
  const sources = Math.max(
    ...["bin", "lib", "lambdas", "rules", "package-lock.json"].map((p) => newestMtime(join(REPO_ROOT, p))),
  );
  if (existsSync(template) && statSync(template).mtimeMs > sources) {
    onProgress?.(`reusing the cloud assembly in .cache/e2e/assembly (newer than the sources)`);
    return ASSEMBLY_DIR;
  }
  const started = Date.now();
  try {
    await run("npx", ["cdk", "synth", "-c", `env=${env}`, "-o", ASSEMBLY_DIR, "-q"], {
      cwd: REPO_ROOT,
      timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, CDK_DISABLE_VERSION_CHECK: "1" },
    });
  } catch (error) {
    throw new Error(
      `cdk synth -c env=${env} failed: ${String((error as { stderr?: string }).stderr ?? error).slice(-2000)}`,
    );
  }
  onProgress?.(
    `synthesized the cloud assembly (env ${env}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return ASSEMBLY_DIR;
}

export class Assembly {
  readonly template: Template;

  constructor(
    readonly dir: string,
    readonly stackName: string,
  ) {
    this.template = JSON.parse(readFileSync(join(dir, `${stackName}.template.json`), "utf8")) as Template;
  }

  /** The one resource of `type` whose logical id starts with `prefix`; an error naming what was found otherwise. */
  resource(type: string, prefix: string): { logicalId: string; properties: Record<string, unknown> } {
    const found = Object.entries(this.template.Resources).filter(
      ([id, r]) => r.Type === type && id.startsWith(prefix),
    );
    if (found.length !== 1) {
      throw new Error(
        `${this.stackName}: expected one ${type} named ${prefix}*, found ${found.map(([id]) => id).join(", ") || "none"}`,
      );
    }
    const [logicalId, r] = found[0] as [string, { Properties?: Record<string, unknown> }];
    return { logicalId, properties: r.Properties ?? {} };
  }

  logicalIds(type: string): string[] {
    return Object.entries(this.template.Resources)
      .filter(([, r]) => r.Type === type)
      .map(([id]) => id);
  }

  typeOf(logicalId: string): string {
    const r = this.template.Resources[logicalId];
    if (r === undefined) throw new Error(`${this.stackName}: no resource ${logicalId}`);
    return r.Type;
  }

  function(prefix: string): FunctionAsset {
    const { logicalId, properties } = this.resource("AWS::Lambda::Function", prefix);
    const meta = this.template.Resources[logicalId]?.Metadata ?? {};
    const assetPath = meta["aws:asset:path"];
    if (typeof assetPath !== "string")
      throw new Error(`${logicalId} has no aws:asset:path: not a bundled function`);
    const dir = join(this.dir, assetPath);
    const handler = String(properties.Handler);
    const dot = handler.lastIndexOf(".");
    const base = handler.slice(0, dot);
    const entry = [".mjs", ".js", ".cjs"]
      .map((ext) => join(dir, `${base}${ext}`))
      .find((path) => existsSync(path));
    if (entry === undefined)
      throw new Error(`${logicalId}: handler ${handler} has no ${base}.mjs/.js in ${dir}`);
    return {
      logicalId,
      dir,
      entry,
      exportName: handler.slice(dot + 1),
      timeoutSeconds: Number(properties.Timeout ?? 3),
      memoryMb: Number(properties.MemorySize ?? 128),
      runtime: String(properties.Runtime),
      environment: ((properties.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables ?? {}) as Record<string, unknown>,
    };
  }

  /** A template value with its intrinsic functions resolved; an intrinsic this cannot resolve is an error naming it. */
  resolve(value: unknown, resolution: Resolution): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v, resolution));
    if (typeof value !== "object" || value === null) return value;
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const key = keys[0] as string;
      const arg = o[key];
      switch (key) {
        case "Ref": {
          const id = String(arg);
          if (id === "AWS::Region") return resolution.region;
          if (id === "AWS::AccountId") return resolution.accountId;
          if (id === "AWS::Partition") return "aws";
          if (id === "AWS::URLSuffix") return "amazonaws.com";
          return resolution.ref(id, this.typeOf(id));
        }
        case "Fn::GetAtt": {
          const [id, attribute] = arg as [string, string];
          return resolution.getAtt(id, attribute, this.typeOf(id));
        }
        case "Fn::Join": {
          const [separator, parts] = arg as [string, unknown[]];
          return parts.map((p) => String(this.resolve(p, resolution))).join(separator);
        }
        case "Fn::Select": {
          const [index, list] = arg as [number, unknown];
          return (this.resolve(list, resolution) as unknown[])[Number(index)];
        }
        case "Fn::Split": {
          const [separator, text] = arg as [string, unknown];
          return String(this.resolve(text, resolution)).split(separator);
        }
        default:
          if (key.startsWith("Fn::"))
            throw new Error(
              `${this.stackName}: ${key} is not resolved here: ${JSON.stringify(value).slice(0, 200)}`,
            );
      }
    }
    return Object.fromEntries(keys.map((k) => [k, this.resolve(o[k], resolution)]));
  }
}
