/**
 * The MCP Worker in real workerd (wrangler's deploy bundle run by Miniflare), against the Crawl4AI
 * emulator, driven by the official MCP clients of both eras.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrawl4aiEmulator, type Crawl4aiEmulator } from './emulators/crawl4ai/index.ts';
import { ROOT, startWorker, type RunningWorker } from './helpers/mcp-worker.ts';
import { connectV1, connectV2, nextOffsetOf, textOf, TOOL_NAMES, type McpTestClient, type ToolResultLike } from './helpers/mcp-clients.ts';

let emu: Crawl4aiEmulator;
let worker: RunningWorker;
let v1: McpTestClient;
let v2: McpTestClient;

const crawlCalls = () => emu.requests.filter((r) => r.path === '/crawl');
const crawledUrls = (since: number) =>
  crawlCalls()
    .slice(since)
    .flatMap((r) => ((r.body as { urls?: string[] }).urls ?? []));

beforeAll(async () => {
  emu = await startCrawl4aiEmulator({ slowMs: 200 });
  worker = await startWorker({ originUrl: emu.url, token: emu.token });
  v1 = await connectV1(worker.mcpUrl, worker.apiKey);
  v2 = await connectV2(worker.mcpUrl, worker.apiKey);
});

afterAll(async () => {
  await v1?.close().catch(() => undefined);
  await v2?.close().catch(() => undefined);
  await worker?.close();
  await emu?.close();
});

describe('HTTP surface', () => {
  it('GET /health is public and shows only liveness, name and version', async () => {
    const r = await fetch(`${worker.url}/health`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['name', 'status', 'version']);
    expect(body).toMatchObject({ status: 'ok', name: 'crawl4ai-mcp' });
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('answers other paths with a JSON 404', async () => {
    const r = await fetch(`${worker.url}/sse`);
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toContain('application/json');
    expect(((await r.json()) as { error: string }).error).toBe('not_found');
  });

  it('refuses missing, wrong and malformed keys with 401 + WWW-Authenticate, before touching the origin', async () => {
    const before = emu.requests.length;
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    const wrongKey = 'c4m_' + 'A'.repeat(43);
    const cases: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${wrongKey}` },
      { authorization: 'Bearer not-a-key' },
      { authorization: `Bearer ${worker.apiKey}x` },
      { authorization: `Basic ${btoa('user:pass')}` },
      { authorization: worker.apiKey },
      { authorization: 'Bearer' },
    ];
    for (const h of cases) {
      const r = await fetch(worker.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...h }, body });
      expect(r.status, JSON.stringify(h)).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="crawl4ai-mcp"/);
      const j = (await r.json()) as { error: string };
      expect(['invalid_request', 'invalid_token']).toContain(j.error);
    }
    expect(emu.requests.length).toBe(before);
  });

  it('leaves GET/DELETE /mcp and content types to the SDK (405 / 415), after auth', async () => {
    const auth = { authorization: `Bearer ${worker.apiKey}` };
    expect((await fetch(worker.mcpUrl, { method: 'GET', headers: { ...auth, accept: 'text/event-stream' } })).status).toBe(405);
    expect((await fetch(worker.mcpUrl, { method: 'DELETE', headers: auth })).status).toBe(405);
    expect((await fetch(worker.mcpUrl, { method: 'GET' })).status).toBe(401);
    const bad = await fetch(worker.mcpUrl, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain', accept: 'application/json, text/event-stream' }, body: 'x' });
    expect(bad.status).toBe(415);
  });

  it('refuses a browser request from a foreign Origin with 403 even with a valid key; own or absent Origin works', async () => {
    const before = emu.requests.length;
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    const post = (origin?: string) =>
      fetch(worker.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${worker.apiKey}`, ...(origin ? { origin } : {}) },
        body,
      });
    for (const origin of ['https://evil.example.com', 'null', `${worker.url}.evil.example.com`, 'http://localhost:1']) {
      const r = await post(origin);
      expect(r.status, origin).toBe(403);
      expect(((await r.json()) as { error: string }).error).toBe('forbidden_origin');
    }
    // refused before the key is even looked at: a wrong key gets the same 403, not a 401
    const noKey = await fetch(worker.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example.com' }, body });
    expect(noKey.status).toBe(403);
    expect((await post(worker.url)).status).toBe(200);
    expect((await post()).status).toBe(200);
    expect(emu.requests.length).toBe(before);
  });

  it('an internal failure answers a generic 500 with a correlation id; the detail goes to the log only', async () => {
    let stderr = '';
    const broken = await startWorker({ originUrl: emu.url, token: emu.token, keysWithoutSqlite: true, onStderr: (t) => (stderr += t) });
    try {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
      const r = await fetch(broken.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${broken.apiKey}` },
        body,
      });
      expect(r.status).toBe(500);
      const j = (await r.json()) as { error: { code: number; message: string; data: { correlation_id: string } } };
      expect(j.error.code).toBe(-32603);
      expect(j.error.message).toMatch(/^internal error \(correlation id [0-9a-f-]{36}\); the Worker log has the details$/);
      expect(JSON.stringify(j)).not.toMatch(/sql|sqlite|durable|KeyRegistry|at \w+ \(/i);
      const status = await fetch(`${broken.url}/status`, { headers: { authorization: `Bearer ${broken.apiKey}` } });
      expect(status.status).toBe(500);
      expect(((await status.json()) as { error: string }).error).toBe('internal_error');
      for (let i = 0; i < 20 && !stderr.includes(j.error.data.correlation_id); i++) await new Promise((res) => setTimeout(res, 50));
      expect(stderr).toContain(`internal error ${j.error.data.correlation_id}`);
      expect(stderr).toMatch(/sql/i);
    } finally {
      await broken.close();
    }
  });

  it('the official clients fail to connect without a valid key', async () => {
    await expect(connectV1(worker.mcpUrl, undefined)).rejects.toThrow();
    await expect(connectV1(worker.mcpUrl, 'c4m_' + 'B'.repeat(43))).rejects.toThrow();
    await expect(connectV2(worker.mcpUrl, 'c4m_' + 'C'.repeat(43))).rejects.toThrow();
  });
});

describe('tools/list (both protocol eras)', () => {
  for (const era of ['v1', 'v2'] as const) {
    it(`${era} client lists every tool with schema, description and annotations`, async () => {
      const c = era === 'v1' ? v1 : v2;
      const { tools } = await c.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
      for (const t of tools) {
        expect(t.inputSchema.type).toBe('object');
        expect(t.description).toMatch(/Best for:/);
        expect(t.annotations?.readOnlyHint, t.name).toBeTypeOf('boolean');
        expect(t.annotations?.openWorldHint, t.name).toBeTypeOf('boolean');
      }
      const scrape = tools.find((t) => t.name === 'scrape')!;
      expect(Object.keys(scrape.inputSchema.properties as object)).toEqual(
        expect.arrayContaining(['url', 'format', 'css_selector', 'wait_for', 'bypass_cache', 'max_chars', 'offset']),
      );
      // no LLM key on this deployment: extract offers CSS schemas only
      const extract = tools.find((t) => t.name === 'extract')!;
      expect(Object.keys(extract.inputSchema.properties as object)).not.toContain('prompt');
    });
  }
});

describe('every tool', () => {
  it('scrape: fit markdown of a page with a header (v2 client)', async () => {
    const r = await v2.callTool('scrape', { url: emu.fixtures.docs.root });
    expect(r.isError).toBeFalsy();
    const [header, body] = r.content!;
    expect(header!.text).toContain('Title: Example Docs — Home');
    expect(body!.text).toBe(emu.expectedMarkdown(emu.fixtures.docs.root).fit);
  });

  it('scrape: links, metadata and html formats (v1 client)', async () => {
    const links = textOf(await v1.callTool('scrape', { url: emu.fixtures.docs.root, format: 'links' }));
    expect(links).toContain('https://docs.example.com/guide/');
    expect(links).toMatch(/External links \(\d+\):[\s\S]*github\.com\/unclecode\/crawl4ai/);
    const meta = textOf(await v1.callTool('scrape', { url: emu.fixtures.docs.root, format: 'metadata' }));
    expect(meta).toContain('"title": "Example Docs — Home"');
    const html = textOf(await v1.callTool('scrape', { url: emu.fixtures.docs.root, format: 'html', css_selector: 'main' }));
    expect(html).toContain('<h1>');
    const lastCrawl = crawlCalls().at(-1)!.body as { crawler_config: { params: Record<string, unknown> } };
    expect(lastCrawl.crawler_config.params.css_selector).toBe('main');
  });

  it('batch_scrape: per-URL success and errors, blocked URLs never sent', async () => {
    const since = crawlCalls().length;
    const urls = [emu.fixtures.docs.root, 'https://docs.example.com/guide/', emu.fixtures.broken.url, 'http://127.0.0.1:11235/'];
    const r = await v1.callTool('batch_scrape', { urls, max_chars: 20_000 });
    expect(r.isError).toBeFalsy();
    const t = textOf(r);
    expect(t).toContain('Scraped 2 of 4 URLs (2 failed)');
    expect(t).toMatch(/## \[3\] https:\/\/broken\.example\.com\/\nerror: could not fetch/);
    expect(t).toMatch(/## \[4\] http:\/\/127\.0\.0\.1:11235\/\nerror: blocked URL/);
    expect(crawlCalls().length - since).toBe(1);
    expect(crawledUrls(since)).not.toContain('http://127.0.0.1:11235/');
  });

  it('map: internal and external links plus sitemap.xml', async () => {
    const r = await v1.callTool('map', { url: emu.fixtures.docs.root, include_sitemap: true });
    expect(r.isError).toBeFalsy();
    const t = textOf(r);
    expect(t).toMatch(/Internal links: \d+/);
    expect(t).toContain('- https://docs.example.com/guide/ — Guide');
    expect(t).toMatch(/sitemap\.xml: \d+ URLs/);
    // /api/md is only reachable deeper: it comes from the sitemap
    expect(t).toMatch(/From sitemap\.xml[^\n]*\n(?:- .*\n)*- https:\/\/docs\.example\.com\/api\/md/);
    expect(t).toContain('https://github.com/unclecode/crawl4ai');
    const filtered = textOf(await v1.callTool('map', { url: emu.fixtures.docs.root, search: 'guide', include_external: false }));
    expect(filtered).not.toContain('/blog/');
    expect(filtered).toContain('/guide/');
  });

  it('extract: CSS schema with JsonCssExtractionStrategy', async () => {
    const shop = emu.fixtures.shop;
    const r = await v1.callTool('extract', { url: shop.productsUrl, schema: shop.extractionSchema });
    expect(r.isError, textOf(r)).toBeFalsy();
    const json = JSON.parse(r.content![1]!.text!) as Array<Record<string, string>>;
    expect(json.length).toBe(shop.products.length);
    expect(json.map((p) => p.name)).toEqual(shop.products.map((p) => p.name));
    const sent = crawlCalls().at(-1)!.body as { crawler_config: { params: { extraction_strategy: { type: string } } } };
    expect(sent.crawler_config.params.extraction_strategy.type).toBe('JsonCssExtractionStrategy');
    const none = await v1.callTool('extract', { url: shop.productsUrl, schema: { baseSelector: '.no-such-thing', fields: [{ name: 'x', selector: 'h2', type: 'text' }] } });
    expect(textOf(none)).toContain('matched nothing');
  });

  it('extract: accepts the documented schema shapes (baseFields, nested, list, nested_list, regex, defaults)', async () => {
    const shop = emu.fixtures.shop;
    const schema = {
      name: 'Products',
      baseSelector: '.product',
      baseFields: [{ name: 'sku', type: 'attribute', attribute: 'data-sku' }],
      fields: [
        { name: 'name', selector: 'h2.name', type: 'text' },
        { name: 'price', selector: '.price', type: 'regex', pattern: '[0-9.]+' },
        { name: 'link', type: 'nested', selector: 'a', fields: [{ name: 'href', type: 'attribute', attribute: 'href' }] },
        { name: 'texts', type: 'list', selector: 'p' },
        { name: 'parts', type: 'nested_list', selector: 'h2', fields: [{ name: 't', type: 'text', default: null }] },
        { name: 'desc', selector: 'p.desc', type: 'html', default: 'n/a' },
      ],
    };
    const r = await v1.callTool('extract', { url: shop.productsUrl, schema });
    expect(r.isError, textOf(r)).toBeFalsy();
    const json = JSON.parse(r.content![1]!.text!) as Array<Record<string, unknown>>;
    expect(json.map((p) => p.name)).toEqual(shop.products.map((p) => p.name));
    const sent = crawlCalls().at(-1)!.body as { crawler_config: { params: { extraction_strategy: { params: { schema: { value: unknown } } } } } };
    expect(sent.crawler_config.params.extraction_strategy.params.schema.value).toEqual(schema);
  });

  it('extract: refuses unknown keys, typed objects and too-deep schemas before anything is sent', async () => {
    const url = emu.fixtures.shop.productsUrl;
    const field = { name: 'x', selector: 'h2', type: 'text' };
    const nestTo = (levels: number): Record<string, unknown> =>
      levels === 1 ? field : { name: `l${levels}`, selector: 'div', type: 'nested', fields: [nestTo(levels - 1)] };
    const cases: Array<[string, unknown, RegExp]> = [
      ['unknown key in the schema', { baseSelector: '.product', fields: [field], extra: 1 }, /extra/],
      ['unknown key in a field', { baseSelector: '.product', fields: [{ ...field, transform: 'lowercase' }] }, /transform/],
      ['a typed object as the schema', { type: 'SomeClass', params: {} }, /baseSelector|type|params/],
      ['a typed object as a field type', { baseSelector: '.product', fields: [{ name: 'x', selector: 'h2', type: { type: 'SomeClass', params: {} } }] }, /type/],
      ['a typed object as a default', { baseSelector: '.product', fields: [{ ...field, default: { type: 'SomeClass', params: { x: 1 } } }] }, /default/],
      ['a typed object deep inside', { baseSelector: '.product', fields: [{ name: 'n', type: 'nested', selector: 'a', fields: [{ ...field, params: {} }] }] }, /params/],
      ['too deep', { baseSelector: '.product', fields: [nestTo(6)] }, /Unrecognized key: "fields"/],
      ['attribute without attribute', { baseSelector: '.product', fields: [{ name: 'u', selector: 'a', type: 'attribute' }] }, /needs "attribute"/],
      ['too many fields', { baseSelector: '.product', fields: Array.from({ length: 51 }, (_, i) => ({ ...field, name: `f${i}` })) }, /fields/],
    ];
    const before = emu.requests.length;
    for (const [what, schema, re] of cases) {
      const r = await v1.callTool('extract', { url, schema });
      expect(r.isError, what).toBe(true);
      expect(textOf(r), what).toMatch(/validation/i);
      expect(textOf(r), what).toMatch(re);
    }
    expect(emu.requests.length).toBe(before);
    // four levels is the documented limit and passes
    const ok4 = await v1.callTool('extract', { url, schema: { baseSelector: '.product', fields: [nestTo(4)] } });
    expect(ok4.isError, textOf(ok4)).toBeFalsy();
  });

  it('extract: prompt is refused with a hint when the deployment has no LLM', async () => {
    const r = await v1.callTool('extract', { url: emu.fixtures.docs.root, prompt: 'list the headings' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain('LLM extraction is not enabled');
  });

  it('screenshot: MCP image content (PNG) plus size and artifact line', async () => {
    const r = await v2.callTool('screenshot', { url: emu.fixtures.docs.root });
    expect(r.isError).toBeFalsy();
    const img = r.content!.find((c) => c.type === 'image')!;
    expect(img.mimeType).toBe('image/png');
    expect(Buffer.from(img.data!, 'base64').subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(textOf(r)).toMatch(/artifact [0-9a-f]{32}/);
  });

  it('screenshot: over the size cap → a text note with the artifact reference, no image', async () => {
    const small = await startWorker({ originUrl: emu.url, token: emu.token, vars: { SCREENSHOT_MAX_BYTES: '1000' } });
    try {
      const c = await connectV1(small.mcpUrl, small.apiKey);
      const r = await c.callTool('screenshot', { url: emu.fixtures.docs.root });
      expect(r.isError).toBeFalsy();
      expect(r.content!.some((b) => b.type === 'image')).toBe(false);
      expect(textOf(r)).toMatch(/over this server's inline limit of 1 KB, so it is not shown[\s\S]*artifact [0-9a-f]{32}/);
      await c.close();
    } finally {
      await small.close();
    }
  });

  it('pdf: artifact reference and size, never the file inline', async () => {
    const r = await v1.callTool('pdf', { url: emu.fixtures.docs.root });
    expect(r.isError).toBeFalsy();
    const t = textOf(r);
    expect(t).toMatch(/PDF of https:\/\/docs\.example\.com\/ rendered: .*\(\d+ bytes\), application\/pdf/);
    expect(t).toMatch(/artifact [0-9a-f]{32}/);
    expect(t).not.toContain('JVBER'); // base64 of "%PDF"
    expect(t.length).toBeLessThan(1000);
  });

  it('start_crawl_job + get_job_status: processing, then completed results', async () => {
    const started = textOf(await v1.callTool('start_crawl_job', { urls: [emu.fixtures.docs.root, 'https://docs.example.com/guide/'] }));
    const id = /crawl_[0-9a-f]+/.exec(started)![0];
    let status = textOf(await v1.callTool('get_job_status', { task_id: id }));
    for (let i = 0; i < 50 && !status.includes('completed'); i++) {
      expect(status).toMatch(/is processing/);
      await new Promise((r) => setTimeout(r, 100));
      status = textOf(await v1.callTool('get_job_status', { task_id: id }));
    }
    expect(status).toContain(`Job ${id} is completed`);
    expect(status).toContain('2 of 2 URLs crawled successfully');
    expect(status).toContain('# Guide');
    const unknown = await v1.callTool('get_job_status', { task_id: 'crawl_ffffffff' });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toMatch(/not found.*expire/s);
  });

  it('health: origin version and token check', async () => {
    const t = textOf(await v2.callTool('health'));
    expect(t).toContain('version 0.9.4');
    expect(t).toContain('token: accepted');
  });
});

describe('SSRF guard', () => {
  const corpus = [
    'http://127.0.0.1/',
    'http://localhost/',
    'http://LOCALHOST./admin',
    'http://[::1]/',
    'http://0.0.0.0/',
    'http://0/',
    'http://2130706433/',
    'http://0x7f000001/',
    'http://017700000001/',
    'http://127.1/',
    'http://0177.0.0.1/',
    'http://%31%32%37.0.0.1/',
    'http://10.0.0.1/',
    'http://172.16.0.1/',
    'http://192.168.1.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://0xA9FEA9FE/',
    'http://[0:0:0:0:0:ffff:a9fe:a9fe]/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://100.100.100.200/',
    'http://[::ffff:127.0.0.1]/',
    'http://[fd00::1]/',
    'http://[fe80::1]/',
    'http://[::]/',
    'http://100.64.0.1/',
    'http://foo.internal/',
    'http://printer.local/',
    'http://127.0.0.1.nip.io/',
    'http://localtest.me/',
    'ftp://example.com/',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'gopher://example.com/',
    'data:text/html,hi',
    'https://user:pass@example.com/',
    'https://example.com:22/',
    'https://example.com:6379/',
    'https://example.com:11235/',
    'not a url',
  ];

  it(`refuses all ${corpus.length} URLs as isError results without any origin request`, async () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30);
    const before = emu.requests.length;
    const results = await Promise.all(corpus.map((url) => v1.callTool('scrape', { url })));
    results.forEach((r, i) => {
      expect(r.isError, corpus[i]).toBe(true);
      expect(textOf(r), corpus[i]).toMatch(/^Error: blocked URL/);
      expect(textOf(r)).toContain('Hint:');
    });
    // the other URL-taking tools use the same guard
    for (const [tool, args] of [
      ['map', { url: 'http://169.254.169.254/' }],
      ['crawl_site', { url: 'http://10.0.0.1/' }],
      ['extract', { url: 'http://[::1]/', schema: { baseSelector: 'a', fields: [{ name: 'x', type: 'text' }] } }],
      ['screenshot', { url: 'http://localhost/' }],
      ['pdf', { url: 'http://metadata.google.internal/' }],
      ['start_crawl_job', { urls: ['https://docs.example.com/', 'http://127.0.0.1:6379/'] }],
      ['batch_scrape', { urls: ['http://192.168.0.1/', 'file:///etc/passwd'] }],
    ] as const) {
      const r = await v1.callTool(tool, args as Record<string, unknown>);
      expect(r.isError, tool).toBe(true);
      expect(textOf(r), tool).toContain('blocked URL');
    }
    expect(emu.requests.length).toBe(before);
  });

  it('does not follow internal links that point at private addresses', async () => {
    emu.addPage('https://trap.example.com/', {
      html: '<html><head><title>Trap</title></head><body><a href="http://169.254.169.254/latest/">meta</a><a href="https://trap.example.com/ok">ok</a></body></html>',
    });
    emu.addPage('https://trap.example.com/ok', { html: '<html><head><title>Ok</title></head><body><p>fine</p></body></html>' });
    const since = crawlCalls().length;
    const r = await v1.callTool('crawl_site', { url: 'https://trap.example.com/', max_depth: 2 });
    expect(r.isError).toBeFalsy();
    expect(crawledUrls(since).some((u) => u.includes('169.254'))).toBe(false);
    expect(crawledUrls(since)).toContain('https://trap.example.com/ok');
  });
});

describe('redirects to private addresses (Chromium on the VM follows them)', () => {
  const SECRET = 'iam-role-secret-7f3a';
  const setup = () => {
    emu.addPage('http://169.254.169.254/latest/meta-data/', { html: `<html><head><title>meta</title></head><body><p>${SECRET}</p><a href="http://169.254.169.254/latest/user-data">ud</a></body></html>` });
    emu.addPage('http://10.0.0.5/admin', { html: `<html><head><title>admin</title></head><body><p>${SECRET}</p></body></html>` });
    emu.addPage('https://redir.example.com/meta', { html: '', redirectTo: 'http://169.254.169.254/latest/meta-data/' });
    emu.addPage('https://redir.example.com/admin', { html: '', redirectTo: 'http://10.0.0.5/admin' });
    emu.addPage('https://redir.example.com/', {
      html: '<html><head><title>Redir home</title></head><body><a href="https://redir.example.com/meta">m</a><a href="https://redir.example.com/fine">f</a></body></html>',
    });
    emu.addPage('https://redir.example.com/fine', { html: '<html><head><title>Fine</title></head><body><p>public page</p></body></html>' });
  };

  it('scrape, map and extract refuse the result and name the redirect target and why', async () => {
    setup();
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['scrape', { url: 'https://redir.example.com/meta' }, /169\.254\.169\.254[\s\S]*instance-metadata/],
      ['scrape', { url: 'https://redir.example.com/admin', format: 'html' }, /10\.0\.0\.5[\s\S]*private address/],
      ['map', { url: 'https://redir.example.com/meta' }, /169\.254\.169\.254/],
      ['extract', { url: 'https://redir.example.com/admin', schema: { baseSelector: 'p', fields: [{ name: 't', type: 'text' }] } }, /10\.0\.0\.5/],
    ];
    for (const [tool, args, re] of cases) {
      const r = await v1.callTool(tool, args);
      expect(r.isError, tool).toBe(true);
      expect(textOf(r), tool).toMatch(/^Error: refused the result of https:\/\/redir\.example\.com\/\w+: it redirected to/);
      expect(textOf(r), tool).toMatch(re);
      expect(textOf(r), tool).toContain('Hint:');
      expect(textOf(r), tool).not.toContain(SECRET);
    }
    // a redirect that stays public is still followed
    const fine = await v1.callTool('scrape', { url: 'https://docs.example.com/old-guide' });
    expect(fine.isError, textOf(fine)).toBeFalsy();
    expect(textOf(fine)).toContain('# Guide');
  });

  it('batch_scrape, crawl_site and jobs withhold only the pages that landed on a private address', async () => {
    setup();
    const batch = await v1.callTool('batch_scrape', { urls: ['https://redir.example.com/meta', 'https://redir.example.com/fine'] });
    expect(batch.isError).toBeFalsy();
    expect(textOf(batch)).toContain('Scraped 1 of 2 URLs (1 failed)');
    expect(textOf(batch)).toMatch(/## \[1\] https:\/\/redir\.example\.com\/meta\nerror: refused: it redirected to 169\.254\.169\.254/);
    expect(textOf(batch)).not.toContain(SECRET);

    const since = crawlCalls().length;
    const site = await v1.callTool('crawl_site', { url: 'https://redir.example.com/', max_depth: 2 });
    expect(site.isError).toBeFalsy();
    expect(textOf(site)).toMatch(/Refused \(1\): https:\/\/redir\.example\.com\/meta \(it redirected to 169\.254\.169\.254/);
    expect(textOf(site)).toContain('## https://redir.example.com/fine');
    expect(textOf(site)).not.toContain(SECRET);
    expect(crawledUrls(since).some((u) => u.includes('user-data'))).toBe(false); // its links are not followed

    const started = textOf(await v1.callTool('start_crawl_job', { urls: ['https://redir.example.com/admin'] }));
    const id = /crawl_[0-9a-f]+/.exec(started)![0];
    let status = await v1.callTool('get_job_status', { task_id: id });
    for (let i = 0; i < 50 && !textOf(status).includes('completed'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await v1.callTool('get_job_status', { task_id: id });
    }
    expect(status.isError).toBe(true);
    expect(textOf(status)).toMatch(/0 of 1 URL crawled successfully[\s\S]*error: refused: it redirected to 10\.0\.0\.5/);
    expect(textOf(status)).not.toContain(SECRET);
  });
});

describe('answer size and paging', () => {
  it('cuts a huge page at the default cap and pages through it exactly', async () => {
    const url = emu.fixtures.big.hugeUrl;
    const expected = emu.expectedMarkdown(url).fit;
    expect(expected.length).toBeGreaterThan(200_000);
    let offset = 0;
    let assembled = '';
    let calls = 0;
    for (;;) {
      const r: ToolResultLike = await v1.callTool('scrape', { url, offset });
      expect(r.isError, textOf(r)).toBeFalsy();
      calls++;
      const chunk = r.content![1]!.text!;
      expect(chunk.length).toBeLessThanOrEqual(40_000);
      expect(chunk).toBe(expected.slice(offset, offset + chunk.length));
      assembled += chunk;
      const next = nextOffsetOf(r);
      if (next === null) {
        expect(textOf(r)).toContain('[End of content');
        break;
      }
      expect(next).toBe(offset + chunk.length);
      expect(textOf(r)).toContain(`call scrape with url="${url}" with offset=${next}`);
      offset = next;
      expect(calls).toBeLessThan(40);
    }
    expect(assembled).toBe(expected);
    expect(calls).toBeGreaterThan(5);
  });

  it('honours max_chars and says when an offset is past the end', async () => {
    const url = emu.fixtures.big.hugeUrl;
    const r = await v2.callTool('scrape', { url, max_chars: 5_000, only_main_content: false });
    expect(r.content![1]!.text!.length).toBeLessThanOrEqual(5_000);
    expect(nextOffsetOf(r)).toBe(r.content![1]!.text!.length);
    const past = await v2.callTool('scrape', { url, offset: 10_000_000 });
    expect(textOf(past)).toContain('past the end');
  });
});

describe('crawl_site', () => {
  const docs = () => emu.fixtures.docs;
  const pageUrls = (r: ToolResultLike) => [...textOf(r).matchAll(/^## (\S+) \(depth (\d)\)/gm)].map((m) => ({ url: m[1]!, depth: Number(m[2]) }));

  it('stops at max_pages: never sends more URLs than that to Crawl4AI', async () => {
    const since = crawlCalls().length;
    const r = await v1.callTool('crawl_site', { url: docs().root, max_depth: 3, max_pages: 3 });
    expect(r.isError).toBeFalsy();
    expect(pageUrls(r).length).toBeLessThanOrEqual(3);
    expect(crawledUrls(since).length).toBeLessThanOrEqual(3);
    expect(textOf(r)).toContain('Stopped: max_pages (3) reached');
    expect(textOf(r)).toMatch(/Found but not fetched \(\d+\)/);
  });

  it('stops at max_depth and respects include/exclude globs', async () => {
    const r = await v1.callTool('crawl_site', { url: docs().root, max_depth: 1, max_pages: 50 });
    const pages = pageUrls(r);
    expect(pages.length).toBeGreaterThan(2);
    for (const p of pages) {
      expect(p.depth).toBeLessThanOrEqual(1);
      expect(docs().depthOf[p.url], p.url).toBeLessThanOrEqual(1);
    }
    const guideOnly = pageUrls(await v1.callTool('crawl_site', { url: docs().root, max_depth: 3, include_paths: ['/guide/**'], exclude_paths: ['*/docker'] }));
    expect(guideOnly.slice(1).every((p) => p.url.startsWith('https://docs.example.com/guide/'))).toBe(true);
    expect(guideOnly.some((p) => p.url.endsWith('/docker'))).toBe(false);
    expect(guideOnly.some((p) => p.url.endsWith('/guide/install'))).toBe(true);
  });

  it('respects robots.txt: /private/ is never crawled, stays on the host, batches /crawl calls', async () => {
    const since = crawlCalls().length;
    const r = await v1.callTool('crawl_site', { url: docs().root, max_depth: 3, max_pages: 50 });
    expect(r.isError).toBeFalsy();
    const pages = pageUrls(r);
    expect(pages.some((p) => p.url.includes('/private/'))).toBe(false);
    expect(textOf(r)).toMatch(/Skipped by robots\.txt \(1\): https:\/\/docs\.example\.com\/private\/secret/);
    expect(pages.every((p) => new URL(p.url).host === 'docs.example.com')).toBe(true);
    // every page reachable without /private/ was crawled
    const reachable = Object.keys(docs().depthOf).filter((u) => !u.includes('/private/') && !u.endsWith('/old-guide'));
    expect(pages.map((p) => p.url).sort(), textOf(r).split('\n').slice(0, 6).join('\n')).toEqual(reachable.sort());
    const calls = crawlCalls().slice(since);
    expect(calls.length).toBeLessThan(pages.length);
    for (const c of calls) expect((c.body as { crawler_config: { params: Record<string, unknown> } }).crawler_config.params.check_robots_txt).toBe(true);
  });
});

