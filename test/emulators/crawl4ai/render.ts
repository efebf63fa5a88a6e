// The emulator's "browser": resolves a URL against the fixture map and turns the HTML into a Crawl4AI 0.9.2
// CrawlResult (crawl4ai/models.py CrawlResult.model_dump shape).

import { renderPdf, renderScreenshot } from './binary.ts';
import { HttpError, isPlainObject, isRawUrl, unwrap } from './config.ts';
import {
  absolutize, cleanText, findFirst, matches, outerHtml, parseHtml, selectAll, selectOne, SelectorError, textContent, toMarkdown,
  walk, type DomNode, type ElementNode,
} from './dom.ts';
import { robotsDisallows, type FixturePage, type FixtureSite } from './fixtures.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface ContentFilter {
  kind: 'pruning' | 'bm25';
  query?: string;
}

export interface CssExtraction {
  kind: 'css';
  schema: Record<string, unknown>;
}

/** The subset of CrawlerRunConfig the emulator understands (everything else is accepted and ignored). */
export interface RunConfig {
  cssSelector?: string;
  targetElements?: string[];
  excludedTags?: string[];
  excludedSelector?: string;
  screenshot?: boolean;
  pdf?: boolean;
  captureMhtml?: boolean;
  checkRobotsTxt?: boolean;
  stream?: boolean;
  contentFilter?: ContentFilter;
  extraction?: CssExtraction | { kind: 'unsupported'; type: string };
  excludeExternalLinks?: boolean;
  excludeSocialMediaLinks?: boolean;
  excludeDomains?: string[];
  pageTimeoutMs: number;
  cacheMode: string;
}

const SOCIAL = ['facebook.com', 'twitter.com', 'x.com', 'linkedin.com', 'instagram.com', 'pinterest.com', 'tiktok.com', 'snapchat.com', 'reddit.com'];

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function strList(v: unknown): string[] | undefined {
  const u = unwrap(v);
  if (Array.isArray(u)) return u.filter((x): x is string => typeof x === 'string');
  if (typeof u === 'string') return [u];
  return undefined;
}

function typedParams(v: unknown, field: string): { type: string; params: Record<string, unknown> } {
  if (isPlainObject(v) && typeof v.type === 'string' && 'params' in v) {
    return { type: v.type, params: isPlainObject(v.params) ? v.params : {} };
  }
  // Crawl4AI would build CrawlerRunConfig with a raw dict here and crash inside arun() -> every URL fails -> 500.
  throw new HttpError(500, {
    error: 'Internal server error',
    correlation_id: '',
    _emulator_note: `${field} must be a typed object {type, params}; a plain dict crashes the real server`,
  });
}

