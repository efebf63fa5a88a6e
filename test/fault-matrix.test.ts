import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { FAULT_KINDS, type FaultKind } from './emulators/faults/injector.ts';
import { runCli } from './helpers/cli.js';
import { expectTruthfulOutcome } from './helpers/outcome.js';
import { startVmSimulator } from './helpers/vm-simulator.js';
import { AWS_ACCESS_KEY as ACCESS_KEY, ec2Instances, journeyEnv } from './helpers/journey.js';

const CF_TOKEN = 'cf-token-' + 'f'.repeat(32);
const acct = '/accounts/[^/]+';

/** A mutating call on the way up (init) or down (destroy), and how to recognise it in an emulator. */
interface Call {
  side: 'aws' | 'cloudflare';
  /** EC2 action, or a pattern over "METHOD /path" for Cloudflare */
  action: (name: string) => string | RegExp;
  label: string;
  network: 'tunnel' | 'public';
}
const aws = (action: string, network: 'tunnel' | 'public' = 'tunnel'): Call => ({ side: 'aws', action: () => action, label: `EC2 ${action}`, network });
const cf = (label: string, action: (name: string) => RegExp): Call => ({ side: 'cloudflare', action, label, network: 'tunnel' });

const INIT_CALLS: Call[] = [
  aws('CreateSecurityGroup'),
  aws('RunInstances'),
  aws('AllocateAddress', 'public'),
  aws('AuthorizeSecurityGroupIngress', 'public'),
  aws('AssociateAddress', 'public'),
  cf('create tunnel', () => new RegExp(`^POST ${acct}/cfd_tunnel$`)),
  cf('create VPC service', () => new RegExp(`^POST ${acct}/connectivity/directory/services$`)),
  cf('wrangler deploy (script upload)', (n) => new RegExp(`^PUT ${acct}/workers/scripts/crawl4ai-mcp-${n}$`)),
  cf('wrangler secret bulk', (n) => new RegExp(`^PATCH ${acct}/workers/scripts/crawl4ai-mcp-${n}/secrets-bulk$`)),
];
const DESTROY_CALLS: Call[] = [
  aws('TerminateInstances'),
  aws('DeleteSecurityGroup'),
  cf('wrangler delete', (n) => new RegExp(`^DELETE ${acct}/workers/services/crawl4ai-mcp-${n}$`)),
  cf('delete VPC service', () => new RegExp(`^DELETE ${acct}/connectivity/directory/services/`)),
  cf('delete tunnel', () => new RegExp(`^DELETE ${acct}/cfd_tunnel/[^/]+$`)),
];
/** A public-mode deployment has no tunnel or VPC service to delete. */
const TUNNEL_ONLY = new Set(['delete VPC service', 'delete tunnel']);

/**
 * Sampled evenly: the i-th init call gets kind i mod 4; each run's destroy meets the next destroy
 * call (round robin, skipping those its network mode does not have) with the next kind, so every
 * call and every kind is met.
 */
let cursor = 0;
const nextDestroyCall = (network: Call['network']): Call => {
  for (;;) {
    const d = DESTROY_CALLS[cursor++ % DESTROY_CALLS.length]!;
    if (network === 'tunnel' || !TUNNEL_ONLY.has(d.label)) return d;
  }
};
const CASES = INIT_CALLS.map((call, i) => ({
  name: `fm${i}`,
  init: { call, kind: FAULT_KINDS[i % FAULT_KINDS.length]! },
  destroy: { call: nextDestroyCall(call.network), kind: FAULT_KINDS[(i + 1) % FAULT_KINDS.length]! },
}));

