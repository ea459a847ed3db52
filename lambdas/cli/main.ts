#!/usr/bin/env node
/**
 * `audit-trail`: the command line. Each verb is a module under `commands/` exporting a `VerbModule` (`run(argv)`
 * with the arguments after the verb's name, resolving to the process exit status), listed with its one-line summary
 * in `commands/index.ts`. Every verb reads its arguments and says its usage and errors through `runVerb` in `usage.ts`.
 * The verbs reuse the pure modules the Lambdas run.
 */
import { errorMessage } from "../core/errors.js";
import { commands } from "./commands/index.js";
import { BROKEN_PIPE_STATUS, exitQuietlyOnBrokenPipe, isBrokenPipe } from "./pipes.js";

const USAGE = `usage: audit-trail <command> [options]

commands:
${Object.entries(commands)
  .map(([name, command]) => `  ${name.padEnd(12)} ${command.summary}`)
  .join("\n")}

Run 'audit-trail <command> --help' for a command's options.`;

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`audit-trail: unknown command '${name}'\n\n${USAGE}\n`);
    return 2;
  }
  return command.run(rest);
}

exitQuietlyOnBrokenPipe();
// The CLI supports Node.js 20 (package.json `engines`), which the AWS SDK versions of the lock file support; their
// notice that SDK releases after January 2027 need Node.js 22 is for whoever bumps the SDK (a unit test holds
// `engines` to what the SDK declares), not nine lines on every verify and canary. Set the variable to
// "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    if (isBrokenPipe(error)) process.exit(BROKEN_PIPE_STATUS);
    process.stderr.write(`audit-trail: ${errorMessage(error)}\n`);
    process.exitCode = 2;
  },
);
