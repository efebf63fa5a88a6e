// Provider conformance: the cases every cloud must pass, written only against the Provider interface
// and the ProviderHarness below, so AWS, GCP and Azure run the very same cases.
// To plug in a cloud: in test/<cloud>-provider.test.ts write `<cloud>Harness(): ProviderHarness` around
// that cloud's loopback emulator (test/emulators/<cloud>/) and call
//   describeProviderConformance('gcp', gcpHarness);
// The factory is called once per case and every harness owns its own emulator (setup() starts it on
// port 0, teardown() closes it): the cases run concurrently. context() reaches the emulator through
// ctx.env only; resourcesOf/inboundRules/vm/staticAddress read the emulator's state directly, with the
// ids the provider journals and discovers; faults map to the emulator's switches. Checks only one cloud
// has (request shapes, retry codes, names) stay in that cloud's test file. See test/aws-provider.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { CliError } from '../../src/ground/errors.js';
import type { DeploymentSpec, NetworkMode, ProviderCredentials, VmState } from '../../src/model/deployment.js';
import type { BootstrapFactory, Provider, ProviderContext } from '../../src/providers/provider.js';
import { MANAGED_BY, TAG_DEPLOYMENT, TAG_MANAGED_BY } from '../../src/model/deployment.js';
import { Journal } from '../../src/state/journal.js';
import { newDeploymentState } from '../../src/state/schema.js';
import { StateStore } from '../../src/state/store.js';

/** A live resource the emulator holds for a deployment (found by its crawl4ai-mcp:deployment tag). */
export interface EmulatedResource {
  /** the emulator's resource type; the ones the cases look for are named in ProviderHarness.resourceTypes */
  type: string;
  /** the same id the provider journals and discover() reports */
  id: string;
  state?: string;
  tags: Record<string, string>;
}

/** What the emulator holds about the deployment's VM, for the hardening and lifecycle assertions. */
export interface VmFacts {
  /** normalised to the Provider's VmState */
  state: VmState;
  /** the cloud's machine type (what Provider.sizes maps to) */
  instanceType: string;
  /** the image the VM was created from (compared with Plan.image.id) */
  image: string;
  /** boot disk size (compared with Plan.diskGiB) */
  diskGiB: number;
  /** every disk of the VM is encrypted at rest */
  encryptedDisk: boolean;
  /** an SSH key (key pair, ssh-keys metadata, admin key) is installed */
  hasSshKey: boolean;
  /** a cloud identity is attached (instance profile, service account, managed identity) that may do more than stop this VM itself */
  hasCloudIdentity: boolean;
  /** the metadata service refuses what an SSRF or a container can send (AWS: IMDSv2 required, hop limit 1) */
  metadataHardened: boolean;
  /** the address the VM answers on, if any */
  publicIp?: string;
  /** the bootstrap as the VM receives it (decoded) */
  userData?: string;
  tags: Record<string, string>;
}

export interface ProviderHarness {
  provider: Provider;
  region: string;
  /** starts this harness's emulator; called before each case */
  setup(): Promise<void>;
  /** closes it; called after each case, even a failed one */
  teardown(): Promise<void>;
  /** a context for `spec` (provider, region, size small and network tunnel filled in), endpoints in env, short poll interval */
  context(spec: Partial<DeploymentSpec> & { name: string }, credentials?: ProviderCredentials): ProviderContext;
  /** the emulator's type names for the pieces the cases look for */
  resourceTypes: { vm: string; disk: string; firewall: string; address: string };
  /** live resources the emulator holds for the deployment (terminated VMs excluded) */
  resourcesOf(deployment: string): EmulatedResource[];
  /** inbound rules of the deployment's firewall / security group / NSG as "proto:from-to:source" ("all" for any protocol) */
  inboundRules(deployment: string): string[];
  /** the deployment's (one, not terminated) VM, or undefined */
  vm(deployment: string): VmFacts | undefined;
  /**
   * The bootstrap as someone with read access to the cloud account can read it back through the
   * cloud's API ('' / undefined when the cloud keeps it write-only, as Azure does customData).
   * Default: the VM's `userData` as the emulator holds it.
   */
  readableBootstrap?(deployment: string): Promise<string | undefined>;
  /** the static address reserved for the deployment (public mode), or undefined */
  staticAddress(deployment: string): string | undefined;
  faults: {
    /** the credentials lose the permission to create the VM (dry runs included) */
    denyCreateVm(): void;
    /** creating or starting a VM of this machine type fails for lack of capacity */
    noCapacity(instanceType: string): void;
    /** the region has no default network (VPC / network / virtual network); not undone by reset() */
    noDefaultNetwork(): void;
    /** the next n requests get the cloud's rate-limit answer */
    throttle(n: number): void;
    /** clears denyCreateVm, noCapacity and throttle */
    reset(): void;
  };
  /** the permission name the provider reports when VM creation is denied, e.g. 'ec2:RunInstances' */
  vmCreatePermission: string;
  /** the least-privilege policy file the provider points at when a permission is missing */
  policyFile: string;
  /** credentials the emulator rejects, and the secret among them that must never be echoed */
  badCredentials: { credentials: ProviderCredentials; secret: string };
}

