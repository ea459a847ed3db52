/**
 * The staging bucket as a local folder: Firehose's S3 backup and error output written where Firehose would write
 * them, in its own formats. Keys follow the stream's prefixes with Firehose's expressions expanded
 * (`!{timestamp:…}` in UTC, `!{firehose:error-output-type}`), object names are Firehose's
 * (`<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid>`, `.gz` appended for GZIP), and the compression is the one the
 * stream's `CompressionFormat` names: the one parameter a change of format touches.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";

/** The `CompressionFormat` values of a Firehose S3 destination this writer can produce. */
export type CompressionFormat = "UNCOMPRESSED" | "GZIP";
const WRITABLE: readonly string[] = ["UNCOMPRESSED", "GZIP"];

export function compressionFormat(value: unknown, where: string): CompressionFormat {
  const format = value ?? "UNCOMPRESSED";
  if (typeof format === "string" && WRITABLE.includes(format)) return format as CompressionFormat;
  throw new Error(
    `${where} is ${JSON.stringify(format)}: the local staging folder writes ${WRITABLE.join(" or ")}; add the format to test/e2e/stand-ins/s3-folder.ts`,
  );
}

const TIMESTAMP = /!\{timestamp:([^}]+)\}/g;
const FIREHOSE = /!\{firehose:([^}]+)\}/g;

function pad(n: number, width = 2): string {
  return n.toString().padStart(width, "0");
}

/** Expands Firehose's prefix expressions; an unknown one is an error naming it. */
export function expandPrefix(prefix: string, atMs: number, errorOutputType?: string): string {
  const at = new Date(atMs);
  const out = prefix
    .replace(TIMESTAMP, (_all, format: string) =>
      format
        .replace("yyyy", String(at.getUTCFullYear()))
        .replace("MM", pad(at.getUTCMonth() + 1))
        .replace("dd", pad(at.getUTCDate()))
        .replace("HH", pad(at.getUTCHours())),
    )
    .replace(FIREHOSE, (_all, name: string) => {
      if (name === "error-output-type" && errorOutputType !== undefined) return errorOutputType;
      if (name === "random-string") return Math.random().toString(36).slice(2, 13);
      throw new Error(`prefix ${JSON.stringify(prefix)}: !{firehose:${name}} cannot be expanded here`);
    });
  if (out.includes("!{")) throw new Error(`prefix ${JSON.stringify(prefix)}: an expression was not expanded`);
  return out;
}

export class S3Folder {
  private version = 0;

  constructor(
    /** The folder standing for the bucket. */
    readonly root: string,
    readonly compression: CompressionFormat,
    private readonly streamName: string,
  ) {}

  /** Writes one object of newline-terminated lines under `prefix` (already expanded); returns its key. */
  writeObject(prefix: string, lines: readonly string[], atMs: number): string {
    const at = new Date(atMs);
    const stamp = `${at.getUTCFullYear()}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}-${pad(at.getUTCHours())}-${pad(at.getUTCMinutes())}-${pad(at.getUTCSeconds())}`;
    this.version++;
    const name = `${this.streamName}-${this.version}-${stamp}-${crypto.randomUUID()}${this.compression === "GZIP" ? ".gz" : ""}`;
    const key = `${prefix}${name}`;
    const body = Buffer.from(
      lines.map((line) => (line.endsWith("\n") ? line : `${line}\n`)).join(""),
      "utf8",
    );
    const path = join(this.root, key);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, this.compression === "GZIP" ? gzipSync(body) : body);
    return key;
  }

  /** Every object key under `prefix` (sorted). */
  keys(prefix = ""): string[] {
    const out: string[] = [];
    const walk = (dir: string) => {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return;
      }
      for (const name of names) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else out.push(relative(this.root, path).split("\\").join("/"));
      }
    };
    walk(this.root);
    return out.filter((key) => key.startsWith(prefix)).sort();
  }

  /** The lines of every object under `prefix`, decompressed as the object's own format says. */
  lines(prefix = ""): string[] {
    const out: string[] = [];
    for (const key of this.keys(prefix)) {
      const raw = readFileSync(join(this.root, key));
      const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString("utf8");
      for (const line of text.split("\n")) if (line !== "") out.push(line);
    }
    return out;
  }
}
