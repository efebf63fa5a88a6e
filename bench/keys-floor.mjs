#!/usr/bin/env node
/**
 * Benchmark (not a test): how much of keys-load's "added latency" any Worker pays in this harness.
 *
 *   npx tsc -p tsconfig.json && node bench/keys-floor.mjs [--n 600] [--rounds 3]
 *
 * One Crawl4AI emulator; in front of it, in one workerd, the real Worker (limited key: allowlist +
 * rpm + daily, as keys-load.mjs) and bench/floor-worker.js, the least a Worker can do for the same
 * `scrape`: /proxy (no MCP: the request and the SSE answer written by hand), /bare-sdk (the MCP
 * SDK's createMcpHandler with one tool; no keys), /bare (the same server through the Worker's own
 * serving, src/worker/mcp-serving.ts), /bare-do (/bare + one Durable Object call that counts the
 * call, the least an exact limit needs). Sequential calls, interleaved round-robin so machine load
 * hits every path alike; p50 / p99 minus direct's, per round.
 * Needs Node >= 23.6 (imports the TypeScript emulator and helper directly).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { arg, BENCH_ADMIN_KEY, createLimitedKey, machineLine, ROOT, scrapeThroughWorker, stats, timeInterleaved } from './lib.mjs';

const N = arg('n', 600);
const ROUNDS = arg('rounds', 3);

// the floor Worker, bundled as wrangler bundles the real one (ESM, workerd conditions, deps inlined)
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-floor-'));
await build({
  entryPoints: [path.join(ROOT, 'bench', 'floor-worker.js')],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  mainFields: ['module', 'main'],
  conditions: ['workerd', 'worker', 'browser'],
  external: ['cloudflare:*'],
  outfile: path.join(outDir, 'index.js'),
  logLevel: 'warning',
});
const { startCrawl4aiEmulator } = await import('../test/emulators/crawl4ai/index.ts');
const { bundleWorker, startWorker } = await import('../test/helpers/mcp-worker.ts');
const { config } = await bundleWorker();
const emu = await startCrawl4aiEmulator({});
// both Workers in one workerd (the floor one behind Miniflare's route /floor/*), as alike as can be
const worker = await startWorker({
  originUrl: emu.url,
  token: emu.token,
  adminKey: BENCH_ADMIN_KEY,
  extraWorkers: [
    {
      name: 'floor',
      modules: true,
      scriptPath: path.join(outDir, 'index.js'),
      modulesRoot: outDir,
      compatibilityDate: config.compatibility_date,
      compatibilityFlags: config.compatibility_flags,
      bindings: { ORIGIN_URL: emu.url, CRAWL4AI_API_TOKEN: emu.token },
      durableObjects: { COUNTER: { className: 'Counter', useSQLite: true } },
      routes: ['*/floor/*'],
    },
  ],
});
const floorUrl = `${worker.url}/floor`;
const PAGE = emu.fixtures.docs.root;
const key = await createLimitedKey(worker.url, 'floor');

await scrapeThroughWorker(worker.mcpUrl, key, PAGE);
const crawlBody = JSON.stringify(emu.requests.filter((r) => r.path === '/crawl').at(-1).body);
const probes = {
  direct: async () => {
    const r = await fetch(`${emu.url}/crawl`, { method: 'POST', headers: { authorization: `Bearer ${emu.token}`, 'content-type': 'application/json' }, body: crawlBody });
    if (!r.ok) throw new Error(`direct ${r.status}`);
    await r.arrayBuffer();
  },
  'GET /health (the hop)': async () => {
    const r = await fetch(`${worker.url}/health`);
    await r.arrayBuffer();
  },
  'proxy: no MCP': () => scrapeThroughWorker(`${floorUrl}/proxy`, key, PAGE),
  'bare MCP SDK (createMcpHandler)': () => scrapeThroughWorker(`${floorUrl}/bare-sdk`, key, PAGE),
  "bare MCP SDK, the Worker's serving": () => scrapeThroughWorker(`${floorUrl}/bare`, key, PAGE),
  'the same + one DO call': () => scrapeThroughWorker(`${floorUrl}/bare-do`, key, PAGE),
  'the Worker, limited key': () => scrapeThroughWorker(worker.mcpUrl, key, PAGE),
};
const names = Object.keys(probes).filter((k) => k !== 'direct');
const f = (x) => x.toFixed(2);
console.log(machineLine());
console.log(`\n${N} sequential calls per path and round, interleaved; added = p50 / p99 minus direct's (ms)\n`);
console.log(`| round | load | direct p50 / p99 | ${names.join(' | ')} |`);
console.log(`|---|---|---|${names.map(() => '---').join('|')}|`);
for (let round = 1; round <= ROUNDS; round++) {
  const times = await timeInterleaved(probes, N);
  const d = stats(times.direct);
  const cells = names.map((k) => {
    const s = stats(times[k]);
    return `${f(s.p50 - d.p50)} / ${f(s.p99 - d.p99)}`;
  });
  console.log(`| ${round} | ${os.loadavg()[0].toFixed(1)} | ${f(d.p50)} / ${f(d.p99)} | ${cells.join(' | ')} |`);
}
fs.rmSync(outDir, { recursive: true, force: true });
await worker.close();
await emu.close();
