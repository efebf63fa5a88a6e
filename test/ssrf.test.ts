import { describe, expect, it } from 'vitest';

import { ALLOWED_PORTS, checkPublicUrl } from '../src/mcp/ssrf.js';

// [input, substring expected in the reason]
const REFUSED: Array<[string, string]> = [
  // schemes
  ['file:///etc/passwd', 'file: scheme'],
  ['ftp://example.com/x', 'ftp: scheme'],
  ['javascript:alert(1)', 'javascript: scheme'],
  ['data:text/html,<h1>x</h1>', 'data: scheme'],
  ['gopher://example.com:70/_x', 'gopher: scheme'],
  ['ws://example.com/socket', 'ws: scheme'],
  ['blob:https://example.com/uuid', 'blob: scheme'],
  ['view-source:https://example.com/', 'view-source: scheme'],
  // credentials
  ['https://user:pass@example.com/', 'credentials'],
  ['https://user@example.com/', 'credentials'],
  ['https://example.com@127.0.0.1/', 'credentials'],
  // ports
  ['http://example.com:22/', 'port 22'],
  ['http://example.com:6379/', 'port 6379'],
  ['https://example.com:11235/crawl', 'port 11235'],
  ['http://example.com:2375/containers/json', 'port 2375'],
  // internal hostnames
  ['http://localhost/', 'localhost is an internal hostname'],
  ['http://LOCALHOST./admin', 'localhost is an internal hostname'],
  ['localhost:8080/x', 'localhost is an internal hostname'],
  ['http://api.localhost/', '.localhost namespace'],
  ['http://printer.local/', '.local namespace'],
  ['http://db.internal/', '.internal namespace'],
  ['http://metadata.google.internal/computeMetadata/v1/', 'internal'],
  ['http://metadata/computeMetadata/v1/', 'metadata is an internal hostname'],
  ['http://instance-data/latest/meta-data/', 'instance-data is an internal hostname'],
  ['http://router.home.arpa/', '.home.arpa namespace'],
  ['http://fileserver/', 'single-label'],
  ['http://intranet/', '.intranet namespace'],
  ['https://wiki/', 'single-label'],
  ['http://server.lan/', '.lan namespace'],
  // IPv4 in all spellings
  ['http://127.0.0.1/', 'loopback'],
  ['http://127.1/', '127.0.0.1 is a loopback'],
  ['http://2130706433/', '127.0.0.1 is a loopback'],
  ['http://0177.0.0.1/', '127.0.0.1 is a loopback'],
  ['http://0x7f.1/', '127.0.0.1 is a loopback'],
  ['http://0x7f000001/', '127.0.0.1 is a loopback'],
  ['http://%31%32%37.0.0.1/', '127.0.0.1 is a loopback'],
  ['http://127。0。0。1/', '127.0.0.1 is a loopback'],
  ['http://127.0.0.1.:8080/', 'loopback'],
  ['https:\\\\127.0.0.1\\x', 'loopback'],
  ['http://0/', "0.0.0.0 is a 'this network' address"],
  ['http://0.0.0.0:8080/', "'this network'"],
  ['http://10.0.0.1/', 'refused: 10.0.0.1 is a private address'],
  ['http://10.255.255.255/', 'private'],
  ['http://100.64.0.1/', 'carrier-grade NAT'],
  ['http://100.127.255.254/', 'carrier-grade NAT'],
  ['http://169.254.169.254/latest/meta-data/', 'metadata'],
  ['http://169.254.1.1/', 'link-local'],
  ['http://100.100.100.200/latest/meta-data/', 'metadata'],
  ['http://172.16.0.1/', 'private'],
  ['http://172.31.255.255/', 'private'],
  ['http://192.0.0.8/', 'IETF protocol-assignment'],
  ['http://192.0.2.10/', 'documentation'],
  ['http://192.168.1.1/', 'private'],
  ['http://198.18.0.1/', 'benchmarking'],
  ['http://198.19.255.1/', 'benchmarking'],
  ['http://198.51.100.7/', 'documentation'],
  ['http://203.0.113.9/', 'documentation'],
  ['http://224.0.0.1/', 'multicast'],
  ['http://239.255.255.250/', 'multicast'],
  ['http://240.0.0.1/', 'reserved'],
  ['http://255.255.255.255/', 'broadcast'],
  // IPv6
  ['http://[::]/', 'unspecified'],
  ['http://[::1]/', '[::1] is a loopback address'],
  ['http://[0:0:0:0:0:0:0:1]:8080/', 'loopback'],
  ['http://[fc00::1]/', 'unique-local'],
  ['http://[fd12:3456:789a::1]/', 'unique-local'],
  ['http://[fd00:ec2::254]/latest/meta-data/', 'metadata'],
  ['http://[fe80::1]/', 'link-local'],
  ['http://[febf::1]/', 'link-local'],
  ['http://[ff02::1]/', 'multicast'],
  ['http://[::ffff:127.0.0.1]/', 'IPv4-mapped form of 127.0.0.1'],
  ['http://[::ffff:7f00:1]/', 'IPv4-mapped form of 127.0.0.1'],
  ['http://[::ffff:a9fe:a9fe]/', '169.254.169.254'],
  ['http://[::ffff:0:10.0.0.1]/', '10.0.0.1'],
  ['http://[::127.0.0.1]/', 'IPv4-compatible'],
  ['http://[64:ff9b::10.0.0.1]/', 'NAT64 form of 10.0.0.1'],
  ['http://[64:ff9b::a9fe:a9fe]/', 'NAT64 form of 169.254.169.254'],
  ['http://[2001:db8::1]/', 'documentation'],
  ['http://[2002:7f00:1::1]/', '6to4 form of 127.0.0.1'],
  // wildcard DNS services
  ['http://127.0.0.1.nip.io/', 'resolves to 127.0.0.1'],
  ['http://app.10.0.0.1.nip.io/', 'resolves to 10.0.0.1'],
  ['http://10-0-0-1.sslip.io/', 'resolves to 10.0.0.1'],
  ['http://app-192-168-0-1.sslip.io:8080/', 'resolves to 192.168.0.1'],
  ['http://7f000001.nip.io/', 'resolves to 127.0.0.1'],
  ['http://169.254.169.254.xip.io/', 'metadata'],
  ['http://anything.nip.io/', 'wildcard-DNS'],
  ['http://localtest.me/', 'loopback'],
  ['http://www.localtest.me/', 'loopback'],
  ['http://foo.lvh.me:8080/', 'loopback'],
  // garbage
  ['', 'empty'],
  ['http://', 'not a valid URL'],
  ['http://[::1/', 'not a valid URL'],
  ['http://256.256.256.256/', 'not a valid URL'],
];

