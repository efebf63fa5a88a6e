// The AWS provider against the EC2/STS emulator, through the real AWS SDK over HTTP (no SDK mocks).
// Endpoints reach the provider through ctx.env, never process.env.
// The cloud-agnostic cases live in ./conformance/provider-conformance.ts and run here through the
// AWS harness below; this file keeps what only AWS has (ClientToken, IMDSv2 hop limit, gp3, Elastic
// IPs, DependencyViolation, the InvalidInstanceID.NotFound window, paging, exact messages).
import { CreateTagsCommand, DescribeImagesCommand, ModifyInstanceAttributeCommand, RunInstancesCommand, StopInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAwsProvider } from '../src/providers/aws/index.js';
import { createAwsClients } from '../src/providers/aws/clients.js';
import { runInstancesInput } from '../src/providers/aws/launch.js';
import { createSecurityGroup, deleteSecurityGroup } from '../src/providers/aws/security-group.js';
import type { DeploymentSpec, NetworkMode, ProviderCredentials, VmState } from '../src/model/deployment.js';
import type { BootstrapFactory, ProviderContext } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState, type DeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { caught, describeProviderConformance, type ProviderHarness } from './conformance/provider-conformance.js';
import { loadPolicy, startEc2Emulator, type Ec2Emulator, type Instance } from './emulators/ec2/index.js';
import { findDefaultNetwork, findUbuntuImage } from '../src/providers/aws/lookups.js';

const REGION = 'us-east-1';
const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const aws = createAwsProvider();

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-aws-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const emulators: Ec2Emulator[] = [];
afterEach(async () => {
  for (const e of emulators.splice(0)) await e.close();
});
async function emulator(opts: Parameters<typeof startEc2Emulator>[0] = {}): Promise<Ec2Emulator> {
  // SigV4 signatures are checked, and every call is judged by the real IAM policy template.
  const emu = await startEc2Emulator({ transitionMs: 100, ...CREDS, iamPolicy: 'template', ...opts });
  emulators.push(emu);
  return emu;
}

let seq = 0;
interface Deployment {
  ctx: ProviderContext;
  journal: Journal;
  store: StateStore;
  lines: string[];
}
function deployment(emu: Ec2Emulator, spec: Partial<DeploymentSpec> = {}, extra: Partial<ProviderContext> = {}): Deployment {
  const name = spec.name ?? `t${++seq}`;
  const store = new StateStore(path.join(dir, `store-${seq}`));
  const lines: string[] = [];
  const ctx: ProviderContext = {
    spec: { name, provider: 'aws', region: REGION, size: 'small', network: 'tunnel', profile: 'default', ...spec },
    credentials: { kind: 'static', values: CREDS },
    env: { AWS_ENDPOINT_URL_EC2: emu.url, AWS_ENDPOINT_URL_STS: emu.url, AWS_ENDPOINT_URL_IAM: emu.url },
    pollMs: 20,
    progress: (m) => lines.push(m),
    debug: (m) => lines.push(`debug: ${m}`),
    ...extra,
  };
  return { ctx, journal: new Journal(store, newDeploymentState(name)), store, lines };
}

/** A stand-in for the rendered cloud-init: records the address it was rendered for. */
function bootstrapFactory(network: NetworkMode, seen: Array<{ publicIp?: string }> = []): BootstrapFactory {
  return (address) => {
    seen.push(address);
    return {
      userData: `#cloud-config\n# host ${address.publicIp ?? 'tunnel'}\nruncmd: [echo hello]\n`,
      inboundPorts: network === 'public' ? [443] : [],
    };
  };
}

const instancesOf = (emu: Ec2Emulator, name: string): Instance[] =>
  [...emu.state.instances.values()].filter((i) => i.tags['crawl4ai-mcp:deployment'] === name && i.state !== 'terminated');
const groupOf = (emu: Ec2Emulator, name: string) => [...emu.state.securityGroups.values()].filter((g) => g.tags['crawl4ai-mcp:deployment'] === name);
const addressesOf = (emu: Ec2Emulator, name: string) => [...emu.state.addresses.values()].filter((a) => a.tags['crawl4ai-mcp:deployment'] === name);

/** EC2 instance states as the Provider interface names them. */
function vmState(state: Instance['state']): VmState {
  return state === 'shutting-down' ? 'terminated' : state;
}

/**
 * The conformance harness for AWS: its own EC2/STS emulator per case, read directly (never through
 * the provider) for the facts the cloud-agnostic cases check.
 */
