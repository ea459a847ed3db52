import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DBIP_FILES } from "../../lambdas/core/geo/index.js";
import { PRECOMPILED_RULE_PACK_FILE } from "../../lambdas/core/rules/precompiled.js";

/**
 * What goes into a Lambda bundle: the esbuild settings every handler is built with (shared by `auditFunction` and
 * `npm run bench`, so the bench measures the bundle the stack deploys), and the files copied next to a handler
 * (`afterBundling` hooks of `auditFunction`). Paths are resolved at synth time on the machine running esbuild;
 * nothing here is read at run time.
 */

/**
 * ESM bundles cannot `require`; CommonJS dependencies bundled into them (parts of the AWS SDK and Powertools) still
 * call it. The banner gives the module a real `require`, `__filename` and `__dirname`.
 */
const ESM_REQUIRE_BANNER = [
  'import { createRequire as __auditTrailCreateRequire } from "node:module";',
  'import { fileURLToPath as __auditTrailFileURLToPath } from "node:url";',
  'import { dirname as __auditTrailDirname } from "node:path";',
  "const require = __auditTrailCreateRequire(import.meta.url);",
  "const __filename = __auditTrailFileURLToPath(import.meta.url);",
  "const __dirname = __auditTrailDirname(__filename);",
].join(" ");

/** The esbuild settings of every handler bundle: minified ESM for Node.js 22, ES modules of dependencies first. */
export const LAMBDA_BUNDLE_SETTINGS = {
  target: "node22",
  platform: "node",
  format: "esm",
  mainFields: ["module", "main"],
  minify: true,
  banner: ESM_REQUIRE_BANNER,
} as const;

/** The AWS SDK v3 packages, left out of a bundle that uses the SDK the Node.js runtime ships. */
const RUNTIME_AWS_SDK_MODULES = ["@aws-sdk/*"] as const;

/** The modules esbuild leaves out of a bundle (`useRuntimeAwsSdk`: see `AuditFunctionProps`). */
export function externalModules(useRuntimeAwsSdk: boolean): string[] {
  return useRuntimeAwsSdk ? [...RUNTIME_AWS_SDK_MODULES] : [];
}

/**
 * How the transform is bundled (`lib/ingestion.ts` builds it; `bench/transform.bench.ts` measures it). It uses the
 * runtime's AWS SDK: its default path (single-document records, no pseudonymization) never calls AWS, and the
 * bundled SDK alone (~300 KB minified for the Firehose client) would be most of the bundle and of its cold start.
 */
export const TRANSFORM_BUNDLE = {
  entry: "lambdas/transform/handler.ts",
  useRuntimeAwsSdk: true,
  /**
   * V8's semi-space (young generation) size. The transform allocates a document tree and its JSON per record and
   * keeps only the base64 output; a larger nursery means fewer scavenges over the batch's live output. Since Node.js
   * 20, V8 sizes the semi-space from the memory limit (1 MiB at 512 MiB), so a 1024 MB function would otherwise run
   * with a few MiB: one 1 MiB batch of the bench mix takes ~19.5 ms with 1 MiB, ~15 ms with 32 MiB (young
   * generation 3 × 32 MiB of the function's 1024 MB).
   */
  semiSpaceMiB: 32,
} as const;

/** The V8 flag setting the semi-space size (in `NODE_OPTIONS` of a function, on the command line of the bench). */
export function semiSpaceFlag(mebibytes: number): string {
  return `--max-semi-space-size=${mebibytes}`;
}

/** The rule pack's directory inside a bundle (`$LAMBDA_TASK_ROOT/rules`). */
export const BUNDLED_RULES_DIR = "rules";
/** The GeoIP database's directory inside a bundle (`$LAMBDA_TASK_ROOT/geoip`, the detector's default). */
export const BUNDLED_GEOIP_DIR = "geoip";

const GEOIP_PACKAGE = "@ip-location-db/dbip-country";
/** The DB-IP licence (CC BY 4.0) travels with the data it covers. */
const GEOIP_LICENSE_FILE = "DBIP-LICENSE";

/** Copies the repository's rule pack (`rules/`) into the bundle. */
export function copyRulePack(inputDir: string, outputDir: string): string[] {
  return [`cp -R "${join(inputDir, "rules")}" "${join(outputDir, BUNDLED_RULES_DIR)}"`];
}

/** The script that precompiles the rule pack, relative to the repository root. */
const PRECOMPILE_SCRIPT = "lib/private/precompile-rule-pack.ts";

/**
 * An `afterBundling` hook writing the repository's rule pack, precompiled with `overrides`, into the bundle as
 * `rules/rule-pack.json`: what the transform loads, with no YAML parser or zod at cold start. The command runs
 * `precompile-rule-pack.ts` with tsx (the CDK app's own runner) and fails the bundling with the file, rule and key
 * of any rule or override the Lambda would refuse.
 */
export function precompiledRulePackCommands(
  overrides: Readonly<Record<string, unknown>>,
): (inputDir: string, outputDir: string) => string[] {
  const encoded = Buffer.from(JSON.stringify(overrides), "utf8").toString("base64");
  return (inputDir, outputDir) => [
    `node --import tsx "${join(inputDir, PRECOMPILE_SCRIPT)}" "${inputDir}" "${join(outputDir, BUNDLED_RULES_DIR, PRECOMPILED_RULE_PACK_FILE)}" ${encoded}`,
  ];
}

/** The installed `@ip-location-db/dbip-country` package directory, found the way Node resolves it. */
export function geoIpPackageDir(): string {
  return dirname(createRequire(import.meta.url).resolve(`${GEOIP_PACKAGE}/package.json`));
}

/** Copies the DB-IP country CSVs the detector loads (and their licence) into `geoip/` of the bundle. */
export function copyGeoIpDatabase(outputDir: string): string[] {
  const source = geoIpPackageDir();
  const target = join(outputDir, BUNDLED_GEOIP_DIR);
  return [
    `mkdir -p "${target}"`,
    ...[DBIP_FILES.ipv4, DBIP_FILES.ipv6, GEOIP_LICENSE_FILE].map(
      (file) => `cp "${join(source, file)}" "${join(target, file)}"`,
    ),
  ];
}
