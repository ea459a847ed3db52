/**
 * `audit-trail compliance`: the auditor's report. Synthesizes an environment's stack in-process (the stack
 * `bin/app.ts` builds, from `lib/config`; no AWS call, no credentials) or reads a synthesized `--template`, then
 * writes, for each enabled framework, the controls the stack addresses with the template setting that satisfies
 * each, and those it does not address. Exit status 1 when any control's setting is missing or weaker than the
 * framework requires: a report that quietly claims compliance is worse than none.
 */

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { AuditTrailStack } from "../../../lib/audit-trail-stack.js";
import { frameworkRequest } from "../../../lib/config/framework-request.js";
import {
  AuditTrailConfigError,
  checkRuleOverrides,
  ENVIRONMENTS,
  type EnvironmentConfig,
  loadEnvironmentConfig,
} from "../../../lib/config/index.js";
import { PROJECT_ROOT } from "../../../lib/private/function.js";
import {
  assess,
  asTemplate,
  type CfnTemplate,
  FRAMEWORK_IDS,
  type FrameworkId,
  renderNoFramework,
  renderReport,
  TemplateShapeError,
} from "../../core/compliance/index.js";
import { ENVIRONMENTS_FILE } from "../../core/contracts.js";
import { errorMessage } from "../../core/errors.js";
import { renderCompliancePage } from "../html/compliance.js";
import { type ProgressOptions, stageProgress } from "../progress.js";
import {
  checkOutputFolder,
  ENVIRONMENT_OPTIONS,
  frameworksOption,
  type OptionValues,
  parseVerbArgs,
  requiredEnvironment,
  runVerb,
  selectedEnvironment,
  UsageError,
} from "../usage.js";
import type { VerbModule } from "./command.js";

const USAGE = `usage: audit-trail compliance [-c env=NAME | --env NAME] [--template FILE] [--framework F]… [--out FILE]
                                [--html FILE]

Writes a markdown report, for each compliance framework the environment enables (or each --framework), of the
controls this stack addresses, each with the resource and the setting of the synthesized template that satisfies
it, and the controls it does not address. Exit status 1 when a setting a control relies on is missing or weaker
than the framework requires, 2 on a usage or configuration error.

  -c env=NAME, --env NAME  the environment (an entry of ${ENVIRONMENTS_FILE}); its compliance presets set the minimums
  --template FILE          assess this synthesized template (cdk.out/AuditTrail-NAME.template.json) instead of
                           synthesizing; the environment defaults to the template's "environment" tag
  --framework F            ${FRAMEWORK_IDS.join(", ")}; repeatable or comma-separated (default: the
                           environment's frameworks)
  --out FILE               write the report to FILE instead of stdout
  --html FILE              also write the report as one self-contained HTML page that prints to PDF (a summary,
                           then each framework on its own printed page); same assessment as the markdown

Synthesis runs in-process without bundling the Lambda code: the template's settings are those cdk synth writes,
only the code asset hashes differ.`;

const OPTIONS = {
  ...ENVIRONMENT_OPTIONS,
  template: { type: "string" },
  framework: { type: "string", multiple: true },
  out: { type: "string" },
  html: { type: "string" },
} as const;

interface ComplianceArgs {
  readonly values: OptionValues<typeof OPTIONS>;
  readonly frameworks: readonly FrameworkId[];
}

function parseComplianceArgs(argv: readonly string[]): ComplianceArgs | "help" {
  const args = parseVerbArgs(argv, OPTIONS);
  if (args === "help") return "help";
  return { values: args.values, frameworks: frameworksOption(args.values.framework) ?? [] };
}

/** The `environment` tag the stack puts on every taggable resource. */
function environmentTag(template: CfnTemplate): string | undefined {
  for (const resource of Object.values(template.Resources ?? {})) {
    const tags = resource.Properties?.Tags;
    if (!Array.isArray(tags)) continue;
    const tag = tags.find(
      (candidate: unknown) =>
        typeof candidate === "object" &&
        candidate !== null &&
        (candidate as { Key?: unknown }).Key === "environment",
    ) as { Value?: unknown } | undefined;
    if (typeof tag?.Value === "string") return tag.Value;
  }
  return undefined;
}

export { frameworkRequest } from "../../../lib/config/framework-request.js";

/**
 * The stack `bin/app.ts` builds for `config`, synthesized into a temporary directory that is removed afterwards.
 * Lambda bundling is skipped (`aws:cdk:bundling-stacks: []`) and cdk-nag is not attached: neither changes a setting.
 */
