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
import { errorMessage } from "../../core/errors.js";
import { normalizeRecord } from "../../core/normalize/index.js";
import { type DeclaredPolicies, emptyDeclared, parseDeclared } from "../../core/policy/declared.js";
import { AuditedPolicies, drift, mergeDeclared, renderDrift } from "../../core/policy/drift.js";
import { PolicyInputError } from "../../core/policy/istio.js";
import { type MeshKind, suggest } from "../../core/policy/suggest.js";
import { type ObservedCall, observeCall } from "../../core/policy/traffic.js";
import type { IndicesDependencies } from "../indices.js";
import { InputError, readLines } from "../input.js";
import { sinceMs, untilInstant } from "../trail.js";
import { awsSetupProblem, selectedEnvironment, UsageError } from "../usage.js";
import type { Command } from "./command.js";
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

/** Errors of the `-c env=NAME` path the user can act on (stack not found, search refused, too many combinations). */
const ENVIRONMENT_ERRORS = new Set(["CanaryStackError", "CanarySearchError", "PolicyIndicesError"]);

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

export async function runPolicy(
  argv: readonly string[],
  streams: Streams,
  deps: IndicesDependencies = {},
): Promise<number> {
  const { out, err } = streams;
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === "--help" || verb === "-h") {
    (verb === undefined ? err : out).write(`${USAGE}\n`);
    return verb === undefined ? 2 : 0;
  }
  if (verb !== "suggest" && verb !== "drift") {
    err.write(`audit-trail policy: unknown verb '${verb}' (suggest, drift)\n\n${USAGE}\n`);
    return 2;
  }
  let namespace: string | undefined;
  let mesh: MeshKind = "istio";
  let json = false;
  let since: number | undefined;
  let until: string | undefined;
  let region: string | undefined;
  const contexts: string[] = [];
  const policyDirs: string[] = [];
  const inputs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    const value = () => {
      const next = rest[++i];
      if (next === undefined) throw new InputError(`${arg} needs a value`);
      return next;
    };
    try {
      if (arg === "--help" || arg === "-h") {
        out.write(`${USAGE}\n`);
        return 0;
      } else if (arg === "--namespace" && verb === "suggest") namespace = value();
      else if (arg === "--mesh" && verb === "suggest") {
        const kind = value();
        if (kind !== "istio" && kind !== "linkerd" && kind !== "consul")
          throw new InputError(`--mesh: '${kind}' is not one of istio, linkerd, consul`);
        mesh = kind;
      } else if (arg === "--policies" && verb === "drift") policyDirs.push(value());
      else if (arg === "--json" && verb === "drift") json = true;
      else if (arg === "-c" || arg === "--context") contexts.push(value());
      else if (arg === "--region") region = value();
      else if (arg === "--since") since = sinceMs(value());
      else if (arg === "--until") until = untilInstant(value());
      else if (arg.startsWith("-")) throw new InputError(`unknown option '${arg}'`);
      else inputs.push(arg);
    } catch (error) {
      err.write(`audit-trail policy ${verb}: ${errorMessage(error)}\n\n${USAGE}\n`);
      return 2;
    }
  }
  let environment: string | undefined;
  try {
    environment = selectedEnvironment({ context: contexts });
    if (environment !== undefined && inputs.length > 0)
      throw new UsageError("give either -c env=NAME or files, not both");
  } catch (error) {
    err.write(`audit-trail policy ${verb}: ${errorMessage(error)}\n\n${USAGE}\n`);
    return 2;
  }
  if (inputs.length === 0 && environment === undefined) {
    err.write(
      `audit-trail policy ${verb}: no input: give files or directories, or -c env=NAME\n\n${USAGE}\n`,
    );
    return 2;
  }
  const where = environment === undefined ? "the files" : `the indices of ${environment}`;
  try {
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
  } catch (error) {
    if (
      error instanceof InputError ||
      error instanceof PolicyInputError ||
      error instanceof UsageError ||
      (error instanceof Error && ENVIRONMENT_ERRORS.has(error.name))
    ) {
      err.write(`audit-trail policy ${verb}: ${error.message}\n`);
      return 2;
    }
    const problem = awsSetupProblem(error);
    if (problem !== undefined) {
      err.write(`audit-trail policy ${verb}: ${problem}\n`);
      return 2;
    }
    throw error;
  }
}

export const command: Command = {
  summary: "policy suggest|drift: mesh authorization policies from the trail, and drift from declared ones",
  run: (argv) => runPolicy(argv, { out: process.stdout, err: process.stderr }),
};
