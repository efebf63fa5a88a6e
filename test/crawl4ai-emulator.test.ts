import { request as httpRequest } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FIXTURES, PNG_SIGNATURE, pngSize, startCrawl4aiEmulator, type Crawl4aiEmulator } from './emulators/crawl4ai/index.ts';

let em: Crawl4aiEmulator;
let auth: Record<string, string>;

beforeAll(async () => {
  em = await startCrawl4aiEmulator({ slowMs: 150 });
  auth = { authorization: `Bearer ${em.token}`, 'content-type': 'application/json' };
});
afterAll(async () => {
  await em?.close();
});

async function post(path: string, body: unknown, headers: Record<string, string> = auth): Promise<{ status: number; json: any; res: Response }> {
  const res = await fetch(em.url + path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, res };
}

async function get(path: string, headers: Record<string, string> = auth): Promise<{ status: number; json: any; res: Response }> {
  const res = await fetch(em.url + path, { headers });
  const text = await res.text();
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, res };
}

const typed = (params: Record<string, unknown>) => ({ type: 'CrawlerRunConfig', params });
const pruning = { type: 'DefaultMarkdownGenerator', params: { content_filter: { type: 'PruningContentFilter', params: { threshold: 0.48 } } } };

describe('health and auth', () => {
  it('GET /health is public', async () => {
    const { status, json } = await get('/health', {});
    expect(status).toBe(200);
    expect(json).toEqual({ status: 'ok', timestamp: expect.any(Number), version: '0.9.4' });
    expect(Math.abs(json.timestamp - Date.now() / 1000)).toBeLessThan(5);
  });

  it('every other route needs the bearer token', async () => {
    for (const [method, path] of [['POST', '/crawl'], ['GET', '/schema'], ['GET', '/crawl/job/crawl_00000000'], ['GET', '/nope']] as const) {
      const res = await fetch(em.url + path, { method, body: method === 'POST' ? '{}' : null });
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.json()).toEqual({ detail: 'Authentication required' });
    }
    const wrong = await post('/crawl', { urls: ['https://example.com'] }, { authorization: 'Bearer nope', 'content-type': 'application/json' });
    expect(wrong.status).toBe(401);
  });

  it('unknown routes are 404, wrong methods 405', async () => {
    expect(await get('/nope')).toMatchObject({ status: 404, json: { detail: 'Not Found' } });
    expect((await get('/crawl')).status).toBe(405);
  });

  it('records requests with body and auth', async () => {
    await post('/md', { url: 'https://example.com/', f: 'raw' });
    const last = em.requests.at(-1)!;
    expect(last).toMatchObject({ method: 'POST', path: '/md', body: { url: 'https://example.com/', f: 'raw' }, auth: `Bearer ${em.token}` });
  });

  it('GET /schema', async () => {
    const { status, json } = await get('/schema');
    expect(status).toBe(200);
    expect(json.browser.type).toBe('BrowserConfig');
    expect(json.crawler.type).toBe('CrawlerRunConfig');
  });
});