function awsHarness(): ProviderHarness {
  let current: Ec2Emulator | undefined;
  const emu = (): Ec2Emulator => {
    if (!current) throw new Error('awsHarness: setup() first');
    return current;
  };
  return {
    provider: aws,
    region: REGION,
    vmCreatePermission: 'ec2:RunInstances',
    policyFile: 'templates/policies/aws-iam-policy.json',
    badCredentials: {
      credentials: { kind: 'static', values: { accessKeyId: 'AKIDWRONGWRONG', secretAccessKey: 'definitely-secret-value' } },
      secret: 'definitely-secret-value',
    },
    resourceTypes: { vm: 'instance', disk: 'volume', firewall: 'security-group', address: 'elastic-ip' },
    async setup() {
      current = await startEc2Emulator({ transitionMs: 100, ...CREDS, iamPolicy: 'template' }); // SigV4 checked; calls judged by the real policy
    },
    async teardown() {
      await current?.close();
      current = undefined;
    },
    context(spec, credentials?: ProviderCredentials) {
      return deployment(emu(), spec, credentials ? { credentials } : {}).ctx;
    },
    resourcesOf(name) {
      const e = emu();
      const s = e.state;
      const tagsOf = (type: string, id: string): Record<string, string> => {
        const tagged =
          type === 'instance' ? s.instances.get(id) : type === 'security-group' ? s.securityGroups.get(id) : type === 'elastic-ip' ? s.addresses.get(id) : s.volumes.get(id);
        return { ...tagged?.tags };
      };
      return e.resourcesOf(name).map((r) => ({ ...r, tags: tagsOf(r.type, r.id) }));
    },
    inboundRules(name) {
      return groupOf(emu(), name).flatMap((g) =>
        g.ingress.map((r) => {
          const proto = r.protocol === '-1' ? 'all' : r.protocol;
          const source = r.cidrIpv4 ?? r.cidrIpv6 ?? r.prefixListId ?? r.referencedGroupId ?? '?';
          return `${proto}:${r.fromPort ?? 0}-${r.toPort ?? 65535}:${source}`;
        }),
      );
    },
    vm(name) {
      const e = emu();
      const [inst] = instancesOf(e, name);
      if (!inst) return undefined;
      const volumes = inst.blockDevices.map((b) => e.state.volumes.get(b.volumeId)).filter((v) => v !== undefined);
      const root = inst.blockDevices.find((b) => b.deviceName === inst.rootDeviceName);
      const address = [...e.state.addresses.values()].find((a) => a.instanceId === inst.instanceId);
      const publicIp = address?.publicIp ?? inst.ephemeralPublicIp;
      return {
        state: vmState(inst.state),
        instanceType: inst.instanceType,
        image: inst.imageId,
        diskGiB: root ? (e.state.volumes.get(root.volumeId)?.size ?? 0) : 0,
        encryptedDisk: volumes.length > 0 && volumes.every((v) => v.encrypted),
        hasSshKey: inst.keyName !== undefined,
        hasCloudIdentity: inst.iamInstanceProfile !== undefined,
        metadataHardened: inst.metadataOptions.httpTokens === 'required' && inst.metadataOptions.httpPutResponseHopLimit === 1,
        ...(publicIp ? { publicIp } : {}),
        ...(inst.userData !== undefined ? { userData: inst.userData } : {}),
        tags: { ...inst.tags },
      };
    },
    staticAddress(name) {
      return addressesOf(emu(), name)[0]?.publicIp;
    },
    faults: {
      denyCreateVm: () => emu().denyActions(['RunInstances']),
      noCapacity: (instanceType) => emu().insufficientCapacity([instanceType]),
      noDefaultNetwork: () => emu().removeDefaultVpc(),
      throttle: (n) => emu().throttleNext(n),
      reset: () => {
        emu().denyActions([]);
        emu().insufficientCapacity([]);
        emu().throttleNext(0);
      },
    },
  };
}

describeProviderConformance('aws', awsHarness);

