/** The scheduled review as its tests build it. */
import { Logger } from "@aws-lambda-powertools/logger";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import { buildHandler, type ReviewerDependencies } from "../../../lambdas/reviewer/build.js";

/**
 * The reviewer handler with `config` and `search`, AWS clients that the test's mocks answer (they never reach AWS),
 * a silent logger and no tracing; `deps` may replace any of them, and set the clock.
 */
export function reviewerWith(
  deps: Pick<ReviewerDependencies, "config" | "search"> & Partial<ReviewerDependencies>,
): ReturnType<typeof buildHandler> {
  return buildHandler({
    s3: new S3Client({ region: "eu-west-1" }),
    kms: new KMSClient({ region: "eu-west-1" }),
    sns: new SNSClient({ region: "eu-west-1" }),
    cloudFormation: new CloudFormationClient({ region: "eu-west-1" }),
    logger: new Logger({ serviceName: "reviewer", logLevel: "SILENT" }),
    tracer: new Tracer({ serviceName: "reviewer", enabled: false }),
    ...deps,
  });
}
