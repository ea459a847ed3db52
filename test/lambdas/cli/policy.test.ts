import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runPolicy } from "../../../lambdas/cli/commands/policy.js";
import { parsePolicies } from "../../../lambdas/core/policy/istio.js";
import { INCIDENT_DIR } from "../../fixtures/incident.js";
import { useTempDir } from "../../fixtures/temp-dir.js";
import { sink } from "./helpers.js";

async function policy(...argv: string[]) {
  const out = sink();
  const err = sink();
  const status = await runPolicy(argv, { out, err });
  return { status, stdout: out.text(), stderr: err.text() };
}

describe("audit-trail policy", () => {
  const dir = useTempDir("policy-cli-");

  it("suggest: one Istio AuthorizationPolicy per destination of the namespace, with call counts", async () => {
    // Act
    const result = await policy("suggest", "--namespace", "shop", INCIDENT_DIR);
    // Assess
    expect(result.status).toBe(0);
    const policies = parsePolicies(result.stdout, "stdout");
    expect(policies.map((p) => p.name)).toContain("cart-allow-observed");
    expect(policies.every((p) => p.namespace === "shop" && p.action === "ALLOW")).toBe(true);
    expect(result.stdout).toMatch(/# GET: \d+ calls/);
  });

  it("drift: the suggested Istio policies allow all Istio traffic and only the Linkerd workload's goes unused; the newsletter's 403s are denied by policy (exit 1)", async () => {
    // Prepare
    const suggested = await policy("suggest", INCIDENT_DIR);
    await writeFile(join(dir(), "suggested.yaml"), suggested.stdout);
    // Act
    const result = await policy("drift", "--policies", dir(), "--json", INCIDENT_DIR);
    // Assess
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout) as {
      unused: { policy: string }[];
      notAllowed: unknown[];
      denied: { principal: string }[];
    };
    // Linkerd's calls (booksapp) are judged by Linkerd's policies, of which there are none: the Istio policy
    // suggested for that workload is never what lets them through.
    expect(report.unused.map((u) => u.policy)).toEqual(["booksapp/webapp-allow-observed"]);
    expect(report.notAllowed).toEqual([]);
    expect(new Set(report.denied.map((d) => d.principal))).toEqual(
      new Set(["cluster.local/ns/marketing/sa/newsletter"]),
    );
  });

  it("drift: reads Linkerd policies from --policies and judges the Linkerd workload's calls by them", async () => {
    // Prepare
    const linkerdDir = join(dir(), "linkerd");
    const suggested = await policy("suggest", "--mesh", "linkerd", "--namespace", "booksapp", INCIDENT_DIR);
    await mkdir(linkerdDir);
    // The declared policy lets no identity in: every successful Linkerd call would have been refused.
    await writeFile(
      join(linkerdDir, "policies.yaml"),
      suggested.stdout.replace(
        /- "traffic\.booksapp[^\n]*/,
        '- "nobody.booksapp.serviceaccount.identity.linkerd.cluster.local"',
      ),
    );
    // Act
    const result = await policy("drift", "--policies", linkerdDir, "--json", INCIDENT_DIR);
    // Assess
    const report = JSON.parse(result.stdout) as {
      policies: number;
      unused: { policy: string }[];
      notAllowed: { principal: string; service: string; count: number }[];
    };
    expect(report.policies).toBe(3);
    expect(report.unused.map((u) => u.policy)).toEqual(["booksapp/webapp-observed"]);
    expect(new Set(report.notAllowed.map((e) => `${e.principal} -> ${e.service}`))).toEqual(
      new Set(["traffic.booksapp.serviceaccount.identity.linkerd.cluster.local -> webapp"]),
    );
    expect(report.notAllowed.reduce((sum, e) => sum + e.count, 0)).toBe(219);
  });

  it("refuses an unknown mesh, a missing policies directory and no input, with status 2", async () => {
    expect((await policy("suggest", "--mesh", "kuma", INCIDENT_DIR)).stderr).toMatch(
      /--mesh: 'kuma' is not one of istio, linkerd, consul/,
    );
    const missing = await policy("drift", "--policies", join(dir(), "nope"), INCIDENT_DIR);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--policies .*nope: not a directory/);
    expect((await policy("suggest")).status).toBe(2);
    expect((await policy("explain", INCIDENT_DIR)).status).toBe(2);
  });
});
