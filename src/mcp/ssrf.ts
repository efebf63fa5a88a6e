// SSRF guard for URLs the Worker forwards to Crawl4AI.
//
// Pure TypeScript on top of the WHATWG URL parser only (no node:net, no DNS): it runs in workerd as well as in Node.
// The Crawl4AI 0.9 server has its own SSRF check (it resolves DNS and refuses private targets), but it protects the
// VM's network, not ours, and it can be disabled with CRAWL4AI_ALLOW_INTERNAL_URLS. This guard is the first line: it
// refuses anything that is obviously internal before the request leaves the Worker.
//
// Limits (by design, documented): without DNS we cannot see that an ordinary public-looking hostname resolves to a
// private address (DNS rebinding, split-horizon names). Those are left to Crawl4AI's server-side check, which does
// resolve names. Public IP literals are allowed: the Cloudflare edge refuses bare-IP fetches from a Worker, but here
// the Worker never fetches the URL itself; Crawl4AI on the VM does, and crawling https://1.1.1.1/ is legitimate.

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * Explicit ports a URL may carry. A URL without a port (the scheme default, 80/443) is always fine.
 *
 * Why a short list: the crawler runs on a VM next to services that must never be reachable through it – the Crawl4AI
 * API itself (11235), its Redis (6379), SSH (22), databases, metrics exporters, Docker's API (2375/2376), cloud
 * agents. Restricting ports stops the crawler being used as a port scanner against the VM and its private network,
 * even when a hostname we cannot resolve turns out to point there. 80/443 are the defaults written explicitly;
 * 8080/8443 are the common alternate HTTP/HTTPS ports that real public sites use.
 */
export const ALLOWED_PORTS: readonly number[] = Object.freeze([80, 443, 8080, 8443]);

// ------------------------------------------------------------------ hostnames

/** Exact hostnames that are always internal. */
const BLOCKED_HOSTS = new Set(['localhost', 'metadata', 'metadata.google.internal', 'instance-data', 'instance-data.ec2.internal']);

/** Suffixes (any subdomain, and the bare name) of special-use or internal-only DNS namespaces. */
const BLOCKED_SUFFIXES = [
  'localhost', // RFC 6761
  'local', // mDNS, RFC 6762
  'internal', // ICANN-reserved private TLD (also GCP/AWS internal DNS)
  'home.arpa', // RFC 8375
  'localdomain',
  'lan',
  'intranet',
  'corp',
  'home',
  'private',
  'test', // RFC 6761: never resolves publicly
  'invalid', // RFC 6761
  'onion', // RFC 7686: not reachable by a normal fetch anyway
];

/** Public names whose every subdomain resolves to a loopback address. */
const LOOPBACK_DOMAINS = ['localtest.me', 'lvh.me', 'vcap.me', 'lacolhost.com', 'localhost.direct', 'fuf.me', 'readme.localtest.me'];

/** Wildcard-DNS services that answer with the IP written inside the hostname (dotted, dashed or hex forms). */
const WILDCARD_DNS = ['nip.io', 'sslip.io', 'xip.io', 'traefik.me', 'backname.io', 'nip.direct', 'ip.addr.tools'];

function hasSuffix(host: string, suffix: string): boolean {
  return host === suffix || host.endsWith(`.${suffix}`);
}

// ------------------------------------------------------------------ IPv4

type V4 = [number, number, number, number];

function parseDottedV4(s: string): V4 | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1, 5).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return parts as V4;
}

function v4String(a: V4): string {
  return a.join('.');
}

function inV4(a: V4, net: V4, bits: number): boolean {
  const ip = ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
  const base = ((net[0] << 24) | (net[1] << 16) | (net[2] << 8) | net[3]) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (ip & mask) === (base & mask);
}