describe('aws provider: what EC2 holds', () => {
  it('tunnel mode: the Canonical 24.04 image in the default VPC, IMDSv2 with hop limit 1, an encrypted 30 GiB gp3 root, no key pair, no instance profile, the ClientToken journaled', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu);
    const name = ctx.spec.name;

    const plan = await aws.plan(ctx);
    expect(plan.image.name).toMatch(/^ubuntu\/images\/hvm-ssd-gp3\/ubuntu-noble-24\.04-amd64-server-/);
    expect(plan.instanceType).toBe(aws.sizes.small);
    expect(plan.memoryGiB).toBeGreaterThanOrEqual(4);
    expect(plan.network.vpc).toMatch(/^vpc-/);
    expect(plan.network.subnet).toMatch(/^subnet-/);
    expect(plan.resources.map((r) => r.kind)).toEqual(['security group', 'EC2 instance', 'EBS volume', 'public IPv4 address']);
    expect(plan.cost.monthlyUsd).toBeGreaterThan(0);
    expect(emu.resourcesOf(name)).toEqual([]); // plan creates nothing

    const vm = await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(vm.state).toBe('running');
    expect(vm.instanceType).toBe(aws.sizes.small);
    expect(vm.publicIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/); // outbound needs a public IPv4 in the default subnet

    // what EC2 holds: hardened instance, tagged everywhere, zero inbound rules
    const [inst] = instancesOf(emu, name);
    expect(inst).toBeDefined();
    expect(inst!.imageId).toBe(plan.image.id);
    expect(inst!.metadataOptions).toMatchObject({ httpTokens: 'required', httpPutResponseHopLimit: 1, httpEndpoint: 'enabled' });
    expect(inst!.keyName).toBeUndefined();
    expect(inst!.iamInstanceProfile).toBeUndefined();
    expect(inst!.userData).toContain('#cloud-config');
    expect(inst!.tags).toMatchObject({ 'crawl4ai-mcp:deployment': name, 'managed-by': 'crawl4ai-mcp', Name: `crawl4ai-mcp-${name}` });
    const volumes = inst!.blockDevices.map((b) => emu.state.volumes.get(b.volumeId)!);
    expect(volumes).toHaveLength(1);
    expect(volumes[0]).toMatchObject({ size: 30, volumeType: 'gp3', encrypted: true });
    expect(volumes[0]!.tags).toMatchObject({ 'crawl4ai-mcp:deployment': name, 'managed-by': 'crawl4ai-mcp' });
    expect(inst!.blockDevices[0]!.deleteOnTermination).toBe(true);
    const [sg] = groupOf(emu, name);
    expect(sg!.groupName).toBe(`crawl4ai-mcp-${name}`);
    expect(sg!.ingress).toEqual([]);
    expect(inst!.securityGroupIds).toEqual([sg!.groupId]);
    expect(emu.resourcesOf(name).filter((r) => r.type === 'elastic-ip')).toEqual([]);

    // the journal: every resource created, with the ClientToken RunInstances carried
    const rec = journal.find('aws:instance')!;
    expect(rec).toMatchObject({ phase: 'created', id: inst!.instanceId });
    expect(inst!.clientToken).toBe(rec.token);
    expect(journal.find('aws:security-group')).toMatchObject({ phase: 'created', id: sg!.groupId });

    expect(await aws.status(ctx, journal)).toMatchObject({ state: 'running', instanceType: aws.sizes.small });
    const found = await aws.discover(ctx);
    expect(found.map((f) => f.kind).sort()).toEqual(['aws:instance', 'aws:security-group']);
  });

  it('public mode: an Elastic IP, tagged and associated, known before boot; the group allows 443 over IPv4 and IPv6 only; destroy releases the address', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu, { network: 'public' });
    const name = ctx.spec.name;
    const plan = await aws.plan(ctx);
    expect(plan.resources.map((r) => r.kind)).toContain('Elastic IP');

    const seen: Array<{ publicIp?: string }> = [];
    const vm = await aws.apply(ctx, journal, bootstrapFactory('public', seen));
    const eip = addressesOf(emu, name)[0]!;
    expect(eip).toBeDefined();
    expect(seen).toEqual([{ publicIp: eip.publicIp }]); // the bootstrap (TLS hostname) was rendered for the static address
    expect(vm.publicIp).toBe(eip.publicIp);
    expect(eip.instanceId).toBe(instancesOf(emu, name)[0]!.instanceId);
    expect(eip.tags['managed-by']).toBe('crawl4ai-mcp');

    const [sg] = groupOf(emu, name);
    const rules = sg!.ingress.map((r) => ({ protocol: r.protocol, from: r.fromPort, to: r.toPort, cidr: r.cidrIpv4 ?? r.cidrIpv6 }));
    expect(rules).toHaveLength(2);
    expect(rules).toEqual(
      expect.arrayContaining([
        { protocol: 'tcp', from: 443, to: 443, cidr: '0.0.0.0/0' },
        { protocol: 'tcp', from: 443, to: 443, cidr: '::/0' },
      ]),
    );
    expect(sg!.ingress.some((r) => r.fromPort !== undefined && r.fromPort <= 22 && (r.toPort ?? 0) >= 22)).toBe(false);

    await aws.destroy(ctx, journal);
    expect(emu.resourcesOf(name)).toEqual([]);
    expect(emu.state.addresses.has(eip.allocationId)).toBe(false);
  });
});

