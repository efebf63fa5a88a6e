#!/usr/bin/env node
/**
 * Benchmark (not a test): cold start of the built CLI against `wrangler --help` in the same run.
 *
 *   npm run build && node --experimental-transform-types bench/cold-start.mjs [--n 7] [--ec2-rtt 0] [--cf-rtt 0]
 *
 * Times N fresh processes each, interleaved so machine load hits all alike:
 *   - `crawl4ai-mcp --help`
 *   - `wrangler --help` (its own bin, no npx)
 *   - `crawl4ai-mcp status --json` of an AWS deployment made by `init` against the EC2 and
 *     Cloudflare emulators (optionally behind latency proxies), split into local work and
 *     network waits by bench/net-wait-hook.mjs (time with at least one HTTP request in flight);
 *     once as a user runs it again within the unlock cache's TTL (the key kept in
 *     XDG_RUNTIME_DIR, Node's compile cache warm) and once with both caches off
 *     (CRAWL4AI_MCP_UNLOCK_CACHE=off, NODE_DISABLE_COMPILE_CACHE=1: the first run of a session).
 * Prints medians and each as a ratio to wrangler --help.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { arg, CLI, machineLine, median, ROOT, runTimed, startAwsWorld } from './lib.mjs';

const N = arg('n', 7);
const world = await startAwsWorld({ ec2Rtt: arg('ec2-rtt', 0), cfRtt: arg('cf-rtt', 0), launchMs: 300 });
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-bench-cold-'));
// a login session's runtime dir (user-only), where the unlock cache keeps the key
const runtime = path.join(home, 'run');
fs.mkdirSync(runtime, { mode: 0o700 });
const env = world.env(home, { XDG_RUNTIME_DIR: runtime });
// A session's first command: no runtime dir (so no unlock cache is read or kept) and no compile
// cache. Not CRAWL4AI_MCP_UNLOCK_CACHE=off: that also deletes the cache, so every "warm" run after
// the first paid the scrypt unlock again (the figures before 2026-12-07 12:20 have that flaw).
const { XDG_RUNTIME_DIR: _kept, ...withoutRuntime } = env;
const cold = { ...withoutRuntime, NODE_DISABLE_COMPILE_CACHE: '1' };
world.simulate('cold');
const init = await runTimed([CLI, '--name', 'cold', 'init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public'], env);
if (init.code !== 0) throw new Error(`init exited ${init.code}: ${init.marks.map((m) => m[1]).join('\n')}`);

const WRANGLER = path.join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const HOOK = path.join(ROOT, 'bench', 'net-wait-hook.mjs');
const trace = path.join(home, 'net.json');
const t = { help: [], wrangler: [], status: [], statusLocal: [], statusNet: [], coldStatus: [], coldLocal: [], coldNet: [] };
const status = async (e, all, local, net) => {
  const st = await runTimed([CLI, '--name', 'cold', 'status', '--json'], { ...e, C4M_NET_TRACE: trace }, ['--import', HOOK]);
  if (st.code !== 0) throw new Error(`status exited ${st.code}: ${st.marks.map((m) => m[1]).join('\n')}`);
  const { netMs } = JSON.parse(fs.readFileSync(trace, 'utf8'));
  all.push(st.ms);
  net.push(netMs);
  local.push(st.ms - netMs);
};
for (let i = 0; i < N; i++) {
  const help = await runTimed([CLI, '--help'], env);
  const wr = await runTimed([WRANGLER, '--help'], { ...env, XDG_CONFIG_HOME: path.join(home, 'xdg') });
  if (help.code !== 0 || wr.code !== 0) throw new Error(`exit codes ${help.code} ${wr.code}`);
  t.help.push(help.ms);
  t.wrangler.push(wr.ms);
  await status(env, t.status, t.statusLocal, t.statusNet);
  await status(cold, t.coldStatus, t.coldLocal, t.coldNet);
}
await world.close();
fs.rmSync(home, { recursive: true, force: true });

const w = median(t.wrangler);
const row = (label, xs) => `| ${label} | ${median(xs).toFixed(0)} | ${(median(xs) / w).toFixed(3)}× |`;
console.log(`\nCold start, ${N} fresh processes each (median ms; ratio to wrangler --help in the same run):\n`);
console.log('| command | ms | × wrangler --help |');
console.log('|---|---:|---:|');
console.log(row('wrangler --help', t.wrangler));
console.log(row('crawl4ai-mcp --help', t.help));
console.log(row('crawl4ai-mcp status --json (AWS), caches warm', t.status));
console.log(row('… of which local work', t.statusLocal));
console.log(row('… of which waiting on the network', t.statusNet));
console.log(row('crawl4ai-mcp status --json (AWS), caches off', t.coldStatus));
console.log(row('… of which local work', t.coldLocal));
console.log(row('… of which waiting on the network', t.coldNet));
console.log(`\n${machineLine()}`);
