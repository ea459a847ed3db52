import { describe, expect, it } from "vitest";
import { sizeArchive } from "../../../../lambdas/core/sizing/archive.js";
import { GiB } from "../../../../lambdas/core/sizing/units.js";
import { plan } from "./helpers.js";

describe("sizeArchive", () => {
  it("holds each day's documents through Standard, Standard-IA, Glacier and Deep Archive for a year", () => {
    const archive = sizeArchive(10 * GiB, plan({ hot: 7, archive: 366 }));

    expect(
      archive.bands.map((band) => [band.storageClass, band.fromDay, band.toDay, band.storageGiB]),
    ).toEqual([
      ["S3 Standard", 0, 30, 300],
      ["S3 Standard-IA", 30, 90, 600],
      ["S3 Glacier Flexible Retrieval", 90, 180, 900],
      ["S3 Glacier Deep Archive", 180, 366, 1860],
    ]);
    expect(archive.archiveGiB).toBe(3660);
    expect(archive.stagingGiB).toBe(140);
  });

  it("skips the transitions at or after the retention, as the archive's lifecycle rule does", () => {
    const shortArchive = sizeArchive(10 * GiB, plan({ hot: 7, archive: 60 }));
    const monthArchive = sizeArchive(10 * GiB, plan({ hot: 7, archive: 30 }));

    expect(shortArchive.bands.map((band) => [band.storageClass, band.toDay])).toEqual([
      ["S3 Standard", 30],
      ["S3 Standard-IA", 60],
    ]);
    expect(monthArchive.bands.map((band) => band.storageClass)).toEqual(["S3 Standard"]);
  });

  it("sums its bands to the whole retention", () => {
    const archive = sizeArchive(3 * GiB, plan({ hot: 7, archive: 2192 }));

    const total = archive.bands.reduce((sum, band) => sum + band.storageGiB, 0);
    expect(total).toBeCloseTo(archive.archiveGiB, 6);
    expect(archive.bands.at(-1)?.toDay).toBe(2192);
  });
});
