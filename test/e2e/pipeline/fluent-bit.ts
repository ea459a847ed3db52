/**
 * The real Fluent Bit binary running the shipped `examples/fluent-bit/fluent-bit.yaml`.
 *
 * The binary is `../shared/tools/fluent-bit/fluent-bit` beside the clone (a build of Fluent Bit 5.1.1 for this
 * machine image), or `AUDIT_TRAIL_FLUENT_BIT`. The configuration is the shipped file with only these overridden
 * (`overrideShippedConfig`, which refuses to touch anything else):
 * - paths: the node's folders (`/var/log/containers/`, `/var/run/cilium/hubble/`, `/var/log/kubernetes/audit/`,
 *   `/var/fluent-bit/state/`) moved under the test's folder, and with them the tags and tag regexes tail derives
 *   from the path (`kube.var.log.containers.…`); the pod metadata comes from `kube_meta_preload_cache_dir`;
 * - the Firehose endpoint, port and CA (the stand-in);
 * - the HTTP server's port and the audit webhook's `http` input port (free ones);
 * - intervals, shortened and stated: `flush`, the tail inputs' `refresh_interval`, the retry scheduler's
 *   `scheduler.base`/`scheduler.cap`;
 * - the options a test turns on (`compression`, `simple_aggregation`, `time_key`, `log_key`), each named.
 * Fluent Bit's YAML has no defaults for `${VAR}` (an `env:` section wins over the process environment, and an unset
 * variable becomes empty), so making these environment variables would put eight more keys on every user's
 * ConfigMap; the override is code instead, checked to touch only these keys.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { REPO_ROOT } from "./assembly.js";

export const SHIPPED_CONFIG = join(REPO_ROOT, "examples", "fluent-bit", "fluent-bit.yaml");
/** The control-plane configuration receiving the API server's audit webhook. */
export const WEBHOOK_CONFIG = join(REPO_ROOT, "examples", "fluent-bit", "audit-webhook", "fluent-bit.yaml");

/** The Fluent Bit binary, or why there is none. */
export function fluentBitBinary(): { path: string } | { missing: string } {
  const override = process.env.AUDIT_TRAIL_FLUENT_BIT;
  const path =
    override !== undefined && override !== ""
      ? override
      : join(REPO_ROOT, "..", "shared", "tools", "fluent-bit", "fluent-bit");
  if (!existsSync(path)) {
    return {
      missing: `the Fluent Bit binary (${override === undefined ? "../shared/tools/fluent-bit/fluent-bit beside the clone" : path}; set AUDIT_TRAIL_FLUENT_BIT)`,
    };
  }
  return { path };
}

export function fluentBitVersion(binary: string): string {
  return execFileSync(binary, ["--version"], { encoding: "utf8" }).split("\n")[0]?.trim() ?? "";
}

/** The node's folders the shipped configuration names, and where they move in a test. */
export const NODE_PATHS = {
  containers: "/var/log/containers/",
  hubble: "/var/run/cilium/hubble/",
  audit: "/var/log/kubernetes/audit/",
  state: "/var/fluent-bit/state/",
} as const;

export interface FluentBitOverrides {
  /** The folder standing for the node's `/` (the node paths are moved under it). */
  readonly root: string;
  readonly podMetadataDir: string;
  readonly endpoint: { readonly host: string; readonly port: number; readonly caFile: string };
  readonly httpPort: number;
  /** The `http` input's port (the audit webhook's), when the configuration has one. */
  readonly httpInputPort?: number;
  readonly flushSeconds: number;
  readonly refreshIntervalSeconds: number;
  readonly schedulerBaseSeconds: number;
  readonly schedulerCapSeconds: number;
  /** Options of the `kinesis_firehose` output a test turns on (`compression`, `simple_aggregation`, …). */
  readonly outputOptions?: Readonly<Record<string, string>>;
}

