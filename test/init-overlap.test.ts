/**
 * init runs two chains at once — the VM (address, firewall, launch, running) and the Worker
 * (wrangler deploy) — so the Worker no longer waits for the VM. Both chains journal into one
 * state file, so the journal must serialise its writes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerSecret } from '../src/ground/redact.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { lines, runCli } from './helpers/cli.js';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { AWS_ACCESS_KEY, ec2Instances, journeyEnv } from './helpers/journey.js';

describe('Journal writes from two chains at once', () => {
  it('land in call order: the file ends as the state in memory, with no write lost or failed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-journal-'));
    try {
      const store = new StateStore(dir);
      const state = newDeploymentState('both');
      await store.write(state);
      const j = new Journal(store, state);
      // a VM chain and a Worker chain, interleaved without waiting for each other
      const vm = (async () => {
        for (let i = 0; i < 15; i++) {
          await j.intend(`aws:r${i}`, 'aws:r');
          await j.created(`aws:r${i}`, `id-${i}`);
        }
      })();
      const worker = (async () => {
        await j.intend('cloudflare:worker', 'cloudflare:worker');
        for (let i = 0; i < 15; i++) await j.update({ outputs: { ...j.state.outputs, [`w${i}`]: i } });
        await j.created('cloudflare:worker', 'crawl4ai-mcp-both');
      })();
      await Promise.all([vm, worker]);
      const disk = (await store.read('both'))!;
      expect(disk.resources.filter((r) => r.phase === 'created')).toHaveLength(16);
      expect(Object.keys(disk.outputs)).toHaveLength(15);
      expect(disk).toEqual(j.state);
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a refused write in one chain neither takes the other chain's write down nor leaves its own change behind", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-journal-'));
    try {
      const store = new StateStore(dir);
      const state = newDeploymentState('refused');
      await store.write(state);
      const j = new Journal(store, state);
      const SECRET = 'overlap-s3cret-value';
      registerSecret(SECRET);
      // same tick: a bug in one chain puts a secret in the state; the other journals an intent
      const bad = j.update({ outputs: { leaked: SECRET } });
      const good = j.intend('cloudflare:worker', 'cloudflare:worker');
      await expect(bad).rejects.toThrow(/contains a secret/);
      await expect(good).resolves.toMatchObject({ key: 'cloudflare:worker', phase: 'intent' });
      expect(j.state.outputs).toEqual({});
      const disk = (await store.read('refused'))!;
      expect(disk.resources.map((r) => r.key)).toEqual(['cloudflare:worker']);
      expect(JSON.stringify(disk)).not.toContain(SECRET);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('init deploys the Worker while the VM launches', () => {
  const CF_TOKEN = 'cf-token-' + 'o'.repeat(32);
  let ec2: Ec2Emulator;
  let cf: CloudflareEmulator;
  let env: NodeJS.ProcessEnv;
  const sims: VmSimulator[] = [];

  beforeAll(async () => {
    // a launch slow enough that a Worker deploy fits inside it
    ec2 = await startEc2Emulator({ transitionMs: 8_000, accessKeyId: AWS_ACCESS_KEY });
    cf = await startCloudflareEmulator({ apiToken: CF_TOKEN });
    env = journeyEnv(ec2, cf, CF_TOKEN, 'c4m-overlap-');
  }, 60_000);
  afterAll(async () => {
    for (const s of sims) await s.stop();
    await cf?.close();
    await ec2?.close();
  });

  it('wrangler is already talking to Cloudflare while the instance is still pending; the Worker is journaled; the run ends ready', async () => {
    const name = 'overlap';
    sims.push(startVmSimulator(ec2Instances(ec2, name), cf));
    // watch both clouds: when the instance first runs, had the Worker's deploy begun?
    const script = `crawl4ai-mcp-${name}`;
    let deployBegunWhenRunning: boolean | undefined;
    const watch = setInterval(() => {
      const inst = [...ec2.state.instances.values()].find((i) => i.tags['crawl4ai-mcp:deployment'] === name);
      if (deployBegunWhenRunning === undefined && inst && ec2.state.instanceState(inst) === 'running') {
        deployBegunWhenRunning = cf.requests.some((r) => r.path.includes(`/${script}`));
      }
    }, 25);
    const r = await runCli(['--name', name, 'init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public'], { env, timeoutMs: 240_000 });
    clearInterval(watch);
    expect(r.code, r.stderr).toBe(0);
    expect(deployBegunWhenRunning).toBe(true);
    const steps = lines(r.stderr);
    const at = (re: RegExp) => steps.findIndex((l) => re.test(l));
    expect(at(/deploying the Worker/)).toBeGreaterThanOrEqual(0);
    expect(at(/deploying the Worker/)).toBeLessThan(at(/waiting for instance i-[0-9a-f]+ to be running/));
    const state = JSON.parse(fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', `${name}.json`), 'utf8')) as {
      status: string;
      worker?: { scriptName: string };
      resources: Array<{ key: string; phase: string; id?: string }>;
    };
    expect(state.status).toBe('ready');
    expect(state.worker?.scriptName).toBe(script);
    expect(state.resources.find((x) => x.key === 'cloudflare:worker')).toMatchObject({ phase: 'created', id: script });
    expect(cf.scripts()).toContain(script);
  }, 300_000);
});
