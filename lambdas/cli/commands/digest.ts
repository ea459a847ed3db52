/**
 * `audit-trail digest --dir PATH --private-key FILE [--period 1h] [--until T]`: builds (or extends) the
 * signed digest chain over a local copy of an archive, with the code the digest writer runs.
 */
import { readFile } from "node:fs/promises";
import { DigestFormatError } from "../../core/digest/format.js";
import { digestLocalArchive, LocalArchiveError } from "../../core/digest/local-archive.js";
import { PeriodError, parseInstant, parsePeriod } from "../../core/digest/period.js";
import { nodeSigner, SigningKeyError } from "../../core/digest/signer.js";
import { errorMessage } from "../../core/errors.js";
import { type OptionValues, parseVerbArgs, runVerb, UsageError } from "../usage.js";
import type { VerbModule } from "./command.js";

const USAGE = `usage: audit-trail digest --dir PATH --private-key FILE [--period 1h] [--until TIME] [--rotate-key]

Records every file of PATH not yet named by a digest (at its modification time) and writes a signed digest
under PATH/digests/ for every period that ended by TIME (default: now), empty periods included.

  --dir PATH          the archive copy
  --private-key FILE  PEM ECDSA P-256 private key (e.g. openssl ecparam -name prime256v1 -genkey -noout)
  --period LENGTH     period length: 15m, 1h (default), 6h, 1d; must divide a day
  --until TIME        seal periods ending at or before this ISO 8601 time (default: now)
  --rotate-key        continue a chain whose last digest was signed by another key with this one
                      (refused without it; verify then needs every key's public key: --public-key, repeated)`;

const OPTIONS = {
  dir: { type: "string" },
  "private-key": { type: "string" },
  period: { type: "string" },
  until: { type: "string" },
  "rotate-key": { type: "boolean" },
} as const;

type DigestArgs = OptionValues<typeof OPTIONS> & { dir: string; "private-key": string };

function parseDigestArgs(argv: readonly string[]): DigestArgs | "help" {
  const args = parseVerbArgs(argv, OPTIONS);
  if (args === "help") return "help";
  const { dir, "private-key": keyFile } = args.values;
  if (dir === undefined || keyFile === undefined)
    throw new UsageError("--dir and --private-key are required");
  return { ...args.values, dir, "private-key": keyFile };
}

async function runDigest(values: DigestArgs): Promise<number> {
  const keyFile = values["private-key"];
  const periodMs = parsePeriod(values.period ?? "1h", "--period");
  const untilMs = values.until === undefined ? Date.now() : parseInstant(values.until, "--until");
  const pem = await readFile(keyFile).catch((error: unknown) => {
    throw new UsageError(`--private-key ${keyFile}: ${errorMessage(error)}`);
  });
  const signer = nodeSigner(pem, `--private-key ${keyFile}`);
  const result = await digestLocalArchive({
    root: values.dir,
    signer,
    periodMs,
    untilMs,
    rotateKey: values["rotate-key"] === true,
  });
  for (const sealed of result.sealed) {
    process.stdout.write(
      `wrote ${sealed.key} (sequence ${sealed.digest.sequence}, ${sealed.digest.periodStart} to ${sealed.digest.periodEnd}, ` +
        `${sealed.digest.objects.length} objects)\n`,
    );
  }
  if (result.rotatedFrom !== undefined) {
    process.stderr.write(
      `rotated the signing key from ${result.rotatedFrom} to ${signer.keyId}: verify needs both public keys\n`,
    );
  }
  process.stderr.write(
    `${result.sealed.length} digests written with key ${signer.keyId}; ${result.pending.length} objects wait for a period to end\n`,
  );
  return 0;
}

export const command: VerbModule = {
  run: (argv) =>
    runVerb(
      {
        name: "digest",
        usage: USAGE,
        parse: parseDigestArgs,
        run: runDigest,
        userErrors: [PeriodError, SigningKeyError, LocalArchiveError, DigestFormatError],
      },
      argv,
    ),
};
