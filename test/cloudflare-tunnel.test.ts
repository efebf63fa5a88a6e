// Tunnel mode, Cloudflare side: src/cloudflare/api.ts + src/cloudflare/tunnel.ts against the Cloudflare emulator over real HTTP.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloudflareApi, CloudflareApiError } from '../src/cloudflare/api.js';
import {
  checkTokenPermissions,
  destroyTunnelResources,
  ensureTunnel,
  ensureVpcService,
  findTunnelsByName,
  tunnelHealth,
  TUNNEL_JOURNAL_KEY,
  VPC_SERVICE_JOURNAL_KEY,
} from '../src/cloudflare/tunnel.js';
import { CliError } from '../src/ground/errors.js';
import { containsKnownSecret } from '../src/ground/redact.js';
import { Journal, StateStore, newDeploymentState } from '../src/state/index.js';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.js';
import { ALL_PERMISSION_GROUPS } from './emulators/cloudflare/token-permissions.js';

const API_TOKEN = 'cf-test-token-0123456789abcdef';

interface Call {
  method: string;
  path: string;
  search: string;
  body?: string;
  authorization: string | null;
  status: number;
}

let cf: CloudflareEmulator;
let dir: string;
let store: StateStore;
let calls: Call[];
/** runs after each API answer: lets a test play a cloudflared that reconnects at once */
let afterResponse: ((call: Call) => void) | undefined;

const recordingFetch: typeof fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  const res = await fetch(input, init);
  const headers = new Headers(init?.headers);
  const call: Call = {
    method: (init?.method ?? 'GET').toUpperCase(),
    path: url.pathname.replace(/^\/client\/v4/, ''),
    search: url.search,
    ...(typeof init?.body === 'string' ? { body: init.body } : {}),
    authorization: headers.get('authorization'),
    status: res.status,
  };
  calls.push(call);
  afterResponse?.(call);
  return res;
};

function apiFor(token = API_TOKEN): CloudflareApi {
  return new CloudflareApi(
    { accountId: cf.accountId, apiToken: token },
    { baseUrl: cf.apiBaseUrl, fetch: recordingFetch, retry: { baseMs: 5, maxMs: 20 } },
  );
}

function journalFor(name: string): Journal {
  return new Journal(store, newDeploymentState(name));
}

const live = () => ({
  tunnels: cf.tunnels().filter((t) => !t.deleted),
  services: cf.vpcServices(),
});

beforeEach(async () => {
  cf = await startCloudflareEmulator({ apiToken: API_TOKEN });
  dir = await mkdtemp(join(tmpdir(), 'cf-tunnel-test-'));
  store = new StateStore(dir);
  calls = [];
  afterResponse = undefined;
});

