/**
 * A verb's module, as it exports it (`export const command: VerbModule`): what runs the verb. Its one-line summary
 * is written once, in `index.ts`, which lists the verbs without loading their modules.
 */
export interface VerbModule {
  /** Runs the verb with the arguments after its name; resolves to the process exit status. */
  run(argv: readonly string[]): Promise<number>;
}

/** One verb of the `audit-trail` command line, as the command list holds it. */
export interface Command extends VerbModule {
  /** One line for the command list. */
  readonly summary: string;
}
