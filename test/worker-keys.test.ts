/**
 * Per-key scopes, limits and exact usage in the Worker (real workerd, the KeyRegistry Durable
 * Object's SQLite), managed through the admin API and exercised by the official MCP clients of
 * both eras against the Crawl4AI emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrawl4aiEmulator, type Crawl4aiEmulator } from './emulators/crawl4ai/index.ts';
import { startWorker, type RunningWorker } from './helpers/mcp-worker.ts';
import { connectV1, connectV2, textOf, TOOL_NAMES, type McpTestClient } from './helpers/mcp-clients.ts';
import { awayFromMinuteEdge, nearMinuteEnd } from './helpers/minute-window.ts';

let emu: Crawl4aiEmulator;
let worker: RunningWorker;

const ADMIN_KEY = 'c4m_' + 'adminadminadminadminadminadminadminadmin123';
let page: string;

interface KeyInfo {
  id: string;
  name: string;
  tools: string[] | null;
  rpm: number | null;
  daily: number | null;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  usage: { calls: number; errors: number; bytes: number; latency_ms_total: number; today: number; by_tool: Array<{ tool: string; calls: number; errors: number; bytes: number }> };
}

async function admin(method: string, path: string, body?: unknown, key = ADMIN_KEY): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

async function createKey(settings: Record<string, unknown>): Promise<string> {
  const r = await admin('POST', '/admin/keys', settings);
  expect(r.status, JSON.stringify(r.json)).toBe(201);
  expect(r.json.api_key).toMatch(/^c4m_[A-Za-z0-9_-]{43}$/);
  return r.json.api_key as string;
}

async function keyInfo(name: string): Promise<KeyInfo> {
  const r = await admin('GET', '/admin/keys?revoked=1');
  const k = (r.json.keys as KeyInfo[]).filter((x) => x.name === name).at(-1);
  if (!k) throw new Error(`no key ${name}`);
  return k;
}

/** A raw JSON-RPC tools/call (2025 stateless leg), as any HTTP client sends it. */
function rawCall(key: string, tool: string, args: Record<string, unknown>, id = 1): Promise<Response> {
  return fetch(worker.mcpUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: args } }),
  });
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const clients: McpTestClient[] = [];
const connect = async (era: 'v1' | 'v2', key: string) => {
  const c = await (era === 'v1' ? connectV1 : connectV2)(worker.mcpUrl, key);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  emu = await startCrawl4aiEmulator({});
  worker = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: ADMIN_KEY });
  page = emu.fixtures.docs.root;
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await worker?.close();
  await emu?.close();
});

describe('admin API', () => {
  it('refuses a missing, wrong or MCP key; the bootstrap MCP key is not the admin key', async () => {
    expect((await fetch(`${worker.url}/admin/keys`)).status).toBe(401);
    expect((await admin('GET', '/admin/keys', undefined, 'c4m_' + 'Z'.repeat(43))).status).toBe(401);
    expect((await admin('GET', '/admin/keys', undefined, worker.apiKey)).status).toBe(401);
    // and the admin key is no MCP key
    expect((await rawCall(ADMIN_KEY, 'health', {})).status).toBe(401);
  });

  it('a Worker deployed without an admin key has no admin API', async () => {
    const w = await startWorker({ originUrl: emu.url, token: emu.token });
    try {
      const r = await fetch(`${w.url}/admin/keys`, { headers: { authorization: `Bearer ${w.apiKey}` } });
      expect(r.status).toBe(404);
    } finally {
      await w.close();
    }
  });

  it('validates settings: name, unknown tools, limits; duplicate names conflict', async () => {
    expect((await admin('POST', '/admin/keys', { name: 'bad name!' })).status).toBe(400);
    const unknownTool = await admin('POST', '/admin/keys', { name: 'x1', tools: ['scrape', 'rm_rf'] });
    expect(unknownTool.status).toBe(400);
    expect(unknownTool.json.message).toMatch(/unknown tool\(s\): rm_rf/);
    expect((await admin('POST', '/admin/keys', { name: 'x2', rpm: 0 })).status).toBe(400);
    expect((await admin('POST', '/admin/keys', { name: 'x3', daily: 1.5 })).status).toBe(400);
    await createKey({ name: 'dup' });
    expect((await admin('POST', '/admin/keys', { name: 'dup' })).status).toBe(409);
  });

  it('a key sent as its hash is registered without the key ever reaching the Worker', async () => {
    const { generateApiKey, hashApiKey } = await import('../src/ground/api-key.ts');
    const key = generateApiKey();
    const r = await admin('POST', '/admin/keys', { name: 'hashed', hash: await hashApiKey(key) });
    expect(r.status).toBe(201);
    expect(r.json.api_key).toBeUndefined();
    expect((await rawCall(key, 'health', {})).status).toBe(200);
  });
});

