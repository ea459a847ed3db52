/**
 * Bootstrap custom resource (`onEvent` of a `cr.Provider`): waits until the OpenSearch domain has finished
 * processing (control plane, `DescribeDomain`), then applies the index templates, ISM policy, fine-grained-access
 * role mappings and security audit configuration, and imports the OpenSearch Dashboards saved objects (at
 * `https://<endpoint>/_dashboards`, Global tenant), all with one SigV4-signed data-plane client
 * (`bootstrapDomain`). Create and Update apply; Delete removes nothing (the audit data and its lifecycle outlive
 * the stack) and succeeds.
 */

import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import { OpenSearchClient } from "@aws-sdk/client-opensearch";
import middy from "@middy/core";
import type { Client } from "@opensearch-project/opensearch";
import type { CloudFormationCustomResourceEvent, Context } from "aws-lambda";
import { BOOTSTRAP_METRICS } from "../core/contracts.js";
import {
  AMAZON_OPENSEARCH_DASHBOARDS,
  bootstrapDomain,
  type OpenSearchTransportClient,
} from "../core/opensearch/bootstrap.js";
import { type BootstrapSettings, parseBootstrapProperties } from "../core/opensearch/settings.js";
import { signedOpenSearchClient } from "../shared/opensearch-client.js";
import { type DomainWaitOptions, domainNameOf, waitForDomain } from "./domain.js";

/** What `cr.Provider` expects back from `onEvent`. */
export interface OnEventResponse {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`environment variable ${name} is required (the Lambda runtime sets it)`);
  }
  return value;
}

const region = requiredEnv("AWS_REGION");
const logger = new Logger({ serviceName: "bootstrap" });
const metrics = new Metrics({
  namespace: BOOTSTRAP_METRICS.namespace,
  serviceName: BOOTSTRAP_METRICS.service,
});
const tracer = new Tracer({ serviceName: "bootstrap" });
const controlPlane = tracer.captureAWSv3Client(new OpenSearchClient({ region }));

/** A SigV4-signed client for the domain endpoint (service `es`). */
export function signedClient(endpoint: string): Client {
  return signedOpenSearchClient({ endpoint, region, requestTimeoutMs: 60_000, maxRetries: 3 });
}

export interface HandlerDependencies {
  readonly controlPlane: Pick<OpenSearchClient, "send">;
  readonly dataPlane: (endpoint: string) => OpenSearchTransportClient;
  readonly wait?: Partial<DomainWaitOptions>;
}

/** The custom resource logic, injectable for tests. */
export async function onEvent(
  event: CloudFormationCustomResourceEvent,
  context: Pick<Context, "getRemainingTimeInMillis">,
  deps: HandlerDependencies,
): Promise<OnEventResponse> {
  if (event.RequestType === "Delete") {
    logger.info("delete: leaving indices, templates, ISM policy and role mappings in place", {
      physicalResourceId: event.PhysicalResourceId,
    });
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  const settings: BootstrapSettings = parseBootstrapProperties(event.ResourceProperties);
  const domainName = domainNameOf(settings.DomainName);
  const physicalResourceId =
    event.RequestType === "Update" ? event.PhysicalResourceId : `audit-trail-bootstrap-${domainName}`;

  // Leave a minute for the data plane calls; the Provider's own timeout is the outer bound.
  const deadline = Date.now() + Math.max(context.getRemainingTimeInMillis() - 60_000, 0);
  await waitForDomain(deps.controlPlane, domainName, { deadline, ...deps.wait });

  const steps = await bootstrapDomain(deps.dataPlane(settings.DomainEndpoint), settings, {
    ismFlavor: "aws",
    dashboards: AMAZON_OPENSEARCH_DASHBOARDS,
  });
  for (const step of steps) logger.info("bootstrap step", { ...step });
  metrics.addMetric(BOOTSTRAP_METRICS.names.bootstrapApplied, MetricUnit.Count, 1);
  return {
    PhysicalResourceId: physicalResourceId,
    Data: { Steps: steps.map((step) => `${step.step}: ${step.outcome}`).join("; ") },
  };
}

export const handler = middy<CloudFormationCustomResourceEvent, OnEventResponse>()
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .handler((event, context) =>
    onEvent(event, context, { controlPlane, dataPlane: (endpoint) => signedClient(endpoint) }),
  );
