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
import { InputError, readLines } from "../input.js";
import type { Command } from "./command.js";
import { expandInputs } from "./replay.js";

const USAGE = `usage: audit-trail policy suggest [--namespace N] [--mesh istio|linkerd|consul] FILE|DIR...
       audit-trail policy drift [--policies DIR]... [--json] FILE|DIR...

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

export async function runPolicy(argv: readonly string[], streams: Streams): Promise<number> {
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
      else if (arg.startsWith("-")) throw new InputError(`unknown option '${arg}'`);
      else inputs.push(arg);
    } catch (error) {
      err.write(`audit-trail policy ${verb}: ${errorMessage(error)}\n\n${USAGE}\n`);
      return 2;
    }
  }
  if (inputs.length === 0) {
    err.write(`audit-trail policy ${verb}: no input files\n\n${USAGE}\n`);
    return 2;
  }
  try {
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
    const declared = emptyDeclared();
    for (const dir of policyDirs) await readPolicyDir(dir, declared);
    const audited = new AuditedPolicies();
    const { calls, failed } = await readCalls(inputs, audited, err);
    const report = drift(mergeDeclared(declared, audited.declared()), calls);
    out.write(json ? `${JSON.stringify(report)}\n` : renderDrift(report));
    return failed > 0 || report.denied.length > 0 || report.notAllowed.length > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof InputError || error instanceof PolicyInputError) {
      err.write(`audit-trail policy ${verb}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

export const command: Command = {
  summary: "policy suggest|drift: mesh authorization policies from the trail, and drift from declared ones",
  run: (argv) => runPolicy(argv, { out: process.stdout, err: process.stderr }),
};
