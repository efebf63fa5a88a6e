/**
 * OAuth 2.1 for URL-only clients (claude.ai / Claude Desktop connectors), against the Worker in
 * workerd and the Crawl4AI emulator: the official MCP v2 client's OAuth support with dynamic
 * registration, the consent page driven in Debian's chromium, then tools, refresh and revocation,
 * and Claude's habits (client name "Claude", its callback, re-registration after invalid_client).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PassThrough } from 'node:stream';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { Browser } from 'playwright-core';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { startCrawl4aiEmulator, type Crawl4aiEmulator } from './emulators/crawl4ai/index.ts';
import { ROOT, startWorker, type RunningWorker } from './helpers/mcp-worker.ts';
import { connectV2 } from './helpers/mcp-clients.ts';
import { ClaudeLikeOAuthClient, CLAUDE_REDIRECT } from './helpers/oauth-client.ts';
import { launchChromium, LOOPBACK_ONLY } from './helpers/browser.ts';
import { itWith } from './helpers/system-tools.ts';

const it = itWith([{ cmd: 'chromium', pkg: 'chromium' }]);
const ADMIN_KEY = 'c4m_' + 'oauthoauthoauthoauthoauthoauthoauthoauth123';

let emu: Crawl4aiEmulator;
let worker: RunningWorker;
let browser: Browser | undefined;
const logs: string[] = [];

beforeAll(async () => {
  emu = await startCrawl4aiEmulator({});
  worker = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: ADMIN_KEY, onStderr: (t) => logs.push(t) });
  browser = await launchChromium([LOOPBACK_ONLY]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await worker?.close();
  await emu?.close();
});

async function admin(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${worker.url}/admin${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
}

async function pairingCode(w: RunningWorker = worker): Promise<string> {
  const r = await fetch(`${w.url}/admin/pairing-codes`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
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

    // an OAuth client has no key to rotate
    const rotate = await admin(`/keys/${mine.name}/rotate`, { method: 'POST', body: '{}' });
    expect(rotate.status).toBe(400);
    expect(((await rotate.json()) as { message: string }).message).toMatch(/OAuth client.*Revoke it and connect again/);

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

// ---- refusals, over plain HTTP (the consent form posted as a browser would: cookie + Origin) ----

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

async function register(w: RunningWorker, meta: Record<string, unknown> = {}): Promise<{ client_id: string; client_secret?: string }> {
  const r = await fetch(`${w.url}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Claude', redirect_uris: [CLAUDE_REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], ...meta }),
  });
  expect(r.status).toBe(201);
  return (await r.json()) as { client_id: string; client_secret?: string };
}

function authorizeUrl(w: RunningWorker, clientId: string, p: Record<string, string | undefined>): string {
  const q = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: CLAUDE_REDIRECT, state: 'st4te', scope: 'mcp', resource: w.mcpUrl });
  for (const [k, v] of Object.entries(p)) if (v === undefined) q.delete(k);
  else q.set(k, v);
  return `${w.url}/authorize?${q}`;
}

/** GET the consent page and POST `code`; the POST's response (a 302 to the client when approved). */
async function consentOverHttp(w: RunningWorker, url: string, code: string): Promise<Response> {
  const page = await fetch(url, { redirect: 'manual' });
  expect(page.status).toBe(200);
  const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const html = await page.text();
  const handle = /name="handle" value="([^"]+)"/.exec(html)![1]!;
  // the tool boxes as a browser submits them: every ticked one (all, by default)
  const tools = [...html.matchAll(/name="tool" value="([^"]+)" checked/g)].map((m) => ['tool', m[1]!]);
  expect(tools.length).toBeGreaterThan(0);
  return fetch(`${w.url}/authorize`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, origin: w.url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams([['handle', handle], ['code', code], ['decision', 'approve'], ...tools]),
  });
}

