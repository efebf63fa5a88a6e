import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { CLI, cliEnv, tempHome } from './helpers/cli.js';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { ec2Instances } from './helpers/journey.js';

// Recognisable secret values: none may appear anywhere a user, a log or another process could read.
const AWS_KEY_ID = 'AKIALEAKCANARY000001';
const AWS_SECRET = 'LeakCanaryAwsSecret/0123456789abcdefABCDEFGHIJKL';
const CF_TOKEN = 'LeakCanaryCloudflareToken_0123456789abcdef';
const PASSPHRASE = 'LeakCanaryPassphrase-0123456789';

/** Every file under `dir` whose text contains one of `needles`. */
function filesContaining(dir: string, needles: string[]): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const text = fs.readFileSync(p).toString('latin1');
        for (const n of needles) if (text.includes(n)) hits.push(`${p} contains ${n.slice(0, 12)}…`);
      }
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return hits;
}

/** argv of every process on the machine that mentions one of `needles` (children included). */
function argvLeaks(needles: string[], seen: { wrangler: number }): string[] {
  const hits: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv: string;
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`).toString('utf8');
    } catch {
      continue; // gone already
    }
    if (/wrangler/.test(argv) && argv.includes('--name\0crawl4ai-mcp-leak')) seen.wrangler++;
    for (const n of needles) if (argv.includes(n)) hits.push(`pid ${pid}: ${argv.replaceAll('\0', ' ').slice(0, 120)}`);
  }
  return hits;
}

describe('secret-leak scan: a whole life of a deployment with recognisable secrets', () => {
  let ec2: Ec2Emulator;
  let cf: CloudflareEmulator;
  let sim: VmSimulator;
  let home: string;
  let tmp: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ec2 = await startEc2Emulator({ transitionMs: 100, accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET });
    cf = await startCloudflareEmulator({ apiToken: CF_TOKEN });
    sim = startVmSimulator(ec2Instances(ec2, 'leak'), cf);
    home = tempHome('c4m-leak-');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-leak-tmp-'));
    env = cliEnv(home, {
      TMPDIR: tmp, // the wrangler work dirs land here, so what is left behind can be scanned
      CRAWL4AI_MCP_SECRET_BACKEND: 'file',
      CRAWL4AI_MCP_PASSPHRASE: PASSPHRASE,
      AWS_ENDPOINT_URL_EC2: ec2.url,
      AWS_ENDPOINT_URL_IAM: ec2.url,
      AWS_ENDPOINT_URL_STS: ec2.url,
      AWS_ACCESS_KEY_ID: AWS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: AWS_SECRET,
      CLOUDFLARE_API_BASE_URL: cf.apiBaseUrl,
      CLOUDFLARE_ACCOUNT_ID: cf.accountId,
      CLOUDFLARE_API_TOKEN: CF_TOKEN,
      CRAWL4AI_MCP_WORKERS_URL_TEMPLATE: cf.workersUrlTemplate,
      CRAWL4AI_MCP_POLL_MS: '100',
      CRAWL4AI_MCP_HEALTH_INTERVAL_MS: '300',
      CRAWL4AI_MCP_HEALTH_TIMEOUT_MS: '60000',
    });
  }, 60_000);
  afterAll(async () => {
    await sim?.stop();
    await cf?.close();
    await ec2?.close();
  });

  it('init -> status -> connect -> stop -> start -> scale -> destroy: no secret in output, files, temp dirs or any process argv', async () => {
    const secrets = [AWS_SECRET, CF_TOKEN, PASSPHRASE];
    const argvHits = new Set<string>();
    const seen = { wrangler: 0 };
    const outputs: Array<{ args: string; text: string }> = [];

    /** Runs the CLI while scanning every process's argv every 20 ms. */
    const run = (args: string[]) =>
      new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, '--name', 'leak', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let text = '';
        child.stdout.on('data', (d) => (text += d));
        child.stderr.on('data', (d) => (text += d));
        const scan = setInterval(() => argvLeaks(secrets, seen).forEach((h) => argvHits.add(h)), 20);
        child.on('error', reject);
        child.on('close', (code) => {
          clearInterval(scan);
          outputs.push({ args: args.join(' '), text });
          resolve(code);
        });
      });

    // each command once with --verbose and once without, where repeating is harmless
    const steps: string[][] = [
      ['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--verbose'],
      ['status'],
      ['status', '--verbose', '--json'],
      ['connect', '--client', 'cursor'],
      ['connect', '--client', 'cursor', '--verbose'],
      ['stop', '--verbose'],
      ['start'],
      ['scale', '--size', 'medium', '--verbose'],
    ];
    for (const s of steps) {
      expect(await run(s), outputs.at(-1)?.text).toBe(0);
      // the state file and everything else in the config home, after every step
      expect(filesContaining(home, secrets)).toEqual([]);
    }
    // secrets the tool made itself: the VM's Crawl4AI token and the tunnel's connector token
    const inst = [...ec2.state.instances.values()].find((i) => i.tags['crawl4ai-mcp:deployment'] === 'leak')!;
    // (init clears them from the user data after the first boot; the VM's disk keeps them)
    const disk = sim.disk(inst.instanceId)!;
    // and the Worker's wake key, which IAM issued during init (it must be only in the Worker)
    const wakeSecrets = [...(ec2.iam.user('leak-wake')?.keys.values() ?? [])].map((k) => k.secretAccessKey);
    expect(wakeSecrets).toHaveLength(1);
    const made = [disk.token, disk.tunnelToken!, ...wakeSecrets];
    expect(await run(['destroy', '--yes', '--verbose'])).toBe(0);
    const all = [...secrets, ...made];

    for (const o of outputs) for (const s of all) expect(o.text.includes(s), `\`${o.args}\` printed a secret`).toBe(false);
    expect([...argvHits]).toEqual([]);
    expect(seen.wrangler, 'the argv scan saw the wrangler child (wrangler delete --name …)').toBeGreaterThan(0);
    expect(filesContaining(home, all)).toEqual([]);
    expect(filesContaining(tmp, all)).toEqual([]);
    // the wrangler work dirs (their config and ndjson output) are removed after each run
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('crawl4ai-mcp-wrangler-'))).toEqual([]);
    console.log(`leak scan: ${outputs.length} commands, ${all.length} secret values, argv scanned every 20 ms`);
  }, 300_000);
});
