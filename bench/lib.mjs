/**
 * What the benches share: argument parsing, percentiles, sequential timing with a warm-up, the
 * machine line, the emulated Crawl4AI + Worker pair, and a resolve hook that lets plain Node
 * import the emulators' TypeScript (their files import each other as `./x.js`).
 */
import { spawn } from 'node:child_process';
import { registerHooks } from 'node:module';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// `./model.js` next to model.ts: resolve to the .ts (Node >= 23.6 strips the types itself).
registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context);
    } catch (e) {
      if (e?.code === 'ERR_MODULE_NOT_FOUND' && specifier.startsWith('.') && specifier.endsWith('.js')) return next(`${specifier.slice(0, -3)}.ts`, context);
      throw e;
    }
  },
});

/** `--name 12` as a number, or the default */
export function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

export function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

export const median = (xs) => stats(xs).p50;

/** `n` sequential calls of `fn` after `warmup` untimed ones: stats of the times in ms */
export async function timeSeq(fn, n, warmup = 50) {
  for (let i = 0; i < warmup; i++) await fn();
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return stats(out);
}

/**
 * `n` turns of calling each probe once, in order (after `warmup` untimed turns), so that the
 * machine's drift hits every probe alike: the times in ms, per probe.
 */
export async function timeInterleaved(probes, n, warmup = 50) {
  for (let i = 0; i < warmup; i++) for (const p of Object.values(probes)) await p();
  const times = Object.fromEntries(Object.keys(probes).map((k) => [k, []]));
  for (let i = 0; i < n; i++) {
    for (const [k, p] of Object.entries(probes)) {
      const t = performance.now();
      await p();
      times[k].push(performance.now() - t);
    }
  }
  return times;
}

export function machineLine() {
  return `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

/** The admin key the benches' Workers are started with (startWorker's adminKey). */
export const BENCH_ADMIN_KEY = 'c4m_' + 'benchadminbenchadminbenchadminbenchadmin123';

/**
 * A key made through a Worker's admin API with every limit on, set high enough never to trip (so
 * each check runs): an allowlist of three tools, a per-minute rate and a daily quota.
 */
export async function createLimitedKey(workerUrl, name) {
  const r = await fetch(`${workerUrl}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, tools: ['scrape', 'map', 'health'], rpm: 1_000_000, daily: 1_000_000 }),
  });
  if (r.status !== 201) throw new Error(`admin/keys ${name}: ${r.status} ${await r.text()}`);
  return (await r.json()).api_key;
}

/** The Crawl4AI emulator and the Worker in workerd in front of it, as the tests start them. */
export async function startEmulatedWorker(opts = {}) {
  const { startCrawl4aiEmulator } = await import('../test/emulators/crawl4ai/index.ts');
  const { startWorker } = await import('../test/helpers/mcp-worker.ts');
  const emu = await startCrawl4aiEmulator({});
  const worker = await startWorker({ originUrl: emu.url, token: emu.token, ...opts });
  return { emu, worker };
}

/**
 * EC2 and Cloudflare emulators, each behind a latency proxy (test/emulators/latency.ts), and the
 * environment the built CLI needs to use them. `instancesOf(name)` feeds the VM simulator:
 * Crawl4AI answers `bootMs` after the instance runs (cloud-init; minutes on a real VM).
 */
export const AWS_ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const CF_TOKEN = 'cf-token-' + 'b'.repeat(32);
export const CLI = path.join(ROOT, 'bin', 'crawl4ai-mcp.js');

export async function startAwsWorld({ ec2Rtt = 0, cfRtt = 0, launchMs = 300, bootMs = 0 } = {}) {
  const { startEc2Emulator } = await import('../test/emulators/ec2/index.ts');
  const { startCloudflareEmulator } = await import('../test/emulators/cloudflare/index.ts');
  const { startLatencyProxy } = await import('../test/emulators/latency.ts');
  const { startVmSimulator } = await import('../test/helpers/vm-simulator.ts');
  const ec2 = await startEc2Emulator({ transitionMs: launchMs, accessKeyId: AWS_ACCESS_KEY });
  const cf = await startCloudflareEmulator({ apiToken: CF_TOKEN });
  const ec2Proxy = await startLatencyProxy(ec2.url, ec2Rtt);
  const cfProxy = await startLatencyProxy(cf.apiBaseUrl, cfRtt);
  const sims = [];
  const instancesOf = (name) => {
    const since = new Map();
    return () =>
      [...ec2.state.instances.values()]
        .filter((i) => i.tags['crawl4ai-mcp:deployment'] === name)
        .map((i) => {
          const running = ec2.state.instanceState(i) === 'running';
          if (!running) since.delete(i.instanceId);
          else if (!since.has(i.instanceId)) since.set(i.instanceId, performance.now());
          return { id: i.instanceId, running: running && performance.now() - since.get(i.instanceId) >= bootMs, userData: i.userData, publicIp: ec2.state.publicIpOf(i) };
        });
  };
  return {
    ec2,
    cf,
    /** a simulated VM for deployment `name` (stopped by close) */
    simulate(name) {
      const sim = startVmSimulator(instancesOf(name), cf);
      sims.push(sim);
      return sim;
    },
    env(home, extra = {}) {
      return {
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
        AWS_ENDPOINT_URL_IAM: ec2Proxy.url,
        AWS_ACCESS_KEY_ID: AWS_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY: AWS_SECRET_KEY,
        CLOUDFLARE_API_BASE_URL: cfProxy.url,
        CLOUDFLARE_ACCOUNT_ID: cf.accountId,
        CLOUDFLARE_API_TOKEN: CF_TOKEN,
        CRAWL4AI_MCP_WORKERS_URL_TEMPLATE: cf.workersUrlTemplate,
        CRAWL4AI_MCP_POLL_MS: '250',
        CRAWL4AI_MCP_HEALTH_INTERVAL_MS: '250',
        CRAWL4AI_MCP_HEALTH_TIMEOUT_MS: '120000',
        ...extra,
      };
    },
    async close() {
      for (const s of sims) await s.stop();
      await Promise.all([ec2Proxy.close(), cfProxy.close()]);
      await cf.close();
      await ec2.close();
    },
  };
}

/** Runs the built CLI; resolves with its exit code, wall ms and stderr lines with their arrival ms. */
export function runTimed(args, env, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const marks = [];
    const child = spawn(process.execPath, [...nodeArgs, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      buf += d;
      for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) marks.push([performance.now() - t0, buf.slice(0, i)]);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, ms: performance.now() - t0, marks, stdout }));
  });
}

/**
 * One `scrape` tools/call through a Worker's /mcp with a bearer key, as raw JSON-RPC (no client
 * library in the timing); throws unless the page came back.
 */
let rpcId = 1;
export async function scrapeThroughWorker(mcpUrl, key, page) {
  const r = await fetch(mcpUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: rpcId++, method: 'tools/call', params: { name: 'scrape', arguments: { url: page } } }),
  });
  const t = await r.text();
  if (!r.ok || !t.includes('Welcome to Example Docs')) throw new Error(`worker ${r.status} ${t.slice(0, 200)}`);
}