describe.each(['v1', 'v2'] as const)('%s client', (era) => {
  it('a tool outside the key scope answers an isError result naming the scope; tools inside work', async () => {
    const key = await createKey({ name: `scoped-${era}`, tools: ['scrape', 'health'] });
    const c = await connect(era, key);
    const ok = await c.callTool('scrape', { url: page });
    expect(ok.isError).toBeFalsy();
    const before = emu.requests.length;
    const refused = await c.callTool('map', { url: page });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/tool "map" is outside the scope of key "scoped-.." \(scope: scrape, health\)/);
    expect(emu.requests.length).toBe(before);
  });

  it('tools/list shows a scoped key only its tools; a key without a scope sees them all', async () => {
    const scoped = await connect(era, await createKey({ name: `listed-${era}`, tools: ['scrape', 'health'] }));
    expect((await scoped.listTools()).tools.map((t) => t.name).sort()).toEqual(['health', 'scrape']);
    const all = await connect(era, worker.apiKey);
    expect((await all.listTools()).tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
  });

  it('over the per-minute rate: HTTP 429 with Retry-After, and the client error says when to retry', async () => {
    await awayFromMinuteEdge();
    const key = await createKey({ name: `rpm-${era}`, rpm: 3 });
    const c = await connect(era, key);
    for (let i = 0; i < 3; i++) expect((await c.callTool('health')).isError).toBeFalsy();
    const err = await c.callTool('health').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err, 'the 4th call in a minute must fail').toBeInstanceOf(Error);
    expect(String(err!.message)).toMatch(/rate limit: key \\?"rpm-v\d\\?" may make 3 tool calls per minute; retry after \d+ s/);
    const raw = await rawCall(key, 'health', {});
    expect(raw.status).toBe(429);
    const after = Number(raw.headers.get('retry-after'));
    expect(after).toBeGreaterThanOrEqual(1);
    expect(after).toBeLessThanOrEqual(60);
    const body = (await raw.json()) as { id: number; error: { message: string; data: { retry_after_seconds: number } } };
    expect(body.id).toBe(1);
    expect(body.error.data.retry_after_seconds).toBe(after);
    // listing tools is not a tool call: still allowed
    expect((await c.listTools()).tools.length).toBeGreaterThan(0);
  });

  it('over the daily quota: 429 naming the quota and the UTC reset', async () => {
    const key = await createKey({ name: `daily-${era}`, daily: 2 });
    const c = await connect(era, key);
    await c.callTool('health');
    await c.callTool('health');
    await expect(c.callTool('health')).rejects.toThrow(/daily quota: key \\?"daily-v\d\\?" may make 2 tool calls per day \(UTC\); retry after \d+ s/);
    const raw = await rawCall(key, 'health', {});
    expect(raw.status).toBe(429);
    const after = Number(raw.headers.get('retry-after'));
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(86_400);
    expect((await keyInfo(`daily-${era}`)).usage.today).toBe(2);
  });

  it('an expired key is refused (401), for tool calls at once', async () => {
    const key = await createKey({ name: `exp-${era}`, expires_in_seconds: 1 });
    const c = await connect(era, key);
    expect((await c.callTool('health')).isError).toBeFalsy();
    await new Promise((r) => setTimeout(r, 1100));
    await expect(c.callTool('health')).rejects.toThrow(/401|expired/);
    const raw = await rawCall(key, 'health', {});
    expect(raw.status).toBe(401);
    expect(((await raw.json()) as { error_description: string }).error_description).toBe('this API key has expired');
  });

  it('revocation: the next tool call is refused at once, any request within the 5 s bound', async () => {
    const key = await createKey({ name: `rev-${era}` });
    const c = await connect(era, key);
    expect((await c.callTool('health')).isError).toBeFalsy();
    expect((await c.listTools()).tools.length).toBeGreaterThan(0); // cached in the isolate now
    const t0 = Date.now();
    expect((await admin('POST', `/admin/keys/rev-${era}/revoke`)).json).toEqual({ revoked: 1 });
    await expect(c.callTool('health')).rejects.toThrow(/401|revoked/);
    // non-call requests may ride the isolate cache, never longer than the stated bound
    const refused = await until(
      () => fetch(worker.mcpUrl, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }) }).then((r) => r.status),
      (s) => s === 401,
      7000,
    );
    expect(refused).toBe(401);
    expect(Date.now() - t0).toBeLessThanOrEqual(5_500);
  });
});

