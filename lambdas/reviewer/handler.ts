/**
 * Scheduled weekly review entry point (EventBridge, weekly). The cold start reads `REVIEWER_ENV` and fails loudly on
 * a missing variable; `build.ts` holds the middy chain and the glue to OpenSearch, S3 and SNS.
 */
import { buildHandler, defaultDependencies } from "./build.js";

export const handler = buildHandler(defaultDependencies(process.env));
