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
import type { Command } from "./command.js";

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

/** Runs the verb; resolves to the exit status. */
export async function runNormalize(
  argv: readonly string[],
  streams: NormalizeStreams = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const { out, err } = streams;
  let json = false;
  let keepOriginal = true;
  const files: string[] = [];
  for (const arg of argv) {
    if (arg === "--help" || arg === "-h") {
      out.write(`${USAGE}\n`);
      return 0;
    }
    if (arg === "--json") json = true;
    else if (arg === "--no-original") keepOriginal = false;
    else if (arg.startsWith("-") && arg !== "-") {
      err.write(`audit-trail normalize: unknown option '${arg}'\n\n${USAGE}\n`);
      return 2;
    } else files.push(arg);
  }
  if (files.length === 0) {
    err.write(`audit-trail normalize: no input files ('-' reads stdin)\n\n${USAGE}\n`);
    return 2;
  }
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
  } catch (error) {
    progress.done();
    if (error instanceof InputError) {
      err.write(`audit-trail normalize: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  progress.done();
  if (!json) err.write(`audit-trail normalize: ${documents} document(s), ${failed} failed record(s)\n`);
  return failed > 0 ? 1 : 0;
}

export const command: Command = {
  summary: "parse log files into ECS documents (NDJSON on stdout)",
  run: (argv) => runNormalize(argv),
};