describe('the body is read before the SDK (to find tool calls), so it is bounded', () => {
  // `mb` whole MiB, then `tail` bytes. The Worker stops reading (and the connection may be reset)
  // once the body passes 4 MiB, so a body that passes it only in its last few bytes has nothing
  // left in flight by then: the client reads the 413 instead of racing a reset on a loaded machine.
  const streamed = (mb: number, tail = 0) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        const chunk = new TextEncoder().encode('x'.repeat(1024 * 1024));
        for (let i = 0; i < mb; i++) c.enqueue(chunk);
        if (tail) c.enqueue(new TextEncoder().encode('x'.repeat(tail)));
        c.close();
      },
    });

  it('a chunked body over 4 MiB (no Content-Length) is refused with 413, and counts as no call', async () => {
    const key = await createKey({ name: 'big', daily: 5 });
    const r = await fetch(worker.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: streamed(4, 1024),
      duplex: 'half',
    } as RequestInit);
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/Payload Too Large/);
    expect((await keyInfo('big')).usage.today).toBe(0);
  });
});

describe('rotation', () => {
  it('rotate with a grace period: old and new keys both work, then the old one expires', async () => {
    const old = await createKey({ name: 'rot', tools: ['health'], rpm: 100 });
    const r = await admin('POST', '/admin/keys/rot/rotate', { grace_seconds: 1 });
    expect(r.status).toBe(200);
    const fresh = r.json.api_key as string;
    expect((r.json.key as KeyInfo).tools).toEqual(['health']);
    expect((r.json.key as KeyInfo).rpm).toBe(100);
    expect((await rawCall(old, 'health', {})).status).toBe(200);
    expect((await rawCall(fresh, 'health', {})).status).toBe(200);
    await new Promise((res) => setTimeout(res, 1100));
    expect((await rawCall(old, 'health', {})).status).toBe(401);
    expect((await rawCall(fresh, 'health', {})).status).toBe(200);
  });

  it('rotate without grace revokes the old key at once; an unknown name is a 404', async () => {
    const old = await createKey({ name: 'rot0' });
    const r = await admin('POST', '/admin/keys/rot0/rotate', {});
    expect(r.status).toBe(200);
    expect((await rawCall(old, 'health', {})).status).toBe(401);
    expect((await rawCall(r.json.api_key as string, 'health', {})).status).toBe(200);
    expect((await admin('POST', '/admin/keys/nobody/rotate', {})).status).toBe(404);
    expect((await admin('POST', '/admin/keys/nobody/revoke')).status).toBe(404);
  });
});

