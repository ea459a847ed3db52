/** Fetches the pseudonymization HMAC key from Secrets Manager or an SSM SecureString parameter. */
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { KeySource } from "./config.js";

export interface KeyClients {
  secretsManager: () => SecretsManagerClient;
  ssm: () => SSMClient;
}

export async function fetchPseudonymizationKey(
  source: KeySource,
  clients: KeyClients,
): Promise<string | Uint8Array> {
  if (source.kind === "secret") {
    const out = await clients
      .secretsManager()
      .send(new GetSecretValueCommand({ SecretId: source.secretArn }));
    if (out.SecretString !== undefined && out.SecretString !== "") return out.SecretString;
    if (out.SecretBinary !== undefined && out.SecretBinary.length > 0) return out.SecretBinary;
    throw new Error(`secret ${source.secretArn} has no value`);
  }
  const out = await clients
    .ssm()
    .send(new GetParameterCommand({ Name: source.parameterName, WithDecryption: true }));
  const value = out.Parameter?.Value;
  if (value === undefined || value === "")
    throw new Error(`SSM parameter ${source.parameterName} has no value`);
  return value;
}
