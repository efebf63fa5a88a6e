// The Cloudflare emulator, driven by the real wrangler CLI, runs what was deployed and behaves like the edge.
import { execFileSync, spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.js';
import { ALL_PERMISSION_GROUPS } from './emulators/cloudflare/token-permissions.js';

const ROOT = resolve(import.meta.dirname, '..');
const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
const FIXTURE = join(ROOT, 'test/fixtures/cf-worker/worker.js');
const TOKEN = 'test-token-0123456789';
/** a token with every permission group but Connectivity Directory Bind */
const NO_BIND_TOKEN = 'test-token-no-bind-0123456789';
/** a token that may only read Workers scripts */
const READ_ONLY_TOKEN = 'test-token-read-only-0123456789';
const WORKER = 'fixture-worker';

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let cf: CloudflareEmulator;
let home: string;
let project: string;
let origin: http.Server;
let originUrl: string;
let closedPortUrl: string;

/** Runs the real wrangler against the emulator; secrets only through env or stdin. */
function wrangler(args: string[], opts: { input?: string; token?: string } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd: project,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        XDG_CONFIG_HOME: join(home, '.config'),
        CI: 'true',
        NO_COLOR: '1',
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_SEND_ERROR_REPORTS: 'false',
        WRANGLER_NO_SKILLS_UPDATE_PROMPTS: 'true',
        CLOUDFLARE_API_BASE_URL: cf.apiBaseUrl,
        CLOUDFLARE_API_TOKEN: opts.token ?? TOKEN,
        CLOUDFLARE_ACCOUNT_ID: cf.accountId,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

async function mustSucceed(args: string[], opts: { input?: string } = {}): Promise<RunResult> {
  const result = await wrangler(args, opts);
  if (result.code !== 0) throw new Error(`wrangler ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}

async function writeProject(marker: string, config: Record<string, unknown>): Promise<void> {
  const source = (await readFile(FIXTURE, 'utf8')).replace("const MARKER = 'fixture-v1'", `const MARKER = '${marker}'`);
  await writeFile(join(project, 'worker.js'), source);
  await writeFile(
    join(project, 'wrangler.json'),
    JSON.stringify({ name: WORKER, main: 'worker.js', compatibility_date: '2026-11-01', workers_dev: true, upload_source_maps: false, ...config }, null, 2),
  );
}

async function getJson(path: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${cf.workerUrl(WORKER)}${path}`, init);
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: res.status, body: { text } };
  }
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: { success: boolean; result: unknown; errors: Array<{ code: number }> } }> {
  const res = await fetch(`${cf.apiBaseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as never };
}

beforeAll(async () => {
  origin = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ origin: 'vm', method: req.method, path: req.url, host: req.headers.host, body }));
    });
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  // a port nothing listens on: bind, read the port, close
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPortUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise<void>((r) => probe.close(() => r()));

  cf = await startCloudflareEmulator({
    apiToken: TOKEN,
    extraTokens: {
      [NO_BIND_TOKEN]: ALL_PERMISSION_GROUPS.filter((g) => g !== 'Connectivity Directory Bind'),
      [READ_ONLY_TOKEN]: ['Workers Scripts Read'],
    },
    hosts: { 'vm.example.com': originUrl, 'down.example.com': closedPortUrl } });
  home = await mkdtemp(join(tmpdir(), 'cf-emu-test-home-'));
  project = await mkdtemp(join(tmpdir(), 'cf-emu-test-project-'));
  await copyFile(FIXTURE, join(project, 'worker.js'));
});

afterAll(async () => {
  if (process.env.CF_EMULATOR_DEBUG) {
    console.log(cf.requests.map((r) => `${r.status} ${r.method} ${r.path}${r.query}`).join('\n'));
    console.log(cf.workerLogs.map((l) => `[${l.script}] ${l.level}: ${l.message}`).join('\n'));
  }
  await cf?.close();
  await new Promise<void>((r) => (origin ? origin.close(() => r()) : r()));
  await rm(home, { recursive: true, force: true });
  await rm(project, { recursive: true, force: true });
});

describe('Cloudflare emulator driven by the real wrangler', () => {
  let kvId = '';
  let tunnelId = '';
  let serviceId = '';

  it('deploys a Worker with a KV namespace, a SQLite Durable Object and a var, and serves it', async () => {
    const created = await mustSucceed(['kv', 'namespace', 'create', 'fixture-kv']);
    kvId = cf.kvNamespaces().find((ns) => ns.title === 'fixture-kv')?.id ?? '';
    expect(kvId).toMatch(/^[0-9a-f]{32}$/);
    expect(created.stdout).toContain(kvId);

    await writeProject('fixture-v1', {
      vars: { GREETING: 'hello from vars' },
      kv_namespaces: [{ binding: 'KV', id: kvId }],
      durable_objects: { bindings: [{ name: 'COUNTER', class_name: 'Counter' }] },
      migrations: [{ tag: 'v1', new_sqlite_classes: ['Counter'] }],
    });
    const deployed = await mustSucceed(['deploy']);
    expect(deployed.stdout).toContain(`${WORKER}.test-user.workers.dev`);
    expect(cf.scripts()).toEqual([WORKER]);
    expect(cf.durableObjectNamespaces()).toEqual([expect.objectContaining({ script: WORKER, class: 'Counter', use_sqlite: true })]);

    const root = await getJson('/');
    expect(root.status).toBe(200);
    expect(root.body).toMatchObject({ marker: 'fixture-v1', greeting: 'hello from vars', secret: null, url: `https://${WORKER}.test-user.workers.dev/` });

    expect((await getJson('/kv/put?key=k1&value=v1')).status).toBe(200);
    expect((await getJson('/kv/get?key=k1')).body).toEqual({ value: 'v1' });
    expect((await getJson('/do')).body).toEqual({ count: 1 });
    expect((await getJson('/do')).body).toEqual({ count: 2 });

    // the Worker is also reachable by its workers.dev Host header
    const byHost = await new Promise<string>((done, fail) => {
      http
        .get(cf.apiBaseUrl.replace('/client/v4', '/'), { headers: { host: `${WORKER}.test-user.workers.dev` } }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => done(text));
        })
        .on('error', fail);
    });
    expect((JSON.parse(byHost) as { marker: string }).marker).toBe('fixture-v1');
    expect(cf.unhandledRequests).toEqual([]);
  });

  it('takes secrets from `wrangler secret bulk` on stdin and lists them; on a missing Worker it creates a draft', async () => {
    await Promise.all([
      mustSucceed(['secret', 'bulk'], { input: JSON.stringify({ API_SECRET: 's3cr3t-value' }) }),
      mustSucceed(['secret', 'bulk', '--name', 'draft-worker'], { input: JSON.stringify({ ONLY_SECRET: 'x' }) }),
    ]);
    expect(cf.secretsOf(WORKER)).toEqual(['API_SECRET']);
    expect(cf.secretsOf('draft-worker')).toEqual(['ONLY_SECRET']);
    expect((await getJson('/')).body.secret).toBe('s3cr3t-value');
    const listed = await mustSucceed(['secret', 'list', '--format', 'json']);
    expect(listed.stdout).toContain('API_SECRET');
    expect(listed.stdout).not.toContain('s3cr3t-value');
  });

  it('a redeploy changes the code that serves, keeps secrets, KV and Durable Object data', async () => {
    await writeProject('fixture-v2', {
      vars: { GREETING: 'hello again' },
      kv_namespaces: [{ binding: 'KV', id: kvId }],
      durable_objects: { bindings: [{ name: 'COUNTER', class_name: 'Counter' }] },
      migrations: [{ tag: 'v1', new_sqlite_classes: ['Counter'] }],
    });
    const before = cf.requests.length;
    await mustSucceed(['deploy']);
    const calls = cf.requests.slice(before).map((r) => `${r.method} ${r.path}`);
    expect(calls).toContain(`POST /accounts/${cf.accountId}/workers/scripts/${WORKER}/versions`);
    expect(calls).toContain(`POST /accounts/${cf.accountId}/workers/scripts/${WORKER}/deployments`);

    expect((await getJson('/')).body).toMatchObject({ marker: 'fixture-v2', greeting: 'hello again', secret: 's3cr3t-value' });
    expect((await getJson('/kv/get?key=k1')).body).toEqual({ value: 'v1' });
    expect((await getJson('/do')).body).toEqual({ count: 3 });
  });

  it('KV values written through the API are what the Worker reads, and back', async () => {
    const ns = `/accounts/${cf.accountId}/storage/kv/namespaces/${kvId}`;
    const put = await fetch(`${cf.apiBaseUrl}${ns}/values/${encodeURIComponent('api/key')}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: 'from-the-api',
    });
    expect(put.status).toBe(200);
    expect((await getJson(`/kv/get?key=${encodeURIComponent('api/key')}`)).body).toEqual({ value: 'from-the-api' });
    const read = await fetch(`${cf.apiBaseUrl}${ns}/values/k1`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await read.text()).toBe('v1');
    const keys = await api('GET', `${ns}/keys`);
    expect(keys.json.result).toEqual([{ name: 'api/key' }, { name: 'k1' }]);
    expect((await api('GET', `${ns}/values/missing`)).json.errors[0]?.code).toBe(10009);
  });

  it('answers outbound fetches as the edge does: bare IP 403/1003, mapped host forwarded, unknown 530/1016, closed port 521', async () => {
    const bareIp = await getJson(`/outbound?url=${encodeURIComponent(`${originUrl}/x`)}`);
    expect(bareIp.body).toEqual({ status: 403, body: 'error code: 1003' });

    const mapped = await getJson(`/outbound?url=${encodeURIComponent('https://vm.example.com/crawl?q=1')}`, { method: 'POST', body: 'payload' });
    expect(mapped.body.status).toBe(200);
    expect(JSON.parse(String(mapped.body.body))).toMatchObject({ origin: 'vm', method: 'POST', path: '/crawl?q=1', host: 'vm.example.com', body: 'payload' });

    expect((await getJson(`/outbound?url=${encodeURIComponent('https://nowhere.example.com/')}`)).body).toEqual({ status: 530, body: 'error code: 1016' });
    expect((await getJson(`/outbound?url=${encodeURIComponent('https://down.example.com/')}`)).body).toEqual({ status: 521, body: 'error code: 521' });

    cf.setHost('late.example.com', originUrl);
    expect((await getJson(`/outbound?url=${encodeURIComponent('https://late.example.com/')}`)).body.status).toBe(200);
    cf.setHost('late.example.com', { url: originUrl, untrustedCert: true });
    expect((await getJson(`/outbound?url=${encodeURIComponent('https://late.example.com/')}`)).body).toEqual({ status: 526, body: 'error code: 526' });

    // an uncaught exception is a 1101 page, not Miniflare's stack trace
    const thrown = await fetch(`${cf.workerUrl(WORKER)}/throw`);
    expect(thrown.status).toBe(500);
    expect(await thrown.text()).toBe('error code: 1101');
  });

  it('routes a vpc_service binding through a tunnel: throws without a connector, forwards with one', async () => {
    // created through the API as the CLI does it (wrangler's own `tunnel delete` is exercised below)
    const tunnel = await api('POST', `/accounts/${cf.accountId}/cfd_tunnel`, { name: 'fixture-tunnel', config_src: 'cloudflare' });
    tunnelId = (tunnel.json.result as { id: string }).id;
    expect(tunnelId).toMatch(/^[0-9a-f-]{36}$/);
    expect(cf.tunnels()).toEqual([{ id: tunnelId, name: 'fixture-tunnel', deleted: false, connections: 0 }]);

    const token = await api('GET', `/accounts/${cf.accountId}/cfd_tunnel/${tunnelId}/token`);
    const decoded = JSON.parse(Buffer.from(String(token.json.result), 'base64').toString()) as Record<string, string>;
    expect(decoded).toMatchObject({ a: cf.accountId, t: tunnelId });
    expect(Buffer.from(decoded.s!, 'base64').length).toBe(32);
    expect((await api('GET', `/accounts/${cf.accountId}/cfd_tunnel/${tunnelId}`)).json.result).toMatchObject({ status: 'inactive' });

    const created = await mustSucceed(['vpc', 'service', 'create', 'crawl4ai', '--type', 'http', '--tunnel-id', tunnelId, '--ipv4', '127.0.0.1', '--http-port', '11235']);
    serviceId = cf.vpcServices()[0]?.service_id ?? '';
    expect(cf.vpcServices()).toEqual([{ service_id: serviceId, name: 'crawl4ai', tunnel_id: tunnelId, ipv4: '127.0.0.1', http_port: 11235 }]);
    expect(created.stdout).toContain(serviceId);

    await writeProject('fixture-v3', {
      kv_namespaces: [{ binding: 'KV', id: kvId }],
      durable_objects: { bindings: [{ name: 'COUNTER', class_name: 'Counter' }] },
      migrations: [{ tag: 'v1', new_sqlite_classes: ['Counter'] }],
      vpc_services: [{ binding: 'CRAWL4AI', service_id: serviceId }],
    });
    // deploying a vpc_services binding needs Connectivity Directory Bind (wrangler#15704), not only Admin
    const noBind = await wrangler(['deploy'], { token: NO_BIND_TOKEN });
    expect(noBind.code).not.toBe(0);
    expect(`${noBind.stdout}${noBind.stderr}`).toContain('Authentication error [code: 10000]');
    expect(cf.requests.some((r) => r.status === 403 && /\/workers\/scripts\/fixture-worker(\/versions)?$/.test(r.path))).toBe(true);
    expect((await getJson('/')).body.marker).not.toBe('fixture-v3'); // the old version still serves
    await mustSucceed(['deploy']);

    const offline = await getJson('/vpc?path=/health');
    expect(offline.body).toMatchObject({ threw: true, message: 'ProxyError: destination_unavailable' });

    cf.connectTunnel(tunnelId, originUrl);
    expect((await api('GET', `/accounts/${cf.accountId}/cfd_tunnel/${tunnelId}`)).json.result).toMatchObject({ status: 'healthy' });
    const online = await getJson('/vpc?path=/health?deep=1');
    expect(online.body.status).toBe(200);
    expect(JSON.parse(String(online.body.body))).toMatchObject({ origin: 'vm', path: '/health?deep=1', host: 'crawl4ai' });
  });

  it('refuses to delete a tunnel with an active connector, then deletes it after its connections are cleaned up', async () => {
    const refused = await wrangler(['tunnel', 'delete', tunnelId, '-y']);
    expect(refused.code).not.toBe(0);
    expect(`${refused.stdout}${refused.stderr}`).toMatch(/active connections/);
    expect(cf.tunnels()).toEqual([{ id: tunnelId, name: 'fixture-tunnel', deleted: false, connections: 1 }]);

    const cleaned = await api('DELETE', `/accounts/${cf.accountId}/cfd_tunnel/${tunnelId}/connections`);
    expect(cleaned.json.success).toBe(true);
    expect((await api('GET', `/accounts/${cf.accountId}/cfd_tunnel/${tunnelId}`)).json.result).toMatchObject({ status: 'down' });
    await mustSucceed(['tunnel', 'delete', tunnelId, '-y']);
    expect(cf.tunnels()).toEqual([{ id: tunnelId, name: 'fixture-tunnel', deleted: true, connections: 0 }]);
    const live = await api('GET', `/accounts/${cf.accountId}/cfd_tunnel?is_deleted=false`);
    expect(live.json.result).toEqual([]);
  });

  it('`wrangler delete` removes the Worker, its secrets and Durable Object namespaces; `kv namespace delete` the namespace', async () => {
    // independent commands, run side by side to keep the suite short
    await Promise.all([
      mustSucceed(['delete', '--name', WORKER]),
      mustSucceed(['delete', '--name', 'draft-worker']),
      mustSucceed(['kv', 'namespace', 'delete', '--namespace-id', kvId, '-y']),
    ]);
    expect(cf.scripts()).toEqual([]);
    expect(cf.secretsOf(WORKER)).toEqual([]);
    expect(cf.durableObjectNamespaces()).toEqual([]);
    expect(cf.runningWorkers()).toEqual([]);
    expect((await fetch(cf.workerUrl(WORKER))).status).toBe(404);
    expect(cf.kvNamespaces()).toEqual([]);
    expect(cf.unhandledRequests).toEqual([]);
  });

  it('enforces each token\'s permission groups on every API path (403, code 10000)', async () => {
    const call = async (token: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${cf.apiBaseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, code: ((await res.json()) as { errors: Array<{ code: number }> }).errors[0]?.code };
    };
    const a = `/accounts/${cf.accountId}`;
    expect((await call(READ_ONLY_TOKEN, 'GET', `${a}/workers/scripts`)).status).toBe(200);
    expect((await call(READ_ONLY_TOKEN, 'GET', '/user/tokens/verify')).status).toBe(200);
    for (const [method, path, body] of [
      ['DELETE', `${a}/workers/scripts/${WORKER}`],
      ['GET', `${a}/storage/kv/namespaces`],
      ['GET', `${a}/cfd_tunnel`],
      ['GET', `${a}/connectivity/directory/services`],
      ['POST', `${a}/connectivity/directory/services`, { name: 'x', type: 'http', host: { ipv4: '127.0.0.1', network: { tunnel_id: '00000000-0000-4000-8000-000000000000' } } }],
      ['GET', `${a}`],
      ['GET', '/user'],
      ['GET', '/memberships'],
    ] as const) {
      expect(await call(READ_ONLY_TOKEN, method, path, body), `${method} ${path}`).toEqual({ status: 403, code: 10000 });
    }
    // the no-Bind token can read and manage VPC services (Admin) but not bind them
    expect((await call(NO_BIND_TOKEN, 'GET', `${a}/connectivity/directory/services`)).status).toBe(200);
    const verify = await fetch(`${cf.apiBaseUrl}/user/tokens/verify`, { headers: { authorization: `Bearer ${NO_BIND_TOKEN}` } });
    const id = ((await verify.json()) as { result: { id: string } }).result.id;
    const details = await fetch(`${cf.apiBaseUrl}/user/tokens/${id}`, { headers: { authorization: `Bearer ${NO_BIND_TOKEN}` } });
    const groups = ((await details.json()) as { result: { policies: Array<{ permission_groups: Array<{ name: string }> }> } }).result.policies[0]!.permission_groups.map((g) => g.name);
    expect(groups).toContain('Connectivity Directory Admin');
    expect(groups).not.toContain('Connectivity Directory Bind');
  });

  it('a wrong API token makes wrangler fail with an authentication error', async () => {
    const result = await wrangler(['kv', 'namespace', 'list'], { token: 'not-the-token' });
    expect(result.code).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toContain('Authentication error [code: 10000]');
  });

  it('injects throttling: the next matching call gets 429 with Retry-After', async () => {
    cf.failNext('GET', /\/storage\/kv\/namespaces$/, 429, 971, { retryAfter: 7 });
    const res = await fetch(`${cf.apiBaseUrl}/accounts/${cf.accountId}/storage/kv/namespaces`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(((await res.json()) as { errors: Array<{ code: number }> }).errors[0]?.code).toBe(971);
    expect((await api('GET', `/accounts/${cf.accountId}/storage/kv/namespaces`)).status).toBe(200);
  });

  it('close() disposes every workerd it started and the listener', async () => {
    const workerdChildren = (): string[] => {
      try {
        return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
          .split('\n')
          .filter((line) => line.includes('workerd'));
      } catch {
        return []; // ps exits 1 when nothing matches
      }
    };
    expect(workerdChildren().length).toBeGreaterThan(0); // the KV API's instance is still up
    await cf.close();
    expect(workerdChildren()).toEqual([]);
    await expect(fetch(cf.apiBaseUrl)).rejects.toThrow();
  });
});