/** Keys the override may change, per section (`service`, `input`, `filter`, `output`). */
export const OVERRIDABLE = {
  service: ["flush", "http_port", "storage.path", "scheduler.base", "scheduler.cap"],
  input: ["path", "db", "tag", "refresh_interval", "port"],
  filter: ["match_regex", "kube_tag_prefix", "kube_meta_preload_cache_dir", "match"],
  output: ["endpoint", "port", "tls.ca_file", "compression", "simple_aggregation", "time_key", "log_key"],
} as const;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The shipped configuration with the overrides applied (see the module comment). */
export function overrideShippedConfig(shipped: string, o: FluentBitOverrides): Record<string, unknown> {
  const config = parse(shipped) as {
    service: Record<string, unknown>;
    pipeline: {
      inputs: Record<string, unknown>[];
      filters: Record<string, unknown>[];
      outputs: Record<string, unknown>[];
    };
  };
  const moved = (path: string) => join(o.root, path);
  // `/var/log/containers/` as a tag (`kube.var.log.containers.`) and as a tag regex (`kube\.var\.log\.containers\.`).
  const tagOf = (path: string) => path.replace(/^\//, "").replaceAll("/", ".");
  const containersTag = tagOf(NODE_PATHS.containers);
  const movedContainersTag = tagOf(moved(NODE_PATHS.containers));
  const relocate = (value: unknown): unknown => {
    if (typeof value !== "string") return value;
    let out = value;
    for (const path of Object.values(NODE_PATHS))
      out = out.replaceAll(path, `${moved(path)}/`.replace(/\/+$/, "/"));
    out = out.replaceAll(containersTag, movedContainersTag);
    out = out.replaceAll(escapeRegex(containersTag), escapeRegex(movedContainersTag));
    return out;
  };
  config.service.flush = o.flushSeconds;
  config.service.http_port = o.httpPort;
  config.service["storage.path"] = relocate(config.service["storage.path"]);
  config.service["scheduler.base"] = o.schedulerBaseSeconds;
  config.service["scheduler.cap"] = o.schedulerCapSeconds;
  for (const input of config.pipeline.inputs) {
    for (const key of ["path", "db"]) if (key in input) input[key] = relocate(input[key]);
    if ("refresh_interval" in input) input.refresh_interval = o.refreshIntervalSeconds;
    if (input.name === "http" && o.httpInputPort !== undefined) input.port = o.httpInputPort;
  }
  for (const filter of config.pipeline.filters ?? []) {
    if ("match_regex" in filter) filter.match_regex = relocate(filter.match_regex);
    if (filter.name === "kubernetes") {
      filter.kube_tag_prefix = `kube.${movedContainersTag}`;
      filter.kube_meta_preload_cache_dir = o.podMetadataDir;
    }
  }
  for (const output of config.pipeline.outputs) {
    if (output.name !== "kinesis_firehose") continue;
    output.endpoint = o.endpoint.host;
    output.port = o.endpoint.port;
    output["tls.ca_file"] = o.endpoint.caFile;
    for (const [key, value] of Object.entries(o.outputOptions ?? {})) output[key] = value;
  }
  return config;
}

/** The keys two configurations differ in, as `section[index].key` (for the test that keeps overrides honest). */
export function changedKeys(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const out: string[] = [];
  const b = before as {
    service: Record<string, unknown>;
    pipeline: Record<string, Record<string, unknown>[]>;
  };
  const a = after as typeof b;
  const compare = (section: string, x: Record<string, unknown>, y: Record<string, unknown>) => {
    for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) {
      if (JSON.stringify(x[key]) !== JSON.stringify(y[key])) out.push(`${section}.${key}`);
    }
  };
  compare("service", b.service, a.service);
  for (const [plural, singular] of [
    ["inputs", "input"],
    ["filters", "filter"],
    ["outputs", "output"],
  ] as const) {
    const xs = b.pipeline[plural] ?? [];
    const ys = a.pipeline[plural] ?? [];
    if (xs.length !== ys.length) out.push(`${plural}: ${xs.length} → ${ys.length} sections`);
    xs.forEach((x, i) => {
      compare(singular, x, ys[i] ?? {});
    });
  }
  return out;
}

export interface FluentBitRun {
  readonly configFile: string;
  readonly logFile: string;
  /** Fluent Bit's own log so far. */
  log(): string;
  /** The exit code once it has exited (a configuration it refuses), else `undefined`. */
  exitCode(): number | null | undefined;
  stop(): Promise<number | null>;
}

/** Starts Fluent Bit on `config` with the environment the ConfigMap would give it. */
export function startFluentBit(options: {
  binary: string;
  config: Record<string, unknown>;
  workDir: string;
  env: Readonly<Record<string, string>>;
}): FluentBitRun {
  const configFile = join(options.workDir, "fluent-bit.yaml");
  const logFile = join(options.workDir, "fluent-bit.log");
  mkdirSync(dirname(configFile), { recursive: true });
  writeFileSync(configFile, stringify(options.config));
  const log = createWriteStream(logFile, { flags: "a" });
  const child: ChildProcess = spawn(options.binary, ["-c", configFile], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  return {
    configFile,
    logFile,
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    exitCode: () => (child.exitCode === null && child.signalCode === null ? undefined : child.exitCode),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) {
          log.end();
          resolve(child.exitCode);
          return;
        }
        child.once("exit", (code) => {
          log.end();
          resolve(code);
        });
        child.kill("SIGTERM");
      }),
  };
}
