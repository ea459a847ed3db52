/** What the `audit-trail` verbs share about their arguments. */
import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { FRAMEWORK_IDS, type FrameworkId, isFrameworkId } from "../core/compliance/catalogue.js";

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
 * Runs a verb's work: an error of one of the `expected` classes, or the AWS SDK's missing region or credentials
 * (said as what to do), is printed after the verb's name with exit status 2; any other error is a bug and
 * propagates (with its stack).
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
    const problem = awsSetupProblem(error);
    if (problem !== undefined) {
      process.stderr.write(`audit-trail ${verb}: ${problem}\n`);
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
