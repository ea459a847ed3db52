import { createRequire } from "node:module";
import { dirname } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { GeoDatabaseError, GeoIpDatabase } from "../../../../lambdas/core/geo/index.js";

const encoder = new TextEncoder();
const csv = (name: string, text: string) => ({ name, data: encoder.encode(text) });

/** 1.0.0.0–1.0.0.255 AU, 1.0.1.0–1.0.3.255 CN, 89.160.0.0–89.160.255.255 SE; 2001:db8::/32 DE, 2a02:cf40::/32 NO. */
function smallDatabase(): GeoIpDatabase {
  const v4 = "16777216,16777471,AU\n16777472,16778239,CN\n1503657984,1503723519,SE\n";
  const v6 = [
    `${0x20010db8n << 96n},${((0x20010db8n + 1n) << 96n) - 1n},DE`,
    `${0x2a02cf40n << 96n},${((0x2a02cf40n + 1n) << 96n) - 1n},NO`,
  ].join("\r\n");
  return GeoIpDatabase.fromCsv(csv("v4.csv", v4), csv("v6.csv", v6));
}

describe("GeoIpDatabase on a small database", () => {
  it("resolves IPv4 addresses inside ranges, at both bounds", () => {
    // Prepare
    const db = smallDatabase();
    // Act / Assess
    expect(db.country("1.0.0.0")).toBe("AU");
    expect(db.country("1.0.0.255")).toBe("AU");
    expect(db.country("1.0.1.0")).toBe("CN");
    expect(db.country("1.0.3.255")).toBe("CN");
    expect(db.country("89.160.20.156")).toBe("SE");
  });

  it("returns undefined for addresses in gaps, before the first and after the last range", () => {
    const db = smallDatabase();
    expect(db.country("1.0.4.0")).toBeUndefined();
    expect(db.country("0.255.255.255")).toBeUndefined();
    expect(db.country("255.255.255.255")).toBeUndefined();
    expect(db.country("10.1.2.3")).toBeUndefined();
  });

  it("resolves IPv6, bracketed, zoned, and IPv4-mapped addresses", () => {
    const db = smallDatabase();
    expect(db.country("2001:db8::1")).toBe("DE");
    expect(db.country("2001:0db8:ffff:ffff:ffff:ffff:ffff:ffff")).toBe("DE");
    expect(db.country("[2a02:cf40::7]")).toBe("NO");
    expect(db.country("2a02:cf40::7%eth0")).toBe("NO");
    expect(db.country("::ffff:89.160.20.156")).toBe("SE");
    expect(db.country("::ffff:5aa0:149c")).toBeUndefined();
    expect(db.country("2001:db9::1")).toBeUndefined();
  });

  it("returns undefined for text that is not an address", () => {
    const db = smallDatabase();
    for (const bad of [
      "",
      "-",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1::2::3",
      "2001:db8:::1",
      "g::1",
      "abc",
    ]) {
      expect(db.country(bad), bad).toBeUndefined();
    }
  });

  it("never throws on arbitrary strings", () => {
    const db = smallDatabase();
    fc.assert(
      fc.property(fc.string(), (text) => {
        const result = db.country(text);
        expect(result === undefined || /^[A-Z]{2}$/.test(result)).toBe(true);
      }),
    );
  });

  it("resolves every address of a range to its country (property)", () => {
    const db = smallDatabase();
    fc.assert(
      fc.property(fc.integer({ min: 1503657984, max: 1503723519 }), (n) => {
        const ip = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
        expect(db.country(ip)).toBe("SE");
      }),
    );
  });
});

describe("GeoIpDatabase rejects malformed files", () => {
  it("names the file and line of a row that is not start,end,CC", () => {
    // Prepare
    const v4 = csv("v4.csv", "16777216,16777471,AU\n16777472;16778239;CN\n");
    // Act / Assess
    expect(() => GeoIpDatabase.fromCsv(v4, csv("v6.csv", ""))).toThrowError(
      /v4\.csv line 2: expected "start,end,CC"/,
    );
  });

  it("names the line of a non-numeric bound", () => {
    const v6 = csv("v6.csv", "12x,13,DE\n");
    expect(() => GeoIpDatabase.fromCsv(csv("v4.csv", ""), v6)).toThrowError(GeoDatabaseError);
    expect(() => GeoIpDatabase.fromCsv(csv("v4.csv", ""), v6)).toThrowError(/v6\.csv line 1: range bounds/);
  });

  it("rejects unsorted ranges", () => {
    const v4 = csv("v4.csv", "200,300,AU\n100,150,CN\n");
    expect(() => GeoIpDatabase.fromCsv(v4, csv("v6.csv", ""))).toThrowError(/line 2: ranges must be sorted/);
  });

  it("names the missing directory file", () => {
    expect(() => GeoIpDatabase.load("does-not-exist")).toThrowError(/dbip-country-ipv4-num\.csv/);
  });
});

describe("GeoIpDatabase on the shipped DB-IP database", () => {
  let db: GeoIpDatabase;
  beforeAll(() => {
    const require = createRequire(import.meta.url);
    db = GeoIpDatabase.load(dirname(require.resolve("@ip-location-db/dbip-country/package.json")));
  });

  it("loads hundreds of thousands of ranges of each family", () => {
    expect(db.size.ipv4).toBeGreaterThan(100_000);
    expect(db.size.ipv6).toBeGreaterThan(100_000);
  });

  it("agrees with the package's own first rows and leaves private space unknown", () => {
    expect(db.country("1.0.0.1")).toBe("AU");
    expect(db.country("1.0.1.1")).toBe("CN");
    expect(db.country("2001::1")).toBe("US");
    expect(db.country("192.168.99.1")).toBeUndefined();
    expect(db.country("10.0.0.1")).toBeUndefined();
    expect(db.country("::1")).toBeUndefined();
  });

  it("looks up a million addresses in well under a second", () => {
    const addresses = ["89.160.20.156", "8.8.8.8", "2a02:cf40::7", "1.0.1.1", "203.0.113.9"];
    const started = performance.now();
    let found = 0;
    for (let i = 0; i < 1_000_000; i++) if (db.country(addresses[i % addresses.length] as string)) found++;
    expect(found).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(3000);
  });
});