export function parseRunConfig(params: Record<string, unknown>): RunConfig {
  const cfg: RunConfig = { pageTimeoutMs: 60_000, cacheMode: 'bypass' };
  const cs = str(params.css_selector);
  if (cs) cfg.cssSelector = cs;
  const te = strList(params.target_elements);
  if (te?.length) cfg.targetElements = te;
  const et = strList(params.excluded_tags);
  if (et?.length) cfg.excludedTags = et.map((t) => t.toLowerCase());
  const es = str(params.excluded_selector);
  if (es) cfg.excludedSelector = es;
  if (params.screenshot === true) cfg.screenshot = true;
  if (params.pdf === true) cfg.pdf = true;
  if (params.capture_mhtml === true) cfg.captureMhtml = true;
  if (params.check_robots_txt === true) cfg.checkRobotsTxt = true;
  if (params.stream === true) cfg.stream = true;
  if (params.exclude_external_links === true) cfg.excludeExternalLinks = true;
  if (params.exclude_social_media_links === true) cfg.excludeSocialMediaLinks = true;
  const ed = strList(params.exclude_domains);
  if (ed?.length) cfg.excludeDomains = ed.map((d) => d.toLowerCase());
  if (typeof params.page_timeout === 'number' && params.page_timeout > 0) cfg.pageTimeoutMs = Math.min(60_000, params.page_timeout);
  const cm = unwrap(params.cache_mode);
  if (typeof cm === 'string') cfg.cacheMode = cm.toLowerCase();
  if (params.markdown_generator !== undefined && params.markdown_generator !== null) {
    const mg = typedParams(params.markdown_generator, 'markdown_generator');
    const cf = mg.params.content_filter;
    if (cf !== undefined && cf !== null) {
      const f = typedParams(cf, 'content_filter');
      if (f.type === 'PruningContentFilter') cfg.contentFilter = { kind: 'pruning' };
      else if (f.type === 'BM25ContentFilter') {
        cfg.contentFilter = { kind: 'bm25' };
        const q = str(f.params.user_query);
        if (q) cfg.contentFilter.query = q;
      }
    }
  }
  if (params.extraction_strategy !== undefined && params.extraction_strategy !== null) {
    const es2 = typedParams(params.extraction_strategy, 'extraction_strategy');
    if (es2.type === 'JsonCssExtractionStrategy') {
      const schema = unwrap(es2.params.schema);
      if (!isPlainObject(schema)) {
        throw new HttpError(500, { error: 'Internal server error', correlation_id: '', _emulator_note: 'JsonCssExtractionStrategy needs params.schema' });
      }
      cfg.extraction = { kind: 'css', schema };
    } else cfg.extraction = { kind: 'unsupported', type: es2.type };
  }
  return cfg;
}

// ------------------------------------------------------------------ fixture "network"

export interface World {
  sites: Map<string, FixtureSite>;
  pages: Map<string, FixturePage>;
  slowMs: number;
}

type Fetched =
  | { kind: 'ok'; status: number; body: string; contentType: string; finalUrl: string; redirected: boolean; page?: FixturePage; slow?: boolean }
  | { kind: 'neterr'; code: string }
  | { kind: 'broken'; status: number; finalUrl: string };

function pageKey(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

export function resolveUrl(world: World, url: string): Fetched {
  if (isRawUrl(url)) {
    const body = url.startsWith('raw://') ? url.slice(6) : url.slice(4);
    return { kind: 'ok', status: 200, body, contentType: 'text/html', finalUrl: url, redirected: false };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { kind: 'neterr', code: 'net::ERR_INVALID_URL' };
  }
  let redirected = false;
  for (let hop = 0; hop < 6; hop++) {
    const site = world.sites.get(u.host) ?? (u.port === '' ? undefined : undefined);
    if (!site) {
      const bare = u.hostname.replace(/^\[|\]$/g, '');
      const isIpLiteral = /^[\d.]+$/.test(bare) || bare.includes(':');
      return { kind: 'neterr', code: isIpLiteral ? 'net::ERR_CONNECTION_REFUSED' : 'net::ERR_NAME_NOT_RESOLVED' };
    }
    if (u.pathname === '/robots.txt' && site.robotsTxt !== undefined) {
      return { kind: 'ok', status: 200, body: site.robotsTxt, contentType: 'text/plain; charset=utf-8', finalUrl: u.href, redirected };
    }
    if (u.pathname === '/sitemap.xml' && site.sitemapXml !== undefined) {
      return { kind: 'ok', status: 200, body: site.sitemapXml, contentType: 'application/xml', finalUrl: u.href, redirected };
    }
    let page = world.pages.get(pageKey(u));
    if (!page) {
      // /guide -> /guide/ (and back) like a typical static host
      const alt = new URL(u.href);
      alt.pathname = u.pathname.endsWith('/') ? u.pathname.replace(/\/+$/, '') || '/' : `${u.pathname}/`;
      if (alt.pathname !== u.pathname && world.pages.has(pageKey(alt))) {
        u = alt;
        redirected = true;
        continue;
      }
      const body = `<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>The requested URL ${u.pathname} was not found on this server.</p></body></html>`;
      return { kind: 'ok', status: 404, body, contentType: 'text/html; charset=utf-8', finalUrl: u.href, redirected };
    }
    if (page.redirectTo) {
      u = new URL(page.redirectTo);
      redirected = true;
      continue;
    }
    if (page.broken) return { kind: 'broken', status: page.status, finalUrl: u.href };
    const r: Fetched = { kind: 'ok', status: page.status, body: page.body, contentType: page.contentType, finalUrl: u.href, redirected, page };
    if (page.slow) r.slow = true;
    return r;
  }
  return { kind: 'neterr', code: 'net::ERR_TOO_MANY_REDIRECTS' };
}

// ------------------------------------------------------------------ CrawlResult

const domCache = new WeakMap<FixturePage, ElementNode>();
const screenshotCache = new Map<string, string>();
const pdfCache = new Map<string, Buffer>();

function domFor(page: FixturePage | undefined, body: string): ElementNode {
  if (!page) return parseHtml(body);
  let d = domCache.get(page);
  if (!d) {
    d = parseHtml(page.body);
    domCache.set(page, d);
  }
  return d;
}

/** registrable domain, simplified to the last two labels (Crawl4AI get_base_domain) */
export function baseDomain(host: string): string {
  const h = host.toLowerCase().replace(/^www\./, '').replace(/:\d+$/, '');
  if (/^[\d.]+$/.test(h) || h.includes(':')) return h;
  const parts = h.split('.');
  return parts.slice(-2).join('.');
}

const LINK_PATTERN = /!?\[([^\]]+)\]\(([^)]+?)(?:\s+"([^"]*)")?\)/g;