describe('origin errors become isError results with hints', () => {
  const scrapeDocs = () => v1.callTool('scrape', { url: emu.fixtures.docs.root, bypass_cache: true });

  it('504 → timeout hint pointing to jobs', async () => {
    emu.failNext('/crawl', 504, { detail: 'Crawl exceeded the time limit' });
    const r = await scrapeDocs();
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/timed out \(504: Crawl exceeded the time limit\)[\s\S]*start_crawl_job/);
  });

  it('500 with correlation_id → says so (a real all-URLs-failed crawl)', async () => {
    const r = await v1.callTool('scrape', { url: emu.fixtures.broken.url });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/500, correlation_id [0-9a-f]{12}/);
  });

  it('an answer of an unexpected shape → a generic error with a correlation id, never the exception text', async () => {
    emu.failNext('/crawl', 200, { success: true, results: { not: 'a list' } });
    const r = await scrapeDocs();
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^Error: unexpected error \(correlation id [0-9a-f-]{36}\)\nHint: retry once/);
    expect(textOf(r)).not.toMatch(/is not a function|TypeError|find/);
  });

  it('origin 401 → token mismatch', async () => {
    const wrong = await startWorker({ originUrl: emu.url, token: 'not-the-token' });
    try {
      const c = await connectV1(wrong.mcpUrl, wrong.apiKey);
      const r = await c.callTool('scrape', { url: emu.fixtures.docs.root });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/rejected the Worker's token \(401[\s\S]*CRAWL4AI_API_TOKEN/);
      const h = await c.callTool('health');
      expect(h.isError).toBe(true);
      expect(textOf(h)).toContain('token: REJECTED');
      expect(textOf(r)).not.toContain('not-the-token');
      await c.close();
    } finally {
      await wrong.close();
    }
  });

  it('origin down (connection reset) → could not connect', async () => {
    emu.setDown(true);
    try {
      const r = await scrapeDocs();
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/could not connect to Crawl4AI[\s\S]*crawl4ai-mcp status/);
    } finally {
      emu.setDown(false);
    }
  });

  it('Cloudflare edge answers (1003 bare IP, 526, 525, 530/1016, 521, 522, 524) map to clear hints', async () => {
    const cases: Array<[number, string, RegExp]> = [
      [403, 'error code: 1003', /bare IP address[\s\S]*hostname/],
      [526, 'error code: 526', /not trusted[\s\S]*self-signed/],
      [525, 'error code: 525', /TLS handshake/],
      [530, 'error code: 1016', /does not resolve[\s\S]*DNS/],
      [521, 'error code: 521', /refused the connection \(521/],
      [522, 'error code: 522', /connect to the origin in time \(522/],
      [524, 'error code: 524', /took too long[\s\S]*start_crawl_job/],
      [400, JSON.stringify({ detail: 'URL blocked (SSRF protection): resolves to private address' }), /blocked the URL as a private or internal address/],
    ];
    for (const [status, body, re] of cases) {
      emu.failNext('/crawl', status, body.startsWith('{') ? JSON.parse(body) : body);
      const r = await scrapeDocs();
      expect(r.isError, String(status)).toBe(true);
      expect(textOf(r), String(status)).toMatch(re);
    }
  });

  it('tunnel binding that throws → "crawler VM is not connected", never a 500', async () => {
    const down = await startWorker({ token: emu.token, crawl4aiBinding: 'down' });
    try {
      const c = await connectV2(down.mcpUrl, down.apiKey);
      const r = await c.callTool('scrape', { url: emu.fixtures.docs.root });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toContain('your crawler VM is not connected (tunnel down or VM stopped); run `crawl4ai-mcp status`');
      await c.close();
    } finally {
      await down.close();
    }
  });

  it('tunnel binding that works: requests reach Crawl4AI with the token', async () => {
    const up = await startWorker({
      token: emu.token,
      crawl4aiBinding: (req) => {
        const u = new URL(req.url);
        expect(u.host).toBe('crawl4ai');
        return fetch(`${emu.url}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body: req.method === 'GET' ? undefined : req.body, duplex: 'half' } as RequestInit);
      },
    });
    try {
      const c = await connectV1(up.mcpUrl, up.apiKey);
      const r = await c.callTool('scrape', { url: emu.fixtures.docs.root });
      expect(r.isError, textOf(r)).toBeFalsy();
      expect(emu.requests.at(-1)!.auth).toBe(`Bearer ${emu.token}`);
      await c.close();
    } finally {
      await up.close();
    }
  });
});

describe('LLM extraction (deployment with an LLM key)', () => {
  it('offers prompt and polls the /llm/job to completion', async () => {
    const llmEmu = await startCrawl4aiEmulator({ llmEnabled: true, jobDelayMs: 50 });
    const w = await startWorker({ originUrl: llmEmu.url, token: llmEmu.token, llmEnabled: true });
    try {
      const c = await connectV1(w.mcpUrl, w.apiKey);
      const { tools } = await c.listTools();
      expect(Object.keys(tools.find((t) => t.name === 'extract')!.inputSchema.properties as object)).toContain('prompt');
      const r = await c.callTool('extract', { url: llmEmu.fixtures.docs.root, prompt: 'What is this site about?' });
      expect(r.isError, textOf(r)).toBeFalsy();
      expect(textOf(r)).toContain('Emulated LLM answer');
      await c.close();
    } finally {
      await w.close();
      await llmEmu.close();
    }
  });
});

describe('building blocks (built dist/, as the Worker and the CLI use them)', () => {
  const dist = (p: string) => import(path.join(ROOT, 'dist', p));

  it('API keys: c4m_ + 32 random bytes base64url; SHA-256 hex; constant-time compare', async () => {
    const k = (await dist('ground/api-key.js')) as typeof import('../src/ground/api-key.ts');
    const a = k.generateApiKey();
    const b = k.generateApiKey();
    expect(a).toMatch(/^c4m_[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(k.isWellFormedApiKey(a)).toBe(true);
    expect(k.isWellFormedApiKey(a + 'x')).toBe(false);
    const h = await k.hashApiKey(a);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    const { createHash } = await import('node:crypto');
    expect(h).toBe(createHash('sha256').update(a).digest('hex'));
    expect(k.constantTimeEqual(h, h)).toBe(true);
    expect(k.constantTimeEqual(h, h.slice(0, 63) + (h.endsWith('0') ? '1' : '0'))).toBe(false);
    expect(k.constantTimeEqual(h, h.slice(0, 10))).toBe(false);
    expect(k.apiKeyHint(a)).not.toContain(a.slice(8, 30));
  });

  it('wrangler config: placeholders filled, DO + SQLite migration, vpc_service only in tunnel mode, no secrets', async () => {
    const w = (await dist('cloudflare/wrangler-config.js')) as typeof import('../src/cloudflare/wrangler-config.ts');
    const pub = w.renderWranglerConfig({ scriptName: 'crawl4ai-mcp-default', mainPath: '/x/index.js', originUrl: 'https://1-2-3-4.sslip.io' });
    expect(pub).toMatchObject({
      name: 'crawl4ai-mcp-default',
      main: '/x/index.js',
      compatibility_date: w.WORKER_COMPATIBILITY_DATE,
      vars: { ORIGIN_URL: 'https://1-2-3-4.sslip.io', LLM_ENABLED: 'false' },
      durable_objects: { bindings: [{ name: 'KEYS', class_name: 'KeyRegistry' }] },
      migrations: [{ tag: 'v1', new_sqlite_classes: ['KeyRegistry'] }],
    });
    expect(pub.compatibility_date as string >= '2024-09-02').toBe(true);
    expect(pub).not.toHaveProperty('vpc_services');
    expect(JSON.stringify(pub)).not.toMatch(/__[A-Z_]+__|CRAWL4AI_API_TOKEN|BOOTSTRAP_KEY/);
    const tunnel = w.renderWranglerConfig({ scriptName: 'crawl4ai-mcp-work', mainPath: 'index.js', vpcServiceId: '0f1e2d3c-0000-4000-8000-000000000001', llmEnabled: true });
    expect(tunnel.vpc_services).toEqual([{ binding: 'CRAWL4AI', service_id: '0f1e2d3c-0000-4000-8000-000000000001', remote: true }]);
    expect((tunnel.vars as Record<string, string>).ORIGIN_URL).toBe('');
    expect((tunnel.vars as Record<string, string>).LLM_ENABLED).toBe('true');
    expect(() => w.renderWranglerConfig({ scriptName: 'Bad Name', mainPath: 'x' })).toThrow(/invalid Worker name/);
  });

  it('paging never splits a surrogate pair and prefers line ends; globs match paths', async () => {
    const p = (await dist('mcp/paging.js')) as typeof import('../src/mcp/paging.ts');
    const text = 'a'.repeat(9) + '😀' + 'b'.repeat(20);
    const first = p.pageText(text, 0, 10);
    expect(first.chunk).toBe('a'.repeat(9));
    const rest = p.pageText(text, first.nextOffset!, 100);
    expect(first.chunk + rest.chunk).toBe(text);
    const lines = 'line one\nline two\nline three\n';
    expect(p.pageText(lines, 0, 20).chunk).toBe('line one\nline two\n');
    const g = (await dist('mcp/glob.js')) as typeof import('../src/mcp/glob.ts');
    expect(g.matchesGlob('/docs/a/b', '/docs/**')).toBe(true);
    expect(g.matchesGlob('/docs/a/b', '/docs')).toBe(true);
    expect(g.matchesGlob('/docsx', '/docs')).toBe(false);
    expect(g.matchesGlob('/blog/x/y', '/blog/*')).toBe(false);
    expect(g.matchesGlob('/files/a.pdf', '*.pdf')).toBe(true);
    expect(g.passesFilters(new URL('https://x.com/tag/a'), undefined, ['/tag/**'])).toBe(false);
  });
});
