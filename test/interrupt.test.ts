import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { CLI, lines, runCli } from './helpers/cli.js';
import { AWS_ACCESS_KEY as ACCESS_KEY, journeyEnv } from './helpers/journey.js';

const CF_TOKEN = 'cf-token-' + 'i'.repeat(32);

/** Ctrl-C during init: a real child process gets SIGINT while it waits for the VM. */
describe('Ctrl-C during init', () => {
  let ec2: Ec2Emulator;
  let cf: CloudflareEmulator;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    // a VM that takes 4 s to boot: init is surely waiting for it when Ctrl-C comes
    ec2 = await startEc2Emulator({ transitionMs: 4_000, accessKeyId: ACCESS_KEY });
    cf = await startCloudflareEmulator({ apiToken: CF_TOKEN });
    env = journeyEnv(ec2, cf, CF_TOKEN, 'c4m-sigint-');
  }, 60_000);
  afterAll(async () => {
    await cf?.close();
    await ec2?.close();
  });

  it('stops cleanly: exit 130, the state file records what was made, says how to resume or clean up; destroy then leaves nothing', async () => {
    const child = spawn(process.execPath, [CLI, '--name', 'intr', 'init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!/waiting for instance i-[0-9a-f]+ to be running/.test(stderr)) {
      if (Date.now() > deadline) throw new Error(`init never reached the wait: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGINT');
    const code = await exited;
    expect(code).toBe(130);
    const tail = lines(stderr).slice(-2);
    expect(tail[0]).toBe('error: init was interrupted; what it created so far is recorded in the state file');
    expect(tail[1]).toBe('hint: run `crawl4ai-mcp init --name intr` again to resume where it stopped, or `crawl4ai-mcp destroy --name intr` to remove what was created');
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace

    const state = JSON.parse(fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'intr.json'), 'utf8'));
    const instance = state.resources.find((r: { key: string }) => r.key === 'aws:instance');
    expect(instance).toMatchObject({ phase: 'created', id: expect.stringMatching(/^i-/) });
    expect(ec2.resourcesOf('intr').some((r) => r.type === 'instance' && r.id === instance.id)).toBe(true);
    // the lock went with the process
    expect(fs.existsSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'intr.lock'))).toBe(false);

    const destroy = await runCli(['--name', 'intr', 'destroy', '--yes'], { env, timeoutMs: 120_000 });
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(ec2.resourcesOf('intr')).toEqual([]);
    expect(cf.tunnels().filter((t) => !t.deleted)).toEqual([]);
  }, 180_000);
});
