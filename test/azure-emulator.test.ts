// The ARM + Entra emulator itself: the habits of the real services that the Azure provider must
// cope with, checked on the wire (raw https) and through the official SDK.
import https from 'node:https';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import { startAzureEmulator, TYPES, type AzureEmulator } from './emulators/azure/index.js';

let emu: AzureEmulator;
let token: string;
beforeAll(async () => {
  emu = await startAzureEmulator({ lroMs: 30 });
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), emu.caPem]);
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: emu.clientId, client_secret: emu.clientSecret, scope: 'https://management.azure.com/.default' });
  const r = await raw('POST', `/${emu.tenantId}/oauth2/v2.0/token`, form.toString(), 'application/x-www-form-urlencoded');
  token = (r.body as { access_token: string }).access_token;
});
afterAll(() => emu?.close());

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}
function raw(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = https.request(`${emu.url}${path}`, { method, ca: emu.caPem, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(data ? { 'content-type': contentType } : {}) } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(data);
  });
}
const sub = () => `/subscriptions/${emu.subscriptionId}`;
const V = '?api-version=2024-01-01';
const sdk = () => {
  const cred = new ClientSecretCredential(emu.tenantId, emu.clientId, emu.clientSecret, { authorityHost: emu.url, disableInstanceDiscovery: true });
  const o = { endpoint: emu.url, credentials: { scopes: ['https://management.azure.com/.default'] } };
  return { compute: new ComputeManagementClient(cred, emu.subscriptionId, o), network: new NetworkManagementClient(cred, emu.subscriptionId, o), resources: new ResourceManagementClient(cred, emu.subscriptionId, o) };
};