describe('aws provider: ClientToken, resuming and cleaning up', () => {
  it('apply twice resumes: one instance, one group, the same ClientToken, one RunInstances', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu);
    const first = await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    const token = journal.find('aws:instance')!.token;
    const second = await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(second.state).toBe('running');
    expect(instancesOf(emu, ctx.spec.name)).toHaveLength(1);
    expect(groupOf(emu, ctx.spec.name)).toHaveLength(1);
    expect(journal.find('aws:instance')!.token).toBe(token);
    expect(second.publicIp).toBe(first.publicIp);
    expect(emu.requests.filter((r) => r.action === 'RunInstances')).toHaveLength(1);
  });

  it('apply stopped after the security group was created finishes without duplicates, using the recorded token', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu);
    // a first run: the group was created and journaled, the instance only intended
    const clients = createAwsClients(ctx);
    const vpcId = (await aws.plan(ctx)).network.vpc!;
    await journal.intend('aws:security-group', 'aws:security-group', { region: REGION });
    const groupId = await createSecurityGroup(clients, ctx.spec.name, vpcId);
    await journal.created('aws:security-group', groupId, { vpcId });
    const intent = await journal.intend('aws:instance', 'aws:instance', { region: REGION, token: 'resume-token-0001' });
    clients.ec2.destroy();
    clients.sts.destroy();

    const vm = await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(vm.state).toBe('running');
    const insts = instancesOf(emu, ctx.spec.name);
    expect(insts).toHaveLength(1);
    expect(insts[0]!.clientToken).toBe(intent.token);
    expect(insts[0]!.securityGroupIds).toEqual([groupId]);
    expect(groupOf(emu, ctx.spec.name)).toHaveLength(1);
    expect(emu.requests.filter((r) => r.action === 'CreateSecurityGroup')).toHaveLength(1);
  });

  it('apply stopped between RunInstances and the journal write adopts the instance the token made', async () => {
    const emu = await emulator();
    const { ctx, journal, store } = deployment(emu);
    await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    const made = instancesOf(emu, ctx.spec.name)[0]!.instanceId;
    // rewind the state file to the moment after the call and before `created`
    const rewound: DeploymentState = structuredClone(journal.state);
    const rec = rewound.resources.find((r) => r.key === 'aws:instance')!;
    rec.phase = 'intent';
    delete rec.id;
    const resumed = new Journal(store, rewound);

    await aws.apply(ctx, resumed, bootstrapFactory('tunnel'));
    expect(instancesOf(emu, ctx.spec.name).map((i) => i.instanceId)).toEqual([made]);
    expect(resumed.find('aws:instance')).toMatchObject({ phase: 'created', id: made });
    const runs = emu.requests.filter((r) => r.action === 'RunInstances');
    expect(runs).toHaveLength(2);
    expect(new Set(runs.map((r) => r.params.ClientToken)).size).toBe(1);
  });

  it('a token EC2 already used with other arguments (IdempotentParameterMismatch) adopts the instance that token made', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu);
    const name = ctx.spec.name;
    // an earlier run launched with this token but other arguments, and recorded no launch parameters
    const plan = await aws.plan(ctx);
    const clients = createAwsClients(ctx);
    const image = emu.state.images.get(plan.image.id)!;
    const out = await clients.ec2.send(
      new RunInstancesCommand(
        runInstancesInput(
          { deployment: name, imageId: plan.image.id, rootDeviceName: image.rootDeviceName, instanceType: aws.sizes.small, subnetId: plan.network.subnet! },
          '#cloud-config\n# an older bootstrap\n',
          'mismatch-token-0001',
        ),
      ),
    );
    clients.ec2.destroy();
    clients.sts.destroy();
    const earlier = out.Instances![0]!.InstanceId!;
    await journal.intend('aws:instance', 'aws:instance', { region: REGION, token: 'mismatch-token-0001' });

    const vm = await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(vm.state).toBe('running');
    expect(emu.requests.filter((r) => r.action === 'RunInstances' && r.error === 'IdempotentParameterMismatch')).toHaveLength(1);
    expect(instancesOf(emu, name).map((i) => i.instanceId)).toEqual([earlier]);
    expect(journal.find('aws:instance')).toMatchObject({ phase: 'created', id: earlier, token: 'mismatch-token-0001' });
  });

  it('destroy after the state file is lost removes every tagged resource, paging through Describe calls', async () => {
    const emu = await emulator({ pageSize: 1 });
    const { ctx, journal } = deployment(emu, { network: 'public' });
    const name = ctx.spec.name;
    await aws.apply(ctx, journal, bootstrapFactory('public'));
    // plus a stray tagged instance a crashed run left behind, never journaled
    const clients = createAwsClients(ctx);
    const image = journal.find('aws:instance')!.meta;
    await clients.ec2.send(
      new RunInstancesCommand(
        runInstancesInput(
          { deployment: name, imageId: String(image.imageId), rootDeviceName: String(image.rootDeviceName), instanceType: String(image.instanceType), subnetId: String(image.subnetId) },
          '#cloud-config\n',
        ),
      ),
    );
    clients.ec2.destroy();
    clients.sts.destroy();
    // an unrelated deployment in the same account stays untouched
    const other = deployment(emu);
    await aws.apply(other.ctx, other.journal, bootstrapFactory('tunnel'));
    expect(emu.resourcesOf(name).filter((r) => r.type === 'instance')).toHaveLength(2);

    const lost = deployment(emu, { name, network: 'public' }); // a fresh, empty journal
    expect((await aws.discover(lost.ctx)).map((r) => r.kind).sort()).toEqual(['aws:elastic-ip', 'aws:instance', 'aws:instance', 'aws:security-group']);
    expect(emu.requests.some((r) => r.action === 'DescribeInstances' && r.params.NextToken)).toBe(true);

    await aws.destroy(lost.ctx, lost.journal);
    expect(emu.resourcesOf(name)).toEqual([]);
    expect(emu.resourcesOf(other.ctx.spec.name).length).toBeGreaterThan(0);
  });

  it('destroy is idempotent: a second run, and resources deleted by hand, are fine', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu, { network: 'public' });
    await aws.apply(ctx, journal, bootstrapFactory('public'));
    const id = journal.find('aws:instance')!.id!;
    const clients = createAwsClients(ctx);
    await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    clients.ec2.destroy();
    clients.sts.destroy();
    await aws.destroy(ctx, journal);
    await aws.destroy(ctx, journal);
    expect(emu.resourcesOf(ctx.spec.name)).toEqual([]);
  });

  it('a security group still in use right after termination is deleted once EC2 lets go of it (DependencyViolation)', async () => {
    const emu = await emulator({ transitionMs: 300 });
    const { ctx, journal } = deployment(emu);
    await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    const clients = createAwsClients(ctx);
    await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [journal.find('aws:instance')!.id!] }));
    const progress: string[] = [];
    await deleteSecurityGroup(clients, journal.find('aws:security-group')!.id!, (m) => progress.push(m));
    clients.ec2.destroy();
    clients.sts.destroy();
    expect(emu.requests.filter((r) => r.action === 'DeleteSecurityGroup' && r.error === 'DependencyViolation').length).toBeGreaterThan(0);
    expect(progress[0]).toMatch(/still in use/);
    expect(groupOf(emu, ctx.spec.name)).toEqual([]);
  });
});

