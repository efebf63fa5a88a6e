/**
 * OAuth 2.1 for URL-only clients (claude.ai / Claude Desktop connectors), against the Worker in
 * workerd and the Crawl4AI emulator: the official MCP v2 client's OAuth support with dynamic
 * registration, the consent page driven in Debian's chromium, then tools, refresh and revocation,
 * and Claude's habits (client name "Claude", its callback, re-registration after invalid_client).
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { startCrawl4aiEmulator, type Crawl4aiEmulator } from './emulators/crawl4ai/index.ts';
import { startWorker, type RunningWorker } from './helpers/mcp-worker.ts';
import { connectV2 } from './helpers/mcp-clients.ts';
import { ClaudeLikeOAuthClient, CLAUDE_REDIRECT } from './helpers/oauth-client.ts';
import { hasCommand, itWith } from './helpers/system-tools.ts';

const it = itWith([{ cmd: 'chromium', pkg: 'chromium' }]);
const ADMIN_KEY = 'c4m_' + 'oauthoauthoauthoauthoauthoauthoauthoauth123';

let emu: Crawl4aiEmulator;
let worker: RunningWorker;
let browser: Browser | undefined;
const logs: string[] = [];

beforeAll(async () => {
  emu = await startCrawl4aiEmulator({});
  worker = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: ADMIN_KEY, onStderr: (t) => logs.push(t) });
  if (hasCommand('chromium')) {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'] });
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await worker?.close();
  await emu?.close();
});

async function admin(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${worker.url}/admin${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
}

async function pairingCode(): Promise<string> {
  const r = await admin('/pairing-codes', { method: 'POST', body: '{}' });
  expect(r.status).toBe(201);
  return ((await r.json()) as { code: string }).code;
}

interface KeyRow {
  id: string;
  name: string;
  source: string;
  revoked_at: number | null;
  usage: { calls: number };
}
async function keys(): Promise<KeyRow[]> {
  return ((await (await admin('/keys?revoked=1')).json()) as { keys: KeyRow[] }).keys;
}

/** Opens the authorization URL in chromium, checks the consent page, types `code`, returns where the browser was sent. */
async function approveInBrowser(authUrl: URL, code: string, check?: (html: string) => void): Promise<URL> {
  const ctx = await browser!.newContext();
  const page = await ctx.newPage();
  let landed: string | undefined;
  // claude.ai is not reachable from here: the browser's visit to the callback is caught
  await page.route('https://claude.ai/**', (route) => {
    landed = route.request().url();
    return route.fulfill({ status: 200, body: 'ok' });
  });
  const r = await page.goto(authUrl.href);
  const csp = r!.headers()['content-security-policy'] ?? '';
  expect(csp).toMatch(/default-src 'none'/);
  expect(csp).not.toMatch(/script-src/);
  expect(r!.headers()['x-frame-options']).toBe('DENY');
  check?.(await page.content());
  await page.fill('#code', code);
  await page.click('button[value=approve]');
  await expect.poll(() => landed, { timeout: 15_000 }).toBeDefined();
  await ctx.close();
  return new URL(landed!);
}

async function connectWithOAuth(provider: ClaudeLikeOAuthClient): Promise<Client> {
  const client = new Client({ name: 'claude-ai', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(worker.mcpUrl), { authProvider: provider }));
  return client;
}

