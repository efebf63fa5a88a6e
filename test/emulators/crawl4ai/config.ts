// Request validation that mirrors Crawl4AI 0.9.2's server: the untrusted-config gate (async_configs.py UNTRUSTED_*),
// URL normalisation, and its server-side SSRF check (utils.py validate_url, which resolves DNS and blocks private
// targets). The emulator's "DNS" is the fixture map plus the well-known wildcard-DNS services.

import { BlockList, isIP } from 'node:net';

export class HttpError extends Error {
  readonly status: number;
  readonly body: unknown;
  /** extra response headers */
  readonly headers: Record<string, string>;
  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    super(typeof body === 'object' && body && 'detail' in body ? String((body as { detail: unknown }).detail) : `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

export const ALLOWED_TYPES = new Set([
  'CrawlerRunConfig', 'BrowserConfig', 'HTTPCrawlerConfig', 'GeolocationConfig', 'VirtualScrollConfig', 'LinkPreviewConfig',
  'JsonCssExtractionStrategy', 'JsonXPathExtractionStrategy', 'JsonLxmlExtractionStrategy', 'RegexExtractionStrategy',
  'CosineStrategy', 'DefaultMarkdownGenerator', 'PruningContentFilter', 'BM25ContentFilter', 'LXMLWebScrapingStrategy',
  'PDFContentScrapingStrategy', 'RegexChunking', 'DefaultTableExtraction', 'NoTableExtraction', 'CacheMode', 'MatchMode',
  'DisplayMode',
]);

export const FORBIDDEN_CRAWLER_FIELDS = [
  'js_code', 'js_code_before_wait', 'c4a_script', 'deep_crawl_strategy', 'proxy', 'proxy_config', 'proxy_rotation_strategy',
  'proxy_session_id', 'proxy_session_ttl', 'proxy_session_auto_release', 'fallback_fetch_function', 'experimental', 'base_url',
  'simulate_user', 'override_navigator', 'magic', 'process_in_browser', 'shared_data', 'session_id',
] as const;

export const FORBIDDEN_BROWSER_FIELDS = [
  'proxy', 'proxy_config', 'extra_args', 'user_data_dir', 'channel', 'chrome_channel', 'cdp_url', 'debugging_port', 'host',
  'storage_state', 'cookies', 'headers', 'init_scripts', 'browser_context_id', 'target_id',
] as const;

const FORBIDDEN: Record<string, readonly string[]> = {
  CrawlerRunConfig: FORBIDDEN_CRAWLER_FIELDS,
  BrowserConfig: FORBIDDEN_BROWSER_FIELDS,
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `{type, params}` (or `{type:'dict', value}`) – the serialized-object form of from_serializable_dict. */
function isTyped(v: unknown): v is { type: string; params?: unknown; value?: unknown } {
  return isPlainObject(v) && typeof v.type === 'string' && ('params' in v || (v.type === 'dict' && 'value' in v));
}

function rejectField(cls: string, field: string): never {
  throw new HttpError(400, { detail: `Rejected config: field '${field}' is not permitted on ${cls} from an untrusted request` });
}

function rejectType(type: string): never {
  throw new HttpError(400, { detail: `Rejected config: type '${type}' may not be constructed from an untrusted request` });
}

function checkFields(cls: string, params: Record<string, unknown>): void {
  const forbidden = FORBIDDEN[cls];
  if (!forbidden) return;
  for (const key of Object.keys(params)) {
    if (forbidden.includes(key) || (cls === 'CrawlerRunConfig' && key.startsWith('proxy_'))) rejectField(cls, key);
  }
}

function walkTypes(v: unknown): void {
  if (Array.isArray(v)) {
    v.forEach(walkTypes);
    return;
  }
  if (!isPlainObject(v)) return;
  if (isTyped(v)) {
    if (v.type === 'dict') return; // raw dict payload (e.g. a CSS schema) - data, not objects
    if (!ALLOWED_TYPES.has(v.type)) rejectType(v.type);
    if (isPlainObject(v.params)) {
      checkFields(v.type, v.params);
      for (const val of Object.values(v.params)) walkTypes(val);
    }
    return;
  }
  for (const val of Object.values(v)) walkTypes(val);
}

/**
 * Validate a browser_config / crawler_config (typed or plain) and return its flat params. Throws HttpError(400)
 * exactly like the 0.9 untrusted gate.
 */
export function gateConfig(cls: 'CrawlerRunConfig' | 'BrowserConfig', cfg: unknown): Record<string, unknown> {
  if (cfg === undefined || cfg === null) return {};
  if (!isPlainObject(cfg)) return {};
  let params: Record<string, unknown>;
  if (isTyped(cfg)) {
    if (!ALLOWED_TYPES.has(cfg.type)) rejectType(cfg.type);
    params = isPlainObject(cfg.params) ? cfg.params : {};
    checkFields(cfg.type, params);
  } else {
    params = cfg;
    checkFields(cls, params);
  }
  for (const val of Object.values(params)) walkTypes(val);
  return params;
}

/** Unwrap `{type:'dict', value}` and `{type:'CacheMode', params:'bypass'}` style values. */
export function unwrap(v: unknown): unknown {
  if (isPlainObject(v) && v.type === 'dict' && 'value' in v) return unwrap(v.value);
  if (isPlainObject(v) && typeof v.type === 'string' && 'params' in v && typeof v.params !== 'object') return v.params;
  return v;
}

export { isPlainObject };

// ------------------------------------------------------------------ 422 validation (FastAPI / pydantic v2 shapes)

export interface ValidationIssue {
  type: string;
  loc: Array<string | number>;
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

export function unprocessable(issues: ValidationIssue[]): HttpError {
  return new HttpError(422, { detail: issues });
}

export function validateUrlsField(body: Record<string, unknown>, opts: { httpUrl?: boolean } = {}): string[] {
  const urls = body.urls;
  if (!('urls' in body)) throw unprocessable([{ type: 'missing', loc: ['body', 'urls'], msg: 'Field required', input: body }]);
  if (!Array.isArray(urls)) {
    throw unprocessable([{ type: 'list_type', loc: ['body', 'urls'], msg: 'Input should be a valid list', input: urls }]);
  }
  if (urls.length < 1) {
    throw unprocessable([
      {
        type: 'too_short',
        loc: ['body', 'urls'],
        msg: `List should have at least 1 item after validation, not ${urls.length}`,
        input: urls,
        ctx: { field_type: 'List', min_length: 1, actual_length: urls.length },
      },
    ]);
  }
  if (urls.length > 100) {
    throw unprocessable([
      {
        type: 'too_long',
        loc: ['body', 'urls'],
        msg: `List should have at most 100 items after validation, not ${urls.length}`,
        input: urls,
        ctx: { field_type: 'List', max_length: 100, actual_length: urls.length },
      },
    ]);
  }
  const issues: ValidationIssue[] = [];
  const out: string[] = [];
  urls.forEach((u, i) => {
    if (typeof u !== 'string') {
      issues.push({ type: 'string_type', loc: ['body', 'urls', i], msg: 'Input should be a valid string', input: u });
      return;
    }
    if (opts.httpUrl) {
      // pydantic HttpUrl: absolute http(s) URL, normalised (adds the trailing '/')
      let parsed: URL | null = null;
      try {
        parsed = new URL(u);
      } catch {
        issues.push({
          type: 'url_parsing',
          loc: ['body', 'urls', i],
          msg: 'Input should be a valid URL, relative URL without a base',
          input: u,
          ctx: { error: 'relative URL without a base' },
        });
        return;
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        issues.push({
          type: 'url_scheme',
          loc: ['body', 'urls', i],
          msg: "URL scheme should be 'http' or 'https'",
          input: u,
          ctx: { expected_schemes: "'http' or 'https'" },
        });
        return;
      }
      out.push(parsed.href);
      return;
    }
    out.push(u);
  });
  if (issues.length) throw unprocessable(issues);
  return out;
}

export function requireStringField(body: Record<string, unknown>, field: string): string {
  if (!(field in body)) throw unprocessable([{ type: 'missing', loc: ['body', field], msg: 'Field required', input: body }]);
  const v = body[field];
  if (typeof v !== 'string') throw unprocessable([{ type: 'string_type', loc: ['body', field], msg: 'Input should be a valid string', input: v }]);
  return v;
}

// ------------------------------------------------------------------ URL normalisation + server-side SSRF check

export function isRawUrl(u: string): boolean {
  return u.startsWith('raw:') || u.startsWith('raw://');
}

/** /crawl: bare hosts get an https:// prefix (api.py); other schemes are refused with the 0.9 message. */
export function normalizeCrawlUrl(u: string): string {
  const s = u.trim();
  if (isRawUrl(s) || s.startsWith('http://') || s.startsWith('https://')) return s;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)/.test(s)) throw badScheme();
  return `https://${s}`;
}

export function badScheme(): HttpError {
  return new HttpError(400, { detail: 'URL must start with http://, https://' });
}

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

function privateIp(ip: string): boolean {
  const fam = isIP(ip);
  if (fam === 4) return PRIVATE.check(ip, 'ipv4');
  if (fam === 6) {
    const lower = ip.toLowerCase();
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
    if (mapped) {
      const hi = parseInt(mapped[1]!, 16);
      const lo = parseInt(mapped[2]!, 16);
      return privateIp(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
    }
    const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    if (dotted) return privateIp(dotted[1]!);
    return PRIVATE.check(ip, 'ipv6');
  }
  return false;
}

const LOOPBACK_NAMES = ['localtest.me', 'lvh.me', 'vcap.me', 'localhost.direct', 'lacolhost.com'];
const WILDCARD_DNS = ['nip.io', 'sslip.io', 'xip.io', 'traefik.me'];

/**
 * The emulator's stand-in for DNS: returns the address a host would resolve to when that address is private (the
 * only case the SSRF check cares about), or null.
 */
function resolvesPrivate(host: string): string | null {
  const h = host.replace(/\.+$/, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return '127.0.0.1';
  if (h === 'metadata.google.internal' || h === 'metadata' || h === 'instance-data') return '169.254.169.254';
  if (LOOPBACK_NAMES.some((n) => h === n || h.endsWith(`.${n}`))) return '127.0.0.1';
  const svc = WILDCARD_DNS.find((n) => h.endsWith(`.${n}`));
  if (svc) {
    const label = h.slice(0, -svc.length - 1);
    const dotted = /(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})$/.exec(label);
    if (dotted) {
      const ip = dotted.slice(1, 5).join('.');
      if (isIP(ip) && privateIp(ip)) return ip;
    }
    const hex = /(?:^|[.-])([0-9a-f]{8})$/.exec(label);
    if (hex) {
      const n = parseInt(hex[1]!, 16);
      const ip = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
      if (privateIp(ip)) return ip;
    }
  }
  return null;
}

/** Throws HttpError(400, "URL blocked (SSRF protection): ...") when the target is internal. */
export function ssrfCheck(rawUrl: string): void {
  if (isRawUrl(rawUrl)) return;
  let u: URL;
  try {
    u = new URL(rawUrl);
  } catch {
    throw new HttpError(400, { detail: `URL blocked (SSRF protection): could not parse URL '${rawUrl}'` });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badScheme();
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  if (isIP(host)) {
    if (privateIp(host)) {
      throw new HttpError(400, { detail: `URL blocked (SSRF protection): ${host} is a private, loopback, link-local or reserved address` });
    }
    return;
  }
  const ip = resolvesPrivate(host);
  if (ip) {
    throw new HttpError(400, { detail: `URL blocked (SSRF protection): ${host} resolves to private/reserved address ${ip}` });
  }
}