export async function synthesizeEnvironment(config: EnvironmentConfig): Promise<CfnTemplate> {
  await checkRuleOverrides(config, join(PROJECT_ROOT, "rules"));
  const cdkJson = JSON.parse(await readFile(join(PROJECT_ROOT, "cdk.json"), "utf8")) as {
    context?: Record<string, unknown>;
  };
  const outdir = await mkdtemp(join(tmpdir(), "audit-trail-compliance-"));
  try {
    const app = new App({
      outdir,
      context: { ...cdkJson.context, env: config.name, "aws:cdk:bundling-stacks": [] },
    });
    const stack = new AuditTrailStack(app, `AuditTrail-${config.name}`, {
      config,
      env:
        config.account !== undefined || config.region !== undefined
          ? { account: config.account, region: config.region }
          : undefined,
      terminationProtection: config.terminationProtection,
    });
    return asTemplate(app.synth().getStackArtifact(stack.artifactId).template, `stack ${stack.stackName}`);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

async function readTemplate(file: string): Promise<CfnTemplate> {
  const text = await readFile(file, "utf8").catch((error: unknown) => {
    throw new UsageError(`--template ${file}: ${errorMessage(error)}`);
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error: unknown) {
    throw new UsageError(
      `--template ${file}: not JSON (${errorMessage(error)}); pass the .template.json cdk synth writes`,
    );
  }
  return asTemplate(parsed, `--template ${file}`);
}

export async function runCompliance(
  argv: readonly string[],
  progressOptions: ProgressOptions = {},
): Promise<number> {
  return runVerb(
    {
      name: "compliance",
      usage: USAGE,
      parse: parseComplianceArgs,
      run: (args) => complianceReport(args, progressOptions),
      userErrors: [AuditTrailConfigError, TemplateShapeError],
    },
    argv,
  );
}

async function complianceReport(
  { values, frameworks }: ComplianceArgs,
  progressOptions: ProgressOptions,
): Promise<number> {
  if (values.out !== undefined) await checkOutputFolder("--out", values.out);
  if (values.html !== undefined) await checkOutputFolder("--html", values.html);
  let name = selectedEnvironment(values);
  const template = values.template === undefined ? undefined : await readTemplate(values.template);
  const tagged = template === undefined ? undefined : environmentTag(template);
  if (name !== undefined && tagged !== undefined && tagged !== name) {
    throw new UsageError(
      `--template ${values.template} is tagged environment=${tagged}, not ${name}: its settings would be held to the wrong environment's minimums; pass -c env=${tagged} or the template of ${name}`,
    );
  }
  if (name === undefined && template !== undefined) {
    name = tagged;
    if (name === undefined) {
      throw new UsageError(
        `--template ${values.template}: no "environment" tag on its resources; name the environment with -c env=NAME`,
      );
    }
  }
  const config = loadEnvironmentConfig(
    name ?? requiredEnvironment(values, Object.keys(ENVIRONMENTS)),
    ENVIRONMENTS,
  );
  const assessed = frameworks.length > 0 ? frameworks : [...config.compliance.frameworks];
  const requests = assessed.map((framework) => frameworkRequest(framework, config));
  const subject = `environment "${config.name}" (stack AuditTrail-${config.name})`;
  const templateSource =
    values.template === undefined
      ? `synthesized in memory from ${ENVIRONMENTS_FILE} ("${config.name}") and lib/audit-trail-stack.ts`
      : `${values.template}`;
  let resolved = template;
  if (resolved === undefined) {
    const progress = stageProgress("compliance", progressOptions);
    progress.update(`synthesizing stack AuditTrail-${config.name} in memory, offline (takes a few seconds)`);
    try {
      resolved = await synthesizeEnvironment(config);
    } finally {
      progress.done();
    }
  }

  const header = { subject, templateSource };
  // One assessment, rendered as markdown and (with --html) as a page: the two cannot disagree.
  const assessment = assess(resolved, requests);
  let report: string;
  let status: number;
  let noFramework: string | undefined;
  if (requests.length === 0) {
    noFramework = `compliance.frameworks is empty for "${config.name}" in ${ENVIRONMENTS_FILE}`;
    report = renderNoFramework(header, noFramework);
    status = 0;
    process.stderr.write(
      `compliance: environment "${config.name}" enables no framework; nothing assessed, nothing claimed\n`,
    );
  } else {
    report = renderReport(header, assessment);
    const total = assessment.frameworks.reduce((sum, framework) => sum + framework.controls.length, 0);
    status = assessment.failures.length === 0 ? 0 : 1;
    process.stderr.write(
      `compliance: ${status === 0 ? "OK" : "NOT MET"}: environment "${config.name}", ${assessed.join(", ")}: ` +
        `${total - assessment.failures.length} of ${total} controls met` +
        (assessment.failures.length === 0
          ? "\n"
          : `; not met: ${assessment.failures.map((f) => `${f.control.framework} ${f.control.id}`).join(", ")}\n`),
    );
  }
  if (values.html !== undefined) {
    await writeFile(values.html, renderCompliancePage(header, assessment, noFramework));
    process.stderr.write(`compliance: wrote ${values.html}\n`);
  }
  if (values.out === undefined) process.stdout.write(report);
  else await writeFile(values.out, report);
  return status;
}

export const command: VerbModule = {
  run: (argv) => runCompliance(argv),
};