afterEach(async () => {
  await cf.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ensureTunnel / ensureVpcService', () => {
  it('creates a remotely-managed tunnel, fetches its token and creates the VPC service with the exact body', async () => {
    const api = apiFor();
    const journal = journalFor('alpha');
    const { tunnelId, token } = await ensureTunnel(api, journal, 'alpha');

    expect(cf.tunnels()).toEqual([{ id: tunnelId, name: 'crawl4ai-mcp-alpha', deleted: false, connections: 0 }]);
    const create = calls.find((c) => c.method === 'POST' && c.path.endsWith('/cfd_tunnel'))!;
    expect(create.body).toBe('{"name":"crawl4ai-mcp-alpha","config_src":"cloudflare"}');
    expect(calls.some((c) => c.method === 'GET' && c.path === `/accounts/${cf.accountId}/cfd_tunnel/${tunnelId}/token`)).toBe(true);

    const decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { a: string; t: string; s: string };
    expect(decoded.a).toBe(cf.accountId);
    expect(decoded.t).toBe(tunnelId);
    expect(Buffer.from(decoded.s, 'base64').length).toBeGreaterThanOrEqual(32);
    // registered for redaction, never in the state file, and never anywhere but the Authorization header
    expect(containsKnownSecret(token)).toBe(true);
    expect(containsKnownSecret(decoded.s)).toBe(true);
    for (const c of calls) {
      expect(c.authorization).toBe(`Bearer ${API_TOKEN}`);
      expect(`${c.path}${c.search}${c.body ?? ''}`).not.toContain(API_TOKEN);
    }

    const { serviceId } = await ensureVpcService(api, journal, 'alpha', tunnelId);
    const post = calls.find((c) => c.method === 'POST' && c.path.endsWith('/connectivity/directory/services'))!;
    expect(post.body).toBe(
      `{"name":"crawl4ai-mcp-alpha","type":"http","host":{"ipv4":"127.0.0.1","network":{"tunnel_id":"${tunnelId}"}},"http_port":11235}`,
    );
    expect(cf.vpcServices()).toEqual([{ service_id: serviceId, name: 'crawl4ai-mcp-alpha', tunnel_id: tunnelId, ipv4: '127.0.0.1', http_port: 11235 }]);

    expect(journal.find(TUNNEL_JOURNAL_KEY)).toMatchObject({ phase: 'created', id: tunnelId, kind: 'cloudflare:tunnel', meta: { name: 'crawl4ai-mcp-alpha' } });
    expect(journal.find(VPC_SERVICE_JOURNAL_KEY)).toMatchObject({ phase: 'created', id: serviceId, meta: { tunnelId } });
    const onDisk = await readFile(join(dir, 'alpha.json'), 'utf8');
    expect(onDisk).toContain(tunnelId);
    expect(onDisk).not.toContain(token);
    expect(onDisk).not.toContain(decoded.s);

    // a second run reuses both: no create call
    calls = [];
    expect(await ensureTunnel(api, journal, 'alpha')).toEqual({ tunnelId, token });
    expect(await ensureVpcService(api, journal, 'alpha', tunnelId)).toEqual({ serviceId });
    expect(calls.filter((c) => c.method !== 'GET')).toEqual([]);
    expect(live().tunnels).toHaveLength(1);
    expect(live().services).toHaveLength(1);
  });

  it('resumes after a crash between the create call and the journal write: found by name, not duplicated', async () => {
    const api = apiFor();
    const journal = journalFor('beta');
    // the crashed run: intent journaled, tunnel created, id never written
    await journal.intend(TUNNEL_JOURNAL_KEY, 'cloudflare:tunnel');
    const orphan = await api.post<{ id: string }>('/accounts/{account_id}/cfd_tunnel', { name: 'crawl4ai-mcp-beta', config_src: 'cloudflare' });

    calls = [];
    const { tunnelId } = await ensureTunnel(api, journal, 'beta');
    expect(tunnelId).toBe(orphan.id);
    expect(calls.filter((c) => c.method === 'POST')).toEqual([]);
    expect(calls.some((c) => c.path.endsWith('/cfd_tunnel') && /name=crawl4ai-mcp-beta/.test(c.search) && /is_deleted=false/.test(c.search))).toBe(true);
    expect(journal.find(TUNNEL_JOURNAL_KEY)).toMatchObject({ phase: 'created', id: orphan.id });

    // the same for the VPC service, created by the crashed run and found among several pages of others
    for (let i = 0; i < 25; i++) {
      await api.post('/accounts/{account_id}/connectivity/directory/services', {
        name: `someone-else-${i}`,
        type: 'http',
        host: { ipv4: '10.0.0.1', network: { tunnel_id: tunnelId } },
        http_port: 80,
      });
    }
    await journal.intend(VPC_SERVICE_JOURNAL_KEY, 'cloudflare:vpc-service');
    const orphanService = await api.post<{ service_id: string }>('/accounts/{account_id}/connectivity/directory/services', {
      name: 'crawl4ai-mcp-beta',
      type: 'http',
      host: { ipv4: '127.0.0.1', network: { tunnel_id: tunnelId } },
      http_port: 11235,
    });
    calls = [];
    const { serviceId } = await ensureVpcService(api, journal, 'beta', tunnelId);
    expect(serviceId).toBe(orphanService.service_id);
    expect(calls.filter((c) => c.method === 'POST')).toEqual([]);
    expect(calls.filter((c) => c.method === 'GET' && c.path.endsWith('/services')).length).toBeGreaterThanOrEqual(2); // paged
    expect(cf.vpcServices().filter((s) => s.name === 'crawl4ai-mcp-beta')).toHaveLength(1);
    expect(live().tunnels).toHaveLength(1);
  });

  it('a create answered with 5xx is looked up by name before it is tried again, and never duplicated', async () => {
    const api = apiFor();
    const journal = journalFor('gamma');
    cf.failNext('POST', /\/cfd_tunnel$/, 503, 10002);
    const { tunnelId } = await ensureTunnel(api, journal, 'gamma');
    const posts = calls.filter((c) => c.method === 'POST');
    expect(posts.map((c) => c.status)).toEqual([503, 200]);
    expect(live().tunnels.map((t) => t.id)).toEqual([tunnelId]);
  });
});

