// What the pinned wrangler (4.164) does with a `containers` entry, against the emulator: the exact calls, and how
// each failure of the container application step ends. Real wrangler, the real Worker bundle (dist/).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkerDeployer } from '../dist/cloudflare/worker-deployer.js';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { cliEnv } from './helpers/cli.js';

const TOKEN = 'cf-token-' + 'e'.repeat(32);
const IMAGE = 'docker.io/unclecode/crawl4ai:0.9.4';
const container = (over: Record<string, unknown> = {}) => ({ image: IMAGE, instanceType: 'standard-1', maxInstances: 1, sleepAfter: '10m', coldStartSeconds: 45, ...over });

describe('Cloudflare emulator: container applications as wrangler deploy and delete use them', () => {
  let cf: CloudflareEmulator;
  let deployer: WorkerDeployer;
  const a = 'acc00000000000000000000000000e0e';

  beforeAll(async () => {
    cf = await startCloudflareEmulator({ accountId: a, apiToken: TOKEN });
    const env = cliEnv(fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-cont-emu-')), { CLOUDFLARE_API_BASE_URL: cf.apiBaseUrl, CRAWL4AI_MCP_WORKERS_URL_TEMPLATE: cf.workersUrlTemplate });
    deployer = new WorkerDeployer({ accountId: a, apiToken: TOKEN }, env);
  }, 30_000);
  afterAll(async () => cf?.close());

  /** the API calls made while `fn` ran, as "METHOD path" with ids replaced */
  async function callsOf(fn: () => Promise<unknown>): Promise<{ calls: string[]; error?: Error }> {
    const before = cf.requests.length;
    let error: Error | undefined;
    try {
      await fn();
    } catch (e) {
      error = e as Error;
    }
    const calls = cf.requests.slice(before).map((r) => `${r.method} ${r.path.replace(`/accounts/${a}`, '/accounts/A').replace(/\/[0-9a-f-]{36}(?=\/|$)/g, '/:id')} ${r.status}`);
    return { calls, ...(error ? { error } : {}) };
  }

  it('deploy of a new Worker with a container: upload, read the namespace from the version, list + create the application, then workers.dev', async () => {
    const { calls, error } = await callsOf(() => deployer.deploy({ deployment: 'calls', container: container({ maxInstances: 2 }) }));
    expect(error).toBeUndefined();
    const s = '/accounts/A/workers/scripts/crawl4ai-mcp-calls';
    expect(calls).toEqual([
      // the deployer's own OAUTH_KV namespace step (found by title, else created) comes first
      'GET /accounts/A/storage/kv/namespaces 200',
      'POST /accounts/A/storage/kv/namespaces 200',
      'GET /accounts/A/workers/services/crawl4ai-mcp-calls 404',
      `GET ${s}/secrets 404`,
      'GET /accounts/A/workers/subdomain 200',
      `GET ${s}/deployments 404`,
      'GET /accounts/A/workers/services/crawl4ai-mcp-calls 404',
      `GET ${s}/settings 404`,
      `PUT ${s} 200`,
      `GET ${s}/versions/:id 200`,
      'GET /accounts/A/containers/applications 200',
      'POST /accounts/A/containers/applications 201',
      'GET /accounts/A/workers/workers/crawl4ai-mcp-calls 200',
      'GET /accounts/A/workers/subdomain 200',
      `POST ${s}/subdomain 200`,
    ]);
    const app = cf.containerApplications().find((x) => x.name === 'crawl4ai-mcp-calls-crawl4aicontainer')!;
    expect(app).toMatchObject({ max_instances: 2, configuration: { image: IMAGE, instance_type: 'standard-1' } });
    expect(app.durable_objects.namespace_id).toBe(cf.durableObjectNamespaces().find((n) => n.script === 'crawl4ai-mcp-calls' && n.class === 'Crawl4aiContainer')!.id);
  }, 120_000);

  it('a changed max_instances is a PATCH of the application plus a rollout; an unchanged one neither', async () => {
    const changed = await callsOf(() => deployer.deploy({ deployment: 'calls', container: container({ maxInstances: 4 }) }));
    expect(changed.error).toBeUndefined();
    const containerCalls = changed.calls.filter((c) => c.includes('/containers/'));
    expect(containerCalls).toEqual([
      'GET /accounts/A/containers/applications 200',
      'PATCH /accounts/A/containers/applications/:id 200',
      'POST /accounts/A/containers/applications/:id/rollouts 200',
    ]);
    expect(cf.containerApplications().find((x) => x.name === 'crawl4ai-mcp-calls-crawl4aicontainer')!.max_instances).toBe(4);

    const same = await callsOf(() => deployer.deploy({ deployment: 'calls', container: container({ maxInstances: 4 }) }));
    expect(same.calls.filter((c) => c.includes('/containers/'))).toEqual(['GET /accounts/A/containers/applications 200']);
  }, 120_000);

  it('wrangler delete removes the Worker but leaves the container application (destroy must delete it)', async () => {
    const { calls, error } = await callsOf(() => deployer.delete('calls'));
    expect(error).toBeUndefined();
    expect(calls).toContain('GET /accounts/A/containers/applications 200');
    expect(calls.some((c) => c.startsWith('DELETE /accounts/A/containers/'))).toBe(false);
    expect(cf.scripts()).not.toContain('crawl4ai-mcp-calls');
    expect(cf.containerApplications().map((x) => x.name)).toContain('crawl4ai-mcp-calls-crawl4aicontainer');
    // and a later deploy of the same name meets the application of the deleted Worker's namespace
    const again = await callsOf(() => deployer.deploy({ deployment: 'calls', container: container() }));
    expect(again.error?.message).toMatch(/already an application with the name crawl4ai-mcp-calls-crawl4aicontainer/);
  }, 120_000);

  it('an image that is not in its registry: the application step fails after the upload, workers.dev stays off', async () => {
    const { calls, error } = await callsOf(() => deployer.deploy({ deployment: 'noimage', container: container({ image: 'docker.io/unclecode/crawl4ai-typo:0.9.4' }) }));
    expect(error?.message).toMatch(/was not found in its registry/);
    expect(calls).toContain('POST /accounts/A/containers/applications 400');
    expect(calls.some((c) => c.includes('/subdomain') && c.startsWith('POST'))).toBe(false);
    expect(cf.scripts()).toContain('crawl4ai-mcp-noimage'); // uploaded but unreachable: destroy must clean it
    expect(cf.containerApplications().map((x) => x.name)).not.toContain('crawl4ai-mcp-noimage-crawl4aicontainer');
  }, 120_000);

  it('an account without the Workers Paid plan: every containers call is refused, so deploy fails after the upload', async () => {
    cf.setContainersAllowed(false);
    try {
      const { calls, error } = await callsOf(() => deployer.deploy({ deployment: 'free', container: container() }));
      expect(error?.message).toMatch(/Cloudflare refused the container application/);
      expect((error as Error & { hint?: string }).hint).toMatch(/Workers Paid plan/);
      expect(calls).toContain('GET /accounts/A/containers/applications 403');
      expect(calls.some((c) => c.startsWith('POST /accounts/A/containers/'))).toBe(false);
    } finally {
      cf.setContainersAllowed(true);
    }
  }, 120_000);

  it('429 and 500 on the application create: wrangler stops, the deploy runs wrangler again and the application is made once', async () => {
    for (const [status, code, message] of [[429, 971, 'Too many requests'], [500, 1000, 'Internal Server Error']] as const) {
      cf.failNext('POST', /\/containers\/applications$/, status, code, { message });
      const { calls, error } = await callsOf(() => deployer.deploy({ deployment: `busy${status}`, container: container() }));
      expect(error, `status ${status}`).toBeUndefined();
      const creates = calls.filter((c) => c.startsWith('POST /accounts/A/containers/applications '));
      expect(creates).toEqual([`POST /accounts/A/containers/applications ${status}`, 'POST /accounts/A/containers/applications 201']);
      expect(cf.containerApplications().filter((x) => x.name === `crawl4ai-mcp-busy${status}-crawl4aicontainer`)).toHaveLength(1);
    }
  }, 240_000);
});