describe('fault matrix: a fault on any mutating call, then init again or destroy', () => {
  let ec2: Ec2Emulator;
  let cfe: CloudflareEmulator;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ec2 = await startEc2Emulator({ transitionMs: 100, consistencyDelayMs: 200, accessKeyId: ACCESS_KEY });
    cfe = await startCloudflareEmulator({ apiToken: CF_TOKEN });
    ec2.faults.hangMs = 1_500;
    cfe.faults.hangMs = 1_500;
    env = journeyEnv(ec2, cfe, CF_TOKEN, 'c4m-faults-');
    const total = (INIT_CALLS.length + DESTROY_CALLS.length) * FAULT_KINDS.length;
    console.log(`fault matrix: ${INIT_CALLS.length + DESTROY_CALLS.length} mutating calls × ${FAULT_KINDS.length} kinds = ${total}; sampled ${CASES.length * 2} in ${CASES.length} runs`);
  }, 60_000);
  afterAll(async () => {
    await cfe?.close();
    await ec2?.close();
  });

  const inject = (c: { call: Call; kind: FaultKind }, name: string) =>
    (c.call.side === 'aws' ? ec2.faults : cfe.faults).failCall(c.call.action(name), 1, c.kind);

  const truthful = expectTruthfulOutcome;
  const stateOf = (name: string) => path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', `${name}.json`);

  for (const c of CASES) {
    it(`init meets "${c.init.kind}" on ${c.init.call.label}; destroy meets "${c.destroy.kind}" on ${c.destroy.call.label}`, async () => {
      const sim = startVmSimulator(ec2Instances(ec2, c.name), cfe);
      let running: import('node:child_process').ChildProcess | undefined;
      ec2.faults.onKill = cfe.faults.onKill = () => running?.kill('SIGKILL');
      const cli = (args: string[]) => runCli(['--name', c.name, ...args], { env, timeoutMs: 180_000, onSpawn: (child) => (running = child) });
      try {
        inject(c.init, c.name);
        let init = await cli(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', c.init.call.network]);
        truthful(init, 'init');
        if (c.init.kind === 'kill') expect(init.signal, 'the CLI was SIGKILLed right after the call').toBe('SIGKILL');
        expect(JSON.parse(fs.readFileSync(stateOf(c.name), 'utf8')).name).toBe(c.name); // a valid state file either way
        if (init.code !== 0) init = await cli(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', c.init.call.network]);
        expect(init.code, init.stderr).toBe(0);
        const injector = (side: Call['side']) => (side === 'aws' ? ec2.faults : cfe.faults);
        expect(injector(c.init.call.side).fired.some((f) => f.kind === c.init.kind)).toBe(true);
        injector('aws').fired.length = 0;
        injector('cloudflare').fired.length = 0;
        // never a second VM, whatever answer was lost
        expect(ec2.resourcesOf(c.name).filter((r) => r.type === 'instance')).toHaveLength(1);
        expect(cfe.scripts()).toContain(`crawl4ai-mcp-${c.name}`);

        inject(c.destroy, c.name);
        let destroy = await cli(['destroy', '--yes']);
        truthful(destroy, 'destroy');
        if (c.destroy.kind === 'kill') expect(destroy.signal, 'the CLI was SIGKILLed right after the call').toBe('SIGKILL');
        if (destroy.code !== 0) {
          if (destroy.signal !== 'SIGKILL') expect(destroy.stderr).toMatch(/error: destroy did not finish: .*left behind: /);
          expect(fs.existsSync(stateOf(c.name))).toBe(true);
          destroy = await cli(['destroy', '--yes']);
        }
        expect(destroy.code, destroy.stderr).toBe(0);
        expect(injector(c.destroy.call.side).fired.some((f) => f.kind === c.destroy.kind), `the ${c.destroy.kind} fault on ${c.destroy.call.label} fired`).toBe(true);
        // zero orphans in either emulator
        expect(ec2.resourcesOf(c.name)).toEqual([]);
        expect(cfe.scripts()).not.toContain(`crawl4ai-mcp-${c.name}`);
        expect(cfe.tunnels().filter((t) => !t.deleted && t.name === `crawl4ai-mcp-${c.name}`)).toEqual([]);
        expect(cfe.vpcServices().filter((s) => s.name === `crawl4ai-mcp-${c.name}`)).toEqual([]);
        expect(fs.existsSync(stateOf(c.name))).toBe(false);
      } finally {
        ec2.faults.clear();
        cfe.faults.clear();
        await sim.stop();
      }
    }, 240_000);
  }
});
