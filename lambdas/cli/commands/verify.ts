/**
 * `audit-trail verify`: checks an archive against its signed digest chain, in S3 (`--bucket`, with the user's
 * AWS credentials) or in a local copy (`--dir`). Prints one finding per line; exits 1 on any finding.
 *
 * In S3, object hashes come from `GetObjectAttributes` (the SHA-256 checksum S3 stored when the archiver
 * wrote the object), unexpected objects and delete markers from `ListObjectVersions`, and the public key from
 * KMS `GetPublicKey` unless `--public-key` is given.
 */
import { readFile } from "node:fs/promises";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import { DigestFormatError } from "../../core/digest/format.js";
import { LocalArchiveError, localArchiveReader } from "../../core/digest/local-archive.js";
import { PeriodError, parseInstant } from "../../core/digest/period.js";
import { keyRing, nodeVerifier, SigningKeyError, type Verifier } from "../../core/digest/signer.js";
import {
  type ArchiveReader,
  formatFinding,
  type VerifyReport,
  verifyArchive,
} from "../../core/digest/verify.js";
import { errorMessage } from "../../core/errors.js";
import { kmsVerifier, s3ArchiveReader } from "../../shared/s3-archive.js";
import { countProgress, type ProgressOptions } from "../progress.js";
import { type OptionValues, parseVerbArgs, runVerb, UsageError } from "../usage.js";
import type { VerbModule } from "./command.js";

const USAGE = `usage: audit-trail verify --bucket NAME [--from TIME] [--to TIME] [--public-key FILE… | --key-id KMS_KEY…]
       audit-trail verify --dir PATH --public-key FILE… [--from TIME] [--to TIME]

Checks every digest's signature, the chain's continuity (links, sequence, no time gap) and every object's
size and SHA-256; reports missing, modified and unexpected objects with their keys. Exit status 1 on any
finding, 2 on a usage error. On a terminal, stderr shows how far the check is (digests, then objects checked of
the total, rate, time left); nothing when stderr is piped.

  --bucket NAME      the archive bucket (AWS credentials from the usual chain; --region to override)
  --dir PATH         a local copy of the archive
  --from, --to TIME  ISO 8601; only digests whose period starts in [from, to) and objects written then.
                     With --bucket, --to defaults to now and the chain must reach it.
  --public-key FILE  PEM public key (SPKI) to verify signatures with; repeat it for a chain whose signing key
                     was rotated (a digest is valid when one of the given keys verifies it)
  --key-id KMS_KEY   KMS key (id, ARN or alias) whose public key to use, repeatable like --public-key;
                     default: the key the first digest names`;

const OPTIONS = {
  bucket: { type: "string" },
  dir: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  "public-key": { type: "string", multiple: true },
  "key-id": { type: "string", multiple: true },
  region: { type: "string" },
} as const;

type Options = OptionValues<typeof OPTIONS>;

function parseVerifyArgs(argv: readonly string[]): Options | "help" {
  const args = parseVerbArgs(argv, OPTIONS);
  if (args === "help") return "help";
  const values = args.values;
  if ((values.bucket === undefined) === (values.dir === undefined)) {
    throw new UsageError("give exactly one of --bucket NAME or --dir PATH");
  }
  if (values.dir !== undefined && values["public-key"] === undefined) {
    throw new UsageError("--dir needs --public-key FILE");
  }
  if (values["public-key"] !== undefined && values["key-id"] !== undefined) {
    throw new UsageError("give --public-key or --key-id, not both");
  }
  return values;
}

export interface VerifyClients {
  readonly s3: S3Client;
  readonly kms: KMSClient;
}

export async function runVerify(
  argv: readonly string[],
  clients?: (region: string | undefined) => VerifyClients,
  progressOptions: ProgressOptions = {},
): Promise<number> {
  return runVerb(
    {
      name: "verify",
      usage: USAGE,
      parse: parseVerifyArgs,
      run: (values) => verify(values, clients, progressOptions),
      userErrors: [PeriodError, SigningKeyError, DigestFormatError, LocalArchiveError],
    },
    argv,
  );
}

async function verify(
  values: Options,
  clients: ((region: string | undefined) => VerifyClients) | undefined,
  progressOptions: ProgressOptions,
): Promise<number> {
  const fromMs = values.from === undefined ? undefined : parseInstant(values.from, "--from");
  const explicitTo = values.to === undefined ? undefined : parseInstant(values.to, "--to");
  if (fromMs !== undefined && explicitTo !== undefined && explicitTo <= fromMs) {
    throw new UsageError(`--to ${values.to} must be after --from ${values.from}`);
  }
  let reader: ArchiveReader;
  let verifier: Verifier;
  let keyDescription: string;
  let toMs = explicitTo;
  if (values.bucket !== undefined) {
    const { s3, kms } = (clients ?? defaultClients)(values.region);
    reader = s3ArchiveReader(s3, values.bucket);
    toMs ??= Date.now();
    if (values["public-key"] === undefined) {
      const ids = values["key-id"] ?? [undefined];
      const fromKms = await Promise.all(ids.map((id) => kmsVerifier(kms, reader, id)));
      verifier = keyRing(fromKms);
      keyDescription = fromKms.map((key) => `KMS key ${key.keyId} (${key.source})`).join(", ");
    } else {
      ({ verifier, keyDescription } = await fileVerifiers(values["public-key"]));
    }
  } else {
    reader = localArchiveReader(values.dir as string);
    ({ verifier, keyDescription } = await fileVerifiers(values["public-key"] as string[]));
  }
  const progress = countProgress("verify", progressOptions);
  let report: VerifyReport;
  try {
    report = await verifyArchive(reader, verifier, {
      ...(fromMs === undefined ? {} : { fromMs }),
      ...(toMs === undefined ? {} : { toMs }),
      pendingFrom: values.bucket !== undefined ? "last-period-start" : "last-period-end",
      onProgress: (state) => progress.update(state),
    });
  } finally {
    progress.done();
  }
  for (const finding of report.findings) process.stdout.write(`${formatFinding(finding)}\n`);
  for (const pending of report.pending) {
    process.stderr.write(`pending ${pending.key}: newer than the last sealed period, not yet in a digest\n`);
  }
  const range = report.firstPeriodStart
    ? `, periods ${report.firstPeriodStart} to ${report.lastPeriodEnd}`
    : "";
  process.stderr.write(
    `${report.findings.length === 0 ? "OK" : "FAILED"}: ${report.digestsChecked} digests${range}, ` +
      `${report.objectsChecked} objects checked with ${keyDescription}; ${report.findings.length} findings, ` +
      `${report.pending.length} pending\n`,
  );
  return report.findings.length === 0 ? 0 : 1;
}

async function fileVerifiers(
  files: readonly string[],
): Promise<{ verifier: Verifier; keyDescription: string }> {
  const verifiers = await Promise.all(
    files.map(async (file) => {
      const pem = await readFile(file).catch((error: unknown) => {
        throw new UsageError(`--public-key ${file}: ${errorMessage(error)}`);
      });
      return { file, verifier: nodeVerifier(pem, `--public-key ${file}`) };
    }),
  );
  return {
    verifier: keyRing(verifiers.map((v) => v.verifier)),
    keyDescription: verifiers.map(({ file, verifier }) => `${verifier.keyId} (from ${file})`).join(", "),
  };
}

function defaultClients(region: string | undefined): VerifyClients {
  const config = region === undefined ? {} : { region };
  return { s3: new S3Client(config), kms: new KMSClient(config) };
}

export const command: VerbModule = {
  run: (argv) => runVerify(argv),
};
