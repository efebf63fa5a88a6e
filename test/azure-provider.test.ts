// The Azure provider against the ARM + Entra emulator, through the real @azure/arm-* and
// @azure/identity packages over https (no SDK mocks). Endpoints reach the provider through ctx.env.
// The cloud-agnostic cases live in ./conformance/provider-conformance.ts and run here through the
// Azure harness below; this file keeps what only Azure has (resource groups, customData, the
// throwaway SSH key, default outbound access, OS disk tags, LRO/paging habits, permissions API).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAzureProvider } from '../src/providers/azure/index.js';
import { THROWAWAY_KEY_COMMENT } from '../src/providers/azure/vm.js';
import { SELF_DEALLOCATE_ACTIONS } from '../src/providers/azure/self-deallocate.js';
import { createAzureClients } from '../src/providers/azure/clients.js';
import { scopedId } from '../src/providers/azure/names.js';
import type { DeploymentSpec, NetworkMode, ProviderCredentials, VmState } from '../src/model/deployment.js';
import type { BootstrapFactory, ProviderContext } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { caught, describeProviderConformance, type ProviderHarness } from './conformance/provider-conformance.js';
import { startAzureEmulator, TYPES, type ArmResource, type AzureEmulator } from './emulators/azure/index.js';
import { createSelfDeallocateRole } from './helpers/azure-roles.js';

const REGION = 'eastus';
const azure = createAzureProvider();

/** Trust every emulator's self-signed certificate in this process (a child gets NODE_EXTRA_CA_CERTS instead). */
function trust(emu: AzureEmulator): void {
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), emu.caPem]);
}

async function emulator(): Promise<AzureEmulator> {
  const emu = await startAzureEmulator({ lroMs: 30 });
  trust(emu);
  createSelfDeallocateRole(emu); // the user's one-time set-up (idle auto-stop)
  return emu;
}

export function azureEnv(emu: AzureEmulator): NodeJS.ProcessEnv {
  return { CRAWL4AI_MCP_AZURE_ENDPOINT: emu.url, CRAWL4AI_MCP_AZURE_AUTHORITY_HOST: emu.url };
}

