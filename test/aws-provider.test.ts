// The AWS provider against the EC2/STS emulator, through the real AWS SDK over HTTP (no SDK mocks).
// Endpoints reach the provider through ctx.env, never process.env.
import { RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../src/core/errors.js';
import { createAwsProvider } from '../src/providers/aws/index.js';
import { createAwsClients } from '../src/providers/aws/clients.js';
import { runInstancesInput } from '../src/providers/aws/launch.js';
import { createSecurityGroup, deleteSecurityGroup } from '../src/providers/aws/security-group.js';
import type { BootstrapFactory, DeploymentSpec, NetworkMode, ProviderContext } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState, type DeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { startEc2Emulator, type Ec2Emulator, type Instance } from './emulators/ec2/index.js';

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
  const emu = await startEc2Emulator({ transitionMs: 100, ...CREDS, ...opts }) // SigV4 signatures are checked;
  emulators.push(emu);
  return emu;
}

let seq = 0;
interface Harness {
  ctx: ProviderContext;
  journal: Journal;
  store: StateStore;
  lines: string[];
}
function harness(emu: Ec2Emulator, spec: Partial<DeploymentSpec> = {}, extra: Partial<ProviderContext> = {}): Harness {
  const name = spec.name ?? `t${++seq}`;
  const store = new StateStore(path.join(dir, `store-${seq}`));
  const lines: string[] = [];
  const ctx: ProviderContext = {
    spec: { name, provider: 'aws', region: REGION, size: 'small', network: 'tunnel', profile: 'default', ...spec },
    credentials: { kind: 'static', values: CREDS },
    env: { AWS_ENDPOINT_URL_EC2: emu.url, AWS_ENDPOINT_URL_STS: emu.url },
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

async function caught(p: Promise<unknown>): Promise<CliError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CliError) return e;
    throw e;
  }
  throw new Error('expected a CliError');
}

describe('aws provider: a whole deployment', () => {
  it('tunnel mode: plan → apply → status → resize → stop → start → destroy leaves nothing behind', async () => {
    const emu = await emulator();
    const { ctx, journal } = harness(emu);
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

    const resized = await aws.resize(ctx, journal, 'medium');
    expect(resized).toMatchObject({ state: 'running', instanceType: aws.sizes.medium });
    expect(emu.state.instances.get(inst!.instanceId)!.instanceType).toBe(aws.sizes.medium);

    expect(await aws.stop(ctx, journal)).toMatchObject({ state: 'stopped' });
    expect(emu.state.instances.get(inst!.instanceId)!.state).toBe('stopped');
    expect((await aws.start(ctx, journal)).state).toBe('running');

    const found = await aws.discover(ctx);
    expect(found.map((f) => f.kind).sort()).toEqual(['aws:instance', 'aws:security-group']);

    await aws.destroy(ctx, journal);
    expect(emu.resourcesOf(name)).toEqual([]);
    expect(journal.live().filter((r) => r.kind.startsWith('aws:'))).toEqual([]);
    expect(await aws.status(ctx, journal)).toEqual({ state: 'missing' });
    expect(await aws.discover(ctx)).toEqual([]);
  });

  it('public mode: only 443 is open, the Elastic IP is known before boot and survives stop/start', async () => {
    const emu = await emulator();
    const { ctx, journal } = harness(emu, { network: 'public' });
    const name = ctx.spec.name;
    const plan = await aws.plan(ctx);
    expect(plan.resources.map((r) => r.kind)).toContain('Elastic IP');

    const seen: Array<{ publicIp?: string }> = [];
    const vm = await aws.apply(ctx, journal, bootstrapFactory('public', seen));
    const eip = [...emu.state.addresses.values()].find((a) => a.tags['crawl4ai-mcp:deployment'] === name)!;
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

    await aws.stop(ctx, journal);
    const started = await aws.start(ctx, journal);
    expect(started.publicIp).toBe(eip.publicIp);

    await aws.destroy(ctx, journal);
    expect(emu.resourcesOf(name)).toEqual([]);
    expect(emu.state.addresses.has(eip.allocationId)).toBe(false);
  });
});

