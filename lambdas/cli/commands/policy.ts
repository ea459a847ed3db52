/**
 * `audit-trail policy suggest [--namespace N] [--mesh istio|linkerd|consul] FILE|DIR…`: least-privilege mesh
 * authorization policies from the calls the files show succeeding (`core/policy/suggest.ts`), as YAML on stdout.
 *
 * `audit-trail policy drift [--policies DIR]… FILE|DIR…`: the declared mesh authorization (Istio AuthorizationPolicy;
 * Linkerd Server, AuthorizationPolicy, MeshTLSAuthentication, NetworkAuthentication; Consul ServiceIntentions: YAML
 * files under each `--policies` directory, plus those the files' own Kubernetes audit events create, replace or
 * delete) against the calls in the files (`core/policy/drift.ts`), each call judged by its own mesh's policies. Exit status 1 when traffic was denied by policy or succeeded
 * where the policies would deny it, 0 otherwise, 2 for a usage or input error.
 */

import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { EcsDocument } from "../../core/ecs.js";
import { normalizeRecord } from "../../core/normalize/index.js";
import { type DeclaredPolicies, emptyDeclared, parseDeclared } from "../../core/policy/declared.js";
import { AuditedPolicies, drift, mergeDeclared, renderDrift } from "../../core/policy/drift.js";
import { PolicyIndicesError } from "../../core/policy/indices.js";
import { PolicyInputError } from "../../core/policy/istio.js";
import { type MeshKind, suggest } from "../../core/policy/suggest.js";
import { type ObservedCall, observeCall } from "../../core/policy/traffic.js";
import type { IndicesDependencies } from "../indices.js";
import { EnvironmentAccessError } from "../indices-errors.js";
import { InputError, readLines } from "../input.js";
import { sinceMs, untilInstant } from "../trail.js";
import {
  ENVIRONMENT_OPTIONS,
  environmentOrFiles,
  type OptionValues,
  parseVerbArgs,
  runVerb,
  subVerb,
  UsageError,
  type VerbOptions,
} from "../usage.js";
import type { VerbModule } from "./command.js";
import { expandInputs } from "./replay.js";

const USAGE = `usage: audit-trail policy suggest [--namespace N] [--mesh istio|linkerd|consul] [PERIOD] (FILE|DIR... | -c env=NAME)
       audit-trail policy drift [--policies DIR]... [--json] [PERIOD] (FILE|DIR... | -c env=NAME)

  FILE|DIR...        log files or archived documents (every file below a DIR; plain or gzip)
  -c env=NAME        read the environment's indices instead, through the stack's outputs (CloudFormation) and the
                     SigV4-signed OpenSearch client with your AWS credentials: the calls as one paged aggregation
                     (no documents downloaded), the policies' audit events up to the period's end
  --region REGION    where the stack is (default: the environment's region)
  PERIOD             --since DURATION (default for -c: 7d; for files: all of them) and --until TIME (ISO 8601;
                     default: now for -c, the files' last call for files)

suggest  Turns the successful mesh calls in the files (caller identity -> destination service, methods, paths) into
         least-privilege authorization policies, one per destination workload, with comments counting the calls
         each rule allows: Istio AuthorizationPolicy (default), Linkerd Server + MeshTLSAuthentication +
         AuthorizationPolicy, or Consul ServiceIntentions. --namespace keeps destinations of one namespace.
drift    Compares declared mesh authorization (Istio AuthorizationPolicy; Linkerd Server, AuthorizationPolicy,
         MeshTLSAuthentication, NetworkAuthentication; Consul ServiceIntentions: YAML under each --policies
         directory, and those the files' Kubernetes audit events create, update or delete) with the calls in the
         files, each judged by its own mesh's policies: rules never used, calls denied by policy
         (rbac_access_denied), and calls that succeeded but the policies would deny. Exit status 1 when there are
         denied or not-allowed calls.

Workload labels are not in the logs: a destination's workload is taken to carry app=<service name>.`;

interface Streams {
  readonly out: { write(text: string): boolean };
  readonly err: { write(text: string): boolean };
}

/** Reads the files' calls (and, for drift, their AuthorizationPolicy audit events); counts unreadable records. */
async function readCalls(
  inputs: readonly string[],
  audited: AuditedPolicies | undefined,
  err: Streams["err"],
): Promise<{ calls: ObservedCall[]; failed: number }> {
  const files = await expandInputs(inputs);
  const calls: ObservedCall[] = [];
  let failed = 0;
  for await (const { file, line, text, error } of readLines(files)) {
    const result =
      error === undefined
        ? normalizeRecord(text, { trustDocuments: true })
        : { ok: false as const, reason: error };
    if (!result.ok) {
      if (failed++ < 20) err.write(`${file}:${line}: ${result.reason}\n`);
      continue;
    }
    for (const doc of result.documents as EcsDocument[]) {
      audited?.observe(doc);
      const call = observeCall(doc);
      if (call !== undefined) calls.push(call);
    }
  }
  return { calls, failed };
}

async function readPolicyDir(dir: string, into: DeclaredPolicies): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) throw new InputError(`--policies ${dir}: not a directory`);
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  for (const file of files) parseDeclared(await readFile(file, "utf8"), file, into);
}

