/**
 * The operators' message when a rule starts failing in the detector: which rule, the error, and the range it will
 * evaluate again once it works. Published to the ops topic (never on-call) the first run a rule fails; while it
 * keeps failing, the detector's `RulesFailed` metric and its alarm carry it.
 */
import type { SnsAlertMessage } from "../alerts/render.js";
import type { RuleFailure } from "./run.js";

/** SMS bodies are cut to this many characters. */
const SMS_MAX = 140;

export function ruleFailureMessage(
  failure: RuleFailure,
  context: { readonly environment: string; readonly nowMs: number },
): SnsAlertMessage {
  const { rule, error, resumeFromMs } = failure;
  const at = new Date(context.nowMs).toISOString();
  const resume =
    resumeFromMs === undefined
      ? "It is evaluated again from its range's start each run until it succeeds; no other rule waits for it."
      : `Its detections from ${new Date(resumeFromMs).toISOString()} on are evaluated again each run until it succeeds; no other rule waits for it.`;
  const text = [
    `Detector rule failing in ${context.environment}: ${rule}`,
    "",
    `Rule: ${rule}`,
    `Error: ${error}`,
    `Since: ${at}`,
    resume,
    "",
    'What to do: docs/rules.md, "When a rule fails in the detector" (in the repository)',
  ].join("\n");
  const body = {
    kind: "detector_rule_failed",
    environment: context.environment,
    rule,
    error,
    at,
    ...(resumeFromMs === undefined ? {} : { resumeFrom: new Date(resumeFromMs).toISOString() }),
  };
  return {
    subject: oneLine(`[OPS] ${context.environment}: detector rule ${rule} failing`).slice(0, 99),
    message: JSON.stringify({
      default: text,
      email: text,
      sms: oneLine(`OPS ${context.environment}: rule ${rule} failing: ${error}`).slice(0, SMS_MAX),
      https: JSON.stringify(body),
    }),
    messageStructure: "json",
    attributes: { severity: "ops", rule, environment: context.environment },
  };
}

function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ");
}