describe('tunnelHealth', () => {
  it('reports inactive, then healthy with a connector, then down, then missing after destroy', async () => {
    const api = apiFor();
    const journal = journalFor('delta');
    const { tunnelId } = await ensureTunnel(api, journal, 'delta');
    expect(await tunnelHealth(api, tunnelId)).toEqual({ status: 'inactive', connectors: 0 });
    cf.connectTunnel(tunnelId, 'http://127.0.0.1:9');
    expect(await tunnelHealth(api, tunnelId)).toEqual({ status: 'healthy', connectors: 1 });
    cf.disconnectTunnel(tunnelId);
    expect(await tunnelHealth(api, tunnelId)).toEqual({ status: 'down', connectors: 0 });
    await destroyTunnelResources(api, journal, 'delta');
    expect(await tunnelHealth(api, tunnelId)).toEqual({ status: 'missing', connectors: 0 });
    expect(await tunnelHealth(api, '00000000-0000-4000-8000-000000000000')).toEqual({ status: 'missing', connectors: 0 });
  });
});

describe('destroyTunnelResources', () => {
  it('deletes the VPC service, then the connections, then the tunnel; a reconnecting connector gets cleanup + cascade', async () => {
    const api = apiFor();
    const journal = journalFor('eps');
    const { tunnelId } = await ensureTunnel(api, journal, 'eps');
    const { serviceId } = await ensureVpcService(api, journal, 'eps', tunnelId);
    cf.connectTunnel(tunnelId, 'http://127.0.0.1:9');
    // a running cloudflared re-registers right after its connections are cleaned up
    afterResponse = (c) => {
      if (c.method === 'DELETE' && c.path.endsWith(`/${tunnelId}/connections`)) cf.connectTunnel(tunnelId, 'http://127.0.0.1:9');
    };

    calls = [];
    const result = await destroyTunnelResources(api, journal, 'eps');
    expect(result).toEqual({ vpcServices: [serviceId], tunnels: [tunnelId] });

    const deletes = calls.filter((c) => c.method === 'DELETE').map((c) => `${c.path.replace(`/accounts/${cf.accountId}`, '')}${c.search} ${c.status}`);
    expect(deletes).toEqual([
      `/connectivity/directory/services/${serviceId} 200`,
      `/cfd_tunnel/${tunnelId}/connections 200`,
      `/cfd_tunnel/${tunnelId} 400`, // refused: active connections (1022)
      `/cfd_tunnel/${tunnelId}/connections 200`,
      `/cfd_tunnel/${tunnelId}?cascade=true 200`,
    ]);
    expect(live()).toEqual({ tunnels: [], services: [] });
    expect(journal.find(TUNNEL_JOURNAL_KEY)?.phase).toBe('deleted');
    expect(journal.find(VPC_SERVICE_JOURNAL_KEY)?.phase).toBe('deleted');

    // idempotent: a second destroy finds nothing and fails on nothing
    afterResponse = undefined;
    expect(await destroyTunnelResources(api, journal, 'eps')).toEqual({ vpcServices: [], tunnels: [] });
  });

  it('finds the tunnel and VPC service by name when the state is lost, and leaves other deployments alone', async () => {
    const api = apiFor();
    const { tunnelId } = await ensureTunnel(api, journalFor('zeta'), 'zeta');
    await ensureVpcService(api, journalFor('zeta'), 'zeta', tunnelId);
    const other = await ensureTunnel(api, journalFor('other'), 'other');
    await ensureVpcService(api, journalFor('other'), 'other', other.tunnelId);
    cf.connectTunnel(tunnelId, 'http://127.0.0.1:9');

    const fresh = journalFor('zeta'); // the state file is gone: an empty journal
    const result = await destroyTunnelResources(api, fresh, 'zeta');
    expect(result.tunnels).toEqual([tunnelId]);
    expect(result.vpcServices).toHaveLength(1);
    expect(live().tunnels.map((t) => t.name)).toEqual(['crawl4ai-mcp-other']);
    expect(live().services.map((s) => s.name)).toEqual(['crawl4ai-mcp-other']);
    // and with no journal at all
    expect(await destroyTunnelResources(api, null, 'other')).toMatchObject({ tunnels: [other.tunnelId] });
    expect(live()).toEqual({ tunnels: [], services: [] });
    expect(await findTunnelsByName(api, 'crawl4ai-mcp-zeta')).toEqual([]);
  });

  it('is idempotent when the tunnel or service was already deleted out of band', async () => {
    const api = apiFor();
    const journal = journalFor('eta');
    const { tunnelId } = await ensureTunnel(api, journal, 'eta');
    const { serviceId } = await ensureVpcService(api, journal, 'eta', tunnelId);
    await api.delete(`/accounts/{account_id}/connectivity/directory/services/${serviceId}`);
    await api.delete(`/accounts/{account_id}/cfd_tunnel/${tunnelId}`);
    await expect(destroyTunnelResources(api, journal, 'eta')).resolves.toEqual({ vpcServices: [serviceId], tunnels: [tunnelId] });
    expect(journal.live()).toEqual([]);
  });
});

