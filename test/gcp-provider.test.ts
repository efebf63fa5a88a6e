// The GCP provider against the Compute Engine emulator, through the real @google-cloud/compute
// clients in REST mode over HTTPS (no SDK mocks). The endpoint reaches the provider through ctx.env
// (CRAWL4AI_MCP_GCP_ENDPOINT); this process trusts each emulator's throwaway certificate.
// The cloud-agnostic cases run through ./conformance/provider-conformance.ts; this file keeps what
// only GCP has (zones and stockouts, the default network's allow rules, requestId, fingerprints).
import { SCRUBBED_USER_DATA } from '../src/bootstrap/cloud-init.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGcpProvider } from '../src/providers/gcp/index.js';
import type { DeploymentSpec, NetworkMode, ProviderCredentials } from '../src/model/deployment.js';
import type { BootstrapFactory, ProviderContext } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { caught, describeProviderConformance, type ProviderHarness } from './conformance/provider-conformance.js';
import { DEPLOYMENT_LABEL, startGceEmulator, type GceEmulator, type Instance } from './emulators/gce/index.js';

const REGION = 'us-central1';
const gcp = createGcpProvider();

/** This process trusts the emulators' certificates (a child would get NODE_EXTRA_CA_CERTS). */
const trusted = new Set<string>();
function trust(ca: string): void {
  trusted.add(ca);
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), ...trusted]);
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-gcp-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const emulators: GceEmulator[] = [];
afterEach(async () => {
  for (const e of emulators.splice(0)) await e.close();
});
async function startEmulator(opts: Parameters<typeof startGceEmulator>[0] = {}): Promise<GceEmulator> {
  const emu = await startGceEmulator({ transitionMs: 40, ...opts });
  trust(emu.ca);
  return emu;
}
async function emulator(opts: Parameters<typeof startGceEmulator>[0] = {}): Promise<GceEmulator> {
  const emu = await startEmulator(opts);
  emulators.push(emu);
  return emu;
}

