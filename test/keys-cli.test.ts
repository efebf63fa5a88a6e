/**
 * `keys` through the built CLI against a deployed Worker: init on the EC2 and Cloudflare emulators
 * (the Cloudflare emulator runs the uploaded Worker in workerd), then keys made, listed, rotated
 * and revoked by the CLI and used by the official MCP client.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { runCli } from './helpers/cli.js';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { AWS_ACCESS_KEY as ACCESS_KEY, ec2Instances, journeyEnv } from './helpers/journey.js';
import { connectV1, connectV2, textOf } from './helpers/mcp-clients.ts';
import { awayFromMinuteEdge } from './helpers/minute-window.ts';


const CF_TOKEN = 'cf-token-' + 'k'.repeat(32);
const CF_ACCOUNT = 'acc000000000000000000000000000ce';
const KEY_RE = /c4m_[A-Za-z0-9_-]{43}/;

describe('keys: create, list, rotate, revoke through the CLI against the deployed Worker', () => {
  let ec2: Ec2Emulator;
  let cf: CloudflareEmulator;
  let sim: VmSimulator;
  let env: NodeJS.ProcessEnv;
  let mcpUrl: string;
  const cli = (args: string[]) => runCli(['--name', 'keys', ...args], { env, timeoutMs: 240_000 });

  beforeAll(async () => {
    ec2 = await startEc2Emulator({ transitionMs: 200, accessKeyId: ACCESS_KEY });
    cf = await startCloudflareEmulator({ accountId: CF_ACCOUNT, apiToken: CF_TOKEN });
    sim = startVmSimulator(ec2Instances(ec2, 'keys'), cf);
    env = journeyEnv(ec2, cf, CF_TOKEN, 'c4m-keys-');
    const init = await cli(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small']);
    expect(init.code, init.stderr).toBe(0);
    const server = JSON.parse((await cli(['connect', '--client', 'cursor'])).stdout).mcpServers['crawl4ai-keys'];
    mcpUrl = server.url;
  }, 240_000);

  afterAll(async () => {
    await cli(['destroy', '--yes']).catch(() => undefined);
    await sim?.stop();
    await cf?.close();
    await ec2?.close();
  });

  it('init keeps an admin key in the secret store and only its hash in the Worker; it is no MCP key', async () => {
    const stateText = fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'keys.json'), 'utf8');
    expect(stateText).not.toMatch(KEY_RE);
    const list = await cli(['keys', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).keys.map((k: { name: string }) => k.name)).toEqual(['bootstrap']);
  });

  it('create prints the key once; the key works within its scope and limits; list shows its usage', async () => {
    const made = await cli(['keys', 'create', 'ci', '--tools', 'scrape,health', '--rpm', '2', '--daily', '100', '--expires', '30d']);
    expect(made.code, made.stderr).toBe(0);
    const key = KEY_RE.exec(made.stdout)![0];
    expect(made.stderr).toMatch(/shown once/);

    await awayFromMinuteEdge();
    const c = await connectV2(mcpUrl, key);
    try {
      expect((await c.callTool('scrape', { url: 'https://docs.example.com/guide/?token=abc' })).isError).toBeFalsy();
      const refused = await c.callTool('map', { url: 'https://docs.example.com/' });
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toMatch(/outside the scope of key "ci" \(scope: scrape, health\)/);
      await expect(c.callTool('health')).rejects.toThrow(/rate limit: key .{0,2}ci.{0,2} may make 2 tool calls per minute; retry after \d+ s/);
    } finally {
      await c.close();
    }

    // usage is written after the answers: poll the listing
    let ci: { tools: string[]; rpm: number; daily: number; expires_at: number; usage: { calls: number; errors: number; today: number } } | undefined;
    for (let i = 0; i < 50; i++) {
      const list = await cli(['keys', 'list', '--json']);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).not.toMatch(KEY_RE);
      ci = JSON.parse(list.stdout).keys.find((k: { name: string }) => k.name === 'ci');
      if (ci?.usage.calls === 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(ci).toMatchObject({ tools: ['scrape', 'health'], rpm: 2, daily: 100, usage: { calls: 2, errors: 1, today: 2 } });
    expect(ci!.expires_at - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const human = await cli(['keys', 'list']);
    expect(human.stdout).toMatch(/ci .*active/);
    expect(human.stdout).toMatch(/usage: 2 calls \(2 today\), 1 errors/);
  });

  it('rotate prints a new key and stops the old one; revoke refuses the client; both are clear errors for unknown names', async () => {
    const made = await cli(['keys', 'create', 'app']);
    const oldKey = KEY_RE.exec(made.stdout)![0];
    const rot = await cli(['keys', 'rotate', 'app']);
    expect(rot.code, rot.stderr).toBe(0);
    const newKey = KEY_RE.exec(rot.stdout)![0];
    expect(newKey).not.toBe(oldKey);
    await expect(connectV1(mcpUrl, oldKey).then((c) => c.callTool('health'))).rejects.toThrow();
    const c = await connectV1(mcpUrl, newKey);
    try {
      expect((await c.callTool('health')).isError).toBeFalsy();
      const rev = await cli(['keys', 'revoke', 'app']);
      expect(rev.code, rev.stderr).toBe(0);
      await expect(c.callTool('health')).rejects.toThrow(/401|revoked/);
    } finally {
      await c.close().catch(() => undefined);
    }
    const unknown = await cli(['keys', 'revoke', 'nobody']);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(/^error: no active key named "nobody"\nhint: /m);
  });

  it('status shows the usage totals over every key', async () => {
    const st = await cli(['status', '--json']);
    expect(st.code, st.stderr).toBe(0);
    const u = JSON.parse(st.stdout).usage;
    // ci made 2 calls, app (rotated, then revoked) 1: revoked keys' usage still counts
    expect(u).toEqual({ keys: 2, calls: 3, errors: 1, bytes: expect.any(Number), today: 3 });
    const human = await cli(['status']);
    expect(human.stdout).toMatch(/usage: 3 tool calls \(3 today\), 1 errors, \d+ bytes returned, 2 active keys/);
  });

  it('dashboard prints the URL (no browser without a terminal) and, with --key-only, the admin key that signs in', async () => {
    const d = await cli(['dashboard']);
    expect(d.code, d.stderr).toBe(0);
    const url = d.stdout.trim();
    const base = mcpUrl.replace(/\/mcp$/, '');
    expect(url).toBe(`${base}/dashboard`);
    expect(d.stdout).not.toMatch(KEY_RE);
    const adminKey = (await cli(['dashboard', '--key-only'])).stdout.trim();
    expect(adminKey).toMatch(new RegExp(`^${KEY_RE.source}$`));
    const signIn = await fetch(`${base}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ key: adminKey }), redirect: 'manual' });
    expect(signIn.status).toBe(303);
    expect(signIn.headers.get('set-cookie')).toMatch(/^c4m_session=.*HttpOnly; Secure; SameSite=Strict/);
  });

  it('bad input: one error line and a hint, the right exit code, nothing sent', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['keys', 'create', 'x', '--rpm', '0'], /--rpm must be a whole number/],
      [['keys', 'create', 'x', '--expires', 'soon'], /--expires must be a duration/],
      [['keys', 'create', 'x', '--tools', 'scrape,nuke'], /unknown tool\(s\): nuke/],
      [['keys', 'create', 'ci'], /a key named "ci" already exists/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).toMatch(/^hint: /m);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
