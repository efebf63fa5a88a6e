/**
 * `crawl4ai-mcp dev` as a real child process: wrangler dev runs the Worker in local workerd against
 * the Crawl4AI emulator; the printed key works with the official client; Ctrl-C stops everything.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrawl4aiEmulator, type Crawl4aiEmulator } from './emulators/crawl4ai/index.ts';
import { bundleWorker, ROOT } from './helpers/mcp-worker.ts';
import { freePort } from './helpers/ports.ts';
import { connectV1, connectV2, textOf } from './helpers/mcp-clients.ts';
import { startCloudflareEmulator } from './emulators/cloudflare/index.ts';
import { runWrangler } from '../src/cloudflare/wrangler.ts';

const CLI = path.join(ROOT, 'bin', 'crawl4ai-mcp.js');
const CONFORMANCE = path.join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const TOKEN = 'dev-test-token-3a9f1c7e5b20';

let emu: Crawl4aiEmulator;
let home: string;
const children: ChildProcess[] = [];

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Processes whose command line mentions `needle` (wrangler and workerd of one dev run). */
function processesWith(needle: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(needle) && !l.includes('ps -eo'));
}

interface DevRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startDev(port: number, extraEnv: Record<string, string> = {}, extraArgs: string[] = []): DevRun {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, 'xdg'),
    CRAWL4AI_MCP_HOME: path.join(home, 'config'),
    NO_COLOR: '1',
    CRAWL4AI_API_TOKEN: TOKEN,
    ...extraEnv,
  };
  const child = spawn(process.execPath, [CLI, ...extraArgs, 'dev', '--origin', emu.url, '--port', String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function waitFor(what: () => boolean, ms: number, describe: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error(`timed out: ${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  await bundleWorker(); // dist/ is built
  emu = await startCrawl4aiEmulator({ token: TOKEN });
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-dev-'));
});

afterAll(async () => {
  // a failed test may leave a dev run behind: let it clean up its wrangler group, then insist
  const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
  for (const c of alive) c.kill('SIGINT');
  await Promise.race([Promise.all(alive.map((c) => new Promise((r) => c.once('exit', r)))), new Promise((r) => setTimeout(r, 5_000))]);
  for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await emu?.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

/**
 * The conformance suite's client sends no Authorization header, and our server needs a key. This
 * loopback hop adds the key and otherwise passes the request as is, except that its own address
 * (the URL the suite was given) is spelled as the dev server's, as a port forward would: so the
 * suite's "valid localhost Host/Origin" request stays valid and its foreign Host/Origin stay foreign.
 */
async function keyAddingProxy(devPort: number, key: string): Promise<{ url: string; close(): Promise<void> }> {
  let self = '';
  const server = http.createServer((req, res) => {
    const headers: http.OutgoingHttpHeaders = { ...req.headers, authorization: `Bearer ${key}` };
    const swap = (v: string | undefined) => (v === undefined ? undefined : v.split(self).join(`127.0.0.1:${devPort}`));
    headers.host = swap(req.headers.host);
    if (req.headers.origin !== undefined) headers.origin = swap(req.headers.origin);
    const up = http.request({ host: '127.0.0.1', port: devPort, method: req.method, path: req.url, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
  self = `127.0.0.1:${port}`;
  return { url: `http://${self}/mcp`, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

describe('crawl4ai-mcp dev', () => {
  it('runs the Worker in workerd, prints a working URL and key, and stops cleanly on Ctrl-C', async () => {
    const port = await freePort();
    const run = startDev(port);
    await waitFor(() => /API key:\s+c4m_\S+/.test(run.stdout()) || run.child.exitCode !== null, 90_000, () => run.stdout() + run.stderr());
    expect(run.child.exitCode, run.stderr()).toBeNull();
    const url = /MCP URL:\s+(\S+)/.exec(run.stdout())![1]!;
    const key = /API key:\s+(c4m_\S+)/.exec(run.stdout())![1]!;
    expect(url).toBe(`http://127.0.0.1:${port}/mcp`);
    expect(key).toMatch(/^c4m_[A-Za-z0-9_-]{43}$/);

    const procs = processesWith(`--port ${port}`);
    const tmp = /--config (\S+)\/wrangler\.json/.exec(procs.join('\n'))?.[1];
    expect(tmp, procs.join('\n')).toMatch(/crawl4ai-mcp-dev-/);
    expect(fs.statSync(path.join(tmp!, '.dev.vars')).mode & 0o777).toBe(0o600);
    // secrets travel in .dev.vars, never in argv
    for (const p of processesWith(tmp!)) {
      expect(p).not.toContain(TOKEN);
      expect(p).not.toContain(key);
    }

    const client = await connectV1(url, key);
    const r = await client.callTool('scrape', { url: emu.fixtures.docs.root });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(textOf(r)).toContain('Welcome to Example Docs');
    expect(emu.requests.at(-1)!.auth).toBe(`Bearer ${TOKEN}`);
    await client.close();
    await expect(connectV2(url, 'c4m_' + 'D'.repeat(43))).rejects.toThrow();

    run.child.kill('SIGINT');
    const { code } = await run.exit;
    expect([0, 130]).toContain(code);
    expect(run.stderr()).toContain('stopped');
    expect(await portOpen(port)).toBe(false);
    expect(processesWith(tmp!)).toEqual([]);
    expect(fs.existsSync(tmp!)).toBe(false);
    expect(run.stdout() + run.stderr()).not.toContain(TOKEN);
  }, 150_000);

  it('uses CRAWL4AI_MCP_DEV_KEY when set, prints JSON with --json, and stops on SIGTERM', async () => {
    const port = await freePort();
    const preset = 'c4m_' + 'k'.repeat(43);
    const run = startDev(port, { CRAWL4AI_MCP_DEV_KEY: preset }, ['--json']);
    await waitFor(() => run.stdout().includes('"mcpUrl"') || run.child.exitCode !== null, 90_000, () => run.stdout() + run.stderr());
    const info = JSON.parse(run.stdout().trim()) as { mcpUrl: string; apiKey: string };
    expect(info.apiKey).toBe(preset);
    const client = await connectV2(info.mcpUrl, preset);
    expect((await client.listTools()).tools.length).toBe(10);
    await client.close();
    run.child.kill('SIGTERM');
    const { code } = await run.exit;
    expect([0, 130, 143]).toContain(code);
    expect(await portOpen(port)).toBe(false);
    expect(processesWith(`--port ${port}`)).toEqual([]);
  }, 150_000);

  it('refuses a foreign Host or Origin (DNS rebinding) and passes the official MCP conformance scenarios', async () => {
    const port = await freePort();
    const key = 'c4m_' + 'r'.repeat(43);
    const run = startDev(port, { CRAWL4AI_MCP_DEV_KEY: key });
    await waitFor(() => /API key:\s+c4m_\S+/.test(run.stdout()) || run.child.exitCode !== null, 90_000, () => run.stdout() + run.stderr());
    const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    /** a raw POST with the given Host and Origin (fetch cannot set Host) */
    const post = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, method: 'POST', path: '/mcp', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${key}`, ...headers } },
          (res) => {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end(initialize);
      });
    const before = emu.requests.length;
    // a valid key does not help a rebound or cross-site request
    const rebound = await post({ host: 'evil.example.com', origin: 'http://evil.example.com' });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body)).toMatchObject({ error: 'forbidden_host' });
    expect((await post({ host: `evil.example.com:${port}` })).status).toBe(403);
    const crossSite = await post({ host: `127.0.0.1:${port}`, origin: 'https://evil.example.com' });
    expect(crossSite.status).toBe(403);
    expect(JSON.parse(crossSite.body)).toMatchObject({ error: 'forbidden_origin' });
    expect((await post({ host: `127.0.0.1:${port}`, origin: 'null' })).status).toBe(403);
    // the server's own names, with or without a browser Origin
    expect((await post({ host: `127.0.0.1:${port}` })).status).toBe(200);
    expect((await post({ host: `localhost:${port}`, origin: `http://localhost:${port}` })).status).toBe(200);
    expect((await post({ host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    expect(emu.requests.length).toBe(before);

    const proxy = await keyAddingProxy(port, key);
    try {
      for (const scenario of ['server-initialize', 'ping', 'tools-list', 'dns-rebinding-protection']) {
        // not spawnSync: the proxy lives in this process's event loop
        const c = spawn(process.execPath, [CONFORMANCE, 'server', '--url', proxy.url, '--scenario', scenario], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (out += d));
        const r = await new Promise<{ status: number | null }>((resolve) => c.on('exit', (status) => resolve({ status })));
        expect(r.status, `${scenario}:\n${out}`).toBe(0);
        expect(out, scenario).toMatch(/Passed: ([1-9]\d*)\/\1, 0 failed, 0 warnings/);
      }
    } finally {
      await proxy.close();
    }
    run.child.kill('SIGINT');
    await run.exit;
  }, 240_000);

  it('refuses a port that is already in use and a malformed preset key', async () => {
    const busy = net.createServer();
    const port = await new Promise<number>((resolve) => busy.listen(0, '127.0.0.1', () => resolve((busy.address() as net.AddressInfo).port)));
    try {
      const a = startDev(port);
      expect((await a.exit).code).toBe(2);
      expect(a.stderr()).toMatch(/port \d+ is already in use[\s\S]*--port/);
    } finally {
      busy.close();
    }
    const b = startDev(await freePort(), { CRAWL4AI_MCP_DEV_KEY: 'hunter2' });
    expect((await b.exit).code).toBe(2);
    expect(b.stderr()).toContain('CRAWL4AI_MCP_DEV_KEY is not a crawl4ai-mcp API key');
  });
});

/** The environment of a running process, from /proc (Linux). */
function environOf(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

describe('the environment wrangler and workerd get', () => {
  it('dev passes an allowlist: no cloud key or passphrase reaches wrangler/workerd, and --verbose output is redacted', async () => {
    const secret = 'aws-secret-' + 'q'.repeat(29);
    const passphrase = 'pass-phrase7'; // short: wrangler shows a binding's first 37 characters
    const port = await freePort();
    // The origin's path carries the passphrase, so wrangler prints it among the bindings in --verbose.
    const env = { AWS_SECRET_ACCESS_KEY: secret, CRAWL4AI_MCP_PASSPHRASE: passphrase, UNRELATED_SETTING: 'x', HTTPS_PROXY: 'http://127.0.0.1:9', NO_PROXY: '127.0.0.1,localhost' };
    const child = spawn(process.execPath, [CLI, '--verbose', 'dev', '--origin', `${emu.url}/${passphrase}`, '--port', String(port)], {
      env: { PATH: process.env.PATH ?? '', HOME: home, XDG_CONFIG_HOME: path.join(home, 'xdg'), CRAWL4AI_MCP_HOME: path.join(home, 'config'), NO_COLOR: '1', CRAWL4AI_API_TOKEN: TOKEN, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exit = new Promise((resolve) => child.on('exit', resolve));
    await waitFor(() => /API key:\s+c4m_\S+/.test(out) || child.exitCode !== null, 90_000, () => out);
    expect(child.exitCode, out).toBeNull();

    const tmp = /--config (\S+)\/wrangler\.json/.exec(processesWith(`--port ${port}`).join('\n'))?.[1];
    const pids = processesWith(tmp!).map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(pids.length).toBeGreaterThanOrEqual(1);
    for (const pid of pids) {
      const e = environOf(pid);
      const all = Object.values(e).join('\n');
      expect(all).not.toContain(secret);
      expect(all).not.toContain(passphrase);
      expect(e.UNRELATED_SETTING).toBeUndefined();
      expect(e.CRAWL4AI_API_TOKEN).toBeUndefined();
      expect(e.NO_PROXY).toBe('127.0.0.1,localhost');
    }
    expect(out).toContain('****'); // the origin binding, masked
    expect(out).not.toContain(passphrase);
    expect(out).not.toContain(TOKEN);
    child.kill('SIGINT');
    await exit;
  }, 150_000);

  it('wrangler gets the proxy settings: a Cloudflare call goes through the proxy', async () => {
    const cf = await startCloudflareEmulator({ accountId: 'acc0000000000000000000000000000e', apiToken: 'cf-token-' + 'p'.repeat(32) });
    // A proxy, as in a company network, recording the hosts it is asked for; every name leads to
    // the emulator. wrangler never proxies loopback addresses, so the API gets a name only the
    // proxy knows: without the proxy the call cannot succeed.
    const tunneled: string[] = [];
    // Plain http targets may come as absolute-form requests instead: forwarded too.
    const proxy = http.createServer((req, res) => {
      const target = new URL(req.url ?? '');
      tunneled.push(target.host);
      const up = http.request({ host: '127.0.0.1', port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
    });
    proxy.on('connect', (req: http.IncomingMessage, sock: net.Socket, head: Buffer) => {
      tunneled.push(req.url ?? '');
      const p = (req.url ?? '').split(':')[1];
      const up = net.connect(Number(p), '127.0.0.1', () => {
        sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.write(head);
        up.pipe(sock);
        sock.pipe(up);
      });
      up.on('error', () => sock.destroy());
      sock.on('error', () => up.destroy());
    });
    const proxyPort = await new Promise<number>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve((proxy.address() as net.AddressInfo).port)));
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-proxy-'));
    try {
      const api = new URL(cf.apiBaseUrl);
      api.hostname = 'api.cloudflare.proxied.test';
      // The emulator speaks http, so the http proxy variables apply (HTTPS_PROXY is passed the same way).
      for (const name of ['HTTP_PROXY', 'http_proxy']) {
        tunneled.length = 0;
        const r = await runWrangler(['kv', 'namespace', 'list'], {
          account: { accountId: cf.accountId, apiToken: 'cf-token-' + 'p'.repeat(32) },
          env: { PATH: process.env.PATH, HOME: home, CLOUDFLARE_API_BASE_URL: api.href.replace(/\/$/, ''), [name]: `http://127.0.0.1:${proxyPort}` },
          cwd,
        });
        expect(r.stdout).toContain('[');
        expect(tunneled, name).toContain(`api.cloudflare.proxied.test:${api.port}`);
      }
    } finally {
      proxy.close();
      await cf.close();
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  }, 120_000);
});
