/**
 * Control-plane wait: a domain that is still processing (creation, a blue/green configuration change, an engine
 * upgrade) may refuse or lose data-plane writes, so the bootstrap waits until `DescribeDomain` says it is done.
 */
import { DescribeDomainCommand, type OpenSearchClient } from "@aws-sdk/client-opensearch";
import { BootstrapPropertiesError } from "../core/opensearch/settings.js";

export interface DomainWaitOptions {
  /** Epoch milliseconds after which waiting fails. */
  readonly deadline: number;
  /** @default 15000 */
  readonly intervalMs: number;
  /** @default real timers */
  readonly sleep: (ms: number) => Promise<void>;
  /** @default Date.now */
  readonly now: () => number;
}

export class DomainNotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DomainNotReadyError";
  }
}

/**
 * Accepts a domain name or a domain ARN (`arn:aws:es:region:account:domain/NAME`); anything else is a bad
 * `DomainName` property (`BootstrapPropertiesError`), not a domain that is not ready.
 */
export function domainNameOf(nameOrArn: string): string {
  if (!nameOrArn.startsWith("arn:")) return nameOrArn;
  const match = /:domain\/([a-z][a-z0-9-]{2,27})$/.exec(nameOrArn);
  if (match?.[1] === undefined) {
    throw new BootstrapPropertiesError([
      `DomainName: "${nameOrArn}" is neither a domain name nor an OpenSearch domain ARN`,
    ]);
  }
  return match[1];
}

export async function waitForDomain(
  client: Pick<OpenSearchClient, "send">,
  domainName: string,
  options: Partial<DomainWaitOptions> & Pick<DomainWaitOptions, "deadline">,
): Promise<void> {
  const intervalMs = options.intervalMs ?? 15_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  for (;;) {
    const { DomainStatus: status } = await client.send(new DescribeDomainCommand({ DomainName: domainName }));
    if (status === undefined)
      throw new DomainNotReadyError(`DescribeDomain returned no status for ${domainName}`);
    if (status.Deleted === true) throw new DomainNotReadyError(`domain ${domainName} is being deleted`);
    const hasEndpoint = status.Endpoint !== undefined || Object.keys(status.Endpoints ?? {}).length > 0;
    if (status.Processing !== true && status.UpgradeProcessing !== true && hasEndpoint) return;
    if (now() + intervalMs > options.deadline) {
      throw new DomainNotReadyError(
        `domain ${domainName} still processing (Processing=${String(status.Processing)}, UpgradeProcessing=${String(status.UpgradeProcessing)}, endpoint ${hasEndpoint ? "present" : "absent"}) at the deadline; the next deployment retries`,
      );
    }
    await sleep(intervalMs);
  }
}
