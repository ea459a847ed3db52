import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildAlert,
  renderJson,
  renderSms,
  renderSnsMessage,
  renderSubject,
  renderText,
  SMS_MAX_LENGTH,
} from "../../../../lambdas/core/alerts/index.js";
import type { Detection } from "../../../../lambdas/core/rules/types.js";
import { correlationRule, execEvent, meshRequest, singleDetection, singleRule } from "./factories.js";

const context = {
  environment: "prod",
  dashboardsUrl: "https://search.example.com/_dashboards",
  runbookBaseUrl: "https://github.com/example/mesh-audit-trail/blob/main",
};

describe("SNS message", () => {
  it("carries default, email, sms and https bodies and the routing attributes", () => {
    // Prepare
    const alert = buildAlert(singleDetection(singleRule(), execEvent()), context);
    // Act
    const message = renderSnsMessage(alert);
    // Assess
    expect(message.messageStructure).toBe("json");
    const bodies = JSON.parse(message.message) as Record<string, string>;
    expect(Object.keys(bodies).sort()).toEqual(["default", "email", "https", "sms"]);
    expect(bodies.default).toBe(bodies.email);
    const machine = JSON.parse(bodies.https as string) as Record<string, unknown>;
    expect(machine).toMatchObject({ version: 1, id: alert.id, severity: "high", eventsOmitted: 0 });
    expect(message.attributes).toEqual({ severity: "high", rule: "k8s_pod_exec", environment: "prod" });
    expect(message.subject).toBe(
      "[HIGH] prod: Exec or attach into a pod cont... - alice -> pods/exec payments/ledger-6c9d7b5f4-x2kqz",
    );
  });

  it("reads well on a phone: what, who, from, to, when, how many, severity, runbook, events link", () => {
    const alert = buildAlert(singleDetection(singleRule(), execEvent()), context);
    const text = renderText(alert);
    expect(text.split("\n").slice(0, 10)).toEqual([
      "HIGH alert in prod",
      "Exec or attach into a pod container: create pods/exec payments/ledger-6c9d7b5f4-x2kqz -> 101",
      "",
      "Who: alice (authenticated as kubernetes-admin)",
      "From: 10.20.30.40",
      "To: pods/exec payments/ledger-6c9d7b5f4-x2kqz",
      "When: 2025-03-04 10:15:42 UTC",
      "How many: 1 event",
      "Severity: high (rule level high)",
      "",
    ]);
    expect(text).toContain("Command: sh -c cat /etc/shadow");
    expect(text).toContain(
      "Runbook: https://github.com/example/mesh-audit-trail/blob/main/docs/runbooks/k8s_pod_exec.md",
    );
    expect(text).toMatch(
      /Events: https:\/\/search\.example\.com\/_dashboards\/app\/data-explorer\/discover#\?/,
    );
    expect(text).toContain("ATT&CK: attack.t1609, attack.execution");
  });

  it("renders a window and a count for correlations", () => {
    const detection: Detection = {
      rule: correlationRule(),
      windowStart: "2025-03-04T10:00:00.000Z",
      windowEnd: "2025-03-04T10:01:00.000Z",
      groupBy: { "mesh.source.principal": "spiffe://cluster.local/ns/web/sa/frontend" },
      count: 5,
      events: [meshRequest("spiffe://cluster.local/ns/web/sa/frontend", "2025-03-04T10:00:05.000Z")],
    };
    const alert = buildAlert(detection, context);
    const text = renderText(alert);
    // The first matched event and the window it was counted in; only 1 of the 5 events was kept.
    expect(text).toContain("When: 2025-03-04 10:00:05 UTC or later (window 10:00:00 UTC to 10:01:00 UTC)");
    expect(text).toContain("How many: 5 events");
    expect(text).toContain("Who: spiffe://cluster.local/ns/web/sa/frontend");
    expect(text).toContain("To: accounts.bank.svc.cluster.local");
    expect(renderSms(alert)).toBe(
      "MEDIUM prod: mesh_auth_failure_burst | spiffe://cluster.local/ns/web/sa/frontend -> accounts.bank.svc.cluster.local | 2025-03-04 10:00:05 UTC x5 | https://github.com/example/mesh-audit-trail/blob/main/docs/runbooks/mesh_auth_failure_burst.md",
    );
  });

  it("keeps the JSON body under its budget by dropping event.original and then events", () => {
    const huge = "x".repeat(40_000);
    const events = Array.from({ length: 20 }, (_, i) => ({
      ...meshRequest("p", `2025-03-04T10:00:${String(i).padStart(2, "0")}.000Z`),
      url: { path: `/${huge}` },
      event: { ...meshRequest("p", "2025-03-04T10:00:00Z").event, original: huge },
    }));
    const detection: Detection = {
      rule: correlationRule(),
      windowStart: "2025-03-04T10:00:00.000Z",
      windowEnd: "2025-03-04T10:01:00.000Z",
      groupBy: { "mesh.source.principal": "p" },
      count: 20,
      events,
    };
    const body = renderJson(buildAlert(detection, context));
    const parsed = JSON.parse(body) as { events: { event: { original?: string } }[]; eventsOmitted: number };
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(160 * 1024);
    expect(parsed.eventsOmitted).toBeGreaterThan(0);
    expect(parsed.events.length + parsed.eventsOmitted).toBe(20);
    expect(parsed.events.every((event) => event.event.original === undefined)).toBe(true);
  });

  it("keeps the subject at most 99 characters on one line for arbitrary inputs (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300 }),
        fc.string({ maxLength: 50 }),
        fc.string(),
        (title, env, who) => {
          const alert = buildAlert(
            singleDetection(singleRule({ title }), { ...execEvent(), user: { name: who } }),
            { ...context, environment: env },
          );
          const subject = renderSubject(alert);
          expect(Array.from(subject).length).toBeLessThanOrEqual(99);
          expect(subject.length).toBeLessThanOrEqual(100);
          // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
          expect(subject).not.toMatch(/[\u0000-\u001f\u007f]/);
          expect(Array.from(renderSms(alert)).length).toBeLessThanOrEqual(SMS_MAX_LENGTH);
        },
      ),
    );
  });
});