/** [network, prefix, description] – checked in order, first match wins. */
const V4_RANGES: Array<[V4, number, string]> = [
  [[169, 254, 169, 254], 32, 'the cloud instance-metadata address'],
  [[100, 100, 100, 200], 32, 'the cloud instance-metadata address'],
  [[255, 255, 255, 255], 32, 'the broadcast address'],
  [[0, 0, 0, 0], 8, "a 'this network' address"],
  [[10, 0, 0, 0], 8, 'a private address'],
  [[100, 64, 0, 0], 10, 'a carrier-grade NAT (shared) address'],
  [[127, 0, 0, 0], 8, 'a loopback address'],
  [[169, 254, 0, 0], 16, 'a link-local address'],
  [[172, 16, 0, 0], 12, 'a private address'],
  [[192, 0, 0, 0], 24, 'an IETF protocol-assignment address'],
  [[192, 0, 2, 0], 24, 'a documentation address'],
  [[192, 88, 99, 0], 24, 'a reserved (6to4 relay) address'],
  [[192, 168, 0, 0], 16, 'a private address'],
  [[198, 18, 0, 0], 15, 'a benchmarking address'],
  [[198, 51, 100, 0], 24, 'a documentation address'],
  [[203, 0, 113, 0], 24, 'a documentation address'],
  [[224, 0, 0, 0], 4, 'a multicast address'],
  [[240, 0, 0, 0], 4, 'a reserved address'],
];

function classifyV4(a: V4): string | null {
  for (const [net, bits, what] of V4_RANGES) if (inV4(a, net, bits)) return what;
  return null;
}

// ------------------------------------------------------------------ IPv6

/** Parse the (already URL-normalised) text of an IPv6 address into 8 16-bit groups. */
function parseV6(s: string): number[] | null {
  let text = s.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // embedded dotted IPv4 tail (URL serialises to hex, but accept it anyway)
  const dotted = /(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(text);
  if (dotted) {
    const v4 = parseDottedV4(dotted[1]!);
    if (!v4) return null;
    text = text.slice(0, -dotted[1]!.length) + ((v4[0] << 8) | v4[1]).toString(16) + ':' + ((v4[2] << 8) | v4[3]).toString(16);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

function v4FromGroups(hi: number, lo: number): V4 {
  return [hi >> 8, hi & 255, lo >> 8, lo & 255];
}

function classifyV6(g: number[]): string | null {
  const allZero = (from: number, to: number): boolean => g.slice(from, to).every((x) => x === 0);
  if (allZero(0, 8)) return 'the unspecified address';
  if (allZero(0, 7) && g[7] === 1) return 'a loopback address';
  // AWS IMDS over IPv6 (inside fc00::/7 too, but say what it is)
  if (g[0] === 0xfd00 && g[1] === 0x0ec2 && allZero(2, 7) && g[7] === 0x254) return 'the cloud instance-metadata address';
  // IPv4-mapped ::ffff:a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d – judge the embedded IPv4
  if ((allZero(0, 5) && g[5] === 0xffff) || (allZero(0, 4) && g[4] === 0xffff && g[5] === 0)) {
    const v4 = v4FromGroups(g[6]!, g[7]!);
    const why = classifyV4(v4);
    return why ? `an IPv4-mapped form of ${v4String(v4)}, ${why}` : null;
  }
  // deprecated IPv4-compatible ::a.b.c.d
  if (allZero(0, 6)) return 'a deprecated IPv4-compatible address';
  // NAT64 well-known prefix 64:ff9b::/96 – judge the embedded IPv4
  if (g[0] === 0x64 && g[1] === 0xff9b && allZero(2, 6)) {
    const v4 = v4FromGroups(g[6]!, g[7]!);
    const why = classifyV4(v4);
    return why ? `a NAT64 form of ${v4String(v4)}, ${why}` : null;
  }
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'a local-use NAT64 address';
  // 6to4 2002::/16 embeds an IPv4 in groups 1–2
  if (g[0] === 0x2002) {
    const v4 = v4FromGroups(g[1]!, g[2]!);
    const why = classifyV4(v4);
    return why ? `a 6to4 form of ${v4String(v4)}, ${why}` : null;
  }
  if (g[0] === 0x2001 && g[1] === 0) return 'a Teredo tunnel address';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'a documentation address';
  if (g[0] === 0x0100 && allZero(1, 4)) return 'a discard-only address';
  if ((g[0]! & 0xfe00) === 0xfc00) return 'a unique-local (private) address';
  if ((g[0]! & 0xffc0) === 0xfe80) return 'a link-local address';
  if ((g[0]! & 0xffc0) === 0xfec0) return 'a site-local address';
  if ((g[0]! & 0xff00) === 0xff00) return 'a multicast address';
  return null;
}

// ------------------------------------------------------------------ wildcard DNS

/** For nip.io-style names: the IPv4 the service would answer with, if the labels spell one. */
function embeddedV4(labels: string): V4 | null {
  const dotted = /(?:^|[.-])(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})$/.exec(labels);
  if (dotted) {
    const v4 = parseDottedV4(dotted.slice(1, 5).join('.'));
    if (v4) return v4;
  }
  const hex = /(?:^|[.-])([0-9a-f]{8})$/.exec(labels);
  if (hex) {
    const n = parseInt(hex[1]!, 16);
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  }
  return null;
}

// ------------------------------------------------------------------ main

function refuse(reason: string): UrlCheck {
  return { ok: false, reason: `refused: ${reason}` };
}

/** Add the https:// Crawl4AI would add to a bare host ("example.com/x", "localhost:8080"). */
function withScheme(input: string): string {
  // A scheme is "letters:" followed by something that is not a port number.
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)/.test(input)) return input;
  return `https://${input}`;
}

