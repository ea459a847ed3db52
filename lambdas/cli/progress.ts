/**
 * Progress for the verbs that can take a while (`replay` and `normalize` of large files, `compliance` while it
 * synthesizes, `verify` over a large archive): one line on standard error, redrawn in place (`\r`, erase line) a few times a second, that says how
 * far the work is (records, bytes of the total, rate, time left) and is erased when the work ends. Only on a
 * terminal: when standard error is a file or a pipe, nothing is written, so logs and pipelines stay clean. Nothing
 * shows for work that ends within the first second.
 */

/** Where the line goes: a terminal (`isTTY`), or anything else, which gets nothing. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): boolean;
}

export interface ProgressOptions {
  /** @default process.stderr */
  readonly stream?: ProgressStream;
  /** Milliseconds before the first line: quick work shows none. @default 1000 */
  readonly delayMs?: number;
  /** Milliseconds between redraws. @default 250 */
  readonly intervalMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** How far a read of files is. */
export interface ReadState {
  readonly records: number;
  /** Bytes read from the files (as stored: compressed for gzip). */
  readonly bytes: number;
}

export interface Progress<State> {
  /** The work's state now; redraws the line when due. Cheap enough to call per record. */
  update(state: State): void;
  /** Erases the line (if one was drawn). */
  done(): void;
}

/**
 * A progress line for `label`, drawn by `render` from the latest state and the elapsed seconds. A no-op unless the
 * stream is a terminal.
 */
export function progressLine<State>(
  label: string,
  render: (state: State, elapsedSeconds: number) => string,
  options: ProgressOptions = {},
): Progress<State> {
  const stream = options.stream ?? process.stderr;
  if (stream.isTTY !== true) return { update: () => {}, done: () => {} };
  const now = options.now ?? Date.now;
  const started = now();
  const delayMs = options.delayMs ?? 1000;
  const intervalMs = options.intervalMs ?? 250;
  let nextDraw = started + delayMs;
  let drawn = false;
  return {
    update(state) {
      const time = now();
      if (time < nextDraw) return;
      nextDraw = time + intervalMs;
      drawn = true;
      stream.write(`\r\x1b[2K${label}: ${render(state, (time - started) / 1000)}`);
    },
    done() {
      if (drawn) stream.write("\r\x1b[2K");
      drawn = false;
    },
  };
}

/** Progress of reading `totalBytes` of files: records, MB of the total with a percentage, rate and time left. */
export function readProgress(
  label: string,
  totalBytes: number,
  options: ProgressOptions = {},
): Progress<ReadState> {
  return progressLine<ReadState>(
    label,
    ({ records, bytes }, seconds) => {
      const rate = seconds > 0 ? bytes / seconds : 0;
      const parts = [
        `${records.toLocaleString("en-US")} records`,
        totalBytes > 0
          ? `${megabytes(bytes)} of ${megabytes(totalBytes)} MB (${Math.min(100, Math.floor((bytes / totalBytes) * 100))}%)`
          : `${megabytes(bytes)} MB`,
        `${megabytes(rate)} MB/s`,
      ];
      if (totalBytes > 0 && rate > 0 && bytes < totalBytes)
        parts.push(`ETA ${duration((totalBytes - bytes) / rate)}`);
      return parts.join(", ");
    },
    options,
  );
}

/** How far a count of items is, in one of the work's stages (`verify`: digests, then objects). */
export interface CountState {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
}

/**
 * Progress of a count of items per stage: items done of the total with a percentage, and for a stage that has run
 * long enough to tell, the rate and the time left (measured from the stage's start: stages go at different rates).
 */
export function countProgress(label: string, options: ProgressOptions = {}): Progress<CountState> {
  const now = options.now ?? Date.now;
  let stage: { name: string; startedMs: number; doneAtStart: number } | undefined;
  return progressLine<CountState>(
    label,
    ({ stage: name, done, total }) => {
      const time = now();
      if (stage?.name !== name) stage = { name, startedMs: time, doneAtStart: done };
      const seconds = (time - stage.startedMs) / 1000;
      const rate = seconds > 0 ? (done - stage.doneAtStart) / seconds : 0;
      const parts = [
        `${name} ${done.toLocaleString("en-US")} of ${total.toLocaleString("en-US")}` +
          (total > 0 ? ` (${Math.min(100, Math.floor((done / total) * 100))}%)` : ""),
      ];
      if (rate > 0) parts.push(`${rate < 10 ? rate.toFixed(1) : Math.round(rate).toLocaleString("en-US")}/s`);
      if (rate > 0 && done < total) parts.push(`ETA ${duration((total - done) / rate)}`);
      return parts.join(", ");
    },
    options,
  );
}

/**
 * Progress of work whose end cannot be told and which holds the event loop while it runs (synthesis): the stage,
 * drawn at once (no redraw can happen during the work), erased by `done`.
 */
export function stageProgress(label: string, options: ProgressOptions = {}): Progress<string> {
  return progressLine<string>(label, (stage) => stage, { delayMs: 0, ...options });
}

function megabytes(bytes: number): string {
  return (bytes / 1_000_000).toFixed(1);
}

function duration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