describe('POST /crawl', () => {
  it('returns the full CrawlResult shape; bare hosts get https://', async () => {
    const { status, json } = await post('/crawl', { urls: ['docs.example.com'] });
    expect(status).toBe(200);
    expect(Object.keys(json).sort()).toEqual(['results', 'server_memory_delta_mb', 'server_peak_memory_mb', 'server_processing_time_s', 'success']);
    expect(json.success).toBe(true);
    const r = json.results[0];
    for (const k of [
      'url', 'html', 'fit_html', 'success', 'cleaned_html', 'media', 'links', 'downloaded_files', 'js_execution_result', 'screenshot', 'pdf',
      'mhtml', 'markdown', 'extracted_content', 'metadata', 'error_message', 'session_id', 'response_headers', 'status_code',
      'ssl_certificate', 'dispatch_result', 'redirected_url', 'redirected_status_code', 'network_requests', 'console_messages', 'tables',
      'head_fingerprint', 'cached_at', 'cache_status', 'crawl_stats',
    ]) {
      expect(r, k).toHaveProperty(k);
    }
    expect(r.url).toBe('https://docs.example.com');
    expect(r.redirected_url).toBe('https://docs.example.com/');
    expect(r.status_code).toBe(200);
    expect(r.success).toBe(true);
    expect(r.extracted_content).toBeNull();
    expect(r.screenshot).toBeNull();
    expect(r.metadata.title).toBe(FIXTURES.docs.pages[0]!.title);
    expect(Object.keys(r.markdown).sort()).toEqual(['fit_html', 'fit_markdown', 'markdown_with_citations', 'raw_markdown', 'references_markdown']);
    expect(r.markdown.fit_markdown).toBe(''); // no content filter requested
    expect(r.markdown.raw_markdown).toContain('# Welcome to Example Docs');
    expect(r.markdown.raw_markdown).toContain('[Guide](https://docs.example.com/guide/)');
    expect(r.markdown.raw_markdown).toBe(em.expectedMarkdown('https://docs.example.com/').raw);
    expect(r.markdown.markdown_with_citations).toContain('Guide⟨');
    expect(r.markdown.references_markdown).toContain('## References');
    // links: same registrable domain is "internal" (even another subdomain), fragments stripped, de-duplicated
    const internal = r.links.internal.map((l: any) => l.href);
    const external = r.links.external.map((l: any) => l.href);
    expect(internal).toContain('https://docs.example.com/guide/');
    expect(internal).toContain('https://shop.example.com/products');
    expect(external).toContain('https://github.com/unclecode/crawl4ai');
    expect(new Set(internal).size).toBe(internal.length);
    const gh = r.links.external.find((l: any) => l.href === 'https://github.com/unclecode/crawl4ai');
    expect(gh).toMatchObject({ text: 'Crawl4AI on GitHub', base_domain: 'github.com' });
    expect(r.media.images[0]).toMatchObject({ src: 'https://docs.example.com/assets/logo.png', alt: 'Example Docs logo', type: 'image' });
  });

  it('fit_markdown is filled only with a content filter and drops nav/footer', async () => {
    const { json } = await post('/crawl', { urls: ['https://docs.example.com/guide/config'], crawler_config: typed({ markdown_generator: pruning }) });
    const md = json.results[0].markdown;
    expect(md.fit_markdown).toContain('# Configuration');
    expect(md.fit_markdown).not.toContain('[Blog]');
    expect(md.fit_markdown).not.toContain('©');
    expect(md.raw_markdown).toContain('[Blog]');
    expect(md.fit_html).toContain('<h1>Configuration</h1>');
    expect(md.fit_markdown).toBe(em.expectedMarkdown('https://docs.example.com/guide/config').fit);
    expect(json.results[0].tables[0]).toMatchObject({ headers: ['Option', 'Default', 'Meaning'], caption: 'Common options' });

    const bm25 = await post('/crawl', {
      urls: ['https://docs.example.com/guide/config'],
      crawler_config: typed({ markdown_generator: { type: 'DefaultMarkdownGenerator', params: { content_filter: { type: 'BM25ContentFilter', params: { user_query: 'cache' } } } } }),
    });
    const fit = bm25.json.results[0].markdown.fit_markdown as string;
    expect(fit).toContain('cache_mode');
    expect(fit).not.toContain('Navigation timeout');
  });

  it('css_selector narrows markdown and links; plain-dict config works', async () => {
    const { json } = await post('/crawl', { urls: ['https://docs.example.com/'], crawler_config: { css_selector: 'main h2, footer' } });
    const r = json.results[0];
    expect(r.markdown.raw_markdown).toContain('## Quick links');
    expect(r.markdown.raw_markdown).not.toContain('Welcome');
    expect(r.links.internal.map((l: any) => l.href)).toEqual(['https://docs.example.com/about']);
  });

  it('target_elements narrows markdown only; crawler_configs pick per URL via url_matcher', async () => {
    const { json } = await post('/crawl', { urls: ['https://docs.example.com/guide/'], crawler_config: { target_elements: ['main h1'] } });
    expect(json.results[0].markdown.raw_markdown).toBe('# Guide\n');
    expect(json.results[0].links.internal.length).toBeGreaterThan(3);
    const multi = await post('/crawl', {
      urls: ['https://docs.example.com/guide/', 'https://example.com/'],
      crawler_configs: [{ css_selector: 'h1', url_matcher: '*docs.example.com*' }, { css_selector: 'p' }],
    });
    expect(multi.json.results.map((r: any) => r.markdown.raw_markdown.split('\n')[0])).toEqual(['# Guide', 'This domain is for use in illustrative examples in documents. You may use this domain in literature without prior coordination or asking for permission.']);
  });

  it('an untyped markdown_generator crashes the crawl like the real server (500)', async () => {
    const { status } = await post('/crawl', { urls: ['https://example.com'], crawler_config: { markdown_generator: { content_filter: {} } } });
    expect(status).toBe(500);
    expect(em.errors.at(-1)).toContain('markdown_generator');
  });

  it('cache_mode enabled: second crawl is a cache hit', async () => {
    const body = { urls: ['https://docs.example.com/api/md'], crawler_config: { cache_mode: 'enabled' } };
    const a = await post('/crawl', body);
    const b = await post('/crawl', body);
    expect(a.json.results[0].cache_status).toBe('miss');
    expect(b.json.results[0]).toMatchObject({ cache_status: 'hit', cached_at: expect.any(Number) });
  });

  it('422 on bad urls (FastAPI shape)', async () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'missing'],
      [{ urls: [] }, 'too_short'],
      [{ urls: Array.from({ length: 101 }, (_, i) => `https://example.com/${i}`) }, 'too_long'],
      [{ urls: 'https://example.com' }, 'list_type'],
      [{ urls: [42] }, 'string_type'],
    ];
    for (const [body, type] of cases) {
      const { status, json } = await post('/crawl', body);
      expect(status, type).toBe(422);
      expect(json.detail[0]).toMatchObject({ type, loc: expect.arrayContaining(['body', 'urls']), msg: expect.any(String) });
      expect(json.detail[0]).toHaveProperty('input');
    }
    expect((await post('/crawl', '{not json')).status).toBe(422);
  });

  it('rejects forbidden config fields and types with 400', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ crawler_config: typed({ js_code: 'alert(1)' }) }, "field 'js_code' is not permitted on CrawlerRunConfig"],
      [{ crawler_config: { deep_crawl_strategy: { type: 'BFSDeepCrawlStrategy', params: { max_depth: 2 } } } }, "field 'deep_crawl_strategy' is not permitted on CrawlerRunConfig"],
      [{ crawler_config: { session_id: 's1' } }, "field 'session_id'"],
      [{ crawler_config: typed({ proxy_config: { server: 'http://p' } }) }, "field 'proxy_config'"],
      [{ crawler_config: typed({ magic: true }) }, "field 'magic'"],
      [{ browser_config: { type: 'BrowserConfig', params: { cdp_url: 'ws://x' } } }, "field 'cdp_url' is not permitted on BrowserConfig"],
      [{ browser_config: { headers: { a: 'b' } } }, "field 'headers' is not permitted on BrowserConfig"],
      [{ crawler_config: typed({ extraction_strategy: { type: 'LLMExtractionStrategy', params: {} } }) }, "type 'LLMExtractionStrategy' may not be constructed"],
      [{ crawler_config: { type: 'EvilConfig', params: {} } }, "type 'EvilConfig' may not be constructed"],
    ];
    for (const [extra, msg] of cases) {
      const { status, json } = await post('/crawl', { urls: ['https://example.com'], ...extra });
      expect(status, msg).toBe(400);
      expect(json.detail).toContain('Rejected config: ');
      expect(json.detail).toContain(msg);
    }
    const exact = await post('/crawl', { urls: ['https://example.com'], crawler_config: { js_code: 'x' } });
    expect(exact.json).toEqual({ detail: "Rejected config: field 'js_code' is not permitted on CrawlerRunConfig from an untrusted request" });
  });

  it('SSRF block and bad scheme are 400', async () => {
    for (const u of ['http://127.0.0.1/', 'http://localhost:8080/', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/', 'http://10.0.0.1.nip.io/', 'http://2130706433/']) {
      const { status, json } = await post('/crawl', { urls: ['https://example.com', u] });
      expect(status, u).toBe(400);
      expect(json.detail).toMatch(/^URL blocked \(SSRF protection\): /);
    }
    const bad = await post('/crawl', { urls: ['ftp://example.com/'] });
    expect(bad).toMatchObject({ status: 400, json: { detail: 'URL must start with http://, https://' } });
  });

  it('all URLs failing is a generic 500', async () => {
    const { status, json } = await post('/crawl', { urls: [FIXTURES.unknownHostUrl] });
    expect(status).toBe(500);
    expect(json).toEqual({ error: 'Internal server error', correlation_id: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect((await post('/crawl', { urls: ['https://broken.example.com/'] })).status).toBe(500);
  });

  it('partial failures are 200 with per-item success:false', async () => {
    const { status, json } = await post('/crawl', { urls: ['https://example.com/', FIXTURES.unknownHostUrl, 'https://broken.example.com/'] });
    expect(status).toBe(200);
    const [ok, dns, broken] = json.results;
    expect(ok.success).toBe(true);
    expect(ok.markdown.raw_markdown).toContain('# Example Domain');
    expect(dns).toMatchObject({ success: false, status_code: null, markdown: null });
    expect(dns.error_message).toContain('net::ERR_NAME_NOT_RESOLVED');
    expect(broken).toMatchObject({ success: false, status_code: 500 });
    expect(ok.dispatch_result).toMatchObject({ task_id: expect.any(String), memory_usage: expect.any(Number) });
  });

  it('unknown paths on a known host are 404 pages (success:true, status_code 404)', async () => {
    const { json } = await post('/crawl', { urls: ['https://docs.example.com/nope'] });
    expect(json.results[0]).toMatchObject({ success: true, status_code: 404 });
  });

  it('redirects: /old-guide -> /guide/', async () => {
    const { json } = await post('/crawl', { urls: ['https://docs.example.com/old-guide'] });
    expect(json.results[0]).toMatchObject({ url: 'https://docs.example.com/old-guide', redirected_url: 'https://docs.example.com/guide/', status_code: 200 });
  });

  it('honours check_robots_txt', async () => {
    const urls = ['https://docs.example.com/private/secret', 'https://docs.example.com/guide/'];
    const { status, json } = await post('/crawl', { urls, crawler_config: { check_robots_txt: true } });
    expect(status).toBe(200);
    expect(json.results[0]).toMatchObject({ success: false, status_code: 403, error_message: 'Access denied by robots.txt' });
    expect(json.results[1].success).toBe(true);
    const without = await post('/crawl', { urls: [urls[0]] });
    expect(without.json.results[0].success).toBe(true);
    const robots = await post('/crawl', { urls: ['https://docs.example.com/robots.txt'] });
    expect(robots.json.results[0].markdown.raw_markdown).toContain('Disallow: /private/');
    const sitemap = await post('/crawl', { urls: ['https://docs.example.com/sitemap.xml'] });
    expect(sitemap.json.results[0].html).toContain('<loc>https://docs.example.com/guide/install</loc>');
  });

  it('applies a JsonCssExtractionStrategy schema; extracted_content is a JSON string', async () => {
    const schema = FIXTURES.shop.extractionSchema;
    const { json } = await post('/crawl', {
      urls: [FIXTURES.shop.productsUrl],
      crawler_config: typed({ extraction_strategy: { type: 'JsonCssExtractionStrategy', params: { schema: { type: 'dict', value: schema } } } }),
    });
    const ec = json.results[0].extracted_content;
    expect(typeof ec).toBe('string');
    const items = JSON.parse(ec);
    expect(items).toEqual(
      FIXTURES.shop.products.map((p) => ({ sku: p.sku, name: p.name, price: p.price, ...(p.description ? { description: p.description } : {}), url: p.href })),
    );
    // html field type + descendant/child selectors
    const html = await post('/crawl', {
      urls: [FIXTURES.shop.productsUrl],
      crawler_config: typed({
        extraction_strategy: {
          type: 'JsonCssExtractionStrategy',
          params: { schema: { baseSelector: 'div.product-grid > .product:first-child', fields: [{ name: 'h', selector: 'h2', type: 'html' }, { name: 'id', selector: '#nope', type: 'text', default: 'n/a' }] } },
        },
      }),
    });
    expect(JSON.parse(html.json.results[0].extracted_content)).toEqual([{ h: '<h2 class="name">Solar Lantern</h2>', id: 'n/a' }]);
  });

  it('screenshot and pdf inline as base64 when requested', async () => {
    const { json } = await post('/crawl', { urls: ['https://example.com/'], crawler_config: { screenshot: true, pdf: true } });
    const r = json.results[0];
    expect(Buffer.from(r.screenshot, 'base64').subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(Buffer.from(r.pdf, 'base64').subarray(0, 5).toString()).toBe('%PDF-');
  });

  it('slow site waits slowMs; page_timeout below it fails the URL', async () => {
    const t0 = Date.now();
    const ok = await post('/crawl', { urls: [FIXTURES.slow.url] });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(ok.json.results[0].success).toBe(true);
    const timeout = await post('/crawl', { urls: [FIXTURES.slow.url, 'https://example.com/'], crawler_config: { page_timeout: 50 } });
    expect(timeout.json.results[0].success).toBe(false);
    expect(timeout.json.results[0].error_message).toContain('Timeout 50ms exceeded');
  });

  it('the huge page has ~400 KB of markdown', async () => {
    const { json } = await post('/crawl', { urls: [FIXTURES.big.hugeUrl] });
    const len = json.results[0].markdown.raw_markdown.length;
    expect(len).toBeGreaterThan(380_000);
    expect(len).toBeLessThan(450_000);
  });
});

function parseNdjson(text: string): any[] {
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('streaming', () => {
  it('POST /crawl/stream emits NDJSON ending with {"status": "completed"}', async () => {
    const res = await fetch(`${em.url}/crawl/stream`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ urls: [FIXTURES.slow.url, 'https://example.com/', FIXTURES.unknownHostUrl] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    expect(res.headers.get('x-stream-status')).toBe('active');
    const text = await res.text();
    expect(text.endsWith('{"status": "completed"}')).toBe(true); // Python json.dumps spacing, no trailing newline
    const lines = parseNdjson(text);
    expect(lines.at(-1)).toEqual({ status: 'completed' });
    const results = lines.slice(0, -1);
    expect(results).toHaveLength(3);
    expect(results.at(-1).url).toBe(FIXTURES.slow.url); // results arrive as they finish
    expect(results.every((r) => typeof r.server_memory_mb === 'number')).toBe(true);
    expect(results.find((r) => r.url === FIXTURES.unknownHostUrl).success).toBe(false);
  });

  it('crawler_config stream:true switches /crawl to NDJSON', async () => {
    const res = await fetch(`${em.url}/crawl`, { method: 'POST', headers: auth, body: JSON.stringify({ urls: ['https://example.com/'], crawler_config: typed({ stream: true }) }) });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = parseNdjson(await res.text());
    expect(lines.map((l) => l.status ?? l.url)).toEqual(['https://example.com/', 'completed']);
  });
});

describe('single-URL helper routes', () => {
  it('POST /md with f=raw|fit|bm25', async () => {
    const raw = await post('/md', { url: 'https://docs.example.com/guide/install', f: 'raw' });
    expect(raw.status).toBe(200);
    expect(raw.json).toEqual({ url: 'https://docs.example.com/guide/install', filter: 'raw', query: null, cache: '0', markdown: expect.any(String), success: true });
    expect(raw.json.markdown).toContain('[Blog]');
    const fit = await post('/md', { url: 'https://docs.example.com/guide/install' });
    expect(fit.json.filter).toBe('fit');
    expect(fit.json.markdown).toContain('# Installation');
    expect(fit.json.markdown).not.toContain('[Blog]');
    const bm = await post('/md', { url: 'https://docs.example.com/guide/install', f: 'bm25', q: 'docker', c: '1' });
    expect(bm.json).toMatchObject({ filter: 'bm25', query: 'docker', cache: '1' });
    expect(bm.json.markdown).toContain('Docker');
    expect(bm.json.markdown).not.toContain('4 GB RAM');
    expect((await post('/md', { url: 'https://example.com', f: 'nope' })).status).toBe(422);
    expect((await post('/md', { url: 'https://example.com', f: 'llm' })).status).toBe(400);
    expect((await post('/md', { url: 'file:///etc/passwd' })).json).toEqual({ detail: 'URL must start with http://, https://' });
    expect((await post('/md', { url: FIXTURES.unknownHostUrl })).status).toBe(500);
    const rawHtml = await post('/md', { url: 'raw:<h1>Hi</h1><p>there</p>', f: 'raw' });
    expect(rawHtml.json.markdown).toBe('# Hi\n\nthere\n');
  });

  it('POST /html', async () => {
    const { status, json } = await post('/html', { url: FIXTURES.shop.productsUrl });
    expect(status).toBe(200);
    expect(json.success).toBe(true);
    expect(json.url).toBe(FIXTURES.shop.productsUrl);
    expect(json.html).toContain('class="product"');
    expect(json.html).not.toContain('<script');
  });

  it('POST /screenshot returns a real PNG stored as an artifact', async () => {
    const { status, json } = await post('/screenshot', { url: 'https://docs.example.com/' });
    expect(status).toBe(200);
    expect(json).toEqual({
      success: true,
      screenshot: expect.any(String),
      artifact_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      url: `/artifacts/${json.artifact_id}`,
      mime: 'image/png',
      size: expect.any(Number),
    });
    const png = Buffer.from(json.screenshot, 'base64');
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
    const { width, height } = pngSize(png);
    expect(width).toBe(800);
    expect(height).toBeGreaterThanOrEqual(240);
    expect(png.length).toBe(json.size);
    const art = await fetch(em.url + json.url, { headers: auth });
    expect(art.status).toBe(200);
    expect(art.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await art.arrayBuffer())).toEqual(png);
    expect(await get(`/artifacts/${'0'.repeat(32)}`)).toMatchObject({ status: 404, json: { detail: 'Artifact not found' } });
  });

  it('the huge page gives a ~1.5 MB PNG', async () => {
    const { json } = await post('/screenshot', { url: FIXTURES.big.hugeUrl });
    expect(json.size).toBeGreaterThan(1_400_000);
    expect(json.size).toBeLessThan(1_700_000);
    expect(pngSize(Buffer.from(json.screenshot, 'base64'))).toEqual({ width: 800, height: 640 });
  });

  it('POST /pdf returns a real PDF stored as an artifact', async () => {
    const { json } = await post('/pdf', { url: 'https://docs.example.com/api/crawl' });
    expect(json).toMatchObject({ success: true, mime: 'application/pdf', artifact_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    const pdf = Buffer.from(json.pdf, 'base64');
    const text = pdf.toString('latin1');
    expect(text.startsWith('%PDF-1.4')).toBe(true);
    expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
    const startxref = Number(/startxref\n(\d+)/.exec(text)![1]);
    expect(text.slice(startxref, startxref + 4)).toBe('xref');
    expect(text).toContain('(POST /crawl)');
    const art = await fetch(em.url + json.url, { headers: auth });
    expect(art.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await art.arrayBuffer()).length).toBe(json.size);
    const big = await post('/pdf', { url: FIXTURES.big.hugeUrl });
    expect(big.json.size).toBeGreaterThan(200_000);
  });

  it('POST /execute_js is 403 unless enabled; /llm/job 400 without an LLM key', async () => {
    expect((await post('/execute_js', { url: 'https://example.com', scripts: ['1'] })).status).toBe(403);
    expect((await post('/llm/job', { url: 'https://example.com/', q: 'what?' })).status).toBe(400);
  });

  it('413 for bodies over 10 MiB', async () => {
    // declared length: answered before the body is read
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${em.url}/crawl`, { method: 'POST', headers: { ...auth, 'content-length': String(11 * 1024 * 1024) } }, (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      });
      req.on('error', reject);
      req.write('{"urls": ["https://example.com"], "pad": "');
    });
    expect(status).toBe(413);
    expect(JSON.parse(body)).toEqual({ detail: 'Request body too large' });
    // chunked (no content-length): counted while reading
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        const mb = new Uint8Array(1024 * 1024).fill(0x20);
        for (let i = 0; i < 11; i++) c.enqueue(mb);
        c.close();
      },
    });
    const res = await fetch(`${em.url}/crawl`, { method: 'POST', headers: auth, body: chunked, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
  });
});

describe('jobs', () => {
  it('POST /crawl/job -> 202, then processing -> completed', async () => {
    const sub = await post('/crawl/job', { urls: ['https://docs.example.com', 'https://example.com/'] });
    expect(sub.status).toBe(202);
    expect(sub.json).toEqual({ task_id: expect.stringMatching(/^crawl_[0-9a-f]{8}$/) });
    const id = sub.json.task_id;
    const first = await get(`/crawl/job/${id}`);
    expect(first.json).toMatchObject({ task_id: id, status: 'processing', created_at: expect.any(String) });
    // HttpUrl normalises (trailing slash) and the list is stored as a JSON *string*
    expect(first.json.url).toBe('["https://docs.example.com/", "https://example.com/"]');
    expect(JSON.parse(first.json.url)).toEqual(['https://docs.example.com/', 'https://example.com/']);
    let done: any;
    for (let i = 0; i < 40 && !done; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const s = await get(`/crawl/job/${id}`);
      if (s.json.status !== 'processing') done = s.json;
    }
    expect(done.status).toBe('completed');
    expect(done.result.success).toBe(true);
    expect(done.result.results).toHaveLength(2);
    expect(done.result.results[0].markdown.raw_markdown).toContain('Welcome');
    expect(await get('/crawl/job/crawl_deadbeef')).toMatchObject({ status: 404, json: { detail: 'Task not found' } });
  });

  it('job validation: HttpUrl 422, SSRF 400', async () => {
    expect((await post('/crawl/job', { urls: ['docs.example.com'] })).status).toBe(422);
    expect((await post('/crawl/job', { urls: ['http://127.0.0.1/'] })).status).toBe(400);
  });
});

describe('fault injection', () => {
  it('failNext fails exactly one matching request', async () => {
    em.failNext('/crawl', 504, { detail: 'Crawl exceeded the time limit' });
    const a = await post('/crawl', { urls: ['https://example.com'] });
    expect(a).toMatchObject({ status: 504, json: { detail: 'Crawl exceeded the time limit' } });
    const b = await post('/crawl', { urls: ['https://example.com'] });
    expect(b.status).toBe(200);
    em.failNext('GET /crawl/job/{id}', 503);
    const c = await get('/crawl/job/crawl_12345678');
    expect(c.status).toBe(503);
    expect(c.res.headers.get('retry-after')).toBe('5');
    em.failNext('/md', 502, '<html><body>Bad gateway</body></html>');
    const d = await post('/md', { url: 'https://example.com' });
    expect(d.status).toBe(502);
    expect(d.json).toContain('Bad gateway');
  });

  it('setDown resets every connection', async () => {
    em.setDown(true);
    await expect(fetch(`${em.url}/health`)).rejects.toThrow();
    em.setDown(false);
    expect((await get('/health', {})).status).toBe(200);
  });

  it('setLatency delays authed routes only', async () => {
    em.setLatency(200);
    try {
      let t = Date.now();
      await get('/health', {});
      expect(Date.now() - t).toBeLessThan(180);
      t = Date.now();
      await get('/schema');
      expect(Date.now() - t).toBeGreaterThanOrEqual(190);
    } finally {
      em.setLatency(0);
    }
  });
});

describe('options', () => {
  it('jobPollsToComplete, execute_js and LLM jobs when enabled', async () => {
    const e2 = await startCrawl4aiEmulator({ token: 't2', jobDelayMs: 60_000, jobPollsToComplete: 2, executeJsEnabled: true, llmEnabled: true });
    try {
      const h = { authorization: 'Bearer t2', 'content-type': 'application/json' };
      const sub = await (await fetch(`${e2.url}/crawl/job`, { method: 'POST', headers: h, body: JSON.stringify({ urls: ['https://example.com/'] }) })).json();
      await new Promise((r) => setTimeout(r, 30));
      const s1 = await (await fetch(`${e2.url}/crawl/job/${sub.task_id}`, { headers: h })).json();
      const s2 = await (await fetch(`${e2.url}/crawl/job/${sub.task_id}`, { headers: h })).json();
      expect([s1.status, s2.status]).toEqual(['processing', 'completed']);
      const js = await (await fetch(`${e2.url}/execute_js`, { method: 'POST', headers: h, body: JSON.stringify({ url: 'https://example.com/', scripts: ['return document.title'] }) })).json();
      expect(js.js_execution_result).toEqual({ success: true, results: ['Example Domain'] });
      const llm = await fetch(`${e2.url}/llm/job`, { method: 'POST', headers: h, body: JSON.stringify({ url: 'https://example.com/', q: 'what is this?' }) });
      expect(llm.status).toBe(202);
      expect((await llm.json()).task_id).toMatch(/^llm_\d+_1$/);
    } finally {
      await e2.close();
    }
  });

  it('fixtures: docs depth map, robots and sitemap', () => {
    const d = FIXTURES.docs;
    expect(d.pages.length).toBeGreaterThanOrEqual(12);
    expect(d.depthOf['https://docs.example.com/']).toBe(0);
    expect(d.depthOf['https://docs.example.com/guide/install/docker']).toBe(3);
    expect(Math.max(...Object.values(d.depthOf))).toBe(3);
    expect(d.pages.find((p) => p.path === '/private/secret')!.disallowedByRobots).toBe(true);
    expect(d.robotsTxt).toContain('Disallow: /private/');
    expect(d.sitemapUrls).not.toContain('https://docs.example.com/private/secret');
    expect(d.sitemapXml).toContain('<loc>https://docs.example.com/</loc>');
  });
});
