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
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { arg, machineLine, median, ROOT } from './lib.mjs';

const { startEc2Emulator } = await import('../test/emulators/ec2/index.ts');
const { startCloudflareEmulator } = await import('../test/emulators/cloudflare/index.ts');
const { startVmSimulator } = await import('../test/helpers/vm-simulator.ts');
const { startLatencyProxy } = await import('../test/emulators/latency.ts');

const RUNS = arg('runs', 2);
const EC2_RTT = arg('ec2-rtt', 80);
const CF_RTT = arg('cf-rtt', 40);
const LAUNCH_MS = arg('launch-ms', 4000);
const BOOT_MS = arg('boot-ms', 3000);
const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const CF_TOKEN = 'cf-token-' + 'b'.repeat(32);
const CLI = path.join(ROOT, 'bin', 'crawl4ai-mcp.js');

const ec2 = await startEc2Emulator({ transitionMs: LAUNCH_MS, accessKeyId: ACCESS_KEY });
const cf = await startCloudflareEmulator({ apiToken: CF_TOKEN });
const ec2Proxy = await startLatencyProxy(ec2.url, EC2_RTT);
const cfProxy = await startLatencyProxy(cf.apiBaseUrl, CF_RTT);

/** The deployment's instances as the VM simulator sees them: Crawl4AI answers BOOT_MS after "running". */
function instancesOf(name) {
  const since = new Map();
  return () =>
    [...ec2.state.instances.values()]
      .filter((i) => i.tags['crawl4ai-mcp:deployment'] === name)
      .map((i) => {
        const running = ec2.state.instanceState(i) === 'running';
        if (!running) since.delete(i.instanceId);
        else if (!since.has(i.instanceId)) since.set(i.instanceId, performance.now());
        return { id: i.instanceId, running: running && performance.now() - since.get(i.instanceId) >= BOOT_MS, userData: i.userData, publicIp: ec2.state.publicIpOf(i) };
      });
}

async function initOnce(name, serial) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-bench-init-'));
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    CRAWL4AI_MCP_HOME: path.join(home, 'config'),
    XDG_CONFIG_HOME: path.join(home, 'xdg'),
    NO_COLOR: '1',
    CI: 'true',
    WRANGLER_SEND_METRICS: 'false',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    CRAWL4AI_MCP_SECRET_BACKEND: 'file',
    CRAWL4AI_MCP_PASSPHRASE: 'bench passphrase',
    AWS_ENDPOINT_URL_EC2: ec2Proxy.url,
    AWS_ENDPOINT_URL_STS: ec2Proxy.url,
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: SECRET_KEY,
    CLOUDFLARE_API_BASE_URL: cfProxy.url,
    CLOUDFLARE_ACCOUNT_ID: cf.accountId,
    CLOUDFLARE_API_TOKEN: CF_TOKEN,
    CRAWL4AI_MCP_WORKERS_URL_TEMPLATE: cf.workersUrlTemplate,
    CRAWL4AI_MCP_POLL_MS: '250',
    CRAWL4AI_MCP_HEALTH_INTERVAL_MS: '250',
    CRAWL4AI_MCP_HEALTH_TIMEOUT_MS: '120000',
    ...(serial ? { CRAWL4AI_MCP_INIT_SERIAL: '1' } : {}),
  };
  const sim = startVmSimulator(instancesOf(name), cf);
  const t0 = performance.now();
  const marks = [];
  try {
    const code = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, '--name', name, 'init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let buf = '';
      child.stderr.on('data', (d) => {
        buf += d;
        for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) marks.push([performance.now() - t0, buf.slice(0, i)]);
      });
      child.on('error', reject);
      child.on('close', resolve);
    });
    const ms = performance.now() - t0;
    if (code !== 0) throw new Error(`init exited ${code}:\n${marks.map((m) => m[1]).join('\n')}`);
    return { ms, marks };
  } finally {
    await sim.stop();
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
await Promise.all([ec2Proxy.close(), cfProxy.close()]);
await cf.close();
await ec2.close();

const sec = (xs) => (median(xs.map((r) => r.ms)) / 1000).toFixed(1);
console.log(`\ninit --provider aws --network public, EC2 RTT ${EC2_RTT} ms, Cloudflare API RTT ${CF_RTT} ms, launch ${LAUNCH_MS} ms, boot ${BOOT_MS} ms, ${RUNS} runs each (median):\n`);
console.log('| order | init s (median) | runs |');
console.log('|---|---:|---|');
for (const mode of ['serial', 'overlap']) console.log(`| ${mode === 'serial' ? 'Worker after the VM (CRAWL4AI_MCP_INIT_SERIAL=1)' : 'Worker while the VM launches (default)'} | ${sec(results[mode])} | ${results[mode].map((r) => (r.ms / 1000).toFixed(1)).join(', ')} |`);
console.log(`\n${machineLine()}`);
