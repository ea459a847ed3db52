import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { nodeSigner, nodeVerifier, SigningKeyError } from "../../../../lambdas/core/digest/signer.js";
import { keyPair } from "./local-archive-helpers.js";

describe("node ECDSA P-256 signer and verifier", () => {
  it("verifies its own DER signatures, from PEM and from the DER SPKI bytes KMS GetPublicKey returns", async () => {
    // Prepare
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const signer = nodeSigner(privateKey.export({ format: "pem", type: "sec1" }));
    const message = new TextEncoder().encode("digest bytes");

    // Act
    const signature = await signer.sign(message);

    // Assess
    expect(signature[0]).toBe(0x30);
    expect(
      await nodeVerifier(publicKey.export({ format: "pem", type: "spki" })).verify(message, signature),
    ).toBe(true);
    const der = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
    const fromDer = nodeVerifier(der);
    expect(await fromDer.verify(message, signature)).toBe(true);
    expect(fromDer.keyId).toBe(signer.keyId);
  });

  it("rejects a signature by another key or over other bytes", async () => {
    // Prepare
    const ours = keyPair();
    const theirs = keyPair();
    const message = new TextEncoder().encode("digest bytes");

    // Act
    const forged = await theirs.signer.sign(message);
    const genuine = await ours.signer.sign(message);

    // Assess
    expect(await ours.verifier.verify(message, forged)).toBe(false);
    expect(await ours.verifier.verify(new TextEncoder().encode("digest bytez"), genuine)).toBe(false);
    expect(await ours.verifier.verify(message, new Uint8Array([1, 2, 3]))).toBe(false);
  });

  it("rejects a key on another curve, naming where it came from", () => {
    // Prepare
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "secp384r1" });

    // Act / Assess
    expect(() =>
      nodeSigner(privateKey.export({ format: "pem", type: "pkcs8" }), "--private-key k.pem"),
    ).toThrow(
      new SigningKeyError("--private-key k.pem: expected an ECC NIST P-256 key, got ec on secp384r1"),
    );
    expect(() => nodeVerifier("not a key", "--public-key p.pem")).toThrow(
      /--public-key p\.pem: not a public key/,
    );
  });
});
