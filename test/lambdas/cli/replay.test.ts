import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { command, formatAlertRow, parseReplayArgs, runReplay } from "../../../lambdas/cli/commands/replay.js";
import { MAX_RECORD_BYTES } from "../../../lambdas/cli/input.js";
import { UsageError } from "../../../lambdas/cli/usage.js";
import { buildAlert } from "../../../lambdas/core/alerts/index.js";
import { INCIDENT_RULES } from "../../fixtures/incident.js";
import { useTempDir } from "../../fixtures/temp-dir.js";
import { execEvent, singleDetection, singleRule } from "../core/alerts/factories.js";
import { parsedArgs, sink } from "./helpers.js";

async function replayArgs(argv: string[]) {
  const args = parsedArgs(parseReplayArgs(argv));
  const out = sink();
  const err = sink();
  const status = await runReplay(args, out, err);
  return { status, out: out.text(), err: err.text() };
}

describe("audit-trail replay", () => {
  const dir = useTempDir("replay-");

  it("shows the bundled incident's alerts as NDJSON built by buildAlert", async () => {
    // Act
    const { status, out, err } = await replayArgs(["--json", "examples/incident"]);
    // Assess
    expect(status).toBe(0);
    const alerts = out
      .trim()
      .split("\n")
      .map(
        (line) =>
          JSON.parse(line) as {
            id: string;
            "@timestamp": string;
            rule: { name: string; level: string };
            group: Record<string, string>;
            count: number;
            events: unknown[];
          },
      );
    expect(alerts.map((alert) => alert.rule.name).sort()).toEqual(INCIDENT_RULES);
    for (const alert of alerts) {
      expect(alert.rule.level).toMatch(/^(low|medium|high|critical|informational)$/);
      expect(Date.parse(alert["@timestamp"])).not.toBeNaN();
      expect(alert.count).toBeGreaterThan(0);
      expect(alert.events.length).toBeGreaterThan(0);
      expect(alert.id).toMatch(/\S/);
    }
    const scan = alerts.find((alert) => alert.rule.name === "mesh_service_discovery_scan");
    expect(scan?.group).toEqual({
      "mesh.source.principal": "spiffe://cluster.local/ns/marketing/sa/newsletter",
    });
    expect(err).toMatch(/4 file\(s\): \d+ records .* 0 unparseable, 0 too late to correlate/);
    expect(err).toMatch(/alerts: 6 /);
  });

  it("prints a table sorted by time with who, runbook and a summary", async () => {
    const { out } = await replayArgs(["examples/incident"]);
    const rows = out.split("\n").filter((line) => /^\d{4}-\d\d-\d\d /.test(line));
    expect(rows.map((row) => row.split(/\s+/)[3])).toEqual([
      "mesh_config_change",
      "mesh_namespace_not_strict",
      "mesh_plaintext_suspected",
      "mesh_auth_failure_burst",
      "mesh_service_discovery_scan",
      "k8s_pod_exec",
    ]);
    expect(out).toMatch(/who: alice \(authenticated as kubernetes-admin\)/);
    // What changed, not only that something did.
    expect(out).toContain("Change: patch: spec.mtls.mode=PERMISSIVE");
    // Every destination of the burst, not the first one.
    expect(out).toContain(
      "to: auth.shop.svc.cluster.local, billing.shop.svc.cluster.local, orders.shop.svc.cluster.local, payments.shop.svc.cluster.local, users.shop.svc.cluster.local",
    );
    expect(out).toMatch(/runbook: docs\/runbooks\/k8s_pod_exec\.md/);
    expect(out).toMatch(/alerts: 6 \(/);
  });

  it("adds rules from --rules directories, honours --overrides, and reports unparseable lines", async () => {
    // Prepare
    const rules = join(dir(), "extra");
    await writeFile(
      join(dir(), "overrides.json"),
      JSON.stringify({ rules: { mesh_service_discovery_scan: { enabled: false } } }),
    );
    await mkdir(rules, { recursive: true });
    await writeFile(
      join(rules, "probe_seen.yml"),
      "title: Probe seen\nid: probe-seen\nname: probe_seen\nlevel: low\nlogsource: { product: mesh }\ndetection:\n  sel:\n    user_agent.original|startswith: kube-probe/\n  condition: sel\nsuppression: { timespan: 1h }\n",
    );
    const logs = join(dir(), "logs.log");
    const linkerd = await readFile("examples/incident/linkerd-booksapp-json.log", "utf8");
    await writeFile(logs, `${linkerd.split("\n").slice(0, 40).join("\n")}\nthis is not a log line\n`);
    // Act
    const { status, out, err } = await replayArgs([
      "--json",
      "--rules",
      rules,
      "--overrides",
      join(dir(), "overrides.json"),
      logs,
    ]);
    // Assess: the alerts of what parsed, and status 1 for what did not (normalize's policy)
    expect(status).toBe(1);
    expect(
      out
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { rule: { name: string } }).rule.name),
    ).toEqual(["probe_seen"]);
    expect(err).toMatch(/logs\.log:41: /);
    expect(err).toMatch(/1 unparseable/);
  });

  it("exits 0 when every record parsed", async () => {
    // Act
    const { status, err } = await replayArgs(["--json", "examples/incident"]);

    // Assess
    expect(err).toMatch(/ 0 unparseable/);
    expect(status).toBe(0);
  });

  it("reports a record over the maximum record size as unparseable, by its line, and replays the rest", async () => {
    // Prepare
    const logs = join(dir(), "one-long-line.log");
    const linkerd = (await readFile("examples/incident/linkerd-booksapp-json.log", "utf8")).split("\n");
    await writeFile(logs, `${linkerd[0]}\n${"x".repeat(MAX_RECORD_BYTES + 1)}\n${linkerd[1]}\n`);

    // Act
    const { status, err } = await replayArgs(["--json", logs]);

    // Assess
    expect(status).toBe(1);
    expect(err).toContain(
      `one-long-line.log:2: record of ${MAX_RECORD_BYTES + 1} bytes is longer than the ${MAX_RECORD_BYTES}-byte maximum record size; skipped`,
    );
    expect(err).toMatch(/: 3 records .* 2 documents, 1 unparseable/);
  });

  it("blames the --overrides file, not an environment variable, for bad overrides", async () => {
    // Prepare
    const notJson = join(dir(), "not-json.json");
    await writeFile(notJson, "{ rules: ");
    const unknownRule = join(dir(), "unknown-rule.json");
    await writeFile(unknownRule, JSON.stringify({ rules: { no_such_rule: { enabled: false } } }));
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      // Act
      const statuses = [
        await command.run(["--overrides", notJson, "examples/incident"]),
        await command.run(["--overrides", unknownRule, "examples/incident"]),
      ];
      // Assess
      expect(statuses).toEqual([2, 2]);
      const text = stderr.mock.calls.map((call) => String(call[0])).join("");
      expect(text).not.toContain("AUDIT_TRAIL_RULE_OVERRIDES");
      expect(text).toMatch(
        new RegExp(`^audit-trail replay: --overrides ${notJson}: not valid JSON \\(`, "m"),
      );
      expect(text).toMatch(
        new RegExp(
          `^audit-trail replay: --overrides ${unknownRule}, key 'rules\\.no_such_rule': no rule named`,
          "m",
        ),
      );
    } finally {
      stderr.mockRestore();
    }
  });

  it("rejects bad usage with exit status 2", async () => {
    expect(() => parseReplayArgs([])).toThrowError(UsageError);
    expect(() => parseReplayArgs(["--bogus", "x"])).toThrowError(/unknown option '--bogus'/);
    expect(() => parseReplayArgs(["--lateness", "soon", "x"])).toThrowError(/not a duration/);
    expect(() => parseReplayArgs(["--no-default-rules", "x"])).toThrowError(/needs at least one --rules/);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await command.run([])).toBe(2);
      expect(await command.run([join(dir(), "missing.log")])).toBe(2);
      expect(stderr.mock.calls.map((call) => String(call[0])).join("")).toMatch(
        /missing\.log: no such file or directory/,
      );
    } finally {
      stderr.mockRestore();
    }
  });
});

describe("replay's alert table", () => {
  it("prints each value on one line, so a value cannot fake a row or a runbook", () => {
    // Prepare: a user name carrying a line break, an escape sequence and a fake runbook line
    const event = { ...execEvent(), user: { name: "x" } };
    const audit = event.kubernetes?.audit ?? {};
    const hostile = {
      ...event,
      kubernetes: {
        audit: {
          ...audit,
          requestURI: `${audit.requestURI}&command=%0A%1B[2Jrunbook:%20https://evil.example`,
        },
      },
    };
    const alert = buildAlert(singleDetection(singleRule(), hostile), { environment: "prod" });
    // Act
    const row = formatAlertRow(alert);
    // Assess: a headline, who/from/to, details, runbook: four lines, one runbook
    expect(row.trimEnd().split("\n")).toHaveLength(4);
    expect(row.match(/runbook:/g)).toHaveLength(2);
    expect(row.trimEnd().split("\n")[3]?.trim()).toBe("runbook: docs/runbooks/k8s_pod_exec.md");
    expect(row).not.toContain("\u001b");
  });
});
