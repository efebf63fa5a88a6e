/**
 * `logs` through the built CLI: init on the EC2 and Cloudflare emulators (the Worker runs in
 * workerd), then the VM's console read with GetConsoleOutput (`--boot`) and Crawl4AI's monitor
 * logs read through the Worker's admin API, secrets masked in both; `--follow` until Ctrl-C.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { lines, runCli } from './helpers/cli.js';
import { simulatedDigest, startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { AWS_ACCESS_KEY as ACCESS_KEY, ec2Instances, journeyEnv } from './helpers/journey.js';

const CF_TOKEN = 'cf-token-' + 'l'.repeat(32);
const CF_ACCOUNT = 'acc000000000000000000000000000d1';

describe('logs: the boot console and Crawl4AI log lines through the CLI, secrets masked', () => {
  let ec2: Ec2Emulator;
  let cf: CloudflareEmulator;
  let sim: VmSimulator;
  let env: NodeJS.ProcessEnv;
  let instanceId: string;
  const cli = (args: string[], extra: Record<string, string> = {}, onSpawn?: (c: ChildProcess) => void) =>
    runCli(['--name', 'logs', ...args], { env: { ...env, ...extra }, timeoutMs: 240_000, ...(onSpawn ? { onSpawn } : {}) });

  beforeAll(async () => {
    ec2 = await startEc2Emulator({ transitionMs: 200, accessKeyId: ACCESS_KEY, iamPolicy: 'template' });
    cf = await startCloudflareEmulator({ accountId: CF_ACCOUNT, apiToken: CF_TOKEN });
    sim = startVmSimulator(ec2Instances(ec2, 'logs'), cf);
    env = journeyEnv(ec2, cf, CF_TOKEN, 'c4m-logs-');
    const init = await cli(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small']);
    expect(init.code, init.stderr).toBe(0);
    instanceId = [...ec2.state.instances.values()].find((i) => i.tags['crawl4ai-mcp:deployment'] === 'logs')!.instanceId;
  }, 240_000);

  afterAll(async () => {
    await cli(['destroy', '--yes']).catch(() => undefined);
    await sim?.stop();
    await cf?.close();
    await ec2?.close();
  });

  it('--boot prints the console (GetConsoleOutput, allowed by the policy template) with the tokens the bootstrap echoed masked', async () => {
    const token = sim.disk(instanceId)!.token;
    ec2.writeConsole(instanceId, `[   43.100000] cloud-init[812]: CRAWL4AI_API_TOKEN=${token}\r\n[   43.200000] curl -H 'Authorization: Bearer ${token}'\r\n[   43.300000] plain ${token} echoed\r\n`);
    const out = await cli(['logs', '--boot']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout + out.stderr).not.toContain(token);
    expect(out.stdout).toContain(`crawl4ai-mcp: image unclecode/crawl4ai:0.9.4 digest ${simulatedDigest('unclecode/crawl4ai:0.9.4')}`); // a digest is no secret
    expect(out.stdout).toContain('cloud-init[812]: CRAWL4AI_API_TOKEN=****');
    expect(out.stdout).toContain('Bearer ****');
    expect(out.stdout).toContain('plain **** echoed');
    expect(ec2.requests.filter((r) => r.action === 'GetConsoleOutput').length).toBeGreaterThan(0);

    const last = await cli(['logs', '--boot', '--lines', '2', '--json']);
    expect(last.code, last.stderr).toBe(0);
    const records = lines(last.stdout).map((l) => JSON.parse(l) as { source: string; text: string });
    expect(records.map((r) => r.text)).toEqual([`[   43.200000] curl -H 'Authorization: Bearer ****'`, '[   43.300000] plain **** echoed']);
  });

  it('--boot without ec2:GetConsoleOutput says which permission is missing (exit 3)', async () => {
    ec2.denyActions(['GetConsoleOutput']);
    try {
      const out = await cli(['logs', '--boot']);
      expect(out.code).toBe(3);
      expect(out.stderr).toContain('ec2:GetConsoleOutput');
    } finally {
      ec2.denyActions([]);
    }
  });

  it("prints Crawl4AI's error and janitor logs through the Worker: hosts only, secrets masked", async () => {
    const c4 = sim.current()!;
    c4.logMonitorEvent('janitor', { type: 'close_cold', sig: 'a1b2c3', details: { idle_seconds: 305 } });
    await new Promise((r) => setTimeout(r, 5)); // a later timestamp
    c4.logMonitorEvent('errors', { endpoint: '/md', url: 'https://shop.example.com/cart?session=abc123', error: 'Page.goto: net::ERR_NAME_NOT_RESOLVED api_key=sk-live-123456' });
    const out = await cli(['logs']);
    expect(out.code, out.stderr).toBe(0);
    const ls = lines(out.stdout);
    expect(ls.some((l) => /\[janitor\] close_cold a1b2c3 \{"idle_seconds":305\}$/.test(l))).toBe(true);
    expect(ls.some((l) => /\[errors\] \/md shop\.example\.com: Page\.goto: net::ERR_NAME_NOT_RESOLVED api_key=\*\*\*\*$/.test(l))).toBe(true);
    expect(out.stdout).not.toContain('session=abc123');
    expect(out.stdout).not.toContain('sk-live-123456');
    expect(c4.requests.some((r) => r.path === '/monitor/logs/errors')).toBe(true);

    const json = await cli(['logs', '--json', '--lines', '1']);
    expect(json.code, json.stderr).toBe(0);
    const recs = lines(json.stdout).map((l) => JSON.parse(l) as { time: string; source: string; text: string });
    expect(recs).toHaveLength(1);
    expect(recs[0]!.source).toBe('errors');
    expect(Date.parse(recs[0]!.time)).toBeGreaterThan(Date.now() - 600_000);
  });

  it('--boot --follow prints new console lines as the VM writes them, once each, and Ctrl-C exits 130', async () => {
    let child: ChildProcess | undefined;
    let seen = '';
    const run = cli(['logs', '--boot', '--follow', '--lines', '1'], { CRAWL4AI_MCP_LOGS_POLL_MS: '200' }, (c) => {
      child = c;
      c.stdout!.on('data', (d) => (seen += String(d)));
    });
    const until = async (re: RegExp) => {
      for (let i = 0; i < 300 && !re.test(seen); i++) await new Promise((r) => setTimeout(r, 100));
      expect(seen).toMatch(re);
    };
    await until(/plain \*\*\*\* echoed/);
    ec2.writeConsole(instanceId, '[   90.000000] crawl4ai-run.sh: restarting\r\n[   90.1');
    await until(/restarting/);
    ec2.writeConsole(instanceId, '00000] second half of a line TUNNEL_TOKEN=eyJhIjoiYWNjIiwidCI6InR1biIsInMiOiJzZWNyZXQifQ==\r\n');
    await until(/second half/);
    child!.kill('SIGINT');
    const out = await run;
    expect(out.code).toBe(130);
    expect(out.stdout.match(/restarting/g)).toHaveLength(1);
    expect(out.stdout).toContain('[   90.100000] second half of a line TUNNEL_TOKEN=****\n');
    expect(out.stdout).not.toContain('eyJhIjoi');
  });

  it("the deployed Worker's dashboard shows init's plan as its cost estimate (the COST_ESTIMATE var)", async () => {
    const adminKey = (await cli(['dashboard', '--key-only'])).stdout.trim();
    const url = JSON.parse((await cli(['dashboard', '--json', '--no-open'])).stdout).url as string;
    const login = await fetch(`${url}/login`, { method: 'POST', body: new URLSearchParams({ key: adminKey }), redirect: 'manual' });
    expect(login.status).toBe(303);
    const html = await (await fetch(url, { headers: { cookie: login.headers.get('set-cookie')!.split(';')[0]! } })).text();
    const plan = JSON.parse((await runCli(['plan', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--json'], { env })).stdout);
    const monthly = (plan.cost?.monthlyUsd ?? plan.plan?.cost?.monthlyUsd) as number;
    expect(html).toContain(`about $${monthly.toFixed(2)}/month</strong> running`);
    expect(html).toContain('AWS us-east-1, size small');
  });

  it('bad input: no such deployment exits 5, a bad --lines exits 2, each with one line saying what to do', async () => {
    const none = await runCli(['--name', 'nope', 'logs'], { env });
    expect(none.code).toBe(5);
    expect(none.stderr).toMatch(/^error: no deployment named "nope"\nhint: /);
    const bad = await cli(['logs', '--lines', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: --lines must be a whole number from 1 to 500 \(got "0"\)\n/);
  });
});
