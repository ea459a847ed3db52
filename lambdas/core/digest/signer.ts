/**
 * Signing and verifying digests. Signatures are ECDSA P-256 over SHA-256, DER-encoded: what KMS returns for
 * `ECDSA_SHA_256` and what node's crypto produces by default, so a KMS-signed chain verifies with node's
 * crypto and the KMS public key, and a chain signed here with a local key verifies the same way.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { errorMessage } from "../errors.js";

export interface Signer {
  /** Recorded in each digest as `signingKeyId` (a KMS key ARN, or a local key's fingerprint). */
  readonly keyId: string;
  /** Returns the DER ECDSA-SHA-256 signature over `message`. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

export interface Verifier {
  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

export class SigningKeyError extends Error {
  override readonly name = "SigningKeyError";
}

function requireP256(key: KeyObject, source: string): void {
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new SigningKeyError(
      `${source}: expected an ECC NIST P-256 key, got ${key.asymmetricKeyType ?? "a symmetric key"}` +
        `${key.asymmetricKeyDetails?.namedCurve ? ` on ${key.asymmetricKeyDetails.namedCurve}` : ""}`,
    );
  }
}

/** `sha256:<hex>` of the DER SubjectPublicKeyInfo: names a local key the way a KMS ARN names a KMS key. */
export function publicKeyFingerprint(publicKey: KeyObject): string {
  return `sha256:${createHash("sha256")
    .update(publicKey.export({ format: "der", type: "spki" }))
    .digest("hex")}`;
}

/** A signer over a PEM (PKCS#8 or SEC1) private key. */
export function nodeSigner(privateKeyPem: string | Uint8Array, source = "private key"): Signer {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(privateKeyPem) });
  } catch (error: unknown) {
    throw new SigningKeyError(`${source}: not a PEM private key (${errorMessage(error)})`);
  }
  requireP256(key, source);
  const keyId = publicKeyFingerprint(createPublicKey(key));
  return {
    keyId,
    sign: async (message) => new Uint8Array(sign("sha256", message, { key, dsaEncoding: "der" })),
  };
}

/** A verifier over a public key: PEM (SPKI), or DER SPKI bytes as KMS `GetPublicKey` returns them. */
export function nodeVerifier(
  publicKey: string | Uint8Array,
  source = "public key",
): Verifier & { keyId: string } {
  let key: KeyObject;
  try {
    const text = Buffer.from(publicKey).toString("utf8");
    key = text.includes("-----BEGIN")
      ? createPublicKey({ key: text, format: "pem" })
      : createPublicKey({ key: Buffer.from(publicKey), format: "der", type: "spki" });
  } catch (error: unknown) {
    throw new SigningKeyError(`${source}: not a public key (${errorMessage(error)})`);
  }
  requireP256(key, source);
  return {
    keyId: publicKeyFingerprint(key),
    verify: async (message, signature) => {
      try {
        return verify("sha256", message, { key, dsaEncoding: "der" }, signature);
      } catch {
        return false;
      }
    },
  };
}

/**
 * A verifier over every key a chain was signed with (after a key rotation): a signature is valid when one of the
 * keys verifies it. Every key is one the caller chose to trust; a digest signed by any other key stays a
 * `bad-signature`.
 */
export function keyRing(verifiers: readonly (Verifier & { keyId: string })[]): Verifier & { keyId: string } {
  if (verifiers.length === 0) throw new SigningKeyError("no public key to verify with");
  if (verifiers.length === 1) return verifiers[0] as Verifier & { keyId: string };
  return {
    keyId: verifiers.map((v) => v.keyId).join(", "),
    verify: async (message, signature) => {
      for (const verifier of verifiers) if (await verifier.verify(message, signature)) return true;
      return false;
    },
  };
}
