/**
 * The CLI in a pipeline. When the reader of standard output (or error) goes away, as `audit-trail normalize … |
 * head -1` does after one line, Node reports `EPIPE` on the next write, where a Unix tool is killed by SIGPIPE. The
 * CLI does what such a tool does: it stops at once, prints nothing, and exits with 141 (128 + SIGPIPE, the status a
 * shell reports for a tool that SIGPIPE ended), so `set -o pipefail` scripts see what they see with `cat`.
 */

/** Exit status of a process ended by SIGPIPE, as shells report it. */
export const BROKEN_PIPE_STATUS = 141;

/** Makes a broken pipe on stdout or stderr end the process quietly with status 141. */
export function exitQuietlyOnBrokenPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(BROKEN_PIPE_STATUS);
      throw error;
    });
  }
}

/** Whether an error is a write to a closed pipe (a verb that catches errors lets these through to the handler). */
export function isBrokenPipe(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "EPIPE";
}