async function token(w: RunningWorker, body: Record<string, string>): Promise<{ status: number; body: Record<string, string> }> {
  const r = await fetch(`${w.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
  return { status: r.status, body: (await r.json()) as Record<string, string> };
}

/** An authorization code for a fresh registration, approved with a pairing code. */
async function approvedCode(w: RunningWorker): Promise<{ clientId: string; code: string; verifier: string }> {
  const { client_id } = await register(w);
  const { verifier, challenge } = pkce();
  const r = await consentOverHttp(w, authorizeUrl(w, client_id, { code_challenge: challenge, code_challenge_method: 'S256' }), await pairingCode(w));
  expect(r.status).toBe(302);
  const loc = new URL(r.headers.get('location')!);
  expect(loc.origin + loc.pathname).toBe(CLAUDE_REDIRECT);
  expect(loc.searchParams.get('state')).toBe('st4te');
  return { clientId: client_id, code: loc.searchParams.get('code')!, verifier };
}

describe('OAuth refusals', () => {
  it('authorization without PKCE is sent back with invalid_request, for public and confidential clients alike', async () => {
    for (const meta of [{}, { token_endpoint_auth_method: 'client_secret_post' }]) {
      const { client_id } = await register(worker, meta);
      const r = await fetch(authorizeUrl(worker, client_id, {}), { redirect: 'manual' });
      expect(r.status).toBe(302);
      const loc = new URL(r.headers.get('location')!);
      expect(loc.origin + loc.pathname).toBe(CLAUDE_REDIRECT);
      expect(loc.searchParams.get('error')).toBe('invalid_request');
      // plain PKCE is no better
      const plain = await fetch(authorizeUrl(worker, client_id, { code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' }), { redirect: 'manual' });
      expect(new URL(plain.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    }
  });

  it('a redirect URI that is not the registered one is refused on the page, never redirected (no open redirect)', async () => {
    const { client_id } = await register(worker);
    const { challenge } = pkce();
    for (const redirect of ['https://evil.example/cb', `${CLAUDE_REDIRECT}/extra`, `${CLAUDE_REDIRECT}?x=1`, 'https://claude.ai.evil.example/api/mcp/auth_callback']) {
      const r = await fetch(authorizeUrl(worker, client_id, { redirect_uri: redirect, code_challenge: challenge, code_challenge_method: 'S256' }), { redirect: 'manual' });
      expect(r.status, redirect).toBe(400);
      expect(r.headers.get('location')).toBeNull();
      expect(await r.text()).toMatch(/Cannot authorize/);
    }
  });

  it('a wrong code_verifier, a reused code and a foreign resource are refused at the token endpoint', async () => {
    const a = await approvedCode(worker);
    const wrong = await token(worker, { grant_type: 'authorization_code', code: a.code, code_verifier: pkce().verifier, client_id: a.clientId, redirect_uri: CLAUDE_REDIRECT });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_grant');

    const b = await approvedCode(worker);
    const foreign = await token(worker, { grant_type: 'authorization_code', code: b.code, code_verifier: b.verifier, client_id: b.clientId, redirect_uri: CLAUDE_REDIRECT, resource: 'https://other.example/mcp' });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error).toBe('invalid_target');

    const c = await approvedCode(worker);
    const ok = await token(worker, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, client_id: c.clientId, redirect_uri: CLAUDE_REDIRECT, resource: worker.mcpUrl });
    expect(ok.status).toBe(200);
    expect(ok.body.token_type).toMatch(/bearer/i);
    const reused = await token(worker, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, client_id: c.clientId, redirect_uri: CLAUDE_REDIRECT });
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');

    // an authorization request for another resource is sent back with invalid_target
    const { client_id } = await register(worker);
    const r = await fetch(authorizeUrl(worker, client_id, { code_challenge: pkce().challenge, code_challenge_method: 'S256', resource: 'https://other.example/mcp' }), { redirect: 'manual' });
    expect(new URL(r.headers.get('location')!).searchParams.get('error')).toBe('invalid_target');
  });

  it('the admin key approves too; a used pairing code and a wrong admin key do not; Deny sends access_denied', async () => {
    const { client_id } = await register(worker);
    const url = () => authorizeUrl(worker, client_id, { code_challenge: pkce().challenge, code_challenge_method: 'S256' });
    const activeOAuth = async () => (await keys()).filter((k) => k.source === 'oauth' && k.revoked_at === null).length;
    const before = await activeOAuth();
    expect((await consentOverHttp(worker, url(), ADMIN_KEY)).status).toBe(302);
    expect((await consentOverHttp(worker, url(), 'c4m_' + 'x'.repeat(43))).status).toBe(403);
    const once = await pairingCode();
    expect((await consentOverHttp(worker, url(), once.toLowerCase().replace('-', ' '))).status).toBe(302); // typed loosely
    // approving the same client again replaces its grant, and its key record with it
    expect(await activeOAuth()).toBe(before + 1);
    const reused = await consentOverHttp(worker, url(), once);
    expect(reused.status).toBe(403);
    expect(await reused.text()).toMatch(/Wrong or expired pairing code/);
    // a forged POST without the browser's consent cookie is refused
    const page = await fetch(url());
    const handle = /name="handle" value="([^"]+)"/.exec(await page.text())![1]!;
    const forged = await fetch(`${worker.url}/authorize`, { method: 'POST', redirect: 'manual', headers: { origin: worker.url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ handle, code: ADMIN_KEY, decision: 'approve', tool: 'health' }) });
    expect(forged.status).toBe(400);
    expect(forged.headers.get('location')).toBeNull();
    const crossSite = await fetch(`${worker.url}/authorize`, { method: 'POST', redirect: 'manual', headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ handle, code: ADMIN_KEY, decision: 'approve' }) });
    expect(crossSite.status).toBe(403);
    // Deny
    const p2 = await fetch(url());
    const cookie = p2.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const h2 = /name="handle" value="([^"]+)"/.exec(await p2.text())![1]!;
    const denied = await fetch(`${worker.url}/authorize`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: worker.url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ handle: h2, decision: 'deny' }) });
    expect(denied.status).toBe(302);
    expect(new URL(denied.headers.get('location')!).searchParams.get('error')).toBe('access_denied');
  });
});

describe('OAuth pairing-code brute force', () => {
  let w: RunningWorker;
  const wlogs: string[] = [];
  beforeAll(async () => {
    w = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: ADMIN_KEY, onStderr: (t) => wlogs.push(t) });
  }, 60_000);
  afterAll(async () => w?.close());

  it('five wrong codes, then even the right one is refused with 429 and Retry-After; every failure is logged', async () => {
    const { client_id } = await register(w);
    const url = () => authorizeUrl(w, client_id, { code_challenge: pkce().challenge, code_challenge_method: 'S256' });
    const mint = await fetch(`${w.url}/admin/pairing-codes`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const good = ((await mint.json()) as { code: string }).code;
    for (let i = 0; i < 5; i++) {
      const r = await consentOverHttp(w, url(), i === 0 ? 'not a code' : `AAAA-AAA${i}`);
      expect(r.status, `try ${i}`).toBe(403);
    }
    const limited = await consentOverHttp(w, url(), good);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(500);
    expect(await limited.text()).toMatch(/Too many wrong codes/);
    await expect.poll(() => wlogs.join('').match(/wrong or expired pairing code/g)?.length ?? 0).toBe(5);
    expect(wlogs.join('')).toMatch(/too many wrong codes/);
    // the admin key is not rate-limited by pairing failures
    expect((await consentOverHttp(w, url(), ADMIN_KEY)).status).toBe(302);
  });
});

describe('OAuth access-token expiry', () => {
  it('an access token past its lifetime (60 s here) is refused with 401 and a resource_metadata challenge', { timeout: 120_000 }, async () => {
    const w = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: ADMIN_KEY, vars: { OAUTH_ACCESS_TOKEN_TTL: '60' } });
    try {
      const a = await approvedCode(w);
      const t = await token(w, { grant_type: 'authorization_code', code: a.code, code_verifier: a.verifier, client_id: a.clientId, redirect_uri: CLAUDE_REDIRECT });
      expect(Number(t.body.expires_in)).toBe(60);
      const call = () =>
        fetch(w.mcpUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${t.body.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'health', arguments: {} } }),
        });
      expect((await call()).status).toBe(200);
      await new Promise((r) => setTimeout(r, 61_500));
      const late = await call();
      expect(late.status).toBe(401);
      expect(late.headers.get('www-authenticate')).toMatch(/invalid_token.*resource_metadata=|resource_metadata=.*invalid_token/);
    } finally {
      await w.close();
    }
  });
});

describe('mcp-remote with no header', () => {
  it('mcp-remote 0.15.1 registers, the owner approves in chromium, its loopback callback completes the flow, and tools work', { timeout: 120_000 }, async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-oauth-remote-'));
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [path.join(ROOT, 'node_modules', 'mcp-remote', 'dist', 'proxy.js'), worker.mcpUrl, '--transport', 'http-only'],
      // no DISPLAY and no browser: mcp-remote prints the URL, the test opens it
      env: { PATH: '/nonexistent', HOME: home, XDG_CONFIG_HOME: path.join(home, 'xdg'), MCP_REMOTE_CONFIG_DIR: path.join(home, 'mcp-auth') },
      stderr: 'pipe',
    });
    let err = '';
    (transport.stderr as PassThrough | null)?.on('data', (d: Buffer) => (err += d.toString()));
    const client = new ClientV1({ name: 'claude-desktop-like', version: '1.0.0' });
    try {
      const connecting = client.connect(transport);
      await expect.poll(() => /Please authorize this client by visiting:\s*(\S+)/.exec(err)?.[1], { timeout: 30_000 }).toBeDefined();
      const authUrl = new URL(/Please authorize this client by visiting:\s*(\S+)/.exec(err)![1]!);
      const redirect = new URL(authUrl.searchParams.get('redirect_uri')!);
      expect(['localhost', '127.0.0.1']).toContain(redirect.hostname);
      // the owner approves; the browser then lands on mcp-remote's own callback server
      const ctx = await browser!.newContext();
      const page = await ctx.newPage();
      await page.goto(authUrl.href);
      expect(await page.content()).toMatch(/sends access to an app on a computer/); // loopback redirect warning
      await page.fill('#code', await pairingCode());
      await page.click('button[value=approve]');
      await page.waitForURL((u) => u.port === redirect.port, { timeout: 15_000 });
      await ctx.close();
      await connecting;
      const r = (await client.callTool({ name: 'health', arguments: {} })) as { isError?: boolean };
      expect(r.isError).toBeFalsy();
      expect((await keys()).filter((k) => k.source === 'oauth' && k.revoked_at === null).length).toBeGreaterThanOrEqual(2);
    } finally {
      await client.close().catch(() => undefined);
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
