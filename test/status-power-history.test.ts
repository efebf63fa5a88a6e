// `status` keeps the cost so far true when the VM was stopped or started by something other than
// the CLI: the idle watchdog (a shutdown from inside the guest) and the Worker's wake. Through the
// built CLI against the EC2 and Compute emulators, which date those changes as the clouds do
// (EC2: StateTransitionReason "User initiated (… GMT)" and LaunchTime; Compute: lastStopTimestamp
// and lastStartTimestamp).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EC2Client, StartInstancesCommand } from '@aws-sdk/client-ec2';
import fs from 'node:fs';
import path from 'node:path';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startGceEmulator, type GceEmulator } from './emulators/gce/index.ts';
import { startAzureEmulator, TYPES, type AzureEmulator } from './emulators/azure/index.ts';
import { createSelfDeallocateRole, deployerCondition } from './helpers/azure-roles.js';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { runCli } from './helpers/cli.js';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { AWS_ACCESS_KEY, AWS_SECRET_KEY, azureJourneyEnv, azureVms, ec2Instances, gceInstances, gcpJourneyEnv, journeyEnv } from './helpers/journey.js';

const CF_TOKEN = 'cf-token-' + 'p'.repeat(32);
const HOUR = 3_600_000;

/** A clock the test can move back, so a stop happens "an hour ago" as the cloud reports it. */
let offset = 0;
const clock = () => Date.now() + offset;

let cf: CloudflareEmulator;
const sims: VmSimulator[] = [];
beforeAll(async () => {
  cf = await startCloudflareEmulator({ apiToken: CF_TOKEN });
}, 60_000);
afterAll(async () => {
  for (const s of sims) await s.stop();
  await cf?.close();
});

const stateFile = (env: NodeJS.ProcessEnv, name: string) => path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', `${name}.json`);
const outputsOf = (env: NodeJS.ProcessEnv, name: string) => JSON.parse(fs.readFileSync(stateFile(env, name), 'utf8')).outputs as Record<string, unknown>;
/** As if init had run two hours ago: the power history says running since then. */
function ranSinceTwoHoursAgo(env: NodeJS.ProcessEnv, name: string): number {
  const doc = JSON.parse(fs.readFileSync(stateFile(env, name), 'utf8'));
  const since = Date.now() - 2 * HOUR;
  doc.outputs.runningSince = new Date(since).toISOString();
  doc.outputs.runningHoursBefore = 0;
  fs.writeFileSync(stateFile(env, name), JSON.stringify(doc, null, 2));
  return since;
}
async function until(what: string, f: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !f(); await new Promise((r) => setTimeout(r, 50))) if (Date.now() > end) throw new Error(`timed out: ${what}`);
}

