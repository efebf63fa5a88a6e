#!/usr/bin/env node
/**
 * Where the Worker's time goes on a tool call (not a test): a V8 CPU profile taken inside workerd.
 *
 *   npx tsc -p tsconfig.json && node bench/worker-profile.mjs [--n 2000] [--top 25]
 *
 * Starts the emulator and the Worker as keys-load.mjs does (limited key: allowlist + rpm + daily),
 * opens workerd's inspector, profiles --n sequential `scrape` calls and prints the self time per
 * function and the inclusive time of the phases of a call (by the Worker's own function names).
 * workerd runs the Worker and its KeyRegistry Durable Object in one isolate, so both are in it.
 * The self time is also grouped by source file of the bundle; PROFILE_OUT=<file> keeps the raw
 * .cpuprofile (for DevTools, or line-level ticks).
 */
import fs from 'node:fs';
import net from 'node:net';
import { arg, BENCH_ADMIN_KEY, createLimitedKey, scrapeThroughWorker, startEmulatedWorker } from './lib.mjs';

const N = arg('n', 2000);
const TOP = arg('top', 25);

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const { emu, worker } = await startEmulatedWorker({ adminKey: BENCH_ADMIN_KEY, inspectorPort: port });
const PAGE = emu.fixtures.docs.root;

const key = await createLimitedKey(worker.url, 'profile');
const call = () => scrapeThroughWorker(worker.mcpUrl, key, PAGE);
for (let i = 0; i < 200; i++) await call();

const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const target = targets.find((t) => /crawl4ai-mcp/.test(t.title ?? t.url ?? '')) ?? targets[0];
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((res, rej) => ((ws.onopen = res), (ws.onerror = rej)));
let seq = 0;
const waiting = new Map();
ws.onmessage = (m) => {
  const msg = JSON.parse(m.data);
  if (msg.id && waiting.has(msg.id)) {
    waiting.get(msg.id)(msg);
    waiting.delete(msg.id);
  }
};
const cdp = (method, params = {}) =>
  new Promise((res) => {
    const i = ++seq;
    waiting.set(i, res);
    ws.send(JSON.stringify({ id: i, method, params }));
  });
await cdp('Profiler.enable');
await cdp('Profiler.setSamplingInterval', { interval: 100 });
await cdp('Profiler.start');
const t0 = performance.now();
for (let i = 0; i < N; i++) await call();
const wall = performance.now() - t0;
const { result } = await cdp('Profiler.stop');
ws.close();
await worker.close();
await emu.close();

if (process.env.PROFILE_OUT) fs.writeFileSync(process.env.PROFILE_OUT, JSON.stringify(result.profile));
const { nodes, samples, timeDeltas } = result.profile;
const byId = new Map(nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
const incl = new Map();
let total = 0;
let idle = 0;
const name = (n) => `${n.callFrame.functionName || '(anon)'} ${(n.callFrame.url || '').split('/').pop()}:${n.callFrame.lineNumber + 1}`;
for (let i = 0; i < samples.length; i++) {
  const dt = timeDeltas[i] / 1000;
  const n = byId.get(samples[i]);
  total += dt;
  if (n.callFrame.functionName === '(idle)' || n.callFrame.functionName === '(program)') {
    idle += n.callFrame.functionName === '(idle)' ? dt : 0;
  }
  self.set(name(n), (self.get(name(n)) ?? 0) + dt);
  const seen = new Set();
  for (let id = n.id; id !== undefined; id = parent.get(id)) {
    const k = name(byId.get(id));
    if (!seen.has(k)) incl.set(k, (incl.get(k) ?? 0) + dt);
    seen.add(k);
  }
}
const busy = total - idle;

// self time by where the code comes from: the bundle's `// <path>` module markers (esbuild's)
const { bundleWorker } = await import('../test/helpers/mcp-worker.ts');
const bundle = fs.readFileSync((await bundleWorker()).scriptPath, 'utf8').split('\n');
const marks = [];
bundle.forEach((l, i) => {
  const m = /^\/\/ (?:\.\.\/)*(?:.*?\/)?(node_modules\/(?:@[^/]+\/)?[^/]+|dist\/\S+|src\/\S+)/.exec(l);
  if (m) marks.push([i + 1, m[1].replace(/^dist\//, 'ours: ')]);
});
const packageOf = (n) => {
  const f = n.callFrame;
  if (!/index\.js$/.test(f.url || '')) return f.functionName.startsWith('(') ? f.functionName : 'runtime (native)';
  let lo = 0, hi = marks.length - 1, at = '(bundle prelude)';
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid][0] <= f.lineNumber + 1) (at = marks[mid][1]), (lo = mid + 1);
    else hi = mid - 1;
  }
  return at;
};
const byPackage = new Map();
for (let i = 0; i < samples.length; i++) {
  const k = packageOf(byId.get(samples[i]));
  byPackage.set(k, (byPackage.get(k) ?? 0) + timeDeltas[i] / 1000);
}
const per = (ms) => ((ms / N) * 1000).toFixed(0).padStart(6);
console.log(`${N} calls in ${wall.toFixed(0)} ms (${(wall / N).toFixed(2)} ms each); isolate busy ${busy.toFixed(0)} ms = ${((busy / N) * 1000).toFixed(0)} µs per call\n`);
console.log('self µs/call  by source');
for (const [k, v] of [...byPackage].sort((a, b) => b[1] - a[1])) console.log(`${per(v)}  ${k}`);
console.log('\nself µs/call  function');
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${per(v)}  ${k}`);
console.log('\ninclusive µs/call  function (Worker and SDK entry points)');
const want = /serveMcp|authorize|hashedBearer|boundedText|toolCallsIn|trackRequest|admit|record|flush|createMcpServer|createLegacyStatelessFallback|handleRequest|handlePostRequest|connect|run |scrape|shape|request |fetch|registerTool|Protocol|_onrequest|send|parse|stringify|safeParse/;
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).filter(([k]) => want.test(k)).slice(0, 40)) console.log(`${per(v)}  ${k}`);