describe('usage', () => {
  it('is exact under concurrency: many concurrent calls from several keys, counted per key and tool', async () => {
    const names = ['conc-a', 'conc-b', 'conc-c'];
    const keys = await Promise.all(names.map((name) => createKey({ name })));
    const perKey = 60;
    const started = Date.now();
    const results = await Promise.all(
      keys.flatMap((key, k) =>
        Array.from({ length: perKey }, (_, i) => rawCall(key, i % 2 === 0 ? 'scrape' : 'health', i % 2 === 0 ? { url: `${page}?secret=s${k}-${i}` } : {}, i).then((r) => r.status)),
      ),
    );
    expect(results.every((s) => s === 200)).toBe(true);
    for (const name of names) {
      // admitted calls are counted in the one round trip (exact at once)...
      expect((await keyInfo(name)).usage.today).toBe(perKey);
      // ...and the outcome records arrive after the answers (waitUntil)
      const k = await until(() => keyInfo(name), (x) => x.usage.calls === perKey);
      expect(k.usage.calls).toBe(perKey);
      expect(k.usage.by_tool.map((t) => [t.tool, t.calls])).toEqual([
        ['health', perKey / 2],
        ['scrape', perKey / 2],
      ]);
      expect(k.usage.errors).toBe(0);
      expect(k.usage.by_tool.find((t) => t.tool === 'scrape')!.bytes).toBeGreaterThan(0);
      expect(k.last_used_at).toBeGreaterThanOrEqual(started);
    }
    // recent calls: tool and host only, never the path or the query
    const u = await admin('GET', '/admin/usage');
    const recent = u.json.recent as Array<{ key: string; tool: string; host: string | null; ms: number }>;
    const scrapes = recent.filter((c) => c.tool === 'scrape' && c.key.startsWith('conc-'));
    expect(scrapes.length).toBeGreaterThan(0);
    expect(scrapes.every((c) => c.host === new URL(page).hostname)).toBe(true);
    expect(JSON.stringify(u.json)).not.toMatch(/secret=|\?secret/);
  });

  it('the per-minute limit is a sliding window: calls at :58 still count at :00 of the next minute (a fixed window would admit them again)', async () => {
    const key = await createKey({ name: 'sliding', rpm: 3 });
    await nearMinuteEnd(2_500);
    for (let i = 0; i < 3; i++) expect((await rawCall(key, 'health', {}, i)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 300)); // into the next clock minute
    const refused = await rawCall(key, 'health', {}, 9);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(55);
    expect((await keyInfo('sliding')).usage.calls).toBe(3);
  }, 90_000);

  it('limits are exact under concurrency: 30 simultaneous calls on a 10-per-minute key admit exactly 10', async () => {
    await awayFromMinuteEdge();
    const key = await createKey({ name: 'burst', rpm: 10 });
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => rawCall(key, 'health', {}, i).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200).length).toBe(10);
    expect(statuses.filter((s) => s === 429).length).toBe(20);
    expect((await keyInfo('burst')).usage.today).toBe(10);
  });

  it('counts errors: out-of-scope, blocked URL, unknown tool and invalid arguments are errors; every call is counted', async () => {
    const key = await createKey({ name: 'errs', tools: ['scrape'] });
    await rawCall(key, 'health', {});
    await rawCall(key, 'scrape', { url: 'http://169.254.169.254/latest/meta-data/' });
    await rawCall(key, 'scrape', { url: page });
    await rawCall(key, 'no_such_tool_' + 'x'.repeat(40), {});
    await rawCall(key, 'scrape', { url: 42 });
    const k = await until(() => keyInfo('errs'), (x) => x.usage.calls === 5);
    expect(k.usage.calls).toBe(5);
    expect(k.usage.today).toBe(5);
    expect(k.usage.errors).toBe(4);
    expect(k.usage.by_tool.find((t) => t.tool === 'health')).toMatchObject({ calls: 1, errors: 1 });
    expect(k.usage.by_tool.find((t) => t.tool === '(unknown)')).toMatchObject({ calls: 1, errors: 1 });
    expect(k.usage.by_tool.find((t) => t.tool === 'scrape')).toMatchObject({ calls: 3, errors: 2 });
  });
});