let seq = 0;
function deployment(emu: GceEmulator, spec: Partial<DeploymentSpec> = {}, extra: Partial<ProviderContext> = {}) {
  const name = spec.name ?? `g${++seq}`;
  const store = new StateStore(path.join(dir, `store-${++seq}`));
  const lines: string[] = [];
  const ctx: ProviderContext = {
    spec: { name, provider: 'gcp', region: REGION, size: 'small', network: 'tunnel', profile: 'default', ...spec },
    credentials: { kind: 'static', values: { serviceAccountKey: emu.serviceAccountKey } },
    env: { CRAWL4AI_MCP_GCP_ENDPOINT: emu.url },
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

const instancesOf = (emu: GceEmulator, name: string): Instance[] => [...emu.state.instances.values()].filter((i) => i.labels[DEPLOYMENT_LABEL] === name);
const firewallsOf = (emu: GceEmulator, name: string) => [...emu.state.firewalls.values()].filter((f) => f.targetTags.includes(`crawl4ai-mcp-${name}`));
const metadataOf = (i: Instance, key: string) => i.metadata.items.find((m) => m.key === key)?.value;

/** Neutral tags from GCP labels (GCP label keys cannot hold ':'); firewall rules have no labels, so their name and target tag say whose they are. */
function neutralTags(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) out[k === DEPLOYMENT_LABEL ? 'crawl4ai-mcp:deployment' : k] = v;
  return out;
}

function gcpHarness(): ProviderHarness {
  let current: GceEmulator | undefined;
  const emu = (): GceEmulator => {
    if (!current) throw new Error('gcpHarness: setup() first');
    return current;
  };
  return {
    provider: gcp,
    region: REGION,
    vmCreatePermission: 'compute.instances.create',
    policyFile: 'templates/policies/gcp-custom-role.yaml',
    get badCredentials() {
      const key = emu().foreignServiceAccountKey;
      return { credentials: { kind: 'static', values: { serviceAccountKey: key } } as ProviderCredentials, secret: (JSON.parse(key) as { private_key: string }).private_key.split('\n')[5]! };
    },
    resourceTypes: { vm: 'instance', disk: 'disk', firewall: 'firewall', address: 'address' },
    async setup() {
      current = await startEmulator();
    },
    async teardown() {
      await current?.close();
      current = undefined;
    },
    context(spec, credentials) {
      return deployment(emu(), spec, credentials ? { credentials } : {}).ctx;
    },
    resourcesOf(name) {
      return emu()
        .resourcesOf(name)
        .map((r) => {
          const inst = r.type === 'instance' ? instancesOf(emu(), name).find((i) => i.name === r.id) : undefined;
          const tags = r.type === 'firewall' ? { 'crawl4ai-mcp:deployment': name, 'managed-by': 'crawl4ai-mcp' } : neutralTags(r.labels);
          return { type: r.type, id: inst ? `${inst.zone}/${inst.name}` : r.id, ...(r.state ? { state: r.state } : {}), tags };
        });
    },
    inboundRules(name) {
      // allow rules only: a deny rule opens nothing
      return firewallsOf(emu(), name).flatMap((f) =>
        f.allowed.flatMap((a) =>
          f.sourceRanges.map((src) => {
            const [from, to] = (a.ports?.[0] ?? '0-65535').split('-');
            return `${a.IPProtocol}:${from}-${to ?? from}:${src}`;
          }),
        ),
      );
    },
    vm(name) {
      const e = emu();
      const [inst] = instancesOf(e, name);
      if (!inst) return undefined;
      const publicIp = e.state.externalIpOf(inst);
      const state = inst.status === 'RUNNING' ? 'running' : inst.status === 'TERMINATED' ? 'stopped' : inst.status === 'STOPPING' ? 'stopping' : 'pending';
      return {
        state,
        instanceType: inst.machineType,
        image: `https://www.googleapis.com/compute/v1/${inst.disk.sourceImage}`,
        diskGiB: inst.disk.sizeGb,
        encryptedDisk: inst.disk.encrypted,
        hasSshKey: metadataOf(inst, 'ssh-keys') !== undefined || metadataOf(inst, 'block-project-ssh-keys') !== 'true',
        hasCloudIdentity: inst.serviceAccounts.some((s) => s.scopes.length > 0),
        metadataHardened: metadataOf(inst, 'disable-legacy-endpoints') === 'true',
        ...(publicIp ? { publicIp } : {}),
        ...(metadataOf(inst, 'user-data') !== undefined ? { userData: metadataOf(inst, 'user-data')! } : {}),
        tags: neutralTags(inst.labels),
      };
    },
    staticAddress(name) {
      return [...emu().state.addresses.values()].find((a) => a.labels[DEPLOYMENT_LABEL] === name)?.address;
    },
    faults: {
      denyCreateVm: () => emu().denyPermissions(['compute.instances.create']),
      noCapacity: (machineType) => emu().stockout([{ zone: '*', machineType }]),
      noDefaultNetwork: () => emu().removeDefaultNetwork(),
      throttle: (n) => emu().throttleNext(n),
      reset: () => {
        emu().denyPermissions([]);
        emu().stockout([]);
        emu().throttleNext(0);
      },
    },
  };
}

describeProviderConformance('gcp', gcpHarness);

describe('gcp provider: what Compute Engine holds', () => {
  it('tunnel mode: Ubuntu 24.04 LTS by family, Shielded VM, no service account, project SSH keys blocked, labels on instance and disk, requestId journaled, port 22 unreachable despite default-allow-ssh', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu);
    const name = ctx.spec.name;
    const plan = await gcp.plan(ctx);
    expect(plan.image.name).toBe('ubuntu-2404-noble-amd64-v20261101'); // newest, not the deprecated one
    expect(plan.instanceType).toBe('e2-medium');
    expect(plan.resources.map((r) => r.kind)).toEqual(['firewall rule', 'Compute Engine instance', 'boot disk', 'ephemeral external IPv4']);

    const vm = await gcp.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(vm).toMatchObject({ state: 'running', instanceType: 'e2-medium' });
    const [inst] = instancesOf(emu, name);
    expect(inst!.zone).toBe('us-central1-a');
    expect(inst!.shielded).toEqual({ enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true });
    expect(inst!.serviceAccounts).toEqual([]);
    expect(inst!.labels).toEqual({ 'crawl4ai-mcp-deployment': name, 'managed-by': 'crawl4ai-mcp' });
    expect(inst!.disk).toMatchObject({ sizeGb: 30, type: 'pd-balanced', autoDelete: true, labels: inst!.labels });
    expect(metadataOf(inst!, 'block-project-ssh-keys')).toBe('true');
    expect(inst!.requestId).toBe(journal.find('gcp:instance')!.token);
    expect(journal.find('gcp:instance')).toMatchObject({ phase: 'created', id: `us-central1-a/crawl4ai-mcp-${name}` });

    // the default network lets SSH in from anywhere; our deny rule (priority 1000) outranks it
    const [fw] = firewallsOf(emu, name);
    expect(fw).toMatchObject({ name: `crawl4ai-mcp-${name}-deny-ingress`, priority: 1000, denied: [{ IPProtocol: 'all' }], allowed: [] });
    for (const port of [22, 3389, 443, 11235]) expect(emu.state.reachable(inst!, port), `port ${port}`).toBe(false);
  });

  it('a guest shutdown (the idle watchdog) ends in TERMINATED, which status reports as stopped and start brings back', async () => {
    const emu = await emulator();
    const d = deployment(emu);
    await gcp.apply(d.ctx, d.journal, bootstrapFactory('tunnel'));
    const [inst] = instancesOf(emu, d.ctx.spec.name);
    emu.guestShutdown(inst!.name);
    await new Promise((r) => setTimeout(r, 100));
    emu.state.tick();
    expect(inst!.status).toBe('TERMINATED'); // no vCPU/memory billing in this state
    expect((await gcp.status(d.ctx, d.journal)).state).toBe('stopped');
    expect((await gcp.start(d.ctx, d.journal)).state).toBe('running');
  });

  it('public mode: a labelled static address known before boot, 443 reachable, 22 still not', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu, { network: 'public' });
    const seen: Array<{ publicIp?: string }> = [];
    const vm = await gcp.apply(ctx, journal, bootstrapFactory('public', seen));
    const [addr] = [...emu.state.addresses.values()];
    expect(seen).toEqual([{ publicIp: addr!.address }]);
    expect(vm.publicIp).toBe(addr!.address);
    const [inst] = instancesOf(emu, ctx.spec.name);
    expect(inst!.natIP).toBe(addr!.address);
    expect(emu.state.reachable(inst!, 443)).toBe(true);
    expect(emu.state.reachable(inst!, 22)).toBe(false);
    expect(emu.state.reachable(inst!, 3389)).toBe(false);
    expect(firewallsOf(emu, ctx.spec.name).map((f) => f.name).sort()).toEqual(
      [`crawl4ai-mcp-${ctx.spec.name}-deny-ingress`, `crawl4ai-mcp-${ctx.spec.name}-https`, `crawl4ai-mcp-${ctx.spec.name}-https-v6`].sort(),
    );
  });

  it('without our deny rule the default network would let SSH in (the emulator evaluates default-allow-ssh)', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu);
    await gcp.apply(ctx, journal, bootstrapFactory('tunnel'));
    const [inst] = instancesOf(emu, ctx.spec.name);
    emu.state.firewalls.delete(`crawl4ai-mcp-${ctx.spec.name}-deny-ingress`);
    expect(emu.state.reachable(inst!, 22)).toBe(true);
    expect(emu.state.reachable(inst!, 443)).toBe(false);
  });
});