/** The calls in `[until - since, until]`; `until` defaults to the last call. */
function inPeriod(
  calls: readonly ObservedCall[],
  since: number | undefined,
  until: string | undefined,
): ObservedCall[] {
  if (since === undefined && until === undefined) return [...calls];
  const end = until ?? calls.reduce((last, call) => (call.time > last ? call.time : last), "");
  const endMs = Date.parse(end);
  const startMs = since === undefined ? Number.NEGATIVE_INFINITY : endMs - since;
  return calls.filter((call) => {
    const ms = Date.parse(call.time);
    return ms >= startMs && ms <= endMs;
  });
}

/** The options of each sub-verb; both read files or, with `-c env=NAME`, the environment's indices. */
const PERIOD_OPTIONS = {
  ...ENVIRONMENT_OPTIONS,
  region: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
} as const;
const OPTIONS = {
  suggest: { ...PERIOD_OPTIONS, namespace: { type: "string" }, mesh: { type: "string" } },
  drift: { ...PERIOD_OPTIONS, policies: { type: "string", multiple: true }, json: { type: "boolean" } },
} as const;

interface PolicyArgs {
  readonly namespace?: string;
  readonly mesh: MeshKind;
  readonly json: boolean;
  readonly policyDirs: readonly string[];
  readonly inputs: readonly string[];
  readonly environment: string | undefined;
  readonly region: string | undefined;
  readonly since: number | undefined;
  readonly until: string | undefined;
}

function parsePolicyArgs(verb: keyof typeof OPTIONS, argv: readonly string[]): PolicyArgs | "help" {
  const parsed = parseVerbArgs(argv, OPTIONS[verb] as VerbOptions, { positionals: true });
  if (parsed === "help") return "help";
  const values = parsed.values as OptionValues<typeof OPTIONS.suggest & typeof OPTIONS.drift>;
  const kind = values.mesh ?? "istio";
  if (kind !== "istio" && kind !== "linkerd" && kind !== "consul")
    throw new UsageError(`--mesh: '${kind}' is not one of istio, linkerd, consul`);
  const environment = environmentOrFiles(values, parsed.positionals);
  return {
    ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
    mesh: kind,
    json: values.json === true,
    policyDirs: values.policies ?? [],
    inputs: parsed.positionals,
    environment,
    region: values.region,
    since: values.since === undefined ? undefined : sinceMs(values.since),
    until: values.until === undefined ? undefined : untilInstant(values.until),
  };
}

export async function runPolicy(
  argv: readonly string[],
  streams: Streams,
  deps: IndicesDependencies = {},
): Promise<number> {
  return runVerb(
    {
      name: "policy",
      usage: USAGE,
      parse: (args) => subVerb(args, ["suggest", "drift"] as const),
      run: ({ name: verb, rest }) =>
        runVerb(
          {
            name: `policy ${verb}`,
            usage: USAGE,
            parse: (args) => parsePolicyArgs(verb, args),
            run: (args) => policy(verb, args, streams, deps),
            userErrors: [InputError, PolicyInputError, PolicyIndicesError, EnvironmentAccessError],
          },
          rest,
          streams,
        ),
    },
    argv,
    streams,
  );
}

async function policy(
  verb: keyof typeof OPTIONS,
  args: PolicyArgs,
  streams: Streams,
  deps: IndicesDependencies,
): Promise<number> {
  const { out, err } = streams;
  const { namespace, mesh, json, policyDirs, inputs, environment, region, since, until } = args;
  const where = environment === undefined ? "the files" : `the indices of ${environment}`;
  const declared = emptyDeclared();
  if (verb === "drift") for (const dir of policyDirs) await readPolicyDir(dir, declared);
  let calls: ObservedCall[];
  let audited: AuditedPolicies | undefined;
  let failed = 0;
  if (environment !== undefined) {
    const end = until ?? new Date().toISOString();
    const start = new Date(Date.parse(end) - (since ?? 7 * 86_400_000)).toISOString();
    const { policyFromEnvironment } = await import("../indices.js");
    const read = await policyFromEnvironment(
      { environment, region, since: start, until: end, drift: verb === "drift" },
      deps,
    );
    calls = read.calls;
    audited = read.audited;
    err.write(
      `audit-trail policy ${verb}: ${start} .. ${end} from ${where}: ${calls.length} distinct calls in ${read.requests} aggregation page(s)\n`,
    );
  } else {
    audited = verb === "drift" ? new AuditedPolicies(until) : undefined;
    const read = await readCalls(inputs, audited, err);
    calls = inPeriod(read.calls, since, until);
    failed = read.failed;
  }
  if (verb === "suggest") {
    const text = suggest(calls, mesh, namespace);
    if (text === "")
      err.write(
        `audit-trail policy suggest: no allowed mesh calls${namespace === undefined ? "" : ` to namespace ${namespace}`} in ${where}\n`,
      );
    out.write(text);
    return failed > 0 ? 1 : 0;
  }
  const report = drift(mergeDeclared(declared, audited?.declared() ?? emptyDeclared()), calls);
  out.write(json ? `${JSON.stringify(report)}\n` : renderDrift(report));
  return failed > 0 || report.denied.length > 0 || report.notAllowed.length > 0 ? 1 : 0;
}

export const command: VerbModule = {
  run: (argv) => runPolicy(argv, { out: process.stdout, err: process.stderr }),
};
