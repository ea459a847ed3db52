/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or those named on the command line), prints each figure,
 * and writes them all to `bench/results.json`.
 *
 * A bench module's default export is an async function returning named figures; a figure is a number with a
 * unit and, where the issue sets one, the target it is held to (for the report, never an assertion). Each bench
 * runs in a fresh Node.js process (no JIT or heap state carried from the one before), started with the V8 flags
 * the module exports as `nodeFlags`: those its Lambda function is deployed with.
 */
import { fork } from "node:child_process";
import { readdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export interface Figure {
  value: number;
  unit: string;
  /** Human-readable target, e.g. ">= 0.5" or "<= 150". */
  target?: string;
  /** Whether the figure meets its target; absent when there is none. */
  meetsTarget?: boolean;
}
export type BenchResult = Record<string, Figure>;
export type Bench = () => Promise<BenchResult>;
interface BenchModule {
  default: Bench;
  /** V8 flags the bench process starts with. @default [] */
  nodeFlags?: readonly string[];
}

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const CHILD = "--child";

function load(file: string): Promise<BenchModule> {
  return import(pathToFileURL(join(here, file)).href) as Promise<BenchModule>;
}

/** Runs one bench in a child process with its flags; the child sends its figures back. */
async function inChildProcess(file: string): Promise<BenchResult> {
  const { nodeFlags = [] } = await load(file);
  const child = fork(self, [CHILD, file], { execArgv: [...process.execArgv, ...nodeFlags] });
  return new Promise((resolve, reject) => {
    let result: BenchResult | undefined;
    child.once("message", (message) => {
      result = message as BenchResult;
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`bench/${file} exited with ${code} before reporting its figures`));
    });
  });
}

async function main(selected: readonly string[]): Promise<void> {
  const files = (await readdir(here)).filter((f) => f.endsWith(".bench.ts")).sort();
  const chosen =
    selected.length === 0 ? files : files.filter((f) => selected.includes(basename(f, ".bench.ts")));
  const results: Record<string, BenchResult> = {};
  for (const file of chosen) {
    const name = basename(file, ".bench.ts");
    process.stdout.write(`\n== ${name}\n`);
    const result = await inChildProcess(file);
    for (const [figure, { value, unit, target, meetsTarget }] of Object.entries(result)) {
      const verdict = target === undefined ? "" : `  (target ${target}: ${meetsTarget ? "met" : "NOT met"})`;
      process.stdout.write(`${figure.padEnd(40)} ${formatValue(value).padStart(14)} ${unit}${verdict}\n`);
    }
    results[name] = result;
  }
  const machine = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  };
  const output = { measuredAt: new Date().toISOString(), machine, results };
  const path = selected.length === 0 ? join(here, "results.json") : join(here, "results.local.json");
  await writeFile(path, `${JSON.stringify(output, null, 2)}\n`);
  process.stdout.write(`\nwrote ${basename(path)}\n`);
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 3 : 1);
}

if (process.argv[2] === CHILD) {
  const result = await (await load(process.argv[3] as string)).default();
  process.send?.(result);
} else {
  await main(process.argv.slice(2));
}
