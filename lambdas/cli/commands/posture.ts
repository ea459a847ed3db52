/**
 * `audit-trail posture [-c env=NAME | FILE|DIR…] [--since 7d] [--json]`: the mesh security posture the trail shows,
 * per cluster, namespace and service (`lambdas/core/posture`), from log files or from an environment's indices.
 */

import type { EcsDocument } from "../../core/ecs.js";
import {
  DEFAULT_ROOT_NAMESPACE,
  PostureBuilder,
  type PostureReport,
  renderPostureText,
} from "../../core/posture/index.js";
import { reviewRelevant } from "../../core/review/relevant.js";
import { parseDuration } from "../../core/rules/index.js";
import { EnvironmentAccessError } from "../indices-errors.js";
import { InputError } from "../input.js";
import { readTrailFiles, sinceMs, untilInstant } from "../trail.js";
import { ENVIRONMENT_OPTIONS, environmentOrFiles, parseVerbArgs, runVerb, UsageError } from "../usage.js";
import type { VerbModule } from "./command.js";
import { expandInputs } from "./replay.js";

const USAGE = `usage: audit-trail posture [-c env=NAME | FILE|DIR...] [--since 7d] [--until TIME] [--json]
                             [--root-namespace NS] [--rotation 24h]

The mesh security posture the trail shows, per cluster, namespace and service: the mTLS mode the PeerAuthentication
audit events declare (mesh-wide, namespace, workload; when it last changed and who changed it) next to the share of
requests observed with mTLS true / false / unknown (and the evidence each rests on); whether an authorization
policy (Istio AuthorizationPolicy, Linkerd Server/AuthorizationPolicy, Cilium policy, Consul intention) covers each
service; the age and lifetime of the peer certificates presented, where the log format carries them; services that
receive traffic but that no policy in the trail declares. Each line says what it rests on and what it cannot know.

  FILE|DIR...          log files (every file below a DIR; plain or gzip), read as 'replay' reads them; the
                       period ends at the last event of the files (or --until)
  -c env=NAME          read the environment's indices instead (see 'audit-trail review --help' for access)
  --since DURATION     the period's length (default 7d); policy changes before it still set the declared state
  --until TIME         the period's end (ISO 8601; default: the last event of the files, or now)
  --root-namespace NS  Istio's root namespace (default ${DEFAULT_ROOT_NAMESPACE})
  --rotation DURATION  certificates older than this are counted as past rotation (default 24h)
  --json               the report as one JSON object`;

export interface PostureArgs {
  readonly environment?: string;
  readonly inputs: readonly string[];
  readonly sinceMs: number;
  readonly until?: string;
  readonly rootNamespace: string;
  readonly rotationMs: number;
  readonly json: boolean;
}

export function parsePostureArgs(argv: readonly string[]): PostureArgs | "help" {
  const parsed = parseVerbArgs(
    argv,
    {
      ...ENVIRONMENT_OPTIONS,
      since: { type: "string" },
      until: { type: "string" },
      "root-namespace": { type: "string" },
      rotation: { type: "string" },
      json: { type: "boolean" },
    },
    { positionals: true },
  );
  if (parsed === "help") return "help";
  const { values, positionals } = parsed;
  const environment = environmentOrFiles(values, positionals);
  let rotationMs = 24 * 3_600_000;
  if (values.rotation !== undefined) {
    try {
      rotationMs = parseDuration(values.rotation);
    } catch {
      throw new UsageError(`--rotation: '${values.rotation}' is not a duration (e.g. 24h)`);
    }
  }
  return {
    ...(environment === undefined ? {} : { environment }),
    inputs: positionals,
    sinceMs: sinceMs(values.since ?? "7d"),
    ...(values.until === undefined ? {} : { until: untilInstant(values.until) }),
    rootNamespace: values["root-namespace"] ?? DEFAULT_ROOT_NAMESPACE,
    rotationMs,
    json: values.json === true,
  };
}

/** Builds the posture of the files; `err` gets the rejected records. */
export async function postureFromFiles(
  args: PostureArgs,
  err: { write(text: string): boolean },
): Promise<{ report: PostureReport; rejected: number }> {
  const files = await expandInputs(args.inputs);
  const kept: EcsDocument[] = [];
  let shown = 0;
  const reading = await readTrailFiles(
    files,
    (doc) => {
      const relevant = reviewRelevant(doc);
      if (relevant !== undefined) kept.push(relevant);
    },
    (where, reason) => {
      if (shown++ < 20) err.write(`${where}: ${reason}\n`);
    },
  );
  if (shown > 20) err.write(`… and ${shown - 20} more unparseable records\n`);
  const until = args.until ?? reading.lastEvent ?? new Date().toISOString();
  const since = new Date(Date.parse(until) - args.sinceMs).toISOString();
  const builder = new PostureBuilder({
    since,
    until,
    rootNamespace: args.rootNamespace,
    rotationPeriodMs: args.rotationMs,
  });
  for (const doc of kept) builder.add(doc);
  return { report: builder.report(), rejected: reading.rejected };
}

export async function runPosture(
  args: PostureArgs,
  out: { write(text: string): boolean },
  err: { write(text: string): boolean },
): Promise<number> {
  let report: PostureReport;
  let rejected = 0;
  if (args.environment !== undefined) {
    const { postureFromEnvironment } = await import("../indices.js");
    report = await postureFromEnvironment(args, err);
  } else {
    ({ report, rejected } = await postureFromFiles(args, err));
  }
  out.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderPostureText(report));
  return rejected > 0 ? 1 : 0;
}

export const command: VerbModule = {
  run: (argv) =>
    runVerb(
      {
        name: "posture",
        usage: USAGE,
        parse: parsePostureArgs,
        run: (args) => runPosture(args, process.stdout, process.stderr),
        userErrors: [InputError, EnvironmentAccessError],
      },
      argv,
    ),
};