describe('gcp provider: the cloud pushing back', () => {
  it('a stockout in the first zones (operation DONE with ZONE_RESOURCE_POOL_EXHAUSTED, HTTP 200) moves on to the next zone and says which were tried', async () => {
    const emu = await emulator();
    emu.stockout([
      { zone: 'us-central1-a', machineType: '*' },
      { zone: 'us-central1-b', machineType: 'e2-medium' },
    ]);
    const { ctx, journal, lines } = deployment(emu);
    const vm = await gcp.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(vm.state).toBe('running');
    expect(instancesOf(emu, ctx.spec.name).map((i) => i.zone)).toEqual(['us-central1-c']);
    expect(lines.filter((l) => /has no capacity/.test(l))).toEqual([
      'zone us-central1-a has no capacity for e2-medium right now; trying another zone',
      'zone us-central1-b has no capacity for e2-medium right now; trying another zone',
    ]);
  });

  it('no zone of the region has capacity: exit 4 naming every zone tried and the other sizes', async () => {
    const emu = await emulator();
    emu.stockout([{ zone: '*', machineType: 'e2-medium' }]);
    const { ctx, journal } = deployment(emu);
    const e = await caught(gcp.apply(ctx, journal, bootstrapFactory('tunnel')));
    expect(e.exitCode).toBe(4);
    expect(e.message).toBe('Compute Engine has no capacity for e2-medium in us-central1 right now (ZONE_RESOURCE_POOL_EXHAUSTED in us-central1-a, us-central1-b, us-central1-c, us-central1-f)');
    expect(e.hint).toBe('try --size medium or --size large or another --region');
    expect(journal.find('gcp:instance')!.phase).toBe('deleted');
  });

  it('start of a stopped VM whose zone has no capacity is exit 4 naming the machine type and zone (an instance cannot change zones)', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu);
    await gcp.apply(ctx, journal, bootstrapFactory('tunnel'));
    await gcp.stop(ctx, journal);
    emu.stockout([{ zone: 'us-central1-a', machineType: 'e2-medium' }]);
    const e = await caught(gcp.start(ctx, journal));
    expect(e.exitCode).toBe(4);
    expect(e.message).toBe('Compute Engine has no capacity for e2-medium in us-central1-a right now (ZONE_RESOURCE_POOL_EXHAUSTED)');
    expect(e.hint).toBe('try --size medium or --size large or another --region');
    expect(instancesOf(emu, ctx.spec.name)[0]!.status).toBe('TERMINATED');
  });

  it('an insert whose journal write was lost is deduplicated by its requestId; one made with another requestId (409) is adopted', async () => {
    const emu = await emulator();
    const { ctx, journal, store } = deployment(emu);
    await gcp.apply(ctx, journal, bootstrapFactory('tunnel'));
    const made = instancesOf(emu, ctx.spec.name)[0]!;
    const rewound = structuredClone(journal.state);
    const rec = rewound.resources.find((r) => r.key === 'gcp:instance')!;
    rec.phase = 'intent';
    delete rec.id;
    await gcp.apply(ctx, new Journal(store, structuredClone(rewound)), bootstrapFactory('tunnel'));
    expect(instancesOf(emu, ctx.spec.name).map((i) => i.id)).toEqual([made.id]);
    const inserts = emu.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/instances'));
    expect(inserts).toHaveLength(2);
    expect(new Set(inserts.map((r) => r.query.requestId)).size).toBe(1);

    rec.token = '00000000-0000-4000-8000-000000000001'; // a token Compute never saw
    const resumed = new Journal(store, rewound);
    await gcp.apply(ctx, resumed, bootstrapFactory('tunnel'));
    expect(emu.requests.filter((r) => r.reason === 'alreadyExists')).toHaveLength(1);
    expect(instancesOf(emu, ctx.spec.name).map((i) => i.id)).toEqual([made.id]);
    expect(resumed.find('gcp:instance')).toMatchObject({ phase: 'created', id: `${made.zone}/${made.name}` });
  });

  it('destroy right after apply, while list calls do not show the new instance yet (eventual consistency), deletes it through the journal', async () => {
    const emu = await emulator({ listLagMs: 60_000 });
    const { ctx, journal } = deployment(emu);
    await gcp.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect((await gcp.discover(ctx)).filter((r) => r.kind === 'gcp:instance')).toEqual([]); // not listed yet
    await gcp.destroy(ctx, journal);
    expect(emu.resourcesOf(ctx.spec.name)).toEqual([]);
  });

  it('rateLimitExceeded (429) is retried with backoff', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu);
    emu.throttleNext(5);
    expect((await gcp.apply(ctx, journal, bootstrapFactory('tunnel'))).state).toBe('running');
    expect(emu.requests.filter((r) => r.reason === 'rateLimitExceeded')).toHaveLength(5);
  });

  it('scrubBootstrap replaces user-data with the secret-free one, with the current fingerprint, reading again after a 412, and keeps the other metadata', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu);
    await gcp.apply(ctx, journal, bootstrapFactory('tunnel'));
    emu.raceMetadataNext(2);
    await gcp.scrubBootstrap(ctx, journal);
    const [inst] = instancesOf(emu, ctx.spec.name);
    expect(metadataOf(inst!, 'user-data')).toBe(SCRUBBED_USER_DATA);
    expect(metadataOf(inst!, 'block-project-ssh-keys')).toBe('true');
    expect(metadataOf(inst!, 'disable-legacy-endpoints')).toBe('true');
    expect(emu.requests.filter((r) => r.reason === 'conditionNotMet')).toHaveLength(2);
    await gcp.scrubBootstrap(ctx, journal); // nothing left to remove: no call
    expect(emu.requests.filter((r) => r.path.endsWith('/setMetadata'))).toHaveLength(3);
  });

  it('destroy after the state file is lost pages through the lists and leaves other deployments alone', async () => {
    const emu = await emulator({ pageSize: 1 });
    const { ctx, journal } = deployment(emu, { network: 'public' });
    await gcp.apply(ctx, journal, bootstrapFactory('public'));
    const other = deployment(emu);
    await gcp.apply(other.ctx, other.journal, bootstrapFactory('tunnel'));
    const lost = deployment(emu, { name: ctx.spec.name, network: 'public' });
    expect((await gcp.discover(lost.ctx)).map((r) => r.kind).sort()).toEqual(['gcp:address', 'gcp:firewall', 'gcp:firewall', 'gcp:firewall', 'gcp:instance']);
    expect(emu.requests.some((r) => r.path.endsWith('/global/firewalls') && r.query.pageToken)).toBe(true);
    await gcp.destroy(lost.ctx, lost.journal);
    expect(emu.resourcesOf(ctx.spec.name)).toEqual([]);
    expect(instancesOf(emu, other.ctx.spec.name)).toHaveLength(1);
    expect(emu.state.firewalls.has('default-allow-ssh')).toBe(true);
  });

  it('validateCredentials asks testIamPermissions for exactly the permissions of the role file and names each missing one', async () => {
    const emu = await emulator();
    const { ctx } = deployment(emu, { network: 'public' });
    emu.denyPermissions(['compute.firewalls.create', 'compute.addresses.create']);
    const v = await gcp.validateCredentials(ctx);
    expect(v.identity).toBe(`crawl4ai-mcp@${emu.project}.iam.gserviceaccount.com`);
    expect(v.missing).toEqual(['compute.firewalls.create', 'compute.addresses.create']);
    expect(emu.requests.filter((r) => r.path.endsWith(':testIamPermissions'))).toHaveLength(1);

    emu.denyPermissions([]);
    emu.throttleNext(2); // the REST call outside the compute package is retried like the others
    expect((await gcp.validateCredentials(ctx)).missing).toEqual([]);
    expect(emu.requests.filter((r) => r.path.endsWith(':testIamPermissions') && r.reason === 'rateLimitExceeded')).toHaveLength(2);
  });

  it('a deployment name ending in "-" is refused before any call (Compute names cannot end with "-")', async () => {
    const emu = await emulator();
    const { ctx } = deployment(emu, { name: 'trailing-' });
    const e = await caught(gcp.plan(ctx));
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('cannot end with "-"');
    expect(emu.requests).toEqual([]);
  });
});
