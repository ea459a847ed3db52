import { readFileSync } from "node:fs";
import { normalizeRecord } from "../../lambdas/core/normalize/index.js";
import type { ReplayRecord } from "../../lambdas/core/rules/replay.js";
import { replay } from "../../lambdas/core/rules/replay.js";
import type { Detection, RulePack } from "../../lambdas/core/rules/types.js";

async function* records(file: string): AsyncIterable<ReplayRecord> {
  const lines = readFileSync(file, "utf8").split("\n");
  for (const [index, text] of lines.entries()) {
    if (text.trim() !== "") yield { file, line: index + 1, text };
  }
}

/** Replays files through a pack exactly as `audit-trail replay` does (normalize, rules, correlations, suppression). */
export async function replayFiles(pack: RulePack, files: readonly string[]): Promise<Detection[]> {
  const alerts: Detection[] = [];
  await replay(
    files.map((file) => records(file)),
    pack,
    normalizeRecord,
    (alert) => alerts.push(alert),
  );
  return alerts;
}
