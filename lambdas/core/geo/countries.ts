/**
 * The smallest possible distance between two countries, for `geo` `impossible_travel` (rules/behaviour.ts).
 *
 * GeoIP gives a country, not a place. Each country below is covered by one or more circles (centre latitude and
 * longitude in degrees, radius in km) that together hold all of its territory that carries the code (overseas
 * parts with ISO codes of their own, such as Puerto Rico `PR`, Réunion `RE` or Greenland `GL`, are not part of
 * the parent's circles). The distance between two countries is then bounded below by the great-circle distance
 * between the closest pair of centres minus both radii (never below 0): two requests from countries closer than
 * that cannot be from the same traveller in less time than the distance takes at the rule's speed.
 *
 * Source and accuracy: the table was written for this project from general geographic knowledge (approximate
 * geographic centres, rounded to about half a degree; radii rounded up generously, typically 20–30 % beyond the
 * farthest border point), not fetched from any data set. Because the radii over-cover, the distance is a lower
 * bound: neighbours (and any pair whose circles overlap) get 0 and never fire; far-apart countries get a distance
 * smaller than the true one by up to the two radii. A country missing from the table is never judged (no
 * distance). Tested in test/lambdas/core/geo/countries.test.ts against known city-to-city distances.
 */

/** Code → circles `[latitude, longitude, radius km]`. */
const CIRCLES: Readonly<Record<string, readonly (readonly [number, number, number])[]>> = {
  // North America
  US: [
    [39.5, -98.5, 2900],
    [63.5, -153, 2100],
    [20.5, -157, 450],
  ],
  CA: [[60, -97, 3300]],
  MX: [[23.5, -102, 1700]],
  // Central America and the Caribbean
  GT: [[15.7, -90.3, 300]],
  HN: [[14.8, -86.6, 350]],
  SV: [[13.7, -88.9, 150]],
  NI: [[12.9, -85.2, 350]],
  CR: [[9.9, -84.2, 300]],
  PA: [[8.5, -80.1, 400]],
  CU: [[21.6, -79.5, 700]],
  DO: [[18.8, -70.2, 250]],
  JM: [[18.1, -77.3, 150]],
  PR: [[18.2, -66.5, 150]],
  // South America
  BR: [[-10.5, -52.5, 2600]],
  AR: [[-36, -65, 2000]],
  CL: [[-33, -71, 2400]],
  CO: [[4, -73, 1100]],
  PE: [[-9.5, -75, 1200]],
  VE: [[7, -66, 900]],
  EC: [[-1.5, -78.5, 500]],
  BO: [[-16.5, -64.5, 900]],
  PY: [[-23.3, -58.4, 600]],
  UY: [[-32.8, -56, 400]],
  // Europe
  GB: [[54.5, -3, 750]],
  IE: [[53.2, -8, 350]],
  FR: [[46.5, 2.5, 750]],
  DE: [[51.2, 10.4, 550]],
  NL: [[52.2, 5.5, 250]],
  BE: [[50.6, 4.6, 200]],
  LU: [[49.8, 6.1, 70]],
  CH: [[46.8, 8.2, 250]],
  AT: [[47.6, 14.1, 400]],
  IT: [[42.8, 12.5, 850]],
  ES: [
    [40.2, -3.7, 750],
    [28.4, -15.6, 400],
  ],
  PT: [
    [39.6, -8, 400],
    [38.5, -28, 400],
    [32.8, -17, 100],
  ],
  DK: [
    [56, 10.5, 350],
    [55.1, 14.9, 60],
  ],
  NO: [[64.5, 13, 1100]],
  SE: [[62.5, 16.5, 1000]],
  FI: [[64.5, 26, 750]],
  IS: [[64.9, -18.6, 350]],
  PL: [[52, 19.4, 450]],
  CZ: [[49.8, 15.5, 300]],
  SK: [[48.7, 19.7, 250]],
  HU: [[47.2, 19.5, 300]],
  RO: [[45.9, 25, 450]],
  BG: [[42.7, 25.3, 350]],
  GR: [[39, 22.5, 650]],
  HR: [[45, 16, 450]],
  SI: [[46.1, 14.8, 150]],
  RS: [[44, 20.8, 350]],
  BA: [[44.2, 17.8, 250]],
  AL: [[41.2, 20, 250]],
  MK: [[41.6, 21.7, 150]],
  ME: [[42.7, 19.3, 150]],
  UA: [[49, 31.5, 900]],
  BY: [[53.7, 28, 450]],
  MD: [[47.2, 28.5, 250]],
  LT: [[55.3, 23.9, 250]],
  LV: [[56.9, 24.6, 300]],
  EE: [[58.6, 25, 300]],
  RU: [
    [56, 42, 1700],
    [63, 100, 3200],
    [54.7, 20.5, 150],
  ],
  TR: [[39, 35, 1000]],
  CY: [[35, 33.2, 150]],
  MT: [[35.9, 14.4, 50]],
  // Middle East and Central Asia
  IL: [[31.4, 35, 300]],
  JO: [[31.2, 36.5, 350]],
  LB: [[33.9, 35.9, 150]],
  SY: [[35, 38.5, 500]],
  IQ: [[33, 43.7, 700]],
  IR: [[32.5, 54, 1300]],
  SA: [[24, 45, 1300]],
  AE: [[24, 54, 400]],
  QA: [[25.3, 51.2, 150]],
  KW: [[29.3, 47.6, 150]],
  OM: [[21, 57, 700]],
  YE: [[15.6, 48, 800]],
  KZ: [[48, 67, 1700]],
  UZ: [[41.4, 64.6, 800]],
  AF: [[33.9, 67.7, 800]],
  PK: [[30, 69.5, 1100]],
  GE: [[42.2, 43.5, 300]],
  AM: [[40.1, 45, 200]],
  AZ: [[40.3, 47.7, 350]],
  // Asia and Oceania
  CN: [[35, 103, 2800]],
  IN: [[22, 79, 2000]],
  JP: [[36.5, 138, 1700]],
  KR: [[36.4, 127.9, 450]],
  KP: [[40.2, 127.3, 400]],
  TW: [[23.7, 121, 300]],
  HK: [[22.35, 114.15, 50]],
  MO: [[22.17, 113.55, 20]],
  MN: [[46.9, 103.8, 1300]],
  VN: [[16, 106.5, 1100]],
  TH: [[15, 101, 900]],
  MY: [[4, 109.5, 1300]],
  SG: [[1.35, 103.8, 40]],
  ID: [[-2.5, 118, 2900]],
  PH: [[12.5, 122.5, 1200]],
  BD: [[23.7, 90.3, 450]],
  LK: [[7.8, 80.7, 350]],
  NP: [[28.4, 84.1, 500]],
  MM: [[21, 96, 1100]],
  KH: [[12.5, 105, 400]],
  LA: [[18.2, 103.9, 600]],
  AU: [[-25.5, 134.5, 2900]],
  NZ: [[-41.5, 172.5, 1000]],
  // Africa
  EG: [[26.7, 30.8, 900]],
  MA: [[31.8, -7, 700]],
  DZ: [[28, 2.6, 1300]],
  TN: [[34, 9.5, 450]],
  LY: [[27, 17, 1100]],
  NG: [[9.1, 8.7, 900]],
  GH: [[7.9, -1, 450]],
  CI: [[7.5, -5.5, 500]],
  SN: [[14.5, -14.5, 450]],
  KE: [[0.2, 37.9, 700]],
  ET: [[9, 39.5, 1000]],
  TZ: [[-6.4, 34.9, 900]],
  UG: [[1.4, 32.3, 450]],
  RW: [[-1.9, 29.9, 150]],
  ZA: [[-29, 24.7, 1200]],
  ZW: [[-19, 29.8, 550]],
  ZM: [[-13.1, 27.8, 800]],
  AO: [[-12.3, 17.5, 1000]],
  CM: [[5.7, 12.7, 800]],
  CD: [[-2.9, 23.6, 1300]],
  SD: [[15.5, 30, 1200]],
  MG: [[-19.4, 46.7, 900]],
  MU: [[-20.3, 57.6, 600]],
  RE: [[-21.1, 55.5, 60]],
};

