/**
 * The packed tarball as a user installs it (offline, from npm's cache), then used: `--help`,
 * `doctor`, `serve --stdio` with one MCP call, and the first GCP command, which installs the GCP
 * SDK on demand into the tool's cache. Also: no network means one clear line, and a lockfile
 * whose integrity hash does not match what npm fetched installs nothing. Slow (one npm ci of the
 * tarball, one of the GCP SDK), so it is one file.
 */
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { startCrawl4aiEmulator } from './emulators/crawl4ai/index.ts';
import { startGceEmulator, type GceEmulator } from './emulators/gce/index.ts';
import { cliEnv, ROOT, tempHome } from './helpers/cli.js';
import { diskBytes, installTarball, packTarball } from './helpers/tarball.mjs';
import { freePort } from './helpers/ports.ts';
import type { ToolResultLike } from './helpers/mcp-clients.ts';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-tarball-'));
const project = path.join(work, 'project');
const installed = path.join(project, 'node_modules', 'crawl4ai-mcp');
const bin = path.join(installed, 'bin', 'crawl4ai-mcp.js');
let npmCache: string;
let home: string;
let gce: GceEmulator;

/** npm in the children reads the cache `npm ci` filled and never goes to the registry. */
const npmEnv = (cache = npmCache) => ({ npm_config_cache: cache, npm_config_offline: 'true', npm_config_update_notifier: 'false' });

function run(args: string[], extra: Record<string, string> = {}) {
  const secrets = { CRAWL4AI_MCP_SECRET_BACKEND: 'file', CRAWL4AI_MCP_PASSPHRASE: 'tarball passphrase' };
  return execa(process.execPath, [bin, ...args], { env: cliEnv(home, { ...secrets, ...npmEnv(), ...extra }), extendEnv: false, reject: false, timeout: 240_000, cwd: work });
}

const gcpPlan = ['plan', '--yes', '--provider', 'gcp', '--region', 'us-central1', '--size', 'small'];
const gcpEnv = () => ({ CRAWL4AI_MCP_GCP_ENDPOINT: gce.url, NODE_EXTRA_CA_CERTS: gce.caFile, CRAWL4AI_MCP_GCP_KEY: gce.serviceAccountKey });
const sdksDir = () => path.join(home, 'config', 'cache', 'sdks');
const sdkInstalls = (cloud: string) => (fs.existsSync(sdksDir()) ? fs.readdirSync(sdksDir()).filter((n) => n.startsWith(`${cloud}-`)) : []);

beforeAll(async () => {
  npmCache = (await execa('npm', ['config', 'get', 'cache'])).stdout.trim();
  fs.mkdirSync(project);
  const tgz = await packTarball(work);
  // a clean environment: the npm_config_* that `npx vitest` puts in ours must not shape the install
  await installTarball(tgz, project, { PATH: process.env.PATH, HOME: process.env.HOME, ...npmEnv() });
  home = tempHome('c4m-tarball-home-');
  gce = await startGceEmulator();
}, 300_000);