/** DefaultMarkdownGenerator.convert_links_to_citations */
export function convertLinksToCitations(markdown: string): { withCitations: string; references: string } {
  const map = new Map<string, { num: number; desc: string }>();
  let counter = 1;
  const withCitations = markdown.replace(LINK_PATTERN, (all, text: string, url: string, title: string | undefined) => {
    if (!map.has(url)) {
      const desc: string[] = [];
      if (title) desc.push(title);
      if (text && text !== title) desc.push(text);
      map.set(url, { num: counter++, desc: desc.length ? `: ${desc.join(' - ')}` : '' });
    }
    const num = map.get(url)!.num;
    return all.startsWith('!') ? `![${text}⟨${num}⟩]` : `${text}⟨${num}⟩`;
  });
  const refs = ['\n\n## References\n\n'];
  for (const [url, { num, desc }] of map) refs.push(`⟨${num}⟩ ${url}${desc}\n`);
  return { withCitations, references: refs.join('') };
}

const NOISE_RE = /(^|[\s_-])(nav|menu|sidebar|footer|header|cookie|banner|breadcrumb|social|share|advert|ads)([\s_-]|$)/i;
const NOISE_TAGS = new Set(['nav', 'header', 'footer', 'aside', 'form', 'noscript']);

function isNoise(n: ElementNode): boolean {
  return NOISE_TAGS.has(n.tag) || NOISE_RE.test(n.attrs.class ?? '') || NOISE_RE.test(n.attrs.id ?? '');
}

function tokens(s: string): string[] {
  return s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((t) => t.length >= 2);
}

interface FitResult {
  fitMarkdown: string;
  fitHtml: string;
}

function applyContentFilter(
  filter: ContentFilter,
  scope: ElementNode[],
  skip: (n: ElementNode) => boolean,
  baseUrl: string,
  fallbackQuery: string,
): FitResult {
  const skipNoise = (n: ElementNode): boolean => skip(n) || isNoise(n);
  if (filter.kind === 'pruning') {
    const md = scope.map((e) => toMarkdown(e, { baseUrl, skip: skipNoise })).join('');
    const html = scope.map((e) => outerHtml(e, (n) => skipNoise(n) || n.tag === 'script' || n.tag === 'style')).join('');
    return { fitMarkdown: md, fitHtml: html };
  }
  // BM25-ish: keep the leaf blocks that mention any query term.
  const q = new Set(tokens(filter.query ?? fallbackQuery));
  const blocks: ElementNode[] = [];
  const BLOCKS = new Set(['p', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'pre', 'td', 'blockquote']);
  const visit = (n: ElementNode): void => {
    if (skipNoise(n)) return;
    if (BLOCKS.has(n.tag)) {
      if (tokens(textContent(n)).some((t) => q.has(t))) blocks.push(n);
      return;
    }
    for (const c of n.children) if (c.kind === 'element') visit(c);
  };
  scope.forEach(visit);
  return {
    fitMarkdown: blocks.map((b) => toMarkdown(b, { baseUrl, skip })).join(''),
    fitHtml: blocks.map((b) => outerHtml(b, skip)).join(''),
  };
}

