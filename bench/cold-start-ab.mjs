#!/usr/bin/env node
/**
 * Benchmark (not a test): `status --json`'s local work, another build against this one, on the
 * same deployment in the same run (interleaved, so machine load hits both alike).
 *
 *   git worktree add --detach /tmp/base <commit> && ln -s $PWD/node_modules /tmp/base/node_modules
 *   (cd /tmp/base && npx tsc -p tsconfig.json)
 *   npm run build && node --experimental-transform-types bench/cold-start-ab.mjs /tmp/base/bin/crawl4ai-mcp.js
 *
 * Both run with XDG_RUNTIME_DIR set (a login session), after this build's `init`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, median, runTimed, startAwsWorld, ROOT } from './lib.mjs';
const BASE = process.argv[2];
if (!BASE || !fs.existsSync(BASE)) throw new Error('usage: bench/cold-start-ab.mjs <the other build\'s bin/crawl4ai-mcp.js>');
const HOOK = path.join(ROOT, 'bench', 'net-wait-hook.mjs');
const N = 7;
const world = await startAwsWorld({ launchMs: 300 });
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-ab-'));
const runtime = path.join(home, 'run');
fs.mkdirSync(runtime, { mode: 0o700 });
const env = world.env(home, { XDG_RUNTIME_DIR: runtime });
world.simulate('cold');
const init = await runTimed([CLI, '--name', 'cold', 'init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public'], env);
if (init.code !== 0) throw new Error('init failed');
const trace = path.join(home, 'net.json');
const WR = path.join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const r = { base: [], head: [], wr: [] };
for (let i = 0; i < N; i++) {
  for (const [k, cli] of [['base', BASE], ['head', CLI]]) {
    const st = await runTimed([cli, '--name', 'cold', 'status', '--json'], { ...env, C4M_NET_TRACE: trace }, ['--import', HOOK]);
    if (st.code !== 0) throw new Error(`${k} exited ${st.code}`);
    r[k].push(st.ms - JSON.parse(fs.readFileSync(trace, 'utf8')).netMs);
  }
  r.wr.push((await runTimed([WR, '--help'], { ...env, XDG_CONFIG_HOME: path.join(home, 'xdg') })).ms);
}
await world.close();
const w = median(r.wr);
console.log(`wrangler --help ${w.toFixed(0)} ms; status local work: base ${median(r.base).toFixed(0)} ms (${(median(r.base) / w).toFixed(3)}x), this branch ${median(r.head).toFixed(0)} ms (${(median(r.head) / w).toFixed(3)}x)`);
console.log(os.loadavg().map((l) => l.toFixed(2)).join(' '));
