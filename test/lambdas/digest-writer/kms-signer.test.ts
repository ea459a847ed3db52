import { createHash } from "node:crypto";
import { KMSClient, SignCommand } from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { kmsSigner } from "../../../lambdas/digest-writer/kms-signer.js";

const kms = mockClient(KMSClient);
afterEach(() => kms.reset());

describe("kmsSigner", () => {
  it("asks KMS to sign the SHA-256 of the message as a digest with ECDSA_SHA_256", async () => {
    // Prepare
    const keyArn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    kms.on(SignCommand).resolves({ Signature: new Uint8Array([48, 6, 2, 1, 1, 2, 1, 2]) });
    const message = new TextEncoder().encode('{"sequence":1}');

    // Act
    const signature = await kmsSigner(new KMSClient({ region: "eu-west-1" }), keyArn).sign(message);

    // Assess
    expect(Array.from(signature)).toEqual([48, 6, 2, 1, 1, 2, 1, 2]);
    const input = kms.commandCalls(SignCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ KeyId: keyArn, MessageType: "DIGEST", SigningAlgorithm: "ECDSA_SHA_256" });
    expect(Buffer.from(input?.Message ?? []).toString("hex")).toBe(
      createHash("sha256").update(message).digest("hex"),
    );
  });

  it("fails naming the key when KMS returns no signature", async () => {
    // Prepare
    kms.on(SignCommand).resolves({});

    // Act / Assess
    await expect(
      kmsSigner(new KMSClient({ region: "eu-west-1" }), "alias/digests").sign(new Uint8Array([1])),
    ).rejects.toThrow("KMS Sign with key alias/digests returned no signature");
  });
});
