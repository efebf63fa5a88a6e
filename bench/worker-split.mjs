#!/usr/bin/env node
/**
 * Where the Worker's added time goes, by probes (not a test): sequential requests that stop at
 * successive stages of a tool call, interleaved round-robin so machine load hits each alike.
 *
 *   npx tsc -p tsconfig.json && node bench/worker-split.mjs [--n 400]
 *
 *   direct      POST /crawl straight to the emulator (the origin's own time)
 *   health      GET /health on the Worker: the HTTP hop into workerd, no Worker work
 *   bad-key     tools/call with a well-formed unknown key: hash + body + registry round trip → 401
 *   ping        ping with a cached key: the MCP SDK's per-request serving alone, no registry call
 *   list        tools/list with a cached key: the same plus 10 input schemas as JSON Schema
 *   blocked     tools/call `scrape` of a metadata URL (limited key): admit + SDK + usage, no origin call
 *   call-hlth   tools/call `health` (limited key): admit + SDK + a tiny origin GET
 *   scrape      tools/call `scrape` (limited key): the full path the keys-load bench times
 *   …, own socket  the same on the Worker's own socket, without Miniflare's entry worker in front
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { arg, BENCH_ADMIN_KEY, createLimitedKey, machineLine, startEmulatedWorker, stats, timeInterleaved } from './lib.mjs';

const N = arg('n', 400);
const { emu, worker } = await startEmulatedWorker({ adminKey: BENCH_ADMIN_KEY, directSocket: true });
const PAGE = emu.fixtures.docs.root;
const workerd = execFileSync('pgrep', ['-P', String(process.pid)]).toString().trim().split('\n').map(Number).filter((p) => /workerd/.test(fs.readFileSync(`/proc/${p}/cmdline`, 'utf8')));
/** CPU ms (user + system) the Worker's workerd used so far (all its threads) */
const cpuMs = () => workerd.reduce((a, p) => {
  const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
  return a + ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}, 0);
const key = await createLimitedKey(worker.url, 'split');
const unknown = 'c4m_' + 'x'.repeat(43);
let id = 1;
const rpc = async (k, method, params, expect, base = worker.url) => {
  const r = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: id++, method, params }),
  });
  const t = await r.text();
  if (r.status !== expect) throw new Error(`${method} ${r.status} ${t.slice(0, 200)}`);
};
await rpc(key, 'tools/call', { name: 'scrape', arguments: { url: PAGE } }, 200);
const crawlBody = JSON.stringify(emu.requests.filter((r) => r.path === '/crawl').at(-1).body);
const probes = {
  direct: async () => {
    const r = await fetch(`${emu.url}/crawl`, { method: 'POST', headers: { authorization: `Bearer ${emu.token}`, 'content-type': 'application/json' }, body: crawlBody });
    await r.arrayBuffer();
  },
  health: async () => (await fetch(`${worker.url}/health`)).arrayBuffer(),
  'bad-key': () => rpc(unknown, 'tools/call', { name: 'scrape', arguments: { url: PAGE } }, 401),
  ping: () => rpc(key, 'ping', {}, 200),
  list: () => rpc(key, 'tools/list', {}, 200),
  blocked: () => rpc(key, 'tools/call', { name: 'scrape', arguments: { url: 'http://169.254.169.254/latest/meta-data/' } }, 200),
  'call-hlth': () => rpc(key, 'tools/call', { name: 'health', arguments: {} }, 200),
  scrape: () => rpc(key, 'tools/call', { name: 'scrape', arguments: { url: PAGE } }, 200),
  'health, own socket': async () => (await fetch(`${worker.directUrl}/health`)).arrayBuffer(),
  'scrape, own socket': () => rpc(key, 'tools/call', { name: 'scrape', arguments: { url: PAGE } }, 200, worker.directUrl),
};
const times = await timeInterleaved(probes, N);
// workerd CPU per request of each probe, in blocks (the interleaved timing above cannot split it)
const cpu = {};
for (const [k, f] of Object.entries(probes)) {
  await new Promise((r) => setTimeout(r, 1200)); // let the registry's 1 s flush of the previous block pass
  const c0 = cpuMs();
  for (let i = 0; i < N; i++) await f();
  cpu[k] = (cpuMs() - c0) / N;
}
console.log(machineLine());
console.log('\n| probe | p50 ms | p90 ms | p99 ms | workerd CPU ms per request |\n|---|---:|---:|---:|---:|');
for (const [k, v] of Object.entries(times)) {
  const s = stats(v);
  console.log(`| ${k} | ${s.p50.toFixed(2)} | ${s.p90.toFixed(2)} | ${s.p99.toFixed(2)} | ${cpu[k].toFixed(2)} |`);
}
await worker.close();
await emu.close();
