/**
 * Starts the test OpenSearch node with `scripts/opensearch-node.sh` (Maven download, cached in .cache/opensearch),
 * or uses the node at `OPENSEARCH_URL`. Shared by the integration project's global setup and the corpus
 * acceptance check.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const script = join(root, "scripts", "opensearch-node.sh");

export interface TestNode {
  /** Base URL (`http://127.0.0.1:PORT`). */
  readonly url: string;
  /** Why the node has no index-management plugin; empty when it has one. */
  readonly ismUnavailableReason: string;
  /** The state folder of a node this module started (`scripts/opensearch-node.sh stop STATE` stops it). */
  readonly stateDir?: string;
  /** Stops a node this module started; does nothing for `OPENSEARCH_URL`. */
  stop(): Promise<void>;
}

async function commandExists(command: string, args: string[]): Promise<boolean> {
  try {
    await run(command, args, { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

async function ismReason(url: string): Promise<string> {
  const response = await fetch(`${url}/_cat/plugins?h=component&format=json`);
  if (!response.ok) throw new Error(`GET ${url}/_cat/plugins answered ${response.status}`);
  const plugins = ((await response.json()) as { component: string }[]).map((row) => row.component);
  if (plugins.includes("opensearch-index-management")) return "";
  const cacheDir = process.env.OPENSEARCH_CACHE_DIR ?? join(root, ".cache", "opensearch");
  const note = await readFile(join(cacheDir, "index-management.unavailable"), "utf8").catch(() => "");
  return `the node at ${url} has no opensearch-index-management plugin${note === "" ? "" : ` (Maven: ${note.trim()})`}`;
}

export async function startTestNode(): Promise<TestNode> {
  const external = process.env.OPENSEARCH_URL;
  if (external !== undefined && external !== "") {
    const url = external.replace(/\/+$/, "");
    return { url, ismUnavailableReason: await ismReason(url), stop: async () => undefined };
  }
  const missing: string[] = [];
  if (!(await commandExists("java", ["-version"])))
    missing.push("Java 17 (apt-get install openjdk-17-jdk-headless)");
  if (!(await commandExists("mvn", ["-v"]))) missing.push("Maven (apt-get install maven)");
  if (missing.length > 0) {
    throw new Error(
      `the OpenSearch tests start a local node and need ${missing.join(" and ")}; install them, or set OPENSEARCH_URL=http://HOST:PORT to use a running OpenSearch 2.x node (for example a Docker container), or run only the unit tests with npm run test:unit`,
    );
  }
  const state = await mkdtemp(join(tmpdir(), "audit-trail-opensearch-"));
  let stdout: string;
  try {
    ({ stdout } = await run("bash", [script, "start", state], {
      timeout: 900_000,
      maxBuffer: 10 * 1024 * 1024,
    }));
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(
      `scripts/opensearch-node.sh could not start OpenSearch: ${stderr.trim() || String(error)}`,
    );
  }
  const url = /OPENSEARCH_URL=(\S+)/.exec(stdout)?.[1];
  if (url === undefined) throw new Error(`scripts/opensearch-node.sh printed no OPENSEARCH_URL: ${stdout}`);
  return {
    url,
    stateDir: state,
    ismUnavailableReason: await ismReason(url),
    stop: async () => {
      await run("bash", [script, "stop", state], { timeout: 120_000 });
    },
  };
}
