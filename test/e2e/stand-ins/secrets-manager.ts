/**
 * A Secrets Manager stand-in serving `secretsmanager.GetSecretValue` (JSON 1.1 protocol, SigV4 required) for the
 * secrets it is given, by ARN or by name; any other secret is `ResourceNotFoundException`, as the service answers.
 */
import { AwsError, jsonBody, type SignedRequest, type StandInServer, serveAws } from "./aws-http.js";
import type { TlsMaterial } from "./tls.js";

export interface SecretsManagerStandIn extends StandInServer {
  /** GetSecretValue calls answered, per secret ARN. */
  readonly reads: Record<string, number>;
}

export async function startSecretsManagerStandIn(options: {
  tls: TlsMaterial;
  /** Secret ARN → its string value. */
  secrets: Readonly<Record<string, string>>;
}): Promise<SecretsManagerStandIn> {
  const reads: Record<string, number> = {};
  const handle = async (request: SignedRequest) => {
    if (request.target !== "secretsmanager.GetSecretValue") {
      throw new AwsError(400, "UnknownOperationException", `the stand-in does not serve ${request.target}`);
    }
    const id = jsonBody(request).SecretId;
    const arn = Object.keys(options.secrets).find(
      (candidate) => candidate === id || candidate.endsWith(`:secret:${String(id)}`),
    );
    if (typeof id !== "string" || arn === undefined) {
      throw new AwsError(
        400,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
      );
    }
    reads[arn] = (reads[arn] ?? 0) + 1;
    return {
      body: JSON.stringify({
        ARN: arn,
        Name: arn.slice(arn.indexOf(":secret:") + ":secret:".length),
        SecretString: options.secrets[arn],
        VersionId: "00000000-0000-0000-0000-000000000001",
        VersionStages: ["AWSCURRENT"],
        CreatedDate: 1_700_000_000,
      }),
    };
  };
  const server = await serveAws({
    tls: options.tls,
    signingName: "secretsmanager",
    maxBodyBytes: 64 * 1024,
    protocol: "json",
    handle,
  });
  return { ...server, reads };
}
