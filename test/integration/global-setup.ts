/**
 * Vitest global setup of the integration project: one real OpenSearch node for every integration test, stopped
 * afterwards (see `node.ts`; `OPENSEARCH_URL` selects an existing node instead).
 */
import type { TestProject } from "vitest/node";
import { startTestNode } from "./node.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the test node (`http://127.0.0.1:PORT`). */
    opensearchUrl: string;
    /** Why the node has no index-management plugin; empty when it has one. */
    ismUnavailableReason: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const node = await startTestNode();
  project.provide("opensearchUrl", node.url);
  project.provide("ismUnavailableReason", node.ismUnavailableReason);
  return () => node.stop();
}
