#!/usr/bin/env node
/**
 * Benchmark (not a test): per-key limits and usage under load.
 *
 *   npx tsc -p tsconfig.json && node bench/keys-load.mjs [--calls 10000] [--concurrency 50] [--n 400] [--rounds 3] [--warmup 300]
 *
 * Starts the Crawl4AI emulator and the Worker in workerd (as the tests do) with an admin key, makes
 * 3 keys through the admin API, each with a tool allowlist, a rate limit and a daily quota high
 * enough never to trip (so every check runs), then:
 *   1. sequential: `scrape` straight to the emulator vs through the Worker with a limited key
 *      (p50/p99 added latency): --rounds rounds of --n calls of each path, interleaved call by call
 *      (direct, Worker, /health) so that the machine's drift hits all paths alike, after a warm-up
 *      of --warmup calls of each (a Worker isolate serves many calls; V8 optimizes the hot path
 *      only after a few hundred);
 *   2. load: --calls `scrape` calls at --concurrency, round-robin over the 3 keys, through the
 *      Worker, and the same number straight to the emulator: throughput and latency;
 *   3. the check: the registry's per-key counters (admitted "today" and recorded "calls") must add
 *      up to exactly the calls made.
 * Prints markdown. Needs Node >= 23.6 (imports the TypeScript emulator and helper directly).
 */
import { performance } from 'node:perf_hooks';
import { arg, BENCH_ADMIN_KEY, createLimitedKey, machineLine, median, scrapeThroughWorker, startEmulatedWorker, stats, timeInterleaved } from './lib.mjs';

const CALLS = arg('calls', 10_000);
const CONCURRENCY = arg('concurrency', 50);
const N = arg('n', 400);
const ROUNDS = arg('rounds', 3);
const WARMUP = arg('warmup', 300);

const { emu, worker } = await startEmulatedWorker({ adminKey: BENCH_ADMIN_KEY });
const PAGE = emu.fixtures.docs.root;

async function admin(method, path, body) {
  const r = await fetch(`${worker.url}${path}`, { method, headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  if (!r.ok) throw new Error(`admin ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

const keys = [];
for (const name of ['bench-a', 'bench-b', 'bench-c', 'bench-seq']) keys.push(await createLimitedKey(worker.url, name));
const seqKey = keys.pop();

const viaWorker = (key) => scrapeThroughWorker(worker.mcpUrl, key, PAGE);
await viaWorker(seqKey);
const crawlBody = JSON.stringify(emu.requests.filter((r) => r.path === '/crawl').at(-1).body);
const direct = async () => {
  const r = await fetch(`${emu.url}/crawl`, { method: 'POST', headers: { authorization: `Bearer ${emu.token}`, 'content-type': 'application/json' }, body: crawlBody });
  if (!r.ok) throw new Error(`direct ${r.status}`);
  await r.arrayBuffer();
};

async function load(fnFor, calls, concurrency) {
  let next = 0;
  let errors = 0;
  const lat = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= calls) return;
        const t = performance.now();
        try {
          await fnFor(i);
          lat.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { perSecond: calls / seconds, seconds, errors, ...stats(lat) };
}

const health = async () => {
  const r = await fetch(`${worker.url}/health`);
  await r.arrayBuffer();
};
const seqPaths = { direct, worker: () => viaWorker(seqKey), health };
await timeInterleaved(seqPaths, 0, WARMUP);
const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  const times = await timeInterleaved(seqPaths, N, 0);
  rounds.push({ direct: stats(times.direct), worker: stats(times.worker), health: stats(times.health) });
}
const lDirect = await load(() => direct(), CALLS, CONCURRENCY);
const lWorker = await load((i) => viaWorker(keys[i % keys.length]), CALLS, CONCURRENCY);

// usage is written after each answer: give the last records a moment
let listed;
for (let i = 0; i < 100; i++) {
  listed = (await admin('GET', '/admin/keys')).keys.filter((k) => k.name.startsWith('bench-') && k.name !== 'bench-seq');
  if (listed.reduce((a, k) => a + k.usage.calls, 0) >= CALLS - lWorker.errors) break;
  await new Promise((r) => setTimeout(r, 100));
}
const today = listed.reduce((a, k) => a + k.usage.today, 0);
const recorded = listed.reduce((a, k) => a + k.usage.calls, 0);

const f = (x) => x.toFixed(2);
console.log(`\n${machineLine()}`);
console.log(`\nsequential (${ROUNDS} rounds of ${N} calls per path, interleaved, after ${WARMUP} warm-up calls each), key with allowlist + rpm + daily quota (ms):\n`);
console.log('| round | direct p50 / p99 | Worker: scrape, limited key (raw JSON-RPC) p50 / p99 | GET /health (the hop into workerd) p50 | added p50 / p99 |');
console.log('|---|---|---|---:|---|');
rounds.forEach((r, i) => {
  console.log(`| ${i + 1} | ${f(r.direct.p50)} / ${f(r.direct.p99)} | ${f(r.worker.p50)} / ${f(r.worker.p99)} | ${f(r.health.p50)} | ${f(r.worker.p50 - r.direct.p50)} / ${f(r.worker.p99 - r.direct.p99)} |`);
});
const addedP50 = median(rounds.map((r) => r.worker.p50 - r.direct.p50));
const addedP99 = median(rounds.map((r) => r.worker.p99 - r.direct.p99));
console.log(`\nAdded by the Worker with limits and usage on (median of the rounds): p50 ${f(addedP50)} ms, p99 ${f(addedP99)} ms`);
console.log(`\nload: ${CALLS} calls at concurrency ${CONCURRENCY}${''} (Worker: round-robin over 3 keys)\n`);
console.log('| path | calls/s | seconds | errors | p50 ms | p99 ms |');
console.log('|---|---:|---:|---:|---:|---:|');
console.log(`| direct | ${lDirect.perSecond.toFixed(0)} | ${f(lDirect.seconds)} | ${lDirect.errors} | ${f(lDirect.p50)} | ${f(lDirect.p99)} |`);
console.log(`| Worker | ${lWorker.perSecond.toFixed(0)} | ${f(lWorker.seconds)} | ${lWorker.errors} | ${f(lWorker.p50)} | ${f(lWorker.p99)} |`);
console.log(`\ncounters: admitted today ${today}, recorded calls ${recorded}, calls made ${CALLS - lWorker.errors} → ${today === CALLS - lWorker.errors && recorded === CALLS - lWorker.errors ? 'EXACT' : 'MISMATCH'}`);
for (const k of listed) console.log(`  ${k.name}: today ${k.usage.today}, calls ${k.usage.calls}, errors ${k.usage.errors}`);

await worker.close();
await emu.close();
if (today !== CALLS - lWorker.errors || recorded !== CALLS - lWorker.errors) process.exitCode = 1;