describe('aws provider: the cloud pushing back', () => {
  it('validateCredentials returns the IAM identity and names each denied action from DryRun', async () => {
    const emu = await emulator();
    const { ctx } = deployment(emu, { network: 'public' });
    const ok = await aws.validateCredentials(ctx);
    expect(ok.identity).toMatch(/^arn:aws:iam::\d{12}:user\//);
    expect(ok.missing).toEqual([]);
    expect(ok.allowed).toEqual(expect.arrayContaining(['ec2:RunInstances', 'ec2:CreateSecurityGroup', 'ec2:AllocateAddress', 'ec2:DescribeImages']));

    emu.denyActions(['RunInstances', 'ec2:AllocateAddress']);
    const denied = await aws.validateCredentials(ctx);
    expect(denied.missing).toEqual(['ec2:RunInstances', 'ec2:AllocateAddress']);
    // the dry run carried the real image, type, subnet and tags
    const run = emu.requests.filter((r) => r.action === 'RunInstances').at(-1)!;
    expect(run.params).toMatchObject({ DryRun: 'true', InstanceType: aws.sizes.small, 'MetadataOptions.HttpTokens': 'required' });
    expect(run.params.ImageId).toMatch(/^ami-/);
    expect(emu.resourcesOf(ctx.spec.name)).toEqual([]);
  });

  it('a region without a default VPC is exit 2 with the command that fixes it', async () => {
    const emu = await emulator();
    emu.removeDefaultVpc();
    const { ctx, journal } = deployment(emu);
    const e = await caught(aws.plan(ctx));
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(`region ${REGION} has no default VPC`);
    expect(e.hint).toContain(`aws ec2 create-default-vpc --region ${REGION}`);
    expect((await caught(aws.apply(ctx, journal, bootstrapFactory('tunnel')))).exitCode).toBe(2);
    expect(emu.resourcesOf(ctx.spec.name)).toEqual([]);
  });

  it('InsufficientInstanceCapacity is an answer, not retried, and drops the ClientToken so the next run starts clean', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu);
    emu.insufficientCapacity([aws.sizes.small]);
    const e = await caught(aws.apply(ctx, journal, bootstrapFactory('tunnel')));
    expect(e.exitCode).toBe(4);
    expect(e.hint).toMatch(/--size medium/);
    // an answer, not retried in the same zone: each zone that offers the type is asked once
    const runs = emu.requests.filter((r) => r.action === 'RunInstances');
    expect(runs.map((r) => r.params['NetworkInterface.1.SubnetId']).length).toBe(new Set(runs.map((r) => r.params['NetworkInterface.1.SubnetId'])).size);
    expect(runs.length).toBeGreaterThan(1);
    expect(journal.find('aws:instance')!.phase).toBe('deleted'); // nothing was made: the token is dropped
    expect(instancesOf(emu, ctx.spec.name)).toEqual([]);
  });

  it('no capacity in one availability zone: the next zone that offers the type is tried with a new ClientToken; when none has it, the zones tried are named', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu);
    // us-east-1e does not offer t3 types at all; us-east-1a and -1b are out of capacity
    emu.zoneWithoutCapacity(aws.sizes.small, [`${REGION}a`, `${REGION}b`]);
    const vm = await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(vm.state).toBe('running');
    const runs = emu.requests.filter((r) => r.action === 'RunInstances');
    const zoneOf = (subnetId: string | undefined) => [...emu.state.subnets.values()].find((s) => s.subnetId === subnetId)?.az;
    expect(runs.map((r) => zoneOf(r.params['NetworkInterface.1.SubnetId']))).toEqual([`${REGION}a`, `${REGION}b`, `${REGION}c`]);
    expect(new Set(runs.map((r) => r.params.ClientToken)).size).toBe(3);
    expect(emu.requests.some((r) => r.action === 'DescribeInstanceTypeOfferings')).toBe(true);
    const [inst] = instancesOf(emu, ctx.spec.name);
    expect(inst!.az).toBe(`${REGION}c`);
    expect(journal.find('aws:instance')!.meta.availabilityZone).toBe(`${REGION}c`);
    await aws.destroy(ctx, journal);

    const other = deployment(emu, { name: 'nocap' });
    emu.zoneWithoutCapacity(aws.sizes.small, ['a', 'b', 'c', 'd', 'f'].map((z) => `${REGION}${z}`));
    const e = await caught(aws.apply(other.ctx, other.journal, bootstrapFactory('tunnel')));
    expect(e.exitCode).toBe(4);
    expect(e.message).toBe(`AWS has no capacity for ${aws.sizes.small} in ${REGION} right now: tried ${['a', 'b', 'c', 'd', 'f'].map((z) => `${REGION}${z}`).join(', ')} (InsufficientInstanceCapacity)`);
    expect(e.hint).toMatch(/--size medium/);
    expect(instancesOf(emu, 'nocap')).toEqual([]);
    emu.zoneWithoutCapacity(aws.sizes.small, []);
  });

  it('a rerun right after an interrupted init waits out the read-after-create gap instead of launching a second VM', async () => {
    const emu = await emulator({ consistencyDelayMs: 1500 });
    const { ctx, journal } = deployment(emu);
    // the first run stops right after RunInstances was journaled (its next call is refused)
    emu.denyActions(['DescribeInstances']);
    expect((await caught(aws.apply(ctx, journal, bootstrapFactory('tunnel')))).exitCode).toBe(3);
    expect(journal.find('aws:instance')!.phase).toBe('created');
    emu.denyActions([]);
    // at once again: EC2 still answers InvalidInstanceID.NotFound for the new instance
    const vm = await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(vm.state).toBe('running');
    expect(emu.requests.filter((r) => r.action === 'RunInstances')).toHaveLength(1);
    expect(instancesOf(emu, ctx.spec.name)).toHaveLength(1);
  });

  it('an EC2 endpoint that never answers a call does not hang apply: the call is abandoned and retried', async () => {
    const emu = await emulator();
    const { ctx, journal } = deployment(emu);
    emu.faults.hangMs = 600_000; // far past the test's own timeout: without a request timeout, apply hangs
    emu.faults.failCall('CreateSecurityGroup', 1, 'hang');
    const vm = await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(vm.state).toBe('running');
    expect(emu.faults.fired.map((f) => f.kind)).toEqual(['hang']);
    expect(instancesOf(emu, ctx.spec.name)).toHaveLength(1);
  });

  it('throttling (RequestLimitExceeded) and read-after-write InvalidInstanceID.NotFound are survived', async () => {
    const emu = await emulator({ consistencyDelayMs: 300 });
    const { ctx, journal } = deployment(emu);
    emu.throttleNext(4);
    const vm = await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(vm.state).toBe('running');
    expect(emu.requests.filter((r) => r.error === 'RequestLimitExceeded')).toHaveLength(4);
    expect(emu.requests.some((r) => r.error === 'InvalidInstanceID.NotFound')).toBe(true);
    expect(instancesOf(emu, ctx.spec.name)).toHaveLength(1);
  });
});

