/** One verb of the `audit-trail` command line. */
export interface Command {
  /** One line for the command list. */
  readonly summary: string;
  /** Runs the verb with the arguments after its name; resolves to the process exit status. */
  run(argv: readonly string[]): Promise<number>;
}