describe("alert text injection", () => {
  /** A `kubectl exec` whose command carries URL-encoded line breaks that spell out fake alert lines. */
  const injected = () =>
    execEvent({
      kubernetes: {
        audit: {
          ...(execEvent().kubernetes?.audit ?? {}),
          requestURI:
            "/api/v1/namespaces/payments/pods/ledger-6c9d7b5f4-x2kqz/exec?command=sh%0ASeverity:%20low%20(rule%20level%20low)%0ARunbook:%20https://evil.example/ok%0D%0A&container=ledger%0AOperator:%20nobody&stdin=true",
        },
      },
    });

  it("keeps every value of the email/default body on its own single line", () => {
    // Prepare
    const alert = buildAlert(singleDetection(singleRule(), injected()), context);
    // Act
    const text = renderText(alert);
    // Assess: exactly one Severity, one Runbook, one Operator line, and they are the real ones
    const lines = text.split("\n");
    expect(lines.filter((line) => line.startsWith("Severity:"))).toEqual([
      "Severity: high (rule level high)",
    ]);
    expect(lines.filter((line) => line.startsWith("Runbook:"))).toEqual([
      "Runbook: https://github.com/example/mesh-audit-trail/blob/main/docs/runbooks/k8s_pod_exec.md",
    ]);
    expect(lines.filter((line) => line.startsWith("Operator:"))).toHaveLength(1);
    expect(text).toContain("Command: sh Severity: low (rule level low) Runbook: https://evil.example/ok");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    expect(text).not.toMatch(/[\r\u0000-\u0009\u000b-\u001f\u007f\u2028\u2029]/);
  });

  it("bounds every rendered value, in the body, the SMS and the subject", () => {
    // Prepare
    const long = `x${"y".repeat(5000)}`;
    const alert = buildAlert(
      singleDetection(singleRule({ title: long }), { ...injected(), user: { name: long } }),
      { ...context, environment: long },
    );
    // Act
    const text = renderText(alert);
    // Assess
    for (const line of text.split("\n")) expect(Array.from(line).length).toBeLessThanOrEqual(1024);
    expect(Array.from(renderSms(alert)).length).toBeLessThanOrEqual(SMS_MAX_LENGTH);
    expect(Array.from(renderSubject(alert)).length).toBeLessThanOrEqual(99);
  });

  it("never lets any value add a line to the body (property)", () => {
    const control = fc.constantFrom("\n", "\r", "\u2028", "\u2029", "\u0085", "\u000b", "\t", "\u001b");
    const hostile = fc
      .array(fc.oneof(fc.string({ maxLength: 20 }), control), { maxLength: 12 })
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(hostile, hostile, hostile, (who, title, env) => {
        const clean = renderText(buildAlert(singleDetection(singleRule(), execEvent()), context));
        const alert = buildAlert(
          singleDetection(singleRule({ title, description: title }), { ...execEvent(), user: { name: who } }),
          { ...context, environment: env },
        );
        expect(renderText(alert).split("\n").length).toBe(clean.split("\n").length);
      }),
    );
  });
});