interface BootstrapCall {
  address: { publicIp?: string };
  userData: string;
  /** whether the emulator held the VM / a static address at the moment the bootstrap was rendered */
  vmExisted: boolean;
  addressExisted: boolean;
}

/** The CliError a promise rejects with (anything else fails the test). */
export async function caught(p: Promise<unknown>): Promise<CliError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CliError) return e;
    throw e;
  }
  throw new Error('expected a CliError');
}

/** Does an inbound rule "proto:from-to:source" let TCP port `port` in? */
function opens(rule: string, port: number): boolean {
  const m = /^([^:]+):(\d+)-(\d+):/.exec(rule);
  if (!m) return true; // unparseable: count it as open, so it fails loudly
  const [, proto, from, to] = m;
  return (proto === 'tcp' || proto === 'all') && Number(from) <= port && Number(to) >= port;
}

export function describeProviderConformance(name: string, harness: () => ProviderHarness): void {
  let dir: string;
  let seq = 0;

  /** One case: a fresh harness (own emulator), set up before and torn down after. */
  const withHarness =
    (body: (h: ProviderHarness, expect: ExpectStatic) => Promise<void>) =>
    async ({ expect }: { expect: ExpectStatic }) => {
      const h = harness();
      await h.setup();
      try {
        await body(h, expect);
      } finally {
        await h.teardown();
      }
    };

  /** A deployment: its context, a journal backed by a real state file, and a recording bootstrap. */
  function deployment(h: ProviderHarness, spec: Partial<DeploymentSpec> = {}) {
    const deploymentName = spec.name ?? `conf-${++seq}`;
    const ctx = h.context({ ...spec, name: deploymentName });
    const store = new StateStore(path.join(dir, deploymentName));
    const journal = new Journal(store, newDeploymentState(deploymentName));
    const calls: BootstrapCall[] = [];
    const bootstrap = (network: NetworkMode = ctx.spec.network): BootstrapFactory =>
      (address) => {
        const live = h.resourcesOf(deploymentName);
        const userData = `#cloud-config\n# conformance ${deploymentName} host ${address.publicIp ?? 'tunnel'}\nruncmd: [echo hello]\n`;
        calls.push({
          address: { ...address },
          userData,
          vmExisted: live.some((r) => r.type === h.resourceTypes.vm),
          addressExisted: live.some((r) => r.type === h.resourceTypes.address),
        });
        return { userData, inboundPorts: network === 'public' ? [443] : [] };
      };
    return { name: deploymentName, ctx, store, journal, calls, bootstrap };
  }

  const countOf = (h: ProviderHarness, deploymentName: string, type: string) => h.resourcesOf(deploymentName).filter((r) => r.type === type).length;
  const providerRecords = (h: ProviderHarness, journal: Journal) => journal.live().filter((r) => r.kind.startsWith(`${h.provider.name}:`));

  /** Every record the journal holds for the provider is 'created', with an id the emulator holds. */
  function expectJournalMatchesCloud(expect: ExpectStatic, h: ProviderHarness, journal: Journal, deploymentName: string) {
    const ids = new Set(h.resourcesOf(deploymentName).map((r) => r.id));
    const records = providerRecords(h, journal);
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      expect(r.phase, r.key).toBe('created');
      expect(ids.has(r.id ?? ''), `${r.key} ${r.id} is live in the cloud`).toBe(true);
    }
  }

  describe.concurrent(`provider conformance: ${name}`, () => {
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `c4m-conformance-${name}-`));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it(
      'plan creates nothing and prices the size',
      withHarness(async (h, expect) => {
        const d = deployment(h);
        const plans = {
          small: await h.provider.plan(d.ctx),
          medium: await h.provider.plan({ ...d.ctx, spec: { ...d.ctx.spec, size: 'medium' } }),
          large: await h.provider.plan({ ...d.ctx, spec: { ...d.ctx.spec, size: 'large' } }),
        };
        for (const [size, plan] of Object.entries(plans) as Array<[keyof typeof plans, (typeof plans)['small']]>) {
          expect(plan).toMatchObject({ provider: h.provider.name, region: h.region, size, instanceType: h.provider.sizes[size] });
          expect(plan.memoryGiB).toBeGreaterThanOrEqual(4);
          expect(plan.vcpus).toBeGreaterThanOrEqual(1);
          expect(plan.diskGiB).toBeGreaterThan(0);
          expect(plan.image.id).not.toBe('');
          expect(plan.image.name).not.toBe('');
          expect(plan.resources.length).toBeGreaterThan(0);
          expect(plan.cost.monthlyUsd).toBeGreaterThan(0);
          expect(plan.cost.lines.reduce((sum, l) => sum + l.monthlyUsd, 0)).toBeCloseTo(plan.cost.monthlyUsd, 2);
          expect(plan.cost.stoppedMonthlyUsd).toBeLessThan(plan.cost.monthlyUsd);
          expect(plan.cost.priceDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
          expect(plan.cost.excludes.length).toBeGreaterThan(0);
        }
        expect(plans.medium.memoryGiB).toBeGreaterThan(plans.small.memoryGiB);
        expect(plans.small.cost.monthlyUsd).toBeLessThan(plans.medium.cost.monthlyUsd);
        expect(plans.medium.cost.monthlyUsd).toBeLessThan(plans.large.cost.monthlyUsd);
        expect(h.resourcesOf(d.name)).toEqual([]); // plan creates nothing
        expect(h.vm(d.name)).toBeUndefined();
      }),
    );

    it(
      'apply in tunnel mode opens no inbound port',
      withHarness(async (h, expect) => {
        const d = deployment(h, { network: 'tunnel' });
        const vm = await h.provider.apply(d.ctx, d.journal, d.bootstrap());
        expect(vm.state).toBe('running');
        expect(vm.instanceType).toBe(h.provider.sizes.small);
        expect(d.calls).toHaveLength(1);
        expect(d.calls[0]!.address.publicIp).toBeUndefined(); // no static address, no hostname to render
        expect(h.inboundRules(d.name)).toEqual([]);
        expect(countOf(h, d.name, h.resourceTypes.vm)).toBe(1);
        expect(countOf(h, d.name, h.resourceTypes.firewall)).toBe(1);
        expect(countOf(h, d.name, h.resourceTypes.address)).toBe(0);
        expect(h.staticAddress(d.name)).toBeUndefined();
        expectJournalMatchesCloud(expect, h, d.journal, d.name);
        const status = await h.provider.status(d.ctx, d.journal);
        expect(status).toMatchObject({ state: 'running', instanceType: h.provider.sizes.small });
        // the VM here never boots, so it has reported no image: status says why instead of failing
        expect(status.image).toEqual({ unknown: expect.stringMatching(/still booting|not reported/) });
      }),
    );

    it(
      'apply in public mode opens only 443 (IPv4 and IPv6) and renders the bootstrap for the static address before the VM exists',
      withHarness(async (h, expect) => {
        const d = deployment(h, { network: 'public' });
        const vm = await h.provider.apply(d.ctx, d.journal, d.bootstrap());
        const address = h.staticAddress(d.name);
        expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        // the bootstrap (TLS hostname) was rendered once, for the static address, before the VM was created
        expect(d.calls.map((c) => c.address)).toEqual([{ publicIp: address }]);
        expect(d.calls[0]).toMatchObject({ vmExisted: false, addressExisted: true });
        expect(vm.publicIp).toBe(address);
        expect(h.vm(d.name)!.publicIp).toBe(address);

        const rules = h.inboundRules(d.name);
        expect([...rules].sort()).toEqual(['tcp:443-443:0.0.0.0/0', 'tcp:443-443:::/0']);
        expect(rules.filter((r) => opens(r, 22))).toEqual([]);
        expect(countOf(h, d.name, h.resourceTypes.address)).toBe(1);
        expectJournalMatchesCloud(expect, h, d.journal, d.name);
      }),
    );

    it(
      'apply twice resumes: one VM, one firewall, the same address',
      withHarness(async (h, expect) => {
        const d = deployment(h);
        const first = await h.provider.apply(d.ctx, d.journal, d.bootstrap());
        const second = await h.provider.apply(d.ctx, d.journal, d.bootstrap());
        expect(second.state).toBe('running');
        expect(second.publicIp).toBe(first.publicIp);
        expect(countOf(h, d.name, h.resourceTypes.vm)).toBe(1);
        expect(countOf(h, d.name, h.resourceTypes.firewall)).toBe(1);
        expectJournalMatchesCloud(expect, h, d.journal, d.name);
      }),
    );

    it(
      'apply interrupted after the firewall (VM creation denied) is exit 3 naming the permission; the next run resumes from the state file without duplicates',
      withHarness(async (h, expect) => {
        const d = deployment(h);
        h.faults.denyCreateVm();
        const e = await caught(h.provider.apply(d.ctx, d.journal, d.bootstrap()));
        expect(e.exitCode).toBe(3);
        expect(e.message).toContain(h.vmCreatePermission);
        expect(e.hint).toContain(h.policyFile);
        const firewalls = h.resourcesOf(d.name).filter((r) => r.type === h.resourceTypes.firewall);
        expect(firewalls).toHaveLength(1);
        expect(countOf(h, d.name, h.resourceTypes.vm)).toBe(0);

        h.faults.reset();
        // a new process: the journal as the state file on disk holds it
        const onDisk = await d.store.read(d.name);
        expect(onDisk).not.toBeNull();
        const resumed = new Journal(d.store, onDisk!);
        const vm = await h.provider.apply(d.ctx, resumed, d.bootstrap());
        expect(vm.state).toBe('running');
        expect(countOf(h, d.name, h.resourceTypes.vm)).toBe(1);
        expect(h.resourcesOf(d.name).filter((r) => r.type === h.resourceTypes.firewall).map((r) => r.id)).toEqual(firewalls.map((r) => r.id));
        expectJournalMatchesCloud(expect, h, resumed, d.name);
      }),
    );

    it(
      'apply on a deployment whose VM was stopped starts it instead of creating another',
      withHarness(async (h, expect) => {
        const d = deployment(h);
        await h.provider.apply(d.ctx, d.journal, d.bootstrap());
        await h.provider.stop(d.ctx, d.journal);
        const vm = await h.provider.apply(d.ctx, d.journal, d.bootstrap());
        expect(vm.state).toBe('running');
        expect(countOf(h, d.name, h.resourceTypes.vm)).toBe(1);
      }),
    );

    it(
      'the VM is hardened: metadata service, encrypted disk, no SSH key, no cloud identity, tags on every resource',
      withHarness(async (h, expect) => {
        const d = deployment(h, { network: 'public' });
        const plan = await h.provider.plan(d.ctx);
        await h.provider.apply(d.ctx, d.journal, d.bootstrap());
        const vm = h.vm(d.name)!;
        expect(vm).toBeDefined();
        expect(vm.image).toBe(plan.image.id);
        expect(vm.diskGiB).toBe(plan.diskGiB);
        expect(vm.metadataHardened).toBe(true);
        expect(vm.encryptedDisk).toBe(true);
        expect(vm.hasSshKey).toBe(false);
        expect(vm.hasCloudIdentity).toBe(false);
        expect(vm.userData).toBe(d.calls[0]!.userData);
        expect(vm.userData).toContain('#cloud-config');
        expect(vm.tags).toMatchObject({ [TAG_DEPLOYMENT]: d.name, [TAG_MANAGED_BY]: MANAGED_BY });

        const resources = h.resourcesOf(d.name);
        const { vm: vmType, disk, firewall, address } = h.resourceTypes;
        for (const type of [vmType, disk, firewall, address]) expect(resources.some((r) => r.type === type), `a tagged ${type}`).toBe(true);
        for (const r of resources) {
          expect(r.tags, `${r.type} ${r.id}`).toMatchObject({ [TAG_DEPLOYMENT]: d.name, [TAG_MANAGED_BY]: MANAGED_BY });
        }
      }),
    );

    it(
      'scrubBootstrap leaves the VM running with secret-free user data (same VM, same address); a second scrub is harmless',
      withHarness(async (h, expect) => {
        const d = deployment(h, { network: 'public' });
        const secret = `secret-${'s'.repeat(40)}`;
        const withSecret: BootstrapFactory = (address) => {
          const b = d.bootstrap()(address);
          return { ...b, userData: `${b.userData}write_files: [{path: /etc/x.env, permissions: '0600', content: "T=${secret}"}]\n` };
        };
        await h.provider.apply(d.ctx, d.journal, withSecret);
        const before = h.vm(d.name)!;
        expect(before.userData).toContain(secret);

        const vm = await h.provider.scrubBootstrap(d.ctx, d.journal);
        expect(vm.state).toBe('running');
        const after = h.vm(d.name)!;
        expect(after.state).toBe('running');
        // what a cloud reader sees holds no secret: a secret-free #cloud-config, or nothing at all
        const readable = h.readableBootstrap ? await h.readableBootstrap(d.name) : after.userData;
        if (readable) expect(readable).toMatch(/^#cloud-config\n/);
        expect(readable ?? '').not.toContain(secret);
        expect(after.publicIp).toBe(h.staticAddress(d.name));
        expect(countOf(h, d.name, h.resourceTypes.vm)).toBe(1);

        await h.provider.scrubBootstrap(d.ctx, d.journal);
        expect(h.vm(d.name)).toMatchObject({ state: 'running', userData: after.userData });
        expectJournalMatchesCloud(expect, h, d.journal, d.name);
      }),
    );

    for (const network of ['tunnel', 'public'] as const) {
      it(
        `status, resize, stop and start move the VM through its states (${network} mode${network === 'public' ? ', keeping the address' : ''})`,
        withHarness(async (h, expect) => {
          const d = deployment(h, { network });
          await h.provider.apply(d.ctx, d.journal, d.bootstrap());
          const address = h.staticAddress(d.name);
          if (network === 'public') expect(address).toBeDefined();
          const keepsAddress = (publicIp: string | undefined) => {
            if (network === 'public') expect(publicIp).toBe(address);
          };

          const status = await h.provider.status(d.ctx, d.journal);
          expect(status).toMatchObject({ state: 'running', instanceType: h.provider.sizes.small });
          keepsAddress(status.publicIp);

          const resized = await h.provider.resize(d.ctx, d.journal, 'medium');
          expect(resized).toMatchObject({ state: 'running', instanceType: h.provider.sizes.medium });
          expect(h.vm(d.name)!.instanceType).toBe(h.provider.sizes.medium);
          keepsAddress(resized.publicIp);

          expect(await h.provider.stop(d.ctx, d.journal)).toMatchObject({ state: 'stopped' });
          expect(h.vm(d.name)!.state).toBe('stopped');
          expect(await h.provider.status(d.ctx, d.journal)).toMatchObject({ state: 'stopped' });

          const started = await h.provider.start(d.ctx, d.journal);
          expect(started.state).toBe('running');
          expect(h.vm(d.name)!.state).toBe('running');
          keepsAddress(started.publicIp);
          keepsAddress(h.vm(d.name)!.publicIp);
          const after = await h.provider.status(d.ctx, d.journal);
          expect(after).toMatchObject({ state: 'running', instanceType: h.provider.sizes.medium });
          keepsAddress(after.publicIp);
          expect(countOf(h, d.name, h.resourceTypes.vm)).toBe(1);
        }),
      );
    }

    it(
      'scale to a size without capacity puts the old size back and says so (exit 4)',
      withHarness(async (h, expect) => {
        const d = deployment(h);
        await h.provider.apply(d.ctx, d.journal, d.bootstrap());
        h.faults.noCapacity(h.provider.sizes.large);
        const e = await caught(h.provider.resize(d.ctx, d.journal, 'large'));
        expect(e.exitCode).toBe(4);
        expect(e.message).toContain(`running again as ${h.provider.sizes.small}`);
        expect(await h.provider.status(d.ctx, d.journal)).toMatchObject({ state: 'running', instanceType: h.provider.sizes.small });
      }),
    );

    for (const network of ['tunnel', 'public'] as const) {
      it(
        `destroy leaves zero resources, and running it again is fine (${network} mode)`,
        withHarness(async (h, expect) => {
          const d = deployment(h, { network });
          await h.provider.apply(d.ctx, d.journal, d.bootstrap());
          expect(h.resourcesOf(d.name).length).toBeGreaterThan(0);
          expect(providerRecords(h, d.journal).length).toBeGreaterThan(0);
          await h.provider.destroy(d.ctx, d.journal);
          expect(h.resourcesOf(d.name)).toEqual([]);
          expect(h.staticAddress(d.name)).toBeUndefined();
          expect(providerRecords(h, d.journal)).toEqual([]);
          expect(await h.provider.status(d.ctx, d.journal)).toEqual({ state: 'missing' });
          expect(await h.provider.discover(d.ctx)).toEqual([]);
          await h.provider.destroy(d.ctx, d.journal);
          expect(h.resourcesOf(d.name)).toEqual([]);
        }),
      );
    }

    it(
      'destroy with an empty journal (state file lost) finds everything by tag and leaves other deployments alone',
      withHarness(async (h, expect) => {
        const d = deployment(h, { network: 'public' });
        await h.provider.apply(d.ctx, d.journal, d.bootstrap());
        const other = deployment(h);
        await h.provider.apply(other.ctx, other.journal, other.bootstrap());
        const othersBefore = h.resourcesOf(other.name).map((r) => r.id).sort();

        const lost = deployment(h, { name: d.name, network: 'public' }); // a fresh, empty journal
        expect(lost.journal.live()).toEqual([]);
        await h.provider.destroy(lost.ctx, lost.journal);
        expect(h.resourcesOf(d.name)).toEqual([]);
        expect(await h.provider.discover(lost.ctx)).toEqual([]);
        expect(h.resourcesOf(other.name).map((r) => r.id).sort()).toEqual(othersBefore);
        expect(h.vm(other.name)!.state).toBe('running');
      }),
    );

    it(
      "discover lists exactly the deployment's resources, not another deployment's",
      withHarness(async (h, expect) => {
        const d = deployment(h, { network: 'public' });
        const other = deployment(h);
        await Promise.all([
          h.provider.apply(d.ctx, d.journal, d.bootstrap()),
          h.provider.apply(other.ctx, other.journal, other.bootstrap()),
        ]);
        const found = await h.provider.discover(h.context({ name: d.name, network: 'public' }));
        const ids = found.map((f) => f.id);
        expect(new Set(ids).size).toBe(ids.length);
        const mine = h.resourcesOf(d.name);
        const theirs = new Set(h.resourcesOf(other.name).map((r) => r.id));
        // nothing that is not the deployment's ...
        for (const f of found) {
          expect(mine.some((r) => r.id === f.id), `${f.kind} ${f.id} belongs to ${d.name}`).toBe(true);
          expect(theirs.has(f.id)).toBe(false);
          expect(f.kind.startsWith(`${h.provider.name}:`)).toBe(true);
          expect(f.region).toBe(h.region);
        }
        // ... and everything that must be deleted by tag: the VM, its firewall rule(s), its address
        // (a GCP firewall rule cannot mix IPv4 and IPv6 ranges, so public mode there has several)
        const { vm, firewall, address } = h.resourceTypes;
        const mustList = mine.filter((r) => [vm, firewall, address].includes(r.type));
        expect([...new Set(mustList.map((r) => r.type))].sort()).toEqual([address, firewall, vm].sort());
        for (const r of mustList) expect(ids, `${r.type} ${r.id} discovered`).toContain(r.id);
      }),
    );

    it(
      'validateCredentials returns the identity and names the missing permission',
      withHarness(async (h, expect) => {
        const d = deployment(h, { network: 'public' });
        const ok = await h.provider.validateCredentials(d.ctx);
        expect(ok.identity).not.toBe('');
        expect(ok.missing).toEqual([]);
        expect(ok.allowed).toContain(h.vmCreatePermission);

        h.faults.denyCreateVm();
        const denied = await h.provider.validateCredentials(d.ctx);
        expect(denied.missing).toEqual([h.vmCreatePermission]);
        expect(denied.allowed).not.toContain(h.vmCreatePermission);
        expect(h.resourcesOf(d.name)).toEqual([]); // dry runs create nothing
      }),
    );

    it(
      'wrong credentials are exit 3 and never echo the secret',
      withHarness(async (h, expect) => {
        const name = `conf-${++seq}`;
        const ctx = h.context({ name }, h.badCredentials.credentials);
        const e = await caught(h.provider.validateCredentials(ctx));
        expect(e.exitCode).toBe(3);
        expect(`${e.message} ${e.hint}`).not.toContain(h.badCredentials.secret);
        const e2 = await caught(h.provider.plan(ctx));
        expect(e2.exitCode).toBe(3);
        expect(`${e2.message} ${e2.hint}`).not.toContain(h.badCredentials.secret);
      }),
    );

    it(
      'a region without a default network is exit 2 with a hint, and creates nothing',
      withHarness(async (h, expect) => {
        h.faults.noDefaultNetwork();
        const d = deployment(h);
        const e = await caught(h.provider.plan(d.ctx));
        expect(e.exitCode).toBe(2);
        expect(e.message).toContain(h.region);
        expect(e.hint ?? '').not.toBe('');
        expect((await caught(h.provider.apply(d.ctx, d.journal, d.bootstrap()))).exitCode).toBe(2);
        expect(h.resourcesOf(d.name)).toEqual([]);
      }),
    );

    it(
      'no capacity for the size is exit 4 naming other sizes; the next run with another size succeeds',
      withHarness(async (h, expect) => {
        const d = deployment(h);
        h.faults.noCapacity(h.provider.sizes.small);
        const e = await caught(h.provider.apply(d.ctx, d.journal, d.bootstrap()));
        expect(e.exitCode).toBe(4);
        expect(e.hint).toMatch(/--size medium/);
        expect(countOf(h, d.name, h.resourceTypes.vm)).toBe(0);

        const bigger = { ...d.ctx, spec: { ...d.ctx.spec, size: 'medium' as const } };
        const vm = await h.provider.apply(bigger, d.journal, d.bootstrap());
        expect(vm.instanceType).toBe(h.provider.sizes.medium);
        expect(countOf(h, d.name, h.resourceTypes.firewall)).toBe(1);
        expect(countOf(h, d.name, h.resourceTypes.vm)).toBe(1);
        expect(h.vm(d.name)!.instanceType).toBe(h.provider.sizes.medium);
      }),
    );

    it(
      'throttling is survived',
      withHarness(async (h, expect) => {
        const d = deployment(h);
        h.faults.throttle(4);
        const vm = await h.provider.apply(d.ctx, d.journal, d.bootstrap());
        expect(vm.state).toBe('running');
        expect(countOf(h, d.name, h.resourceTypes.vm)).toBe(1);
        expect(countOf(h, d.name, h.resourceTypes.firewall)).toBe(1);
      }),
    );
  });
}