const ALLOWED: Array<[string, string]> = [
  // [input, expected normalised href]
  ['https://example.com', 'https://example.com/'],
  ['http://example.com:8080/x', 'http://example.com:8080/x'],
  ['https://example.com:8443/a?b=c#d', 'https://example.com:8443/a?b=c#d'],
  ['https://example.com:443/', 'https://example.com/'],
  ['http://example.com:80/', 'http://example.com/'],
  ['example.com/docs', 'https://example.com/docs'],
  ['https://docs.example.com/guide/', 'https://docs.example.com/guide/'],
  ['https://münchen.de/', 'https://xn--mnchen-3ya.de/'],
  ['https://例え.テスト/', 'https://xn--r8jz45g.xn--zckzah/'],
  ['https://xn--mnchen-3ya.de/', 'https://xn--mnchen-3ya.de/'],
  ['https://1.1.1.1/', 'https://1.1.1.1/'],
  ['http://8.8.8.8:8080/dns', 'http://8.8.8.8:8080/dns'],
  ['http://[2606:4700:4700::1111]/', 'http://[2606:4700:4700::1111]/'],
  ['http://[::ffff:1.1.1.1]/', 'http://[::ffff:101:101]/'],
  ['http://[64:ff9b::8.8.8.8]/', 'http://[64:ff9b::808:808]/'],
  ['https://1.1.1.1.nip.io/', 'https://1.1.1.1.nip.io/'],
  ['https://172.32.0.1/', 'https://172.32.0.1/'],
  ['https://100.128.0.1/', 'https://100.128.0.1/'],
  ['  https://example.org/trim  ', 'https://example.org/trim'],
  ['HTTPS://EXAMPLE.COM/Path', 'https://example.com/Path'],
  ['https://localhost.example.com/', 'https://localhost.example.com/'],
  ['https://github.com/unclecode/crawl4ai', 'https://github.com/unclecode/crawl4ai'],
];

describe('checkPublicUrl', () => {
  it('has a big enough corpus', () => {
    expect(REFUSED.length).toBeGreaterThanOrEqual(40);
    expect(ALLOWED.length).toBeGreaterThanOrEqual(10);
  });

  it.each(REFUSED)('refuses %s', (input, why) => {
    const r = checkPublicUrl(input);
    expect(r.ok, `expected ${JSON.stringify(input)} to be refused`).toBe(false);
    if (!r.ok) {
      expect(r.reason.startsWith('refused: ')).toBe(true);
      expect(r.reason).toContain(why);
      expect(r.reason.length).toBeLessThan(200);
    }
  });

  it.each(ALLOWED)('allows %s', (input, href) => {
    const r = checkPublicUrl(input);
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    if (r.ok) expect(r.url.href).toBe(href);
  });

  it('exports the allowed ports', () => {
    expect([...ALLOWED_PORTS].sort((a, b) => a - b)).toEqual([80, 443, 8080, 8443]);
    expect(Object.isFrozen(ALLOWED_PORTS)).toBe(true);
  });

  it('gives the short reason from the spec', () => {
    expect(checkPublicUrl('http://10.0.0.1/')).toEqual({ ok: false, reason: 'refused: 10.0.0.1 is a private address' });
  });

  it('never throws on odd input', () => {
    for (const s of ['\u0000', 'http://\u0000/', '://', '[', 'http://[', 'https://%zz/', 'a'.repeat(5000), 'http://a b/']) {
      expect(() => checkPublicUrl(s)).not.toThrow();
      expect(checkPublicUrl(s).ok).toBe(false);
    }
  });
});
