/**
 * The DB-IP country data as installed with the npm package `@ip-location-db/dbip-country` (the CLI and rule tests;
 * the detector reads its bundled copy with `GeoIpDatabase.load`).
 */

import { createRequire } from "node:module";
import { dirname } from "node:path";
import { errorMessage } from "../errors.js";
import { type CountryLookup, GeoIpDatabase } from "./index.js";

/** The directory of the installed package's CSV files. */
export function packagedGeoIpDir(): string {
  return dirname(createRequire(import.meta.url).resolve("@ip-location-db/dbip-country/package.json"));
}

/** A lookup that reads the installed database on its first use (a few hundred ms), and never when unused. */
export function lazyPackagedGeoIp(onError?: (message: string) => void): CountryLookup {
  let database: GeoIpDatabase | undefined;
  let failed = false;
  return {
    country(ip) {
      if (database === undefined && !failed) {
        try {
          database = GeoIpDatabase.load(packagedGeoIpDir());
        } catch (error) {
          failed = true;
          const message = `countries unavailable: ${errorMessage(error)}`;
          if (onError === undefined) throw new Error(message);
          onError(message);
        }
      }
      return database?.country(ip);
    },
  };
}

let shared: CountryLookup | undefined;

/** One lazily loaded lookup for the whole process (rule tests and replays build many evaluators). */
export function sharedPackagedGeoIp(): CountryLookup {
  shared ??= lazyPackagedGeoIp();
  return shared;
}