/** The error an AWS SDK call ends with (its name is EC2's error code). */
async function sdkError(p: Promise<unknown>): Promise<Error & { name: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { name: string };
  }
  throw new Error('the call succeeded');
}

describe('aws provider: the IAM policy template, as the EC2 emulator evaluates it', () => {
  /** The real launch request of `init`, with one part changed; answered as a dry run. */
  async function dryRunLaunch(change: (input: ReturnType<typeof runInstancesInput>) => void = () => {}) {
    const emu = await emulator();
    const { ctx } = deployment(emu);
    const clients = createAwsClients(ctx);
    const [image, net] = await Promise.all([findUbuntuImage(clients), findDefaultNetwork(clients)]);
    const groupId = await createSecurityGroup(clients, ctx.spec.name, net.vpcId);
    const input = runInstancesInput({ deployment: ctx.spec.name, imageId: image.id, rootDeviceName: image.rootDeviceName, instanceType: aws.sizes.small, subnetId: net.subnetId, securityGroupId: groupId }, '#cloud-config\n');
    change(input);
    const e = await sdkError(clients.ec2.send(new RunInstancesCommand({ ...input, DryRun: true })));
    return { code: e.name, message: e.message, emu, clients, ctx };
  }

  it('allows the launch init makes (the dry run says it would succeed)', async () => {
    expect((await dryRunLaunch()).code).toBe('DryRunOperation');
  });

  it('refuses a launch of an instance type crawl4ai-mcp does not offer', async () => {
    const r = await dryRunLaunch((i) => (i.InstanceType = 'p5.48xlarge'));
    expect(r.code).toBe('UnauthorizedOperation');
    expect(r.message).toMatch(/ec2:RunInstances on resource: arn:aws:ec2:us-east-1:\d{12}:instance\/\*/);
  });

  it('refuses a launch from an image Canonical does not own, even one named like Ubuntu', async () => {
    const r = await dryRunLaunch();
    const impostor = await r.clients.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['ubuntu/images/*'] }] }));
    const foreign = impostor.Images!.find((i) => i.OwnerId !== '099720109477')!;
    expect(foreign).toBeDefined();
    const refused = await dryRunLaunch((i) => (i.ImageId = foreign.ImageId));
    expect(refused.code).toBe('UnauthorizedOperation');
    expect(refused.message).toContain(`image/${foreign.ImageId}`);
  });

  it('refuses a launch with IMDSv1 allowed', async () => {
    const r = await dryRunLaunch((i) => (i.MetadataOptions = { ...i.MetadataOptions, HttpTokens: 'optional' }));
    expect(r.code).toBe('UnauthorizedOperation');
  });

  it('refuses an untagged launch, or one tagged for another owner', async () => {
    expect((await dryRunLaunch((i) => delete i.TagSpecifications)).code).toBe('UnauthorizedOperation');
    const foreign = await dryRunLaunch((i) => {
      i.TagSpecifications = i.TagSpecifications!.map((t) => ({ ...t, Tags: t.Tags!.map((x) => (x.Key === 'managed-by' ? { ...x, Value: 'someone-else' } : x)) }));
    });
    expect(foreign.code).toBe('UnauthorizedOperation');
  });

  it('refuses tagging outside a create, resizing to an unoffered type, and touching resources it did not make', async () => {
    const emu = await emulator({ iamPolicy: undefined }); // set the scene as the account's admin would
    const { ctx } = deployment(emu, { network: 'public' });
    await aws.apply(ctx, deployment(emu).journal, bootstrapFactory('public'));
    const [own] = instancesOf(emu, ctx.spec.name);
    const clients = createAwsClients(ctx);
    const foreign = (await clients.ec2.send(new RunInstancesCommand({ ImageId: own!.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    await clients.ec2.send(new StopInstancesCommand({ InstanceIds: [own!.instanceId] }));
    while (emu.state.instances.get(own!.instanceId)!.state !== 'stopped') await new Promise((r) => setTimeout(r, 20)); // a type changes only when stopped
    emu.useIamPolicy('template');

    const code = async (p: Promise<unknown>) => (await sdkError(p)).name;
    expect(await code(clients.ec2.send(new CreateTagsCommand({ Resources: [foreign], Tags: [{ Key: 'managed-by', Value: 'crawl4ai-mcp' }] })))).toBe('UnauthorizedOperation');
    expect(await code(clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [foreign], DryRun: true })))).toBe('UnauthorizedOperation');
    expect(await code(clients.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: own!.instanceId, InstanceType: { Value: 'p5.48xlarge' }, DryRun: true })))).toBe('UnauthorizedOperation');
    expect(await code(clients.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: own!.instanceId, InstanceType: { Value: aws.sizes.large }, DryRun: true })))).toBe('DryRunOperation');
    expect(await code(clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [own!.instanceId], DryRun: true })))).toBe('DryRunOperation');
  });

  it('validateCredentials proves what init needs: all allowed under the template, the launch missing without its image statement', async () => {
    const emu = await emulator();
    const { ctx } = deployment(emu, { network: 'public' });
    expect((await aws.validateCredentials(ctx)).missing).toEqual([]);
    const policy = loadPolicy();
    emu.useIamPolicy({ ...policy, Statement: policy.Statement.filter((s) => s.Sid !== 'LaunchFromCanonicalImagesOnly') });
    expect((await aws.validateCredentials(ctx)).missing).toEqual(['ec2:RunInstances']);
    expect(emu.resourcesOf(ctx.spec.name)).toEqual([]);
  });

  it('lists exactly the instance types the catalog offers', () => {
    const offered = Object.values(aws.sizes).sort();
    const typeLists = loadPolicy().Statement.flatMap((s) => Object.values(s.Condition ?? {}).flatMap((c) => Object.entries(c).filter(([k]) => /InstanceType$/.test(k)).map(([, v]) => [v].flat().sort())));
    expect(typeLists.length).toBeGreaterThanOrEqual(3);
    for (const l of typeLists) expect(l).toEqual(offered);
  });
});

