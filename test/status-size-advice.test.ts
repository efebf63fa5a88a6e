// `status` suggests a larger or smaller size from Crawl4AI's own memory figures: its
// /monitor/health, read through the Worker's admin API (GET /admin/origin/health), in the built
// CLI against the EC2, Cloudflare (real workerd) and Crawl4AI emulators.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { runCli } from './helpers/cli.js';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { AWS_ACCESS_KEY, ec2Instances, journeyEnv } from './helpers/journey.js';
import { sizeAdvice } from '../src/conductor/size-advice.js';
import { estimateMonthly, type EstimateInput } from '../src/pricing/estimate.js';

const CF_TOKEN = 'cf-token-' + 's'.repeat(32);

describe('status: size suggestion from Crawl4AI memory, through the built CLI', () => {
  let ec2: Ec2Emulator;
  let cf: CloudflareEmulator;
  let sim: VmSimulator;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ec2 = await startEc2Emulator({ transitionMs: 100, accessKeyId: AWS_ACCESS_KEY });
    cf = await startCloudflareEmulator({ apiToken: CF_TOKEN });
    sim = startVmSimulator(ec2Instances(ec2, 'sized'), cf);
    // a login session's runtime dir: the unlock cache keeps the secret file's key there after init
    const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-size-advice-run-'));
    fs.chmodSync(runtime, 0o700);
    env = { ...journeyEnv(ec2, cf, CF_TOKEN, 'c4m-size-advice-'), XDG_RUNTIME_DIR: runtime };
    const init = await runCli(['--name', 'sized', 'init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'medium', '--network', 'public'], { env, timeoutMs: 240_000 });
    expect(init.code, init.stderr).toBe(0);
  }, 300_000);
  afterAll(async () => {
    await sim?.stop();
    await cf?.close();
    await ec2?.close();
  });

  const status = async (memoryPercent: number, json = true) => {
    sim.current()!.setMonitorHealth({ memoryPercent });
    const r = await runCli(['--name', 'sized', 'status', ...(json ? ['--json'] : [])], { env, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    return r;
  };
  const priced: EstimateInput = { provider: 'aws', region: 'us-east-1', size: 'medium', diskGiB: 30, publicIpv4: true, staticIpv4: true };
  const delta = (to: 'small' | 'large') => Math.round((estimateMonthly({ ...priced, size: to }).monthlyUsd - estimateMonthly(priced).monthlyUsd) * 100) / 100;

  it('memory above 85 %: the next size up, with the scale command and its monthly delta', async () => {
    const st = JSON.parse((await status(91)).stdout);
    expect(st.memory).toMatchObject({ memoryPercent: 91, memoryPressure: 'HIGH' });
    expect(st.suggestion).toEqual({ direction: 'larger', size: 'large', memoryPercent: 91, command: 'crawl4ai-mcp scale --name sized --size large', monthlyDeltaUsd: delta('large') });
    expect(delta('large')).toBeGreaterThan(50); // t3.large -> t3.xlarge: about $60 more a month

    const text = (await status(91, false)).stdout;
    expect(text).toContain('memory: 91% in use by Crawl4AI (pressure high)');
    expect(text).toContain(`suggestion: size large — memory is 91% full (Crawl4AI refuses new browsers at 95%); crawl4ai-mcp scale --name sized --size large (+$${delta('large').toFixed(2)}/month`);
  }, 120_000);

  it('memory below 30 % on a size above small: the next size down, and what it saves', async () => {
    const st = JSON.parse((await status(18)).stdout);
    expect(st.suggestion).toEqual({ direction: 'smaller', size: 'small', memoryPercent: 18, command: 'crawl4ai-mcp scale --name sized --size small', monthlyDeltaUsd: delta('small') });
    expect(delta('small')).toBeLessThan(-25);
  }, 120_000);

  it('memory in between: figures shown, no suggestion', async () => {
    const r = await status(55);
    const st = JSON.parse(r.stdout);
    expect(st.memory).toMatchObject({ memoryPercent: 55, memoryPressure: 'LOW' });
    expect(st.suggestion).toBeUndefined();
    expect((await status(55, false)).stdout).not.toContain('suggestion:');
  }, 120_000);

  it.runIf(process.platform !== 'win32')('the unlock cache: after init unlocked the secret file, status runs without the passphrase; with the cache off it needs it again', async () => {
    const { CRAWL4AI_MCP_PASSPHRASE: _, ...noPassphrase } = env;
    const ok = await runCli(['--name', 'sized', 'status', '--json'], { env: noPassphrase, timeoutMs: 120_000 });
    expect(ok.code, ok.stderr).toBe(0);
    const off = await runCli(['--name', 'sized', 'status', '--json'], { env: { ...noPassphrase, CRAWL4AI_MCP_UNLOCK_CACHE: 'off' }, timeoutMs: 120_000 });
    expect(off.code).toBe(2);
    expect(off.stderr).toContain('no passphrase for the encrypted secret file');
    // `off` dropped the kept key: the next run needs the passphrase too
    expect((await runCli(['--name', 'sized', 'status', '--json'], { env: noPassphrase, timeoutMs: 120_000 })).code).toBe(2);
  }, 120_000);
});

describe('size advice at the ends of the range', () => {
  const at = (size: 'small' | 'medium' | 'large', memoryPercent: number) =>
    sizeAdvice('x', { provider: 'gcp', region: 'us-central1', size, diskGiB: 30, publicIpv4: true }, { memoryPercent, cpuPercent: null, browsersMemoryMb: null, memoryPressure: null });

  it('no size above large, none below small; an unreadable monitor suggests nothing', () => {
    expect(at('large', 97)).toBeNull();
    expect(at('small', 5)).toBeNull();
    expect(at('small', 86)?.size).toBe('medium');
    expect(at('large', 29)?.size).toBe('medium');
    expect(at('medium', 85)).toBeNull(); // the thresholds themselves suggest nothing
    expect(at('medium', 30)).toBeNull();
    expect(sizeAdvice('x', { provider: 'gcp', region: 'us-central1', size: 'medium', diskGiB: 30, publicIpv4: true }, { error: 'HTTP 404' })).toBeNull();
  });
});
