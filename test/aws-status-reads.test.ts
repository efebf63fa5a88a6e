// `status` of an AWS deployment reads EC2 through the light Query client (src/providers/aws/ec2-query.ts)
// and never loads the AWS SDK's EC2 client (~0.5 s of CPU per process). Through the built CLI against
// the EC2 emulator, which verifies every SigV4 signature, pages, throttles and refuses as EC2 does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { runCli } from './helpers/cli.js';
import { AWS_ACCESS_KEY, ec2Instances, journeyEnv } from './helpers/journey.js';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';

const CF_TOKEN = 'cf-token-' + 's'.repeat(32);
const HOOK = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'trace-modules.mjs');
const NAME = 'reads';

let cf: CloudflareEmulator;
let ec2: Ec2Emulator;
let sim: VmSimulator;
let env: NodeJS.ProcessEnv;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-reads-'));

beforeAll(async () => {
  cf = await startCloudflareEmulator({ apiToken: CF_TOKEN });
  // pageSize 1: every Describe that lists answers one item per page, so a reader that stops at the first page misses resources
  ec2 = await startEc2Emulator({ transitionMs: 100, accessKeyId: AWS_ACCESS_KEY, pageSize: 1 });
  env = journeyEnv(ec2, cf, CF_TOKEN, 'c4m-reads-');
  sim = startVmSimulator(ec2Instances(ec2, NAME), cf);
  const init = await runCli(['--name', NAME, 'init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public'], { env, timeoutMs: 240_000 });
  expect(init.code, init.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await sim?.stop();
  await ec2?.close();
  await cf?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function status(extra: Record<string, string> = {}) {
  const trace = path.join(dir, `trace-${++n}.txt`);
  const from = ec2.requests.length;
  const r = await runCli(['--name', NAME, 'status', '--json'], { env: { ...env, C4M_TRACE_MODULES: trace, NODE_OPTIONS: `--import ${HOOK}`, ...extra }, timeoutMs: 120_000 });
  const modules = fs.existsSync(trace) ? fs.readFileSync(trace, 'utf8').trim().split('\n') : [];
  return { ...r, modules, requests: ec2.requests.slice(from) };
}

describe('status reads EC2 without the SDK', () => {
  it('answers from signed Query calls and loads nothing of @aws-sdk/client-ec2', async () => {
    const r = await status();
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { vm: { state: string; instanceType?: string; cpuCredits?: string; publicIp?: string }; drift?: unknown };
    expect(out.vm.state).toBe('running');
    expect(out.vm.instanceType).toBe('t3.medium');
    expect(out.vm.cpuCredits).toBe('standard');
    expect(out.vm.publicIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(r.modules.length).toBeGreaterThan(0); // the trace works
    expect(r.modules.filter((m) => m.includes('@aws-sdk/client-ec2'))).toEqual([]);
    const actions = r.requests.map((q) => q.action);
    expect(actions).toEqual(expect.arrayContaining(['DescribeInstances', 'DescribeInstanceCreditSpecifications', 'DescribeSecurityGroups', 'DescribeAddresses']));
    // every call was answered (the emulator verified each signature) in the deployment's region
    expect(r.requests.every((q) => q.status === 200 && q.region === 'us-east-1')).toBe(true);
  }, 120_000);

  it('runs from the CLI bundle: a handful of files, not the module tree (start-up time, BENCHMARKS.md)', async () => {
    const r = await status();
    expect(r.code, r.stderr).toBe(0);
    const files = [...new Set(r.modules.filter((m) => m.startsWith('file:')))];
    const ours = files.filter((m) => m.includes('/dist/'));
    expect(ours.filter((m) => m.includes('/dist/bundle/')).length).toBeGreaterThan(0);
    // only the launcher's compile-cache helper is loaded from outside the bundle
    expect(ours.filter((m) => !m.includes('/dist/bundle/')).map((m) => m.replace(/^.*\/dist\//, 'dist/'))).toEqual(['dist/ground/paths.js']);
    // zod and commander are inside it (zod is ~95 modules on its own)
    expect(files.filter((m) => /node_modules\/(zod|commander)\//.test(m))).toEqual([]);
    // esbuild's shared chunks: 36 files today, against ~100 modules of dist/ before the bundle
    expect(ours.length).toBeLessThan(60);
  }, 120_000);

  it('survives throttling: refused calls are retried with backoff, as the SDK client would', async () => {
    ec2.throttleNext(3);
    const r = await status();
    expect(r.code, r.stderr).toBe(0);
    expect(r.requests.filter((q) => q.error === 'RequestLimitExceeded')).toHaveLength(3);
    expect(JSON.parse(r.stdout).vm.state).toBe('running');
  }, 120_000);

  it('a refused read is one line naming the call, exit non-zero, no stack trace', async () => {
    ec2.denyActions(['DescribeInstances']);
    try {
      const r = await status();
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/DescribeInstances/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      ec2.denyActions([]);
    }
  }, 120_000);

  it('with --credentials chain the SDK resolves the credentials (env, profile, SSO) and the same reads are signed with them', async () => {
    const chainSim = startVmSimulator(ec2Instances(ec2, 'chained'), cf);
    try {
      const init = await runCli(['--name', 'chained', 'init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public', '--credentials', 'chain'], { env, timeoutMs: 240_000 });
      expect(init.code, init.stderr).toBe(0);
      const from = ec2.requests.length;
      const r = await runCli(['--name', 'chained', 'status', '--json'], { env, timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).vm.state).toBe('running');
      const reads = ec2.requests.slice(from).filter((q) => q.action === 'DescribeInstances');
      expect(reads.length).toBeGreaterThan(0);
      expect(reads.every((q) => q.status === 200)).toBe(true);
    } finally {
      await chainSim.stop();
    }
  }, 300_000);
});