export function azureCredentials(emu: AzureEmulator): ProviderCredentials {
  return { kind: 'static', values: { tenantId: emu.tenantId, clientId: emu.clientId, clientSecret: emu.clientSecret, subscriptionId: emu.subscriptionId } };
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-azure-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const emulators: AzureEmulator[] = [];
afterEach(async () => {
  for (const e of emulators.splice(0)) await e.close();
});

let seq = 0;
function deployment(emu: AzureEmulator, spec: Partial<DeploymentSpec> = {}, extra: Partial<ProviderContext> = {}) {
  const name = spec.name ?? `az${++seq}`;
  const store = new StateStore(path.join(dir, `store-${++seq}`));
  const lines: string[] = [];
  const ctx: ProviderContext = {
    spec: { name, provider: 'azure', region: REGION, size: 'small', network: 'tunnel', profile: 'default', ...spec },
    credentials: azureCredentials(emu),
    env: azureEnv(emu),
    pollMs: 20,
    progress: (m) => lines.push(m),
    debug: (m) => lines.push(`debug: ${m}`),
    ...extra,
  };
  return { ctx, journal: new Journal(store, newDeploymentState(name)), store, lines };
}

function bootstrapFactory(network: NetworkMode, seen: Array<{ publicIp?: string }> = []): BootstrapFactory {
  return (address) => {
    seen.push(address);
    return { userData: `#cloud-config\n# host ${address.publicIp ?? 'tunnel'}\nruncmd: [echo hello]\n`, inboundPorts: network === 'public' ? [443] : [] };
  };
}

const ofDeployment = (emu: AzureEmulator, name: string, type: string): ArmResource[] =>
  emu.resourcesOf(name)
    .filter((r) => r.type === type)
    .map((r) => emu.state.get(r.id)!)
    .filter(Boolean);

function vmState(power: string | undefined): VmState {
  switch (power) {
    case 'running':
      return 'running';
    case 'starting':
      return 'pending';
    case 'deallocated':
    case 'stopped':
      return 'stopped';
    case 'deallocating':
    case 'stopping':
      return 'stopping';
    default:
      return 'unknown';
  }
}

/** NSG inbound allow rules as "proto:from-to:source"; the `Internet` and `*` sources cover IPv4 and IPv6. */
function rulesOf(nsg: ArmResource): string[] {
  return (nsg.properties.securityRules ?? [])
    .map((r: any) => r.properties)
    .filter((p: any) => p.direction === 'Inbound' && p.access === 'Allow')
    .flatMap((p: any) => {
      const proto = p.protocol === '*' ? 'all' : String(p.protocol).toLowerCase();
      const [from, to] = p.destinationPortRange === '*' ? ['0', '65535'] : String(p.destinationPortRange).split('-').concat(String(p.destinationPortRange)).slice(0, 2);
      const sources: string[] = p.sourceAddressPrefixes ?? [p.sourceAddressPrefix];
      return sources.flatMap((s) => (s === 'Internet' || s === '*' ? ['0.0.0.0/0', '::/0'] : [s])).map((s) => `${proto}:${from}-${to}:${s}`);
    });
}

function azureHarness(): ProviderHarness {
  let current: AzureEmulator | undefined;
  const emu = (): AzureEmulator => {
    if (!current) throw new Error('azureHarness: setup() first');
    return current;
  };
  return {
    provider: azure,
    region: REGION,
    vmCreatePermission: 'Microsoft.Compute/virtualMachines/write',
    policyFile: 'templates/policies/azure-custom-role.json',
    badCredentials: {
      credentials: { kind: 'static', values: { tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47', clientId: '11111111-2222-3333-4444-555555555555', clientSecret: 'definitely-secret-value', subscriptionId: '00000000-1111-2222-3333-444444444444' } },
      secret: 'definitely-secret-value',
    },
    resourceTypes: { vm: TYPES.vm, disk: TYPES.disk, firewall: TYPES.nsg, address: TYPES.pip },
    async setup() {
      current = await emulator();
    },
    async teardown() {
      await current?.close();
      current = undefined;
    },
    context(spec, credentials?: ProviderCredentials) {
      return deployment(emu(), spec, credentials ? { credentials } : {}).ctx;
    },
    // ids as the provider journals them: without the /subscriptions/<id> prefix (see scopedId)
    resourcesOf: (name) => emu().resourcesOf(name).map((r) => ({ ...r, id: scopedId(r.id) })),
    inboundRules: (name) => ofDeployment(emu(), name, TYPES.nsg).flatMap(rulesOf),
    vm(name) {
      const e = emu();
      const [vm] = ofDeployment(e, name, TYPES.vm);
      if (!vm) return undefined;
      const p = vm.properties;
      const disk = e.state.get(p.storageProfile.osDisk.managedDisk.id);
      const nic = e.state.get(p.networkProfile.networkInterfaces[0].id);
      const pipId = nic?.properties.ipConfigurations?.[0]?.properties?.publicIPAddress?.id;
      const publicIp = pipId ? e.state.get(pipId)?.properties.ipAddress : undefined;
      const keys: Array<{ keyData: string }> = p.osProfile.linuxConfiguration?.ssh?.publicKeys ?? [];
      const img = p.storageProfile.imageReference;
      return {
        state: vmState(vm.vm?.powerState),
        instanceType: p.hardwareProfile.vmSize,
        image: `${img.publisher}:${img.offer}:${img.sku}:${img.version}`,
        diskGiB: disk?.properties.diskSizeGB ?? 0,
        encryptedDisk: String(disk?.properties.encryption?.type ?? '').startsWith('EncryptionAtRest'),
        // Azure requires a key or a password on Linux: a key whose private half was discarded (see
        // src/providers/azure/vm.ts) lets no one in; any other key, or a password, counts.
        hasSshKey: keys.some((k) => !k.keyData.endsWith(` ${THROWAWAY_KEY_COMMENT}`)) || p.osProfile.adminPassword !== undefined,
        // The VM's managed identity (idle auto-stop) counts as "a cloud identity" only if it may do
        // more than read and deallocate this one VM.
        hasCloudIdentity: vm.identity !== undefined && !selfDeallocateOnly(e, vm),
        // Azure's IMDS answers only requests carrying `Metadata: true` and none with X-Forwarded-For,
        // which an SSRF through the crawler cannot send, and the egress guard lets only root on the
        // host reach it (not the crawler's container); its token can at most deallocate this VM.
        metadataHardened: vm.identity === undefined || selfDeallocateOnly(e, vm),
        ...(publicIp ? { publicIp } : {}),
        ...(vm.vm?.customData !== undefined ? { userData: Buffer.from(vm.vm.customData, 'base64').toString('utf8') } : {}),
        tags: { ...vm.tags },
      };
    },
    staticAddress: (name) => ofDeployment(emu(), name, TYPES.pip)[0]?.properties.ipAddress,
    // What a reader of the subscription gets back through ARM: Azure never returns customData (the
    // bootstrap); userData holds only the idle auto-stop minutes (asserted below).
    async readableBootstrap(name) {
      const az = await createAzureClients(deployment(emu(), { name }).ctx);
      const read = await az.compute.virtualMachines.get(`crawl4ai-mcp-${name}`, `crawl4ai-mcp-${name}-vm`, { expand: 'userData' });
      expect(Buffer.from(read.userData ?? '', 'base64').toString()).toMatch(/^IDLE_STOP_MINUTES=\d+\n$/);
      return read.osProfile?.customData;
    },
    faults: {
      denyCreateVm: () => emu().denyActions(['Microsoft.Compute/virtualMachines/write']),
      noCapacity: (size) => emu().noCapacity([size]),
      noDefaultNetwork: () => emu().noNetworkIn([REGION]),
      throttle: (n) => emu().throttleNext(n),
      reset: () => {
        emu().denyActions([]);
        emu().noCapacity([]);
        emu().throttleNext(0);
      },
    },
  };
}

/** Every role assignment of the VM's identity is at the VM itself and grants at most read + deallocate. */
function selfDeallocateOnly(e: AzureEmulator, vm: ArmResource): boolean {
  const mine = [...e.state.roleAssignments.values()].filter((a) => a.principalId === vm.identity?.principalId);
  return mine.every((a) => {
    const def = e.state.roleDefinitions.get(a.roleDefinitionName);
    const actions = def?.permissions.flatMap((p) => p.actions) ?? ['*'];
    return a.scope.toLowerCase() === vm.id.toLowerCase() && actions.every((x) => (SELF_DEALLOCATE_ACTIONS as readonly string[]).includes(x));
  });
}

describeProviderConformance('azure', azureHarness);

describe('azure provider: what Azure holds', () => {
  it('tunnel mode: one resource group; a subnet with default outbound access and no public IP; an NSG without inbound allow rules; customData in, never out; a tagged OS disk', async () => {
    const emu = await emulator();
    emulators.push(emu);
    const { ctx, journal } = deployment(emu);
    const name = ctx.spec.name;
    const plan = await azure.plan(ctx);
    expect(plan.image.id).toMatch(/^Canonical:ubuntu-24_04-lts:server:24\.04\./);
    expect(plan.resources.map((r) => r.kind)).toEqual(['resource group', 'network security group', 'virtual network', 'network interface', 'virtual machine', 'managed disk']);

    const vm = await azure.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(vm).toMatchObject({ state: 'running', instanceType: 'Standard_B2s' });
    expect(vm.publicIp).toBeUndefined();
    expect(vm.privateIp).toMatch(/^10\.0\.0\./);

    const groups = emu.resourcesOf(name).filter((r) => r.type === 'resource-group');
    expect(groups.map((g) => g.id)).toEqual([`/subscriptions/${emu.subscriptionId}/resourceGroups/crawl4ai-mcp-${name}`]);
    const [vnet] = ofDeployment(emu, name, TYPES.vnet);
    expect(vnet!.properties.subnets[0].properties).toMatchObject({ addressPrefix: '10.0.0.0/24', defaultOutboundAccess: true });
    expect(ofDeployment(emu, name, TYPES.pip)).toEqual([]);
    const [nsg] = ofDeployment(emu, name, TYPES.nsg);
    expect(nsg!.properties.securityRules).toEqual([]);
    const [nic] = ofDeployment(emu, name, TYPES.nic);
    expect(nic!.properties.networkSecurityGroup.id).toBe(nsg!.id);

    const [machine] = ofDeployment(emu, name, TYPES.vm);
    const os = machine!.properties.osProfile;
    expect(os.adminPassword).toBeUndefined();
    expect(os.linuxConfiguration.disablePasswordAuthentication).toBe(true);
    expect(os.linuxConfiguration.ssh.publicKeys).toHaveLength(1);
    expect(os.linuxConfiguration.ssh.publicKeys[0].keyData).toMatch(new RegExp(`^ssh-ed25519 \\S+ ${THROWAWAY_KEY_COMMENT}$`));
    expect(machine!.properties.storageProfile.osDisk).toMatchObject({ deleteOption: 'Delete', diskSizeGB: 30, managedDisk: { storageAccountType: 'StandardSSD_LRS' } });
    expect(machine!.properties.securityProfile).toMatchObject({ securityType: 'TrustedLaunch', uefiSettings: { secureBootEnabled: true, vTpmEnabled: true } });
    // Azure never returns customData: the GET the SDK makes has none
    expect(machine!.vm!.customData).toBeDefined();
    const az = await createAzureClients(ctx);
    const read = await az.compute.virtualMachines.get(`crawl4ai-mcp-${name}`, `crawl4ai-mcp-${name}-vm`, { expand: 'userData' });
    expect(read.osProfile?.customData).toBeUndefined();
    // userData: only the idle auto-stop minutes, which the watchdog reads from IMDS
    expect(Buffer.from(read.userData!, 'base64').toString()).toMatch(/^IDLE_STOP_MINUTES=\d+\n$/);
    const [disk] = ofDeployment(emu, name, TYPES.disk);
    expect(disk!.tags).toMatchObject({ 'crawl4ai-mcp:deployment': name, 'managed-by': 'crawl4ai-mcp' });
    expect(journal.find('azure:disk')).toMatchObject({ phase: 'created', id: scopedId(disk!.id) });
    // scrubBootstrap has nothing to change on Azure: no write request at all (it reads the VM's status)
    const before = emu.requests.length;
    await azure.scrubBootstrap(ctx, journal);
    expect(emu.requests.slice(before).filter((r) => r.method !== 'GET' && !/\/oauth2\//.test(r.path))).toEqual([]);
    // the state file holds no bootstrap and no key material
    const stateText = JSON.stringify(journal.state);
    expect(stateText).not.toContain('runcmd');
    expect(stateText).not.toContain('PRIVATE KEY');
  });

  it('stop deallocates (a guest power-off would keep billing compute); status then says stopped', async () => {
    const emu = await emulator();
    emulators.push(emu);
    const { ctx, journal } = deployment(emu);
    await azure.apply(ctx, journal, bootstrapFactory('tunnel'));
    await azure.stop(ctx, journal);
    const [machine] = ofDeployment(emu, ctx.spec.name, TYPES.vm);
    expect(machine!.vm!.powerState).toBe('deallocated');
    expect(emu.requests.some((r) => r.method === 'POST' && r.path.endsWith('/deallocate'))).toBe(true);
    expect(emu.requests.some((r) => r.method === 'POST' && r.path.endsWith('/powerOff'))).toBe(false);
    expect(await azure.status(ctx, journal)).toMatchObject({ state: 'stopped', detail: expect.stringMatching(/stopped \(deallocated\), compute not billed: about \$2\.25\/month for the disk$/) });

    // a shutdown from inside the VM leaves it "stopped" but allocated: status says it still bills compute
    await azure.start(ctx, journal);
    const az = await createAzureClients(ctx);
    await az.compute.virtualMachines.powerOff(`crawl4ai-mcp-${ctx.spec.name}`, `crawl4ai-mcp-${ctx.spec.name}-vm`, { updateIntervalInMs: 10 });
    expect(await azure.status(ctx, journal)).toMatchObject({ state: 'stopped', detail: expect.stringContaining('still allocated, compute billed in full (about $32.62/month)') });
  });

  it('public mode: a Standard static IP with a cloudapp.azure.com DNS label, attached to the NIC; the NSG allows tcp/443 from the Internet only', async () => {
    const emu = await emulator();
    emulators.push(emu);
    const { ctx, journal } = deployment(emu, { network: 'public' });
    const seen: Array<{ publicIp?: string }> = [];
    const vm = await azure.apply(ctx, journal, bootstrapFactory('public', seen));
    const [pip] = ofDeployment(emu, ctx.spec.name, TYPES.pip);
    expect(pip!.sku).toMatchObject({ name: 'Standard' });
    expect(pip!.properties).toMatchObject({ publicIPAllocationMethod: 'Static' });
    expect(pip!.properties.dnsSettings.fqdn).toMatch(new RegExp(`^c4m-${ctx.spec.name}-[0-9a-f]{6}\\.eastus\\.cloudapp\\.azure\\.com$`));
    expect(seen).toEqual([{ publicIp: pip!.properties.ipAddress }]);
    expect(vm.publicIp).toBe(pip!.properties.ipAddress);
    const [nsg] = ofDeployment(emu, ctx.spec.name, TYPES.nsg);
    expect(nsg!.properties.securityRules.map((r: any) => r.properties)).toEqual([
      expect.objectContaining({ protocol: 'Tcp', access: 'Allow', direction: 'Inbound', destinationPortRange: '443', sourceAddressPrefix: 'Internet' }),
    ]);
    const [vnet] = ofDeployment(emu, ctx.spec.name, TYPES.vnet);
    expect(vnet!.properties.subnets[0].properties.defaultOutboundAccess).toBe(false);
  });

  it('a public deployment re-applied in tunnel mode detaches and releases its public IP (Azure refuses to delete an address in use) and closes 443', async () => {
    const emu = await emulator();
    emulators.push(emu);
    const d = deployment(emu, { network: 'public' });
    await azure.apply(d.ctx, d.journal, bootstrapFactory('public'));
    expect(ofDeployment(emu, d.ctx.spec.name, TYPES.pip)).toHaveLength(1);
    const tunnel = { ...d.ctx, spec: { ...d.ctx.spec, network: 'tunnel' as const } };
    const vm = await azure.apply(tunnel, d.journal, bootstrapFactory('tunnel'));
    expect(vm.publicIp).toBeUndefined();
    expect(ofDeployment(emu, d.ctx.spec.name, TYPES.pip)).toEqual([]);
    expect(ofDeployment(emu, d.ctx.spec.name, TYPES.nsg)[0]!.properties.securityRules).toEqual([]);
    expect(ofDeployment(emu, d.ctx.spec.name, TYPES.vnet)[0]!.properties.subnets[0].properties.defaultOutboundAccess).toBe(true);
    expect(d.journal.find('azure:public-ip')?.phase).toBe('deleted');
    expect(ofDeployment(emu, d.ctx.spec.name, TYPES.vm)).toHaveLength(1);
  });

  it('an allocation that fails after Azure accepted the create is exit 4 saying what was tried; the next run removes the Failed VM and creates another size', async () => {
    const emu = await emulator();
    emulators.push(emu);
    const d = deployment(emu);
    emu.allocationFailsOnCreate(['Standard_B2s']);
    const e = await caught(azure.apply(d.ctx, d.journal, bootstrapFactory('tunnel')));
    expect(e.exitCode).toBe(4);
    expect(e.message).toContain('AllocationFailed; tried Standard_B2s in eastus');
    expect(e.hint).toMatch(/--size medium/);
    expect(ofDeployment(emu, d.ctx.spec.name, TYPES.vm).map((v) => v.properties.provisioningState)).toEqual(['Failed']);

    emu.allocationFailsOnCreate([]);
    const medium = { ...d.ctx, spec: { ...d.ctx.spec, size: 'medium' as const } };
    const vm = await azure.apply(medium, d.journal, bootstrapFactory('tunnel'));
    expect(vm).toMatchObject({ state: 'running', instanceType: 'Standard_B2ms' });
    const vms = ofDeployment(emu, d.ctx.spec.name, TYPES.vm);
    expect(vms.map((v) => [v.properties.provisioningState, v.properties.hardwareProfile.vmSize])).toEqual([['Succeeded', 'Standard_B2ms']]);
    expect(ofDeployment(emu, d.ctx.spec.name, TYPES.disk)).toHaveLength(1);
    expect(d.journal.find('azure:virtual-machine')).toMatchObject({ phase: 'created', meta: expect.objectContaining({ vmSize: 'Standard_B2ms' }) });
  });

  it('destroy with the state file lost deletes the resource group (OS disk included) and waits until it is gone', async () => {
    const emu = await emulator();
    emulators.push(emu);
    const d = deployment(emu, { network: 'public' });
    await azure.apply(d.ctx, d.journal, bootstrapFactory('public'));
    const lost = deployment(emu, { name: d.ctx.spec.name, network: 'public' });
    await azure.destroy(lost.ctx, lost.journal);
    expect(emu.resourcesOf(d.ctx.spec.name)).toEqual([]);
    expect(emu.state.ofType(TYPES.disk)).toEqual([]);
    expect(emu.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual([`/subscriptions/${emu.subscriptionId}/resourcegroups/crawl4ai-mcp-${d.ctx.spec.name}`]);
  });

  it('a resource group of the same name without our tags is never deleted', async () => {
    const emu = await emulator();
    emulators.push(emu);
    const d = deployment(emu);
    emu.state.groups.set(`crawl4ai-mcp-${d.ctx.spec.name}`.toLowerCase(), {
      id: `/subscriptions/${emu.subscriptionId}/resourceGroups/crawl4ai-mcp-${d.ctx.spec.name}`,
      name: `crawl4ai-mcp-${d.ctx.spec.name}`,
      location: REGION,
      tags: { owner: 'someone else' },
      provisioningState: 'Succeeded',
    });
    await azure.destroy(d.ctx, d.journal);
    expect(emu.state.groupOf(`crawl4ai-mcp-${d.ctx.spec.name}`)).toBeDefined();
  });

  it('a wrong client secret is exit 3 naming the AADSTS code, and the secret is not echoed', async () => {
    const emu = await emulator();
    emulators.push(emu);
    const creds: ProviderCredentials = { kind: 'static', values: { ...azureCredentials(emu).values!, clientSecret: 'wrong-secret-xyz' } } as ProviderCredentials;
    const { ctx } = deployment(emu, {}, { credentials: creds });
    const e = await caught(azure.validateCredentials(ctx));
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain('AADSTS7000215');
    expect(`${e.message} ${e.hint}`).not.toContain('wrong-secret-xyz');
  });
});