const EARTH_RADIUS_KM = 6371;

function greatCircleKm(a: readonly [number, number, number], b: readonly [number, number, number]): number {
  const toRad = Math.PI / 180;
  const dLat = (b[0] - a[0]) * toRad;
  const dLon = (b[1] - a[1]) * toRad;
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * toRad) * Math.cos(b[0] * toRad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Countries the table covers. */
export function knownCountries(): readonly string[] {
  return Object.keys(CIRCLES);
}

/**
 * A lower bound of the distance in km between any point of country `a` and any point of country `b` (ISO 3166-1
 * alpha-2, as GeoIP gives them); 0 for neighbours and overlapping circles; undefined when either is not in the table.
 */
export function minDistanceKm(a: string, b: string): number | undefined {
  const left = CIRCLES[a.toUpperCase()];
  const right = CIRCLES[b.toUpperCase()];
  if (left === undefined || right === undefined) return undefined;
  let best = Number.POSITIVE_INFINITY;
  for (const x of left) {
    for (const y of right) best = Math.min(best, Math.max(0, greatCircleKm(x, y) - x[2] - y[2]));
  }
  return best;
}

/** The great-circle distance in km between two points (degrees), for tests. */
export function pointDistanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  return greatCircleKm([lat1, lon1, 0], [lat2, lon2, 0]);
}

/** Whether the point lies inside one of the country's circles (tests check that capitals are covered). */
export function covers(country: string, lat: number, lon: number): boolean {
  return (CIRCLES[country.toUpperCase()] ?? []).some(
    (circle) => greatCircleKm(circle, [lat, lon, 0]) <= circle[2],
  );
}
