// The Compute Engine emulator speaks as the real API does to the official client (REST mode over
// HTTPS): these are the habits the provider must handle, shown on the client library directly.
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstancesClient } from '@google-cloud/compute/build/src/v1/instances_client.js';
import { FirewallsClient } from '@google-cloud/compute/build/src/v1/firewalls_client.js';
import { ZoneOperationsClient } from '@google-cloud/compute/build/src/v1/zone_operations_client.js';
import { OAuth2Client } from 'google-auth-library';
import { createGcpClients } from '../src/providers/gcp/clients.js';
import { startGceEmulator, type GceEmulator } from './emulators/gce/index.js';

let emu: GceEmulator;
let opts: { fallback: true; apiEndpoint: string; port: number; authClient: OAuth2Client };
const NO_RETRY = { maxRetries: 0 };
const project = () => emu.project;
const zone = 'us-central1-a';
const instanceResource = (name: string, machineType = 'e2-medium') => ({
  name,
  machineType: `zones/${zone}/machineTypes/${machineType}`,
  disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: 'projects/ubuntu-os-cloud/global/images/ubuntu-2404-noble-amd64-v20261101' } }],
  networkInterfaces: [{ network: 'global/networks/default' }],
});

beforeAll(async () => {
  emu = await startGceEmulator({ transitionMs: 50, pageSize: 2 });
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), emu.ca]);
  // a real token from the emulator's /token, through the provider's own JWT exchange
  const gcp = await createGcpClients({
    spec: { name: 'emu', provider: 'gcp', region: 'us-central1', size: 'small', network: 'tunnel', profile: 'default' },
    credentials: { kind: 'static', values: { serviceAccountKey: emu.serviceAccountKey } },
    env: { CRAWL4AI_MCP_GCP_ENDPOINT: emu.url },
    progress: () => {},
    debug: () => {},
  });
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: await gcp.accessToken(), expiry_date: Date.now() + 3_600_000 });
  await gcp.close();
  opts = { fallback: true, apiEndpoint: '127.0.0.1', port: emu.port, authClient };
});
afterAll(async () => emu?.close());

async function waitDone(ops: ZoneOperationsClient, name: string) {
  for (;;) {
    const [op] = await ops.wait({ project: project(), zone, operation: name }, NO_RETRY);
    if (op.status === 'DONE') return op;
  }
}

