import { describe, expect, it } from "vitest";
import {
  covers,
  knownCountries,
  minDistanceKm,
  pointDistanceKm,
} from "../../../../lambdas/core/geo/countries.js";

/** Cities near the edges and centres of countries (degrees), from general knowledge. */
const PLACES: readonly [string, string, number, number][] = [
  ["US", "New York", 40.7, -74],
  ["US", "Seattle", 47.6, -122.3],
  ["US", "Miami", 25.8, -80.2],
  ["US", "Anchorage", 61.2, -149.9],
  ["US", "Honolulu", 21.3, -157.9],
  ["CA", "Vancouver", 49.3, -123.1],
  ["CA", "Halifax", 44.6, -63.6],
  ["BR", "São Paulo", -23.5, -46.6],
  ["BR", "Manaus", -3.1, -60],
  ["DE", "Berlin", 52.5, 13.4],
  ["DE", "Munich", 48.1, 11.6],
  ["FR", "Paris", 48.9, 2.35],
  ["FR", "Nice", 43.7, 7.3],
  ["GB", "London", 51.5, -0.1],
  ["GB", "Aberdeen", 57.1, -2.1],
  ["ES", "Madrid", 40.4, -3.7],
  ["ES", "Las Palmas", 28.1, -15.4],
  ["RU", "Moscow", 55.8, 37.6],
  ["RU", "Vladivostok", 43.1, 131.9],
  ["RU", "Kaliningrad", 54.7, 20.5],
  ["JP", "Tokyo", 35.7, 139.7],
  ["JP", "Sapporo", 43.1, 141.4],
  ["CN", "Beijing", 39.9, 116.4],
  ["CN", "Urumqi", 43.8, 87.6],
  ["IN", "Mumbai", 19.1, 72.9],
  ["AU", "Sydney", -33.9, 151.2],
  ["AU", "Perth", -31.95, 115.9],
  ["ZA", "Cape Town", -33.9, 18.4],
  ["SG", "Singapore", 1.3, 103.8],
  ["NL", "Amsterdam", 52.4, 4.9],
  ["SE", "Stockholm", 59.3, 18.1],
  ["IE", "Dublin", 53.3, -6.3],
];

describe("country distances for impossible travel", () => {
  it("covers each sample city with its country's circles", () => {
    for (const [country, city, lat, lon] of PLACES)
      expect(covers(country, lat, lon), `${city}, ${country}`).toBe(true);
  });

  it("never exceeds the distance between two sample cities of the two countries (a lower bound)", () => {
    for (const [a, cityA, latA, lonA] of PLACES) {
      for (const [b, cityB, latB, lonB] of PLACES) {
        if (a === b) continue;
        const bound = minDistanceKm(a, b) as number;
        expect(bound, `${cityA} → ${cityB}`).toBeLessThanOrEqual(pointDistanceKm(latA, lonA, latB, lonB));
      }
    }
  });

  it("gives 0 for neighbours and thousands of km across oceans", () => {
    expect(minDistanceKm("DE", "FR")).toBe(0);
    expect(minDistanceKm("US", "CA")).toBe(0);
    expect(minDistanceKm("DE", "BR")).toBeGreaterThan(5000);
    expect(minDistanceKm("JP", "DE")).toBeGreaterThan(5000);
    expect(minDistanceKm("de", "br")).toBe(minDistanceKm("DE", "BR"));
  });

  it("has no distance for a country outside the table", () => {
    expect(minDistanceKm("DE", "XX")).toBeUndefined();
    expect(knownCountries().length).toBeGreaterThan(100);
  });
});
