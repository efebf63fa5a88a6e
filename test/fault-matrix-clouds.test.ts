/**
 * The fault matrix of test/fault-matrix.test.ts for the other clouds: a fault (5xx, throttling, a
 * hang past the client's patience, a lost answer, or a SIGKILL of the CLI right after the call) on
 * each mutating call of GCP's and Azure's deploy and destroy paths, then `init` again or `destroy`
 * again. Every run asserts one error + hint line (or a silent SIGKILL), a valid state file, one VM,
 * that the fault fired, and nothing left in the cloud emulator or on Cloudflare after destroy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startGceEmulator, type GceEmulator } from './emulators/gce/index.ts';
import { startAzureEmulator, type AzureEmulator } from './emulators/azure/index.ts';
import { createSelfDeallocateRole, setUpWake } from './helpers/azure-roles.js';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { FAULT_KINDS, type FaultInjector, type FaultKind } from './emulators/faults/injector.ts';
import { runCli } from './helpers/cli.js';
import { expectTruthfulOutcome } from './helpers/outcome.js';
import { startVmSimulator, type SimulatedInstance } from './helpers/vm-simulator.js';
import { azureJourneyEnv, azureVms, gceInstances, gcpJourneyEnv } from './helpers/journey.js';

const CF_TOKEN = 'cf-token-' + 'm'.repeat(32);

interface Call {
  label: string;
  /** over "METHOD /path" of the cloud emulator */
  action: RegExp;
  network: 'tunnel' | 'public';
}

interface Cloud {
  name: 'gcp' | 'azure';
  region: string;
  init: Call[];
  destroy: Call[];
  start(): Promise<{ faults: FaultInjector; env: (cf: CloudflareEmulator) => NodeJS.ProcessEnv; vms: (name: string) => () => SimulatedInstance[]; left: (name: string) => unknown[]; vmCount: (name: string) => number; close(): Promise<void> }>;
}

const gceCall = (label: string, action: RegExp, network: Call['network'] = 'tunnel'): Call => ({ label: `GCP ${label}`, action, network });
const armCall = (label: string, action: RegExp, network: Call['network'] = 'tunnel'): Call => ({ label: `Azure ${label}`, action, network });

const CLOUDS: Cloud[] = [
  {
    name: 'gcp',
    region: 'us-central1',
    init: [
      gceCall('firewalls.insert', /^POST \/compute\/v1\/projects\/[^/]+\/global\/firewalls$/),
      gceCall('addresses.insert', /^POST \/compute\/v1\/projects\/[^/]+\/regions\/[^/]+\/addresses$/, 'public'),
      gceCall('instances.insert', /^POST \/compute\/v1\/projects\/[^/]+\/zones\/[^/]+\/instances$/),
      gceCall('instances.setMetadata (scrub)', /^POST \/compute\/v1\/projects\/[^/]+\/zones\/[^/]+\/instances\/[^/]+\/setMetadata$/),
    ],
    destroy: [
      gceCall('instances.delete', /^DELETE \/compute\/v1\/projects\/[^/]+\/zones\/[^/]+\/instances\/[^/]+$/),
      gceCall('firewalls.delete', /^DELETE \/compute\/v1\/projects\/[^/]+\/global\/firewalls\/[^/]+$/),
    ],
    async start() {
      const gce: GceEmulator = await startGceEmulator({ transitionMs: 100 });
      return {
        faults: gce.faults,
        env: (cf) => gcpJourneyEnv(gce, cf, CF_TOKEN, 'c4m-gcp-faults-'),
        vms: (name) => gceInstances(gce, name),
        left: (name) => gce.resourcesOf(name),
        vmCount: (name) => gce.resourcesOf(name).filter((r) => /instance/i.test(r.type)).length,
        close: () => gce.close(),
      };
    },
  },
  {
    name: 'azure',
    region: 'eastus',
    init: [
      armCall('resource group PUT', /^PUT \/subscriptions\/[^/]+\/resourcegroups\/[^/]+$/i),
      armCall('NSG PUT', /^PUT .*\/providers\/Microsoft\.Network\/networkSecurityGroups\/[^/]+$/i),
      armCall('VNet PUT', /^PUT .*\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+$/i),
      armCall('public IP PUT', /^PUT .*\/providers\/Microsoft\.Network\/publicIPAddresses\/[^/]+$/i, 'public'),
      armCall('NIC PUT', /^PUT .*\/providers\/Microsoft\.Network\/networkInterfaces\/[^/]+$/i),
      armCall('VM PUT', /^PUT .*\/providers\/Microsoft\.Compute\/virtualMachines\/[^/]+$/i),
      armCall('wake identity PUT', /^PUT .*\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i),
      armCall('wake federated credential PUT', /^PUT .*\/userAssignedIdentities\/[^/]+\/federatedIdentityCredentials\/[^/]+$/i),
    ],
    destroy: [
      armCall('resource group DELETE', /^DELETE \/subscriptions\/[^/]+\/resourcegroups\/[^/]+$/i),
      armCall('wake identity DELETE', /^DELETE .*\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i),
    ],
    async start() {
      const az: AzureEmulator = await startAzureEmulator({ lroMs: 100 });
      // the user's one-time set-up (idle auto-stop is on by default; wake on request needs its role)
      createSelfDeallocateRole(az);
      setUpWake(az);
      return {
        faults: az.injector,
        env: (cf) => azureJourneyEnv(az, cf, CF_TOKEN, 'c4m-azure-faults-'),
        vms: (name) => azureVms(az, name),
        left: (name) => az.resourcesOf(name),
        vmCount: (name) => az.resourcesOf(name).filter((r) => /virtualMachines$/i.test(r.type)).length,
        close: () => az.close(),
      };
    },
  },
];

