/**
 * `audit-trail policy suggest [--namespace N] [--mesh istio|linkerd|consul] FILE|DIR…`: least-privilege mesh
 * authorization policies from the calls the files show succeeding (`core/policy/suggest.ts`), as YAML on stdout.
 *
 * `audit-trail policy drift [--policies DIR]… FILE|DIR…`: the declared Istio AuthorizationPolicies (YAML files under
 * each `--policies` directory, plus those the files' own Kubernetes audit events create, replace or delete) against
 * the calls in the files (`core/policy/drift.ts`). Exit status 1 when traffic was denied by policy or succeeded
 * where the policies would deny it, 0 otherwise, 2 for a usage or input error.
 */

import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { EcsDocument } from "../../core/ecs.js";
import { normalizeRecord } from "../../core/normalize/index.js";
import { AuditedPolicies, drift, renderDrift } from "../../core/policy/drift.js";
import { type IstioPolicy, PolicyInputError, parsePolicies } from "../../core/policy/istio.js";
import { type MeshKind, suggest } from "../../core/policy/suggest.js";
import { type ObservedCall, observeCall } from "../../core/policy/traffic.js";
import { InputError, readLines } from "../input.js";
import {
  type OptionValues,
  parseVerbArgs,
  runVerb,
  subVerb,
  UsageError,
  type VerbOptions,
} from "../usage.js";
import type { Command } from "./command.js";
import { expandInputs } from "./replay.js";

const USAGE = `usage: audit-trail policy suggest [--namespace N] [--mesh istio|linkerd|consul] FILE|DIR...
       audit-trail policy drift [--policies DIR]... [--json] FILE|DIR...

suggest  Turns the successful mesh calls in the files (caller identity -> destination service, methods, paths) into
         least-privilege authorization policies, one per destination workload, with comments counting the calls
         each rule allows: Istio AuthorizationPolicy (default), Linkerd Server + MeshTLSAuthentication +
         AuthorizationPolicy, or Consul ServiceIntentions. --namespace keeps destinations of one namespace.
drift    Compares declared Istio AuthorizationPolicies (YAML under each --policies directory, and those the files'
         Kubernetes audit events create, update or delete) with the calls in the files: rules never used, calls
         denied by policy (rbac_access_denied), and calls that succeeded but the policies would deny. Exit status 1
         when there are denied or not-allowed calls.

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

async function readPolicyDir(dir: string): Promise<IstioPolicy[]> {
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) throw new InputError(`--policies ${dir}: not a directory`);
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  const policies: IstioPolicy[] = [];
  for (const file of files) policies.push(...parsePolicies(await readFile(file, "utf8"), file));
  return policies;
}

/** The options of each sub-verb. */
const OPTIONS = {
  suggest: { namespace: { type: "string" }, mesh: { type: "string" } },
  drift: { policies: { type: "string", multiple: true }, json: { type: "boolean" } },
} as const;

interface PolicyArgs {
  readonly namespace?: string;
  readonly mesh: MeshKind;
  readonly json: boolean;
  readonly policyDirs: readonly string[];
  readonly inputs: readonly string[];
}

function parsePolicyArgs(verb: keyof typeof OPTIONS, argv: readonly string[]): PolicyArgs | "help" {
  const parsed = parseVerbArgs(argv, OPTIONS[verb] as VerbOptions, { positionals: true });
  if (parsed === "help") return "help";
  const values = parsed.values as OptionValues<typeof OPTIONS.suggest & typeof OPTIONS.drift>;
  const kind = values.mesh ?? "istio";
  if (kind !== "istio" && kind !== "linkerd" && kind !== "consul")
    throw new UsageError(`--mesh: '${kind}' is not one of istio, linkerd, consul`);
  if (parsed.positionals.length === 0) throw new UsageError("no input files");
  return {
    ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
    mesh: kind,
    json: values.json === true,
    policyDirs: values.policies ?? [],
    inputs: parsed.positionals,
  };
}

export async function runPolicy(argv: readonly string[], streams: Streams): Promise<number> {
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
            run: (args) => policy(verb, args, streams),
            userErrors: [InputError, PolicyInputError],
          },
          rest,
          streams,
        ),
    },
    argv,
    streams,
  );
}

async function policy(verb: keyof typeof OPTIONS, args: PolicyArgs, streams: Streams): Promise<number> {
  const { out, err } = streams;
  const { namespace, mesh, json, policyDirs, inputs } = args;
  if (verb === "suggest") {
    const { calls, failed } = await readCalls(inputs, undefined, err);
    const text = suggest(calls, mesh, namespace);
    if (text === "")
      err.write(
        `audit-trail policy suggest: no allowed mesh calls${namespace === undefined ? "" : ` to namespace ${namespace}`} in the files\n`,
      );
    out.write(text);
    return failed > 0 ? 1 : 0;
  }
  const declared: IstioPolicy[] = [];
  for (const dir of policyDirs) declared.push(...(await readPolicyDir(dir)));
  const audited = new AuditedPolicies();
  const { calls, failed } = await readCalls(inputs, audited, err);
  const report = drift([...declared, ...audited.policies()], calls);
  out.write(json ? `${JSON.stringify(report)}\n` : renderDrift(report));
  return failed > 0 || report.denied.length > 0 || report.notAllowed.length > 0 ? 1 : 0;
}

export const command: Command = {
  summary: "policy suggest|drift: mesh authorization policies from the trail, and drift from declared ones",
  run: (argv) => runPolicy(argv, { out: process.stdout, err: process.stderr }),
};
