/**
 * The CLI in a pipeline, as a process: when the reader of its output goes away (`| head -1`), it stops quietly with
 * status 141 (what a shell reports for a tool killed by SIGPIPE), as Unix tools do: no `write EPIPE`, no stack.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

const CLI = ["--import", "tsx", "lambdas/cli/main.ts"];

/** Runs the CLI with its stdout's reading end closed after `keepBytes` bytes have been read. */
function runWithClosedStdout(
  args: readonly string[],
  keepBytes: number,
): Promise<{ status: number | null; stderr: string; read: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let read = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    if (keepBytes === 0) child.stdout.destroy();
    else
      child.stdout.on("data", (chunk: Buffer) => {
        read += chunk.toString();
        if (read.length >= keepBytes) child.stdout.destroy();
      });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr, read }));
  });
}

describe("the CLI when its reader goes away", () => {
  it("normalize | head -1: stops quietly with status 141", async () => {
    // Act
    const { status, stderr, read } = await runWithClosedStdout(
      ["normalize", "examples/incident/istio-inbound-json.log"],
      1,
    );

    // Assess
    expect(read.length).toBeGreaterThan(0);
    expect(stderr).toBe("");
    expect(status).toBe(141);
  });

  it("replay --json with its output closed: no 'write EPIPE', status 141", async () => {
    // Act
    const { status, stderr } = await runWithClosedStdout(["replay", "--json", "examples/incident"], 0);

    // Assess
    expect(stderr).not.toMatch(/EPIPE/);
    expect(stderr).toBe("");
    expect(status).toBe(141);
  });
});
