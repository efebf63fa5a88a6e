import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import fs from 'node:fs';
import path from 'node:path';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { ALL_PERMISSION_GROUPS } from './emulators/cloudflare/token-permissions.ts';
import { cliEnv, runCli, tempHome } from './helpers/cli.js';

const CF_TOKEN = 'cf-token-' + 'c'.repeat(32);
const CF_ACCOUNT = 'acc0000000000000000000000000000c';
/** every permission but Workers Containers */
const CF_TOKEN_NO_CONTAINERS = 'cf-token-nocont-' + 'n'.repeat(32);
const APP = (name: string) => `crawl4ai-mcp-${name}-crawl4aicontainer`;

/** A user with only a Cloudflare account: no AWS/GCP/Azure variable at all. */
function cloudflareOnlyEnv(cf: CloudflareEmulator, token: string, prefix: string): NodeJS.ProcessEnv {
  return cliEnv(tempHome(prefix), {
    CRAWL4AI_MCP_SECRET_BACKEND: 'file',
    CRAWL4AI_MCP_PASSPHRASE: `${prefix} passphrase`,
    CLOUDFLARE_API_BASE_URL: cf.apiBaseUrl,
    CLOUDFLARE_ACCOUNT_ID: cf.accountId,
    CLOUDFLARE_API_TOKEN: token,
    CRAWL4AI_MCP_WORKERS_URL_TEMPLATE: cf.workersUrlTemplate,
    CRAWL4AI_MCP_POLL_MS: '100',
    CRAWL4AI_MCP_HEALTH_INTERVAL_MS: '300',
    CRAWL4AI_MCP_HEALTH_TIMEOUT_MS: '60000',
  });
}

