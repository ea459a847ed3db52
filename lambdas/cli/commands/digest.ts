/**
 * `audit-trail digest --dir PATH --private-key FILE [--period 1h] [--until T]`: builds (or extends) the
 * signed digest chain over a local copy of an archive, with the code the digest writer runs.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { DigestFormatError } from "../../core/digest/format.js";
import { digestLocalArchive, LocalArchiveError } from "../../core/digest/local-archive.js";
import { PeriodError, parseInstant, parsePeriod } from "../../core/digest/period.js";
import { nodeSigner, SigningKeyError } from "../../core/digest/signer.js";
import { errorMessage } from "../../core/errors.js";
import type { Command } from "./command.js";

const USAGE = `usage: audit-trail digest --dir PATH --private-key FILE [--period 1h] [--until TIME] [--rotate-key]

Records every file of PATH not yet named by a digest (at its modification time) and writes a signed digest
under PATH/digests/ for every period that ended by TIME (default: now), empty periods included.

  --dir PATH          the archive copy
  --private-key FILE  PEM ECDSA P-256 private key (e.g. openssl ecparam -name prime256v1 -genkey -noout)
  --period LENGTH     period length: 15m, 1h (default), 6h, 1d; must divide a day
  --until TIME        seal periods ending at or before this ISO 8601 time (default: now)
  --rotate-key        continue a chain whose last digest was signed by another key with this one
                      (refused without it; verify then needs every key's public key: --public-key, repeated)`;

export const command: Command = {
  summary: "build the signed digest chain over a local archive copy",
  async run(argv) {
    let values: {
      dir?: string;
      "private-key"?: string;
      period?: string;
      until?: string;
      "rotate-key"?: boolean;
      help?: boolean;
    };
    try {
      ({ values } = parseArgs({
        args: [...argv],
        options: {
          dir: { type: "string" },
          "private-key": { type: "string" },
          period: { type: "string" },
          until: { type: "string" },
          "rotate-key": { type: "boolean" },
          help: { type: "boolean", short: "h" },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (error: unknown) {
      process.stderr.write(`audit-trail digest: ${errorMessage(error)}\n\n${USAGE}\n`);
      return 2;
    }
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (values.dir === undefined || values["private-key"] === undefined) {
      process.stderr.write(`audit-trail digest: --dir and --private-key are required\n\n${USAGE}\n`);
      return 2;
    }
    try {
      const keyFile = values["private-key"];
      const periodMs = parsePeriod(values.period ?? "1h", "--period");
      const untilMs = values.until === undefined ? Date.now() : parseInstant(values.until, "--until");
      let pem: Buffer;
      try {
        pem = await readFile(keyFile);
      } catch (error: unknown) {
        process.stderr.write(`audit-trail digest: --private-key ${keyFile}: ${errorMessage(error)}\n`);
        return 2;
      }
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
    } catch (error: unknown) {
      if (
        error instanceof PeriodError ||
        error instanceof SigningKeyError ||
        error instanceof LocalArchiveError ||
        error instanceof DigestFormatError
      ) {
        process.stderr.write(`audit-trail digest: ${error.message}\n`);
        return 2;
      }
      throw error;
    }
    return 0;
  },
};