describe('OAuth: a client that knows only the URL', () => {
  it('discovery → DCR as "Claude" → consent with a pairing code in chromium → token → tools/call → refresh → keys revoke → re-registration', async () => {
    const provider = new ClaudeLikeOAuthClient();
    // 1. no credentials: 401 pointing at the metadata; the SDK discovers, registers and redirects
    const transport = new StreamableHTTPClientTransport(new URL(worker.mcpUrl), { authProvider: provider });
    await expect(new Client({ name: 'claude-ai', version: '1.0.0' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.registrations).toHaveLength(1);
    const authUrl = provider.authorizationUrl!;
    expect(authUrl.origin + authUrl.pathname).toBe(`${worker.url}/authorize`);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('resource')).toBe(worker.mcpUrl);
    expect(authUrl.searchParams.get('redirect_uri')).toBe(CLAUDE_REDIRECT);

    // 2. the owner approves in the browser with a pairing code; the page names the client, host and scopes
    const code = await pairingCode();
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    const callback = await approveInBrowser(authUrl, code, (html) => {
      expect(html).toMatch(/id="client-name">Claude</);
      expect(html).toMatch(/id="redirect-host">claude\.ai</);
      expect(html).toMatch(/data-scope="mcp"/);
    });
    expect(callback.origin + callback.pathname).toBe(CLAUDE_REDIRECT);
    expect(callback.searchParams.get('iss')).toBe(worker.url);
    await transport.finishAuth(callback.searchParams);
    const first = provider.saved!;
    expect(first.refresh_token).toBeTruthy();
    expect(first.expires_in).toBeLessThanOrEqual(900);

    // 3. tools through the token; the client is a key record with its own usage
    const client = await connectWithOAuth(provider);
    expect((await client.callTool({ name: 'scrape', arguments: { url: emu.fixtures.docs.root } })).isError).toBeFalsy();
    let rows = await keys();
    const mine = rows.find((k) => k.source === 'oauth')!;
    expect(mine.name).toMatch(/^oauth-Claude-[0-9a-f]{6}$/);
    await expect.poll(async () => (await keys()).find((k) => k.id === mine.id)!.usage.calls).toBe(1);

    // 4. the access token stops working (as when it expires): the SDK refreshes, and the refresh token rotates
    provider.saved = { ...first, access_token: `${first.access_token.split(':').slice(0, 2).join(':')}:expiredexpiredexpired` };
    expect((await client.callTool({ name: 'health', arguments: {} })).isError).toBeFalsy();
    const second = provider.saved!;
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    await client.close();

    // 5. the owner revokes it: tokens refused, refresh refused, registration deleted (401 invalid_client)
    expect((await admin(`/keys/${mine.name}/revoke`, { method: 'POST', body: '{}' })).status).toBe(200);
    const direct = await fetch(worker.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${second.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'health', arguments: {} } }),
    });
    expect(direct.status).toBe(401);
    expect(direct.headers.get('www-authenticate')).toContain(`resource_metadata="${worker.url}/.well-known/oauth-protected-resource/mcp"`);
    const refresh = await fetch(`${worker.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: second.refresh_token!, client_id: provider.registrations[0]! }),
    });
    expect(refresh.status).toBe(401);
    expect(((await refresh.json()) as { error: string }).error).toBe('invalid_client');

    // 6. Claude's habit: on invalid_client it registers again, and needs the owner again
    const again = new StreamableHTTPClientTransport(new URL(worker.mcpUrl), { authProvider: provider });
    await expect(new Client({ name: 'claude-ai', version: '1.0.0' }).connect(again)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.registrations).toHaveLength(2);
    expect(provider.registrations[1]).not.toBe(provider.registrations[0]);
    const callback2 = await approveInBrowser(provider.authorizationUrl!, await pairingCode());
    await again.finishAuth(callback2.searchParams);
    const client2 = await connectWithOAuth(provider);
    expect((await client2.callTool({ name: 'health', arguments: {} })).isError).toBeFalsy();
    await client2.close();
    rows = await keys();
    expect(rows.filter((k) => k.source === 'oauth' && k.revoked_at === null)).toHaveLength(1);

    // API keys keep working unchanged beside OAuth
    const byKey = await connectV2(worker.mcpUrl, worker.apiKey);
    expect((await byKey.callTool('health')).isError).toBeFalsy();
    await byKey.close();
    // approvals are logged (never the code)
    expect(logs.join('')).not.toContain(code);
  });
});