// JsonCssExtractionStrategy
function extractField(el: ElementNode, field: Record<string, unknown>): Json | undefined {
  const type = str(field.type) ?? 'text';
  const dflt = (field.default ?? undefined) as Json | undefined;
  const sel = str(field.selector);
  if (type === 'nested') {
    const t = sel ? selectOne(el, sel) : el;
    return t ? extractItem(t, (field.fields as Array<Record<string, unknown>>) ?? []) : dflt;
  }
  if (type === 'list' || type === 'nested_list') {
    if (!sel) return dflt;
    const els = selectAll(el, sel);
    const sub = (field.fields as Array<Record<string, unknown>>) ?? [];
    if (type === 'list' && sub.length === 0) return els.map((e) => bsText(e));
    return els.map((e) => extractItem(e, sub));
  }
  const t = sel ? selectOne(el, sel) : el;
  if (!t) return dflt;
  let value: Json | undefined;
  if (type === 'text') value = bsText(t);
  else if (type === 'attribute') value = t.attrs[str(field.attribute) ?? ''] ?? undefined;
  else if (type === 'html') value = outerHtml(t);
  else if (type === 'regex') {
    const m = new RegExp(str(field.pattern) ?? '(.*)').exec(bsText(t));
    value = m ? (m[1] ?? m[0]) : undefined;
  } else value = bsText(t);
  return value === undefined ? dflt : value;
}

/** BeautifulSoup get_text(strip=True): each text node stripped, concatenated without a separator */
function bsText(n: DomNode): string {
  const parts: string[] = [];
  const rec = (x: DomNode): void => {
    if (x.kind === 'text') {
      const t = x.text.trim();
      if (t) parts.push(t);
    } else if (x.tag !== 'script' && x.tag !== 'style') x.children.forEach(rec);
  };
  rec(n);
  return parts.join('');
}

function extractItem(el: ElementNode, fields: Array<Record<string, unknown>>): { [k: string]: Json } {
  const item: { [k: string]: Json } = {};
  for (const f of fields) {
    const name = str(f.name);
    if (!name) continue;
    const v = extractField(el, f);
    if (v !== undefined && v !== null) item[name] = v;
  }
  return item;
}

export function runCssExtraction(root: ElementNode, schema: Record<string, unknown>): Json[] {
  const base = str(schema.baseSelector);
  if (!base) return [];
  const out: Json[] = [];
  for (const el of selectAll(root, base)) {
    const item: { [k: string]: Json } = {};
    for (const f of (schema.baseFields as Array<Record<string, unknown>>) ?? []) {
      const name = str(f.name);
      const v = extractField(el, f);
      if (name && v !== undefined && v !== null) item[name] = v;
    }
    Object.assign(item, extractItem(el, (schema.fields as Array<Record<string, unknown>>) ?? []));
    if (Object.keys(item).length) out.push(item);
  }
  return out;
}

function metadataOf(dom: ElementNode): { [k: string]: Json } {
  const head = findFirst(dom, 'head') ?? dom;
  const md: { [k: string]: Json } = { title: null, description: null, keywords: null, author: null };
  const title = findFirst(head, 'title') ?? findFirst(dom, 'title');
  if (title) md.title = cleanText(title);
  for (const m of selectAll(head, 'meta')) {
    const name = (m.attrs.name ?? m.attrs.property ?? '').toLowerCase();
    if (!name || m.attrs.content === undefined) continue;
    if (['description', 'keywords', 'author'].includes(name) || name.startsWith('og:') || name.startsWith('twitter:')) {
      md[name] = m.attrs.content;
    }
  }
  return md;
}