describe('Compute Engine emulator, through the official client', () => {
  it('an insert answers a RUNNING operation; a stockout ends DONE with an error, and the client does not throw', async () => {
    const instances = new InstancesClient(opts);
    const ops = new ZoneOperationsClient(opts);
    const [op] = await instances.insert({ project: project(), zone, instanceResource: instanceResource('ok-1') }, NO_RETRY);
    expect(op.latestResponse).toMatchObject({ status: 'RUNNING', operationType: 'insert' });
    expect((await waitDone(ops, (op.latestResponse as { name: string }).name)).error).toBeFalsy();

    emu.stockout([{ zone, machineType: 'e2-standard-4' }]);
    const [bad] = await instances.insert({ project: project(), zone, instanceResource: instanceResource('full-1', 'e2-standard-4') }, NO_RETRY);
    const done = await waitDone(ops, (bad.latestResponse as { name: string }).name);
    expect(done.error?.errors?.[0]?.code).toBe('ZONE_RESOURCE_POOL_EXHAUSTED');
    await expect(instances.get({ project: project(), zone, instance: 'full-1' }, NO_RETRY)).rejects.toMatchObject({ httpStatusCode: 404 });
    emu.stockout([]);
    await Promise.all([instances.close(), ops.close()]);
  });

  it('getSerialPortOutput reads from a byte offset and says where to continue; the last 1 MB is kept; it needs its own permission', async () => {
    const instances = new InstancesClient(opts);
    const ops = new ZoneOperationsClient(opts);
    const [op] = await instances.insert({ project: project(), zone, instanceResource: instanceResource('serial-1') }, NO_RETRY);
    await waitDone(ops, (op.latestResponse as { name: string }).name);
    const id = [...emu.state.instances.values()].find((i) => i.name === 'serial-1')!.id;
    const read = async (start?: number) => {
      const [out] = await instances.getSerialPortOutput({ project: project(), zone, instance: 'serial-1', port: 1, ...(start === undefined ? {} : { start }) }, NO_RETRY);
      return { contents: out.contents ?? '', start: Number(String(out.start)), next: Number(String(out.next)) };
    };
    expect(await read()).toEqual({ contents: '', start: 0, next: 0 });
    emu.writeSerial(id, 'booting\r\n');
    const first = await read();
    expect(first).toEqual({ contents: 'booting\r\n', start: 0, next: 9 });
    emu.writeSerial(id, 'ready\r\n');
    expect(await read(first.next)).toEqual({ contents: 'ready\r\n', start: 9, next: 16 });
    expect((await read(-7)).contents).toBe('ready\r\n'); // a negative start: the last n bytes
    // past the 1 MB buffer: an old offset is moved to the oldest byte kept
    emu.writeSerial(id, 'x'.repeat(1024 * 1024));
    const late = await read(0);
    expect(late.start).toBe(16);
    expect(late.next).toBe(16 + 1024 * 1024);
    expect(late.contents.length).toBe(1024 * 1024);
    emu.denyPermissions(['compute.instances.getSerialPortOutput']);
    await expect(read()).rejects.toMatchObject({ httpStatusCode: 403, message: expect.stringContaining("Required 'compute.instances.getSerialPortOutput' permission") });
    emu.denyPermissions([]);
    await expect(instances.getSerialPortOutput({ project: project(), zone, instance: 'nope', port: 1 }, NO_RETRY)).rejects.toMatchObject({ httpStatusCode: 404 });
    const [del] = await instances.delete({ project: project(), zone, instance: 'serial-1' }, NO_RETRY);
    await waitDone(ops, (del.latestResponse as { name: string }).name); // the later tests count this zone's instances
    await Promise.all([instances.close(), ops.close()]);
  });

  it('the same requestId answers the same operation; another one for an existing name is 409 alreadyExists', async () => {
    const instances = new InstancesClient(opts);
    const requestId = '11111111-2222-4333-8444-555555555555';
    const [a] = await instances.insert({ project: project(), zone, requestId, instanceResource: instanceResource('dedup-1') }, NO_RETRY);
    const [b] = await instances.insert({ project: project(), zone, requestId, instanceResource: instanceResource('dedup-1') }, NO_RETRY);
    expect((b.latestResponse as { name: string }).name).toBe((a.latestResponse as { name: string }).name);
    await expect(instances.insert({ project: project(), zone, instanceResource: instanceResource('dedup-1') }, NO_RETRY)).rejects.toMatchObject({ httpStatusCode: 409 });
    await instances.close();
  });

  it('setMetadata with a stale fingerprint is 412; a list pages with pageToken; 429 comes as rateLimitExceeded', async () => {
    const instances = new InstancesClient(opts);
    await expect(
      instances.setMetadata({ project: project(), zone, instance: 'ok-1', metadataResource: { fingerprint: 'stale', items: [] } }, NO_RETRY),
    ).rejects.toMatchObject({ httpStatusCode: 412 });
    const names: string[] = [];
    for await (const i of instances.listAsync({ project: project(), zone }, NO_RETRY)) names.push(i.name!);
    expect(names.sort()).toEqual(['dedup-1', 'ok-1']);
    const before = emu.requests.length;
    for await (const _ of instances.listAsync({ project: project(), zone, maxResults: 1 }, NO_RETRY)) void _;
    expect(emu.requests.slice(before).filter((r) => r.query.pageToken).length).toBeGreaterThan(0);
    emu.throttleNext(1);
    await expect(instances.get({ project: project(), zone, instance: 'ok-1' }, NO_RETRY)).rejects.toMatchObject({ httpStatusCode: 429 });
    await instances.close();
  });

  it('refuses a firewall rule mixing IPv4 and IPv6 ranges, and a request without a token', async () => {
    const firewalls = new FirewallsClient(opts);
    await expect(
      firewalls.insert({ project: project(), firewallResource: { name: 'mixed', network: 'global/networks/default', sourceRanges: ['0.0.0.0/0', '::/0'], allowed: [{ IPProtocol: 'tcp', ports: ['443'] }] } }, NO_RETRY),
    ).rejects.toMatchObject({ httpStatusCode: 400 });
    const anonymous = new OAuth2Client();
    anonymous.setCredentials({ access_token: 'ya29.not-issued', expiry_date: Date.now() + 3_600_000 });
    const stranger = new FirewallsClient({ ...opts, authClient: anonymous });
    await expect(stranger.get({ project: project(), firewall: 'default-allow-ssh' }, NO_RETRY)).rejects.toMatchObject({ httpStatusCode: 401 });
    await Promise.all([firewalls.close(), stranger.close()]);
  });
});
