/**
 * IP address helpers for the `cidr` modifier and the public-address checks. Parsing avoids allocation on the
 * IPv4 path (the common case per event).
 */

/** A compiled CIDR block: IPv4 as unsigned 32-bit numbers, IPv6 as bigints. */
export type CidrBlock =
  | { readonly family: 4; readonly network: number; readonly mask: number }
  | { readonly family: 6; readonly network: bigint; readonly mask: bigint };

/**
 * Parses dotted-quad IPv4 in `text[from, to)` (the whole text by default) to an unsigned 32-bit number, or -1 when
 * it is not one. An octet with a leading zero (`010.0.0.1`) is refused: inet_aton reads it as octal (8), most
 * other parsers as decimal (10), so it names no one address.
 */
export function parseIpv4(text: string, from = 0, to = text.length): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code >= 48 && code <= 57) {
      if (digits === 1 && octet === 0) return -1;
      octet = octet * 10 + (code - 48);
      digits++;
      if (digits > 3 || octet > 255) return -1;
    } else if (code === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + octet;
}

/** Parses IPv6 (with `::`, an embedded IPv4 tail, an optional zone) to a bigint, or undefined. */
export function parseIpv6(text: string): bigint | undefined {
  let address = text;
  const zone = address.indexOf("%");
  if (zone >= 0) address = address.slice(0, zone);
  if (address.startsWith("[") && address.endsWith("]")) address = address.slice(1, -1);
  if (!address.includes(":")) return undefined;
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === "") return [];
    const groups: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? "";
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (v4 < 0) return undefined;
        groups.push(Math.floor(v4 / 65536), v4 % 65536);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined;
        groups.push(Number.parseInt(piece, 16));
      }
    }
    return groups;
  };
  const head = parse(halves[0] ?? "");
  const tail = halves.length === 2 ? parse(halves[1] ?? "") : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 2 && missing < 1) || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  return value;
}

/** Parses `a.b.c.d/n` or `x:y::/n` (a bare address is a /32 or /128). Undefined when invalid. */
export function parseCidr(text: string): CidrBlock | undefined {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const bitsText = slash < 0 ? undefined : text.slice(slash + 1);
  if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return undefined;
  const v4 = parseIpv4(address);
  if (v4 >= 0) {
    const bits = bitsText === undefined ? 32 : Number(bitsText);
    if (bits > 32) return undefined;
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return { family: 4, network: (v4 & mask) >>> 0, mask };
  }
  const v6 = parseIpv6(address);
  if (v6 === undefined) return undefined;
  const bits = bitsText === undefined ? 128 : Number(bitsText);
  if (bits > 128) return undefined;
  const all = (1n << 128n) - 1n;
  const mask = bits === 0 ? 0n : (all << BigInt(128 - bits)) & all;
  return { family: 6, network: v6 & mask, mask };
}

/** Whether `ip` (IPv4, IPv6, IPv4-mapped IPv6) lies in any of the blocks. False for anything not an address. */
export function ipInBlocks(ip: string, blocks: readonly CidrBlock[]): boolean {
  const v4 = parseIpv4(ip);
  if (v4 >= 0) {
    for (const block of blocks) {
      if (block.family === 4 && (v4 & block.mask) >>> 0 === block.network) return true;
    }
    return false;
  }
  if (!ip.includes(":")) return false;
  const v6 = parseIpv6(ip);
  if (v6 === undefined) return false;
  const mapped = v6 >> 32n === 0xffffn ? Number(v6 & 0xffffffffn) : -1;
  for (const block of blocks) {
    if (block.family === 6 && (v6 & block.mask) === block.network) return true;
    if (block.family === 4 && mapped >= 0 && (mapped & block.mask) >>> 0 === block.network) return true;
  }
  return false;
}

/**
 * Addresses that are not public: RFC 1918, loopback, link-local, CGNAT (RFC 6598), "this network", IPv6 unique
 * local, link-local and loopback. Used by `k8s_api_public_access_failures` (which writes the same list in YAML)
 * and by alert rendering.
 */
export const NON_PUBLIC_CIDRS: readonly string[] = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "::1/128",
  "::/128",
  "fc00::/7",
  "fe80::/10",
];

const NON_PUBLIC_BLOCKS: readonly CidrBlock[] = NON_PUBLIC_CIDRS.map((cidr) => {
  const block = parseCidr(cidr);
  if (block === undefined) throw new Error(`invalid built-in CIDR ${cidr}`);
  return block;
});

/** Whether `ip` is a routable public address (false for private ranges and for anything not an IP). */
export function isPublicIp(ip: string): boolean {
  if (parseIpv4(ip) < 0 && parseIpv6(ip) === undefined) return false;
  return !ipInBlocks(ip, NON_PUBLIC_BLOCKS);
}