describe('the hot path: admission beside the SDK, usage riding the next admission', () => {
  /** /crawl requests that reached the origin for URLs tagged `tag` */
  const originCrawls = (tag: string) => emu.requests.filter((r) => r.path === '/crawl' && JSON.stringify(r.body).includes(tag)).length;
  /** the status once the whole answer is read (an SSE answer's headers come before its tool ran) */
  const finished = async (r: Response) => (await r.text(), r.status);

  it('a refused call never reaches the origin, though a known key is admitted while the SDK already works on its call', async () => {
    await awayFromMinuteEdge();
    const key = await createKey({ name: 'gate', rpm: 10 });
    // a first call puts the key in the isolate's cache: later calls take the overlapped path
    expect(await finished(await rawCall(key, 'scrape', { url: `${page}?t=gate-warm` }))).toBe(200);
    const statuses = await Promise.all(Array.from({ length: 29 }, (_, i) => rawCall(key, 'scrape', { url: `${page}?t=gate-${i}` }, i).then(finished)));
    expect(statuses.filter((s) => s === 200).length).toBe(9);
    expect(statuses.filter((s) => s === 429).length).toBe(20);
    expect(originCrawls('t=gate-')).toBe(10); // the warm-up and the 9 admitted, none of the 20 refused
    expect((await keyInfo('gate')).usage.today).toBe(10);
    // revoked while cached: every call refused, none reaches the origin, none counted as usage
    expect((await admin('POST', '/admin/keys/gate/revoke')).json).toEqual({ revoked: 1 });
    const after = await Promise.all(Array.from({ length: 5 }, (_, i) => rawCall(key, 'scrape', { url: `${page}?t=gate-revoked-${i}` }, i).then(finished)));
    expect(after).toEqual([401, 401, 401, 401, 401]);
    expect(originCrawls('t=gate-revoked-')).toBe(0);
    const k = await until(() => keyInfo('gate'), (x) => x.usage.calls === 10);
    expect(k.usage.calls).toBe(10);
  });

  it('each request registers only the tools it calls, yet a 2025-03 batch of two tools and a call of an unknown tool are answered as before', async () => {
    const key = await createKey({ name: 'batch' });
    const batch = (id: number) =>
      fetch(worker.mcpUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify([
          { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'scrape', arguments: { url: page } } },
          { jsonrpc: '2.0', id: id + 1, method: 'tools/call', params: { name: 'health', arguments: {} } },
        ]),
      }).then((r) => r.text());
    // the first request verifies the key; the second takes the path where the SDK runs beside the admission
    for (const id of [10, 20]) {
      const events = (await batch(id)).split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)) as { id: number; result?: { isError?: boolean; content: Array<{ text?: string }> } });
      const byId = new Map(events.map((e) => [e.id, e]));
      expect(byId.get(id)?.result?.isError, JSON.stringify(events)).toBeFalsy();
      expect(byId.get(id)?.result?.content.map((c) => c.text).join('\n')).toContain('Welcome to Example Docs');
      expect(byId.get(id + 1)?.result?.content.map((c) => c.text).join('\n'), JSON.stringify(events)).toMatch(/Crawl4AI/);
    }
    const unknown = await (await rawCall(key, 'no_such_tool', {}, 30)).text();
    expect(unknown).toMatch(/no_such_tool/);
    expect(unknown).toMatch(/not found/i);
  });

  it('with a registry in another location (30 ms away), the SDK gets ahead of the admission, and a refused call still never reaches the origin', async () => {
    const far = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: ADMIN_KEY, registryDelayMs: 30 });
    try {
      const made = await fetch(`${far.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'far', rpm: 10 }) });
      const key = ((await made.json()) as { api_key: string }).api_key;
      const call = (tag: string, i: number) =>
        fetch(far.mcpUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'scrape', arguments: { url: `${page}?t=${tag}` } } }),
        }).then(finished);
      await awayFromMinuteEdge();
      expect(await call('far-warm', 0)).toBe(200);
      const statuses = await Promise.all(Array.from({ length: 29 }, (_, i) => call(`far-${i}`, i + 1)));
      expect(statuses.filter((s) => s === 200).length).toBe(9);
      expect(originCrawls('t=far-')).toBe(10);
    } finally {
      await far.close();
    }
  });

  it('sequential calls: each call\'s usage rides the next admission, one registry call per tool call; only the last is sent on its own', async () => {
    const calls: Array<['admit' | 'verify' | 'record', number]> = [];
    const watched = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: ADMIN_KEY, onRegistryCall: (method, records) => calls.push([method, records]) });
    try {
      const made = await fetch(`${watched.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'seq', rpm: 1000 }) });
      const key = ((await made.json()) as { api_key: string }).api_key;
      const N = 40;
      for (let i = 0; i < N; i++) {
        const r = await fetch(watched.mcpUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'health', arguments: {} } }),
        });
        expect(await finished(r)).toBe(200);
      }
      // the last call's record waits RIDE_WAIT_MS (50 ms) for an admission, then goes on its own
      const sent = () => calls.reduce((a, [, n]) => a + n, 0);
      for (let i = 0; i < 100 && sent() < N; i++) await new Promise((r) => setTimeout(r, 20));
      expect(sent(), JSON.stringify(calls)).toBe(N);
      expect(calls.filter(([m]) => m === 'admit')).toHaveLength(N);
      // a call slower than 50 ms to follow the one before (a loaded machine) may send its own; a
      // wait that took every waiting record sent a third of them on their own
      expect(calls.filter(([m]) => m === 'record').length, JSON.stringify(calls)).toBeLessThanOrEqual(4);
    } finally {
      await watched.close();
    }
  });

  it('the registry writes only what changed (a few rows a call, not the key\'s whole minute window), and its counters survive a restart', async () => {
    const watched = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: ADMIN_KEY, onRegistryCall: () => undefined });
    try {
      const adminOf = (method: string, path: string, body?: unknown) =>
        fetch(`${watched.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      const key = ((await (await adminOf('POST', '/admin/keys', { name: 'rows', rpm: 6 })).json()) as { api_key: string }).api_key;
      const call = (i: number) =>
        fetch(watched.mcpUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'health', arguments: {} } }),
        }).then(finished);
      /** an admin read writes what the registry holds in memory first */
      const settle = async () => {
        await new Promise((r) => setTimeout(r, 120)); // the call's usage record: sent alone after 50 ms
        expect((await adminOf('GET', '/admin/keys')).status).toBe(200);
      };
      await awayFromMinuteEdge();
      // calls in three different seconds: the window holds three slots
      for (let i = 0; i < 3; i++) {
        expect(await call(i)).toBe(200);
        await settle();
        await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
      }
      const before = await watched.registry!.rowsWritten();
      expect(await call(3)).toBe(200);
      await settle();
      // one slot upserted, the day's count, last used, the tool's usage, one recent call (and
      // SQLite's own bookkeeping): 7 rows; rewriting the whole window each time, as before, was 16
      expect((await watched.registry!.rowsWritten()) - before).toBeLessThanOrEqual(8);
      // memory lost, storage kept: the window of 4 calls (6 a minute) comes back from SQLite
      await watched.registry!.restart();
      expect(await call(4)).toBe(200);
      expect(await call(5)).toBe(200);
      expect(await call(6)).toBe(429);
      await settle();
      const k = ((await (await adminOf('GET', '/admin/keys')).json()) as { keys: KeyInfo[] }).keys.find((x) => x.name === 'rows')!;
      expect([k.usage.today, k.usage.calls]).toEqual([6, 6]); // the call refused with 429 ran no tool: neither
    } finally {
      await watched.close();
    }
  });

  it('usage stays exact when it is written after the answers: 200 concurrent calls from 3 keys, and a refused admission still delivers what it carried', async () => {
    const names = ['ride-a', 'ride-b', 'ride-c'];
    const keys = await Promise.all(names.map((name) => createKey({ name })));
    const limited = await createKey({ name: 'ride-limited', daily: 1 });
    expect((await rawCall(limited, 'health', {})).status).toBe(200);
    const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => rawCall(keys[i % 3]!, i % 2 ? 'health' : 'scrape', i % 2 ? {} : { url: page }, i).then(finished)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    // at once: an admission refused over its quota carries the records the burst left waiting
    expect((await rawCall(limited, 'health', {})).status).toBe(429);
    const want = [67, 67, 66];
    for (const [i, name] of names.entries()) {
      const k = await until(() => keyInfo(name), (x) => x.usage.calls >= want[i]!);
      expect(k.usage.calls).toBe(want[i]);
      expect(k.usage.today).toBe(want[i]);
      expect(k.usage.errors).toBe(0);
    }
    // nothing counted twice: a while later the totals are the same
    await new Promise((r) => setTimeout(r, 300));
    expect((await Promise.all(names.map(keyInfo))).map((k) => k.usage.calls)).toEqual(want);
    const l = await keyInfo('ride-limited');
    expect([l.usage.calls, l.usage.today]).toEqual([1, 1]);
  });
});