async function mcpClient(cli: (args: string[]) => ReturnType<typeof runCli>, name: string): Promise<Client> {
  const server = JSON.parse((await cli(['connect', '--client', 'cursor'])).stdout).mcpServers[`crawl4ai-${name}`];
  const client = new Client({ name: 'containers-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } }));
  return client;
}

const text = (r: { content?: unknown }) => JSON.stringify(r.content);

describe('--provider cloudflare: Crawl4AI as a Cloudflare Container behind the same Worker', () => {
  let cf: CloudflareEmulator;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    cf = await startCloudflareEmulator({
      accountId: CF_ACCOUNT,
      apiToken: CF_TOKEN,
      extraTokens: { [CF_TOKEN_NO_CONTAINERS]: ALL_PERMISSION_GROUPS.filter((g) => !g.startsWith('Workers Containers')) },
    });
    env = cloudflareOnlyEnv(cf, CF_TOKEN, 'c4m-cont-');
  }, 60_000);

  afterAll(async () => {
    await cf?.close();
  });

  const cli = (args: string[], name = 'box', e = env) => runCli(['--name', name, ...args], { env: e, timeoutMs: 240_000 });

  it('init with only a Cloudflare token -> MCP calls -> scale -> stop -> start -> destroy leaves nothing', async () => {
    const init = await cli(['init', '--yes', '--provider', 'cloudflare', '--size', 'small']);
    expect(init.code, init.stderr).toBe(0);

    // wrangler created the application from the Worker's containers entry; the image is written out
    const [app] = cf.containerApplications();
    expect(app).toMatchObject({ name: APP('box'), max_instances: 1, configuration: { image: 'docker.io/unclecode/crawl4ai:0.9.4', instance_type: 'standard-1' } });
    const ns = cf.durableObjectNamespaces().find((n) => n.class === 'Crawl4aiContainer')!;
    expect(app!.durable_objects.namespace_id).toBe(ns.id);
    // the Crawl4AI token reached the container as an env var from a Worker secret, nowhere else
    expect(cf.secretsOf('crawl4ai-mcp-box')).toContain('CRAWL4AI_API_TOKEN');
    const stateText = fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'box.json'), 'utf8');
    expect(JSON.parse(stateText)).toMatchObject({ provider: 'cloudflare', network: 'container', status: 'ready' });
    expect(JSON.parse(stateText).resources).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'cloudflare:container-application', id: app!.id, phase: 'created' })]));

    const status = await cli(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const st = JSON.parse(status.stdout);
    expect(st.crawl4ai.ok).toBe(true);
    expect(st.vm).toMatchObject({ state: 'running', instanceType: 'standard-1', image: { ref: 'docker.io/unclecode/crawl4ai:0.9.4' } });
    expect(st.vm.detail).toMatch(/max 1 instance\(s\), 1 instance\(s\) running/);

    // A tool call: Worker -> Durable Object -> container port -> Crawl4AI
    const client = await mcpClient(cli, 'box');
    const ok = await client.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/guide/' } });
    expect(ok.isError, text(ok)).toBeFalsy();

    // scale out: a redeploy; wrangler PATCHes the application (and rolls it out)
    const before = cf.requests.length;
    const scale = await cli(['scale', '--instances', '3']);
    expect(scale.code, scale.stderr).toBe(0);
    expect(cf.containerApplications()[0]!.max_instances).toBe(3);
    const calls = cf.requests.slice(before).map((r) => `${r.method} ${r.path.replace(/\/[0-9a-f-]{36}/, '/:id')}`);
    expect(calls).toContain(`PATCH /accounts/${CF_ACCOUNT}/containers/applications/:id`);
    expect(calls).toContain(`POST /accounts/${CF_ACCOUNT}/containers/applications/:id/rollouts`);
    // requests now spread across instances (each a Durable Object of its own)
    for (let i = 0; i < 12; i++) {
      const r = await client.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/' } });
      expect(r.isError, text(r)).toBeFalsy();
    }
    expect(cf.containerInstances(APP('box')).length).toBeGreaterThan(1);
    expect(cf.containerInstances(APP('box')).length).toBeLessThanOrEqual(3);

    // a job lives on one instance: its status is asked of that instance, whichever the spread picks
    const jobs: string[] = [];
    for (let i = 0; i < 4; i++) {
      const started = await client.callTool({ name: 'start_crawl_job', arguments: { urls: ['https://docs.example.com/'] } });
      expect(started.isError, text(started)).toBeFalsy();
      jobs.push(/crawl_c\d+-[A-Za-z0-9_-]+/.exec(text(started))![0]);
    }
    await new Promise((r) => setTimeout(r, 1500));
    for (const task_id of jobs) {
      for (let i = 0; i < 3; i++) {
        const st = await client.callTool({ name: 'get_job_status', arguments: { task_id } });
        expect(st.isError, `${task_id}: ${text(st)}`).toBeFalsy();
      }
    }

    // stop: max instances 0 now; a call says so clearly, never a 500 or a hang
    const stop = await cli(['stop']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(cf.containerApplications()[0]!.max_instances).toBe(0);
    expect(cf.containerInstances(APP('box'))).toEqual([]);
    const stopped = await client.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/' } });
    expect(stopped.isError).toBe(true);
    expect(text(stopped)).toContain('crawl4ai-mcp start');

    const start = await cli(['start']);
    expect(start.code, start.stderr).toBe(0);
    expect(cf.containerApplications()[0]!.max_instances).toBe(3);

    await client.close();

    const destroy = await cli(['destroy', '--yes']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(cf.containerApplications()).toEqual([]);
    expect(cf.containerInstances()).toEqual([]);
    expect(cf.scripts()).toEqual([]);
    expect(cf.durableObjectNamespaces()).toEqual([]);
  }, 400_000);

  it('scale to zero: after sleepAfter idle the container sleeps; the next call answers "starting, ready in ~N s" at once', async () => {
    const e = { ...env, CRAWL4AI_MCP_CONTAINER_SLEEP_AFTER: '2s' };
    const init = await cli(['init', '--yes', '--provider', 'cloudflare'], 'nap', e);
    expect(init.code, init.stderr).toBe(0);
    const client = await mcpClient((args) => cli(args, 'nap', e), 'nap');
    const warm = await client.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/' } });
    expect(warm.isError, text(warm)).toBeFalsy();
    expect(cf.containerInstances(APP('nap'))).toHaveLength(1);

    // the Durable Object's own activity timer stops the container (no call from outside)
    const slept = Date.now();
    while (cf.containerInstances(APP('nap')).length > 0 && Date.now() - slept < 20_000) await new Promise((r) => setTimeout(r, 250));
    expect(cf.containerInstances(APP('nap'))).toEqual([]);

    cf.setContainerColdStart(60_000);
    try {
      const t0 = Date.now();
      const cold = await client.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/' } });
      expect(cold.isError).toBe(true);
      expect(text(cold)).toMatch(/Crawl4AI is starting .*ready in ~45 s/);
      expect(Date.now() - t0).toBeLessThan(15_000); // answered at once, not after the cold start
      expect(cf.containerInstances(APP('nap'))).toEqual([expect.objectContaining({ ready: false })]);
    } finally {
      cf.setContainerColdStart(0);
      await client.close();
    }
    const destroy = await cli(['destroy', '--yes'], 'nap', e);
    expect(destroy.code, destroy.stderr).toBe(0);
  }, 300_000);

  it('destroy after the state file is lost still deletes the container application (wrangler delete would leave it)', async () => {
    const init = await cli(['init', '--yes', '--provider', 'cloudflare'], 'lost');
    expect(init.code, init.stderr).toBe(0);
    expect(cf.containerApplications().map((a) => a.name)).toContain(APP('lost'));
    fs.rmSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'lost.json'));

    const destroy = await cli(['destroy', '--yes', '--provider', 'cloudflare'], 'lost');
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(cf.containerApplications().map((a) => a.name)).not.toContain(APP('lost'));
    expect(cf.scripts()).not.toContain('crawl4ai-mcp-lost');
  }, 300_000);

  it('init and doctor name the missing Workers Containers permission before anything is created', async () => {
    const e = cloudflareOnlyEnv(cf, CF_TOKEN_NO_CONTAINERS, 'c4m-cont-noperm-');
    const doctor = await runCli(['doctor', '--json'], { env: e });
    const check = JSON.parse(doctor.stdout).checks.find((c: { id: string }) => c.id === 'cloudflare-containers');
    expect(check).toMatchObject({ status: 'warn', detail: 'the token lacks Account › Workers Containers › Edit' });

    const before = cf.requests.length;
    const init = await cli(['init', '--yes', '--provider', 'cloudflare'], 'noperm', e);
    expect(init.code).toBe(3);
    expect(init.stderr).toMatch(/error: the CLOUDFLARE credentials lack Account › Workers Containers › Edit/);
    expect(cf.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
  }, 120_000);

  it('an account without the Workers Paid plan: doctor and init say so and name the plan', async () => {
    cf.setContainersAllowed(false);
    try {
      const doctor = await runCli(['doctor', '--json'], { env });
      const check = JSON.parse(doctor.stdout).checks.find((c: { id: string }) => c.id === 'cloudflare-containers');
      expect(check.status).toBe('warn');
      expect(check.detail).toMatch(/cannot run Containers/);
      expect(check.hint).toMatch(/Workers Paid plan/);

      const before = cf.requests.length;
      const init = await cli(['init', '--yes', '--provider', 'cloudflare'], 'free');
      expect(init.code).toBe(3);
      expect(init.stderr).toMatch(/error: this Cloudflare account cannot run Containers/);
      expect(init.stderr).toMatch(/Workers Paid plan/);
      expect(cf.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
    } finally {
      cf.setContainersAllowed(true);
    }
  }, 120_000);

  it('plan prices the Workers Paid plan and per-second container usage for --hours-per-day', async () => {
    const day = await cli(['plan', '--provider', 'cloudflare', '--size', 'small', '--hours-per-day', '24', '--json'], 'price');
    expect(day.code, day.stderr).toBe(0);
    const p = JSON.parse(day.stdout);
    expect(p).toMatchObject({ provider: 'cloudflare', instanceType: 'standard-1', memoryGiB: 4 });
    expect(p.cost.lines.map((l: { item: string; monthlyUsd: number }) => [l.item, l.monthlyUsd])).toEqual([
      ['Workers Paid plan', 5],
      ['container vCPU', 25.83],
      ['container memory', 26.06],
      ['container disk', 1.42],
    ]);
    expect(p.cost.monthlyUsd).toBe(58.31);
    // beside the same hours on a VM of the same size (AWS t3.medium running all month: $30.37 + disk $2.40 + IPv4 $3.65)
    expect(p.compare.find((c: { provider: string }) => c.provider === 'aws')).toMatchObject({ instanceType: 't3.medium', monthlyUsd: 36.42 });
    const hour = JSON.parse((await cli(['plan', '--provider', 'cloudflare', '--size', 'small', '--hours-per-day', '1', '--json'], 'price')).stdout);
    expect(hour.cost.monthlyUsd).toBe(6.53);
    const bad = await cli(['plan', '--provider', 'cloudflare', '--hours-per-day', '30'], 'price');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/CRAWL4AI_MCP_HOURS_PER_DAY=30 is not a number of hours/);
  }, 120_000);

  it('flags that only fit a VM are refused in one line', async () => {
    const r = await cli(['init', '--yes', '--provider', 'cloudflare', '--network', 'public'], 'flags');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--network does not apply to --provider cloudflare/);
  });
});
