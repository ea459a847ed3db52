/**
 * The OpenSearch client every AWS-facing part uses to reach a domain: SigV4-signed (service `es`) with the
 * credentials of the AWS SDK's default chain (the function's role in Lambda, the user's profile on a laptop). Shared
 * by the bootstrap, the detector, the scheduled review and the CLI's verbs that read a deployed environment.
 */
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { Client } from "@opensearch-project/opensearch";
import { AwsSigv4Signer } from "@opensearch-project/opensearch/aws-v3";

export interface SignedClientOptions {
  /** The domain's endpoint, without scheme (`search-…es.amazonaws.com`, the stack's `DomainEndpoint`). */
  readonly endpoint: string;
  /** The domain's region (the signature's). */
  readonly region: string;
  /** How long one request may take, ms. */
  readonly requestTimeoutMs: number;
  /** Retries of a request that failed to connect or timed out. @default 2 */
  readonly maxRetries?: number;
  /** The URL requests go to. @default `https://${endpoint}` */
  readonly node?: string;
}

/** A SigV4-signed OpenSearch client for the domain. */
export function signedOpenSearchClient(options: SignedClientOptions): Client {
  return new Client({
    ...AwsSigv4Signer({ region: options.region, service: "es", getCredentials: defaultProvider() }),
    node: options.node ?? `https://${options.endpoint}`,
    requestTimeout: options.requestTimeoutMs,
    maxRetries: options.maxRetries ?? 2,
  });
}
