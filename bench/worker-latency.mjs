#!/usr/bin/env node
/**
 * Benchmark (not a test): what the MCP Worker adds to a `scrape`.
 *
 *   npx tsc -p tsconfig.json && node bench/worker-latency.mjs [--n 400] [--concurrency 20] [--seconds 8]
 *
 * Starts the Crawl4AI emulator (no added latency) and the Worker in workerd (wrangler's deploy
 * bundle under Miniflare, as the tests do), then measures, sequentially after a warm-up:
 *   1. POST /crawl straight to the emulator, with the exact body the Worker sends for a scrape;
 *   2. the `scrape` tool through the Worker as a raw JSON-RPC POST /mcp (2025 stateless path);
 *   3. the same through the official v2 client (2026-07-28 path, includes client overhead);
 *   4. GET /health on the Worker (routing floor, no auth, no MCP, no origin);
 * and tool calls per second at the given concurrency for 1 and 2. Prints a markdown table.
 * Needs Node >= 23.6 (imports the TypeScript emulator and helper directly).
 */
import { performance } from 'node:perf_hooks';
import { arg, machineLine, startEmulatedWorker, timeSeq } from './lib.mjs';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const N = arg('n', 400);
const CONCURRENCY = arg('concurrency', 20);
const SECONDS = arg('seconds', 8);
const WARMUP = 50;

async function throughput(fn, concurrency, seconds) {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        try {
          await fn();
          done++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { perSecond: done / seconds, errors };
}

const { emu, worker } = await startEmulatedWorker();
const PAGE = emu.fixtures.docs.root;

// The body the Worker sends for scrape({url}) with defaults (fit markdown, cache enabled).
await fetch(worker.mcpUrl, {
  method: 'POST',
  headers: { authorization: `Bearer ${worker.apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
  body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'tools/call', params: { name: 'scrape', arguments: { url: PAGE } } }),
}).then((r) => r.text());
const crawlBody = JSON.stringify(emu.requests.filter((r) => r.path === '/crawl').at(-1).body);

const direct = async () => {
  const r = await fetch(`${emu.url}/crawl`, { method: 'POST', headers: { authorization: `Bearer ${emu.token}`, 'content-type': 'application/json' }, body: crawlBody });
  if (!r.ok) throw new Error(`direct ${r.status}`);
  await r.arrayBuffer();
};

let id = 1;
const viaWorker = async () => {
  const r = await fetch(worker.mcpUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${worker.apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name: 'scrape', arguments: { url: PAGE } } }),
  });
  const t = await r.text();
  if (!r.ok || !t.includes('Welcome to Example Docs')) throw new Error(`worker ${r.status} ${t.slice(0, 200)}`);
};

const client = new Client({ name: 'bench', version: '1.0.0' });
await client.connect(
  new StreamableHTTPClientTransport(new URL(worker.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${worker.apiKey}` } } }),
);
const viaClient = async () => {
  const r = await client.callTool({ name: 'scrape', arguments: { url: PAGE } });
  if (r.isError) throw new Error('tool error');
};

const health = async () => {
  const r = await fetch(`${worker.url}/health`);
  await r.arrayBuffer();
};

const rows = [];
const sDirect = await timeSeq(direct, N);
const sWorker = await timeSeq(viaWorker, N);
const sClient = await timeSeq(viaClient, Math.min(N, 200));
const sHealth = await timeSeq(health, N);
rows.push(['Crawl4AI emulator POST /crawl (direct)', sDirect]);
rows.push(['Worker: scrape tool, raw JSON-RPC (2025 stateless)', sWorker]);
rows.push(['Worker: scrape tool, v2 SDK client (2026-07-28)', sClient]);
rows.push(['Worker: GET /health (floor)', sHealth]);

const tDirect = await throughput(direct, CONCURRENCY, SECONDS);
const tWorker = await throughput(viaWorker, CONCURRENCY, SECONDS);

const f = (x) => x.toFixed(2);
console.log(`\n${machineLine()}`);
console.log(`sequential: ${N} calls after ${WARMUP} warm-up (client row: ${Math.min(N, 200)}); throughput: ${CONCURRENCY} concurrent for ${SECONDS} s\n`);
console.log('| path | n | p50 ms | p90 ms | p99 ms | mean ms |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [name, s] of rows) console.log(`| ${name} | ${s.n} | ${f(s.p50)} | ${f(s.p90)} | ${f(s.p99)} | ${f(s.mean)} |`);
console.log(`\nAdded by the Worker (raw JSON-RPC − direct): p50 ${f(sWorker.p50 - sDirect.p50)} ms, p99 ${f(sWorker.p99 - sDirect.p99)} ms`);
console.log(`\n| throughput (concurrency ${CONCURRENCY}) | calls/s | errors |`);
console.log('|---|---:|---:|');
console.log(`| Crawl4AI emulator POST /crawl (direct) | ${tDirect.perSecond.toFixed(0)} | ${tDirect.errors} |`);
console.log(`| Worker: scrape tool (raw JSON-RPC) | ${tWorker.perSecond.toFixed(0)} | ${tWorker.errors} |`);

await client.close();
await worker.close();
await emu.close();
