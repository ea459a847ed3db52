/** What the `audit-trail` verbs share about their arguments. */

/** A command line the verb cannot run with: printed after the verb's name, exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * The environment selected by `-c env=NAME` (CDK's context flag, so the command a user typed for `cdk deploy`
 * works here too) or `--env NAME`; undefined when neither is given. Any other context key is refused rather than
 * ignored, and two different names are an error.
 */
export function selectedEnvironment(options: {
  readonly context?: readonly string[];
  readonly env?: string;
}): string | undefined {
  const fromContext = (options.context ?? []).map((pair) => {
    const match = /^env=(.+)$/.exec(pair);
    if (match?.[1] === undefined) throw new UsageError(`-c ${pair}: only -c env=NAME is understood`);
    return match[1];
  });
  const names = new Set([...fromContext, ...(options.env === undefined ? [] : [options.env])]);
  if (names.size > 1) throw new UsageError(`more than one environment given: ${[...names].join(", ")}`);
  return [...names][0];
}

/** A class of error the user can act on (usage, config, input), as opposed to a bug. */
export type UserErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs a verb's work: an error of one of the `expected` classes is printed after the verb's name with exit
 * status 2; any other error is a bug and propagates (with its stack).
 */
export async function withUserErrors(
  verb: string,
  expected: readonly UserErrorClass[],
  work: () => Promise<number>,
): Promise<number> {
  try {
    return await work();
  } catch (error: unknown) {
    if (expected.some((kind) => error instanceof kind)) {
      process.stderr.write(`audit-trail ${verb}: ${(error as Error).message}\n`);
      return 2;
    }
    throw error;
  }
}
