#!/usr/bin/env node
/**
 * Benchmark (not a test): how long `init` takes on AWS with the Worker deployed after the VM
 * (CRAWL4AI_MCP_INIT_SERIAL=1, the old order) and while the VM launches (the default).
 *
 *   npm run build && node --experimental-transform-types bench/init-critical-path.mjs [--runs 2] [--ec2-rtt 80] [--cf-rtt 40] [--launch-ms 4000] [--boot-ms 3000]
 *
 * The built CLI runs `init --provider aws --network public` against the EC2 and Cloudflare
 * emulators, each behind a latency proxy (test/emulators/latency.ts: every round trip costs the
 * RTT, TLS included), real wrangler deploying to the Cloudflare emulator. The EC2 emulator takes
 * --launch-ms from pending to running (and for each stop/start), and the simulated VM answers
 * --boot-ms after it runs (cloud-init; minutes on a real VM). Runs alternate between the two
 * orders; each prints when its stderr lines arrived, so the chains can be read off.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { arg, CLI, machineLine, median, runTimed, startAwsWorld } from './lib.mjs';

const RUNS = arg('runs', 2);
const EC2_RTT = arg('ec2-rtt', 80);
const CF_RTT = arg('cf-rtt', 40);
const LAUNCH_MS = arg('launch-ms', 4000);
const BOOT_MS = arg('boot-ms', 3000);

const world = await startAwsWorld({ ec2Rtt: EC2_RTT, cfRtt: CF_RTT, launchMs: LAUNCH_MS, bootMs: BOOT_MS });

async function initOnce(name, serial) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-bench-init-'));
  world.simulate(name);
  try {
    const env = world.env(home, serial ? { CRAWL4AI_MCP_INIT_SERIAL: '1' } : {});
    const r = await runTimed([CLI, '--name', name, 'init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public'], env);
    if (r.code !== 0) throw new Error(`init exited ${r.code}:\n${r.marks.map((m) => m[1]).join('\n')}`);
    return r;
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

const at = (marks, re) => marks.find(([, l]) => re.test(l))?.[0];
const results = { serial: [], overlap: [] };
for (let i = 0; i < RUNS; i++) {
  for (const mode of ['serial', 'overlap']) {
    const r = await initOnce(`bench-${mode}-${i}`, mode === 'serial');
    results[mode].push(r);
    const s = (re) => ((at(r.marks, re) ?? NaN) / 1000).toFixed(1);
    console.error(
      `${mode} #${i + 1}: ${(r.ms / 1000).toFixed(1)} s (Worker deploy starts ${s(/deploying the Worker/)} s, running-wait starts ${s(/waiting for instance/)} s, health wait starts ${s(/waiting for Crawl4AI to answer/)} s)`,
    );
  }
}
await world.close();

const sec = (xs) => (median(xs.map((r) => r.ms)) / 1000).toFixed(1);
console.log(`\ninit --provider aws --network public, EC2 RTT ${EC2_RTT} ms, Cloudflare API RTT ${CF_RTT} ms, launch ${LAUNCH_MS} ms, boot ${BOOT_MS} ms, ${RUNS} runs each (median):\n`);
console.log('| order | init s (median) | runs |');
console.log('|---|---:|---|');
for (const mode of ['serial', 'overlap']) console.log(`| ${mode === 'serial' ? 'Worker after the VM (CRAWL4AI_MCP_INIT_SERIAL=1)' : 'Worker while the VM launches (default)'} | ${sec(results[mode])} | ${results[mode].map((r) => (r.ms / 1000).toFixed(1)).join(', ')} |`);
console.log(`\n${machineLine()}`);
