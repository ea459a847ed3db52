/**
 * `audit-trail normalize [--json] [--no-original] FILE…`: one ECS document per input record as NDJSON on stdout
 * (the same `normalizeRecord` the transform Lambda runs); each record that cannot be parsed on stderr as
 * `file:line: reason` (with `--json`: one `{"file","line","reason"}` object per line); exit status 1 if any
 * record failed, 0 otherwise, 2 for a usage or input error.
 */
import { once } from "node:events";
import { normalizeRecord } from "../../core/normalize/index.js";
import { InputError, readLines, totalBytes } from "../input.js";
import { type ProgressOptions, readProgress } from "../progress.js";
import { parseVerbArgs, runVerb, UsageError } from "../usage.js";
import type { VerbModule } from "./command.js";

const USAGE = `usage: audit-trail normalize [--json] [--no-original] FILE...

Parses log files (any supported mesh or Kubernetes audit format, plain or gzip, '-' for stdin) into ECS
documents, one JSON object per line on stdout. Records that cannot be parsed, and records (lines) longer than
the 4 MiB maximum record size, are reported on stderr as 'file:line: reason'; the exit status is 1 if any record
failed. Finished documents (the archive's backup files, Firehose's error output) are read as they are,
re-ingested ones without checking their seal: the files given are trusted ('audit-trail verify' proves an
archive's integrity).

options:
  --json         report failures on stderr as JSON objects {"file","line","reason"}
  --no-original  leave event.original out of the documents`;

/** Where `normalize` writes: documents to `out`, failures and the summary to `err`, progress as configured. */
export interface NormalizeStreams {
  readonly out: NodeJS.WritableStream | { write(text: string): boolean };
  readonly err: { write(text: string): boolean };
  readonly progress?: ProgressOptions;
}

const OPTIONS = { json: { type: "boolean" }, "no-original": { type: "boolean" } } as const;

interface NormalizeArgs {
  readonly json: boolean;
  readonly keepOriginal: boolean;
  readonly files: readonly string[];
}

function parseNormalizeArgs(argv: readonly string[]): NormalizeArgs | "help" {
  const args = parseVerbArgs(argv, OPTIONS, { positionals: true });
  if (args === "help") return "help";
  if (args.positionals.length === 0) throw new UsageError("no input files ('-' reads stdin)");
  return {
    json: args.values.json === true,
    keepOriginal: args.values["no-original"] !== true,
    files: args.positionals,
  };
}

/** Runs the verb; resolves to the exit status. */
export async function runNormalize(
  argv: readonly string[],
  streams: NormalizeStreams = { out: process.stdout, err: process.stderr },
): Promise<number> {
  return runVerb(
    {
      name: "normalize",
      usage: USAGE,
      parse: parseNormalizeArgs,
      run: (args) => normalizeFiles(args, streams),
      userErrors: [InputError],
    },
    argv,
    streams,
  );
}

async function normalizeFiles(
  { json, keepOriginal, files }: NormalizeArgs,
  streams: NormalizeStreams,
): Promise<number> {
  const { out, err } = streams;
  let failed = 0;
  let documents = 0;
  let records = 0;
  let bytesRead = 0;
  const onRead = (bytes: number): void => {
    bytesRead += bytes;
  };
  const progress = readProgress("normalize", await totalBytes(files), streams.progress);
  try {
    for await (const { file, line, text, error } of readLines(files, { onRead })) {
      if ((++records & 255) === 0) progress.update({ records, bytes: bytesRead });
      const result =
        error === undefined
          ? // The operator chose these files (the archive, Firehose's error output): finished documents pass through.
            normalizeRecord(text, { keepOriginal, trustDocuments: true })
          : { ok: false as const, reason: error };
      if (!result.ok) {
        failed++;
        progress.done();
        err.write(
          json
            ? `${JSON.stringify({ file, line, reason: result.reason })}\n`
            : `${file}:${line}: ${result.reason}\n`,
        );
        continue;
      }
      let lines = "";
      for (const doc of result.documents) lines += `${JSON.stringify(doc)}\n`;
      documents += result.documents.length;
      if (!out.write(lines)) await once(out as NodeJS.WritableStream, "drain");
    }
  } finally {
    progress.done();
  }
  if (!json) err.write(`audit-trail normalize: ${documents} document(s), ${failed} failed record(s)\n`);
  return failed > 0 ? 1 : 0;
}

export const command: VerbModule = {
  run: (argv) => runNormalize(argv),
};
