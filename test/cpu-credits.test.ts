// AWS T3 CPU credits: launched in standard mode unless the user opts in, changed in place by
// `scale --cpu-credits`, and priced in `plan` (worst case of unlimited). Through the real AWS SDK
// against the EC2 emulator (SigV4 checked, every call judged by the real IAM policy template),
// and the built CLI for `plan`.
import {
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstanceCreditSpecificationsCommand,
  EC2Client,
  ModifyInstanceCreditSpecificationCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAwsProvider } from '../src/providers/aws/index.js';
import { cpuCreditCost, estimateMonthly, hourlyRate } from '../src/pricing/estimate.js';
import type { DeploymentSpec, NetworkMode } from '../src/model/deployment.js';
import type { BootstrapFactory, ProviderContext } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.js';
import { cliEnv, lines, runCli, tempHome } from './helpers/cli.js';

const REGION = 'us-east-1';
const CREDS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const aws = createAwsProvider();

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-credits-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const emulators: Ec2Emulator[] = [];
afterEach(async () => {
  for (const e of emulators.splice(0)) await e.close();
});
async function emulator(): Promise<Ec2Emulator> {
  const emu = await startEc2Emulator({ transitionMs: 50, ...CREDS, iamPolicy: 'template' });
  emulators.push(emu);
  return emu;
}

let seq = 0;
function deployment(emu: Ec2Emulator, spec: Partial<DeploymentSpec> = {}): { ctx: ProviderContext; journal: Journal } {
  const name = `credits${++seq}`;
  const store = new StateStore(path.join(dir, `store-${seq}`));
  const ctx: ProviderContext = {
    spec: { name, provider: 'aws', region: REGION, size: 'small', network: 'tunnel', profile: 'default', ...spec },
    credentials: { kind: 'static', values: CREDS },
    env: { AWS_ENDPOINT_URL_EC2: emu.url, AWS_ENDPOINT_URL_STS: emu.url, AWS_ENDPOINT_URL_IAM: emu.url },
    pollMs: 10,
    progress: () => {},
    debug: () => {},
  };
  return { ctx, journal: new Journal(store, newDeploymentState(name)) };
}
const bootstrap = (network: NetworkMode): BootstrapFactory => () => ({ userData: '#cloud-config\nruncmd: [echo hi]\n', inboundPorts: network === 'public' ? [443] : [] });

function sdk(emu: Ec2Emulator): EC2Client {
  return new EC2Client({ region: REGION, endpoint: emu.url, credentials: CREDS });
}
async function creditsOf(emu: Ec2Emulator, id: string): Promise<string | undefined> {
  const client = sdk(emu);
  try {
    const out = await client.send(new DescribeInstanceCreditSpecificationsCommand({ InstanceIds: [id] }));
    return out.InstanceCreditSpecifications?.[0]?.CpuCredits;
  } finally {
    client.destroy();
  }
}
/** An x86_64 image of the region, as a user finds one (the emulator seeds a region on first use). */
async function x86Image(client: EC2Client): Promise<{ imageId: string }> {
  const out = await client.send(new DescribeImagesCommand({ Filters: [{ Name: 'architecture', Values: ['x86_64'] }] }));
  return { imageId: out.Images![0]!.ImageId! };
}
const instanceOf = (emu: Ec2Emulator, name: string) => [...emu.state.instances.values()].find((i) => i.tags['crawl4ai-mcp:deployment'] === name)!;

