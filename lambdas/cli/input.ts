/**
 * Input for the CLI verbs: an async iterator over the non-blank lines of files, gzip files (detected by their
 * magic bytes, whatever their name) and `-` for standard input. Streams line by line, so memory stays flat
 * however large the input; line numbers are 1-based and count blank lines too.
 */
import { createReadStream } from "node:fs";
import { PassThrough, type Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
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
    const splitter = new LineSplitter();
    let line = 0;
    try {
      for await (const chunk of stream) {
        for (const text of splitter.push(chunk as Buffer | string)) {
          line++;
          if (isBlank(text)) continue;
          yield { file, line, text };
        }
      }
      const last = splitter.end();
      if (last !== undefined) {
        line++;
        if (!isBlank(last)) yield { file, line, text: last };
      }
    } catch (error) {
      throw new InputError(`${file}:${line + 1}: ${describe(error)}`);
    } finally {
      if (file !== "-") raw.destroy();
    }
  }
}

/**
 * Splits a byte stream into lines as `readline` does (UTF-8; `\n`, `\r\n` and a lone `\r` end a line, a `\r\n`
 * split across two chunks counts once; a last line without a newline is a line), one chunk at a time: without
 * `readline`'s per-line events and async iterator, reading alone runs about 1.7 times as fast (replay bench).
 */
class LineSplitter {
  readonly #decoder = new StringDecoder("utf8");
  /** `\r\n`, `\n` or a lone `\r`. */
  readonly #lineBreak = /\r\n|\n|\r/g;
  /** The unfinished last line of the chunks so far. */
  #carry = "";
  /** The last chunk ended with `\r`: a `\n` starting the next one belongs to it. */
  #afterReturn = false;

  /** The lines the chunk completes. */
  push(chunk: Buffer | string): string[] {
    let text = typeof chunk === "string" ? chunk : this.#decoder.write(chunk);
    if (this.#afterReturn) {
      if (text.charCodeAt(0) === 10) text = text.slice(1);
      this.#afterReturn = false;
    }
    if (this.#carry !== "") {
      text = this.#carry + text;
      this.#carry = "";
    }
    const lines: string[] = [];
    let start = 0;
    if (text.indexOf("\r") === -1) {
      for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
        lines.push(text.slice(start, end));
        start = end + 1;
      }
    } else {
      const lineBreak = this.#lineBreak;
      lineBreak.lastIndex = 0;
      for (let match = lineBreak.exec(text); match !== null; match = lineBreak.exec(text)) {
        lines.push(text.slice(start, match.index));
        start = lineBreak.lastIndex;
      }
      this.#afterReturn = text.charCodeAt(text.length - 1) === 13;
    }
    this.#carry = start === 0 ? text : text.slice(start);
    return lines;
  }

  /** The last line, when the stream does not end with a line break (an incomplete UTF-8 tail is dropped). */
  end(): string | undefined {
    return this.#carry === "" ? undefined : this.#carry;
  }
}

/** Blank as `text.trim() === ""`, without building the trimmed copy for the usual line. */
function isBlank(text: string): boolean {
  const c = text.charCodeAt(0);
  if (c > 32 && c < 127) return false;
  return text.trim() === "";
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