describe('CloudflareApi', () => {
  it('honours Retry-After on 429 and retries a 5xx GET', async () => {
    const api = apiFor();
    cf.failNext('GET', /\/cfd_tunnel$/, 429, 971, { retryAfter: 1 });
    const started = Date.now();
    expect(await findTunnelsByName(api, 'crawl4ai-mcp-none')).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(calls.map((c) => c.status)).toEqual([429, 200]);

    calls = [];
    cf.failNext('GET', /\/cfd_tunnel$/, 502, 10002);
    cf.failNext('GET', /\/cfd_tunnel$/, 500, 10002);
    expect(await findTunnelsByName(api, 'crawl4ai-mcp-none')).toEqual([]);
    expect(calls.map((c) => c.status)).toEqual([502, 500, 200]);
  });

  it('fails at once, saying how long to wait, when Retry-After is longer than the bound', async () => {
    const api = apiFor();
    cf.failNext('GET', /\/cfd_tunnel$/, 429, 971, { retryAfter: 3600 });
    const error = await findTunnelsByName(api, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CloudflareApiError);
    expect(error).toMatchObject({ status: 429, codes: [971], exitCode: 1 });
    expect((error as CliError).hint).toMatch(/wait 3600 s/);
    expect(calls).toHaveLength(1);
  });

  it('a refused token is a CliError with exit 3 naming the permission, without the token in it', async () => {
    const wrong = 'wrong-token-abcdef123456';
    const api = apiFor(wrong);
    const error = await ensureTunnel(api, journalFor('theta'), 'theta').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ exitCode: 3, status: 403, codes: [10000] });
    expect((error as Error).message).toContain('Account › Cloudflare Tunnel › Edit');
    expect(`${(error as Error).message} ${(error as CliError).hint}`).not.toContain(wrong);
    expect(cf.tunnels()).toEqual([]);

    const vpcError = await api.list('/accounts/{account_id}/connectivity/directory/services').catch((e: unknown) => e);
    expect((vpcError as Error).message).toContain('Connectivity Directory › Admin');
    expect(vpcError).toMatchObject({ exitCode: 3 });

    await expect(checkTokenPermissions(api, 'tunnel')).rejects.toMatchObject({ exitCode: 3 });
  });

  it('takes its base URL from CLOUDFLARE_API_BASE_URL, and reports an unreachable API clearly', async () => {
    const account = { accountId: cf.accountId, apiToken: API_TOKEN };
    expect(new CloudflareApi(account, { env: {} }).baseUrl).toBe('https://api.cloudflare.com/client/v4');
    const viaEnv = new CloudflareApi(account, { env: { CLOUDFLARE_API_BASE_URL: `${cf.apiBaseUrl}/` } });
    expect(viaEnv.baseUrl).toBe(cf.apiBaseUrl);
    expect(await viaEnv.get<{ status: string }>('/user/tokens/verify')).toMatchObject({ status: 'active' });

    const closed = new CloudflareApi(account, { baseUrl: 'http://127.0.0.1:9/client/v4', retry: { attempts: 2, baseMs: 5, maxMs: 10 } });
    const error = await closed.get('/user/tokens/verify').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 0, exitCode: 1 });
    expect((error as CliError).message).toMatch(/cannot reach the Cloudflare API for GET \/user\/tokens\/verify/);
    expect((error as CliError).hint).toMatch(/CLOUDFLARE_API_BASE_URL/);
  });

  it('pages through result_info', async () => {
    const api = apiFor();
    const { tunnelId } = await ensureTunnel(api, journalFor('iota'), 'iota');
    for (let i = 0; i < 45; i++) {
      await api.post('/accounts/{account_id}/connectivity/directory/services', {
        name: `svc-${i}`,
        type: 'http',
        host: { ipv4: '127.0.0.1', network: { tunnel_id: tunnelId } },
        http_port: 8000 + i,
      });
    }
    calls = [];
    const all = await api.list<{ name: string }>('/accounts/{account_id}/connectivity/directory/services');
    expect(all.map((s) => s.name)).toEqual(Array.from({ length: 45 }, (_, i) => `svc-${i}`));
    expect(calls.map((c) => c.search)).toEqual(['', '?page=2', '?page=3']);
  });
});