describe('aws provider: resuming and cleaning up', () => {
  it('apply twice resumes: one instance, one group, the same ClientToken', async () => {
    const emu = await emulator();
    const { ctx, journal } = harness(emu);
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
    const { ctx, journal } = harness(emu);
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
    const { ctx, journal, store } = harness(emu);
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

  it('apply on a deployment whose VM was stopped starts it instead of creating another', async () => {
    const emu = await emulator();
    const { ctx, journal } = harness(emu);
    await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    await aws.stop(ctx, journal);
    const vm = await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(vm.state).toBe('running');
    expect(instancesOf(emu, ctx.spec.name)).toHaveLength(1);
  });

  it('destroy after the state file is lost removes every tagged resource, paging through Describe calls', async () => {
    const emu = await emulator({ pageSize: 1 });
    const { ctx, journal } = harness(emu, { network: 'public' });
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
    const other = harness(emu);
    await aws.apply(other.ctx, other.journal, bootstrapFactory('tunnel'));
    expect(emu.resourcesOf(name).filter((r) => r.type === 'instance')).toHaveLength(2);

    const lost = harness(emu, { name, network: 'public' }); // a fresh, empty journal
    expect((await aws.discover(lost.ctx)).map((r) => r.kind).sort()).toEqual(['aws:elastic-ip', 'aws:instance', 'aws:instance', 'aws:security-group']);
    expect(emu.requests.some((r) => r.action === 'DescribeInstances' && r.params.NextToken)).toBe(true);

    await aws.destroy(lost.ctx, lost.journal);
    expect(emu.resourcesOf(name)).toEqual([]);
    expect(emu.resourcesOf(other.ctx.spec.name).length).toBeGreaterThan(0);
  });

  it('destroy is idempotent: a second run, and resources deleted by hand, are fine', async () => {
    const emu = await emulator();
    const { ctx, journal } = harness(emu, { network: 'public' });
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

  it('a security group still in use right after termination is deleted once EC2 lets go of it', async () => {
    const emu = await emulator({ transitionMs: 300 });
    const { ctx, journal } = harness(emu);
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
  it('validateCredentials returns the identity and names a denied action', async () => {
    const emu = await emulator();
    const { ctx } = harness(emu, { network: 'public' });
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

  it('wrong credentials are exit 3 and never echo the secret', async () => {
    const emu = await emulator();
    const { ctx } = harness(emu, {}, { credentials: { kind: 'static', values: { accessKeyId: 'AKIDWRONGWRONG', secretAccessKey: 'definitely-secret-value' } } });
    const e = await caught(aws.validateCredentials(ctx));
    expect(e.exitCode).toBe(3);
    expect(`${e.message} ${e.hint}`).not.toContain('definitely-secret-value');
    const e2 = await caught(aws.plan(ctx));
    expect(e2.exitCode).toBe(3);
  });

  it('a region without a default VPC is exit 2 with the command that fixes it', async () => {
    const emu = await emulator();
    emu.removeDefaultVpc();
    const { ctx, journal } = harness(emu);
    const e = await caught(aws.plan(ctx));
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(`region ${REGION} has no default VPC`);
    expect(e.hint).toContain(`aws ec2 create-default-vpc --region ${REGION}`);
    expect((await caught(aws.apply(ctx, journal, bootstrapFactory('tunnel')))).exitCode).toBe(2);
    expect(emu.resourcesOf(ctx.spec.name)).toEqual([]);
  });

  it('InsufficientInstanceCapacity is exit 4 naming other sizes; the next run with another size succeeds', async () => {
    const emu = await emulator();
    const { ctx, journal } = harness(emu);
    emu.insufficientCapacity([aws.sizes.small]);
    const e = await caught(aws.apply(ctx, journal, bootstrapFactory('tunnel')));
    expect(e.exitCode).toBe(4);
    expect(e.hint).toMatch(/--size medium/);
    expect(emu.requests.filter((r) => r.action === 'RunInstances')).toHaveLength(1); // an answer, not retried
    expect(journal.find('aws:instance')!.phase).toBe('deleted'); // nothing was made: the token is dropped
    expect(instancesOf(emu, ctx.spec.name)).toEqual([]);

    const bigger = { ...ctx, spec: { ...ctx.spec, size: 'medium' as const } };
    const vm = await aws.apply(bigger, journal, bootstrapFactory('tunnel'));
    expect(vm.instanceType).toBe(aws.sizes.medium);
    expect(groupOf(emu, ctx.spec.name)).toHaveLength(1);
    expect(instancesOf(emu, ctx.spec.name)).toHaveLength(1);
  });

  it('scale to a size without capacity puts the old type back and says so (exit 4)', async () => {
    const emu = await emulator();
    const { ctx, journal } = harness(emu);
    await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    emu.insufficientCapacity([aws.sizes.large]);
    const e = await caught(aws.resize(ctx, journal, 'large'));
    expect(e.exitCode).toBe(4);
    expect(e.message).toContain(`running again as ${aws.sizes.small}`);
    expect(await aws.status(ctx, journal)).toMatchObject({ state: 'running', instanceType: aws.sizes.small });
  });

  it('throttling (RequestLimitExceeded) and read-after-write NotFound are survived', async () => {
    const emu = await emulator({ consistencyDelayMs: 300 });
    const { ctx, journal } = harness(emu);
    emu.throttleNext(4);
    const vm = await aws.apply(ctx, journal, bootstrapFactory('tunnel'));
    expect(vm.state).toBe('running');
    expect(emu.requests.filter((r) => r.error === 'RequestLimitExceeded')).toHaveLength(4);
    expect(emu.requests.some((r) => r.error === 'InvalidInstanceID.NotFound')).toBe(true);
    expect(instancesOf(emu, ctx.spec.name)).toHaveLength(1);
  });

  it('a denied RunInstances during apply is exit 3 naming the action and the policy file', async () => {
    const emu = await emulator();
    const { ctx, journal } = harness(emu);
    emu.denyActions(['RunInstances']);
    const e = await caught(aws.apply(ctx, journal, bootstrapFactory('tunnel')));
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain('ec2:RunInstances');
    expect(e.hint).toContain('templates/policies/aws-iam-policy.json');
  });
});
