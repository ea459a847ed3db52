/**
 * Rendering an alert for people (email, SMS: short, readable on a phone) and machines (JSON for HTTPS
 * subscribers), in the shape SNS `Publish` takes with `MessageStructure: "json"`.
 */
import type { Alert } from "./model.js";

/** SNS: "Subjects must be … less than 100 characters long". */
export const SUBJECT_MAX_LENGTH = 99;
/** SNS caps a message at 256 KiB for all protocols together; the JSON body gets most of it. */
export const JSON_BODY_MAX_BYTES = 160 * 1024;
/** Longest SMS body (one or two segments; carriers split longer ones unpredictably). */
export const SMS_MAX_LENGTH = 300;
/**
 * Longest value (in code points) any human channel renders for one field: a `kubectl exec` command, a user
 * name, a path. Longer values end with `...`; the JSON body keeps them whole.
 */
export const VALUE_MAX_LENGTH = 400;

/** What `Publish` needs; the handler maps it onto `PublishCommandInput`. */
export interface SnsAlertMessage {
  readonly subject: string;
  /** JSON object with `default`, `email`, `sms`, `https`, as `MessageStructure: "json"` requires. */
  readonly message: string;
  readonly messageStructure: "json";
  /** For subscription filter policies. String values. */
  readonly attributes: { readonly severity: string; readonly rule: string; readonly environment: string };
}

export const ALERT_JSON_VERSION = 1;

export function renderSnsMessage(alert: Alert): SnsAlertMessage {
  const text = renderText(alert);
  return {
    subject: renderSubject(alert),
    message: JSON.stringify({
      default: text,
      email: text,
      sms: renderSms(alert),
      https: renderJson(alert),
    }),
    messageStructure: "json",
    attributes: { severity: alert.severity, rule: alert.rule.name, environment: alert.environment },
  };
}

/**
 * `[HIGH] prod: <title> - <who> -> <to>`, at most 99 characters, one line, no control characters. The title
 * gives way first (down to `SUBJECT_MIN_TITLE`) so who and what stay visible on a lock screen.
 */
export function renderSubject(alert: Alert): string {
  const head = `[${alert.severity.toUpperCase()}] ${displayValue(alert.environment, 20)}: `;
  const who =
    alert.summary.who === undefined ? undefined : oneLine(alert.summary.who.replace(/ \(.*\)$/, ""));
  const actors = [who, alert.summary.to === undefined ? undefined : oneLine(alert.summary.to)]
    .filter((part): part is string => part !== undefined && part.length > 0)
    .join(" -> ");
  const title = oneLine(alert.rule.title);
  if (actors.length === 0) return truncate(`${head}${title}`, SUBJECT_MAX_LENGTH);
  const room = SUBJECT_MAX_LENGTH - length(head) - length(actors) - 3;
  const shortTitle = truncate(title, Math.max(room, SUBJECT_MIN_TITLE));
  return truncate(`${head}${shortTitle} - ${actors}`, SUBJECT_MAX_LENGTH);
}

const SUBJECT_MIN_TITLE = 24;

function length(text: string): number {
  return Array.from(text).length;
}

/**
 * The email / default body: what, who, from where, to what, when, how many, severity, what to do. Every value
 * is one line and bounded (`displayValue`), so no value (a `kubectl exec` command with `%0A`, a header, a
 * path) can add a line that reads like the alert's own `Severity:` or `Runbook:`.
 */
export function renderText(alert: Alert): string {
  const lines: string[] = [];
  lines.push(`${alert.severity.toUpperCase()} alert in ${displayValue(alert.environment)}`);
  lines.push(displayValue(alert.summary.what, VALUE_MAX_LENGTH * 2));
  lines.push("");
  const row = (label: string, value: string | number | boolean | undefined) => {
    if (value === undefined) return;
    const shown = displayValue(value);
    if (shown !== "") lines.push(`${displayValue(label, 60)}: ${shown}`);
  };
  row("Who", alert.summary.who);
  row("From", alert.summary.from);
  row("To", alert.summary.to);
  row("When", whenOf(alert));
  row("How many", alert.count === 1 ? "1 event" : `${alert.count} events`);
  row("Severity", `${alert.severity} (rule level ${alert.rule.level})`);
  if (alert.details.length > 0) {
    lines.push("");
    for (const detail of alert.details) row(detail.label, detail.value);
  }
  lines.push("");
  row("Runbook", alert.links.runbook ?? `${alert.rule.runbook} (in the repository)`);
  row("Events", alert.links.discover);
  row("Rule", `${alert.rule.name} (${alert.rule.id})`);
  row("ATT&CK", alert.rule.tags.filter((tag) => tag.startsWith("attack.")).join(", "));
  row("Alert ID", alert.id);
  for (const credit of alert.attribution) lines.push(displayValue(credit));
  return lines.join("\n");
}