afterAll(async () => {
  await gce?.close();
  fs.rmSync(work, { recursive: true, force: true });
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

describe('the packed tarball, installed into an empty project', () => {
  it('weighs at most 300 MB (as du counts: MiB of blocks) and holds not one byte of the GCP or Azure SDK', () => {
    const nm = path.join(project, 'node_modules');
    const mib = diskBytes(nm) / 2 ** 20;
    expect(mib).toBeLessThanOrEqual(300);
    expect(mib).toBeGreaterThan(150); // wrangler's workerd alone is 156: the measure works
    const present = (p: string) => fs.existsSync(path.join(nm, p));
    for (const p of ['@google-cloud', 'google-gax', 'google-auth-library', '@azure', '@azure-rest']) expect(present(p), p).toBe(false);
    expect(present('@aws-sdk/client-ec2')).toBe(true);
    // the pins the on-demand install uses ship in the package
    for (const c of ['gcp', 'azure']) expect(fs.existsSync(path.join(installed, 'cloud-sdks', c, 'package-lock.json'))).toBe(true);
  });

  it('runs --help and doctor', async () => {
    const help = await run(['--help']);
    expect(help.exitCode, help.stderr).toBe(0);
    expect(help.stdout).toContain('init');
    const doctor = await run(['doctor', '--json']);
    const report = JSON.parse(doctor.stdout) as { ok: boolean; checks: Array<{ id: string; status: string; detail: string }> };
    expect(report.checks.find((c) => c.id === 'wrangler')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^v4\./) });
    expect(doctor.exitCode).toBe(report.ok ? 0 : 1);
  });

  it('serves MCP on stdio: one scrape against the Crawl4AI emulator', async () => {
    const token = 'tarball-stdio-token-1b2c3d';
    const emu = await startCrawl4aiEmulator({ token });
    try {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [bin, 'serve', '--stdio', '--origin', emu.url],
        env: { ...(cliEnv(home, { CRAWL4AI_API_TOKEN: token }) as Record<string, string>) },
        stderr: 'pipe',
      });
      const client = new Client({ name: 'tarball', version: '1.0.0' });
      await client.connect(transport);
      const r = (await client.callTool({ name: 'scrape', arguments: { url: emu.fixtures.docs.root } })) as ToolResultLike;
      expect(r.isError).toBeFalsy();
      expect(r.content![1]!.text).toBe(emu.expectedMarkdown(emu.fixtures.docs.root).fit);
      await client.close();
    } finally {
      await emu.close();
    }
  });

  it('builds and runs its Worker from what it ships: `dev` (wrangler dev) answers a scrape', async () => {
    // the package carries dist/ only in part (the CLI bundle and the Worker's sources): this is
    // the proof that what wrangler bundles for a deploy is all there
    const token = 'tarball-dev-token-5e6f7a';
    const emu = await startCrawl4aiEmulator({ token });
    const port = await freePort();
    const dev = spawn(process.execPath, [bin, 'dev', '--origin', emu.url, '--port', String(port)], {
      env: cliEnv(home, { CRAWL4AI_API_TOKEN: token, ...npmEnv() }) as NodeJS.ProcessEnv,
      cwd: work,
    });
    let out = '';
    let err = '';
    dev.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    dev.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    let exited = false;
    const exit = new Promise((r) => dev.on('exit', () => r((exited = true))));
    try {
      const end = Date.now() + 120_000;
      while (!/API key:\s+c4m_\S+/.test(out) && !exited && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
      const key = /API key:\s+(c4m_\S+)/.exec(out)?.[1];
      expect(key, `${out}\n${err}`).toBeDefined();
      const res = await fetch(`http://127.0.0.1:${port}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'scrape', arguments: { url: emu.fixtures.docs.root } } }),
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('Welcome to Example Docs');
    } finally {
      dev.kill('SIGINT');
      await Promise.race([exit, new Promise((r) => setTimeout(r, 10_000))]);
      if (!exited) dev.kill('SIGKILL');
      await emu.close();
    }
  }, 180_000);

  it('says in one line that the GCP SDK cannot be downloaded when npm has no network, and leaves nothing half-installed', async () => {
    const emptyCache = fs.mkdtempSync(path.join(work, 'empty-npm-cache-'));
    const r = await run(gcpPlan, { ...gcpEnv(), ...npmEnv(emptyCache) });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/could not download the GCP SDK: the npm registry is not reachable \(npm error ENOTCACHED\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
    expect(sdkInstalls('gcp')).toEqual([]);
    expect(fs.readdirSync(sdksDir()).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(gce.requests?.length ?? 0).toBe(0);
  });

  it('refuses an SDK whose bytes do not match the pinned integrity hash', async () => {
    const lockFile = path.join(installed, 'cloud-sdks', 'azure', 'package-lock.json');
    const original = fs.readFileSync(lockFile, 'utf8');
    const lock = JSON.parse(original) as { packages: Record<string, { integrity: string }> };
    const entry = lock.packages['node_modules/@azure/arm-compute']!;
    const digest = Buffer.from(entry.integrity.slice('sha512-'.length), 'base64');
    digest[0]! ^= 1;
    entry.integrity = `sha512-${digest.toString('base64')}`;
    fs.writeFileSync(lockFile, JSON.stringify(lock, null, 2));
    try {
      const r = await run(['plan', '--yes', '--provider', 'azure', '--region', 'eastus', '--size', 'small'], {
        AZURE_TENANT_ID: '11111111-1111-1111-1111-111111111111',
        AZURE_CLIENT_ID: '22222222-2222-2222-2222-222222222222',
        AZURE_CLIENT_SECRET: 'tarball-test-client-secret-value',
        AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
      });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/the downloaded Azure SDK does not match the integrity hashes crawl4ai-mcp pins \(npm error EINTEGRITY\); nothing was installed/);
      expect(sdkInstalls('azure')).toEqual([]);
    } finally {
      fs.writeFileSync(lockFile, original);
    }
  });

  it('installs the GCP SDK on first use, with a progress line, then plans against the GCE emulator; the next run reuses it', async () => {
    const first = await run(gcpPlan, gcpEnv());
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/installing the GCP SDK on first use \(@google-cloud\/compute@7\.8\.0, google-auth-library@11\.3\.4\)/);
    expect(first.stdout + first.stderr).toMatch(/e2-/); // the plan names a GCE machine type
    const [dir] = sdkInstalls('gcp');
    expect(dir).toBeDefined();
    expect(fs.existsSync(path.join(sdksDir(), dir!, 'node_modules', '@google-cloud', 'compute', 'package.json'))).toBe(true);
    // still nothing of the SDK in the package's own tree
    expect(fs.existsSync(path.join(project, 'node_modules', '@google-cloud'))).toBe(false);

    const again = await run(gcpPlan, gcpEnv());
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/installing the GCP SDK/);
  });
});

describe('the pins', () => {
  it('are the exact devDependency versions the tests run against, so tests and users get the same SDK', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    for (const cloud of ['gcp', 'azure']) {
      const pins = (JSON.parse(fs.readFileSync(path.join(ROOT, 'cloud-sdks', cloud, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies;
      for (const [name, version] of Object.entries(pins)) {
        expect(pkg.devDependencies[name], name).toBe(version);
        expect(pkg.dependencies[name], `${name} must not be a dependency`).toBeUndefined();
      }
    }
  });
});