/** A group with a VNet, a NIC and a Linux VM whose OS disk uses the default deleteOption (Detach). */
async function vmWithDefaults(group: string) {
  const { compute, network, resources } = sdk();
  await resources.resourceGroups.createOrUpdate(group, { location: 'eastus' });
  const vnet = await network.virtualNetworks.createOrUpdate(group, 'v', { location: 'eastus', addressSpace: { addressPrefixes: ['10.1.0.0/16'] }, subnets: [{ name: 's', addressPrefix: '10.1.0.0/24' }] }, { updateIntervalInMs: 10 });
  const nic = await network.networkInterfaces.createOrUpdate(group, 'n', { location: 'eastus', ipConfigurations: [{ name: 'c', subnet: { id: vnet.subnets![0]!.id! } }] }, { updateIntervalInMs: 10 });
  const vm = await compute.virtualMachines.createOrUpdate(
    group,
    'vm',
    {
      location: 'eastus',
      hardwareProfile: { vmSize: 'Standard_B2s' },
      storageProfile: { imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' }, osDisk: { createOption: 'FromImage' } },
      osProfile: { computerName: 'vm', adminUsername: 'u', customData: Buffer.from('#cloud-config\n').toString('base64'), linuxConfiguration: { disablePasswordAuthentication: true, ssh: { publicKeys: [{ path: '/home/u/.ssh/authorized_keys', keyData: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample x' }] } } },
      networkProfile: { networkInterfaces: [{ id: nic.id! }] },
    },
    { updateIntervalInMs: 10 },
  );
  return { compute, network, resources, vm, nic };
}

describe('ARM emulator: the habits of the real API', () => {
  it('a create is a long-running operation: 201 with Azure-AsyncOperation and Retry-After, InProgress then Succeeded', async () => {
    await raw('PUT', `${sub()}/resourcegroups/lro${V}`, { location: 'eastus' });
    const put = await raw('PUT', `${sub()}/resourceGroups/lro/providers/Microsoft.Network/networkSecurityGroups/nsg${V}`, { location: 'eastus', properties: {} });
    expect(put.status).toBe(201);
    expect(put.body.properties.provisioningState).toBe('Creating');
    expect(put.headers['retry-after']).toBeDefined();
    const op = new URL(String(put.headers['azure-asyncoperation']));
    expect((await raw('GET', op.pathname + op.search)).body.status).toBe('InProgress');
    await new Promise((r) => setTimeout(r, 60));
    expect((await raw('GET', op.pathname + op.search)).body.status).toBe('Succeeded');
    const del = await raw('DELETE', `${sub()}/resourceGroups/lro/providers/Microsoft.Network/networkSecurityGroups/nsg${V}`);
    expect(del.status).toBe(202);
    expect(del.headers.location).toMatch(/operationResults/);
  });

  it('every request needs a bearer token, and an api-version', async () => {
    const saved = token;
    token = '';
    expect((await raw('GET', `${sub()}/resourcegroups${V}`)).status).toBe(401);
    token = saved;
    expect((await raw('GET', `${sub()}/resourcegroups`)).body.error.code).toBe('MissingApiVersionParameter');
  });

  it('lists page with nextLink, and the SDK follows it', async () => {
    const { resources } = sdk();
    for (const g of ['pg1', 'pg2', 'pg3']) await resources.resourceGroups.createOrUpdate(g, { location: 'eastus', tags: { paging: 'yes' } });
    const first = await raw('GET', `${sub()}/resourcegroups${V}&$filter=${encodeURIComponent("tagName eq 'paging' and tagValue eq 'yes'")}`);
    expect(first.body.value).toHaveLength(2);
    expect(decodeURIComponent(first.body.nextLink)).toContain('$skiptoken=2');
    const names: string[] = [];
    for await (const g of resources.resourceGroups.list({ filter: "tagName eq 'paging' and tagValue eq 'yes'" })) names.push(g.name!);
    expect(names.sort()).toEqual(['pg1', 'pg2', 'pg3']);
  });

  it('a resource list filtered by tag does not return the tags', async () => {
    await raw('PUT', `${sub()}/resourcegroups/tg${V}`, { location: 'eastus' });
    await raw('PUT', `${sub()}/resourceGroups/tg/providers/Microsoft.Network/networkSecurityGroups/t${V}`, { location: 'eastus', tags: { k: 'v' }, properties: {} });
    const list = await raw('GET', `${sub()}/resources${V}&$filter=${encodeURIComponent("tagName eq 'k' and tagValue eq 'v'")}`);
    expect(list.body.value.map((r: { name: string }) => r.name)).toEqual(['t']);
    expect(list.body.value[0].tags).toBeUndefined();
  });

  it('429 with Retry-After, which the SDK honours', async () => {
    emu.throttleNext(1);
    expect((await raw('GET', `${sub()}/resourcegroups${V}`)).status).toBe(429);
    emu.throttleNext(1);
    const before = emu.requests.length;
    await sdk().resources.resourceGroups.get('tg');
    expect(emu.requests.slice(before).filter((r) => r.path.endsWith('/resourcegroups/tg')).map((r) => r.status)).toEqual([429, 200]);
  });

  it('a denied action is 403 AuthorizationFailed naming it, and the permissions API leaves it out', async () => {
    emu.denyActions(['Microsoft.Compute/virtualMachines/write']);
    try {
      const r = await raw('PUT', `${sub()}/resourceGroups/tg/providers/Microsoft.Compute/virtualMachines/x${V}`, { location: 'eastus', properties: {} });
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('AuthorizationFailed');
      expect(r.body.error.message).toContain("perform action 'Microsoft.Compute/virtualMachines/write'");
      // paged like every ARM list: the deny is on the second page
      const entries: Array<{ notActions: string[] }> = [];
      let p = await raw('GET', `${sub()}/providers/Microsoft.Authorization/permissions${V}`);
      entries.push(...p.body.value);
      expect(p.body.nextLink).toBeDefined();
      while (p.body.nextLink) {
        const next = new URL(p.body.nextLink);
        p = await raw('GET', next.pathname + next.search);
        entries.push(...p.body.value);
      }
      expect(entries.flatMap((e) => e.notActions)).toContain('Microsoft.Compute/virtualMachines/write');
    } finally {
      emu.denyActions([]);
    }
  });

  it('a Linux VM needs a password or an SSH key', async () => {
    await raw('PUT', `${sub()}/resourcegroups/nokey${V}`, { location: 'eastus' });
    const r = await raw('PUT', `${sub()}/resourceGroups/nokey/providers/Microsoft.Compute/virtualMachines/vm${V}`, {
      location: 'eastus',
      properties: { hardwareProfile: { vmSize: 'Standard_B2s' }, osProfile: { computerName: 'vm', adminUsername: 'u', linuxConfiguration: { disablePasswordAuthentication: true } } },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe('Authentication using either SSH or by user name and password must be enabled in Linux profile.');
  });

  it('customData never comes back; the implicit OS disk has no tags; deleting a NIC in use is refused; the OS disk outlives its VM by default', async () => {
    const { compute, network, vm } = await vmWithDefaults('life');
    expect(vm.osProfile?.customData).toBeUndefined();
    expect((await compute.virtualMachines.get('life', 'vm')).osProfile?.customData).toBeUndefined();
    const disk = emu.state.ofType(TYPES.disk).find((d) => d.resourceGroup === 'life')!;
    expect(disk.tags).toEqual({});
    await expect(network.networkInterfaces.delete('life', 'n', { updateIntervalInMs: 10 })).rejects.toMatchObject({ code: 'NicInUse' });
    await compute.virtualMachines.delete('life', 'vm', { updateIntervalInMs: 10 });
    expect(emu.state.get(disk.id)).toMatchObject({ properties: { diskState: 'Unattached' } });
  });

  it('a size without capacity: create is 409 SkuNotAvailable; start fails the operation with AllocationFailed', async () => {
    const { compute } = await vmWithDefaults('cap');
    await compute.virtualMachines.deallocate('cap', 'vm', { updateIntervalInMs: 10 });
    emu.noCapacity(['Standard_B2s']);
    try {
      await expect(compute.virtualMachines.start('cap', 'vm', { updateIntervalInMs: 10 })).rejects.toThrow(/long-running operation has failed\. AllocationFailed\./);
      const r = await raw('PUT', `${sub()}/resourceGroups/cap/providers/Microsoft.Compute/virtualMachines/other${V}`, { location: 'eastus', properties: { hardwareProfile: { vmSize: 'Standard_B2s' } } });
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('SkuNotAvailable');
    } finally {
      emu.noCapacity([]);
    }
  });

  it('boot diagnostics: 409 until enabled; then short-lived read-only SAS URLs of the serial log blob, 404 before the VM wrote any, 403 for a forged signature', async () => {
    const { compute, vm } = await vmWithDefaults('rg-bootdiag');
    await expect(compute.virtualMachines.retrieveBootDiagnosticsData('rg-bootdiag', 'vm')).rejects.toMatchObject({ statusCode: 409, code: 'OperationNotAllowed' });
    await compute.virtualMachines.beginUpdateAndWait('rg-bootdiag', 'vm', { diagnosticsProfile: { bootDiagnostics: { enabled: true } } }, { updateIntervalInMs: 10 });
    await expect(compute.virtualMachines.retrieveBootDiagnosticsData('rg-bootdiag', 'vm', { sasUriExpirationTimeInMinutes: 2000 })).rejects.toMatchObject({ statusCode: 400 });
    const { serialConsoleLogBlobUri } = await compute.virtualMachines.retrieveBootDiagnosticsData('rg-bootdiag', 'vm', { sasUriExpirationTimeInMinutes: 1 });
    const sas = new URL(serialConsoleLogBlobUri!);
    expect(sas.searchParams.get('sp')).toBe('r');
    expect(Date.parse(sas.searchParams.get('se')!) - Date.now()).toBeLessThanOrEqual(60_000);
    const none = await fetch(sas);
    expect(none.status).toBe(404);
    expect(none.headers.get('x-ms-error-code')).toBe('BlobNotFound');
    emu.writeSerial(vm.vmId!, 'Ubuntu 24.04 LTS vm ttyS0\r\n');
    const got = await fetch(sas);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('Ubuntu 24.04 LTS vm ttyS0\r\n');
    sas.searchParams.set('sig', 'Zm9yZ2Vk' + sas.searchParams.get('sig')!.slice(8));
    const forged = await fetch(sas);
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('<Code>AuthenticationFailed</Code>');
  });

  it('a wrong client secret is 401 invalid_client with AADSTS7000215', async () => {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: emu.clientId, client_secret: 'nope', scope: 'https://management.azure.com/.default' });
    const r = await raw('POST', `/${emu.tenantId}/oauth2/v2.0/token`, form.toString(), 'application/x-www-form-urlencoded');
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_client');
    expect(r.body.error_description).toMatch(/^AADSTS7000215:/);
  });
});