/** A short SMS: severity, environment, rule, who -> what, when, runbook. */
export function renderSms(alert: Alert): string {
  const actors = [alert.summary.who, alert.summary.to]
    .filter((part): part is string => part !== undefined)
    .map((part) => displayValue(part, 120));
  const parts = [
    `${alert.severity.toUpperCase()} ${displayValue(alert.environment, 20)}: ${displayValue(alert.rule.name, 80)}`,
    actors.length > 0 ? actors.join(" -> ") : undefined,
    `${clock(alert.seen.first)}${alert.count > 1 ? ` x${alert.count}` : ""}`,
    alert.links.runbook,
  ].filter((part): part is string => part !== undefined);
  return truncate(oneLine(parts.join(" | ")), SMS_MAX_LENGTH);
}

/**
 * The machine body: the alert itself, with `event.original` dropped from events and events removed from the
 * end until it fits `JSON_BODY_MAX_BYTES` (`eventsOmitted` says how many).
 */
export function renderJson(alert: Alert): string {
  const events = alert.events.map((event) => {
    if (event.event.original === undefined) return event;
    const { original: _original, ...rest } = event.event;
    return { ...event, event: rest };
  });
  let kept = events.length;
  for (;;) {
    const body = JSON.stringify({
      version: ALERT_JSON_VERSION,
      ...alert,
      events: events.slice(0, kept),
      eventsOmitted: alert.events.length - kept,
    });
    if (Buffer.byteLength(body, "utf8") <= JSON_BODY_MAX_BYTES || kept === 0) return body;
    kept = Math.floor(kept / 2);
  }
}

/**
 * The first and last matched event, then the window they were counted in (which can start before the first):
 * `2024-05-01 12:00:03 UTC to 12:00:41 UTC (window 12:00:00 to 12:01:00)`.
 */
function whenOf(alert: Alert): string {
  const { first, last, complete } = alert.seen;
  const span = first === last ? clock(first) : `${clock(first)} to ${sameDay(first, last)}`;
  const events = complete ? span : `${span} or later`;
  if (alert.window.start === alert.window.end) return events;
  if (alert.rule.type === "silence")
    return `${clock(alert.window.start)} to ${sameDay(alert.window.start, alert.window.end)}`;
  return `${events} (window ${sameDay(first, alert.window.start)} to ${sameDay(alert.window.start, alert.window.end)})`;
}

/** `clock(iso)`, without the date when it is the day of `reference`. */
function sameDay(reference: string, iso: string): string {
  return reference.slice(0, 10) === iso.slice(0, 10) ? `${iso.slice(11, 19)} UTC` : clock(iso);
}

/** `2024-05-01 12:00:03 UTC`. */
function clock(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/**
 * A value as every human channel (subject, email, SMS, the CLI table) shows it: one line, at most `max` code
 * points. Control characters, Unicode line/paragraph separators and bidirectional overrides become spaces (so
 * a value can neither start a line of its own nor visually reorder one); runs of blanks collapse.
 */
export function displayValue(value: string | number | boolean, max = VALUE_MAX_LENGTH): string {
  return truncate(oneLine(String(value)), max);
}

/** Control characters (line breaks included) become spaces; runs of blanks collapse. */
function oneLine(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    const control =
      code < 0x20 ||
      (code >= 0x7f && code <= 0x9f) ||
      code === 0x2028 ||
      code === 0x2029 ||
      (code >= 0x202a && code <= 0x202e) ||
      (code >= 0x2066 && code <= 0x2069) ||
      code === 0x200e ||
      code === 0x200f;
    out += control ? " " : char;
  }
  return out.replace(/\s+/g, " ").trim();
}

/** At most `max` code points, ending with `...` when cut; never splits a surrogate pair. */
function truncate(text: string, max: number): string {
  const points = Array.from(text);
  if (points.length <= max) return text;
  return `${points
    .slice(0, max - 3)
    .join("")
    .trimEnd()}...`;
}
