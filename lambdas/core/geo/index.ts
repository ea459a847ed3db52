/**
 * IP address → country, from DB-IP's "IP to Country Lite" database as shipped in the npm package
 * `@ip-location-db/dbip-country` (CC BY 4.0: every place that shows a result credits DB-IP, see
 * `DBIP_ATTRIBUTION`).
 *
 * The two numeric CSV files (`start,end,CC` per line, ranges sorted and disjoint) are read once into typed arrays;
 * a lookup parses the address without allocating and binary-searches the ranges. Private, loopback and other
 * unrouted addresses are not in the database and resolve to `undefined`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { errorMessage } from "../errors.js";
import { parseIpv4 } from "../rules/ip.js";

/** The file names inside the package (and inside the detector bundle, which copies them). */
export const DBIP_FILES = {
  ipv4: "dbip-country-ipv4-num.csv",
  ipv6: "dbip-country-ipv6-num.csv",
} as const;

/** Credit required by the CC BY 4.0 licence, carried in every alert that shows a country. */
export const DBIP_ATTRIBUTION = "IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0";

/** What alert building needs from a GeoIP database. */
export interface CountryLookup {
  /** ISO 3166-1 alpha-2 code of the address's country, or `undefined` (unknown, private, or not an address). */
  country(ip: string): string | undefined;
}

/** A database file that cannot be read as `start,end,CC` lines. */
export class GeoDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GeoDatabaseError";
  }
}

/** Scratch space for address parsing: lookups allocate nothing. Single-threaded use only (as in Node). */
const groups = new Uint16Array(8);
const words = new Uint32Array(4);
const limbs = new Float64Array(8);

export class GeoIpDatabase implements CountryLookup {
  /** Reads `DBIP_FILES` from `directory` (synchronously: this runs once, at cold start). */
  static load(directory: string): GeoIpDatabase {
    const ipv4Path = join(directory, DBIP_FILES.ipv4);
    const ipv6Path = join(directory, DBIP_FILES.ipv6);
    return GeoIpDatabase.fromCsv(
      { name: ipv4Path, data: readFile(ipv4Path) },
      { name: ipv6Path, data: readFile(ipv6Path) },
    );
  }

  /** Builds the database from the two CSV contents; `name` only labels error messages. */
  static fromCsv(ipv4: CsvSource, ipv6: CsvSource): GeoIpDatabase {
    const codes: string[] = [];
    const v4 = parseIpv4Csv(ipv4, codes);
    const v6 = parseIpv6Csv(ipv6, codes);
    return new GeoIpDatabase(v4, v6, codes);
  }

  private constructor(
    private readonly v4: Ipv4Table,
    private readonly v6: Ipv6Table,
    private readonly codes: readonly string[],
  ) {}

  /** Number of IPv4 and IPv6 ranges loaded. */
  get size(): { ipv4: number; ipv6: number } {
    return { ipv4: this.v4.starts.length, ipv6: this.v6.codes.length };
  }

  country(ip: string): string | undefined {
    const v4 = parseIpv4(ip, 0, ip.length);
    if (v4 >= 0) return this.lookupV4(v4);
    if (!parseIpv6(ip)) return undefined;
    // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible addresses live in the IPv4 table.
    if (words[0] === 0 && words[1] === 0 && (words[2] === 0xffff || (words[2] === 0 && words[3] !== 0))) {
      return this.lookupV4(words[3] as number);
    }
    return this.lookupV6();
  }

  private lookupV4(address: number): string | undefined {
    const { starts, ends, codes } = this.v4;
    let low = 0;
    let high = starts.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if ((starts[mid] as number) <= address) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    if (found < 0 || address > (ends[found] as number)) return undefined;
    return this.codes[codes[found] as number];
  }

  private lookupV6(): string | undefined {
    const { starts, ends, codes } = this.v6;
    let low = 0;
    let high = codes.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (compareWords(starts, mid * 4) >= 0) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    if (found < 0 || compareWords(ends, found * 4) > 0) return undefined;
    return this.codes[codes[found] as number];
  }
}

export interface CsvSource {
  readonly name: string;
  readonly data: Uint8Array;
}

interface Ipv4Table {
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  readonly codes: Uint16Array;
}

interface Ipv6Table {
  /** Four big-endian 32-bit words per range. */
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  readonly codes: Uint16Array;
}

function readFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = errorMessage(error);
    throw new GeoDatabaseError(
      `cannot read the GeoIP database ${path}: ${reason} (the bundle must carry ${DBIP_FILES.ipv4} and ${DBIP_FILES.ipv6} from @ip-location-db/dbip-country)`,
    );
  }
}

