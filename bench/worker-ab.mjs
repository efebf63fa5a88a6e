#!/usr/bin/env node
/**
 * Two Workers side by side (not a test): this tree's and another built tree's (`--base DIR`, e.g. a
 * `git archive` of main with `node_modules` linked and `tsc` run), each in its own workerd, both in
 * front of one Crawl4AI emulator. Sequential `scrape` calls with a limited key (allowlist + rpm +
 * daily, as keys-load.mjs) alternate direct / base / this, so machine load hits all three alike.
 *
 *   npx tsc -p tsconfig.json && node bench/worker-ab.mjs --base /tmp/base [--n 600] [--rounds 3]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { arg, BENCH_ADMIN_KEY, createLimitedKey, machineLine, ROOT, scrapeThroughWorker, stats, timeInterleaved } from './lib.mjs';

const N = arg('n', 600);
const ROUNDS = arg('rounds', 3);
const baseDir = process.argv[process.argv.indexOf('--base') + 1];
if (!process.argv.includes('--base') || !baseDir) throw new Error('usage: node bench/worker-ab.mjs --base DIR');

const { startCrawl4aiEmulator } = await import('../test/emulators/crawl4ai/index.ts');
const emu = await startCrawl4aiEmulator({});
const PAGE = emu.fixtures.docs.root;
const start = async (root) => {
  const { startWorker } = await import(path.join(root, 'test/helpers/mcp-worker.ts'));
  const worker = await startWorker({ originUrl: emu.url, token: emu.token, adminKey: BENCH_ADMIN_KEY });
  return { worker, key: await createLimitedKey(worker.url, 'ab') };
};
// each Miniflare runs its own workerd: the one that appears with a side is that side's
const children = () => {
  try {
    return new Set(execFileSync('pgrep', ['-P', String(process.pid)]).toString().trim().split('\n').filter(Boolean).map(Number));
  } catch {
    return new Set(); // pgrep exits 1 when there is none
  }
};
const workerdOf = (before) => [...children()].filter((p) => !before.has(p) && /workerd/.test(fs.readFileSync(`/proc/${p}/cmdline`, 'utf8')));
let seen = children();
const base = await start(path.resolve(baseDir));
base.pids = workerdOf(seen);
seen = children();
const mine = await start(ROOT);
mine.pids = workerdOf(seen);
const sides = { base, this: mine };
/** CPU ms (user + system) used so far by a side's workerd processes */
const cpuMs = (side) => side.pids.reduce((a, p) => {
  const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
  return a + ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}, 0);
const via = ({ worker, key }) => scrapeThroughWorker(worker.mcpUrl, key, PAGE);
await via(sides.this);
const crawlBody = JSON.stringify(emu.requests.filter((r) => r.path === '/crawl').at(-1).body);
const probes = {
  direct: async () => {
    const r = await fetch(`${emu.url}/crawl`, { method: 'POST', headers: { authorization: `Bearer ${emu.token}`, 'content-type': 'application/json' }, body: crawlBody });
    await r.arrayBuffer();
  },
  base: () => via(sides.base),
  this: () => via(sides.this),
};
console.log(machineLine());
console.log('\n| round | load | direct p50/p99 | base added p50/p99 | this added p50/p99 | workerd CPU per call: base / this |\n|---|---|---|---|---|---|');
for (let round = 1; round <= ROUNDS; round++) {
  await timeInterleaved(probes, 0, 50);
  const cpu0 = [cpuMs(base), cpuMs(mine)];
  const times = await timeInterleaved(probes, N, 0);
  const cpu = [(cpuMs(base) - cpu0[0]) / N, (cpuMs(mine) - cpu0[1]) / N];
  const [d, b, t] = [stats(times.direct), stats(times.base), stats(times.this)];
  const f = (x) => x.toFixed(2);
  console.log(`| ${round} | ${(await import('node:os')).loadavg()[0].toFixed(1)} | ${f(d.p50)} / ${f(d.p99)} | ${f(b.p50 - d.p50)} / ${f(b.p99 - d.p99)} | ${f(t.p50 - d.p50)} / ${f(t.p99 - d.p99)} | ${f(cpu[0])} / ${f(cpu[1])} ms |`);
}
for (const s of Object.values(sides)) await s.worker.close();
await emu.close();