describe('aws provider: the Worker’s wake credential (issue 21)', () => {
  it('init’s wake step journals the IAM user, returns its key only as Worker secrets, re-issues on a rerun; destroy removes it, also with the state lost', async () => {
    const emu = await emulator();
    const d = deployment(emu, { name: 'wakes' });
    await aws.apply(d.ctx, d.journal, bootstrapFactory('tunnel'));
    expect(aws.wakeVars!(d.ctx)).toEqual({ WAKE_CLOUD: 'aws', WAKE_AWS_REGION: REGION, WAKE_AWS_DEPLOYMENT: 'wakes' });

    const first = await aws.issueWakeCredential!(d.ctx, d.journal);
    const user = emu.iam.user('wakes-wake')!;
    expect(user.path).toBe('/crawl4ai-mcp/');
    expect(Object.keys(first!.secrets).sort()).toEqual(['WAKE_AWS_ACCESS_KEY_ID', 'WAKE_AWS_SECRET_ACCESS_KEY']);
    expect([...user.keys.keys()]).toEqual([first!.secrets.WAKE_AWS_ACCESS_KEY_ID]);
    const rec = d.journal.find('aws:wake-user')!;
    expect([rec.phase, rec.id]).toEqual(['created', 'wakes-wake']);
    // the state holds the user's name, never its key
    const stateText = fs.readFileSync(path.join(d.store.dir, 'wakes.json'), 'utf8');
    expect(stateText).not.toContain(first!.secrets.WAKE_AWS_SECRET_ACCESS_KEY);

    // a rerun (resumed init) issues a fresh key and deletes the old one: only the Worker holds a key
    const second = await aws.issueWakeCredential!(d.ctx, d.journal);
    expect([...user.keys.keys()]).toEqual([second!.secrets.WAKE_AWS_ACCESS_KEY_ID]);
    expect(second!.secrets.WAKE_AWS_ACCESS_KEY_ID).not.toBe(first!.secrets.WAKE_AWS_ACCESS_KEY_ID);

    // the state file lost: destroy still finds the user by path and name
    const lost = deployment(emu, { name: 'wakes' });
    await aws.destroy(lost.ctx, lost.journal);
    expect(emu.iam.user('wakes-wake')).toBeUndefined();
    expect(instancesOf(emu, 'wakes')).toEqual([]);
    expect(lost.lines.some((l) => l.includes('deleting the wake credential (IAM user /crawl4ai-mcp/wakes-wake'))).toBe(true);
    // and with the state kept, a second destroy is fine and marks the record deleted
    await aws.destroy(d.ctx, d.journal);
    expect(d.journal.find('aws:wake-user')?.phase).toBe('deleted');
  });

  it('credentials whose policy predates wake on request: wake stays off with one line saying how to turn it on, and destroy still works', async () => {
    const noIam = loadPolicy();
    noIam.Statement = noIam.Statement.filter((s) => ![s.Action].flat().some((a) => String(a).startsWith('iam:')));
    const emu = await emulator({ iamPolicy: noIam });
    const d = deployment(emu, { name: 'oldpolicy' });
    await aws.apply(d.ctx, d.journal, bootstrapFactory('tunnel'));
    expect(await aws.issueWakeCredential!(d.ctx, d.journal)).toBeUndefined();
    expect(d.lines.find((l) => l.startsWith('wake on request is off'))).toMatch(/may not create IAM users under \/crawl4ai-mcp\/.*WakeCredentialUsersUnderOwnPathOnly.*crawl4ai-mcp start/);
    expect(emu.iam.users.size).toBe(0);
    expect(d.journal.live().some((r) => r.kind === 'aws:wake-user')).toBe(false);
    await aws.destroy(d.ctx, d.journal);
    expect(instancesOf(emu, 'oldpolicy')).toEqual([]);
  });
});
