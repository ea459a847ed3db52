/**
 * What the `audit-trail` verbs share about their arguments: one parser (`parseVerbArgs`, `subVerb`), one way to run
 * a verb (`runVerb`: `--help`, usage errors and user errors said the same way by every verb, with the same exit
 * statuses), and the options several verbs take (`-c env=NAME`, `--framework`, output files).
 */
import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { FRAMEWORK_IDS, type FrameworkId, isFrameworkId } from "../core/compliance/catalogue.js";

/** A command line the verb cannot run with: printed after the verb's name, exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The options that select an environment, for `selectedEnvironment`: `-c env=NAME` (repeatable) and `--env NAME`. */
export const ENVIRONMENT_OPTIONS = {
  context: { type: "string", short: "c", multiple: true },
  env: { type: "string" },
} as const;

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

/**
 * The environment of a verb that cannot run without one (`selectedEnvironment`, required): throws `UsageError`
 * naming the `known` environments when none is selected.
 */
export function requiredEnvironment(
  options: Parameters<typeof selectedEnvironment>[0],
  known: readonly string[],
): string {
  const name = selectedEnvironment(options);
  if (name === undefined) {
    throw new UsageError(
      `no environment selected; pass -c env=NAME (one of ${[...known].sort().join(", ")})`,
    );
  }
  return name;
}

/**
 * The environment of a verb that reads either a deployed environment or files (`policy`, `posture`, `review`):
 * undefined when files are given. Throws `UsageError` when both or neither are.
 */
export function environmentOrFiles(
  options: Parameters<typeof selectedEnvironment>[0],
  files: readonly string[],
): string | undefined {
  const environment = selectedEnvironment(options);
  if (environment !== undefined && files.length > 0)
    throw new UsageError("give either -c env=NAME or files, not both");
  if (environment === undefined && files.length === 0)
    throw new UsageError("no input: give files or directories, or -c env=NAME");
  return environment;
}

/** A class of error the user can act on (usage, config, input), as opposed to a bug. */
export type UserErrorClass = abstract new (...args: never[]) => Error;

/**
 * What to do about the AWS SDK's errors for a machine without AWS set up: no region ("Region is missing") or no
 * credentials (the default provider chain found none); `undefined` for any other error.
 */
export function awsSetupProblem(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  if (error.message === "Region is missing") {
    return "no AWS region: pass --region REGION (or set AWS_REGION, or a region in your AWS profile)";
  }
  if (error.name === "CredentialsProviderError" && /from any providers/.test(error.message)) {
    return (
      "no AWS credentials found; looked in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), " +
      "the profile AWS_PROFILE names (default: default) in ~/.aws/credentials and ~/.aws/config (keys, SSO, " +
      "assume-role, credential_process), a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE), the container's " +
      "credentials endpoint (ECS, EKS Pod Identity) and the EC2 instance's metadata; sign in (aws sso login, " +
      "aws configure) or export credentials"
    );
  }
  return undefined;
}

/**
 * Runs a verb's work (`runVerb` calls it): an error of one of the `expected` classes, or the AWS SDK's missing region or credentials
 * (said as what to do), is printed after the verb's name with exit status 2; any other error is a bug and
 * propagates (with its stack).
 */
export async function withUserErrors(
  verb: string,
  expected: readonly UserErrorClass[],
  work: () => Promise<number>,
  err: VerbStreams["err"] = process.stderr,
): Promise<number> {
  try {
    return await work();
  } catch (error: unknown) {
    if (expected.some((kind) => error instanceof kind)) {
      err.write(`audit-trail ${verb}: ${(error as Error).message}\n`);
      return 2;
    }
    const problem = awsSetupProblem(error);
    if (problem !== undefined) {
      err.write(`audit-trail ${verb}: ${problem}\n`);
      return 2;
    }
    throw error;
  }
}

/**
 * Refuses an output file whose folder does not exist (or is not a folder) before any work is done, rather than
 * after it: throws `UsageError` naming the flag and the folder.
 */
export async function checkOutputFolder(flag: string, file: string): Promise<void> {
  const folder = dirname(resolve(file));
  const info = await stat(folder).catch(() => undefined);
  if (info === undefined)
    throw new UsageError(`${flag} ${file}: folder ${folder} does not exist; create it first`);
  if (!info.isDirectory()) throw new UsageError(`${flag} ${file}: ${folder} is not a folder`);
}

/**
 * The frameworks a `--framework` option names: repeatable, each value one id or a comma-separated list; undefined
 * when the option is absent.
 */
export function frameworksOption(values: readonly string[] | undefined): FrameworkId[] | undefined {
  if (values === undefined) return undefined;
  const names = values.flatMap((value) => value.split(",")).map((name) => name.trim());
  return [...new Set(names)].map((name) => {
    if (!isFrameworkId(name)) {
      throw new UsageError(`--framework ${name}: unknown; use one of ${FRAMEWORK_IDS.join(", ")}`);
    }
    return name;
  });
}

/** Where a verb writes: its output, and its messages (usage errors, failures, summaries). */
export interface VerbStreams {
  readonly out: { write(text: string): unknown };
  readonly err: { write(text: string): unknown };
}

/** The process's own stdout and stderr, looked up when a verb runs (so tests that spy on them see its writes). */
function processStreams(): VerbStreams {
  return { out: process.stdout, err: process.stderr };
}

/** One option of a verb: a flag (`boolean`) or an option with a value (`string`, repeatable with `multiple`). */
export interface VerbOption {
  readonly type: "string" | "boolean";
  /** A one-letter alias (`c` for `-c`). */
  readonly short?: string;
  /** Collects every occurrence into a list. @default false: the last one wins */
  readonly multiple?: boolean;
}

