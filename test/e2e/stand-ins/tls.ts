/**
 * A self-signed certificate for the loopback stand-ins, made at test time with `openssl` (never committed): the
 * real AWS clients and Fluent Bit's `kinesis_firehose` output speak TLS and verify the server, so they are given
 * this certificate as their CA (`tls.ca_file`, `NODE_EXTRA_CA_CERTS`).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TlsMaterial {
  /** PEM of the certificate, also the CA clients trust. */
  readonly cert: string;
  readonly key: string;
  /** The certificate's file, for clients that take a path (Fluent Bit, `NODE_EXTRA_CA_CERTS`). */
  readonly certFile: string;
}

/** A certificate for `127.0.0.1` and `localhost`, valid for two days, in `dir` (a new temporary folder by default). */
export function selfSignedCertificate(dir = mkdtempSync(join(tmpdir(), "audit-trail-tls-"))): TlsMaterial {
  const certFile = join(dir, "stand-in.crt");
  const keyFile = join(dir, "stand-in.key");
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout",
        keyFile,
        "-out",
        certFile,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "");
    throw new Error(`openssl could not make the stand-ins' certificate: ${stderr.trim() || String(error)}`);
  }
  return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8"), certFile };
}
