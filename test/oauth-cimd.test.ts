/**
 * OAuth client ID metadata documents (MCP authorization 2025-11-25): a client whose client_id is the
 * https URL of its metadata JSON, served by a loopback HTTPS server that the Worker (in workerd,
 * with the global_fetch_strictly_public flag) reaches through the edge-outbound emulator: public
 * hostnames only, certificates verified against a CA standing in for the public ones. The official
 * MCP v2 client uses the document when the server advertises support; the owner approves in
 * chromium (screenshot kept in test/artifacts/), and may narrow the tools the client gets.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { Browser } from 'playwright-core';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { EdgeOutbound } from './emulators/cloudflare/edge-outbound.ts';
import { startCrawl4aiEmulator, type Crawl4aiEmulator } from './emulators/crawl4ai/index.ts';
import { ROOT, startWorker, type RunningWorker } from './helpers/mcp-worker.ts';
import { ClaudeLikeOAuthClient } from './helpers/oauth-client.ts';
import { launchChromium, LOOPBACK_ONLY } from './helpers/browser.ts';
import { itWith } from './helpers/system-tools.ts';
import { makeTestCa, type TestCa } from './helpers/test-ca.ts';

const it = itWith([{ cmd: 'chromium', pkg: 'chromium' }]);
const ADMIN_KEY = 'c4m_' + 'cimdcimdcimdcimdcimdcimdcimdcimdcimdcimd123';
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const APP = 'https://app.example';
const DESK_REDIRECT = 'https://desk.example/oauth/callback';

let emu: Crawl4aiEmulator;
let worker: RunningWorker;
let ca: TestCa;
let browser: Browser | undefined;
const servers: https.Server[] = [];
const logs: string[] = [];
/** path -> the document app.example serves there (status 200 JSON); absent -> 404 */
const documents = new Map<string, unknown>();
const fetched: string[] = [];

async function httpsServer(leaf: { cert: string; key: string }, handler: https.RequestListener): Promise<string> {
  const server = https.createServer({ cert: leaf.cert, key: leaf.key }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function doc(pathname: string, meta: Record<string, unknown> = {}): string {
  const clientId = `${APP}${pathname}`;
  documents.set(pathname, { client_id: clientId, client_name: 'Example Desk', client_uri: APP, redirect_uris: [DESK_REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], ...meta });
  return clientId;
}

beforeAll(async () => {
  ca = makeTestCa();
  emu = await startCrawl4aiEmulator({});
  const app = await httpsServer(ca.issue(['app.example']), (req, res) => {
    fetched.push(req.url ?? '');
    const body = documents.get(new URL(req.url ?? '/', APP).pathname);
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    // no-store: each test's document is read afresh (the library caches what the origin allows)
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  });
  const rogue = await httpsServer(ca.selfSigned(['selfsigned.example']), (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ client_id: 'https://selfsigned.example/client.json', client_name: 'Rogue', redirect_uris: [DESK_REDIRECT] }));
  });
  const edge = new EdgeOutbound({
    'app.example': { url: app, ca: ca.cert },
    'selfsigned.example': { url: rogue, ca: ca.cert },
    'crawler.example': emu.url,
  });
  worker = await startWorker({ originUrl: 'http://crawler.example', token: emu.token, adminKey: ADMIN_KEY, outbound: edge, onStderr: (t) => logs.push(t) });
  browser = await launchChromium([LOOPBACK_ONLY]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await worker?.close();
  await emu?.close();
  for (const s of servers) s.close();
  ca?.dispose();
});