export function failedResult(url: string, error: string, status: number | null, headers: Record<string, string> = {}): { [k: string]: Json } {
  return {
    url,
    html: '',
    fit_html: null,
    success: false,
    cleaned_html: null,
    media: {},
    links: {},
    downloaded_files: null,
    js_execution_result: null,
    screenshot: null,
    pdf: null,
    mhtml: null,
    markdown: null,
    extracted_content: null,
    metadata: null,
    error_message: error,
    session_id: null,
    response_headers: headers,
    status_code: status,
    ssl_certificate: null,
    dispatch_result: null,
    redirected_url: null,
    redirected_status_code: null,
    network_requests: null,
    console_messages: null,
    tables: [],
    head_fingerprint: null,
    cached_at: null,
    cache_status: null,
    crawl_stats: { attempts: 1, retries: 0, proxies_used: [], resolved_by: null },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export interface CrawlCtx {
  world: World;
  cache: Map<string, number>;
  signal?: AbortSignal;
}

function gotoError(url: string, code: string): string {
  return `Failed on navigating ACS-GOTO:\nPage.goto: ${code} at ${url}\nCall log:\n  - navigating to "${url}", waiting until "domcontentloaded"\n`;
}

/** Crawl one URL. Never throws for per-URL failures: they come back as success:false results. */
export async function crawlOne(url: string, cfg: RunConfig, ctx: CrawlCtx): Promise<{ [k: string]: Json }> {
  const { world } = ctx;
  if (cfg.checkRobotsTxt && !isRawUrl(url)) {
    try {
      const u = new URL(url);
      const site = world.sites.get(u.host);
      if (site && robotsDisallows(site.robotsTxt, u.pathname)) {
        return failedResult(url, 'Access denied by robots.txt', 403, { 'X-Robots-Status': 'Blocked by robots.txt' });
      }
    } catch {
      /* handled below */
    }
  }
  const fetched = resolveUrl(world, url);
  if (fetched.kind === 'neterr') {
    await sleep(5, ctx.signal);
    return failedResult(url, gotoError(url, fetched.code), null);
  }
  if (fetched.kind === 'broken') {
    await sleep(5, ctx.signal);
    return failedResult(url, `Failed on navigating ACS-GOTO:\nPage returned an empty response with HTTP ${fetched.status} for ${url}`, fetched.status);
  }
  if (fetched.slow) {
    if (cfg.pageTimeoutMs < world.slowMs) {
      await sleep(cfg.pageTimeoutMs, ctx.signal);
      return failedResult(url, gotoError(url, `Timeout ${cfg.pageTimeoutMs}ms exceeded.`).replace(` at ${url}`, ''), null);
    }
    await sleep(world.slowMs, ctx.signal);
  }
  const cacheKey = url;
  const cachedAt = ctx.cache.get(cacheKey);
  const readsCache = cfg.cacheMode === 'enabled' || cfg.cacheMode === 'read_only';
  const writesCache = cfg.cacheMode === 'enabled' || cfg.cacheMode === 'write_only';
  const result = buildResult(url, fetched, cfg);
  result.cache_status = readsCache && cachedAt !== undefined ? 'hit' : 'miss';
  result.cached_at = readsCache && cachedAt !== undefined ? cachedAt : null;
  if (writesCache) ctx.cache.set(cacheKey, Date.now() / 1000);
  return result;
}

const resultCache = new WeakMap<FixturePage, Map<string, { [k: string]: Json }>>();

/** Build (or reuse) the CrawlResult. Fixture pages are immutable, so results are memoised per page + content options;
 * callers get a shallow copy they may mutate. Screenshot/PDF are memoised separately. */
function buildResult(url: string, fetched: Extract<Fetched, { kind: 'ok' }>, cfg: RunConfig): { [k: string]: Json } {
  const isHtml = fetched.contentType.startsWith('text/html');
  const make = (): { [k: string]: Json } =>
    isHtml ? buildHtmlResult(url, fetched, domFor(fetched.page, fetched.body), cfg) : buildTextResult(url, fetched, cfg);
  if (!fetched.page) return make();
  const key = JSON.stringify([url, fetched.finalUrl, fetched.redirected, cfg.cssSelector, cfg.targetElements, cfg.excludedTags, cfg.excludedSelector, cfg.screenshot, cfg.pdf, cfg.captureMhtml, cfg.contentFilter, cfg.extraction, cfg.excludeExternalLinks, cfg.excludeSocialMediaLinks, cfg.excludeDomains]);
  let perPage = resultCache.get(fetched.page);
  if (!perPage) {
    perPage = new Map();
    resultCache.set(fetched.page, perPage);
  }
  let r = perPage.get(key);
  if (!r) {
    r = make();
    if (perPage.size > 50) perPage.clear();
    perPage.set(key, r);
  }
  return { ...r };
}

function commonResult(url: string, fetched: Extract<Fetched, { kind: 'ok' }>): { [k: string]: Json } {
  return {
    url,
    html: fetched.body,
    fit_html: null,
    success: true,
    downloaded_files: null,
    js_execution_result: null,
    screenshot: null,
    pdf: null,
    mhtml: null,
    extracted_content: null,
    error_message: '',
    session_id: null,
    response_headers: {
      'content-type': fetched.contentType,
      'content-length': String(Buffer.byteLength(fetched.body)),
      server: 'fixture-origin',
    },
    status_code: fetched.status,
    ssl_certificate: null,
    dispatch_result: null,
    redirected_url: fetched.finalUrl,
    redirected_status_code: fetched.redirected ? fetched.status : null,
    network_requests: null,
    console_messages: null,
    tables: [],
    head_fingerprint: null,
    cached_at: null,
    cache_status: 'miss',
    crawl_stats: { attempts: 1, retries: 0, proxies_used: [], resolved_by: 'browser' },
  };
}

function buildTextResult(url: string, fetched: Extract<Fetched, { kind: 'ok' }>, cfg: RunConfig): { [k: string]: Json } {
  // Chromium shows text/xml documents in a <pre>; Crawl4AI's markdown of that is the text itself.
  const r = commonResult(url, fetched);
  const text = fetched.body;
  r.cleaned_html = `<div><pre>${text.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre></div>`;
  r.media = { images: [], videos: [], audios: [], tables: [] };
  r.links = { internal: [], external: [] };
  r.markdown = { raw_markdown: text, markdown_with_citations: text, references_markdown: '\n\n## References\n\n', fit_markdown: '', fit_html: '' };
  r.metadata = { title: null, description: null, keywords: null, author: null };
  if (cfg.screenshot) r.screenshot = screenshotB64(url, text);
  if (cfg.pdf) r.pdf = pdfBytes(url, url, text).toString('base64');
  if (cfg.extraction) r.extracted_content = '[]';
  return r;
}

export function screenshotB64(url: string, markdown: string): string {
  const key = `${url}\0${markdown.length}`;
  let b = screenshotCache.get(key);
  if (!b) {
    const noisy = markdown.length > 200_000;
    b = renderScreenshot({ lines: markdown.split('\n').filter((l) => l.trim()), noisy }).toString('base64');
    if (!isRawUrl(url)) screenshotCache.set(key, b);
  }
  return b;
}

export function pdfBytes(url: string, title: string, text: string): Buffer {
  const key = `${url}\0${title}\0${text.length}`;
  let b = pdfCache.get(key);
  if (!b) {
    // a printed page shows text, not markdown syntax
    const plain = text
      .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/^#{1,6} /gm, '')
      .replace(/^```$/gm, '');
    b = renderPdf(title, plain);
    if (!isRawUrl(url)) pdfCache.set(key, b);
  }
  return b;
}

function buildHtmlResult(url: string, fetched: Extract<Fetched, { kind: 'ok' }>, dom: ElementNode, cfg: RunConfig): { [k: string]: Json } {
  const r = commonResult(url, fetched);
  const baseUrl = isRawUrl(url) ? 'https://raw.invalid/' : fetched.finalUrl;
  const body = findFirst(dom, 'body') ?? dom;
  const excludedTags = new Set(cfg.excludedTags ?? []);
  const skip = (n: ElementNode): boolean => {
    if (excludedTags.has(n.tag)) return true;
    if (cfg.excludedSelector) {
      try {
        return matches(n, cfg.excludedSelector);
      } catch {
        return false;
      }
    }
    return false;
  };
  let scope: ElementNode[] = [body];
  try {
    if (cfg.cssSelector) scope = selectAll(dom, cfg.cssSelector);
  } catch (e) {
    if (e instanceof SelectorError) scope = [];
    else throw e;
  }
  const cleanSkip = (n: ElementNode): boolean => skip(n) || n.tag === 'script' || n.tag === 'style' || n.tag === 'noscript';
  r.cleaned_html = cfg.cssSelector ? `<div>${scope.map((e) => outerHtml(e, cleanSkip)).join('')}</div>` : outerHtml(body, cleanSkip);

  // links + media + tables come from the css_selector scope
  const pageDomain = isRawUrl(url) ? '' : baseDomain(new URL(fetched.finalUrl).host);
  const internal: Json[] = [];
  const external: Json[] = [];
  const seen = new Set<string>();
  const images: Json[] = [];
  const tables: Json[] = [];
  const inScope = (n: ElementNode): boolean => {
    for (let p: ElementNode | null = n; p; p = p.parent) if (skip(p)) return false;
    return true;
  };
  for (const root of scope) {
    for (const a of [root, ...walk(root)]) {
      if (a.tag === 'a' && a.attrs.href !== undefined && inScope(a)) {
        const raw = a.attrs.href.trim();
        if (!raw || raw.startsWith('#') || /^(javascript|mailto|tel|data):/i.test(raw)) continue;
        let href: URL;
        try {
          href = new URL(raw, baseUrl);
        } catch {
          continue;
        }
        href.hash = '';
        if (seen.has(href.href)) continue;
        seen.add(href.href);
        const host = href.hostname.toLowerCase().replace(/^www\./, '');
        const isExternal = !pageDomain || !host.endsWith(pageDomain);
        const bd = baseDomain(href.host);
        if (isExternal && cfg.excludeExternalLinks) continue;
        if (cfg.excludeSocialMediaLinks && SOCIAL.some((s) => bd === s)) continue;
        if (cfg.excludeDomains?.some((d) => host === d || host.endsWith(`.${d}`))) continue;
        const entry: Json = {
          href: href.href,
          text: cleanText(a),
          title: a.attrs.title ?? '',
          base_domain: bd,
          head_data: null,
          head_extraction_status: null,
          head_extraction_error: null,
          intrinsic_score: Math.round((1 + Math.min(cleanText(a).length, 40) / 10) * 100) / 100,
          contextual_score: null,
          total_score: null,
        };
        (isExternal ? external : internal).push(entry);
      } else if (a.tag === 'img' && a.attrs.src && inScope(a)) {
        const src = absolutize(a.attrs.src, baseUrl);
        const ext = /\.([a-z0-9]+)(?:$|\?)/i.exec(src)?.[1]?.toLowerCase() ?? null;
        images.push({
          src,
          data: '',
          alt: a.attrs.alt ?? '',
          desc: a.parent ? cleanText(a.parent).slice(0, 200) : '',
          score: a.attrs.alt ? 4 : 2,
          type: 'image',
          group_id: images.length,
          format: ext,
          width: a.attrs.width ? Number(a.attrs.width) : null,
        });
      } else if (a.tag === 'table' && inScope(a)) {
        const rows = selectAll(a, 'tr');
        const headers = rows.flatMap((tr) => tr.children.filter((c): c is ElementNode => c.kind === 'element' && c.tag === 'th')).map(cleanText);
        const data = rows
          .map((tr) => tr.children.filter((c): c is ElementNode => c.kind === 'element' && c.tag === 'td').map(cleanText))
          .filter((row) => row.length);
        const caption = selectOne(a, 'caption');
        tables.push({ headers, rows: data, caption: caption ? cleanText(caption) : '', summary: a.attrs.summary ?? '' });
      }
    }
  }
  r.links = { internal, external };
  r.media = { images, videos: [], audios: [], tables: [] };
  r.tables = tables;
  r.metadata = metadataOf(dom);

  // markdown: target_elements narrows markdown only (links/media still come from the whole scope)
  let mdScope = scope;
  if (cfg.targetElements?.length) {
    try {
      mdScope = scope.flatMap((s) => selectAll(s, cfg.targetElements!.join(', ')));
    } catch {
      mdScope = [];
    }
  }
  const raw = mdScope.map((e) => toMarkdown(e, { baseUrl, skip })).join('');
  const { withCitations, references } = convertLinksToCitations(raw);
  let fit: FitResult = { fitMarkdown: '', fitHtml: '' };
  if (cfg.contentFilter) {
    const fallback = `${String(r.metadata.title ?? '')} ${String(r.metadata.description ?? '')}`;
    fit = applyContentFilter(cfg.contentFilter, mdScope, skip, baseUrl, fallback);
  }
  r.markdown = {
    raw_markdown: raw,
    markdown_with_citations: withCitations,
    references_markdown: references,
    fit_markdown: fit.fitMarkdown,
    fit_html: fit.fitHtml,
  };
  if (cfg.extraction?.kind === 'css') {
    r.extracted_content = JSON.stringify(runCssExtraction(dom, cfg.extraction.schema), null, 4);
  } else if (cfg.extraction) {
    r.extracted_content = '[]';
  }
  if (cfg.screenshot) r.screenshot = screenshotB64(url, raw);
  if (cfg.pdf) r.pdf = pdfBytes(url, String(r.metadata.title ?? url), raw).toString('base64');
  if (cfg.captureMhtml) {
    r.mhtml = `From: <Saved by Blink>\r\nSnapshot-Content-Location: ${url}\r\nSubject: ${String(r.metadata.title ?? '')}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/related; type="text/html"; boundary="----MultipartBoundary--emulator----"\r\n\r\n------MultipartBoundary--emulator----\r\nContent-Type: text/html\r\nContent-Location: ${url}\r\n\r\n${fetched.body}\r\n------MultipartBoundary--emulator------\r\n`;
  }
  return r;
}

/** Markdown helpers used by /md and by the fixtures' expectation helper. */
export function markdownFor(world: World, url: string, filter: ContentFilter | null): { ok: true; raw: string; fit: string; title: string | null } | { ok: false; error: string } {
  const cfg: RunConfig = { pageTimeoutMs: 60_000, cacheMode: 'bypass' };
  if (filter) cfg.contentFilter = filter;
  const fetched = resolveUrl(world, url);
  if (fetched.kind !== 'ok') return { ok: false, error: fetched.kind === 'neterr' ? fetched.code : `HTTP ${fetched.status}` };
  const r = buildResult(url, fetched, cfg);
  const md = r.markdown as { raw_markdown: string; fit_markdown: string };
  const meta = r.metadata as { title: string | null };
  return { ok: true, raw: md.raw_markdown, fit: md.fit_markdown, title: meta.title };
}

/** HTML "preprocessed for schema building" (POST /html): scripts/styles/comments removed, long text trimmed. */
export function schemaHtml(world: World, url: string): string | null {
  const fetched = resolveUrl(world, url);
  if (fetched.kind !== 'ok') return null;
  const dom = domFor(fetched.page, fetched.body);
  const skip = (n: ElementNode): boolean => ['script', 'style', 'noscript', 'link', 'meta'].includes(n.tag);
  const html = outerHtml(dom, skip);
  return html.replace(/>([^<]{201,})</g, (_m, t: string) => `>${t.slice(0, 200)}...<`);
}
