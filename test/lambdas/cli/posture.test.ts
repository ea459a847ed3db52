import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePostureArgs, runPosture } from "../../../lambdas/cli/commands/posture.js";
import { UsageError } from "../../../lambdas/cli/usage.js";
import type { PostureReport } from "../../../lambdas/core/posture/index.js";
import { plantedLines } from "../core/posture/planted.js";
import { parsedArgs, sink } from "./helpers.js";

async function posture(argv: string[]) {
  const args = parsedArgs(parsePostureArgs(argv));
  const out = sink();
  const err = sink();
  const status = await runPosture(args, out, err);
  return { status, out: out.text(), err: err.text() };
}

describe("audit-trail posture FILE…", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "posture-"));
    const prod = plantedLines().find((c) => c.cluster === "prod")?.lines ?? [];
    await writeFile(join(dir, "prod.log"), `${prod.join("\n")}\n`);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a directory and prints each namespace's declared mode next to the observed traffic", async () => {
    const { status, out } = await posture([dir]);
    expect(status).toBe(0);
    expect(out).toContain(
      "namespace permissive-ns: declared PERMISSIVE (namespace); observed 28 requests: mTLS 89%, plaintext 11% (3 proven), unknown 0%",
    );
    expect(out).toContain("namespace strict-ns: declared STRICT (mesh)");
  });

  it("counts --since back from the files' last event, and policy changes before it still set the state", async () => {
    const { out } = await posture([dir, "--since", "1d", "--json"]);
    const report = JSON.parse(out) as PostureReport;
    expect(report.until).toBe("2026-03-06T10:03:00.000Z");
    expect(report.since).toBe("2026-03-05T10:03:00.000Z");
    const ingress = report.clusters[0]?.namespaces.find((n) => n.name === "ingress");
    expect(ingress?.traffic.requests).toBe(4);
    expect(ingress?.declared.mode).toBe("PERMISSIVE");
    expect(report.clusters[0]?.namespaces.find((n) => n.name === "strict-ns")?.traffic.requests).toBe(0);
  });

  it("reports an unparseable record with its file and line, exit status 1", async () => {
    await writeFile(join(dir, "bad.log"), "not a log line\n");
    try {
      const { status, err } = await posture([dir]);
      expect(status).toBe(1);
      expect(err).toMatch(/bad\.log:1: /);
    } finally {
      await rm(join(dir, "bad.log"));
    }
  });

  it("refuses files and an environment together, no input, and a bad duration", () => {
    expect(() => parsePostureArgs(["-c", "env=dev", "x.log"])).toThrow(UsageError);
    expect(() => parsePostureArgs([])).toThrow(/no input/);
    expect(() => parsePostureArgs(["x.log", "--since", "a week"])).toThrow(
      /--since: 'a week' is not a duration/,
    );
    expect(() => parsePostureArgs(["x.log", "--rotation", "soon"])).toThrow(/--rotation/);
  });
});
