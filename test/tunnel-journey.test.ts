import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import fs from 'node:fs';
import path from 'node:path';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { ALL_PERMISSION_GROUPS } from './emulators/cloudflare/token-permissions.ts';
import { runCli } from './helpers/cli.js';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { AWS_ACCESS_KEY as ACCESS_KEY, ec2Instances, journeyEnv, userDataAsTheCloudShowsIt } from './helpers/journey.js';
const CF_TOKEN = 'cf-token-' + 't'.repeat(32);
const CF_ACCOUNT = 'acc0000000000000000000000000000b';
/** a token with everything but the Workers VPC (Connectivity Directory) permission groups */
const CF_TOKEN_NO_VPC = 'cf-token-no-vpc-' + 'v'.repeat(32);

describe('tunnel mode (the default): a VM with zero inbound ports, reached through Cloudflare Tunnel and Workers VPC', () => {
  let ec2: Ec2Emulator;
  let cf: CloudflareEmulator;
  let sim: VmSimulator;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ec2 = await startEc2Emulator({ transitionMs: 200, accessKeyId: ACCESS_KEY });
    cf = await startCloudflareEmulator({
      accountId: CF_ACCOUNT,
      apiToken: CF_TOKEN,
      extraTokens: { [CF_TOKEN_NO_VPC]: ALL_PERMISSION_GROUPS.filter((g) => !g.startsWith('Connectivity Directory')) },
    });
    sim = startVmSimulator(ec2Instances(ec2, 'tun'), cf);
    env = journeyEnv(ec2, cf, CF_TOKEN, 'c4m-tunnel-');
  }, 120_000);

  afterAll(async () => {
    await sim?.stop();
    await cf?.close();
    await ec2?.close();
  });

  const cli = (args: string[]) => runCli(['--name', 'tun', ...args], { env, timeoutMs: 240_000 });

  it('init without --network creates a tunnel deployment with no inbound rule; a lost connector is a clear error; destroy leaves nothing', async () => {
    const init = await cli(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small']);
    expect(init.code, init.stderr).toBe(0);

    // Zero inbound rules on the deployment's security group; nothing published but through the tunnel.
    const sg = [...ec2.state.securityGroups.values()].find((g) => g.tags['crawl4ai-mcp:deployment'] === 'tun')!;
    expect(sg.ingress).toEqual([]);
    expect([...ec2.state.addresses.values()].filter((a) => a.tags?.['crawl4ai-mcp:deployment'] === 'tun')).toEqual([]);

    // The Cloudflare side: one tunnel, one VPC service pinned to 127.0.0.1:11235, the Worker.
    const tunnels = cf.tunnels().filter((t) => !t.deleted);
    expect(tunnels.map((t) => t.name)).toEqual(['crawl4ai-mcp-tun']);
    expect(cf.vpcServices()).toEqual([expect.objectContaining({ name: 'crawl4ai-mcp-tun', tunnel_id: tunnels[0]!.id, ipv4: '127.0.0.1', http_port: 11235 })]);

    // The connector token reached the VM on its first boot (its 0600 env file) and nothing else:
    // after init the cloud's copy of the user data holds neither secret.
    const inst = [...ec2.state.instances.values()].find((i) => i.tags['crawl4ai-mcp:deployment'] === 'tun')!;
    const boot = sim.disk(inst.instanceId)!;
    expect(boot.tunnelId).toBe(tunnels[0]!.id);
    const tunnelToken = boot.tunnelToken!;
    expect(tunnelToken).toBeTruthy();
    const userData = await userDataAsTheCloudShowsIt(ec2, inst.instanceId);
    expect(userData).toMatch(/^#cloud-config\n/);
    expect(userData).not.toContain(tunnelToken);
    expect(userData).not.toContain(boot.token);
    expect(userData).not.toMatch(/TUNNEL_TOKEN|CRAWL4AI_API_TOKEN|caddy/i);
    expect(sim.boots).toBeGreaterThanOrEqual(2); // it restarted with the scrubbed user data and kept its secrets
    expect(init.stdout + init.stderr).not.toContain(tunnelToken);
    const stateText = fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'tun.json'), 'utf8');
    expect(stateText).not.toContain(tunnelToken);

    const status = await cli(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const st = JSON.parse(status.stdout);
    expect(st.network).toBe('tunnel');
    expect(st.tunnel).toMatchObject({ status: 'healthy', connectors: 1 });
    expect(st.crawl4ai.ok).toBe(true);

    // An MCP tool call goes Worker -> vpc_service binding -> tunnel -> Crawl4AI.
    const server = JSON.parse((await cli(['connect', '--client', 'cursor'])).stdout).mcpServers['crawl4ai-tun'];
    const client = new Client({ name: 'tunnel-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } }));
    const ok = await client.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/guide/' } });
    expect(ok.isError).toBeFalsy();
    expect(sim.current()!.requests.some((r) => r.path === '/crawl' || r.path === '/md')).toBe(true);

    // cloudflared goes away (VM wedged, network cut): a clear tool error, never a 500, and status says so.
    cf.disconnectTunnel(tunnels[0]!.id);
    const down = await client.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/' } });
    expect(down.isError).toBe(true);
    expect(JSON.stringify(down.content)).toContain('your crawler VM is not connected');
    await client.close();
    const bad = await cli(['status']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/✘ Cloudflare Tunnel: down/);
    expect(bad.stdout).toMatch(/✘ Crawl4AI through the Worker/);

    const destroy = await cli(['destroy', '--yes']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(cf.tunnels().filter((t) => !t.deleted)).toEqual([]);
    expect(cf.vpcServices()).toEqual([]);
    expect(cf.scripts()).toEqual([]);
    expect(ec2.resourcesOf('tun')).toEqual([]);
  }, 400_000);

  it('doctor and init name a missing Cloudflare token permission before anything is created', async () => {
    const noVpc = { ...env, CLOUDFLARE_API_TOKEN: CF_TOKEN_NO_VPC };
    const doctor = await runCli(['doctor', '--json'], { env: noVpc });
    const check = JSON.parse(doctor.stdout).checks.find((c: { id: string }) => c.id === 'cloudflare');
    expect(check.status).toBe('warn');
    expect(check.detail).toContain('Account › Connectivity Directory › Admin');
    expect(check.detail).toContain('Account › Connectivity Directory › Bind');
    expect(check.detail).toContain('enough for --network public only');

    const before = cf.requests.length;
    const init = await runCli(['--name', 'noperm', 'init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small'], { env: noVpc });
    expect(init.code).toBe(3);
    expect(init.stderr).toMatch(/error: the Cloudflare API token lacks Account › Connectivity Directory › Admin/);
    expect(cf.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]); // nothing created on Cloudflare
    expect(ec2.resourcesOf('noperm')).toEqual([]);
  });
});
