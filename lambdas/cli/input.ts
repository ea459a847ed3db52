/**
 * Input for the CLI verbs: an async iterator over the non-blank lines of files, gzip files (detected by their
 * magic bytes, whatever their name) and `-` for standard input. Streams line by line, so memory stays flat
 * however large the input; line numbers are 1-based and count blank lines too.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { PassThrough, type Readable } from "node:stream";
import { createGunzip } from "node:zlib";

export interface InputLine {
  /** The file as named on the command line (`-` for standard input). */
  file: string;
  /** 1-based line number within the (decompressed) file. */
  line: number;
  /** The line without its newline (and without a trailing `\r`). */
  text: string;
}

export class InputError extends Error {
  override readonly name = "InputError";
}

export interface ReadLinesOptions {
  /** Standard input, for `-`. @default process.stdin */
  stdin?: Readable;
}

export async function* readLines(
  files: readonly string[],
  options: ReadLinesOptions = {},
): AsyncGenerator<InputLine> {
  for (const file of files) {
    const raw = file === "-" ? (options.stdin ?? process.stdin) : createReadStream(file);
    let stream: Readable;
    try {
      stream = await maybeGunzip(raw);
    } catch (error) {
      throw new InputError(`${file}: ${describe(error)}`);
    }
    const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    let line = 0;
    try {
      for await (const text of lines) {
        line++;
        if (text.trim() === "") continue;
        yield { file, line, text };
      }
    } catch (error) {
      throw new InputError(`${file}:${line + 1}: ${describe(error)}`);
    } finally {
      lines.close();
      if (file !== "-") raw.destroy();
    }
  }
}

/** Peeks at the first bytes: gzip (1f 8b) is piped through gunzip, anything else passes through unchanged. */
async function maybeGunzip(input: Readable): Promise<Readable> {
  const first = await firstChunk(input);
  const out = new PassThrough();
  if (first === undefined) {
    out.end();
    return out;
  }
  const gzip = first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b;
  if (gzip) {
    const gunzip = createGunzip();
    gunzip.on("error", (error) => out.destroy(error));
    input.on("error", (error) => out.destroy(error));
    gunzip.pipe(out);
    gunzip.write(first);
    input.pipe(gunzip);
    return out;
  }
  input.on("error", (error) => out.destroy(error));
  out.write(first);
  input.pipe(out);
  return out;
}

function firstChunk(input: Readable): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const onReadable = (): void => {
      const chunk = input.read() as Buffer | string | null;
      if (chunk === null) return;
      cleanup();
      resolve(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(undefined);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      input.off("readable", onReadable);
      input.off("end", onEnd);
      input.off("error", onError);
    };
    input.on("readable", onReadable);
    input.on("end", onEnd);
    input.on("error", onError);
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "no such file";
    if (code === "EISDIR") return "is a directory";
    if (code === "EACCES") return "permission denied";
    return error.message;
  }
  return String(error);
}
