/**
 * A `Signer` backed by a KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY). The SHA-256 of the message is sent
 * with `MessageType: DIGEST`, so messages of any size sign in one call; KMS returns a DER ECDSA signature that
 * node's `crypto.verify("sha256", message, publicKey, signature)` accepts.
 */
import { createHash } from "node:crypto";
import { type KMSClient, SignCommand } from "@aws-sdk/client-kms";
import type { Signer } from "../core/digest/signer.js";

export function kmsSigner(kms: KMSClient, keyId: string): Signer {
  return {
    keyId,
    sign: async (message) => {
      const result = await kms.send(
        new SignCommand({
          KeyId: keyId,
          Message: createHash("sha256").update(message).digest(),
          MessageType: "DIGEST",
          SigningAlgorithm: "ECDSA_SHA_256",
        }),
      );
      if (result.Signature === undefined) throw new Error(`KMS Sign with key ${keyId} returned no signature`);
      return result.Signature;
    },
  };
}