describe('checkTokenPermissions', () => {
  it('verifies the token and probes every permission of the mode', async () => {
    const api = apiFor();
    const result = await checkTokenPermissions(api, 'tunnel');
    expect(result.missing).toEqual([]);
    expect(result.checked).toContain('Account › Cloudflare Tunnel › Edit');
    expect(result.checked).toContain('Account › Connectivity Directory › Admin');
    expect(result.checked).toContain('Account › Connectivity Directory › Bind');
    expect(result.unchecked).toEqual([]);
    expect(calls[0]?.path).toBe('/user/tokens/verify');
    expect(calls.some((c) => c.path === `/accounts/${cf.accountId}/cfd_tunnel` && c.search === '?per_page=1')).toBe(true);
    const publicMode = await checkTokenPermissions(api, 'public');
    expect(publicMode.checked).not.toContain('Account › Cloudflare Tunnel › Edit');
  });

  /** an emulator whose token lacks `lacking`; the API client uses that token */
  async function tokenWithout(...lacking: string[]): Promise<CloudflareApi> {
    await cf.close();
    cf = await startCloudflareEmulator({ apiToken: API_TOKEN, tokenPermissions: ALL_PERMISSION_GROUPS.filter((g) => !lacking.includes(g)) });
    return apiFor();
  }

  it('names the permission a token lacks: its probe is refused with 403 by the emulator', async () => {
    const api = await tokenWithout('Connectivity Directory Read', 'Connectivity Directory Bind', 'Connectivity Directory Admin');
    const result = await checkTokenPermissions(api, 'tunnel');
    expect(result.missing).toEqual(['Account › Connectivity Directory › Admin', 'Account › Connectivity Directory › Bind']);
    expect(calls.some((c) => c.path.endsWith('/connectivity/directory/services') && c.status === 403)).toBe(true);
    expect((await checkTokenPermissions(api, 'public')).missing).toEqual([]);
  });

  it('finds a missing Connectivity Directory › Bind in the token\'s own policies (no read-only call needs Bind)', async () => {
    const api = await tokenWithout('Connectivity Directory Bind');
    const result = await checkTokenPermissions(api, 'tunnel');
    expect(result.missing).toEqual(['Account › Connectivity Directory › Bind']);
    expect(calls.some((c) => /^\/user\/tokens\/[0-9a-f]+$/.test(c.path) && c.status === 200)).toBe(true);
  });

  it('says Bind could not be checked when the token may not read its own policies', async () => {
    const api = await tokenWithout('API Tokens Read');
    const result = await checkTokenPermissions(api, 'tunnel');
    expect(result.missing).toEqual([]);
    expect(result.unchecked).toEqual(['Account › Connectivity Directory › Bind']);
    expect(result.checked).not.toContain('Account › Connectivity Directory › Bind');
  });

});