/** A verb's options by long name (`"dry-run"` for `--dry-run`). `-h`/`--help` are every verb's and need no entry. */
export type VerbOptions = Readonly<Record<string, VerbOption>>;

/** The values given for `O`: `true` for a flag, the text for a value, a list for a repeatable one. */
export type OptionValues<O extends VerbOptions> = {
  -readonly [K in keyof O]?: O[K] extends { readonly type: "boolean" }
    ? boolean
    : O[K] extends { readonly multiple: true }
      ? string[]
      : string;
};

/** A verb's arguments: option values and the other arguments (files, directories, `-` for stdin), in order. */
export interface VerbArgs<O extends VerbOptions> {
  readonly values: OptionValues<O>;
  readonly positionals: string[];
}

/**
 * Parses a verb's arguments (`node:util` `parseArgs` underneath, so `--name value`, `--name=value`, `-c value` and
 * `--` all work) with one set of messages for every verb; `"help"` when `-h` or `--help` is anywhere before `--`.
 * Throws `UsageError`: `unknown option '--x'`, `--x needs a value`, `--x takes no value`, `unexpected argument 'y'`
 * (only when `positionals` is false). A value is whatever follows its option, even one starting with a dash
 * (`--hot-days -5`, refused by the verb as a number, not as an option).
 */
export function parseVerbArgs<O extends VerbOptions>(
  argv: readonly string[],
  options: O,
  { positionals: allowPositionals = false }: { readonly positionals?: boolean } = {},
): VerbArgs<O> | "help" {
  const config = { ...options, help: { type: "boolean", short: "h" } } as const;
  const { tokens } = parseArgs({ args: [...argv], options: config, strict: false, tokens: true });
  if (tokens.some((token) => token.kind === "option" && token.name === "help")) return "help";
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") {
      if (!allowPositionals) throw new UsageError(`unexpected argument '${token.value}'`);
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== "option") continue;
    const option = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (option === undefined) throw new UsageError(`unknown option '${token.rawName}'`);
    if (option.type === "boolean") {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value`);
      values[token.name] = true;
    } else if (token.value === undefined) {
      throw new UsageError(`${token.rawName} needs a value`);
    } else if (option.multiple === true) {
      values[token.name] = [...((values[token.name] as string[] | undefined) ?? []), token.value];
    } else {
      values[token.name] = token.value;
    }
  }
  return { values: values as OptionValues<O>, positionals };
}

/**
 * The `parse` of a verb that takes options only and uses their values as they are (`parseVerbArgs` with no
 * positionals).
 */
export function optionValues<O extends VerbOptions>(
  options: O,
): (argv: readonly string[]) => OptionValues<O> | "help" {
  return (argv) => {
    const args = parseVerbArgs(argv, options);
    return args === "help" ? "help" : args.values;
  };
}

/**
 * The sub-verb that starts `argv` (`test` of `rules test`, `drift` of `policy drift`) and the arguments after it;
 * `"help"` for `-h`/`--help` in its place. Throws `UsageError` naming the sub-verbs when it is missing or unknown.
 */
export function subVerb<S extends string>(
  argv: readonly string[],
  names: readonly S[],
): { readonly name: S; readonly rest: string[] } | "help" {
  const [first, ...rest] = argv;
  if (first === "-h" || first === "--help") return "help";
  if (first !== undefined && (names as readonly string[]).includes(first)) return { name: first as S, rest };
  const expected = names.map((name) => `'${name}'`).join(" or ");
  throw new UsageError(`expected ${expected}, got ${first === undefined ? "nothing" : `'${first}'`}`);
}

/** A verb of the command line: how it reads its arguments and what it does with them. */
export interface Verb<A> {
  /** As typed after `audit-trail` (`replay`, `policy drift`): every message starts `audit-trail <name>: `. */
  readonly name: string;
  /** The text `-h`/`--help` prints, and a usage error prints after its message. */
  readonly usage: string;
  /** Reads the arguments (usually with `parseVerbArgs`); throws `UsageError` for arguments the verb cannot run with. */
  readonly parse: (argv: readonly string[]) => A | "help";
  /** Does the work; resolves to the exit status. */
  readonly run: (args: A) => Promise<number>;
  /**
   * The errors a user can act on while the verb runs (bad input, config, keys): said as their message alone, exit
   * status 2. `UsageError` and the AWS SDK's missing region or credentials always are. @default none
   */
  readonly userErrors?: readonly UserErrorClass[];
}

/**
 * Runs a verb the same way for every verb: `-h`/`--help` prints the usage on stdout (exit 0); an argument error
 * prints `audit-trail <name>: <message>`, a blank line and the usage on stderr (exit 2); then the work runs under
 * `withUserErrors`: a user error is `audit-trail <name>: <message>` (exit 2), anything else a bug that propagates.
 */
export async function runVerb<A>(
  verb: Verb<A>,
  argv: readonly string[],
  streams: VerbStreams = processStreams(),
): Promise<number> {
  let args: A | "help";
  try {
    args = verb.parse(argv);
  } catch (error: unknown) {
    if (!(error instanceof UsageError)) throw error;
    streams.err.write(`audit-trail ${verb.name}: ${error.message}\n\n${verb.usage}\n`);
    return 2;
  }
  if (args === "help") {
    streams.out.write(`${verb.usage}\n`);
    return 0;
  }
  const parsed = args;
  return withUserErrors(
    verb.name,
    [UsageError, ...(verb.userErrors ?? [])],
    () => verb.run(parsed),
    streams.err,
  );
}
