/** What the CLI tests share: where a verb's output is kept for the assertions. */
import { afterEach, beforeEach, vi } from "vitest";

/** A stream that keeps what is written to it (a verb's `out` or `err`). */
export function sink() {
  const chunks: string[] = [];
  return { chunks, write: (text: string) => chunks.push(text) > 0, text: () => chunks.join("") };
}

/**
 * Keeps what the process's stdout and stderr are written during each test of the file (or `describe`) that calls
 * it, instead of printing it: the arrays are emptied before each test, and the spies removed after it.
 */
export function captureProcessOutput(): { readonly out: string[]; readonly err: string[] } {
  const captured = { out: [] as string[], err: [] as string[] };
  beforeEach(() => {
    captured.out.length = 0;
    captured.err.length = 0;
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => captured.out.push(String(chunk)) > 0);
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => captured.err.push(String(chunk)) > 0);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  return captured;
}

/** A verb's parsed arguments; a parse that asks for `--help` instead fails the test. */
export function parsedArgs<T>(parsed: T | "help"): T {
  if (parsed === "help") throw new Error("unexpected help");
  return parsed;
}