/**
 * Decide whether a URL may be handed to the crawler. Returns the parsed, normalised URL (send `url.href`, not the
 * input) or a short human reason.
 */
export function checkPublicUrl(input: string): UrlCheck {
  const trimmed = (input ?? '').trim();
  if (!trimmed) return refuse('the URL is empty');
  let url: URL;
  try {
    url = new URL(withScheme(trimmed));
  } catch {
    return refuse(`'${trimmed.slice(0, 100)}' is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return refuse(`the ${url.protocol.replace(/:$/, '')}: scheme is not allowed (only http and https)`);
  }
  if (url.username !== '' || url.password !== '') return refuse('URLs with embedded credentials (user:password@) are not allowed');
  if (url.port !== '' && !ALLOWED_PORTS.includes(Number(url.port))) {
    return refuse(`port ${url.port} is not allowed (allowed: default, ${ALLOWED_PORTS.join(', ')})`);
  }

  const hostname = url.hostname;
  if (!hostname) return refuse('the URL has no host');

  // IPv6 literal (URL keeps the brackets in hostname)
  if (hostname.startsWith('[')) {
    const groups = parseV6(hostname.slice(1, -1));
    if (!groups) return refuse(`${hostname} is not a valid IPv6 address`);
    const why = classifyV6(groups);
    return why ? refuse(`${hostname} is ${why}`) : { ok: true, url };
  }

  // IPv4 literal: the URL parser has already normalised decimal (2130706433), octal (0177.0.0.1), hex (0x7f.1),
  // short (127.1) and percent-encoded spellings to dotted-quad, or rejected the URL.
  const v4 = parseDottedV4(hostname);
  if (v4) {
    const why = classifyV4(v4);
    return why ? refuse(`${hostname} is ${why}`) : { ok: true, url };
  }

  const host = hostname.replace(/\.+$/, ''); // "localhost." is localhost
  if (!host) return refuse('the URL has no host');
  if (BLOCKED_HOSTS.has(host)) return refuse(`${host} is an internal hostname`);
  for (const s of BLOCKED_SUFFIXES) {
    if (hasSuffix(host, s)) return refuse(`${host} is in the internal-only .${s} namespace`);
  }
  if (!host.includes('.')) return refuse(`${host} is a bare single-label hostname (it would resolve on the local network)`);
  for (const d of LOOPBACK_DOMAINS) {
    if (hasSuffix(host, d)) return refuse(`${host} resolves to a loopback address (${d})`);
  }
  for (const d of WILDCARD_DNS) {
    if (!hasSuffix(host, d) || host === d) continue;
    const labels = host.slice(0, -(d.length + 1));
    const emb = embeddedV4(labels);
    if (!emb) return refuse(`${host} uses the wildcard-DNS service ${d} and its target cannot be checked`);
    const why = classifyV4(emb);
    if (why) return refuse(`${host} resolves to ${v4String(emb)}, ${why}`);
    return { ok: true, url };
  }
  return { ok: true, url };
}