async function pairingCode(): Promise<string> {
  const r = await fetch(`${worker.url}/admin/pairing-codes`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  expect(r.status).toBe(201);
  return ((await r.json()) as { code: string }).code;
}

interface KeyRow {
  id: string;
  name: string;
  source: string;
  tools: string[] | null;
  revoked_at: number | null;
}
async function oauthKeys(): Promise<KeyRow[]> {
  const r = await fetch(`${worker.url}/admin/keys`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return ((await r.json()) as { keys: KeyRow[] }).keys.filter((k) => k.source === 'oauth');
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeUrl(clientId: string, p: Record<string, string> = {}): string {
  const q = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: DESK_REDIRECT, state: 'st4te', scope: 'mcp', resource: worker.mcpUrl, code_challenge: pkce().challenge, code_challenge_method: 'S256', ...p });
  return `${worker.url}/authorize?${q}`;
}

describe('OAuth client ID metadata documents', () => {
  it('the authorization server metadata advertises them', async () => {
    const r = await fetch(`${worker.url}/.well-known/oauth-authorization-server`);
    const meta = (await r.json()) as Record<string, unknown>;
    expect(meta.client_id_metadata_document_supported).toBe(true);
  });

  it('the MCP client uses its https client_id; consent shows the document\'s name, domain and redirect host; the owner narrows the tools; the flow completes', async () => {
    const clientId = doc('/oauth/desk.json');
    const provider = new ClaudeLikeOAuthClient('Example Desk', DESK_REDIRECT);
    provider.clientMetadataUrl = clientId;
    const transport = new StreamableHTTPClientTransport(new URL(worker.mcpUrl), { authProvider: provider });
    await expect(new Client({ name: 'desk', version: '1.0.0' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    // no dynamic registration: the URL is the client_id
    expect(provider.registrations).toEqual([clientId]);
    const authUrl = provider.authorizationUrl!;
    expect(authUrl.searchParams.get('client_id')).toBe(clientId);

    const ctx = await browser!.newContext({ viewport: { width: 760, height: 900 } });
    const page = await ctx.newPage();
    let landed: string | undefined;
    await page.route('https://desk.example/**', (route) => {
      landed = route.request().url();
      return route.fulfill({ status: 200, body: 'ok' });
    });
    await page.goto(authUrl.href);
    expect(await page.textContent('#client-name')).toBe('Example Desk');
    expect(await page.textContent('#redirect-host')).toBe('desk.example');
    expect(await page.textContent('main')).toContain('Published by app.example');
    // every tool is ticked by default; the owner leaves only scrape and health
    const boxes = page.locator('#tools input[type=checkbox]');
    expect(await boxes.count()).toBeGreaterThanOrEqual(8);
    for (const b of await boxes.all()) expect(await b.isChecked()).toBe(true);
    for (const b of await boxes.all()) {
      const name = await b.getAttribute('value');
      if (name !== 'scrape' && name !== 'health') await b.uncheck();
    }
    await page.fill('#code', await pairingCode());
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'oauth-consent.png'), fullPage: true });
    await page.click('button[value=approve]');
    await expect.poll(() => landed, { timeout: 15_000 }).toBeDefined();
    await ctx.close();
    const callback = new URL(landed!);
    expect(callback.origin + callback.pathname).toBe(DESK_REDIRECT);
    await transport.finishAuth(callback.searchParams);
    expect(provider.saved?.access_token).toBeTruthy();

    // the key record carries the owner's choice; tools/list shows only those; others are refused
    const mine = (await oauthKeys()).find((k) => k.name.startsWith('oauth-Example-Desk-'))!;
    expect(mine.tools).toEqual(['scrape', 'health']);
    const client = new Client({ name: 'desk', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(worker.mcpUrl), { authProvider: provider }));
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['health', 'scrape']);
    expect((await client.callTool({ name: 'health', arguments: {} })).isError).toBeFalsy();
    const refused = await client.callTool({ name: 'map', arguments: { url: 'https://docs.example.com/' } });
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toMatch(/tool \\"map\\" is outside the scope of key/);
    await client.close();
    expect(fetched).toContain('/oauth/desk.json');

    // keys revoke cuts it off: the access token is refused, and the refresh token no longer works
    // (the document still resolves, so the client is known: the grant is what is gone)
    const revoke = await fetch(`${worker.url}/admin/keys/${mine.name}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: '{}' });
    expect(revoke.status).toBe(200);
    const direct = await fetch(worker.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${provider.saved!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'health', arguments: {} } }),
    });
    expect(direct.status).toBe(401);
    const refresh = await fetch(`${worker.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: provider.saved!.refresh_token!, client_id: clientId }),
    });
    expect(refresh.status).toBe(400);
    expect(((await refresh.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('a redirect_uri not in the document is refused on the page, never redirected', async () => {
    const clientId = doc('/oauth/strict.json');
    for (const redirect of ['https://evil.example/cb', `${DESK_REDIRECT}/x`]) {
      const r = await fetch(authorizeUrl(clientId, { redirect_uri: redirect }), { redirect: 'manual' });
      expect(r.status, redirect).toBe(400);
      expect(r.headers.get('location')).toBeNull();
      expect(await r.text()).toMatch(/Cannot authorize/);
    }
  });

  it('a document whose client_id differs from its URL, an http client_id, and fetch failures are refused', async () => {
    documents.set('/oauth/liar.json', { client_id: `${APP}/oauth/other.json`, client_name: 'Liar', redirect_uris: [DESK_REDIRECT] });
    const cases: Array<[string, RegExp]> = [
      [`${APP}/oauth/liar.json`, /could not be verified/],
      // http: not a metadata document URL, and no registration has that id
      ['http://app.example/oauth/desk.json', /Cannot authorize/],
      // 404 at the origin
      [`${APP}/oauth/missing.json`, /could not be verified/],
      // hostname that does not resolve (edge 530/1016)
      ['https://nowhere.example/client.json', /could not be verified/],
      // certificate not signed by a trusted CA (edge 526)
      ['https://selfsigned.example/client.json', /could not be verified/],
    ];
    for (const [clientId, message] of cases) {
      const r = await fetch(authorizeUrl(clientId), { redirect: 'manual' });
      expect(r.status, clientId).toBe(400);
      expect(r.headers.get('location'), clientId).toBeNull();
      expect(await r.text(), clientId).toMatch(message);
    }
    // the token endpoint refuses them as unknown clients
    const t = await fetch(`${worker.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x:y:z', code_verifier: pkce().verifier, client_id: `${APP}/oauth/liar.json`, redirect_uri: DESK_REDIRECT }),
    });
    expect(t.status).toBe(401);
    expect(((await t.json()) as { error: string }).error).toBe('invalid_client');
    // the reasons stay in the Worker log: the edge's answers (526 untrusted certificate, 530 no such host)
    await expect.poll(() => logs.join('')).toMatch(/CIMD fetch failed for https:\/\/selfsigned\.example\/client\.json: .*HTTP 526/);
    expect(logs.join('')).toMatch(/CIMD fetch failed for https:\/\/nowhere\.example\/client\.json: .*HTTP 530/);
    expect(logs.join('')).toMatch(/CIMD fetch failed for https:\/\/app\.example\/oauth\/liar\.json: .*does not match metadata URL/);
  });

  it('approving with no tool ticked is refused on the page; the same page then approves with one tool', async () => {
    const clientId = doc('/oauth/none.json');
    const page = await fetch(authorizeUrl(clientId), { redirect: 'manual' });
    expect(page.status).toBe(200);
    const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const handle = /name="handle" value="([^"]+)"/.exec(await page.text())![1]!;
    const post = (extra: string[][]) =>
      fetch(`${worker.url}/authorize`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, origin: worker.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams([['handle', handle], ['code', ADMIN_KEY], ['decision', 'approve'], ...extra]),
      });
    const none = await post([]);
    expect(none.status).toBe(400);
    expect(await none.text()).toMatch(/Tick at least one tool/);
    // a name this Worker does not have counts as nothing
    expect((await post([['tool', 'rm_rf']])).status).toBe(400);
    const one = await post([['tool', 'health']]);
    expect(one.status).toBe(302);
    expect(new URL(one.headers.get('location')!).origin).toBe('https://desk.example');
    expect((await oauthKeys()).filter((k) => k.revoked_at === null && k.tools?.length === 1 && k.tools[0] === 'health').length).toBeGreaterThanOrEqual(1);
  });
});