for (const cloud of CLOUDS) {
  // Every init call meets the kinds in turn; destroy calls round-robin with the next kind.
  const cases = cloud.init.map((call, i) => ({
    name: `${cloud.name === 'gcp' ? 'gf' : 'af'}${i}`,
    init: { call, kind: FAULT_KINDS[i % FAULT_KINDS.length]! },
    destroy: { call: cloud.destroy[i % cloud.destroy.length]!, kind: FAULT_KINDS[(i + 2) % FAULT_KINDS.length]! },
  }));

  describe(`fault matrix on ${cloud.name}: a fault on a mutating call, then init again or destroy`, () => {
    let emu: Awaited<ReturnType<Cloud['start']>>;
    let cf: CloudflareEmulator;
    let env: NodeJS.ProcessEnv;

    beforeAll(async () => {
      emu = await cloud.start();
      cf = await startCloudflareEmulator({ apiToken: CF_TOKEN });
      emu.faults.hangMs = 1_500;
      env = emu.env(cf);
      const calls = cloud.init.length + cloud.destroy.length;
      console.log(`fault matrix on ${cloud.name}: ${calls} mutating calls × ${FAULT_KINDS.length} kinds = ${calls * FAULT_KINDS.length}; sampled ${cases.length * 2} in ${cases.length} runs`);
    }, 60_000);
    afterAll(async () => {
      await cf?.close();
      await emu?.close();
    });

    const truthful = expectTruthfulOutcome;
    const stateOf = (name: string) => path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', `${name}.json`);

    for (const c of cases) {
      it(`init meets "${c.init.kind}" on ${c.init.call.label}; destroy meets "${c.destroy.kind}" on ${c.destroy.call.label}`, async () => {
        const sim = startVmSimulator(emu.vms(c.name), cf);
        let running: ChildProcess | undefined;
        emu.faults.onKill = () => running?.kill('SIGKILL');
        const cli = (args: string[]) => runCli(['--name', c.name, ...args], { env, timeoutMs: 180_000, onSpawn: (child) => (running = child) });
        const init = () => cli(['init', '--yes', '--provider', cloud.name, '--region', cloud.region, '--size', 'small', '--network', c.init.call.network]);
        try {
          emu.faults.failCall(c.init.call.action, 1, c.init.kind as FaultKind);
          let r = await init();
          truthful(r, 'init');
          if (c.init.kind === 'kill') expect(r.signal).toBe('SIGKILL');
          expect(JSON.parse(fs.readFileSync(stateOf(c.name), 'utf8')).name).toBe(c.name);
          if (r.code !== 0) r = await init();
          expect(r.code, r.stderr).toBe(0);
          expect(emu.faults.fired.some((f) => f.kind === c.init.kind), `the ${c.init.kind} fault on ${c.init.call.label} fired`).toBe(true);
          emu.faults.fired.length = 0;
          expect(emu.vmCount(c.name), 'never a second VM').toBe(1);

          emu.faults.failCall(c.destroy.call.action, 1, c.destroy.kind as FaultKind);
          let d = await cli(['destroy', '--yes']);
          truthful(d, 'destroy');
          if (c.destroy.kind === 'kill') expect(d.signal).toBe('SIGKILL');
          if (d.code !== 0) d = await cli(['destroy', '--yes']);
          expect(d.code, d.stderr).toBe(0);
          expect(emu.faults.fired.some((f) => f.kind === c.destroy.kind), `the ${c.destroy.kind} fault on ${c.destroy.call.label} fired`).toBe(true);
          expect(emu.left(c.name)).toEqual([]);
          expect(cf.scripts()).not.toContain(`crawl4ai-mcp-${c.name}`);
          expect(cf.tunnels().filter((t) => !t.deleted && t.name === `crawl4ai-mcp-${c.name}`)).toEqual([]);
          expect(fs.existsSync(stateOf(c.name))).toBe(false);
        } finally {
          emu.faults.clear();
          emu.faults.fired.length = 0;
          await sim.stop();
        }
      }, 240_000);
    }
  });
}
