/**
 * The trail as the `posture` and `review` verbs read it from files: every record parsed and normalized with the
 * transform's `normalizeRecord` (as `replay` does; finished documents from the archive pass through), each document
 * handed to the caller, unparseable records reported as `file:line: reason`. The period is decided by the caller
 * once the latest event time is known (`--since 7d` counts back from the last event of the files, so an archive
 * replayed later reads the same).
 */
import type { EcsDocument } from "../core/ecs.js";
import { normalizeRecord } from "../core/normalize/index.js";
import { parseDuration } from "../core/rules/index.js";
import { readLines } from "./input.js";
import { UsageError } from "./usage.js";

export interface FileReading {
  readonly records: number;
  readonly documents: number;
  readonly rejected: number;
  readonly firstEvent?: string;
  readonly lastEvent?: string;
}

/** Reads the files, calling `onDocument` for each document; rejections go to `onRejected`. */
export async function readTrailFiles(
  files: readonly string[],
  onDocument: (doc: EcsDocument) => void,
  onRejected: (where: string, reason: string) => void,
): Promise<FileReading> {
  let records = 0;
  let documents = 0;
  let rejected = 0;
  let firstEvent: string | undefined;
  let lastEvent: string | undefined;
  for await (const line of readLines(files)) {
    records++;
    if (line.error !== undefined) {
      rejected++;
      onRejected(`${line.file}:${line.line}`, line.error);
      continue;
    }
    const result = normalizeRecord(line.text, { trustDocuments: true });
    if (!result.ok) {
      rejected++;
      onRejected(`${line.file}:${line.line}`, result.reason);
      continue;
    }
    for (const doc of result.documents) {
      documents++;
      const at = doc["@timestamp"];
      if (firstEvent === undefined || at < firstEvent) firstEvent = at;
      if (lastEvent === undefined || at > lastEvent) lastEvent = at;
      onDocument(doc);
    }
  }
  return {
    records,
    documents,
    rejected,
    ...(firstEvent === undefined ? {} : { firstEvent }),
    ...(lastEvent === undefined ? {} : { lastEvent }),
  };
}

/** `--since 7d` as milliseconds; a usage error names the flag. */
export function sinceMs(text: string): number {
  try {
    return parseDuration(text);
  } catch {
    throw new UsageError(`--since: '${text}' is not a duration (e.g. 7d, 24h)`);
  }
}

/** `--until TIME` as an ISO instant; a usage error names the flag. */
export function untilInstant(text: string): string {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new UsageError(`--until: '${text}' is not an ISO 8601 time`);
  return new Date(ms).toISOString();
}