/** Compares the parsed address in `words` with the 4 words at `offset`: <0, 0, >0 like `address - table`. */
function compareWords(table: Uint32Array, offset: number): number {
  for (let i = 0; i < 4; i++) {
    const a = words[i] as number;
    const b = table[offset + i] as number;
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;
const COMMA = 44;
const DIGIT_0 = 48;

/** Upper bound of the number of lines (native `indexOf` scan). */
function countLines(data: Uint8Array): number {
  let lines = 0;
  for (let at = data.indexOf(NEWLINE); at >= 0; at = data.indexOf(NEWLINE, at + 1)) lines++;
  return lines + 1;
}

/**
 * A cursor over `start,end,CC` lines: `next()` fills `row` with the field offsets of the next non-empty line
 * (`[startFrom, startTo, endFrom, endTo, code]`) and returns its line number, or 0 at the end.
 */
class RowCursor {
  readonly row = new Float64Array(5);
  private position = 0;
  private line = 0;

  constructor(private readonly source: CsvSource) {}

  next(): number {
    const { data } = this.source;
    while (this.position < data.length) {
      this.line++;
      let lineEnd = data.indexOf(NEWLINE, this.position);
      if (lineEnd < 0) lineEnd = data.length;
      const from = this.position;
      let end = lineEnd;
      if (end > from && data[end - 1] === CARRIAGE_RETURN) end--;
      this.position = lineEnd + 1;
      if (end === from) continue;
      const firstComma = data.indexOf(COMMA, from);
      const secondComma = firstComma < 0 || firstComma >= end ? -1 : data.indexOf(COMMA, firstComma + 1);
      if (secondComma < 0 || secondComma >= end || end - secondComma - 1 !== 2) {
        throw new GeoDatabaseError(`${this.source.name} line ${this.line}: expected "start,end,CC"`);
      }
      this.row[0] = from;
      this.row[1] = firstComma;
      this.row[2] = firstComma + 1;
      this.row[3] = secondComma;
      this.row[4] = ((data[secondComma + 1] as number) << 8) | (data[secondComma + 2] as number);
      return this.line;
    }
    return 0;
  }
}

function internCode(code: number, codes: string[]): number {
  if (codes[code] === undefined) codes[code] = String.fromCharCode(code >> 8, code & 0xff);
  return code;
}

function parseIpv4Csv(source: CsvSource, codes: string[]): Ipv4Table {
  const capacity = countLines(source.data);
  const starts = new Uint32Array(capacity);
  const ends = new Uint32Array(capacity);
  const codeIndex = new Uint16Array(capacity);
  const cursor = new RowCursor(source);
  const row = cursor.row;
  let count = 0;
  for (let line = cursor.next(); line > 0; line = cursor.next()) {
    const start = decimal32(source, line, row[0] as number, row[1] as number);
    const end = decimal32(source, line, row[2] as number, row[3] as number);
    if (end < start || (count > 0 && start <= (ends[count - 1] as number))) {
      throw new GeoDatabaseError(
        `${source.name} line ${line}: ranges must be sorted, disjoint and start <= end`,
      );
    }
    starts[count] = start;
    ends[count] = end;
    codeIndex[count] = internCode(row[4] as number, codes);
    count++;
  }
  return {
    starts: starts.subarray(0, count),
    ends: ends.subarray(0, count),
    codes: codeIndex.subarray(0, count),
  };
}

function parseIpv6Csv(source: CsvSource, codes: string[]): Ipv6Table {
  const capacity = countLines(source.data);
  const starts = new Uint32Array(capacity * 4);
  const ends = new Uint32Array(capacity * 4);
  const codeIndex = new Uint16Array(capacity);
  const cursor = new RowCursor(source);
  const row = cursor.row;
  let count = 0;
  for (let line = cursor.next(); line > 0; line = cursor.next()) {
    const offset = count * 4;
    decimal128(source, line, row[0] as number, row[1] as number, starts, offset);
    decimal128(source, line, row[2] as number, row[3] as number, ends, offset);
    for (let w = 0; w < 4; w++) words[w] = starts[offset + w] as number;
    if (compareWords(ends, offset) > 0 || (count > 0 && compareWords(ends, offset - 4) <= 0)) {
      throw new GeoDatabaseError(
        `${source.name} line ${line}: ranges must be sorted, disjoint and start <= end`,
      );
    }
    codeIndex[count] = internCode(row[4] as number, codes);
    count++;
  }
  return {
    starts: starts.subarray(0, count * 4),
    ends: ends.subarray(0, count * 4),
    codes: codeIndex.subarray(0, count),
  };
}

function decimal32(source: CsvSource, line: number, from: number, to: number): number {
  if (to <= from || to - from > 10) throw notANumber(source, line);
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = (source.data[i] as number) - DIGIT_0;
    if (digit < 0 || digit > 9) throw notANumber(source, line);
    value = value * 10 + digit;
  }
  if (value > 0xffffffff) throw notANumber(source, line);
  return value;
}

/** Parses an unsigned decimal below 2^128 into four big-endian 32-bit words at `out[offset..offset+3]`. */
function decimal128(
  source: CsvSource,
  line: number,
  from: number,
  to: number,
  out: Uint32Array,
  offset: number,
): void {
  if (to <= from || to - from > 39) throw notANumber(source, line);
  const data = source.data;
  limbs.fill(0);
  // 16-bit limbs, little-endian, held in doubles; up to 9 digits at a time (limb * 10^9 + carry < 2^53: exact).
  for (let i = from; i < to; ) {
    const end = Math.min(i + 9, to);
    let chunk = 0;
    let scale = 1;
    for (; i < end; i++) {
      const digit = (data[i] as number) - DIGIT_0;
      if (digit < 0 || digit > 9) throw notANumber(source, line);
      chunk = chunk * 10 + digit;
      scale *= 10;
    }
    let carry = chunk;
    for (let l = 0; l < 8; l++) {
      const value = (limbs[l] as number) * scale + carry;
      carry = Math.floor(value / 65536);
      limbs[l] = value - carry * 65536;
    }
    if (carry !== 0) throw notANumber(source, line);
  }
  for (let w = 0; w < 4; w++) {
    out[offset + w] = (((limbs[7 - w * 2] as number) << 16) | (limbs[6 - w * 2] as number)) >>> 0;
  }
}

function notANumber(source: CsvSource, line: number): GeoDatabaseError {
  return new GeoDatabaseError(`${source.name} line ${line}: range bounds must be unsigned decimal integers`);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Parses an IPv6 address (optionally in brackets, with a zone `%id`, with an embedded IPv4 tail) into `words`.
 * Returns false when `text` is not an IPv6 address.
 */
function parseIpv6(text: string): boolean {
  let from = 0;
  let to = text.length;
  if (to > 1 && text.charCodeAt(0) === 91 && text.charCodeAt(to - 1) === 93) {
    from = 1;
    to--;
  }
  for (let i = from; i < to; i++) {
    if (text.charCodeAt(i) === 37) {
      to = i;
      break;
    }
  }
  if (to - from < 2) return false;
  groups.fill(0);
  let count = 0;
  let compressAt = -1;
  let i = from;
  if (text.charCodeAt(i) === 58) {
    if (text.charCodeAt(i + 1) !== 58) return false;
    compressAt = 0;
    i += 2;
  }
  while (i < to) {
    if (count === 8) return false;
    let value = 0;
    let digits = 0;
    const groupStart = i;
    while (i < to) {
      const c = text.charCodeAt(i);
      if (c === 58) break;
      if (c === 46) {
        // Embedded IPv4 tail: takes two groups.
        const v4 = parseIpv4(text, groupStart, to);
        if (v4 < 0 || count > 6) return false;
        groups[count++] = Math.floor(v4 / 65536);
        groups[count++] = v4 & 0xffff;
        i = to;
        digits = -1;
        break;
      }
      const h = hexValue(c);
      if (h < 0 || digits === 4) return false;
      value = value * 16 + h;
      digits++;
      i++;
    }
    if (digits === -1) break;
    if (digits === 0) return false;
    groups[count++] = value;
    if (i < to) {
      // at a colon
      if (text.charCodeAt(i + 1) === 58) {
        if (compressAt >= 0) return false;
        compressAt = count;
        i += 2;
      } else {
        i += 1;
        if (i === to) return false;
      }
    }
  }
  if (compressAt >= 0) {
    if (count === 8) return false;
    const tail = count - compressAt;
    for (let k = 0; k < tail; k++) {
      groups[7 - k] = groups[count - 1 - k] as number;
      groups[count - 1 - k] = 0;
    }
    for (let k = compressAt; k < 8 - tail; k++) groups[k] = 0;
  } else if (count !== 8) {
    return false;
  }
  for (let w = 0; w < 4; w++) {
    words[w] = (((groups[w * 2] as number) << 16) | (groups[w * 2 + 1] as number)) >>> 0;
  }
  return true;
}
