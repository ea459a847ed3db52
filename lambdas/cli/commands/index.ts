import type { Command, VerbModule } from "./command.js";

/**
 * The verbs, loaded lazily so that `audit-trail normalize` does not pay for the AWS SDK that `verify` needs.
 */
function lazy(summary: string, load: () => Promise<{ command: VerbModule }>): Command {
  return { summary, run: async (argv) => (await load()).command.run(argv) };
}

export const commands: Readonly<Record<string, Command>> = {
  normalize: lazy("parse log files into ECS documents (NDJSON on stdout)", () => import("./normalize.js")),
  replay: lazy(
    "run the rules, correlations included, over log files and print the alerts",
    () => import("./replay.js"),
  ),
  rules: lazy("'rules test [DIR]': run every rule's own test events", () => import("./rules.js")),
  digest: lazy("build the signed digest chain over a local archive copy", () => import("./digest.js")),
  verify: lazy(
    "verify the digest chain and every object of an archive (S3 or local)",
    () => import("./verify.js"),
  ),
  canary: lazy(
    "send a synthetic record per source and time it to OpenSearch and the canary alert",
    () => import("./canary.js"),
  ),
  size: lazy(
    "recommend instances, streams and concurrency for a daily log volume, and estimate the monthly cost",
    () => import("./size.js"),
  ),
  policy: lazy(
    "'policy suggest|drift': least-privilege mesh policies from the trail, and drift from declared ones",
    () => import("./policy.js"),
  ),
  compliance: lazy(
    "auditor's report: each compliance control and the template setting that satisfies it",
    () => import("./compliance.js"),
  ),
  posture: lazy(
    "mesh security posture per cluster, namespace and service: declared mTLS, observed traffic, policies",
    () => import("./posture.js"),
  ),
  review: lazy(
    "the weekly review: alerts, exec sessions, security and RBAC changes, denials, new edges, posture",
    () => import("./review.js"),
  ),
};
