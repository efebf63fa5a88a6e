// The whole life of a GCP deployment through the built CLI (a child process, as a user runs it),
// against the Compute Engine emulator over HTTPS (NODE_EXTRA_CA_CERTS) and the Cloudflare emulator,
// with the VM simulator booting the instance from its `user-data` metadata.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import fs from 'node:fs';
import path from 'node:path';
import { startGceEmulator, type GceEmulator } from './emulators/gce/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { runCli } from './helpers/cli.js';
import { simulatedDigest, startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { SCRUBBED_USER_DATA } from '../src/bootstrap/cloud-init.js';
import { gceInstances, gcpJourneyEnv } from './helpers/journey.js';

const CF_TOKEN = 'cf-token-' + 'g'.repeat(32);
const CF_ACCOUNT = 'acc0000000000000000000000000000c';

describe('GCP journey through the built CLI: init -> status -> MCP call -> scale -> stop -> start -> destroy', () => {
  let gce: GceEmulator;
  let cf: CloudflareEmulator;
  let env: NodeJS.ProcessEnv;
  const sims: VmSimulator[] = [];

  beforeAll(async () => {
    gce = await startGceEmulator({ transitionMs: 150 });
    cf = await startCloudflareEmulator({ accountId: CF_ACCOUNT, apiToken: CF_TOKEN });
    env = gcpJourneyEnv(gce, cf, CF_TOKEN, 'c4m-gcp-journey-');
  }, 120_000);

  afterAll(async () => {
    for (const s of sims) await s.stop();
    await cf?.close();
    await gce?.close();
  });

  const cli = (name: string, args: string[]) => runCli(['--name', name, ...args], { env, timeoutMs: 240_000 });
  const instance = (name: string) => [...gce.state.instances.values()].find((i) => i.labels['crawl4ai-mcp-deployment'] === name)!;

  async function mcpScrape(name: string) {
    const server = JSON.parse((await cli(name, ['connect', '--client', 'cursor'])).stdout).mcpServers[`crawl4ai-${name}`];
    const client = new Client({ name: 'gcp-journey', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } }));
    try {
      return await client.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/guide/' } });
    } finally {
      await client.close();
    }
  }

  it('tunnel mode (the default): no ingress rule but our deny-all, port 22 unreachable, an MCP call through the tunnel, scale/stop/start, and nothing left after destroy', async () => {
    const sim = startVmSimulator(gceInstances(gce, 'gtun'), cf);
    sims.push(sim);
    const init = await cli('gtun', ['init', '--yes', '--provider', 'gcp', '--region', 'us-central1', '--size', 'small', '--verbose']);
    expect(init.stdout + init.stderr).not.toContain('PRIVATE KEY');
    expect(init.code, init.stderr).toBe(0);

    const inst = instance('gtun');
    expect(inst.machineType).toBe('e2-medium');
    expect(inst.serviceAccounts).toEqual([]);
    // the only rule of ours denies all ingress; SSH (default-allow-ssh) and every other port are closed
    expect([...gce.state.firewalls.values()].filter((f) => f.targetTags.includes('crawl4ai-mcp-gtun')).map((f) => f.name)).toEqual(['crawl4ai-mcp-gtun-deny-ingress']);
    for (const port of [22, 443, 11235]) expect(gce.state.reachable(inst, port), `port ${port}`).toBe(false);
    expect([...gce.state.addresses.values()]).toEqual([]);

    // the connector token reached the VM (its disk), and then neither its metadata, the output nor the state file
    const disk = sim.disk(inst.id)!;
    const tunnel = cf.tunnels().find((t) => !t.deleted)!;
    expect(disk.tunnelId).toBe(tunnel.id);
    const tunnelToken = disk.tunnelToken!;
    expect(inst.metadata.items.find((m) => m.key === 'user-data')!.value).toBe(SCRUBBED_USER_DATA);
    expect(init.stdout + init.stderr).not.toContain(tunnelToken);
    const stateText = fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'gtun.json'), 'utf8');
    expect(stateText).not.toContain(tunnelToken);
    expect(stateText).not.toContain('PRIVATE KEY');
    expect(stateText).toContain('us-central1-a/crawl4ai-mcp-gtun');

    const status = await cli('gtun', ['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const st = JSON.parse(status.stdout);
    expect(st.vm.state).toBe('running');
    expect(st.tunnel).toMatchObject({ status: 'healthy', connectors: 1 });
    expect(st.crawl4ai.ok).toBe(true);
    expect(st.drift).toEqual({ missing: [], unexpected: [] }); // journal ids and label search agree
    // the image the VM reported on serial port 1, read with getSerialPortOutput
    expect(st.vm.image).toEqual({ ref: `unclecode/crawl4ai:0.9.4@${simulatedDigest('unclecode/crawl4ai:0.9.4')}` });
    // `logs --boot` reads the same console; a token the bootstrap echoed never reaches the output
    gce.writeSerial(inst.id, `[   44.000000] cloud-init[901]: TUNNEL_TOKEN=${tunnelToken}\r\n`);
    const boot = await cli('gtun', ['logs', '--boot']);
    expect(boot.code, boot.stderr).toBe(0);
    expect(boot.stdout).toContain('crawl4ai-mcp: image unclecode/crawl4ai:0.9.4 digest');
    expect(boot.stdout).toContain('cloud-init[901]: TUNNEL_TOKEN=****\n');
    expect(boot.stdout + boot.stderr).not.toContain(tunnelToken);
    expect(gce.requests.some((r) => r.path.endsWith('/instances/crawl4ai-mcp-gtun/serialPort'))).toBe(true);

    const scraped = await mcpScrape('gtun');
    expect(scraped.isError).toBeFalsy();
    expect(sim.current()!.requests.some((r) => r.path === '/crawl' || r.path === '/md')).toBe(true);

    const scale = await cli('gtun', ['scale', '--size', 'medium']);
    expect(scale.code, scale.stderr).toBe(0);
    expect(instance('gtun').machineType).toBe('e2-standard-2');

    // idle auto-stop changed: stop -> setMetadata (secret-free user data whose bootcmd carries the
    // minutes) -> start, and healthy again through the Worker; status shows the new value
    const before = gce.requests.length;
    const idle = await cli('gtun', ['scale', '--idle-stop', '30m']);
    expect(idle.code, idle.stderr).toBe(0);
    expect(idle.stdout).toMatch(/idle auto-stop after 30 min without a crawl request; VM running, Crawl4AI healthy through the Worker/);
    const mutations = gce.requests.slice(before).filter((r) => r.method === 'POST' && /\/(stop|setMetadata|start)$/.test(r.path)).map((r) => r.path.split('/').at(-1));
    expect(mutations).toEqual(['stop', 'setMetadata', 'start']);
    const idleUserData = instance('gtun').metadata.items.find((m) => m.key === 'user-data')!.value;
    expect(idleUserData).toContain('s/^IDLE_STOP_MINUTES=.*/IDLE_STOP_MINUTES=30/');
    expect(idleUserData).not.toMatch(/CRAWL4AI_API_TOKEN|TUNNEL_TOKEN/);
    expect(instance('gtun').status).toBe('RUNNING');
    const idleStatus = JSON.parse((await cli('gtun', ['status', '--json'])).stdout);
    expect(idleStatus.idleStopMinutes).toBe(30);
    expect((await cli('gtun', ['status'])).stdout).toContain('idle auto-stop: after 30 min without a crawl request');

    const stop = await cli('gtun', ['stop']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(JSON.parse((await cli('gtun', ['status', '--json'])).stdout).vm.state).toBe('stopped');
    expect(instance('gtun').status).toBe('TERMINATED');

    const start = await cli('gtun', ['start']);
    expect(start.code, start.stderr).toBe(0);
    expect(instance('gtun').status).toBe('RUNNING');
    expect((await mcpScrape('gtun')).isError).toBeFalsy();

    const destroy = await cli('gtun', ['destroy', '--yes']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(gce.resourcesOf('gtun')).toEqual([]);
    expect(cf.tunnels().filter((t) => !t.deleted)).toEqual([]);
    expect(cf.scripts()).not.toContain('crawl4ai-mcp-gtun');
    expect(gce.state.firewalls.has('default-allow-ssh')).toBe(true); // the project's own rules are left alone
  }, 400_000);

  it('public mode: a static address and its sslip.io hostname before boot, only 443 reachable, an MCP call over HTTPS, and nothing left after destroy', async () => {
    const sim = startVmSimulator(gceInstances(gce, 'gpub'), cf);
    sims.push(sim);
    const init = await cli('gpub', ['init', '--yes', '--provider', 'gcp', '--region', 'us-central1', '--size', 'small', '--network', 'public']);
    expect(init.code, init.stderr).toBe(0);
    const inst = instance('gpub');
    const address = [...gce.state.addresses.values()].find((a) => a.labels['crawl4ai-mcp-deployment'] === 'gpub')!;
    expect(inst.natIP).toBe(address.address);
    expect(sim.disk(inst.id)!.hostname).toBe(`${address.address.replaceAll('.', '-')}.sslip.io`);
    expect(inst.metadata.items.find((m) => m.key === 'user-data')!.value).not.toContain(sim.disk(inst.id)!.token);
    expect(gce.state.reachable(inst, 443)).toBe(true);
    expect(gce.state.reachable(inst, 22)).toBe(false);

    const scraped = await mcpScrape('gpub');
    expect(scraped.isError).toBeFalsy();

    const destroy = await cli('gpub', ['destroy', '--yes']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(gce.resourcesOf('gpub')).toEqual([]);
    expect([...gce.state.addresses.values()]).toEqual([]);
  }, 400_000);

  it('destroy after the state file is lost finds the instance, rules and address by label and name, and the Worker', async () => {
    const sim = startVmSimulator(gceInstances(gce, 'glost'), cf);
    sims.push(sim);
    const init = await cli('glost', ['init', '--yes', '--provider', 'gcp', '--region', 'us-central1', '--size', 'small', '--network', 'public']);
    expect(init.code, init.stderr).toBe(0);
    expect(gce.resourcesOf('glost').length).toBeGreaterThan(0);
    fs.rmSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'glost.json'));
    const destroy = await cli('glost', ['destroy', '--yes', '--provider', 'gcp', '--region', 'us-central1']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(gce.resourcesOf('glost')).toEqual([]);
    expect(cf.scripts()).not.toContain('crawl4ai-mcp-glost');
  }, 400_000);

  it('a missing permission stops init before anything is created, naming it and the role file', async () => {
    gce.denyPermissions(['compute.firewalls.create']);
    try {
      const init = await cli('gdeny', ['init', '--yes', '--provider', 'gcp', '--region', 'us-central1', '--size', 'small']);
      expect(init.code).toBe(3);
      const [error, hint] = init.stderr.trim().split('\n').filter((l) => /^(error|hint): /.test(l));
      expect(error).toBe('error: the GCP credentials lack compute.firewalls.create');
      expect(hint).toMatch(/^hint: grant the policy in templates\/policies\/gcp-custom-role\.yaml to crawl4ai-mcp@c4m-test-project\.iam\.gserviceaccount\.com/);
      expect(gce.resourcesOf('gdeny')).toEqual([]);
    } finally {
      gce.denyPermissions([]);
    }
  });
});