describe('EC2 emulator: CPU credit specification, as EC2 does it', () => {
  it('a T3 launched without CreditSpecification is unlimited (EC2 default); standard when asked; refused for a non-burstable type', async () => {
    const emu = await emulator();
    emu.useIamPolicy(null);
    const client = sdk(emu);
    try {
      const image = await x86Image(client);
      const run = (extra: object) => client.send(new RunInstancesCommand({ ImageId: image.imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.medium', ...extra }));
      const plain = (await run({})).Instances![0]!.InstanceId!;
      const standard = (await run({ CreditSpecification: { CpuCredits: 'standard' } })).Instances![0]!.InstanceId!;
      expect(await creditsOf(emu, plain)).toBe('unlimited');
      expect(await creditsOf(emu, standard)).toBe('standard');
      await expect(run({ InstanceType: 'm7i.large', CreditSpecification: { CpuCredits: 'standard' } })).rejects.toMatchObject({ name: 'InvalidParameterCombination' });
      await expect(run({ CreditSpecification: { CpuCredits: 'turbo' } })).rejects.toMatchObject({ name: 'InvalidParameterValue' });
      const m7i = (await run({ InstanceType: 'm7i.large' })).Instances![0]!.InstanceId!;
      await expect(creditsOf(emu, m7i)).rejects.toMatchObject({ name: 'InvalidParameterValue' });
      const mod = await client.send(new ModifyInstanceCreditSpecificationCommand({ InstanceCreditSpecifications: [{ InstanceId: standard, CpuCredits: 'unlimited' }, { InstanceId: m7i, CpuCredits: 'standard' }] }));
      expect(mod.SuccessfulInstanceCreditSpecifications?.map((s) => s.InstanceId)).toEqual([standard]);
      expect(mod.UnsuccessfulInstanceCreditSpecifications?.map((u) => [u.InstanceId, u.Error?.Code])).toEqual([[m7i, 'InvalidInstanceID.Unsupported']]);
      expect(await creditsOf(emu, standard)).toBe('unlimited');
    } finally {
      client.destroy();
    }
  });

  it('the policy template lets the tool change the credit option of its own instances only', async () => {
    const emu = await emulator();
    const d = deployment(emu);
    await aws.apply(d.ctx, d.journal, bootstrap('tunnel'));
    const own = instanceOf(emu, d.ctx.spec.name).instanceId;
    emu.useIamPolicy(null);
    const client = sdk(emu);
    try {
      const image = [...emu.state.images.values()].find((i) => i.region === REGION && i.architecture === 'x86_64')!;
      const foreign = (await client.send(new RunInstancesCommand({ ImageId: image.imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.medium' }))).Instances![0]!.InstanceId!;
      emu.useIamPolicy('template');
      const modify = (id: string) => client.send(new ModifyInstanceCreditSpecificationCommand({ InstanceCreditSpecifications: [{ InstanceId: id, CpuCredits: 'unlimited' }] }));
      await expect(modify(own)).resolves.toBeDefined();
      await expect(modify(foreign)).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
    } finally {
      client.destroy();
    }
  });
});

describe('aws provider: CPU credits', () => {
  it('launches in standard mode by default, with a guest shutdown that stops (not terminates) the instance', async () => {
    const emu = await emulator();
    const d = deployment(emu);
    await aws.apply(d.ctx, d.journal, bootstrap('tunnel'));
    const inst = instanceOf(emu, d.ctx.spec.name);
    expect(await creditsOf(emu, inst.instanceId)).toBe('standard');
    emu.useIamPolicy(null); // a reader the template does not cover: the test looks, the tool does not
    const client = sdk(emu);
    try {
      const attr = await client.send(new DescribeInstanceAttributeCommand({ InstanceId: inst.instanceId, Attribute: 'instanceInitiatedShutdownBehavior' }));
      expect(attr.InstanceInitiatedShutdownBehavior?.Value).toBe('stop');
    } finally {
      client.destroy();
    }
    expect((await aws.status(d.ctx, d.journal)).cpuCredits).toBe('standard');
  });

  it('--cpu-credits unlimited launches unlimited; setCpuCredits switches a running instance in place, without a stop', async () => {
    const emu = await emulator();
    const d = deployment(emu, { cpuCredits: 'unlimited' });
    await aws.apply(d.ctx, d.journal, bootstrap('tunnel'));
    const inst = instanceOf(emu, d.ctx.spec.name);
    expect(await creditsOf(emu, inst.instanceId)).toBe('unlimited');
    const stopsBefore = emu.requests.filter((r) => r.action === 'StopInstances').length;
    const vm = await aws.setCpuCredits!(d.ctx, d.journal, 'standard');
    expect(vm).toMatchObject({ state: 'running', cpuCredits: 'standard' });
    expect(await creditsOf(emu, inst.instanceId)).toBe('standard');
    expect(emu.requests.filter((r) => r.action === 'StopInstances').length).toBe(stopsBefore);
  });

  it('a guest shutdown (the idle watchdog) leaves the instance stopped and startable, and status says stopped', async () => {
    const emu = await emulator();
    const d = deployment(emu);
    await aws.apply(d.ctx, d.journal, bootstrap('tunnel'));
    const inst = instanceOf(emu, d.ctx.spec.name);
    emu.guestShutdown(inst.instanceId);
    await new Promise((r) => setTimeout(r, 120));
    expect(emu.state.instanceState(inst)).toBe('stopped');
    expect(inst.stateReason?.code).toBe('Client.InstanceInitiatedShutdown');
    expect((await aws.status(d.ctx, d.journal)).state).toBe('stopped');
    expect((await aws.start(d.ctx, d.journal)).state).toBe('running');
  });
});

describe('pricing: T3 credits', () => {
  it('worst case of unlimited: (1 - baseline) x vCPUs x 730 h x $0.05', () => {
    expect(cpuCreditCost({ provider: 'aws', size: 'small', cpuCredits: 'unlimited' })?.worstCaseMonthlyUsd).toBe(58.4); // 0.8 x 2 x 730 x 0.05
    expect(cpuCreditCost({ provider: 'aws', size: 'medium', cpuCredits: 'unlimited' })?.worstCaseMonthlyUsd).toBe(51.1); // 0.7 x 2
    expect(cpuCreditCost({ provider: 'aws', size: 'large', cpuCredits: 'unlimited' })?.worstCaseMonthlyUsd).toBe(87.6); // 0.6 x 4
    expect(cpuCreditCost({ provider: 'gcp', size: 'small' })).toBeUndefined();
    expect(cpuCreditCost({ provider: 'azure', size: 'small' })).toBeUndefined();
  });

  it('standard mode adds nothing and excludes nothing for credits; unlimited names the surplus in the excludes', () => {
    const base = { provider: 'aws' as const, region: REGION, size: 'small' as const, diskGiB: 30, publicIpv4: true };
    const standard = estimateMonthly(base);
    const unlimited = estimateMonthly({ ...base, cpuCredits: 'unlimited' });
    expect(standard.monthlyUsd).toBe(unlimited.monthlyUsd);
    expect(standard.cpuCredits?.mode).toBe('standard');
    expect(standard.excludes.join(' ')).not.toMatch(/credit/i);
    expect(unlimited.excludes).toContainEqual(expect.stringMatching(/surplus CPU credits.*\$58\.40/));
  });
});

describe('pricing: the hourly rate in the current state (status)', () => {
  it('running bills compute, disk and address; stopped only the disk and a static address', () => {
    const base = { provider: 'aws' as const, region: REGION, size: 'medium' as const, diskGiB: 30, publicIpv4: true };
    expect(hourlyRate({ ...base, staticIpv4: true }, true)).toBeCloseTo(0.0832 + 2.4 / 730 + 0.005, 9);
    expect(hourlyRate({ ...base, staticIpv4: true }, false)).toBeCloseTo(2.4 / 730 + 0.005, 9);
    expect(hourlyRate({ ...base, staticIpv4: false }, false)).toBeCloseTo(2.4 / 730, 9); // tunnel mode: the address is released
  });
});

describe('CLI: plan and scale with --cpu-credits', () => {
  const R = ['--provider', 'aws', '--region', REGION, '--size', 'small'];
  const env = (emu: Ec2Emulator) =>
    cliEnv(tempHome('c4m-credits-cli-'), { AWS_ENDPOINT_URL_EC2: emu.url, AWS_ENDPOINT_URL_STS: emu.url, AWS_ENDPOINT_URL_IAM: emu.url, AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey, CRAWL4AI_MCP_SECRET_BACKEND: 'file', CRAWL4AI_MCP_PASSPHRASE: 'x' });

  it('plan says standard by default, and shows the worst case with --cpu-credits unlimited', async () => {
    const emu = await emulator();
    const std = await runCli(['--name', 'plancredits', 'plan', '--yes', ...R], { env: env(emu) });
    expect(std.code, std.stderr).toBe(0);
    expect(std.stdout).toMatch(/CPU credits\s+standard mode: .*20% of each of 2 vCPUs.*never billed extra.*up to \$58\.40\/month/);
    expect(std.stdout).not.toMatch(/worst case/);
    expect(std.stdout).toMatch(/includes: compute, disk, public IPv4, for the VM running all 730 hours/);
    const unl = await runCli(['--name', 'plancredits', 'plan', '--yes', ...R, '--cpu-credits', 'unlimited'], { env: env(emu) });
    expect(unl.code, unl.stderr).toBe(0);
    const total = Number(/total\s+\$(\d+\.\d\d)\/month running/.exec(unl.stdout)![1]);
    const worst = Number(/worst case\s+\$(\d+\.\d\d)\/month/.exec(unl.stdout)![1]);
    expect(worst).toBeCloseTo(total + 58.4, 2);
    expect(unl.stdout).toMatch(/CPU credits, t3\.medium|CPU credits unlimited/);
  });

  it('--cpu-credits on another cloud, or an unknown mode, is one line and exit 2', async () => {
    const gcp = await runCli(['--name', 'x', 'plan', '--yes', '--provider', 'gcp', '--cpu-credits', 'unlimited'], { env: cliEnv(tempHome()) });
    expect(gcp.code).toBe(2);
    expect(lines(gcp.stderr).join('\n')).toMatch(/--cpu-credits applies to AWS only/);
    const bad = await runCli(['--name', 'x', 'plan', '--yes', '--provider', 'aws', '--cpu-credits', 'turbo'], { env: cliEnv(tempHome()) });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/standard, unlimited/);
  });
});
