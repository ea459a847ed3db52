/**
 * Fetches the pseudonymization HMAC key from Secrets Manager or an SSM SecureString parameter, and the key that
 * seals re-ingested documents from the secret the stack generates. The SDK clients and commands are loaded on
 * first use.
 */
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SSMClient } from "@aws-sdk/client-ssm";
import type { KeySource } from "./config.js";

export interface KeyClients {
  secretsManager: () => Promise<SecretsManagerClient>;
  ssm: () => Promise<SSMClient>;
}

export async function fetchPseudonymizationKey(
  source: KeySource,
  clients: KeyClients,
): Promise<string | Uint8Array> {
  if (source.source === "secret") return fetchSecret(source.secretArn, clients);
  const [client, { GetParameterCommand }] = await Promise.all([clients.ssm(), import("@aws-sdk/client-ssm")]);
  const out = await client.send(
    new GetParameterCommand({ Name: source.parameterName, WithDecryption: true }),
  );
  const value = out.Parameter?.Value;
  if (value === undefined || value === "")
    throw new Error(`SSM parameter ${source.parameterName} has no value`);
  return value;
}

/** The value of a Secrets Manager secret (string or binary); a secret without one is an error naming it. */
export async function fetchSecret(
  secretArn: string,
  clients: Pick<KeyClients, "secretsManager">,
): Promise<string | Uint8Array> {
  const [client, { GetSecretValueCommand }] = await Promise.all([
    clients.secretsManager(),
    import("@aws-sdk/client-secrets-manager"),
  ]);
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (out.SecretString !== undefined && out.SecretString !== "") return out.SecretString;
  if (out.SecretBinary !== undefined && out.SecretBinary.length > 0) return out.SecretBinary;
  throw new Error(`secret ${secretArn} has no value`);
}