async function statusJson(env: NodeJS.ProcessEnv, name: string) {
  const r = await runCli(['--name', name, 'status', '--json'], { env, timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { vm: { state: string; computeBilled?: boolean }; cost: { soFarUsd: number; hourlyUsd: number } };
}

/**
 * The shared story: init, the power history moved two hours back, a guest shutdown dated an hour
 * ago; `status` records the stop at the cloud's time (one hour of running, not two), stays put on
 * the next look, and a start nobody told the CLI about is recorded at the cloud's start time.
 */
async function story(opts: {
  env: NodeJS.ProcessEnv;
  name: string;
  initArgs: string[];
  guestShutdown: () => void;
  stopped: () => boolean;
  cloudStopTime: () => string;
  /** a start outside the CLI (the Worker's wake; AWS only so far) */
  wake?: { start: () => Promise<void>; running: () => boolean };
}) {
  const { env, name } = opts;
  const init = await runCli(['--name', name, 'init', '--yes', ...opts.initArgs], { env, timeoutMs: 240_000 });
  expect(init.code, init.stderr).toBe(0);
  const since = ranSinceTwoHoursAgo(env, name);

  offset = -HOUR;
  opts.guestShutdown();
  offset = 0;
  await until('the VM stopped', opts.stopped);
  const stopAt = Date.parse(opts.cloudStopTime());
  expect(Math.abs(stopAt - (Date.now() - HOUR))).toBeLessThan(60_000);

  const st = await statusJson(env, name);
  expect(st.vm.state).toBe('stopped');
  const o = outputsOf(env, name);
  expect(o.runningSince).toBeNull();
  expect(o.stoppedSince).toBe(new Date(stopAt).toISOString());
  // one hour of running (the cloud's stop time), not the two hours until this status
  expect(o.runningHoursBefore as number).toBeCloseTo((stopAt - since) / HOUR, 3);
  expect(o.runningHoursBefore as number).toBeLessThan(1.01);
  const text = fs.readFileSync(stateFile(env, name), 'utf8');
  for (const secret of [AWS_SECRET_KEY, CF_TOKEN, env.CRAWL4AI_MCP_PASSPHRASE!]) expect(text).not.toContain(secret);

  // stopped time costs no compute: the next look adds (almost) nothing
  const again = await statusJson(env, name);
  expect(outputsOf(env, name)).toEqual(o);
  expect(again.cost.soFarUsd - st.cost.soFarUsd).toBeLessThanOrEqual(0.01);

  if (!opts.wake) return;
  // the Worker's wake (a start the CLI did not make): recorded at the cloud's start time
  await opts.wake.start();
  await until('the VM running', opts.wake.running);
  const before = Date.now();
  await statusJson(env, name).catch(() => undefined); // Crawl4AI may still be booting: not healthy yet is fine
  const woke = outputsOf(env, name);
  expect(typeof woke.runningSince).toBe('string');
  expect(Date.parse(woke.runningSince as string)).toBeLessThanOrEqual(before);
  expect(Date.parse(woke.runningSince as string)).toBeGreaterThanOrEqual(stopAt);
  expect(woke.runningHoursBefore).toBe(o.runningHoursBefore);
  expect(woke.stoppedSince).toBeNull();
}

describe('status records stops and starts the CLI did not make, at the time the cloud reports', () => {
  it('AWS: the idle watchdog\'s stop (StateTransitionReason) and the wake (LaunchTime)', async () => {
    const ec2: Ec2Emulator = await startEc2Emulator({ transitionMs: 100, accessKeyId: AWS_ACCESS_KEY, clock });
    try {
      const env = journeyEnv(ec2, cf, CF_TOKEN, 'c4m-power-aws-');
      const sim = startVmSimulator(ec2Instances(ec2, 'pwr'), cf);
      sims.push(sim);
      const inst = () => [...ec2.state.instances.values()].find((i) => i.tags['crawl4ai-mcp:deployment'] === 'pwr')!;
      await story({
        env,
        name: 'pwr',
        initArgs: ['--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public'],
        guestShutdown: () => ec2.guestShutdown(inst().instanceId),
        stopped: () => ec2.state.instanceState(inst()) === 'stopped',
        cloudStopTime: () => {
          const m = /^User initiated \((\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) GMT\)$/.exec(inst().stateTransitionReason)!;
          return `${m[1]}T${m[2]}.000Z`;
        },
        wake: {
          start: async () => {
            const client = new EC2Client({ region: 'us-east-1', endpoint: ec2.url, credentials: { accessKeyId: AWS_ACCESS_KEY, secretAccessKey: AWS_SECRET_KEY } });
            await client.send(new StartInstancesCommand({ InstanceIds: [inst().instanceId] }));
            client.destroy();
          },
          running: () => ec2.state.instanceState(inst()) === 'running',
        },
      });
    } finally {
      await ec2.close();
    }
  }, 300_000);

  it('GCP: the idle watchdog\'s stop (lastStopTimestamp)', async () => {
    const gce: GceEmulator = await startGceEmulator({ transitionMs: 100, clock });
    try {
      const env = gcpJourneyEnv(gce, cf, CF_TOKEN, 'c4m-power-gcp-');
      const sim = startVmSimulator(gceInstances(gce, 'gpwr'), cf);
      sims.push(sim);
      const inst = () => {
        gce.state.tick();
        return [...gce.state.instances.values()].find((i) => i.labels['crawl4ai-mcp-deployment'] === 'gpwr')!;
      };
      await story({
        env,
        name: 'gpwr',
        initArgs: ['--provider', 'gcp', '--region', 'us-central1', '--size', 'small', '--network', 'public'],
        guestShutdown: () => gce.guestShutdown(inst().name),
        stopped: () => inst().status === 'TERMINATED',
        cloudStopTime: () => inst().lastStopTimestamp!,
      });
    } finally {
      await gce.close();
    }
  }, 300_000);

  it('Azure: a deallocation dated by the instance view, and a VM powered off from inside (still allocated) counted as running', async () => {
    const az: AzureEmulator = await startAzureEmulator({ lroMs: 100 });
    try {
      az.constrainRoleAssignments(deployerCondition(createSelfDeallocateRole(az)));
      const env = azureJourneyEnv(az, cf, CF_TOKEN, 'c4m-power-az-');
      const sim = startVmSimulator(azureVms(az, 'apwr'), cf);
      sims.push(sim);
      const init = await runCli(['--name', 'apwr', 'init', '--yes', '--provider', 'azure', '--region', 'eastus', '--size', 'small', '--network', 'public'], { env, timeoutMs: 240_000 });
      expect(init.code, init.stderr).toBe(0);
      const vm = () => az.state.get(az.resourcesOf('apwr').find((r) => r.type === TYPES.vm)!.id)!;

      // powered off from inside (the watchdog's fallback when it may not deallocate): billed as running
      let since = ranSinceTwoHoursAgo(env, 'apwr');
      vm().vm!.powerState = 'stopped';
      const allocated = await statusJson(env, 'apwr');
      expect(allocated.vm).toMatchObject({ state: 'stopped', computeBilled: true });
      expect(outputsOf(env, 'apwr').runningSince).toBe(new Date(since).toISOString());

      // deallocated an hour ago (as the idle watchdog does), the time Azure reports on ProvisioningState
      since = ranSinceTwoHoursAgo(env, 'apwr');
      const stopAt = new Date(Date.now() - HOUR).toISOString();
      vm().vm!.powerState = 'deallocated';
      vm().vm!.statusTime = stopAt;
      const st = await statusJson(env, 'apwr');
      expect(st.vm.state).toBe('stopped');
      const o = outputsOf(env, 'apwr');
      expect(o.stoppedSince).toBe(stopAt);
      expect(o.runningHoursBefore as number).toBeCloseTo((Date.parse(stopAt) - since) / HOUR, 3);
      // allocated, the compute was billed; deallocated, only the disk and address
      expect(st.cost.hourlyUsd).toBeLessThan(allocated.cost.hourlyUsd / 4);
    } finally {
      await az.close();
    }
  }, 300_000);
});
