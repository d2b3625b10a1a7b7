/**
 * SSRF guard: endpoint URLs are chosen by users, so without this a webhook could be pointed at the
 * cloud metadata service, the database or anything else on the gateway's network. The http client
 * runs `isForbiddenAddress` on the address it actually connects to (see http-client.ts); the URL
 * check here is for early, friendly feedback when an endpoint is saved.
 */

import { promises as dns } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** Resolves a host name to every address it has, like `dns.lookup(host, { all: true })`. */
export type Lookup = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export const defaultLookup: Lookup = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

// The ranges as data, from the IANA special-purpose registries: every range that is not globally
// reachable. Documentation ranges are refused too: no receiver lives there, and some private
// networks and labs route them internally.
const V4_RANGES: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // unspecified, "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, incl. cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments (DS-Lite, NAT64 discovery): infrastructure, not hosts
  ['192.0.2.0', 24], // documentation (TEST-NET-1)
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation (TEST-NET-2)
  ['203.0.113.0', 24], // documentation (TEST-NET-3)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. broadcast 255.255.255.255
];

/**
 * IPv6 is judged the other way round: only global unicast 2000::/3 reaches the internet, so any
 * address outside it is refused (::/8 with loopback, unspecified, IPv4-compatible ::/96 and
 * IPv4-translated ::ffff:0:0:0/96; 64:ff9b:1::/48 local-use NAT64; 100::/64 discard and
 * 100:0:0:1::/64 dummy; 5f00::/16 SRv6 SIDs; fc00::/7 unique-local; fe80::/10 link-local; fec0::/10
 * site-local; ff00::/8 multicast; and whatever is assigned out there next). The forms that reach an
 * IPv4 host through the address they embed are judged by that address instead (see embeddedV4).
 * Inside 2000::/3, these are not globally reachable:
 */
const V6_RANGES: ReadonlyArray<readonly [string, number]> = [
  // IETF protocol assignments: Teredo 2001::/32 (tunnels to an IPv4 host hidden in the address),
  // benchmarking 2001:2::/48, ORCHID. The few anycast services in it (PCP, TURN, AMT, AS112) are
  // not webhook receivers, so the whole block is refused rather than picked apart.
  ['2001::', 23],
  ['2001:db8::', 32], // documentation
  ['3fff::', 20], // documentation (RFC 9637)
];

const V4_BLOCKED = new BlockList();
for (const [network, prefix] of V4_RANGES) V4_BLOCKED.addSubnet(network, prefix, 'ipv4');

// Kept apart from the IPv4 list so that every embedded-IPv4 form goes through embeddedV4 below,
// rather than relying on BlockList's own (::ffff: only) mapping.
const V6_BLOCKED = new BlockList();
for (const [network, prefix] of V6_RANGES) V6_BLOCKED.addSubnet(network, prefix, 'ipv6');
const V6_GLOBAL_UNICAST = new BlockList();
V6_GLOBAL_UNICAST.addSubnet('2000::', 3, 'ipv6');

/**
 * True when connecting to `ip` could reach something private or special. Anything that is not an IP
 * address is forbidden: this is the last gate before a socket opens, so it fails closed.
 */
export function isForbiddenAddress(ip: string): boolean {
  const address = stripZone(ip);
  const version = isIP(address);
  if (version === 4) return V4_BLOCKED.check(address, 'ipv4');
  if (version !== 6) return true;
  const groups = parseV6(address);
  if (!groups) return true;
  const v4 = embeddedV4(groups);
  if (v4 !== null) return V4_BLOCKED.check(v4, 'ipv4');
  if (!V6_GLOBAL_UNICAST.check(address, 'ipv6')) return true;
  return V6_BLOCKED.check(address, 'ipv6');
}

/** `localhost` and `*.localhost` always mean this machine (RFC 6761), whatever DNS says. */
export function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

export async function checkTargetUrl(
  url: string,
  opts: { allowPrivate: boolean; lookup?: Lookup },
): Promise<{ ok: true } | { ok: false; reason: string }> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse('not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return refuse(`scheme ${parsed.protocol} is not allowed; use http: or https:`);
  }
  // Credentials in the URL would be sent as Basic auth and end up in logs and the dashboard.
  if (parsed.username !== '' || parsed.password !== '') {
    return refuse('URLs with credentials (user:pass@) are not allowed');
  }
  // Nothing listens on port 0: every attempt would fail until the endpoint is disabled.
  if (parsed.port === '0') return refuse('port 0 cannot be connected to');
  if (opts.allowPrivate) return { ok: true };

  // WHATWG URL has already normalised odd IPv4 forms (2130706433, 0x7f.1) to dotted quads.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) !== 0) {
    return isForbiddenAddress(host) ? refuse(`${host} is a private or reserved address`) : { ok: true };
  }
  if (isLocalhostName(host)) return refuse(`${host} is this machine`);

  let addresses: Array<{ address: string; family: number }>;
  try {
    addresses = await (opts.lookup ?? defaultLookup)(host);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return refuse(`${host} does not resolve${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  if (addresses.length === 0) return refuse(`${host} does not resolve`);
  // ANY, not every: a name with one private record can be connected to that record.
  const bad = addresses.find((a) => isForbiddenAddress(a.address));
  if (bad) return refuse(`${host} resolves to ${bad.address}, a private or reserved address`);
  return { ok: true };
}

function refuse(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

function stripZone(ip: string): string {
  const percent = ip.indexOf('%');
  return percent === -1 ? ip : ip.slice(0, percent);
}

/** Eight 16-bit groups of an address isIP already accepted as IPv6, or null. */
function parseV6(address: string): number[] | null {
  let text = address.toLowerCase();
  // Rewrite a trailing dotted quad (::ffff:10.0.0.1) as two hex groups so one parser handles both forms.
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const toGroups = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((g) => parseInt(g, 16));
  const doubleColon = text.indexOf('::');
  let groups: number[];
  if (doubleColon === -1) {
    groups = toGroups(text);
  } else {
    const head = toGroups(text.slice(0, doubleColon));
    const rest = toGroups(text.slice(doubleColon + 2));
    const zeros = 8 - head.length - rest.length;
    if (zeros < 0) return null;
    groups = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  }
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff)
    ? groups
    : null;
}

/**
 * The IPv4 address an IPv6 address stands for, when it is a form that reaches an IPv4 host and is
 * judged by that host: IPv4-mapped ::ffff:0:0/96 (the socket connects over IPv4), NAT64 64:ff9b::/96
 * (RFC 6052, translated to the embedded address) and 6to4 2002::/16 (tunnelled to it). The other
 * forms (IPv4-compatible ::/96, IPv4-translated ::ffff:0:0:0/96, local-use NAT64 64:ff9b:1::/48)
 * are deprecated or operator-defined and lie outside 2000::/3, so they are refused whatever they embed.
 */
function embeddedV4(g: number[]): string | null {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) return v4(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return v4(g6, g7);
  if (g0 === 0x2002) return v4(g1, g2);
  return null;
}

function v4(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}
