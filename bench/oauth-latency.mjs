#!/usr/bin/env node
/**
 * Benchmark (not a test): what an OAuth access token costs per MCP request, against an API key.
 *
 *   npx tsc -p tsconfig.json && node bench/oauth-latency.mjs [--n 200]
 *
 * Starts the Crawl4AI emulator and the Worker in workerd (as the tests do), approves one OAuth
 * client over HTTP (registration, consent with the admin key, code exchange), then times
 * sequentially after a warm-up: a `health` tools/call with the bootstrap API key; the same with
 * the OAuth access token (the provider's KV read and props decryption, then the same key-record
 * check); a refresh-token exchange (rotation: KV writes). Prints a markdown table.
 */
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { startCrawl4aiEmulator } from '../test/emulators/crawl4ai/index.ts';
import { startWorker } from '../test/helpers/mcp-worker.ts';

const i = process.argv.indexOf('--n');
const N = i > 0 ? Number(process.argv[i + 1]) : 200;
const WARMUP = 30;
const ADMIN = 'c4m_' + 'b'.repeat(43);
const CB = 'https://claude.ai/api/mcp/auth_callback';

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99) };
}
async function timeSeq(fn, n) {
  for (let k = 0; k < WARMUP; k++) await fn();
  const out = [];
  for (let k = 0; k < n; k++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return stats(out);
}

const emu = await startCrawl4aiEmulator({});
const w = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: ADMIN });
try {
  const { client_id } = await (await fetch(`${w.url}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'bench', redirect_uris: [CB], token_endpoint_auth_method: 'none' }) })).json();
  const verifier = randomBytes(32).toString('base64url');
  const q = new URLSearchParams({ response_type: 'code', client_id, redirect_uri: CB, state: 's', scope: 'mcp', resource: w.mcpUrl, code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' });
  const page = await fetch(`${w.url}/authorize?${q}`);
  const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const handle = /name="handle" value="([^"]+)"/.exec(await page.text())[1];
  const approved = await fetch(`${w.url}/authorize`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: w.url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ handle, code: ADMIN, decision: 'approve' }) });
  const code = new URL(approved.headers.get('location')).searchParams.get('code');
  let tokens = await (await fetch(`${w.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id, redirect_uri: CB }) })).json();

  const call = (bearer) => async () => {
    const r = await fetch(w.mcpUrl, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'health', arguments: {} } }) });
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    await r.text();
  };
  const refresh = async () => {
    const r = await fetch(`${w.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id }) });
    if (r.status !== 200) throw new Error(`refresh HTTP ${r.status}`);
    tokens = await r.json();
  };
  const key = await timeSeq(call(w.apiKey), N);
  const oauth = await timeSeq(() => call(tokens.access_token)(), N);
  const ref = await timeSeq(refresh, Math.min(N, 100));
  const f = (x) => x.toFixed(2);
  console.log(`load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, n=${N}`);
  console.log('| request | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|');
  for (const [label, s] of [['tools/call health, API key', key], ['tools/call health, OAuth access token', oauth], ['refresh-token exchange (rotation)', ref]]) console.log(`| ${label} | ${f(s.p50)} | ${f(s.p90)} | ${f(s.p99)} |`);
} finally {
  await w.close();
  await emu.close();
}
