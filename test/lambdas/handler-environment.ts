/** The environment every Lambda handler test starts from. */
import { vi } from "vitest";

/**
 * Stubs what the Lambda runtime and the stack give a function (`vi.unstubAllEnvs()` undoes it): the region, quiet
 * Powertools (no logs, no metrics flushed, no traces), and the function's own `variables`.
 */
export function stubHandlerEnvironment(variables: Readonly<Record<string, string>> = {}): void {
  vi.stubEnv("AWS_REGION", "eu-west-1");
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "SILENT");
  vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "true");
  vi.stubEnv("POWERTOOLS_TRACE_ENABLED", "false");
  for (const [name, value] of Object.entries(variables)) vi.stubEnv(name, value);
}
