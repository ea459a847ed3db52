/**
 * Assessing a template against frameworks, and the markdown an auditor reads. A control is met only when every
 * piece of its evidence is found in the template at the strength the framework requires.
 */
import { type Control, FRAMEWORKS, type FrameworkId, type NotAddressed } from "./catalogue.js";
import type { Evidence, Requirements } from "./evidence.js";
import { type OriginalsStatement, whereOriginalsLive } from "./originals.js";
import { type CfnTemplate, stackParts } from "./template.js";

export interface FrameworkAssessment {
  readonly framework: FrameworkId;
  readonly name: string;
  readonly requirements: Requirements;
  /** Where the requirements come from (e.g. the environment's compliance preset). */
  readonly requirementsSource: string;
  readonly controls: readonly ControlResult[];
  readonly notAddressed: readonly NotAddressed[];
}

export interface ControlResult {
  readonly control: Control;
  readonly met: boolean;
  readonly evidence: readonly Evidence[];
}

export interface FrameworkRequest {
  readonly framework: FrameworkId;
  readonly requirements: Requirements;
  readonly requirementsSource: string;
}

export interface Assessment {
  readonly frameworks: readonly FrameworkAssessment[];
  /** Where the original of each event lives (archive, error prefix, index), read from the template. */
  readonly originals: readonly OriginalsStatement[];
  /** Controls not met, over every framework. */
  readonly failures: readonly ControlResult[];
}

/** Runs every control of each requested framework over the template. Pure: no I/O. */
export function assess(template: CfnTemplate, requests: readonly FrameworkRequest[]): Assessment {
  const parts = stackParts(template);
  const frameworks = requests.map((request): FrameworkAssessment => {
    const framework = FRAMEWORKS[request.framework];
    const context = { template, parts, requirements: request.requirements };
    const controls = framework.controls.map((control): ControlResult => {
      const evidence = control.evidence(context);
      return {
        control,
        evidence,
        met: evidence.length > 0 && evidence.every((item) => item.status === "found"),
      };
    });
    return {
      framework: framework.id,
      name: framework.name,
      requirements: request.requirements,
      requirementsSource: request.requirementsSource,
      controls,
      notAddressed: framework.notAddressed,
    };
  });
  return {
    frameworks,
    originals: whereOriginalsLive(template, parts),
    failures: frameworks.flatMap((framework) => framework.controls.filter((c) => !c.met)),
  };
}

export interface ReportHeader {
  /** What was assessed: `environment "prod" (stack AuditTrail-prod)`. */
  readonly subject: string;
  /** Where the template came from: synthesized in memory, or a file. */
  readonly templateSource: string;
}

const STATUS_TEXT: Record<Evidence["status"], string> = {
  found: "met",
  missing: "**MISSING**",
  weak: "**WEAKER THAN REQUIRED**",
};

/** Escapes a value for a markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function code(text: string): string {
  return `\`${cell(text).replace(/`/g, "'")}\``;
}

function evidenceTable(evidence: readonly Evidence[]): string[] {
  const rows = evidence.map((item) =>
    [
      item.resource === undefined ? "(none)" : `${code(item.resource.logicalId)} ${code(item.resource.type)}`,
      code(item.setting),
      code(item.value),
      cell(item.expected),
      STATUS_TEXT[item.status],
      cell(item.claim),
    ].join(" | "),
  );
  return [
    "| resource | setting | value in template | required | status | shows |",
    "|---|---|---|---|---|---|",
    ...rows.map((row) => `| ${row} |`),
  ];
}

function requirementsLine(assessment: FrameworkAssessment): string {
  const { requirements } = assessment;
  const parts = [`archive retention ≥ ${requirements.archiveRetentionDays} days`];
  if (requirements.searchableDays > 0) parts.push(`searchable ≥ ${requirements.searchableDays} days`);
  if (requirements.pseudonymizedFields.length > 0) {
    parts.push(`pseudonymized fields: ${requirements.pseudonymizedFields.join(", ")}`);
  }
  if (requirements.longestPurposeDays !== undefined) {
    parts.push(`longest declared purpose ${requirements.longestPurposeDays} days`);
  }
  return `Minimums applied: ${parts.join("; ")} (${assessment.requirementsSource}).`;
}

/** The markdown report. */
export function renderReport(header: ReportHeader, assessment: Assessment): string {
  const lines: string[] = [`# Compliance evidence: ${header.subject}`, ""];
  lines.push(`- Template: ${header.templateSource}`);
  lines.push(`- Frameworks: ${assessment.frameworks.map((framework) => framework.name).join("; ")}`);
  const total = assessment.frameworks.reduce((sum, framework) => sum + framework.controls.length, 0);
  lines.push(
    assessment.failures.length === 0
      ? `- Result: all ${total} controls below are met by settings read from the template.`
      : `- Result: **${assessment.failures.length} of ${total} controls are NOT met**: ${assessment.failures
          .map((failure) => `${failure.control.framework} ${failure.control.id}`)
          .join(", ")}. Each failing setting is marked below.`,
  );
  lines.push(
    "",
    "Each value below is read from the synthesized CloudFormation template, not from the configuration. The controls",
    "are met by the stack as defined; whether it is deployed as defined is shown by CloudFormation drift detection",
    "and AWS Config, and the controls under “Not addressed” need people and processes this stack cannot provide.",
  );
  lines.push("", "## Where the original of each event lives", "");
  for (const statement of assessment.originals) {
    lines.push(`- ${statement.where} (${cell(statement.basis)})`);
  }
  for (const framework of assessment.frameworks) {
    lines.push("", `## ${framework.name}`, "", requirementsLine(framework));
    for (const result of framework.controls) {
      const { control } = result;
      lines.push(
        "",
        `### ${control.id} ${control.title}: ${result.met ? "met" : "**NOT MET**"}`,
        "",
        `Requirement: ${control.requirement}`,
        "",
        ...evidenceTable(result.evidence),
      );
    }
    lines.push("", `### Not addressed by this stack (${framework.name})`, "");
    for (const item of framework.notAddressed) lines.push(`- **${item.id} ${item.title}**: ${item.owner}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The report for an environment that enables no framework: says so, and how to assess one anyway. */
export function renderNoFramework(header: ReportHeader, configHint: string): string {
  return [
    `# Compliance evidence: ${header.subject}`,
    "",
    `- Template: ${header.templateSource}`,
    "- Frameworks: none",
    "",
    `This environment enables no compliance framework (${configHint}), so no control is assessed and no compliance is claimed.`,
    "Pass `--framework pci-dss|hipaa|soc2|iso27001|gdpr` to see how this template measures against one.",
    "",
  ].join("\n");
}
