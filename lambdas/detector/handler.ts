/**
 * Detector Lambda entry point (EventBridge schedule, every minute). The cold start reads `DETECTOR_ENV`, loads the
 * rule pack and the GeoIP database, and fails loudly on a missing variable or a bad rule; `build.ts` holds the
 * middy chain and the detection glue.
 */
import { buildHandler, defaultDependencies } from "./build.js";

export const handler = buildHandler(await defaultDependencies(process.env));
