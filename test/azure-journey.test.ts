// The whole life of an Azure deployment through the built CLI, against the ARM/Entra emulator
// (https, trusted through NODE_EXTRA_CA_CERTS as a user's proxy CA would be) and the Cloudflare
// emulator, with the VM simulator reading the VM's customData the way cloud-init would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import fs from 'node:fs';
import path from 'node:path';
import { startAzureEmulator, TYPES, type AzureEmulator } from './emulators/azure/index.ts';
import { createSelfDeallocateRole, deployerCondition } from './helpers/azure-roles.js';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { lines, ROOT, runCli, tempHome } from './helpers/cli.js';
import { simulatedDigest, readBootstrap, startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { azureJourneyEnv, azureVms } from './helpers/journey.js';

const CF_TOKEN = 'cf-token-' + 'z'.repeat(32);
const CF_ACCOUNT = 'acc0000000000000000000000000000c';

describe('Azure journey through the built CLI', () => {
  let az: AzureEmulator;
  let cf: CloudflareEmulator;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    az = await startAzureEmulator({ lroMs: 100 });
    // the README's Azure set-up: the shared self-deallocate role, and the deployer's condition limiting its role assignments to it
    az.constrainRoleAssignments(deployerCondition(createSelfDeallocateRole(az)));
    cf = await startCloudflareEmulator({ accountId: CF_ACCOUNT, apiToken: CF_TOKEN });
    env = azureJourneyEnv(az, cf, CF_TOKEN, 'c4m-azure-journey-');
  }, 120_000);

  afterAll(async () => {
    await cf?.close();
    await az?.close();
  });

  const cliFor = (name: string) => (args: string[]) => runCli(['--name', name, ...args], { env, timeoutMs: 240_000 });
  const statePath = (name: string) => path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', `${name}.json`);

  it('tunnel mode: init -> status -> MCP call -> stop (deallocated) -> start -> destroy, leaving zero resources', async () => {
    const cli = cliFor('aztun');
    const sim: VmSimulator = startVmSimulator(azureVms(az, 'aztun'), cf);
    try {
      const init = await cli(['init', '--yes', '--provider', 'azure', '--region', 'eastus', '--size', 'small', '--verbose']);
      expect(init.stderr + init.stdout).not.toContain(az.clientSecret);
      expect(init.stderr + init.stdout).not.toContain(CF_TOKEN);
      expect(init.code, init.stderr).toBe(0);

      // Azure holds one resource group; no public IP, no inbound allow rule, customData with the connector token.
      const res = az.resourcesOf('aztun');
      expect(res.filter((r) => r.type === 'resource-group')).toHaveLength(1);
      expect(res.filter((r) => r.type === TYPES.pip)).toEqual([]);
      const nsg = az.state.get(res.find((r) => r.type === TYPES.nsg)!.id)!;
      expect(nsg.properties.securityRules).toEqual([]);
      const vm = az.state.get(res.find((r) => r.type === TYPES.vm)!.id)!;
      const userData = Buffer.from(vm.vm!.customData!, 'base64').toString('utf8');
      const tunnels = cf.tunnels().filter((t) => !t.deleted);
      expect(readBootstrap(userData).tunnelId).toBe(tunnels[0]!.id);
      const tunnelToken = /TUNNEL_TOKEN=(\S+)/.exec(userData)![1]!;
      expect(init.stdout + init.stderr).not.toContain(tunnelToken);
      const stateText = fs.readFileSync(statePath('aztun'), 'utf8');
      expect(stateText).not.toContain(tunnelToken);
      expect(stateText).not.toContain(az.clientSecret);

      const status = await cli(['status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      const st = JSON.parse(status.stdout);
      expect(st.vm).toMatchObject({ state: 'running', instanceType: 'Standard_B2s' });
      expect(st.tunnel).toMatchObject({ status: 'healthy', connectors: 1 });
      expect(st.crawl4ai.ok).toBe(true);
      expect(st.drift).toEqual({ missing: [], unexpected: [] });
      // the image the VM reported on its serial console: the boot diagnostics log blob, through a SAS URL
      expect(vm.properties.diagnosticsProfile).toEqual({ bootDiagnostics: { enabled: true } });
      expect(st.vm.image).toEqual({ ref: `unclecode/crawl4ai:0.9.4@${simulatedDigest('unclecode/crawl4ai:0.9.4')}` });
      // `logs --boot` reads the same log; a token the bootstrap echoed, and the SAS URL, never reach the output
      az.writeSerial(vm.properties.vmId, `[   45.000000] cloud-init[700]: TUNNEL_TOKEN=${tunnelToken}\r\n`);
      const boot = await cli(['logs', '--boot', '--verbose']);
      expect(boot.code, boot.stderr).toBe(0);
      expect(boot.stdout).toContain('crawl4ai-mcp: image unclecode/crawl4ai:0.9.4 digest');
      expect(boot.stdout).toContain('cloud-init[700]: TUNNEL_TOKEN=****\n');
      expect(boot.stdout + boot.stderr).not.toContain(tunnelToken);
      expect(boot.stdout + boot.stderr).not.toMatch(/sig=|serialconsole\.log/);
      expect(az.requests.some((r) => r.path.endsWith('/retrieveBootDiagnosticsData'))).toBe(true);

      const server = JSON.parse((await cli(['connect', '--client', 'cursor'])).stdout).mcpServers['crawl4ai-aztun'];
      const client = new Client({ name: 'azure-tunnel-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } }));
      const ok = await client.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/guide/' } });
      expect(ok.isError).toBeFalsy();
      await client.close();

      // idle auto-stop is on by default (60 min): the watchdog deallocates through the VM's own
      // identity, whose one role may read and deallocate this VM, assigned at its scope
      expect(userData).toContain('IDLE_STOP_MINUTES=60');
      expect(userData).toContain('IDLE_STOP_ACTION=azure-deallocate');
      const principal = az.state.get(vm.id)!.identity!.principalId;
      const shared = [...az.state.roleDefinitions.values()].find((d) => d.roleName === 'crawl4ai-mcp self-deallocate')!;
      expect([...az.state.roleAssignments.values()].filter((a) => a.principalId === principal).map((a) => [a.scope, a.roleDefinitionName])).toEqual([[vm.id, shared.name]]);

      // scale --idle-stop: the minutes go to the VM's userData (IMDS serves it to the watchdog), no restart
      const deallocations = az.requests.filter((r) => r.path.endsWith('/deallocate')).length;
      const idle = await cli(['scale', '--idle-stop', '30m']);
      expect(idle.code, idle.stderr).toBe(0);
      expect(idle.stdout).toMatch(/idle auto-stop after 30 min without a crawl request; VM running, Crawl4AI healthy through the Worker/);
      expect(Buffer.from(az.state.get(vm.id)!.properties.userData, 'base64').toString()).toBe('IDLE_STOP_MINUTES=30\n');
      expect(az.requests.filter((r) => r.path.endsWith('/deallocate')).length).toBe(deallocations);
      const idleStatus = JSON.parse((await cli(['status', '--json'])).stdout);
      expect(idleStatus.idleStopMinutes).toBe(30);
      expect(idleStatus.drift).toEqual({ missing: [], unexpected: [] });
      expect((await cli(['status'])).stdout).toContain('idle auto-stop: after 30 min without a crawl request');

      const stop = await cli(['stop']);
      expect(stop.code, stop.stderr).toBe(0);
      expect(az.state.get(vm.id)!.vm!.powerState).toBe('deallocated');
      const stopped = JSON.parse((await cli(['status', '--json'])).stdout);
      expect(stopped.vm).toMatchObject({ state: 'stopped', detail: expect.stringContaining('stopped (deallocated), compute not billed') });
      const human = await cli(['status']);
      expect(human.stdout).toMatch(/VM: stopped \(Standard_B2s\) — Azure: stopped \(deallocated\)/);

      const start = await cli(['start']);
      expect(start.code, start.stderr).toBe(0);
      expect(az.state.get(vm.id)!.vm!.powerState).toBe('running');

      const destroy = await cli(['destroy', '--yes']);
      expect(destroy.code, destroy.stderr).toBe(0);
      expect(az.resourcesOf('aztun')).toEqual([]);
      expect(az.state.ofType(TYPES.disk).filter((d) => d.resourceGroup === 'crawl4ai-mcp-aztun')).toEqual([]);
      // the assignment lives outside the group: destroy deleted it too; the shared role stays
      expect([...az.state.roleDefinitions.values()].map((d) => d.roleName)).toEqual(['crawl4ai-mcp self-deallocate']);
      expect([...az.state.roleAssignments.values()].filter((a) => a.principalId === principal)).toEqual([]);
      expect(cf.tunnels().filter((t) => !t.deleted)).toEqual([]);
      expect(cf.scripts()).not.toContain('crawl4ai-mcp-aztun');
      expect(fs.existsSync(statePath('aztun'))).toBe(false);
    } finally {
      await sim.stop();
    }
  }, 400_000);

  it('public mode: 443 only, the static IP in the hostname; scale deallocates, resizes and starts; destroy after a lost state file removes everything', async () => {
    const cli = cliFor('azpub');
    const sim = startVmSimulator(azureVms(az, 'azpub'), cf);
    try {
      const init = await cli(['init', '--yes', '--provider', 'azure', '--region', 'eastus', '--size', 'small', '--network', 'public', '--json']);
      expect(init.code, init.stderr).toBe(0);
      const created = JSON.parse(init.stdout);
      expect(created.status).toBe('ready');
      const res = az.resourcesOf('azpub');
      const pip = az.state.get(res.find((r) => r.type === TYPES.pip)!.id)!;
      const nsg = az.state.get(res.find((r) => r.type === TYPES.nsg)!.id)!;
      expect(nsg.properties.securityRules.map((r: any) => `${r.properties.protocol}:${r.properties.destinationPortRange}:${r.properties.sourceAddressPrefix}`)).toEqual(['Tcp:443:Internet']);
      // the hostname is the public IP's own DNS name, and the certificate is for it
      expect(pip.properties.dnsSettings.fqdn).toMatch(/^c4m-azpub-[0-9a-f]{6}\.eastus\.cloudapp\.azure\.com$/);
      expect(sim.hostname()).toBe(pip.properties.dnsSettings.fqdn);

      const st = JSON.parse((await cli(['status', '--json'])).stdout);
      expect(st.vm).toMatchObject({ state: 'running', publicIp: pip.properties.ipAddress });
      expect(st.address).toEqual({ publicIp: pip.properties.ipAddress, hostname: pip.properties.dnsSettings.fqdn });
      expect(st.crawl4ai.ok).toBe(true);

      const scale = await cli(['scale', '--size', 'medium']);
      expect(scale.code, scale.stderr).toBe(0);
      const vm = az.state.get(res.find((r) => r.type === TYPES.vm)!.id)!;
      expect(vm.properties.hardwareProfile.vmSize).toBe('Standard_B2ms');
      expect(vm.vm!.powerState).toBe('running');
    } finally {
      await sim.stop();
    }

    fs.rmSync(statePath('azpub'));
    const noHint = await cli(['destroy', '--yes']);
    expect(noHint.code).toBe(2);
    expect(lines(noHint.stderr)[1]).toContain('--provider and --region');
    const destroy = await cli(['destroy', '--yes', '--provider', 'azure', '--region', 'eastus']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(az.resourcesOf('azpub')).toEqual([]);
    // found by name with the state file gone
    expect([...az.state.roleAssignments.values()].filter((a) => a.scope.includes('crawl4ai-mcp-azpub'))).toEqual([]);
    expect(cf.scripts()).not.toContain('crawl4ai-mcp-azpub');
  }, 400_000);

  it('--credentials chain uses the Azure CLI login (az account get-access-token) and AZURE_SUBSCRIPTION_ID; without a login it says to run az login', async () => {
    const fakeAz = path.join(ROOT, 'test', 'fixtures', 'fake-az');
    const { AZURE_CLIENT_ID: _i, AZURE_CLIENT_SECRET: _s, AZURE_TENANT_ID: _t, ...noPrincipal } = env;
    const chainEnv = { ...noPrincipal, PATH: `${fakeAz}${path.delimiter}${env.PATH}` };
    const loggedOut = await runCli(['--name', 'azchain', 'init', '--yes', '--provider', 'azure', '--credentials', 'chain', '--region', 'eastus', '--size', 'small'], { env: chainEnv });
    expect(loggedOut.code).toBe(3);
    expect(lines(loggedOut.stderr).filter((l) => !l.startsWith('›'))[1]).toMatch(/^hint: run `az login`/);
    expect(az.resourcesOf('azchain')).toEqual([]);

    const sim = startVmSimulator(azureVms(az, 'azchain'), cf);
    const cli = (args: string[]) => runCli(['--name', 'azchain', ...args], { env: { ...chainEnv, FAKE_AZ_TOKEN: az.issueToken() }, timeoutMs: 240_000 });
    try {
      const init = await cli(['init', '--yes', '--provider', 'azure', '--credentials', 'chain', '--region', 'eastus', '--size', 'small']);
      expect(init.code, init.stderr).toBe(0);
      expect(az.resourcesOf('azchain').some((r) => r.type === TYPES.vm)).toBe(true);
      const destroy = await cli(['destroy', '--yes']);
      expect(destroy.code, destroy.stderr).toBe(0);
      expect(az.resourcesOf('azchain')).toEqual([]);
    } finally {
      await sim.stop();
    }
  }, 300_000);

  it('init --yes without Azure credentials names the variable to set and the az login alternative, before any cloud call', async () => {
    const { AZURE_CLIENT_ID: _i, AZURE_CLIENT_SECRET: _s, AZURE_TENANT_ID: _t, AZURE_SUBSCRIPTION_ID: _u, ...none } = env;
    const before = az.requests.length;
    // a fresh home: the other journeys' credentials are in this one's secret store
    const fresh = { ...none, CRAWL4AI_MCP_HOME: path.join(tempHome('c4m-aznocreds-'), 'config') };
    const r = await runCli(['--name', 'aznocreds', 'init', '--yes', '--provider', 'azure', '--region', 'eastus', '--size', 'small'], { env: fresh });
    expect(r.code).toBe(2);
    const [error, hint] = lines(r.stderr).filter((l) => !l.startsWith('›'));
    expect(error).toMatch(/^error: the Azure tenant \(directory\) ID is not in the secret store/);
    expect(hint).toBe('hint: set AZURE_TENANT_ID, or use --credentials chain for your Azure CLI login (az login); `init` keeps it in the secret store for later commands');
    expect(az.requests.length).toBe(before);
  });

  it('names the permission a service principal lacks, before creating anything', async () => {
    az.denyActions(['Microsoft.Compute/virtualMachines/write']);
    try {
      const r = await runCli(['--name', 'azdenied', 'init', '--yes', '--provider', 'azure', '--region', 'eastus', '--size', 'small'], { env });
      expect(r.code).toBe(3);
      const err = lines(r.stderr).filter((l) => !l.startsWith('›'));
      expect(err[0]).toMatch(/^error: .*Microsoft\.Compute\/virtualMachines\/write/);
      expect(err[1]).toMatch(/^hint: .*templates\/policies\/azure-custom-role\.json/);
      expect(err.length).toBe(2);
      expect(az.resourcesOf('azdenied')).toEqual([]);
      expect(cf.scripts()).not.toContain('crawl4ai-mcp-azdenied');
    } finally {
      az.denyActions([]);
    }
  });

  it('init without the shared self-deallocate role says which az command creates it, before creating anything', async () => {
    const shared = [...az.state.roleDefinitions.entries()].find(([, d]) => d.roleName === 'crawl4ai-mcp self-deallocate')!;
    az.state.roleDefinitions.delete(shared[0]);
    try {
      const r = await runCli(['--name', 'aznorole', 'init', '--yes', '--provider', 'azure', '--region', 'eastus', '--size', 'small'], { env });
      expect(r.code).toBe(3);
      const err = lines(r.stderr).filter((l) => !l.startsWith('›'));
      expect(err[0]).toBe('error: the Azure subscription has no role "crawl4ai-mcp self-deallocate" (idle auto-stop gives it to the VM)');
      expect(err[1]).toMatch(/^hint: create it once: .*az role definition create --role-definition @.*, or use --idle-stop off$/);
      expect(err.length).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
      expect(az.resourcesOf('aznorole')).toEqual([]);
      expect(cf.scripts()).not.toContain('crawl4ai-mcp-aznorole');
    } finally {
      az.state.roleDefinitions.set(shared[0], shared[1]);
    }
  });
});
