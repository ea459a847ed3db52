import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DBIP_FILES } from "../../lambdas/core/geo/index.js";

/**
 * Files copied next to a handler in its bundle (`afterBundling` commands of `auditFunction`). Paths are resolved
 * at synth time on the machine running esbuild; nothing here is read at run time.
 */

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
