import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * Where the shared corpus of real logs lives: `AUDIT_TRAIL_CORPUS`, else `../shared/corpus` beside the clone.
 * Acceptance tests fail (not skip) when it is missing: they only run where it is expected to exist.
 */
export function corpusDir(): string {
  const dir = resolve(process.env.AUDIT_TRAIL_CORPUS ?? "../shared/corpus");
  if (!existsSync(dir)) {
    throw new Error(`corpus not found at ${dir}: set AUDIT_TRAIL_CORPUS to the shared corpus directory`);
  }
  return dir;
}

export function corpusPath(...parts: string[]): string {
  return resolve(corpusDir(), ...parts);
}

/** A sample file's non-blank lines. */
export function lines(path: string): string[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
}

/** Every file below `dir`, depth first. */
export function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
